from typing import Annotated

import msgspec


class LoginRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]
    tenant: Annotated[str, msgspec.Meta(max_length=63)]


class TokenResponse(msgspec.Struct):
    access_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret


class MeResponse(msgspec.Struct):
    user_id: str
    tenant_id: str
    role: str
