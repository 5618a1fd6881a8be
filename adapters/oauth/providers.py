"""OAuth2 providers over HTTP (aiohttp): the authorization-code flow with PKCE (RFC 6749 section 4.1, RFC 7636) and
refresh (RFC 6749 section 6), for the providers the operator configured (entrypoints.settings).

The endpoints are the operator's, not a user's, so no SSRF guard applies; redirects are still not followed and
environment proxies not used, and no token or code is ever logged.
"""

import json
from base64 import urlsafe_b64decode
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp

from domain.accounts import Security
from domain.errors import InvalidInput, MailServerRejected
from domain.oauth import GrantRefused, IssuedTokens, OAuthProvider, OAuthTokens, ServerDefaults
from domain.ports.oauth import OAuthProviders

MAX_ANSWER = 256 * 1024
"""A token or userinfo answer is a few kilobytes; more than this is not read (a JSON cut short is no answer)."""


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    userinfo_url: str | None = None
    imap: ServerDefaults | None = None
    smtp: ServerDefaults | None = None
    authorize_params: tuple[tuple[str, str], ...] = ()
    """What a provider needs besides RFC 6749's parameters to hand out a refresh token."""


PRESETS: dict[str, ProviderConfig] = {
    "google": ProviderConfig(
        name="google",
        client_id="",
        client_secret="",
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",  # noqa: S106 (an address, not a secret)
        # openid and email: the ID token then names the mailbox, which XOAUTH2 wants as the user
        scopes=("https://mail.google.com/", "openid", "email"),
        imap=ServerDefaults("imap.gmail.com", 993, Security.SSL),
        smtp=ServerDefaults("smtp.gmail.com", 465, Security.SSL),
        # Google gives a refresh token only for offline access, and again only when consent is asked again
        authorize_params=(("access_type", "offline"), ("prompt", "consent")),
    ),
    "microsoft": ProviderConfig(
        name="microsoft",
        client_id="",
        client_secret="",
        authorize_url="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        token_url="https://login.microsoftonline.com/common/oauth2/v2.0/token",  # noqa: S106
        scopes=(
            "https://outlook.office.com/IMAP.AccessAsUser.All",
            "https://outlook.office.com/SMTP.Send",
            "offline_access",
            "openid",
            "email",
        ),
        imap=ServerDefaults("outlook.office365.com", 993, Security.SSL),
        smtp=ServerDefaults("smtp.office365.com", 587, Security.STARTTLS),
    ),
}


