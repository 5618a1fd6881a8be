"""Tenants (organisations) and their users."""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import InvalidInput
from domain.validation import require_email

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def require_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise InvalidInput("tenant", "must be 1-63 lower-case letters, digits or hyphens")
    return value


def normalise_email(value: str) -> str:
    """User logins compare case-insensitively; store them lower-cased."""
    return require_email("email", value.strip()).lower()


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(slots=True)
class Tenant:
    id: UUID
    slug: str
    name: str


@dataclass(slots=True)
class User:
    id: UUID
    tenant_id: UUID
    email: str
    password_hash: str
    role: Role
    created_at: datetime | None = None
    disabled: bool = False
    """A disabled user cannot sign in, and their sessions and API keys stop working."""
