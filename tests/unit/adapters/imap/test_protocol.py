"""Reading a server's bytes: ImapProtocol and its ResponseGuard, fed reads directly, without a socket."""

import asyncio

import aioimaplib
import pytest

from adapters.imap.fetch_command import LinearFetchCommand
from adapters.imap.guard import MAX_LINE, ResponseGuard
from adapters.imap.protocol import ImapProtocol


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.aborted = False
        self.written: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted


def fetching() -> tuple[ImapProtocol, RecordingTransport, LinearFetchCommand]:
    """A protocol in the SELECTED state with a UID FETCH waiting for its answer."""
    protocol = ImapProtocol(asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.state = aioimaplib.SELECTED
    command = LinearFetchCommand("A1", "1:*", "(UID FLAGS)", prefix="UID", loop=protocol.loop)
    protocol.pending_async_commands[command.untagged_resp_name] = command
    return protocol, transport, command


async def test_a_read_of_5000_lines_is_taken_whole() -> None:
    """aioimaplib recursed once per line: a read of about 1,000 lines ended in a RecursionError and a dead
    connection (aioimaplib issue #118)."""
    protocol, transport, command = fetching()
    lines = b"".join(b"* %d FETCH (UID %d FLAGS (\\Seen))\r\n" % (n, n) for n in range(1, 5001))
    protocol.data_received(lines + b"A1 OK done\r\n")
    await asyncio.wait_for(command.wait(), 1)
    assert (transport.aborted, protocol.guard.refused) == (False, None)
    assert len(command.response.lines) == 5001


async def test_a_literal_split_across_reads_arrives_whole() -> None:
    protocol, _, command = fetching()
    body = b"Subject: hi\r\n\r\n" + b"x" * 10_000
    answer = b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(body) + body + b")\r\nA1 OK done\r\n"
    for start in range(0, len(answer), 777):
        protocol.data_received(answer[start : start + 777])
    await asyncio.wait_for(command.wait(), 1)
    assert bytearray(body) in command.response.lines


@pytest.mark.parametrize(
    ("limit", "answer", "reason"),
    [
        (1000, b"* 1 FETCH (UID 1 BODY[] {99999999999}\r\n", "literal of 99999999999 bytes"),
        (1000, b"* 1 FETCH (UID 1 BODY[] {" + b"9" * 5000 + b"}\r\n", "5000-digit"),
        (1000, b"* 1 FETCH (UID 1 BODY[] {1001}\r\n", "literal of 1001 bytes"),
        (10**9, b"* 1 FETCH (UID 1 FLAGS ())\r\n" * 400_000, "answer over"),
    ],
)
async def test_an_answer_over_its_limits_drops_the_connection(limit: int, answer: bytes, reason: str) -> None:
    protocol, transport, _ = fetching()
    protocol.guard.expect(answer_bytes=10_000_000, literal_bytes=limit)
    protocol.data_received(answer)
    protocol.data_received(b"x" * 100_000 + b"\r\nA1 OK done\r\n")
    assert transport.aborted
    assert protocol.guard.refused is not None
    assert reason in protocol.guard.refused


async def test_a_line_without_end_is_cut_at_the_line_limit() -> None:
    protocol, transport, _ = fetching()
    chunk = b"* OK " + b"x" * (1024 * 1024)
    for _ in range(MAX_LINE // len(chunk) + 2):
        protocol.data_received(chunk)
    assert transport.aborted
    assert "line of over" in (protocol.guard.refused or "")


async def test_a_line_aioimaplib_cannot_read_drops_the_connection_with_a_reason() -> None:
    protocol, transport, _ = fetching()
    protocol.data_received(b"* \xff\xfe FOO\r\n")
    assert transport.aborted
    assert "unreadable" in (protocol.guard.refused or "")


def test_the_guard_limits_apply_to_one_answer_each() -> None:
    guard = ResponseGuard()
    guard.expect(answer_bytes=2000, literal_bytes=1500)
    guard.line(b"* 1 FETCH (UID 1 BODY[] {1500}")
    guard.expect(answer_bytes=2000, literal_bytes=1500)
    guard.line(b"* 2 FETCH (UID 2 BODY[] {1500}")
    assert guard.refused is None
