"""Schemathesis against a running `mailroom serve` (embedded SQLite, in-process jobs), authenticated: generated
requests for every operation of /schema/openapi.json, one at a time and in sequences (the stateful run follows
links Schemathesis infers, such as an account's id from `createAccount` into `getAccount`). No answer may be a
5xx, and every answer must be one its operation lists, with the documented content type, schema and headers.

Deterministic for CI: Hypothesis derandomized, a fixed number of examples per operation (MAILROOM_FUZZ_EXAMPLES,
10 by default); `uv run just fuzz` runs many more."""

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.test_cli import create_user, start_serve

EXAMPLES = int(os.environ.get("MAILROOM_FUZZ_EXAMPLES", "10"))
ENDLESS = "streamChanges"
"""The live stream answers 200 with a body that never ends, which a generated call would wait on for ever; its
refusals (401, 410, 422) and its events are tested in test_events_api.py and test_events_on_mail_servers.py."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")} | {
        "MAILROOM_DATA_DIR": str(data_dir),
        "MAILROOM_RATE_LIMIT_PER_MINUTE": "1000000",
        "MAILROOM_RATE_LIMIT_PER_HOUR": "1000000",
        "MAILROOM_LOGIN_LIMIT_PER_MINUTE": "1000000",
        "MAILROOM_LOGIN_LIMIT_PER_HOUR": "1000000",
        "MAILROOM_IDLE_ENABLED": "false",
        "MAILROOM_LOG_LEVEL": "WARNING",
        "MAILROOM_WEBHOOK_TIMEOUT_SECONDS": "2",  # generated webhook URLs name hosts that do not answer
    }
    process, base = start_serve(env)
    try:
        assert create_user(env).returncode == 0  # after serve has migrated the database
        login = {"tenant": "acme", "email": "a@acme.test", "password": "a-long-password"}
        token = httpx.post(f"{base}/api/auth/login", json=login).json()["access_token"]
        yield base, {"Authorization": f"Bearer {token}"}
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
        assert "Traceback" not in output, output[-3000:]


def test_no_request_breaks_the_api(server: tuple[str, dict[str, str]]) -> None:
    """One Hypothesis run per operation; a failure names the operation and the request that broke it."""
    base, auth = server
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json").exclude(operation_id=ENDLESS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=auth, checks=CHECKS)

        try:
            run()
        except Exception as error:
            raise AssertionError(f"{operation.label}: {error}") from error


def test_sequences_of_calls_answer_only_what_the_document_lists(server: tuple[str, dict[str, str]]) -> None:
    base, auth = server
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json").exclude(operation_id=ENDLESS)

    class Authenticated(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"headers": auth}

        def validate_response(self, response: object, case: schemathesis.Case, **kwargs: object) -> None:
            case.validate_response(response, checks=CHECKS)  # type: ignore[arg-type]

    run_state_machine_as_test(
        Authenticated,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=6,
            derandomize=True,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
