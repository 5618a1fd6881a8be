"""The real crypto, hashing and token adapters: pure computation, so they run with the unit tests."""

import base64
import dataclasses
import os
from datetime import timedelta

import jwt
import pytest

from adapters.auth.jwt_issuer import JwtConfig, JwtTokenIssuer
from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.crypto.keyring import Keyring, KeyringError
from adapters.crypto.scrypt_hasher import ScryptCost, ScryptPasswordHasher
from adapters.memory.runtime import ManualClock
from domain.accounts import secret_binding
from domain.errors import AuthenticationFailed, DependencyUnavailable
from domain.ids import new_id
from domain.tenants import Role

SECRET = "s" * 48
CONFIG = JwtConfig(secret=SECRET, issuer="mailroom", audience="mailroom-api", lifetime=timedelta(hours=1))

ACCOUNT = new_id()
HERE = secret_binding(ACCOUNT, "imap_password")


def keyring(*ids: str) -> Keyring:
    return Keyring.parse(",".join(Keyring.generate_entry(i) for i in ids))


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old = AesGcmCredentialCipher(keyring("old"))
    secret = old.encrypt("hunter2-imap", HERE)
    rotated = AesGcmCredentialCipher(Keyring.parse(f"{Keyring.generate_entry('new')},{_entry(old, 'old')}"))
    assert secret.key_id == "old"
    assert rotated.encrypt("x", HERE).key_id == "new"
    assert rotated.decrypt(secret) == "hunter2-imap"


def _entry(cipher: AesGcmCredentialCipher, key_id: str) -> str:
    key = cipher._keyring.keys[key_id]
    return f"{key_id}:{base64.urlsafe_b64encode(key).decode()}"


def test_ciphertexts_differ_each_time_and_hide_the_password() -> None:
    cipher = AesGcmCredentialCipher(keyring("k1"))
    first, second = cipher.encrypt("hunter2-imap", HERE), cipher.encrypt("hunter2-imap", HERE)
    assert first.ciphertext != second.ciphertext
    assert b"hunter2" not in first.ciphertext
    assert "hunter2" not in repr(first)


def test_a_tampered_or_relabelled_ciphertext_fails() -> None:
    cipher = AesGcmCredentialCipher(keyring("k1", "k2"))
    secret = cipher.encrypt("hunter2", HERE)
    flipped = bytes([secret.ciphertext[0] ^ 1]) + secret.ciphertext[1:]
    elsewhere = [secret_binding(new_id(), "imap_password"), secret_binding(ACCOUNT, "smtp_password"), ""]
    for forged in (
        dataclasses.replace(secret, ciphertext=flipped),
        dataclasses.replace(secret, key_id="k2"),
        *(dataclasses.replace(secret, bound_to=other) for other in elsewhere),
    ):
        with pytest.raises(DependencyUnavailable):
            cipher.decrypt(forged)


def test_only_a_bound_secret_under_the_current_key_is_current() -> None:
    both = AesGcmCredentialCipher(keyring("k2", "k1"))
    older = AesGcmCredentialCipher(Keyring.parse(_entry(both, "k1")))
    assert both.is_current(both.encrypt("x", HERE))
    assert not both.is_current(older.encrypt("x", HERE))


def test_a_secret_under_an_unknown_key_cannot_be_read() -> None:
    secret = AesGcmCredentialCipher(keyring("gone")).encrypt("x", HERE)
    with pytest.raises(DependencyUnavailable, match="gone"):
        AesGcmCredentialCipher(keyring("k1")).decrypt(secret)


@pytest.mark.parametrize(
    "spec",
    ["", "nokey", "k1:" + base64.b64encode(os.urandom(16)).decode(), "k1:!!!", "bad id:" + "A" * 43, "k:AAAA,k:AAAA"],
)
def test_bad_key_settings_are_refused_without_echoing_the_key(spec: str) -> None:
    with pytest.raises(KeyringError) as error:
        Keyring.parse(spec)
    key_material = spec.partition(":")[2]
    assert not key_material or key_material not in str(error.value)


