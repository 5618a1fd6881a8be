"""A linear pass over untrusted HTML that bounds the work an HTML parser does on it afterwards.

HTML5 tree builders (lexbor, html5ever under nh3) check scopes and formatting elements against the stack of open
elements, so their cost grows with the nesting depth: a message made of `<div>` repeated costs time quadratic in its
size. Any sender can mail that, so before a parser sees a message this pass

- keeps at most `max_depth` elements open: deeper start tags are dropped and their text kept (Blink's parser caps the
  depth at 512 for the same reason);
- keeps at most `max_attributes` attributes per tag (parsers look for a duplicate among a tag's attributes);
- removes comments, doctypes, processing instructions and CDATA sections, and script, style, title, textarea, xmp,
  iframe, noembed and noframes elements with their content (their content is no markup, and none of it is shown as
  text or kept by the sanitiser), and the noscript and plaintext tags themselves;
- writes svg and math start tags without attributes (neither output shows them), so none is self-closing.

The pass tokenises as the HTML tokenizer does (WHATWG HTML 13.2.5: a quote opens a value only after `=`, a tag left
open at the end swallows the rest) but has no tree builder, so its count of open elements must never fall below the
tree builder's by more than a small factor. It errs towards counting more: a self-closing slash opens the element
all the same; an end tag closes the innermost element it names, and goes past only an unclosed p, list item or
table cell, row and section, where the tree builder always closes them too (13.2.6.4.7); a p, list item, cell or
row closes an open sibling; none of these shortcuts applies inside SVG or MathML, where the tree builder does not
take them. `</svg>` and `</math>` close what is open inside, unless HTML was opened in there (the tree builder may
have left the svg element already). Removing the regions whose tokenizer state depends on the tree (raw text,
CDATA) leaves nothing that the tree builder could read otherwise than this pass.
"""

import re
from dataclasses import dataclass

MAX_DEPTH = 512
MAX_ATTRIBUTES = 100
MAX_CHARS = 1_000_000

_TAG = re.compile(
    r"""<(/?)([A-Za-z][^\t\n\f\r />]*+)
    ((?:[\t\n\f\r /]++
      |[^\t\n\f\r />][^\t\n\f\r /=>]*+
       (?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"[^"]*+(?:"|\Z)|'[^']*+(?:'|\Z)|[^\t\n\f\r >]++)?+)?+
    )*+)>""",
    re.X,
)
_ATTRIBUTE = re.compile(
    r"""[^\t\n\f\r />][^\t\n\f\r /=>]*+
    (?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"[^"]*+"?|'[^']*+'?|[^\t\n\f\r >]++)?+)?+""",
    re.X,
)
_COMMENT_END = re.compile(r"--!?>")
_RAW_TEXT = frozenset({"script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes"})
_RAW_TEXT_END = {name: re.compile(rf"</{name}[\t\n\f\r />]", re.I) for name in _RAW_TEXT}
_UNWRAPPED = frozenset({"noscript", "plaintext"})
_NOT_NESTED = frozenset({"html", "head", "body"})
_VOID = frozenset(
    {
        "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img", "input",
        "keygen", "link", "meta", "param", "source", "track", "wbr",
    }
)  # fmt: skip
_FOREIGN_ROOTS = frozenset({"svg", "math"})
_HTML_IN_FOREIGN = frozenset(
    {
        "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed", "font",
        "h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing", "menu", "meta", "nobr", "ol",
        "p", "pre", "ruby", "s", "small", "span", "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var",
        "foreignobject", "desc", "title", "mi", "mo", "mn", "ms", "mtext", "annotation-xml",
    }
)  # fmt: skip
"""Start tags that leave SVG/MathML for HTML (WHATWG HTML 13.2.6.5), and the integration points."""
_LEAVE_FOREIGN_END = frozenset({"p", "br"})
_CLOSES_INSIDE = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl", "fieldset",
        "figcaption", "figure", "footer", "header", "hgroup", "listing", "main", "menu", "nav", "ol", "pre",
        "search", "section", "summary", "ul", "li", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "td", "th",
        "caption", "tr", "tbody", "thead", "tfoot", "table",
    }
)  # fmt: skip
"""Elements whose end tag closes every element open inside them when they are in scope (WHATWG HTML 13.2.6.4.7)."""
_ONLY_P = (frozenset({"p"}),)
_CELL = (frozenset({"p"}), frozenset({"td", "th"}), frozenset({"tr"}))
_IMPLIED = {
    "ul": (*_ONLY_P, frozenset({"li"})),
    "ol": (*_ONLY_P, frozenset({"li"})),
    "tr": _CELL[:2],
    "tbody": _CELL,
    "thead": _CELL,
    "tfoot": _CELL,
    "table": (*_CELL, frozenset({"tbody", "thead", "tfoot"})),
}
"""What an end tag closes on its way, innermost first, each level at most once."""
_SIBLINGS = {
    "p": ((), frozenset({"p"})),
    "li": (_ONLY_P, frozenset({"li"})),
    "dd": (_ONLY_P, frozenset({"dd", "dt"})),
    "dt": (_ONLY_P, frozenset({"dd", "dt"})),
    "td": (_ONLY_P, frozenset({"td", "th"})),
    "th": (_ONLY_P, frozenset({"td", "th"})),
    "tr": (_CELL[:2], frozenset({"tr"})),
}
"""Start tags that close an open sibling (a p, list item, cell or row) and what is open inside it."""


