"""The sanitiser on the tricks a sender can try that the API tests do not show: URLs a browser reads otherwise than
they look, images and styles that would still load something, markers the sender wrote himself."""

import pytest

from adapters.mime.sanitizer import sanitize
from domain.html import HtmlPolicy

BLOCKED = HtmlPolicy(remote_images=False)


@pytest.mark.parametrize(
    "image",
    [
        '<img src="https://t.example/a.gif">',
        '<img src=" https://t.example/a.gif ">',
        '<img src="ht\ntps://t.example/a.gif">',
        '<img src="HTTPS://t.example/a.gif">',
        '<img src="//t.example/a.gif">',
    ],
)
def test_a_blocked_remote_image_loads_nothing_however_its_url_is_written(image: str) -> None:
    html = sanitize(f"<p>{image}</p>", BLOCKED).html
    assert " src=" not in html
    assert "data-remote-src=" in html


@pytest.mark.parametrize(
    "trick",
    [
        '<img srcset="https://t.example/a.gif 1x">',
        '<table background="https://t.example/a.gif"><tr><td>x</td></tr></table>',
        '<div style="background-image: url(https://t.example/a.gif)">x</div>',
        '<div style="color: red; background: u\\72l(https://t.example/a.gif)">x</div>',
        '<div style="list-style: url(https://t.example/a.gif)">x</div>',
        '<link rel="stylesheet" href="https://t.example/a.css">',
        "<style>@import 'https://t.example/a.css';</style>",
        '<video poster="https://t.example/a.gif"></video>',
        '<input type="image" src="https://t.example/a.gif">',
    ],
)
def test_nothing_else_loads_from_the_network(trick: str) -> None:
    assert "t.example" not in sanitize(trick, BLOCKED).html


def test_the_sender_cannot_write_the_markers_himself() -> None:
    html = sanitize(
        '<img src="cid:x" data-remote-src="javascript:alert(1)"><p data-remote-src="https://t.example/">p</p>',
        HtmlPolicy(inline_images={"x": "/api/messages/m/attachments/a"}),
    ).html
    assert html == '<img src="/api/messages/m/attachments/a"><p>p</p>'


def test_only_raster_data_images_and_no_other_data_urls() -> None:
    html = sanitize(
        '<img src="data:image/png;base64,iVBORw0KGgo="><img src="data:image/svg+xml,&lt;svg onload=alert(1)&gt;">'
        '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">x</a>',
        HtmlPolicy(),
    ).html
    assert html == '<img src="data:image/png;base64,iVBORw0KGgo="><img><a rel="noopener noreferrer">x</a>'


def test_links_elsewhere_than_the_web_or_mail_are_removed() -> None:
    html = sanitize(
        '<a href="mailto:bob@example.com">m</a><a href="java\tscript:alert(1)">j</a><a href="/api/accounts">r</a>'
        '<a href="vbscript:msgbox(1)">v</a><a href="https://example.com/">w</a>',
        HtmlPolicy(),
    ).html
    assert html == (
        '<a href="mailto:bob@example.com" rel="noopener noreferrer">m</a><a rel="noopener noreferrer">j</a>'
        '<a rel="noopener noreferrer">r</a><a rel="noopener noreferrer">v</a>'
        '<a href="https://example.com/" rel="noopener noreferrer">w</a>'
    )


def test_layout_of_ordinary_mail_is_kept() -> None:
    html = (
        '<table width="600" cellpadding="4" border="0" bgcolor="#ffffff"><tbody><tr>'
        '<td align="center" valign="top" style="font-family:Arial;font-size:14px;color:#333333;padding:8px">'
        '<font color="red" face="Arial">Hi</font></td></tr></tbody></table>'
    )
    assert sanitize(html, HtmlPolicy()).html == html
