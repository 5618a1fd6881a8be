from typing import Protocol

from domain.html import HtmlPolicy, SafeHtml


class HtmlSanitizer(Protocol):
    async def sanitize(self, html: str, policy: HtmlPolicy) -> SafeHtml:
        """`html` made safe to show (domain.html says what that means), off the event loop; time linear in the
        length of `html`, whatever its shape."""
        ...