class HttpOAuthProviders(OAuthProviders):
    def __init__(self, configs: dict[str, ProviderConfig], redirect_base: str, timeout: float = 15.0) -> None:
        self._configs = configs
        self._redirect_base = redirect_base.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def get(self, name: str) -> OAuthProvider | None:
        config = self._configs.get(name)
        return None if config is None else OAuthProvider(config.name, config.imap, config.smtp)

    def redirect_uri(self, provider: str) -> str:
        return f"{self._redirect_base}/api/oauth/{provider}/callback"

    def authorization_url(self, provider: str, state: str, code_challenge: str, login_hint: str | None) -> str:
        config = self._configs[provider]
        query = {
            "response_type": "code",
            "client_id": config.client_id,
            "redirect_uri": self.redirect_uri(provider),
            "scope": " ".join(config.scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
            **dict(config.authorize_params),
        }
        if login_hint:
            query["login_hint"] = login_hint
        separator = "&" if "?" in config.authorize_url else "?"
        return f"{config.authorize_url}{separator}{urlencode(query)}"

    async def exchange(self, provider: str, code: str, code_verifier: str) -> IssuedTokens:
        config = self._configs[provider]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri(provider),
            "code_verifier": code_verifier,
        }
        answer = await self._token_call(config, form)
        issued = _issued(answer)
        email = _email_of_id_token(answer.get("id_token"))
        if email is None and config.userinfo_url:
            email = await self._userinfo_email(config, issued.access_token)
        return IssuedTokens(issued.access_token, issued.refresh_token, issued.expires_at, email)

    async def refresh(self, provider: str, refresh_token: str) -> IssuedTokens:
        config = self._configs[provider]
        return _issued(await self._token_call(config, {"grant_type": "refresh_token", "refresh_token": refresh_token}))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, trust_env=False)
        return self._session

    async def _token_call(self, config: ProviderConfig, form: dict[str, str]) -> dict[str, Any]:
        """Client authentication in the form (client_secret_post, RFC 6749 section 2.3.1), which Google and
        Microsoft both take. `invalid_grant` is final; anything else (a 5xx, a garbled answer, no answer) may
        pass and is a MailServerRejected, tried again later."""
        body = {**form, "client_id": config.client_id, "client_secret": config.client_secret}
        try:
            async with self._client().post(
                config.token_url, data=body, allow_redirects=False, headers={"Accept": "application/json"}
            ) as response:
                text, status = await _bounded_text(response), response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise MailServerRejected(
                "oauth2", f"{config.name}: token endpoint unreachable ({type(error).__name__})"
            ) from None
        answer = _json_object(text)
        if status == 200 and isinstance(answer.get("access_token"), str):
            return answer
        if status in (400, 401) and answer.get("error") == "invalid_grant":
            raise GrantRefused(f"{config.name}: {_describe(answer)}")
        raise MailServerRejected("oauth2", f"{config.name}: token endpoint answered {status} {_describe(answer)}")

    async def _userinfo_email(self, config: ProviderConfig, access_token: str) -> str | None:
        assert config.userinfo_url is not None
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        try:
            async with self._client().get(config.userinfo_url, headers=headers, allow_redirects=False) as response:
                text, status = await _bounded_text(response), response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise MailServerRejected(
                "oauth2", f"{config.name}: userinfo unreachable ({type(error).__name__})"
            ) from None
        if status != 200:
            raise MailServerRejected("oauth2", f"{config.name}: userinfo answered {status}")
        email = _json_object(text).get("email")
        return email if isinstance(email, str) else None


async def _bounded_text(response: aiohttp.ClientResponse) -> str:
    """The body, read up to MAX_ANSWER (one `read(n)` returns what has arrived so far, not n bytes)."""
    body = bytearray()
    while len(body) < MAX_ANSWER and (chunk := await response.content.read(MAX_ANSWER - len(body))):
        body += chunk
    return body.decode(errors="replace")


MAX_LIFETIME = 366 * 86400


def _issued(answer: dict[str, Any]) -> IssuedTokens:
    """The tokens of an answer, checked as an app's are (domain.oauth.OAuthTokens): they go into SASL lines."""
    expires_in = answer.get("expires_in")
    expires_at = None
    if isinstance(expires_in, int | str) and str(expires_in).isdigit():
        expires_at = datetime.now(UTC) + timedelta(seconds=min(int(expires_in), MAX_LIFETIME))
    refresh = answer.get("refresh_token")
    refresh = refresh if isinstance(refresh, str) and refresh else None
    try:
        OAuthTokens("provider", answer["access_token"], refresh)
    except InvalidInput as error:
        raise MailServerRejected("oauth2", f"the token endpoint answered an unusable token ({error.field})") from None
    return IssuedTokens(answer["access_token"], refresh, expires_at)


def _email_of_id_token(id_token: object) -> str | None:
    """The mailbox named by the ID token's claims. Its signature is not checked: it came straight from the token
    endpoint over TLS, in answer to this client's own authenticated request (OpenID Connect Core section 3.1.3.7,
    item 6)."""
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(claims, dict):
        return None
    if claims.get("email_verified") is False:
        return None  # an address the provider says it has not verified names no mailbox
    for claim in ("email", "preferred_username", "upn"):
        value = claims.get(claim)
        if isinstance(value, str) and "@" in value:
            return value
    return None


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _describe(answer: dict[str, Any]) -> str:
    """The provider's error code and description, never anything else of the answer (it may carry tokens)."""
    parts = [str(answer.get(key))[:200] for key in ("error", "error_description") if answer.get(key)]
    return ": ".join(parts) or "no error given"
