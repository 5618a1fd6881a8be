"""Serves the API like bench.serve_app, and prints at exit (SIGINT) how many garbage collections of each
generation ran and how long they took: the figures behind `freeze_heap` in docs/benchmarks.md.

Usage: FREEZE=1|'' python -m bench.gc_pauses PORT, with the environment of `mailroom serve`; load it (wrk),
then stop it with SIGINT."""

import atexit
import gc
import os
import sys
import time
from typing import Any

import uvicorn

from entrypoints.http.app import create_app
from entrypoints.settings import load_settings

pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
started: list[float] = [0.0]


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        started[0] = time.perf_counter()
    else:
        pauses[info["generation"]].append(time.perf_counter() - started[0])


def _report() -> None:
    for generation, values in pauses.items():
        if values:
            total, longest = sum(values) * 1000, max(values) * 1000
            print(
                f"gen{generation}: {len(values)} collections, {total:.0f} ms, longest {longest:.1f} ms", file=sys.stderr
            )
    print(f"tracked objects {len(gc.get_objects())}, frozen {gc.get_freeze_count()}", file=sys.stderr)


if __name__ == "__main__":
    gc.callbacks.append(_timed)
    atexit.register(_report)
    app = create_app(settings=load_settings(), freeze_heap=bool(os.environ.get("FREEZE")))
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
