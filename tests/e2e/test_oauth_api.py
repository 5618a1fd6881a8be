"""OAuth2 sign-in over HTTP, on the fakes but for the provider: the tests' authorization server (tests/oauth/server.py)
answers Mailroom's real OAuth2 client. Tokens supplied by an app, and the consent run by Mailroom, with what an
attacker would try: a forged, altered or replayed state, a foreign redirect, another provider's callback."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.http.app import create_app
from entrypoints.ioc import MemoryProvider
from entrypoints.settings import load_settings
from tests.e2e.conftest import Login, account_body
from tests.oauth.server import AuthorizationServer, serving_apart

APP = "https://app.example"
PROBLEM = "application/problem+json"


@pytest.fixture
def provider() -> Iterator[AuthorizationServer]:
    with serving_apart(0) as server:
        yield server


@pytest.fixture
def app(tmp_path: Path, provider: AuthorizationServer) -> Litestar:
    settings = load_settings(
        {
            "MAILROOM_DATA_DIR": str(tmp_path),
            "MAILROOM_IDLE_ENABLED": "false",
            "MAILROOM_OAUTH_PROVIDERS": "local,google",
            "MAILROOM_OAUTH_REDIRECT_ORIGINS": APP,
            "MAILROOM_OAUTH_LOCAL_CLIENT_ID": provider.client_id,
            "MAILROOM_OAUTH_LOCAL_CLIENT_SECRET": provider.client_secret,
            "MAILROOM_OAUTH_LOCAL_AUTHORIZE_URL": provider.authorize_url,
            "MAILROOM_OAUTH_LOCAL_TOKEN_URL": provider.token_url,
            "MAILROOM_OAUTH_LOCAL_SCOPES": "mail openid email",
            "MAILROOM_OAUTH_LOCAL_IMAP_HOST": "imap.example.com",
            "MAILROOM_OAUTH_LOCAL_SMTP_HOST": "smtp.example.com",
            "MAILROOM_OAUTH_GOOGLE_CLIENT_ID": "google-client",
            "MAILROOM_OAUTH_GOOGLE_CLIENT_SECRET": "google-secret",
        }
    )
    return create_app(MemoryProvider(), settings=settings)


def tokens(server: AuthorizationServer, email: str = "alice@example.com") -> dict[str, Any]:
    grant = server.grant(email)
    return {
        "type": "oauth2",
        "provider": "local",
        "access_token": server.access_token(grant),
        "refresh_token": server.refresh_token(grant),
        "expires_at": "2030-01-01T00:00:00Z",
    }


def oauth_body(auth: dict[str, Any]) -> dict[str, Any]:
    body = account_body()
    for side in ("imap", "smtp"):
        del body[side]["password"]
        body[side]["auth"] = auth
    return body


async def test_an_account_takes_tokens_for_a_password_and_never_returns_them(
    client: AsyncTestClient[Litestar], login: Login, provider: AuthorizationServer
) -> None:
    auth = await login()
    given = tokens(provider)
    created = await client.post("/api/accounts", json=oauth_body(given), headers=auth)
    assert created.status_code == 201, created.text
    shown = await client.get(f"/api/accounts/{created.json()['id']}", headers=auth)
    for answer in (created, shown):
        assert given["access_token"] not in answer.text
        assert given["refresh_token"] not in answer.text
        account = answer.json()
        assert (account["imap"]["auth"], account["smtp"]["auth"]) == ("oauth2", "oauth2")
        assert account["oauth"] == {"provider": "local", "reauth_required": False, "expires_at": "2030-01-01T00:00:00Z"}

    moved = await client.patch(
        f"/api/accounts/{account['id']}", json={"imap": {"host": "imap.attacker.example"}}, headers=auth
    )
    assert moved.status_code == 422, "a stored token only goes to the server it was given for"
    assert moved.json()["errors"][0]["field"] == "imap.password"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provider": "nowhere"}, "imap.auth.provider"),
        ({"access_token": "two words"}, "auth.access_token"),
        ({"type": "basic"}, None),
    ],
)
async def test_unusable_tokens_are_refused_and_nothing_is_stored(
    client: AsyncTestClient[Litestar], login: Login, provider: AuthorizationServer, change: dict[str, str], field: str
) -> None:
    auth = await login()
    answer = await client.post("/api/accounts", json=oauth_body(tokens(provider) | change), headers=auth)
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM)
    if field is not None:
        assert field in [e["field"] for e in answer.json()["errors"]]
    assert (await client.get("/api/accounts", headers=auth)).json()["total"] == 0


async def test_a_side_takes_a_password_or_tokens_and_both_sides_one_grant(
    client: AsyncTestClient[Litestar], login: Login, provider: AuthorizationServer
) -> None:
    auth = await login()
    both = account_body()
    both["imap"]["auth"] = tokens(provider)
    assert (await client.post("/api/accounts", json=both, headers=auth)).status_code == 422
    two = oauth_body(tokens(provider))
    two["smtp"]["auth"] = tokens(provider)
    answer = await client.post("/api/accounts", json=two, headers=auth)
    assert answer.status_code == 422
    assert "smtp.auth" in [e["field"] for e in answer.json()["errors"]]
    mixed = account_body()
    del mixed["imap"]["password"]
    mixed["imap"]["auth"] = tokens(provider)
    created = await client.post("/api/accounts", json=mixed, headers=auth)
    assert created.status_code == 201, created.text
    assert (created.json()["imap"]["auth"], created.json()["smtp"]["auth"]) == ("oauth2", "password")


async def start(client: AsyncTestClient[Litestar], auth: dict[str, str], **body: Any) -> tuple[int, dict[str, Any]]:
    answer = await client.post("/api/oauth/local/start", json={"name": "Mine", **body}, headers=auth)
    return answer.status_code, answer.json()


async def follow(authorization_url: str) -> str:
    """The user's browser at the provider: the callback address it is sent back to."""
    async with aiohttp.ClientSession() as browser, browser.get(authorization_url, allow_redirects=False) as answer:
        assert answer.status == 302, await answer.text()
        back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


