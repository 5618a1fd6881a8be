"""IMAP AUTHENTICATE (RFC 3501 section 6.2.2) with an OAuth2 access token: OAUTHBEARER (RFC 7628) where the server
advertises it, else XOAUTH2 (Google's and Microsoft's mechanism, which both accept).

aioimaplib has an `xoauth2` of its own, but it neither answers the server's error challenge (a `+` line with the
error in JSON, which the client must answer before the server sends its tagged NO: RFC 7628 section 3.2.3, and
XOAUTH2 alike), so a refused token waits out the timeout, nor keeps the token out of its debug log (it scrubs the
token but logs the base64 that carries it).
"""

import asyncio
from base64 import b64encode

import aioimaplib

from adapters.imap.protocol import ImapProtocol

XOAUTH2 = "XOAUTH2"
OAUTHBEARER = "OAUTHBEARER"


def mechanism_for(capabilities: set[str]) -> str:
    advertised = {c.upper() for c in capabilities}
    return OAUTHBEARER if f"AUTH={OAUTHBEARER}" in advertised else XOAUTH2


def initial_response(mechanism: str, username: str, token: str) -> bytes:
    if mechanism == OAUTHBEARER:
        # RFC 7628 section 3.1: a GS2 header (RFC 5801 section 4, with ',' and '=' of the name escaped) naming
        # the user, then key-value pairs separated by ^A.
        name = username.replace("=", "=3D").replace(",", "=2C")
        return f"n,a={name},\x01auth=Bearer {token}\x01\x01".encode()
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


async def authenticate(
    client: aioimaplib.IMAP4, username: str, token: str, seconds: float, mechanism: str | None = None
) -> aioimaplib.Response:
    """Sends the initial response with the command where the server takes it (SASL-IR, RFC 4959), else after its
    first challenge; answers an error challenge so the server finishes with its NO (RFC 7628 section 3.2.3: ^A for
    OAUTHBEARER, an empty response for XOAUTH2). Each command waits at most `seconds`."""
    protocol: ImapProtocol = client.protocol
    mechanism = mechanism or mechanism_for(protocol.capabilities)
    response = b64encode(initial_response(mechanism, username, token)).decode()
    after_error = b64encode(b"\x01").decode() if mechanism == OAUTHBEARER else ""
    inline = "SASL-IR" in {c.upper() for c in protocol.capabilities}
    arguments = (mechanism, response) if inline else (mechanism,)
    protocol.sasl_answers = [after_error] if inline else [response, after_error]
    command = aioimaplib.Command("AUTHENTICATE", protocol.new_tag(), *arguments, loop=protocol.loop)
    try:
        answer: aioimaplib.Response = await asyncio.wait_for(protocol.execute(command, scrub=response), seconds)
    finally:
        protocol.sasl_answers = []
    if answer.result == "OK":
        async with protocol.state_condition:
            protocol.state = aioimaplib.AUTH
            protocol.state_condition.notify_all()
        await asyncio.wait_for(protocol.capability(), seconds)  # they may change once authenticated
    return answer
