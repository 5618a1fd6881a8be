"""The OpenAPI document as clients read it: every error an operation can answer, as the problem+json Mailroom
really sends (RFC 9457), with the headers that go with it.

Statuses that follow from how a route is built are added to every operation that has them, once the document
is built (`finish_document`): 401, 403 and 429 where a bearer token is required (the token check, the
X-Tenant-ID check and the rate limit run before the handler), 422 where there are query, header or body fields
to validate, 400 (unreadable JSON) and 413 (over `MAILROOM_MAX_REQUEST_BYTES`) where there is a body. Statuses
that follow from what a use case decides (404, 409, ...) are declared on the route with `problems(...)`.
Litestar documents its own 400 answer, `{status_code, detail, extra}`, on every operation with parameters;
Mailroom never sends it, so it is removed. Litestar has no public hook to change the built document, so the
cached dictionary its OpenAPI plugin serves is completed in place; test_openapi_contract notices if that stops
reaching `/schema/openapi.json`.
"""

import copy
from functools import cache
from typing import Any, TypeVar

import msgspec
from litestar import Litestar, Response
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Tag
from litestar.status_codes import HTTP_201_CREATED
from msgspec import UNSET, UnsetType

from entrypoints.http.access import required_scope
from entrypoints.http.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE
from entrypoints.http.schemas.compose import ComposeIn

T = TypeVar("T")


