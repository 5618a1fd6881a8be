"""Connecting a mailbox by signing in with its provider (the OAuth2 authorization-code flow, RFC 6749 section 4.1,
with PKCE, RFC 7636), run by Mailroom: the user's app asks for the provider's sign-in page, the user consents there,
and the provider sends the browser back to Mailroom's callback, which creates or updates the account."""

import hashlib
import json
import logging
import secrets
from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from application.accounts.commands import MailAccountChanges, NewMailAccount, ServerLogin, ServerLoginChanges
from application.accounts.create import CreateMailAccount
from application.accounts.update import UpdateMailAccount
from domain.accounts import EncryptedSecret, MailAccount
from domain.auth import Principal
from domain.errors import Conflict, DependencyUnavailable, DomainError, InvalidInput, NotFound, PermissionDenied
from domain.oauth import ConsentRequest, GrantRefused, OAuthTokens, ServerDefaults
from domain.ports.oauth import OAuthProviders
from domain.ports.persistence import TenantScope, UnitOfWork
from domain.ports.runtime import Clock
from domain.ports.security import CredentialCipher
from domain.validation import require_email, require_text

log = logging.getLogger("mailroom.oauth")

STATE_LIFETIME = timedelta(minutes=15)
MAX_STATE = 4000
"""The callback takes a state up to 4096 characters; providers and browsers carry that much in an address."""
_STATE_BINDING = "oauth_consent_state"


@dataclass(frozen=True, slots=True)
class ConsentSettings:
    redirect_origins: frozenset[str] = frozenset()
    """Origins (`https://app.example.com`) the browser may be sent back to after the callback: anything else
    would make Mailroom an open redirector, with the account id in the address."""


@dataclass(frozen=True, slots=True)
class ConsentStarted:
    authorization_url: str
    state: str


class StartConsent:
    """The provider's sign-in address for the caller, and the `state` that will bring them back: sealed by the
    credential cipher (AES-GCM), so it cannot be forged or read (it carries the PKCE verifier), bound to the
    caller, and good for STATE_LIFETIME."""

    def __init__(
        self, providers: OAuthProviders, cipher: CredentialCipher, clock: Clock, settings: ConsentSettings
    ) -> None:
        self._providers = providers
        self._cipher = cipher
        self._clock = clock
        self._settings = settings

    async def __call__(
        self, principal: Principal, provider: str, name: str, email: str | None, redirect_after: str | None
    ) -> ConsentStarted:
        if self._providers.get(provider) is None:
            raise NotFound(f"no OAuth2 provider {provider!r} is configured")
        require_text("name", name, max_length=200)
        if email is not None:
            require_email("email", email)
        if redirect_after is not None:
            require_redirect(redirect_after, self._settings.redirect_origins)
        verifier = secrets.token_urlsafe(48)
        request = ConsentRequest(
            provider=provider,
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            name=name,
            email=email,
            redirect_after=redirect_after,
            code_verifier=verifier,
            expires_at=self._clock.now() + STATE_LIFETIME,
        )
        state = seal(self._cipher, request)
        if len(state) > MAX_STATE:
            raise InvalidInput("redirect_after", "with the name, too long to travel through the provider")
        url = self._providers.authorization_url(provider, state, pkce_challenge(verifier), email)
        return ConsentStarted(url, state)


@dataclass(frozen=True, slots=True)
class ConsentFinished:
    account: MailAccount | None
    redirect_after: str | None
    error: str | None = None
    """Why no account came of it (`access_denied` when the user declined), for the app the browser goes back to."""


