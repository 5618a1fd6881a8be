"""`mailroom worker` and `mailroom scheduler` as separate processes on Redis: they start, and stop on SIGTERM."""

import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest
from redis import Redis

from adapters.jobs.broker import QUEUE_NAME
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
    started = wait_for_line(process, f"{command} ready", timeout_seconds=60)
    time.sleep(1)
    assert process.poll() is None, started + process.communicate()[0].decode()
    process.send_signal(signal.SIGTERM)
    output = started + process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output


def test_a_scheduler_stopped_while_sending_still_queues_those_jobs(redis_url: str, tmp_path: Path) -> None:
    env = env_without_mailroom() | {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_REDIS_URL": redis_url}
    assert run(env, "migrate").returncode == 0
    started_ms = time.time_ns() // 1_000_000
    process = subprocess.Popen([MAILROOM, "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = wait_for_line(process, "Sending task", timeout_seconds=60)
    process.send_signal(signal.SIGTERM)
    output += process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    with Redis.from_url(redis_url) as redis:
        queued = redis.xrange(QUEUE_NAME, min=str(started_ms), max="+")
    assert len(queued) == output.count("Sending task"), output


def wait_for_line(process: subprocess.Popen[bytes], text: str, timeout_seconds: float) -> str:
    """The process's output up to the first line holding `text` (a cold start on a busy machine takes seconds,
    and a SIGTERM before the handlers are installed would kill it outright)."""
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + timeout_seconds
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while text not in output:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {text!r} in time:\n{output}"
            assert selector.select(remaining), f"no {text!r} in time:\n{output}"
            line = process.stdout.readline().decode()
            assert line, f"the process ended before {text!r}:\n{output}"
            output += line
    return output
