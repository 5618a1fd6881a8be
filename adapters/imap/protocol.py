"""aioimaplib's client protocol, reading the server's answers in bounded time and memory."""

from typing import Any

import aioimaplib

from adapters.imap.guard import ResponseGuard, ResponseRefused

CRLF = b"\r\n"


class ImapProtocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]
    """Three changes to aioimaplib's reading of answers; what a line means is left to aioimaplib.

    - Its `data_received` starts with `log.debug('Received : %s' % d)`: the repr of every chunk is built whether or
      not debug logging is on, an escaped copy of every byte a sync receives, and at debug level it would log
      message contents. Not here.
    - Its `_handle_responses` recurses once per line and copies the rest of the read at each: a read of more than
      about 1,000 lines exceeds Python's recursion limit (aioimaplib issue #118), and a read of many short lines
      holds a copy of itself per line. Here a loop walks the read by offset.
    - Every line, and every literal before aioimaplib buffers it, is counted by a ResponseGuard: an answer over
      its limits, or one aioimaplib cannot read, drops the connection and says why (`guard.refused`).
    """

    incomplete_line: bytes
    current_command: aioimaplib.Command | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = ResponseGuard()
        self.sasl_answers: list[str] = []
        """What to answer the server's challenges during AUTHENTICATE with, in turn (adapters/imap/sasl.py)."""

    def _continuation(self, line: bytes) -> None:
        """aioimaplib answers a `+` only for APPEND and IDLE; during AUTHENTICATE the client must answer every
        challenge (RFC 3501 section 6.2.2), and nothing of it is logged: it carries the credentials."""
        command = self.pending_sync_command
        if command is not None and command.name == "AUTHENTICATE" and self.transport is not None:
            answer = self.sasl_answers.pop(0) if self.sasl_answers else "*"  # '*' cancels the exchange
            self.transport.write(answer.encode() + CRLF)
            return
        super()._continuation(line)

    def data_received(self, d: bytes) -> None:
        if self.guard.refused is not None:
            return
        try:
            self._receive(self.incomplete_line + d if self.incomplete_line else d)
        except (ResponseRefused, aioimaplib.AioImapException, RecursionError, ValueError) as error:
            self.guard.broken(error)
            if self.transport is not None:
                self.transport.abort()

    def _receive(self, data: bytes) -> None:
        try:
            self._handle_responses(data, self._handle_line, self.current_command)
            self.incomplete_line = b""
            self.current_command = None
        except aioimaplib.IncompleteRead as incomplete_read:
            self.current_command = incomplete_read.cmd
            self.incomplete_line = incomplete_read.data
            self.guard.partial_line(len(self.incomplete_line))

    def _handle_line(self, line: bytes, current_cmd: aioimaplib.Command | None) -> aioimaplib.Command | None:
        self.guard.line(line)
        return super()._handle_line(line, current_cmd)

    def _handle_responses(
        self,
        data: bytes,
        line_handler: Any,
        current_cmd: aioimaplib.Command | None = None,
    ) -> None:
        """aioimaplib's `_handle_responses`, step for step, as a loop: raises IncompleteRead with the command
        still receiving and the unfinished line, to be continued with the next read."""
        view, position = memoryview(data), 0
        while True:
            if position == len(data):
                if self.pending_sync_command is not None:
                    self.pending_sync_command.flush()
                if current_cmd is not None and current_cmd.wait_data():
                    raise aioimaplib.IncompleteRead(current_cmd)
                return
            if current_cmd is not None and current_cmd.wait_literal_data():
                position = len(data) - len(current_cmd.append_literal_data(view[position:]))
                if current_cmd.wait_literal_data():
                    raise aioimaplib.IncompleteRead(current_cmd)
            end = data.find(CRLF, position)
            if end < 0:
                raise aioimaplib.IncompleteRead(current_cmd, data[position:])
            line, position = data[position:end], end + len(CRLF)
            cmd = line_handler(line, current_cmd)
            if begin_literal := aioimaplib.literal_data_re.match(line):
                cmd = cmd if cmd is not None else aioimaplib.Command("NIL", "unused")
                cmd.begin_literal_data(int(begin_literal.group("size")))
                current_cmd = cmd
            elif cmd is not None and cmd.wait_data():
                current_cmd = cmd
            else:
                current_cmd = None
