"""Message HTML as a client may show it: sanitised, with remote images marked or blocked and inline parts resolved.

A mail body is HTML written by whoever sent the message. Shown as it is, it runs the sender's scripts in the
reader's client and tells the sender, through remote images, when and where the message was read. The API hands
out a sanitised copy; the original stays available as the raw message.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

REMOTE_SOURCE = "data-remote-src"
"""The attribute that marks an image loaded from the network and holds its URL: kept next to `src` when remote
images are shown, alone when they are blocked, so that a client can offer to load them."""


@dataclass(frozen=True, slots=True)
class HtmlPolicy:
    """`remote_images`: whether http(s) images keep their `src`. `inline_images`: Content-ID (RFC 2392, without
    angle brackets) -> the URL that serves that part; a `cid:` reference to any other part is removed."""

    remote_images: bool = True
    inline_images: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SafeHtml:
    """HTML with no script, event handler, form, frame, plug-in or dangerous URL; `warnings` says what of the
    original had to be left out to bound the work (nesting, attributes, length)."""

    html: str
    warnings: tuple[str, ...] = ()
