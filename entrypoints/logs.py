"""Logging for every process: one JSON object a line in production, readable lines in development. Each line
carries the request id of the request or job it belongs to.

Libraries that log what they send (IMAP and SMTP commands, SQL parameters) are kept quiet whatever the level
asked for: a password, token or message body must never reach a log."""

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

from adapters.correlation import current_request_id

_QUIET = {
    "aioimaplib": logging.WARNING,  # at INFO, every untagged answer it did not expect: after NOTIFY, folder names
    "aiosmtplib": logging.INFO,
    "asyncpg": logging.INFO,
    "mail.log": logging.INFO,
    "sqlalchemy.engine": logging.WARNING,  # at INFO it logs every statement's parameters: bodies, ciphertexts
}
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


def stamp_request_ids() -> None:
    """Every log record made from now on carries the request id of the context that made it, and the libraries
    that would log secrets stay quiet. Called by every process's composition (the app, the CLI)."""
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "stamps_request_id", False):

        def stamped(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = factory(*args, **kwargs)
            record.request_id = current_request_id.get()
            return record

        stamped.stamps_request_id = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(stamped)
    for name, floor in _QUIET.items():
        logger = logging.getLogger(name)
        logger.setLevel(max(floor, logger.level))


class JsonFormatter(logging.Formatter):
    """`time`, `level`, `logger`, `message`, `request_id`, any `extra=` fields, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        line |= {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        request_id = getattr(record, "request_id", None)
        suffix = " ".join(f"{k}={v}" for k, v in extra.items())
        return " ".join(part for part in (text, suffix, f"[{request_id}]" if request_id else "") if part)


def configure_logging(level: str | None = None, json_lines: bool | None = None) -> None:
    """From MAILROOM_LOG_LEVEL and MAILROOM_LOG_FORMAT (`json` or `text`; by default json when MAILROOM_ENV is
    production)."""
    level = (level or os.environ.get("MAILROOM_LOG_LEVEL") or "INFO").upper()
    if json_lines is None:
        wanted = os.environ.get("MAILROOM_LOG_FORMAT") or (
            "json" if os.environ.get("MAILROOM_ENV") == "production" else "text"
        )
        json_lines = wanted == "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    stamp_request_ids()
