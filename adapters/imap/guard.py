"""Bounds on what one IMAP answer may make the client hold, so a hostile or broken server cannot fill a worker's
memory: the length of one line, the size of one literal (RFC 3501 section 4.3), and the answer to one command."""

import re
from typing import NoReturn

_LITERAL = re.compile(rb"\{(\d+)\}$")
LINE_COST = 64
"""What a received line costs beyond its bytes: aioimaplib keeps each one as a Python bytes object."""
MAX_LINE = 16 * 1024 * 1024
"""The longest line: a UID SEARCH answer of about two million UIDs."""
MAX_ANSWER = 32 * 1024 * 1024
"""An answer without message bodies: LIST, EXAMINE with QRESYNC changes, SEARCH, a batch of flags."""
MAX_LITERAL = 1024 * 1024
"""A literal outside a body fetch: a mailbox name, a header value."""


class ResponseRefused(Exception):
    """The server's answer broke a limit. The connection is dropped: what follows in its stream cannot be read
    safely (the bytes of a refused literal would be taken for response lines)."""


class ResponseGuard:
    """Counts the answer to the command in progress; the session sets the limits before each command."""

    def __init__(self) -> None:
        self.refused: str | None = None
        self._limit = self._left = MAX_ANSWER
        self._max_literal = MAX_LITERAL

    def expect(self, answer_bytes: int = MAX_ANSWER, literal_bytes: int = MAX_LITERAL) -> None:
        """The next answer may hold `answer_bytes` in all, and no single literal over `literal_bytes`."""
        self._limit = self._left = answer_bytes
        self._max_literal = literal_bytes

    def line(self, line: bytes) -> None:
        """A complete line; one that ends by announcing a literal is charged the literal's size up front, before
        aioimaplib starts buffering it."""
        if len(line) > MAX_LINE:
            self._refuse(f"a line of {len(line)} bytes, over the {MAX_LINE}-byte limit")
        self._charge(len(line) + LINE_COST)
        if line.endswith(b"}") and (literal := _LITERAL.search(line)):
            digits = literal[1]
            if len(digits) > 18 or int(digits) > self._max_literal:
                shown = digits.decode() if len(digits) <= 20 else "a " + str(len(digits)) + "-digit number of"
                self._refuse(f"a literal of {shown} bytes, over the {self._max_literal}-byte limit")
            self._left -= int(digits)
            if self._left < 0:
                self._refuse(f"a literal of {int(digits)} bytes, past the {self._limit} bytes this answer may hold")

    def partial_line(self, length: int) -> None:
        """A line still waiting for its end (CRLF)."""
        if length > MAX_LINE:
            self._refuse(f"a line of over {MAX_LINE} bytes")

    def broken(self, error: BaseException) -> None:
        """The answer could not be read at all; `error` is what reading it raised."""
        if self.refused is not None:
            return
        if isinstance(error, RecursionError):
            self.refused = "the server sent too many response lines at once"
        else:
            self.refused = f"the server sent an unreadable answer ({type(error).__name__})"

    def _charge(self, size: int) -> None:
        self._left -= size
        if self._left < 0:
            self._refuse(f"an answer over the {self._limit}-byte limit of this command")

    def _refuse(self, reason: str) -> NoReturn:
        self.refused = f"the server sent {reason}"
        raise ResponseRefused(self.refused)
