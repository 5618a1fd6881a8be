"""Markers by folder, and real servers found through MAILROOM_TEST_* settings.

A missing server skips its tests with a summary line naming it; with MAILROOM_REQUIRE_SERVICES=1 it fails them.
"""

import os
from pathlib import Path

import pytest

_MAILSERVERS_DIR = os.environ.get("MAILROOM_MAILSERVERS_DIR", "/tmp/mailroom-mailservers")  # noqa: S108 - script default
MAILSERVERS_ENV = Path(_MAILSERVERS_DIR) / "env"
_missing: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, folder))


def require_service(name: str, variable: str, hint: str) -> str:
    value = os.environ.get(variable)
    if value:
        return value
    reason = f"{name}: {variable} is not set ({hint})"
    if os.environ.get("MAILROOM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required server missing - {reason}")
    _missing[name] = reason
    pytest.skip(reason)


def mail_server_settings() -> dict[str, str]:
    """The variables `deploy/local/mailservers.sh start` wrote, unless the environment already has them."""
    found = {k: v for k, v in os.environ.items() if k.startswith("MAILROOM_TEST_MAIL")}
    if "MAILROOM_TEST_MAIL_HOST" not in found and MAILSERVERS_ENV.exists():
        lines = MAILSERVERS_ENV.read_text().splitlines()
        found = dict(line.split("=", 1) for line in lines if "=" in line)
    if "MAILROOM_TEST_MAIL_HOST" not in found:
        os.environ.pop("MAILROOM_TEST_MAIL_HOST", None)
        require_service("dovecot+postfix", "MAILROOM_TEST_MAIL_HOST", "run `uv run just services` as root")
    return {**found, **{k: v for k, v in os.environ.items() if k.startswith("MAILROOM_TEST_")}}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _missing:
        terminalreporter.section("MISSING SERVERS: their tests were skipped", sep="!", red=True, bold=True)
        for reason in _missing.values():
            terminalreporter.line(f"SKIPPED because no server - {reason}", red=True, bold=True)
