"""A UID FETCH command whose end-of-response check costs the same for every line."""

from typing import Any

import aioimaplib


class LinearFetchCommand(aioimaplib.FetchCommand):  # type: ignore[misc]
    """aioimaplib's FetchCommand decides after each line whether a FETCH item is complete by re-scanning every
    line received so far, which makes a fetch of n messages cost O(n^2), and a first sync fetches whole folders
    in large batches. This keeps the parenthesis balance of the current item as lines arrive. Literal data
    (bytearray lines) is skipped, as the original does."""

    def __init__(self, tag: str, *args: str, **kwargs: Any) -> None:
        self._balance = 0
        super().__init__(tag, *args, **kwargs)

    def append_to_resp(self, line: bytes, result: str = "Pending") -> None:
        if type(line) is bytes:
            if self.FETCH_MESSAGE_DATA_RE.match(line):
                self._balance = 0
            self._balance += line.count(b"(") - line.count(b")")
        super().append_to_resp(line, result)

    def wait_data(self) -> bool:
        return self._balance != 0
