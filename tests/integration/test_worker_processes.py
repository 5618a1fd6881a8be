"""`mailroom worker` and `mailroom scheduler` as separate processes on Redis: they start, and stop on SIGTERM."""

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.test_cli import MAILROOM, run
from tests.integration.conftest import env_without_mailroom


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_refuses_to_start_without_redis(command: str, tmp_path: Path) -> None:
    answer = run(env_without_mailroom() | {"MAILROOM_DATA_DIR": str(tmp_path)}, command)
    assert answer.returncode == 2
    assert "MAILROOM_REDIS_URL" in answer.stderr


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_runs_on_redis_until_sigterm(command: str, redis_url: str, tmp_path: Path) -> None:
    env = env_without_mailroom() | {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_REDIS_URL": redis_url}
    assert run(env, "migrate").returncode == 0
    process = subprocess.Popen([MAILROOM, command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(5)
    assert process.poll() is None, process.communicate()[0].decode()
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