class FinishConsent:
    """The provider's callback: the state says who started it; the code is traded for tokens; the account for the
    mailbox the provider names is created (owned by that user) or, if it is already theirs, switched to the new
    grant, with the provider's IMAP and SMTP servers. A state that fails to open is refused outright (no
    redirect: its address cannot be trusted); after that, failures go back to the app as `error`."""

    def __init__(
        self,
        uow: UnitOfWork,
        scope: TenantScope,
        providers: OAuthProviders,
        cipher: CredentialCipher,
        clock: Clock,
        create: CreateMailAccount,
        update: UpdateMailAccount,
    ) -> None:
        self._uow = uow
        self._scope = scope
        self._providers = providers
        self._cipher = cipher
        self._clock = clock
        self._create = create
        self._update = update

    async def __call__(self, provider: str, state: str, code: str | None, error: str | None) -> ConsentFinished:
        request = unseal(self._cipher, state, self._clock.now())
        if request.provider != provider:
            raise InvalidInput("state", "was issued for another provider")
        if error is not None or not code:
            return ConsentFinished(None, request.redirect_after, _error_code(error or "invalid_request"))
        with self._scope(request.tenant_id):
            try:
                principal = await self._principal(request)
                account = await self._connect(principal, request, code)
            except DomainError as failure:
                log.warning("sign-in with %s for user %s failed: %s", provider, request.user_id, failure.message)
                return ConsentFinished(None, request.redirect_after, _failure_code(failure))
        return ConsentFinished(account, request.redirect_after)

    async def _principal(self, request: ConsentRequest) -> Principal:
        """The user who started it, as they are now: one disabled or deleted since gets nothing."""
        async with self._uow as uow:
            user = await uow.users.get(request.user_id)
        if user is None or user.disabled or user.tenant_id != request.tenant_id:
            raise NotFound("the user who started this sign-in no longer exists")
        return Principal(user.id, user.tenant_id, user.role)

    async def _connect(self, principal: Principal, request: ConsentRequest, code: str) -> MailAccount:
        provider = self._providers.get(request.provider)
        if provider is None or provider.imap is None or provider.smtp is None:
            raise DependencyUnavailable(f"the OAuth2 provider {request.provider!r} has no IMAP and SMTP servers set")
        issued = await self._providers.exchange(request.provider, code, request.code_verifier)
        email = issued.email or request.email
        if email is None:
            raise DependencyUnavailable("the provider did not say which mailbox signed in")
        if request.email is not None and email.lower() != request.email.lower():
            raise InvalidInput("email", f"signed in as {email}, not {request.email}")
        tokens = OAuthTokens(request.provider, issued.access_token, issued.refresh_token, issued.expires_at)
        async with self._uow as uow:
            existing = await uow.accounts.with_email(principal.tenant_id, email)
        if existing is not None and existing.owner_id != principal.user_id:
            # only the owner's own account is switched to the new sign-in: an admin reaches every account, and a
            # member could have made one under the address an admin is about to connect, to receive its tokens
            raise Conflict(f"an account for {email} already exists and is not yours")
        if existing is None:
            new = NewMailAccount(
                name=request.name,
                email=email,
                imap=_login(provider.imap, email, tokens),
                smtp=_login(provider.smtp, email, tokens),
            )
            return await self._create(principal, new)
        changes = MailAccountChanges(
            imap=_change(provider.imap, email, tokens), smtp=_change(provider.smtp, email, tokens)
        )
        return await self._update(principal, existing.id, changes)


def _login(server: ServerDefaults, email: str, tokens: OAuthTokens) -> ServerLogin:
    return ServerLogin(server.host, server.port, server.security, email, auth=tokens)


def _change(server: ServerDefaults, email: str, tokens: OAuthTokens) -> ServerLoginChanges:
    return ServerLoginChanges(server.host, server.port, server.security, email, auth=tokens)


def _failure_code(failure: DomainError) -> str:
    if isinstance(failure, GrantRefused):
        return "invalid_grant"
    if isinstance(failure, InvalidInput) and failure.field == "email":
        return "wrong_mailbox"
    if isinstance(failure, Conflict):
        return "conflict"
    if isinstance(failure, NotFound | InvalidInput | PermissionDenied):
        return "not_allowed"
    return "server_error"  # the provider or a backing service failed (MailServerRejected, DependencyUnavailable)


def _error_code(error: str) -> str:
    """The provider's error code (RFC 6749 section 4.1.2.1) passed on, if it looks like one."""
    return error if error.replace("_", "").isalnum() and len(error) <= 64 else "invalid_request"


def require_redirect(url: str, origins: frozenset[str]) -> None:
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if parts.scheme not in ("http", "https") or not parts.netloc or origin not in origins:
        raise InvalidInput("redirect_after", "must be an address of an origin this deployment allows")


def pkce_challenge(verifier: str) -> str:
    """S256 (RFC 7636 section 4.2): BASE64URL(SHA256(verifier)), without padding."""
    return urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def seal(cipher: CredentialCipher, request: ConsentRequest) -> str:
    payload = json.dumps(
        {
            "p": request.provider,
            "t": request.tenant_id.hex,
            "u": request.user_id.hex,
            "n": request.name,
            "e": request.email,
            "r": request.redirect_after,
            "v": request.code_verifier,
            "x": request.expires_at.isoformat(),
        },
        separators=(",", ":"),
    )
    sealed = cipher.encrypt(payload, _STATE_BINDING)
    return f"{sealed.key_id}.{urlsafe_b64encode(sealed.ciphertext).rstrip(b'=').decode()}"


def unseal(cipher: CredentialCipher, state: str, now: datetime) -> ConsentRequest:
    key_id, _, body = state.partition(".")
    try:
        ciphertext = urlsafe_b64decode(body + "=" * (-len(body) % 4))
        fields = json.loads(cipher.decrypt(EncryptedSecret(key_id, ciphertext, _STATE_BINDING)))
        request = ConsentRequest(
            provider=fields["p"],
            tenant_id=UUID(hex=fields["t"]),
            user_id=UUID(hex=fields["u"]),
            name=fields["n"],
            email=fields["e"],
            redirect_after=fields["r"],
            code_verifier=fields["v"],
            expires_at=datetime.fromisoformat(fields["x"]),
        )
    except (DependencyUnavailable, ValueError, KeyError, TypeError):
        raise InvalidInput("state", "is not one this deployment issued") from None
    if request.expires_at <= now:
        raise InvalidInput("state", "has expired: start the sign-in again")
    return request
