"""Turning bytes and encoded words of unknown quality into clean text."""

import re
from email.errors import HeaderParseError
from email.header import decode_header

from selectolax.lexbor import LexborHTMLParser

from adapters.mime.html_bounds import bound_html

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_FOLDING = re.compile(r"\r?\n[ \t]*")
_SPACES = re.compile(r"\s+")
_SURROGATE = re.compile("[\udc80-\udcff]")
_FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")


def decode_bytes(data: bytes, charset: str | None, warnings: list[str]) -> str:
    """Decodes with the declared charset, then utf-8, cp1252 and latin-1 (which always succeeds)."""
    declared = (charset or "").strip().lower() or None
    for candidate in (declared, *_FALLBACK_CHARSETS) if declared else _FALLBACK_CHARSETS:
        try:
            text = data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
        if declared and candidate != declared:
            warnings.append(f"charset {declared!r} did not decode; used {candidate}")
        return text
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def unescape_8bit(value: str, warnings: list[str]) -> str:
    """The stdlib parser keeps raw 8-bit header bytes as lone surrogates; decode them for real."""
    if not _SURROGATE.search(value):
        return value
    warnings.append("8-bit characters in a header")
    return decode_bytes(value.encode("utf-8", "surrogateescape"), None, warnings)


def decode_words(value: str, warnings: list[str]) -> str:
    """RFC 2047 encoded words to text, one line, without control characters (no CR/LF survives)."""
    value = _FOLDING.sub(" ", unescape_8bit(value, warnings))
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError, IndexError):
        warnings.append("undecodable encoded word")
        chunks = [(value, None)]
    text = "".join(
        chunk if isinstance(chunk, str) else decode_bytes(chunk, charset, warnings) for chunk, charset in chunks
    )
    return _CONTROL.sub(" ", text).strip()


def collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def preview(text: str, length: int) -> str:
    """The first `length` characters of `text` with its whitespace collapsed, reading only as much of a long
    body as it needs: collapsing a whole body to keep its first `length` characters is wasted work."""
    window = 4 * length
    while True:
        head = collapse(text[:window])
        if len(head) >= length or window >= len(text):
            return head[:length]
        window *= 4


_BLOCKS = "br, p, div, li, tr, h1, h2, h3, h4, h5, h6, blockquote, table"


def html_to_text(html: str, warnings: list[str]) -> str:
    """Readable text of an HTML body, for search and previews when a message has no text part: a line break
    around each block, whitespace collapsed, no script, style or title. The HTML is bounded first
    (`adapters.mime.html_bounds`), so a hostile body costs time linear in its length; what was left out is
    a warning."""
    bounded = bound_html(html)
    warnings.extend(bounded.warnings())
    tree = LexborHTMLParser(bounded.html)
    for block in tree.css(_BLOCKS):
        block.insert_before("\n")
        if block.tag != "br":
            block.insert_after("\n")
    root = tree.body or tree.root
    text = root.text(deep=True, separator="", strip=False) if root is not None else ""
    lines = (collapse(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)
