from typing import Protocol

from domain.oauth import IssuedTokens, OAuthProvider


class OAuthProviders(Protocol):
    """The OAuth2 providers the deployment is registered with, and their authorization servers (RFC 6749)."""

    def get(self, name: str) -> OAuthProvider | None:
        """The provider of that name, None when the deployment has none."""
        ...

    def authorization_url(self, provider: str, state: str, code_challenge: str, login_hint: str | None) -> str:
        """Where to send the user's browser to sign in and consent (RFC 6749 section 4.1.1), with the PKCE
        challenge (RFC 7636 section 4.3, S256) and the provider's own additions (offline access)."""
        ...

    async def exchange(self, provider: str, code: str, code_verifier: str) -> IssuedTokens:
        """Trades an authorization code for tokens (RFC 6749 section 4.1.3), with the signed-in mailbox's address.
        Raises GrantRefused when the provider refuses the code, MailServerRejected when it cannot be reached."""
        ...

    async def refresh(self, provider: str, refresh_token: str) -> IssuedTokens:
        """A new access token for a refresh token (RFC 6749 section 6); `refresh_token` of the answer is the next
        one where the provider rotates them. Raises GrantRefused for `invalid_grant` (the grant is gone for good),
        MailServerRejected for a failure that may pass (unreachable, 5xx, a garbled answer)."""
        ...