async def test_the_consent_creates_the_account_then_switches_it_on_a_second_sign_in(
    client: AsyncTestClient[Litestar], login: Login, provider: AuthorizationServer
) -> None:
    auth = await login()
    provider.consenting_user = "bob@example.com"
    status, started = await start(client, auth, redirect_after=f"{APP}/after")
    assert status == 200, started
    asked = parse_qs(urlsplit(started["authorization_url"]).query)
    assert asked["client_id"] == [provider.client_id]
    assert asked["code_challenge_method"] == ["S256"]
    assert asked["redirect_uri"] == ["http://127.0.0.1:8000/api/oauth/local/callback"]
    me = (await client.get("/api/me", headers=auth)).json()
    assert me["user_id"].replace("-", "") not in started["state"], "sealed, not readable"

    landed = await client.get(await follow(started["authorization_url"]), follow_redirects=False)
    assert landed.status_code == 303, landed.text
    account_id = parse_qs(urlsplit(landed.headers["Location"]).query)["account_id"][0]
    account = (await client.get(f"/api/accounts/{account_id}", headers=auth)).json()
    assert (account["email"], account["name"], account["imap"]["host"]) == (
        "bob@example.com",
        "Mine",
        "imap.example.com",
    )
    assert account["imap"]["username"] == "bob@example.com"

    _, again = await start(client, auth)
    switched = await client.get(await follow(again["authorization_url"]))
    assert switched.status_code == 200, switched.text
    assert switched.json() == {"account_id": account_id, "email": "bob@example.com"}, "the same account, renewed"
    assert (await client.get("/api/accounts", headers=auth)).json()["total"] == 1