class FieldError(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True):
    """An error answer (RFC 9457). `type` is a stable URN (`urn:mailroom:problem:not-found`); `errors` names the
    fields of a 422; `protocol` says which server refused a mail login (`imap` or `smtp`); `scope` names the scope
    an API key lacks."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | UnsetType = UNSET
    protocol: str | UnsetType = UNSET
    scope: str | UnsetType = UNSET


DESCRIPTIONS = {
    400: "The body is not readable JSON",
    401: "No bearer token, or one that is invalid, expired or revoked",
    403: "The caller's role or access to the account may not do this (an account shared read-only), the API key "
    "lacks the route's scope (`type` ends in `missing-scope`, `scope` names it), or `X-Tenant-ID` names another "
    "tenant than the credential's",
    404: "Not found, or not the caller's to see",
    409: "Conflicts with the current state (changed meanwhile, already sent, being sent)",
    410: "The cursor is older than the change log keeps (`type` ends in `cursor-expired`), or not from this tenant's "
    "log: re-read your state, then follow the feed from a new cursor",
    413: "The request body, or a message it would make, is over the size limit",
    415: "The body is neither application/json nor multipart/form-data",
    422: "A parameter or a field is invalid; `errors` names each",
    429: "Too many requests: wait `Retry-After` seconds",
    503: "A backing service (database, queue) does not answer",
}

_RATE_HEADERS = {
    "Retry-After": "Seconds until a request may succeed again",
    "RateLimit-Limit": "Requests allowed in the tightest window",
    "RateLimit-Remaining": "Requests left in that window",
    "RateLimit-Reset": "Seconds until that window resets",
    "RateLimit-Policy": "Every window, as `limit;w=seconds` (draft-ietf-httpapi-ratelimit-headers)",
}
_COMMON = {
    401: "Unauthorized",
    403: "Forbidden",
    429: "TooManyRequests",
    422: "InvalidRequest",
    400: "BadRequest",
    413: "TooLarge",
}
_METHODS = ("get", "put", "post", "delete", "patch")
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem+json answers a route can give beyond those `finish_document` adds by the route's shape."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=DESCRIPTIONS[status],
            generate_examples=False,
        )
        for status in statuses
    }


def finish_document(app: Litestar) -> dict[str, Any]:
    """Builds the app's document once and completes it in place: the cached dictionary is what
    `/schema/openapi.json` and the docs pages serve."""
    document = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    if "Problem" not in schemas:
        _, found = msgspec.json.schema_components((Problem,), ref_template="#/components/schemas/{name}")
        schemas.update(found)
    components["responses"] = _common_responses()
    scopes = _scopes(app)
    for item in document.get("paths", {}).values():
        for method in _METHODS:
            if (operation := item.get(method)) is not None:
                _complete(operation, schemas)
                if operation.get("security") and (scope := scopes.get(operation.get("operationId", ""))):
                    operation["security"] = [{"bearer": [scope]}]
    return document


def _scopes(app: Litestar) -> dict[str, str]:
    """Each protected operation's API key scope (entrypoints.http.access), listed in its security requirement as
    OpenAPI 3.1 allows for any scheme, so that clients and the documentation show it."""
    found: dict[str, str] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            operation_id = getattr(handler, "operation_id", None)
            if isinstance(operation_id, str):
                found[operation_id] = required_scope(handler).value
    return found


def _complete(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    litestar_400 = responses.get("400", {}).get("content", {}).get("application/json")
    if litestar_400 is not None:
        del responses["400"]
    compose = operation.get("operationId") in _COMPOSE_BODY
    if compose:
        _compose_body(operation, schemas)
    if (download := _DOWNLOADS.get(operation.get("operationId", ""))) is not None:
        responses["200"]["content"] = {download: {"schema": {"type": "string", "format": "binary"}}}
    statuses: list[int] = []
    if operation.get("security"):
        statuses += [401, 403, 429]
    # Path parameters are typed by the route itself: one that does not parse matches no route (404).
    if operation.get("requestBody") or any(p.get("in") != "path" for p in operation.get("parameters", [])):
        statuses.append(422)
    if operation.get("requestBody"):
        statuses += [400, 413]
    for status in statuses:
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{_COMMON[status]}"})
    if compose:
        responses.setdefault("415", _problem_response(415))
    operation["responses"] = dict(sorted(responses.items()))
    if operation.get("operationId") in _OPTIONAL_BODY:
        # `data: SendIn | None = None`: the body may be left out, which Litestar documents as a required body
        # that may be null; generated clients then send `null` or fail to serialise a body left out.
        operation["requestBody"]["required"] = False
        json_body = operation["requestBody"]["content"]["application/json"]
        json_body["schema"] = next(
            (option for option in json_body["schema"].get("oneOf", []) if option.get("type") != "null"),
            json_body["schema"],
        )
    if (examples := REQUEST_EXAMPLES.get(operation.get("operationId", ""))) and "requestBody" in operation:
        content = operation["requestBody"]["content"].get("application/json")
        if content is not None:
            content["examples"] = examples


def _problem_response(status: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "integer" if name != "RateLimit-Policy" else "string"}}
            for name, text in headers.items()
        }
    return response


def _common_responses() -> dict[str, Any]:
    responses = {name: _problem_response(status) for status, name in _COMMON.items()}
    responses["TooManyRequests"] = _problem_response(429, _RATE_HEADERS)
    responses["Unauthorized"]["headers"] = {
        "WWW-Authenticate": {"description": 'Always `Bearer realm="mailroom"`', "schema": {"type": "string"}}
    }
    return responses


_COMPOSE_BODY = {"createDraft", "saveDraft", "updateDraft"}
_OPTIONAL_BODY = {"sendDraft", "logout"}
# Bytes, not JSON: the raw message, and an attachment in its own content type (or application/octet-stream).
_DOWNLOADS = {"getRawMessage": "message/rfc822", "getAttachment": "*/*"}


def _compose_body(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The compose routes read their body themselves (JSON, or multipart/form-data whose file parts are
    attachments, entrypoints/http/compose_body.py), so Litestar cannot see it."""
    for name, schema in _compose_schemas().items():
        if name not in schemas:
            schemas[name] = copy.deepcopy(schema)  # each document may be completed in place later
    # Marked optional, though an empty body is answered 422: openapi-python-client (0.29) writes the client of a
    # required body offered in two media types with a type it does not import.
    operation["requestBody"] = {
        "required": False,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ComposeIn"}},
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/ComposeForm"}},
        },
    }