@dataclass(frozen=True, slots=True)
class BoundedHtml:
    html: str
    dropped_tags: int = 0
    dropped_attributes: int = 0
    cut_at: int | None = None

    def warnings(self, max_depth: int = MAX_DEPTH, max_attributes: int = MAX_ATTRIBUTES) -> list[str]:
        notes = []
        if self.cut_at is not None:
            notes.append(f"HTML read up to {self.cut_at} characters")
        if self.dropped_tags:
            notes.append(f"HTML nested deeper than {max_depth} elements: {self.dropped_tags} tags left out")
        if self.dropped_attributes:
            notes.append(f"HTML tags with more than {max_attributes} attributes: {self.dropped_attributes} left out")
        return notes


def bound_html(
    html: str, max_depth: int = MAX_DEPTH, max_attributes: int = MAX_ATTRIBUTES, max_chars: int = MAX_CHARS
) -> BoundedHtml:
    """`html` with at most `max_depth` elements open at once and `max_attributes` attributes a tag, read up to
    `max_chars` characters. Time and memory are linear in the length."""
    cut_at = max_chars if len(html) > max_chars else None
    scan = _Scan(html[:max_chars], max_depth, max_attributes)
    scan.run()
    return BoundedHtml("".join(scan.out), scan.dropped_tags, scan.dropped_attributes, cut_at)