async def test_scrypt_hashes_verify_and_embed_their_cost() -> None:
    hasher = ScryptPasswordHasher(ScryptCost(n=2**10))
    hashed = await hasher.hash("correct horse")
    assert hashed.startswith("scrypt$1024$8$1$")
    assert "correct horse" not in hashed
    assert await hasher.verify("correct horse", hashed)
    assert not await hasher.verify("wrong horse", hashed)
    assert not await hasher.verify("correct horse", "sha512$abc")
    assert hashed != await hasher.hash("correct horse")


def test_default_scrypt_cost_is_memory_hard() -> None:
    cost = ScryptCost()
    assert 128 * cost.n * cost.r >= 32 * 1024 * 1024


def issuer(clock: ManualClock | None = None) -> JwtTokenIssuer:
    return JwtTokenIssuer(CONFIG, clock or ManualClock())


def test_a_token_carries_user_tenant_role_session_and_standard_claims() -> None:
    user, tenant, session = new_id(), new_id(), new_id()
    token = issuer().issue(user, tenant, Role.MEMBER, session)
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    assert {"sub", "tenant", "role", "sid", "iat", "nbf", "exp", "iss", "aud"} <= claims.keys()
    assert token.expires_in == 3600
    verified = issuer().verify(token.access_token)
    assert (verified.user_id, verified.tenant_id, verified.role, verified.session_id) == (
        user,
        tenant,
        Role.MEMBER,
        session,
    )
    assert "eyJ" not in repr(token)  # the token itself stays out of logs


def forge(claims: dict[str, object], key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def valid_claims(clock: ManualClock) -> dict[str, object]:
    now = clock.now()
    return {
        "sub": str(new_id()),
        "tenant": str(new_id()),
        "role": "admin",
        "sid": str(new_id()),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(hours=1),
        "iss": "mailroom",
        "aud": "mailroom-api",
    }


def _unsigned(claims: dict[str, object]) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    body = jwt.encode(claims, "x" * 32, algorithm="HS256").split(".")[1]
    return f"{header}.{body}."


@pytest.mark.parametrize(
    "attack",
    [
        "alg none",
        "wrong signature",
        "expired",
        "not yet valid",
        "wrong audience",
        "wrong issuer",
        "missing tenant",
        "missing session",
        "unknown role",
        "garbage",
        "HS512 with the same key",
    ],
)
def test_forged_or_stale_tokens_are_refused(attack: str) -> None:
    clock = ManualClock()
    claims = valid_claims(clock)
    tokens = {
        "alg none": lambda: _unsigned(claims),
        "wrong signature": lambda: forge(claims, key="k" * 48),
        "expired": lambda: forge({**claims, "exp": clock.now() - timedelta(minutes=1)}),
        "not yet valid": lambda: forge({**claims, "nbf": clock.now() + timedelta(minutes=5)}),
        "wrong audience": lambda: forge({**claims, "aud": "someone-else"}),
        "wrong issuer": lambda: forge({**claims, "iss": "evil"}),
        "missing tenant": lambda: forge({k: v for k, v in claims.items() if k != "tenant"}),
        "missing session": lambda: forge({k: v for k, v in claims.items() if k != "sid"}),
        "unknown role": lambda: forge({**claims, "role": "owner"}),
        "garbage": lambda: "not.a.token",
        "HS512 with the same key": lambda: forge(claims, key="s" * 64, algorithm="HS512"),
    }
    with pytest.raises(AuthenticationFailed):
        issuer(clock).verify(tokens[attack]())


def test_tokens_expire_by_the_injected_clock() -> None:
    clock = ManualClock()
    token = issuer(clock).issue(new_id(), new_id(), Role.ADMIN, new_id()).access_token
    clock.advance(timedelta(minutes=59))
    issuer(clock).verify(token)
    clock.advance(timedelta(minutes=2))
    with pytest.raises(AuthenticationFailed):
        issuer(clock).verify(token)
