"""HTML bodies built to make a parser take quadratic time: each is read, and synced, in seconds, and what the
bound on the work left out is a parse warning. The time limits are generous; the attacks cost minutes to hours."""

import time
from collections.abc import Callable

import pytest
from selectolax.lexbor import LexborHTMLParser

from adapters.mime.html_bounds import bound_html
from adapters.mime.parser import StdlibMessageParser
from adapters.mime.text import html_to_text
from domain.messages import Flags
from domain.sync import SyncPhase
from tests.unit.application.sync.test_sync_account import World
from tests.unit.mail_corpus import lines

SIZE = 999_000  # just under the parser's body limit, so every character is read
SECONDS = 15


def repeated(unit: str, tail: str = "") -> str:
    return unit * ((SIZE - len(tail)) // len(unit)) + tail


HOSTILE = {
    "an unclosed tag run": repeated("<a"),
    "nested divs": repeated("<div>", "the end"),
    "nested inline tags": repeated("<b><i><u><span><font>x", "the end"),
    "formatting tags told apart by attributes": "".join(f"<b id={n}>" for n in range(SIZE // 14)) + "the end",
    "nested tables": repeated("<table><tr><td>", "the end"),
    "list items in definitions": repeated("<li><dd>", "the end"),
    "elements closed with the wrong name": repeated("<span><div></span>", "the end"),
    "inputs inside svg": "<svg>" + repeated("<input>", "the end"),
    "one tag with a huge attribute list": "<p " + " ".join(f"a{n}" for n in range(SIZE // 8)) + ">the end",
    "many tags with long attribute lists": repeated("<p " + " ".join(f"a{n}" for n in range(200)) + ">x</p>"),
}


def html_message(html: str, subject: str = "hostile") -> bytes:
    return lines(
        b"From: mallory@example.com",
        b"To: bob@example.com",
        b"Subject: " + subject.encode(),
        b"Message-ID: <" + subject.replace(" ", "-").encode() + b"@example.com>",
        b"Content-Type: text/html; charset=utf-8",
        b"",
        html.encode(),
    )


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


@pytest.mark.parametrize("shape", HOSTILE)
def test_a_hostile_html_body_of_1_mb_is_read_in_seconds(shape: str) -> None:
    raw = html_message(HOSTILE[shape])
    parsed = None

    def parse() -> None:
        nonlocal parsed
        parsed = StdlibMessageParser().parse(raw)

    assert timed(parse) < SECONDS
    assert parsed is not None
    assert not any(w.startswith("unparseable") for w in parsed.warnings)
    assert parsed.html_body is not None
    if HOSTILE[shape].endswith("the end"):
        assert (parsed.text_body or "").endswith("the end")


@pytest.mark.parametrize(
    ("shape", "warning"),
    [
        ("nested divs", "HTML nested deeper than 512 elements"),
        ("nested inline tags", "HTML nested deeper than 512 elements"),
        ("one tag with a huge attribute list", "HTML tags with more than 100 attributes"),
    ],
)
def test_what_the_bound_left_out_is_a_parse_warning(shape: str, warning: str) -> None:
    parsed = StdlibMessageParser().parse(html_message(HOSTILE[shape]))
    assert any(w.startswith(warning) for w in parsed.warnings), parsed.warnings


async def test_hostile_html_messages_sync_in_seconds_beside_ordinary_mail() -> None:
    world = World()
    account = await world.account()
    for shape in ("an unclosed tag run", "nested divs", "one tag with a huge attribute list"):
        world.server.deliver("INBOX", html_message(HOSTILE[shape], shape))
    world.server.deliver("INBOX", html_message("<p>Hello <b>Bob</b></p>", "ordinary"), Flags(seen=True))

    started = time.perf_counter()
    result = await world.sync()(account.tenant_id, account.id, "worker-1")

    assert time.perf_counter() - started < 3 * SECONDS
    assert result.phase is SyncPhase.IDLE
    stored = {m.subject: m for m in world.messages("INBOX")}
    assert set(stored) == {"an unclosed tag run", "nested divs", "one tag with a huge attribute list", "ordinary"}
    assert stored["ordinary"].text_body == "Hello Bob"
    assert any(w.startswith("HTML nested deeper") for w in stored["nested divs"].parse_warnings)


def test_text_keeps_block_breaks_and_skips_what_is_not_shown() -> None:
    html = (
        "<html><head><title>Title</title><style>p{}</style></head><body>"
        "<h1>News</h1><div>first<br>second</div><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table><script>var x = '<p>no</p>';</script>"
        "<!-- <p>hidden</p> --><p>caf&eacute;&nbsp;&amp; more   words</p></body></html>"
    )
    warnings: list[str] = []
    assert html_to_text(html, warnings) == "News\nfirst\nsecond\none\ntwo\nab\ncafé & more words"
    assert warnings == []


def dom_depth(html: str) -> int:
    tree = LexborHTMLParser(html)
    deepest, stack = 0, [(tree.root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        child = node.child if node is not None else None
        while child is not None:
            stack.append((child, depth + 1))
            child = child.next
    return deepest


@pytest.mark.parametrize(
    "pattern",
    [
        "<div>",
        "<div/>",
        "<b><div></b>",
        "<span><div></span>",
        "<div><table></div>",
        "<li><dd>",
        "<table><tr><td>",
        "<b id=1></i>",
        "<div><script></div></script>",
        "<div><style></div></style>",
        "<div><!-- --!></div> -->",
        '<div x"></div>',
        "<svg><input>",
        "<svg><img></img><path></svg><img>",
        "<math><a><rb></svg><tr>",
        "</p><applet><svg><body>x</svg></body>",
        "<caption></ul>x</colgroup><html id=8><math>",
        "<svg><p></p><x></svg>",
        "<noscript><div></noscript>",
    ],
)
def test_the_parser_never_nests_much_deeper_than_the_bound(pattern: str) -> None:
    """The pass has no tree builder, so it must count at least as many open elements as lexbor has: whatever the
    repetition, lexbor's tree stays within a small multiple of the bound."""
    bounded = bound_html(pattern * (40_000 // len(pattern)), max_depth=64)
    assert dom_depth(bounded.html) <= 3 * 64


def test_ordinary_html_passes_unchanged() -> None:
    """Unclosed paragraphs, list items and cells, as hand-written mail has them, are no nesting."""
    html = (
        "<html><body><table width=600 cellpadding=0><tr><td><p>one<p>two<p>three</td></tr></table>"
        "<table><tr><td>a<td>b<tr><td>c</table><ul><li>a<li><p>b</ul><div><p>para</div><ol><li>x</ol>"
        '<img src="https://example.com/logo.png" alt="logo"><br/><svg><path d="M0 0"/><circle r="1"/></svg>'
        '<a href="https://example.com?a=1&b=2">link</a></body></html>'
    )
    bounded = bound_html(html * 300)
    assert bounded.html == html * 300
    assert bounded.warnings() == []
