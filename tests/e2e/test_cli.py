"""The `mailroom` command as a person runs it: separate processes on a temporary data folder."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.crypto.keyring import Keyring
from adapters.persistence.database import create_engine, create_session_factory
from adapters.persistence.unit_of_work import SqlUnitOfWork
from application.accounts.create import CreateMailAccount
from domain.auth import Principal
from domain.ids import new_id
from domain.tenants import Role, Tenant, User
from tests.unit.fakes import Fakes, new_account

MAILROOM = str(Path(sys.executable).with_name("mailroom"))


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([MAILROOM, *args], input=stdin, env=env, capture_output=True, text=True, timeout=60)


def create_user(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = ("users", "create", "--tenant", "acme", "--email", "a@acme.test", "--password-stdin")
    return run(env, *command, stdin="a-long-password\n")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
    return clean | {"MAILROOM_DATA_DIR": str(tmp_path)}


def test_check_fails_until_migrated_then_passes(env: dict[str, str]) -> None:
    before = run(env, "check")
    assert before.returncode == 1
    assert "database: failed" in before.stdout
    assert "broker" not in before.stdout
    assert run(env, "migrate").returncode == 0
    after = run(env, "check")
    assert after.returncode == 0, after.stdout + after.stderr
    assert [line.split(":")[0] for line in after.stdout.splitlines()] == [
        "settings",
        "encryption keys",
        "database",
        "blob store",
        "stored secrets",
        "broker",
    ]


def test_check_fails_when_the_key_under_a_stored_id_is_not_the_one_that_encrypted(env: dict[str, str]) -> None:
    right, wrong = Keyring.generate_entry("k1"), Keyring.generate_entry("k1")
    assert run(env, "migrate").returncode == 0
    asyncio.run(_store_an_account(Path(env["MAILROOM_DATA_DIR"]) / "mailroom.db", right))
    assert run(env | {"MAILROOM_ENCRYPTION_KEYS": right}, "check").returncode == 0
    answer = run(env | {"MAILROOM_ENCRYPTION_KEYS": wrong}, "check")
    assert answer.returncode == 1
    assert "encryption keys: ok" in answer.stdout
    assert "stored secrets: failed" in answer.stdout
    assert "'k1'" in answer.stdout
    assert wrong.partition(":")[2] not in answer.stdout + answer.stderr


async def _store_an_account(database: Path, key_entry: str) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    factory, fakes = create_session_factory(engine), Fakes()
    cipher = AesGcmCredentialCipher(Keyring.parse(key_entry))
    async with SqlUnitOfWork(factory) as uow:
        acme = Tenant(new_id(), "acme", "Acme")
        await uow.tenants.add(acme)
        admin = User(new_id(), acme.id, "admin@acme.test", "-", Role.ADMIN)
        await uow.users.add(admin)
        await uow.commit()
    owner = Principal(admin.id, acme.id, Role.ADMIN)
    await CreateMailAccount(SqlUnitOfWork(factory), cipher, fakes.clock, fakes.verifier, fakes.auditor)(
        owner, new_account()
    )
    await engine.dispose()


def test_production_without_secrets_stops_with_a_clear_message(env: dict[str, str]) -> None:
    answer = run(env | {"MAILROOM_ENV": "production"}, "check")
    assert answer.returncode == 2
    assert "MAILROOM_JWT_SECRET" in answer.stderr


def test_production_on_the_embedded_database_has_no_role_to_refuse(env: dict[str, str]) -> None:
    """Only Postgres has roles that pass row-level security (tests/integration/test_database_roles.py)."""
    secrets = {"MAILROOM_JWT_SECRET": "j" * 48, "MAILROOM_ENCRYPTION_KEYS": Keyring.generate_entry("cli")}
    production = env | secrets | {"MAILROOM_ENV": "production"}
    assert run(production, "migrate").returncode == 0
    checked = run(production, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "database: ok (sqlite, schema at " in checked.stdout


def test_users_create_reads_the_password_from_stdin_and_never_prints_it(env: dict[str, str]) -> None:
    run(env, "migrate")
    created = create_user(env)
    assert created.returncode == 0, created.stderr
    assert "a@acme.test (admin) in tenant acme" in created.stdout
    again = create_user(env)
    assert again.returncode == 1
    assert "already" in again.stderr
    for output in (created, again):
        assert "a-long-password" not in output.stdout + output.stderr


def test_keys_generate_prints_a_usable_entry(env: dict[str, str]) -> None:
    entry = run(env, "keys", "generate", "--id", "2026-11").stdout.strip()
    assert entry.startswith("2026-11:")
    assert run(env | {"MAILROOM_ENCRYPTION_KEYS": entry}, "migrate").returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(env: dict[str, str], command: str = MAILROOM) -> tuple[subprocess.Popen[bytes], str]:
    """`mailroom serve` on a free port, once its /health answers; its output is piped for the caller to read."""
    port = free_port()
    process = subprocess.Popen(
        [command, "serve"], env=env | {"MAILROOM_PORT": str(port)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_health(base)
    return process, base


def wait_for_health(base: str) -> None:
    for _ in range(150):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)


@pytest.fixture
def served(env: dict[str, str]) -> Iterator[str]:
    process, base = start_serve(env)
    try:
        yield base
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
        assert "a-long-password" not in output
        assert "imap-pw" not in output


def test_serve_migrates_the_embedded_database_and_answers(served: str, env: dict[str, str]) -> None:
    assert httpx.get(f"{served}/health").json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    create_user(env)
    token = httpx.post(
        f"{served}/api/auth/login", json={"tenant": "acme", "email": "a@acme.test", "password": "a-long-password"}
    ).json()["access_token"]
    body = {
        "name": "Work",
        "email": "alice@example.com",
        "imap": {"host": "imap.example.com", "port": 993, "security": "ssl", "username": "a", "password": "imap-pw"},
        "smtp": {"host": "smtp.example.com", "port": 465, "security": "ssl", "username": "a", "password": "imap-pw"},
    }
    created = httpx.post(f"{served}/api/accounts", json=body, headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201
    assert Path(env["MAILROOM_DATA_DIR"], "mailroom.db").exists()


def test_serve_writes_json_log_lines_with_the_request_id(env: dict[str, str]) -> None:
    """What an operator's log collector reads from a running server: one JSON object a line, the access line with
    its fields and request id, and no line in any other format (the web framework must not replace the set-up)."""
    process, base = start_serve(env | {"MAILROOM_LOG_FORMAT": "json"})
    try:
        httpx.get(f"{base}/api/accounts", headers={"X-Request-ID": "ops-check-1"})
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    lines = [line for line in output.splitlines() if line.startswith("{")]
    others = [line for line in output.splitlines() if not line.startswith("{") and "schema at revision" not in line]
    assert others == []
    [access] = [r for r in map(json.loads, lines) if r.get("request_id") == "ops-check-1"]
    assert (access["logger"], access["route"], access["status"]) == ("mailroom.access", "/api/accounts", 401)