class _Scan:
    def __init__(self, html: str, max_depth: int, max_attributes: int) -> None:
        self.html = html
        self.max_depth = max_depth
        self.max_attributes = max_attributes
        self.out: list[str] = []
        self.open: list[str] = []
        self.foreign: list[int] = []  # where each open svg or math element is in `open`
        self.left_foreign = 0  # how many of them (the outermost) HTML content has been opened in
        self.dropped_tags = 0
        self.dropped_attributes = 0

    def run(self) -> None:
        html, pos = self.html, 0
        while (lt := html.find("<", pos)) >= 0:
            self.out.append(html[pos:lt])
            pos = self._markup(lt)
        self.out.append(html[pos:])

    def _markup(self, lt: int) -> int:
        """Consumes what starts at `<` and returns where the text goes on; `len(html)` when the rest is swallowed."""
        html = self.html
        following = html[lt + 1 : lt + 2]
        if following == "!":
            if html.startswith("<!--", lt):
                if html.startswith(">", lt + 4) or html.startswith("->", lt + 4):
                    return html.index(">", lt + 4) + 1
                end = _COMMENT_END.search(html, lt + 4)
                return end.end() if end else len(html)
            return _after_bracket(html, lt)
        if following == "?" or (following == "/" and not _is_letter(html[lt + 2 : lt + 3])):
            return _after_bracket(html, lt)
        if following != "/" and not _is_letter(following):
            self.out.append("<")
            return lt + 1
        tag = _TAG.match(html, lt)
        if tag is None:
            return len(html)  # an unterminated tag: the tokenizer drops it and everything after it
        closing, name = tag[1] == "/", tag[2].lower()
        if closing:
            if name in _LEAVE_FOREIGN_END:
                self.left_foreign = len(self.foreign)
            self._end(name)
            if name not in _UNWRAPPED:
                self.out.append(tag[0])
            return tag.end()
        if name in _RAW_TEXT:
            end = _RAW_TEXT_END[name].search(html, tag.end())
            after = _TAG.match(html, end.start()) if end else None
            return after.end() if after else len(html)
        if name not in _UNWRAPPED:
            self._start(name, tag[0], tag[3])
        return tag.end()

    def _start(self, name: str, text: str, attributes: str) -> None:
        if not self.foreign and (name in _NOT_NESTED or name in _VOID):
            self._emit(name, text, attributes)
            return
        if name in _SIBLINGS and not self.foreign:
            self._close_implied(*_SIBLINGS[name])
        if len(self.open) >= self.max_depth:
            self.dropped_tags += 1
            return
        self.open.append(name)
        if name in _FOREIGN_ROOTS:
            self.foreign.append(len(self.open) - 1)
            self.out.append(f"<{name}>")  # never self-closing, so the tree builder opens it as it is counted
            return
        if name in _HTML_IN_FOREIGN:
            self.left_foreign = len(self.foreign)
        self._emit(name, text, attributes)

    def _end(self, name: str) -> None:
        """An end tag closes the innermost element when it names it. Where the tree builder closes the elements
        open inside (`<td><p>text</td>`, `<ul><li>a<li>b</ul>`), it also closes up to one p, and a list item or
        the cell, row and section of a table: elements that cannot nest in one another without an element in
        between that is counted.
        `</svg>` and `</math>` also close the foreign elements inside, as the tree builder does, unless HTML
        content was opened in them: the tree builder may then have closed the svg or math element already, and
        what is open now is HTML."""
        if self.open and self.open[-1] == name:
            self._pop()
        elif name in _CLOSES_INSIDE and not self.foreign:
            self._close_implied(_IMPLIED.get(name, _ONLY_P), frozenset({name}))
        elif name in _FOREIGN_ROOTS and len(self.foreign) > self.left_foreign:
            root = self.foreign[-1]
            if self.open[root] == name:
                del self.open[root:]
                self.foreign.pop()

    def _close_implied(self, levels: tuple[frozenset[str], ...], targets: frozenset[str]) -> None:
        """Closes the innermost of `targets` if only elements of `levels` are open inside it, innermost first."""
        at = len(self.open) - 1
        for level in levels:
            if at >= 0 and self.open[at] in level:
                at -= 1
        if at >= 0 and self.open[at] in targets:
            del self.open[at:]

    def _pop(self) -> None:
        self.open.pop()
        if self.foreign and self.foreign[-1] == len(self.open):
            self.foreign.pop()
            self.left_foreign = min(self.left_foreign, len(self.foreign))

    def _emit(self, name: str, text: str, attributes: str) -> None:
        if len(attributes) < 2 * self.max_attributes:  # each attribute takes a character and a separator
            self.out.append(text)
            return
        found = _ATTRIBUTE.findall(attributes)
        if len(found) <= self.max_attributes:
            self.out.append(text)
            return
        self.dropped_attributes += len(found) - self.max_attributes
        self.out.append(f"<{name} {' '.join(found[: self.max_attributes])}>")


def _is_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _after_bracket(html: str, lt: int) -> int:
    """A doctype, bogus comment or (outside SVG and MathML) CDATA section ends at the first `>`."""
    end = html.find(">", lt + 1)
    return end + 1 if end >= 0 else len(html)
