from typing import Annotated

import msgspec


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    tenant: Annotated[str, msgspec.Meta(max_length=63)]


class TokenResponse(msgspec.Struct):
    access_token: str
    expires_in: Annotated[int, msgspec.Meta(description="seconds the access token lives")]
    refresh_token: Annotated[
        str, msgspec.Meta(description="for `POST /api/auth/refresh`; good for one use, the answer carries the next")
    ]
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
