"""Clients generated from the OpenAPI document the way README tells a user to: a Python client
(openapi-python-client) drives a mail app's scenario against `mailroom serve` with the real Dovecot and Postfix,
and TypeScript types (openapi-typescript, for openapi-fetch) type-check clients/ts/scenario.ts. Both generators
must print no warning: a warning is an operation the generated client cannot call or answer it cannot read."""

import importlib
import os
import shutil
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from entrypoints.operations import openapi_document
from tests.conftest import mail_server_settings
from tests.e2e.test_cli import create_user, start_serve

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PASSWORD = "a-long-password"  # create_user's
USER = "grace"  # a mailbox of the local Dovecot no other test uses: the scenario mails itself
MAIL_PASSWORD = f"{USER}-password-1"  # deploy/local/mailservers.sh


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_text(openapi_document())
    return path


@pytest.fixture(scope="module")
def client_package(document: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("client-python")
    generated = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--config",
            str(ROOT / "clients/python/config.yaml"),
            "--meta",
            "none",
            "--output-path",
            str(out / "mailroom_client"),
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=False,
    )
    output = (generated.stdout + generated.stderr).strip()
    assert generated.returncode == 0, output
    assert [line for line in output.splitlines() if not line.startswith("Generating ")] == [], output
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("mailroom_client")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == "mailroom_client" or m.startswith("mailroom_client.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    mail = mail_server_settings()
    data_dir = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")} | {
        "MAILROOM_DATA_DIR": str(data_dir),
        "MAILROOM_MAIL_CA_FILE": mail["MAILROOM_TEST_MAIL_CA_FILE"],
        "MAILROOM_IDLE_ENABLED": "false",
        "MAILROOM_LOG_LEVEL": "WARNING",
    }
    process, base = start_serve(env)
    try:
        assert create_user(env).returncode == 0
        yield base
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
        assert "Traceback" not in output, output[-3000:]