@cache
def _compose_schemas() -> dict[str, Any]:
    """ComposeIn and the structs it holds, and the same fields as form fields: built once per process, however
    many routes and apps take them."""
    _, found = msgspec.json.schema_components((ComposeIn,), ref_template="#/components/schemas/{name}")
    fields: dict[str, Any] = dict(found["ComposeIn"]["properties"])
    fields.pop("attachments", None)
    form = {
        "type": "object",
        "properties": {
            **fields,
            "to": {"type": "string", "description": "comma-separated, or the field repeated"},
            "cc": {"type": "string"},
            "bcc": {"type": "string"},
            "files": {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"}},
        },
    }
    return {**found, "ComposeForm": form}


REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "login": {
        "password": {
            "summary": "A user's password login",
            "value": {"tenant": "acme", "email": "ada@acme.test", "password": "correct horse battery staple"},
        }
    },
    "createAccount": {
        "imapAndSmtp": {
            "summary": "An account on an IMAP and SMTP server over TLS",
            "value": {
                "name": "Ada at work",
                "email": "ada@example.com",
                "imap": {
                    "host": "imap.example.com",
                    "port": 993,
                    "security": "ssl",
                    "username": "ada@example.com",
                    "password": "app-password",
                },
                "smtp": {
                    "host": "smtp.example.com",
                    "port": 465,
                    "security": "ssl",
                    "username": "ada@example.com",
                    "password": "app-password",
                },
            },
        }
    },
    "replaceAccount": {
        "keepPasswords": {
            "summary": "Every field again; passwords left out are kept while the servers stay the same",
            "value": {
                "name": "Ada at work",
                "email": "ada@example.com",
                "imap": {"host": "imap.example.com", "port": 993, "security": "ssl", "username": "ada@example.com"},
                "smtp": {"host": "smtp.example.com", "port": 465, "security": "ssl", "username": "ada@example.com"},
            },
        }
    },
    "updateAccount": {
        "rename": {"summary": "Change the name only", "value": {"name": "Ada, personal"}},
    },
    "createDraft": {
        "plain": {
            "summary": "A plain-text draft to one recipient",
            "value": {
                "account_id": "0b5e6a1e-3f3c-4d0e-9a51-8f6c2d1e7a10",
                "to": [{"name": "Bob", "address": "bob@example.org"}],
                "subject": "Lunch?",
                "text": "Tomorrow at noon?",
            },
        }
    },
    "saveDraft": {
        "update": {
            "summary": "Change the subject of the draft named by `id`",
            "value": {"id": "7d3f0c2a-9b1e-4c5d-8e6f-0a1b2c3d4e5f", "subject": "Lunch on Friday?"},
        }
    },
    "updateDraft": {
        "reply": {
            "summary": "Add a Cc and an HTML body",
            "value": {"cc": ["Carol <carol@example.org>"], "html": "<p>Noon at <b>Luigi's</b>?</p>"},
        }
    },
    "updateMessageFlags": {"read": {"summary": "Mark as read", "value": {"seen": True}}},
    "moveMessage": {
        "archive": {
            "summary": "Move to another folder",
            "value": {"mailbox_id": "4a1c2b3d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"},
        }
    },
    "sendDraft": {"later": {"summary": "Send at a given time", "value": {"send_at": "2030-01-01T09:00:00Z"}}},
    "createWebhook": {
        "newMail": {
            "summary": "New mail and sends of every account",
            "value": {
                "url": "https://hooks.example.com/mailroom",
                "events": ["message.created", "draft.sent", "draft.failed"],
                "description": "CRM inbox sync",
            },
        }
    },
    "updateWebhook": {"enable": {"summary": "Enable a disabled endpoint again", "value": {"enabled": True}}},
}


CREATED_LOCATION = ResponseHeader(
    name="Location",
    value="/api/...",
    documentation_only=True,
    description="The path of the resource created",
)


def created(body: T, location: str) -> Response[T]:
    """A 201 answer with the new resource's path in `Location` (RFC 9110 section 15.3.2)."""
    return Response(body, status_code=HTTP_201_CREATED, headers={"Location": location})


TAGS = [
    Tag(name="auth", description="Sessions: log in, refresh, log out, change your password; who the credential is"),
    Tag(name="users", description="The tenant's users and their roles (admins only)"),
    Tag(name="keys", description="API keys for automations, limited to scopes"),
    Tag(name="accounts", description="The tenant's IMAP/SMTP mail accounts"),
    Tag(name="oauth", description="Connecting a mailbox by signing in with its OAuth2 provider (Gmail, Microsoft 365)"),
    Tag(name="sync", description="Syncing an account's mail into the store, and its status"),
    Tag(name="mailboxes", description="An account's folders"),
    Tag(name="messages", description="Stored messages: list, search, read, flag, move, delete"),
    Tag(name="threads", description="Conversations across an account's folders"),
    Tag(name="drafts", description="Drafts and sending (paths kept from the replaced service: /api/compose)"),
    Tag(name="audit", description="The tenant's audit trail"),
    Tag(
        name="changes", description="The tenant's change log: a replayable feed, and a live stream (Server-Sent Events)"
    ),
    Tag(name="webhooks", description="Endpoints that receive the change log as signed POSTs (Standard Webhooks)"),
    Tag(name="health", description="Liveness and dependencies, for probes"),
]
