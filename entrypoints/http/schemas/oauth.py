"""Bodies of the OAuth2 sign-in routes."""

from typing import Annotated
from uuid import UUID

import msgspec

from entrypoints.http.schemas.accounts import Email, Name


class ConsentStart(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    email: (
        Annotated[
            Email, msgspec.Meta(description="the mailbox expected: a hint to the provider, and checked at the callback")
        ]
        | None
    ) = None
    redirect_after: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=2000,
                description="where the browser goes after the callback, with `account_id` (or `error`) added to "
                "its query; its origin must be one of MAILROOM_OAUTH_REDIRECT_ORIGINS",
            ),
        ]
        | None
    ) = None


class ConsentStartOut(msgspec.Struct):
    authorization_url: Annotated[str, msgspec.Meta(description="send the user's browser here to sign in and consent")]
    state: Annotated[str, msgspec.Meta(description="sealed; comes back to the callback and says who started it")]


class ConsentOut(msgspec.Struct):
    """The callback's answer when no `redirect_after` was given."""

    account_id: UUID
    email: str