def deliver(mail: dict[str, str], subject: str) -> None:
    """New mail in the user's INBOX, as the MTA would deliver it (LMTP)."""
    message = (
        f"From: Bob <bob@example.org>\r\nTo: {USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{time.time_ns()}@example.org>\r\n\r\nThe invoice for March is attached in spirit.\r\n"
    ).encode()
    with smtplib.LMTP(mail["MAILROOM_TEST_MAIL_HOST"], int(mail["MAILROOM_TEST_LMTP_PORT"])) as lmtp:
        lmtp.sendmail("bob@example.org", [f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"], message)


def wait_until(check: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


def test_the_python_client_drives_a_mail_app_scenario(client_package: ModuleType, server: str) -> None:
    mail = mail_server_settings()
    from mailroom_client import AuthenticatedClient, Client  # type: ignore[import-not-found]
    from mailroom_client.api.accounts import create_account, get_account  # type: ignore[import-not-found]
    from mailroom_client.api.auth import login  # type: ignore[import-not-found]
    from mailroom_client.api.drafts import create_draft, get_draft, send_draft  # type: ignore[import-not-found]
    from mailroom_client.api.messages import (  # type: ignore[import-not-found]
        get_message,
        list_messages,
        search_messages,
    )
    from mailroom_client.api.sync import get_sync_status, request_sync  # type: ignore[import-not-found]
    from mailroom_client.models import (  # type: ignore[import-not-found]
        ComposeIn,
        LoginRequest,
        MailAccountCreate,
        Problem,
        RecipientIn,
        Security,
        ServerIn,
    )

    subject = f"Invoice {time.time_ns()}"
    deliver(mail, subject)

    anonymous = Client(base_url=server)
    token = login.sync(client=anonymous, body=LoginRequest(tenant="acme", email="a@acme.test", password=PASSWORD))
    refused = login.sync(client=anonymous, body=LoginRequest(tenant="acme", email="a@acme.test", password="wrong"))
    assert isinstance(refused, Problem)
    assert (refused.status, refused.type_) == (401, "urn:mailroom:problem:unauthorized")
    api = AuthenticatedClient(base_url=server, token=token.access_token)

    host, user = mail["MAILROOM_TEST_MAIL_HOST"], f"{USER}@{mail['MAILROOM_TEST_MAIL_DOMAIN']}"

    def account_with(imap_password: str) -> Any:
        imap_port, smtp_port = int(mail["MAILROOM_TEST_IMAP_PORT"]), int(mail["MAILROOM_TEST_SUBMISSION_PORT"])
        imap = ServerIn(host=host, port=imap_port, security=Security.STARTTLS, username=user, password=imap_password)
        smtp = ServerIn(host=host, port=smtp_port, security=Security.STARTTLS, username=user, password=MAIL_PASSWORD)
        return MailAccountCreate(name="Grace", email=user, imap=imap, smtp=smtp)

    rejected = create_account.sync(client=api, body=account_with("wrong"), verify=True)
    assert isinstance(rejected, Problem)
    assert (rejected.status, rejected.protocol) == (422, "imap")
    account = create_account.sync(client=api, body=account_with(MAIL_PASSWORD), verify=True)
    assert account.email == user

    request_sync.sync(account.id, client=api)
    wait_until(lambda: get_sync_status.sync(account.id, client=api).state == "idle")
    listed = wait_until(lambda: [m for m in list_messages.sync(account.id, client=api).items if m.subject == subject])
    message = get_message.sync(listed[0].id, client=api)
    assert message.from_[0].address == "bob@example.org"
    found = search_messages.sync(client=api, q="invoice march", account_id=account.id)
    assert subject in [m.subject for m in found.items]

    draft = create_draft.sync(
        client=api,
        body=ComposeIn(account_id=account.id, to=[RecipientIn(address=user)], subject="Re: " + subject, text="Paid."),
    )
    queued = send_draft.sync(draft.id, client=api, idempotency_key=f"pay-{draft.id}")
    assert queued.draft_id == draft.id
    sent = wait_until(lambda: (d := get_draft.sync(draft.id, client=api)).status == "sent" and d)
    assert sent.last_smtp_reply.startswith("250")

    missing = get_account.sync(draft.id, client=api)
    assert isinstance(missing, Problem)
    assert missing.status == 404
    again = send_draft.sync(draft.id, client=api)
    assert isinstance(again, Problem)
    assert again.status == 409
    invalid = list_messages.sync(account.id, client=api, limit=100_000)
    assert isinstance(invalid, Problem)
    assert (invalid.status, invalid.errors[0].field) == (422, "limit")
    elsewhere = get_account.sync(account.id, client=api.with_headers({"X-Tenant-ID": "globex"}))
    assert isinstance(elsewhere, Problem)
    assert elsewhere.status == 403
    stranger = get_account.sync(account.id, client=AuthenticatedClient(base_url=server, token="not-a-token"))
    assert isinstance(stranger, Problem)
    assert stranger.status == 401


OUTPUT = "../../build/client-ts/api.d.ts"


def test_the_typescript_types_check_the_typescript_scenario(document: Path, tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        reason = "node: npm is not on PATH (Debian: apt-get install nodejs npm)"
        if os.environ.get("MAILROOM_REQUIRE_SERVICES") == "1":
            pytest.fail(f"required tool missing - {reason}")
        pytest.skip(reason)
    work = tmp_path / "ts"
    shutil.copytree(ROOT / "clients/ts", work / "clients/ts", ignore=shutil.ignore_patterns("node_modules"))
    (work / "build/client-ts").mkdir(parents=True)
    project = work / "clients/ts"
    installed = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=project, capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stderr
    generated = subprocess.run(
        # Fields with a default may be left out of a request: not "non-nullable" (required) as the tool has it.
        ["npx", "openapi-typescript", str(document), "--default-non-nullable", "false", "--output", OUTPUT],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert generated.returncode == 0, generated.stderr
    assert "warn" not in (generated.stdout + generated.stderr).lower(), generated.stdout + generated.stderr
    checked = subprocess.run(
        ["npx", "tsc", "--noEmit", "-p", "tsconfig.json"], cwd=project, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
