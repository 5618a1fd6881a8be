"""The API's metrics files across a restart that reuses the process id, as a container's pid 1 does at every start:
the counts start from zero, not from the last run's."""

import subprocess
import sys
import textwrap
from pathlib import Path

LAST_RUN = """
from entrypoints.metrics import SYNC_RUNS
SYNC_RUNS.labels("idle").inc(5)
"""

# Takes the last run's file as its own (the same pid), then counts one sync and reads the folder's total.
THIS_RUN = """
import os, sys
from pathlib import Path
folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
[last] = folder.glob("counter_*.db")
last.rename(folder / f"counter_{os.getpid()}.db")
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from entrypoints.metrics import SYNC_RUNS
SYNC_RUNS.labels("idle").inc()
registry = CollectorRegistry()
MultiProcessCollector(registry)
sys.stdout.write(generate_latest(registry).decode())
"""


def _python(code: str, folder: Path) -> str:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_a_restart_with_the_same_pid_counts_from_zero(tmp_path: Path) -> None:
    _python(LAST_RUN, tmp_path)
    exported = _python(THIS_RUN, tmp_path)
    assert 'mailroom_sync_runs_total{outcome="idle"} 1.0' in exported