async def test_a_state_that_is_forged_altered_reused_or_for_another_provider_is_refused(
    client: AsyncTestClient[Litestar], login: Login, provider: AuthorizationServer
) -> None:
    auth = await login()
    provider.consenting_user = "bob@example.com"
    _, started = await start(client, auth)
    callback = await follow(started["authorization_url"])
    query = parse_qs(urlsplit(callback).query)
    code, state = query["code"][0], query["state"][0]
    altered = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
    for path in (
        f"/api/oauth/local/callback?code={code}&state=dev1.forged",
        f"/api/oauth/local/callback?code={code}&state={altered}",
        f"/api/oauth/google/callback?code={code}&state={state}",
        f"/api/oauth/local/callback?code={code}",
    ):
        answer = await client.get(path)
        assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM), path
        assert answer.json()["errors"][0]["field"] == "state"
    assert (await client.get("/api/accounts", headers=auth)).json()["total"] == 0

    assert (await client.get(callback)).status_code == 200
    replayed = await client.get(callback)
    assert replayed.status_code == 422, "the provider refuses a code used once"
    assert (await client.get("/api/accounts", headers=auth)).json()["total"] == 1


async def test_a_declined_consent_goes_back_to_the_app_with_the_reason(
    client: AsyncTestClient[Litestar], login: Login, provider: AuthorizationServer
) -> None:
    auth = await login()
    provider.consenting_user, provider.deny = "bob@example.com", True
    _, started = await start(client, auth, redirect_after=f"{APP}/after")
    landed = await client.get(await follow(started["authorization_url"]), follow_redirects=False)
    assert landed.status_code == 303
    assert parse_qs(urlsplit(landed.headers["Location"]).query) == {"error": ["access_denied"]}
    assert (await client.get("/api/accounts", headers=auth)).json()["total"] == 0


async def test_signing_in_as_another_mailbox_than_asked_creates_nothing(
    client: AsyncTestClient[Litestar], login: Login, provider: AuthorizationServer
) -> None:
    auth = await login()
    provider.consenting_user = "mallory@example.com"
    _, started = await start(client, auth, email="bob@example.com", redirect_after=APP)
    landed = await client.get(await follow(started["authorization_url"]), follow_redirects=False)
    assert parse_qs(urlsplit(landed.headers["Location"]).query) == {"error": ["wrong_mailbox"]}
    assert (await client.get("/api/accounts", headers=auth)).json()["total"] == 0


async def test_start_refuses_unknown_providers_and_foreign_redirects(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    unknown = await client.post("/api/oauth/yahoo/start", json={"name": "x"}, headers=auth)
    assert (unknown.status_code, unknown.headers["content-type"]) == (404, PROBLEM)
    for target in ("https://evil.example/steal", "javascript:alert(1)", f"{APP}.evil.example/", "//evil.example"):
        status, answer = await start(client, auth, redirect_after=target)
        assert status == 422, target
        assert answer["errors"][0]["field"] == "redirect_after"
    anonymous = await client.post("/api/oauth/local/start", json={"name": "x"})
    assert anonymous.status_code == 401


async def test_the_google_preset_asks_for_mail_and_offline_access(
    client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    answer = await client.post("/api/oauth/google/start", json={"name": "Gmail", "email": "me@gmail.com"}, headers=auth)
    assert answer.status_code == 200, answer.text
    url = urlsplit(answer.json()["authorization_url"])
    asked = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://accounts.google.com/o/oauth2/v2/auth"
    assert "https://mail.google.com/" in asked["scope"][0].split()
    assert (asked["access_type"], asked["prompt"], asked["login_hint"]) == (["offline"], ["consent"], ["me@gmail.com"])


async def test_a_sign_in_never_lands_in_someone_elses_account_with_that_address(
    client: AsyncTestClient[Litestar], login: Login, provider: AuthorizationServer
) -> None:
    """A member makes an account under the address an admin is about to connect: the admin's tokens must not go
    into it (an admin reaches every account, so reach alone would allow the switch)."""
    admin = await login("acme", "ada@acme.test")
    member = await login("acme", "mel@acme.test")
    decoy = await client.post("/api/accounts", json=account_body("bob@example.com"), headers=member)
    assert decoy.status_code == 201, decoy.text
    provider.consenting_user = "bob@example.com"
    _, started = await start(client, admin, redirect_after=APP)
    landed = await client.get(await follow(started["authorization_url"]), follow_redirects=False)
    assert parse_qs(urlsplit(landed.headers["Location"]).query) == {"error": ["conflict"]}
    kept = (await client.get(f"/api/accounts/{decoy.json()['id']}", headers=member)).json()
    assert (kept["imap"]["auth"], kept["oauth"]) == ("password", None)
