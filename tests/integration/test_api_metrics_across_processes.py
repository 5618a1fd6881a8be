"""`mailroom serve` with two API processes and PROMETHEUS_MULTIPROC_DIR: /metrics counts the requests of both,
whichever process answers the scrape, and a restart starts the counts again from zero."""

import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from redis import Redis

from tests.e2e.test_cli import MAILROOM, free_port
from tests.integration.conftest import env_without_mailroom

BATCH = 20
COUNTED = 'mailroom_http_requests_total{app_name="mailroom",method="GET",path="/api/accounts",status_code="401"}'


@pytest.fixture
def env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    Redis.from_url(redis_url).delete("mailroom")  # jobs left by other tests belong to other databases
    return env_without_mailroom() | {
        "MAILROOM_DATA_DIR": str(tmp_path / "data"),
        "MAILROOM_REDIS_URL": redis_url,
        "MAILROOM_API_WORKERS": "2",
        "MAILROOM_IDLE_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }


@pytest.fixture
def serve(env: dict[str, str]) -> Iterator[str]:
    process, base = start_serve(env)
    try:
        yield base
    finally:
        stop(process)


def start_serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Once /health answers: two processes on a shared machine may take a while to start."""
    port = free_port()
    process = subprocess.Popen(
        [MAILROOM, "serve"], env=env | {"MAILROOM_PORT": str(port)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.2)
    stop(process)
    pytest.fail(f"mailroom serve did not answer /health: {process.communicate()[0].decode()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def counted(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    match = re.search(rf"^{re.escape(COUNTED)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def answering_processes(folder: Path) -> set[str]:
    """The processes that served a request: prometheus_client writes a histogram file per process once it has
    timed one (the serving parent has none)."""
    return {path.stem.rsplit("_", 1)[1] for path in folder.glob("histogram_*.db")}


def unauthenticated_requests(base: str, count: int) -> None:
    """Each on a connection of its own, several at once, so both processes take some."""

    def one(_: int) -> int:
        return httpx.get(f"{base}/api/accounts", timeout=10, headers={"Connection": "close"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(one, range(count))) == {401}


def test_every_scrape_counts_the_requests_of_both_processes(serve: str, env: dict[str, str]) -> None:
    """One request at a time until both processes have answered some (the second may still be starting when the
    first answers /health), then a burst."""
    folder, sent, deadline = Path(env["PROMETHEUS_MULTIPROC_DIR"]), 0, time.monotonic() + 90
    while len(answering_processes(folder)) < 2 and time.monotonic() < deadline:
        unauthenticated_requests(serve, 1)
        sent += 1
        time.sleep(0.1)
    assert len(answering_processes(folder)) == 2, "both processes served requests"
    unauthenticated_requests(serve, BATCH)
    sent += BATCH
    assert [counted(serve) for _ in range(10)] == [sent] * 10
    text = httpx.get(f"{serve}/metrics", timeout=10).text
    assert "mailroom_job_queue_depth " in text, "read by whichever process answers"
    assert "mailroom_webhook_deliveries_due 0.0" in text
    assert "mailroom_accounts_sync_failing 0.0" in text


def test_a_restart_counts_from_zero(env: dict[str, str]) -> None:
    process, base = start_serve(env)
    try:
        unauthenticated_requests(base, 5)
        assert counted(base) == 5
    finally:
        stop(process)
    process, base = start_serve(env)
    try:
        assert counted(base) == 0, "the last run's files were removed"
        unauthenticated_requests(base, 3)
        assert counted(base) == 3
    finally:
        stop(process)
