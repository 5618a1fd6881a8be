"""The client side of deploy/smoke.sh: what a user of a freshly started stack does, over its published ports.

Standard library only: it runs with the machine's python3, outside the project's virtualenv, as any REST client.
Each step is a subcommand so that smoke.sh can restart containers between them; state passes through a JSON file.
"""

import argparse
import imaplib
import json
import mailbox
import ssl
import sys
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

TENANT, EMAIL, PASSWORD = "smoke", "ops@smoke.test", "smoke-password-1"
MAILBOX_USER = "dave@example.test"  # on the bundled Dovecot; password "<name>-password-1" (deploy/local/mailservers.sh)
SENDER_USER = "erin@example.test"
FOLDER = "Smoke"  # a folder of its own, so that a run finds exactly the messages it put there
WAIT_SECONDS = 300


class Api:
    def __init__(self, base: str, token: str | None = None) -> None:
        if not base.startswith(("http://", "https://")):
            raise SystemExit(f"smoke: --api must be an http(s) URL, not {base!r}")
        self.base, self.token = base.rstrip("/"), token

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 (http(s), checked)
        request.add_header("content-type", "application/json")
        if self.token:
            request.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                status, raw, kind = answer.status, answer.read(), answer.headers.get_content_type()
        except urllib.error.HTTPError as error:
            status, raw, kind = error.code, error.read(), error.headers.get_content_type()
        if status not in expect:
            raise SystemExit(f"smoke: {method} {path} answered {status}: {raw[:500]!r}")
        return json.loads(raw) if raw and kind.endswith("json") else raw


