"""An SMTP sink for the send benchmark: accepts every login and message, and notes when each arrived."""

import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


@dataclass
class Sink:
    accepted_at: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.accepted_at.append(time.perf_counter())
        self.sizes.append(len(envelope.content or b""))
        return "250 2.0.0 Ok: queued"


def start_sink() -> tuple[Sink, Controller, int]:
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # a deprecation notice at every login
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    authenticate: Any = lambda *_: AuthResult(success=True)  # noqa: E731
    controller = Controller(
        sink, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False, data_size_limit=0
    )
    controller.start()
    return sink, controller, port
