"""Modified UTF-7 for mailbox names (RFC 3501 section 5.1.3): `&` starts base64 of UTF-16BE, `,` for `/`."""

import base64
import re

_SHIFTED = re.compile(r"&([A-Za-z0-9+,]*)-")


def decode_mailbox_name(name: str) -> str:
    def unshift(match: re.Match[str]) -> str:
        encoded = match.group(1)
        if not encoded:
            return "&"
        data = encoded.replace(",", "/")
        return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-16-be", errors="replace")

    return _SHIFTED.sub(unshift, name)


def encode_mailbox_name(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quote(name: str) -> str:
    """A mailbox name as an IMAP quoted string (RFC 3501 section 4.3)."""
    encoded = encode_mailbox_name(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'
