"""One uvicorn process for the search benchmark: Mailroom's API, or a bare Litestar app as the baseline.
Both with the same uvicorn settings (one worker, no access log). Usage: python -m bench.serve_app mailroom|bare PORT"""

import sys

import uvicorn
from litestar import Litestar, get

from entrypoints.http.app import create_served_app


@get("/ping", sync_to_thread=False)
def ping() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    app = create_served_app() if kind == "mailroom" else Litestar([ping])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