def _state(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def _login(args: argparse.Namespace) -> Api:
    api = Api(args.api)
    answer = api.call("POST", "/api/auth/login", {"tenant": TENANT, "email": EMAIL, "password": PASSWORD})
    return Api(args.api, answer["access_token"])


def _until(what: str, check: Any, seconds: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.5)
    raise SystemExit(f"smoke: gave up waiting for {what} after {seconds:.0f} s")


def _plain_tls() -> ssl.SSLContext:
    """The bundled mail servers' certificate is self-signed; this client only seeds and reads mail through them."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def seed(args: argparse.Namespace) -> None:
    """Makes dave's folder FOLDER on the bundled Dovecot over IMAP, and writes `count` messages for it as Maildir
    files under --maildir, which smoke.sh copies into the container: appending thousands one at a time through the
    container's port proxy takes minutes, a copy of files seconds, and Dovecot takes files in `new/` as delivered."""
    host, port = args.imap.rsplit(":", 1)
    with imaplib.IMAP4(host, int(port)) as imap:
        imap.starttls(_plain_tls())
        imap.login(MAILBOX_USER, "dave-password-1")
        imap.create(FOLDER)
    folder = mailbox.Maildir(args.maildir, create=True).add_folder(FOLDER)
    filler = "All work and no play makes a smoke test. " * 100
    for n in range(args.count):
        message = EmailMessage()
        message["From"], message["To"] = "Carol <carol@example.test>", MAILBOX_USER
        message["Subject"] = f"Smoke message {n}"
        message["Message-ID"] = f"<smoke-{n}@example.test>"
        message["Date"] = formatdate(time.time() - args.count + n)
        message.set_content(f"Body of smoke message {n}.\n{filler}\n")
        folder.add(message)
    print(f"smoke: {args.count} messages written for {MAILBOX_USER}'s {FOLDER}")


def account(args: argparse.Namespace) -> None:
    """Adds dave's mailbox on the `mailservers` container, checked by signing in (?verify=true)."""
    api = _login(args)
    login = {"host": "mailservers", "security": "starttls", "username": MAILBOX_USER, "password": "dave-password-1"}
    created = api.call(
        "POST",
        "/api/accounts?verify=true",
        {
            "name": "Smoke",
            "email": MAILBOX_USER,
            "imap": login | {"port": 10143},
            "smtp": login | {"port": 10587},
        },
        expect=(201,),
    )
    state = _state(args.state) | {"account_id": created["id"]}
    args.state.write_text(json.dumps(state))
    print(f"smoke: account {created['id']} created, verified against Dovecot and Postfix")


def _folder(api: Api, account_id: str) -> dict[str, Any] | None:
    boxes = api.call("GET", f"/api/accounts/{account_id}/mailboxes")["items"]
    return next((box for box in boxes if box["name"] == FOLDER), None)


def sync_started(args: argparse.Namespace) -> None:
    """Requests a sync and returns once it has fetched some messages but not all: the moment to stop a worker."""
    api, account_id = _login(args), _state(args.state)["account_id"]
    job = api.call("POST", f"/api/sync/imap/{account_id}", expect=(202,))

    def under_way() -> dict[str, Any] | None:
        status = api.call("GET", f"/api/sync/status/{account_id}")
        progress = status["progress"]
        return progress if status["state"] == "running" and 0 < progress["messages_fetched"] < args.count else None

    progress = _until("the sync to be under way", under_way)
    print(f"smoke: sync job {job['job_id']} under way: {progress['messages_fetched']} messages fetched")


def sync_finished(args: argparse.Namespace) -> None:
    """Waits for the sync to end, checks FOLDER holds each message once, then reads one back through the API."""
    api, account_id = _login(args), _state(args.state)["account_id"]
    started = time.monotonic()
    status = _until(
        "the sync to end",
        lambda: (s := api.call("GET", f"/api/sync/status/{account_id}"))["state"] in ("idle", "failed") and s,
    )
    if status["state"] != "idle":
        raise SystemExit(f"smoke: the sync failed: {status['last_error']}")
    box = _folder(api, account_id)
    if box is None or box["total"] != args.count:
        raise SystemExit(f"smoke: {FOLDER} holds {box and box['total']} messages, not {args.count}")
    page = api.call("GET", f"/api/accounts/{account_id}/messages?mailbox={box['id']}&limit=1")
    newest = api.call("GET", f"/api/messages/{page['items'][0]['id']}")
    n = newest["subject"].removeprefix("Smoke message ")
    if f"Body of smoke message {n}." not in newest["text"]:
        raise SystemExit(f"smoke: message {newest['id']} reads {newest['text'][:80]!r}")
    raw = api.call("GET", f"/api/messages/{newest['id']}/raw")
    if f"<smoke-{n}@example.test>".encode() not in raw:
        raise SystemExit("smoke: the raw message is not the one appended")
    args.state.write_text(json.dumps(_state(args.state) | {"message_id": newest["id"]}))
    print(
        f"smoke: the sync ended {time.monotonic() - started:.0f} s after the worker's restart with all {args.count}"
        f" messages stored once; message {n} read back, text and raw bytes"
    )


def send(args: argparse.Namespace) -> None:
    """Sends from dave through the Postfix container to erin, and finds it in erin's inbox on Dovecot."""
    api, account_id = _login(args), _state(args.state)["account_id"]
    subject = f"Smoke send {time.time_ns()}"
    draft = api.call(
        "POST",
        "/api/compose",
        {"account_id": account_id, "to": [SENDER_USER], "subject": subject, "text": "Sent by the smoke test."},
        expect=(201,),
    )
    api.call("POST", f"/api/compose/{draft['id']}/send", {}, expect=(202,))
    sent = _until(
        "the draft to be sent",
        lambda: (d := api.call("GET", f"/api/compose/{draft['id']}"))["status"] in ("sent", "failed") and d,
        120,
    )
    if sent["status"] != "sent":
        raise SystemExit(f"smoke: the send failed: {sent.get('last_smtp_reply')}")
    host, port = args.imap.rsplit(":", 1)

    def delivered() -> bool:
        with imaplib.IMAP4(host, int(port)) as imap:
            imap.starttls(_plain_tls())
            imap.login(SENDER_USER, "erin-password-1")
            imap.select("INBOX", readonly=True)
            _, found = imap.search(None, "SUBJECT", f'"{subject}"')
            return bool(found[0].split())

    _until(f"{subject!r} in {SENDER_USER}'s inbox", delivered, 60)
    print(f"smoke: sent through Postfix ({sent['last_smtp_reply']!r}) and delivered to {SENDER_USER}")


def metrics(args: argparse.Namespace) -> None:
    """The API's /metrics answers in Prometheus's text format and has counted this client's requests."""
    text = Api(args.api).call("GET", "/metrics").decode()
    if "mailroom_http_requests_total{" not in text:
        raise SystemExit("smoke: the API's /metrics lacks mailroom_http_requests_total")
    print("smoke: the API's /metrics counts the requests")


def counts(args: argparse.Namespace) -> None:
    """Prints what a backup must bring back: the folder's count and one message's body, as JSON."""
    api, state = _login(args), _state(args.state)
    box = _folder(api, state["account_id"])
    assert box is not None
    message = api.call("GET", f"/api/messages/{state['message_id']}")
    print(json.dumps({"total": box["total"], "subject": message["subject"], "text": message["text"]}))


def main() -> None:
    steps = {
        "seed": seed,
        "account": account,
        "sync-started": sync_started,
        "sync-finished": sync_finished,
        "send": send,
        "metrics": metrics,
        "counts": counts,
    }
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("step", choices=list(steps))
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--imap", default="127.0.0.1:10143")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--state", type=Path, default=Path("smoke-state.json"))
    parser.add_argument("--maildir", type=Path, default=Path("smoke-maildir"))
    args = parser.parse_args()
    steps[args.step](args)


if __name__ == "__main__":
    sys.exit(main())
