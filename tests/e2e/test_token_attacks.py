"""Forged, stale and misused bearer tokens over HTTP: every one is a 401 problem, and the API shows nothing.

A token signed with the deployment's own secret is believed without the database (that is the point of a signed
token); what such a token may no longer do, because its session ended, is refused through the revocation list."""

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.settings import load_settings
from tests.e2e.conftest import Login

UNSIGNED_HEADER = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def sign(claims: dict[str, Any], secret: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def swap_payload(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = token.split(".")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


@pytest.mark.parametrize(
    "attack",
    [
        "alg none",
        "wrong signature",
        "expired",
        "not yet valid",
        "wrong audience",
        "wrong issuer",
        "tampered tenant claim",
        "tampered role claim",
        "deleted user",
        "disabled user",
        "demoted user",
        "logged out",
        "exp as the string inf",
        "exp as a float",
        "exp a year away",
        "issued in the future",
    ],
)
async def test_every_bad_token_is_a_401(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login, tmp_path: Path, attack: str
) -> None:
    admin = await login()
    token = (await login(email="bob@acme.test"))["Authorization"].removeprefix("Bearer ")
    other = (await login(tenant="globex", email="eve@globex.test"))["Authorization"].removeprefix("Bearer ")
    secret = load_settings({"MAILROOM_DATA_DIR": str(tmp_path)}).jwt_secret
    claims, now = claims_of(token), datetime.now(UTC)
    forged = {
        "alg none": lambda: f"{UNSIGNED_HEADER}.{token.split('.')[1]}.",
        "wrong signature": lambda: sign(claims, "k" * 48),
        "expired": lambda: sign({**claims, "exp": now - timedelta(minutes=1)}, secret),
        "not yet valid": lambda: sign({**claims, "nbf": now + timedelta(minutes=5)}, secret),
        "wrong audience": lambda: sign({**claims, "aud": "someone-else"}, secret),
        "wrong issuer": lambda: sign({**claims, "iss": "evil"}, secret),
        "tampered tenant claim": lambda: swap_payload(token, {**claims, "tenant": claims_of(other)["tenant"]}),
        "tampered role claim": lambda: swap_payload(token, {**claims, "role": "admin"}),
        "deleted user": lambda: token,
        "disabled user": lambda: token,
        "demoted user": lambda: token,
        "logged out": lambda: token,
        "exp as the string inf": lambda: sign({**claims, "exp": "inf"}, secret),
        "exp as a float": lambda: sign({**claims, "exp": claims["exp"] + 0.5}, secret),
        "exp a year away": lambda: sign({**claims, "exp": claims["exp"] + 365 * 86400}, secret),
        "issued in the future": lambda: sign({**claims, "iat": claims["iat"] + 3600}, secret),
    }[attack]()
    bob = f"/api/users/{claims['sub']}"
    if attack == "deleted user":
        assert (await client.delete(bob, headers=admin)).status_code == 204
    elif attack == "disabled user":
        assert (await client.patch(bob, json={"disabled": True}, headers=admin)).status_code == 200
    elif attack == "demoted user":  # promoted, in fact: the token says member, and must not serve on
        assert (await client.patch(bob, json={"role": "admin"}, headers=admin)).status_code == 200
    elif attack == "logged out":
        assert (await client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})).status_code == 204
    for path in ("/api/me", "/api/accounts", "/api/audit"):
        answer = await client.get(path, headers={"Authorization": f"Bearer {forged}"})
        assert answer.status_code == 401, (attack, path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
