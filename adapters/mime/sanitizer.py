"""Message HTML sanitised with nh3 (the Python binding of ammonia, a whitelist sanitiser built on html5ever).

Three passes, nh3 last so that it decides what comes out:
1. `bound_html` caps nesting, attributes and length: html5ever, like every HTML5 tree builder, takes time
   quadratic in the nesting depth.
2. lexbor reads the bounded HTML and rewrites each image: `cid:` to the URL of that part (RFC 2392), an http(s)
   source marked with `data-remote-src` and, when remote images are blocked, taken away from `src`. Only the body
   is kept (the head holds nothing to show).
3. nh3 keeps a whitelist of tags, attributes, CSS properties and URL schemes. Its attribute filter enforces the
   image rules again, for any image the second pass did not see.

Left out: scripts, event handlers, forms, frames, objects, SVG and MathML, `<style>` elements, ids and classes,
CSS properties that can load a URL, relative links, and URL schemes other than http, https, mailto and tel (and
data: for raster images). Links get `rel="noopener noreferrer"`.
"""

import asyncio
import re
from urllib.parse import unquote

import nh3
from selectolax.lexbor import LexborHTMLParser

from adapters.mime.html_bounds import bound_html
from domain.html import REMOTE_SOURCE, HtmlPolicy, SafeHtml
from domain.ports.html import HtmlSanitizer

_TAGS = nh3.ALLOWED_TAGS | {"font", "big", "tfoot", "address", "section"}
_DROPPED_WITH_CONTENT = {
    "script", "style", "title", "textarea", "select", "iframe", "object", "applet", "noembed", "noframes",
    "noscript", "template", "xmp",
}  # fmt: skip
_EVERY_TAG = {"style", "title", "dir", "lang", "align", "valign", "width", "height", "bgcolor"}
_ATTRIBUTES = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()} | {"*": _EVERY_TAG}
_ATTRIBUTES["img"] = _ATTRIBUTES["img"] | {"border", "hspace", "vspace", REMOTE_SOURCE}
_ATTRIBUTES["font"] = {"color", "face", "size"}
_ATTRIBUTES["table"] = _ATTRIBUTES["table"] | {"border", "cellpadding", "cellspacing"}
_ATTRIBUTES["td"] = _ATTRIBUTES["td"] | {"nowrap"}
_ATTRIBUTES["th"] = _ATTRIBUTES["th"] | {"nowrap"}
_CSS_PROPERTIES = {
    "color", "background-color", "opacity", "direction", "unicode-bidi",
    "font", "font-family", "font-size", "font-style", "font-variant", "font-weight", "line-height",
    "letter-spacing", "word-spacing", "text-align", "text-decoration", "text-indent", "text-transform",
    "white-space", "word-break", "word-wrap", "overflow-wrap", "vertical-align",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-color", "border-style",
    "border-width", "border-collapse", "border-spacing", "border-radius",
    "width", "height", "min-width", "min-height", "max-width", "max-height",
    "display", "float", "clear", "overflow", "table-layout", "list-style-type", "text-overflow",
}  # fmt: skip
"""CSS properties that take no URL; `position` is left out, so a message cannot lay itself over the client."""
_URL_SCHEMES = {"http", "https", "mailto", "tel", "data"}
_CSS_LOADS = re.compile(r"url\(|src\(|image\(|image-set\(|element\(|expression|@import|\\", re.I)
"""What could make a CSS declaration load something, even in a property that takes no URL (a browser skips it)."""
_DATA_IMAGE = re.compile(r"data:image/(?:png|gif|jpeg|webp|bmp);", re.I)
_URL_NOISE = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_REMOTE = ("http://", "https://")


def url_of(value: str) -> str:
    """A URL attribute as a browser reads it (WHATWG URL: C0 controls and spaces trimmed, tabs and newlines
    removed), so that a scheme split by a newline is still recognised."""
    return _URL_NOISE.sub("", value.strip(_C0_AND_SPACE))


def _remote(url: str) -> str | None:
    lowered = url.lower()
    if lowered.startswith(_REMOTE):
        return url
    if url.startswith("//"):
        return "https:" + url
    return None


class Nh3HtmlSanitizer(HtmlSanitizer):
    async def sanitize(self, html: str, policy: HtmlPolicy) -> SafeHtml:
        return await asyncio.to_thread(sanitize, html, policy)


def sanitize(html: str, policy: HtmlPolicy) -> SafeHtml:
    bounded = bound_html(html)
    inline = set(policy.inline_images.values())

    def keep_relative(url: str) -> str | None:
        return url if url in inline else None

    def check(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            return value if _image_allowed(url_of(value), policy.remote_images, inline) else None
        if attribute == REMOTE_SOURCE:
            return value if _remote(url_of(value)) == url_of(value) else None
        if attribute == "href" and url_of(value).lower().startswith("data:"):
            return None
        if attribute == "style":
            return ";".join(d for d in value.split(";") if not _CSS_LOADS.search(d))  # nh3 then drops the rest
        return value

    cleaner = nh3.Cleaner(
        tags=_TAGS,
        clean_content_tags=_DROPPED_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=check,
        url_schemes=_URL_SCHEMES,
        url_relative=keep_relative,
        filter_style_properties=_CSS_PROPERTIES,
    )
    return SafeHtml(cleaner.clean(_with_images_resolved(bounded.html, policy)), tuple(bounded.warnings()))


def _image_allowed(url: str, remote_images: bool, inline: set[str]) -> bool:
    if url in inline:
        return True
    if _remote(url) is not None:
        return remote_images
    return _DATA_IMAGE.match(url) is not None


def _with_images_resolved(html: str, policy: HtmlPolicy) -> str:
    """The body of `html` with each image's `cid:` source resolved and each remote source marked (or moved)."""
    tree = LexborHTMLParser(html)
    for image in tree.css("img"):
        attributes = image.attrs
        if REMOTE_SOURCE in attributes:
            del attributes[REMOTE_SOURCE]
        source = url_of(attributes.get("src") or "")
        if source.lower().startswith("cid:"):
            resolved = policy.inline_images.get(unquote(source[4:]).strip("<>"))
            if resolved is None:
                del attributes["src"]
            else:
                attributes["src"] = resolved
        elif (remote := _remote(source)) is not None:
            attributes[REMOTE_SOURCE] = remote
            if not policy.remote_images:
                del attributes["src"]
    body = tree.body
    return (body.inner_html or "") if body is not None else ""
