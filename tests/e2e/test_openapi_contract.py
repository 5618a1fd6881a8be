"""The OpenAPI document as a client generator reads it: valid OpenAPI 3.1, a hand-chosen operation id, one tag, a
summary and a description on every operation, and every error it lists answered as problem+json with the one
Problem schema. Schemathesis (test_fuzz) checks that no route answers a status its operation does not list."""

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from openapi_spec_validator import validate

from tests.e2e.conftest import Login

METHODS = ("get", "put", "post", "delete", "patch")
PUBLIC = {"login", "refreshToken", "getHealth", "finishOauthSignIn"}


@pytest.fixture
async def document(client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    return (await client.get("/schema/openapi.json")).json()  # type: ignore[no-any-return]


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


async def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


async def test_every_operation_has_a_chosen_id_one_tag_a_summary_and_a_description(document: dict[str, Any]) -> None:
    ids = []
    for method, path, operation in operations(document):
        label = f"{method} {path}"
        assert operation["operationId"][0].islower(), label
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", operation["operationId"]), label
        assert len(operation["tags"]) == 1, label
        assert operation["summary"], label
        assert operation["description"], label
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids)) > 20
    assert {"listAccounts", "getMessage", "searchMessages", "sendDraft", "login"} <= set(ids)
    tags = {t["name"] for t in document["tags"]}
    assert {tag for _, _, op in operations(document) for tag in op["tags"]} <= tags


async def test_every_error_is_a_problem_and_litestars_own_400_is_gone(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert "errors" in problem["properties"]
    for method, path, operation in operations(document):
        errors = {status: resolve(document, r) for status, r in operation["responses"].items() if status >= "400"}
        assert errors, f"{method} {path}"
        for status, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], f"{method} {path} {status}"
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, f"{method} {path} {status}"
    assert "extra" not in str(document["paths"])


async def test_security_applies_to_every_route_but_the_public_ones(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        public = operation["operationId"] in PUBLIC
        assert bool(operation.get("security")) is not public, f"{method} {path}"
        refusable = not public or operation["operationId"] in ("login", "refreshToken")
        assert ("401" in operation["responses"]) is refusable


async def test_headers_are_documented_where_they_matter(document: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(document)}
    too_many = resolve(document, by_id["listAccounts"]["responses"]["429"])
    assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(too_many["headers"])
    assert "Location" in by_id["createAccount"]["responses"]["201"]["headers"]
    assert "Location" in by_id["createDraft"]["responses"]["201"]["headers"]
    send_headers = {p["name"] for p in by_id["sendDraft"]["parameters"] if p["in"] == "header"}
    assert "Idempotency-Key" in send_headers


async def test_bodies_carry_examples_and_the_compose_body_is_documented(document: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in operations(document)}
    for operation_id in ("login", "createAccount", "createDraft", "moveMessage"):
        content = by_id[operation_id]["requestBody"]["content"]["application/json"]
        assert content["examples"], operation_id
    compose = by_id["saveDraft"]["requestBody"]["content"]
    assert set(compose) == {"application/json", "multipart/form-data"}
    assert {"200", "201"} <= set(by_id["saveDraft"]["responses"])


async def test_the_documented_account_example_creates_an_account_that_answers_its_location(
    client: AsyncTestClient[Litestar], login: Login, document: dict[str, Any]
) -> None:
    headers = await login()
    by_id = {op["operationId"]: op for _, _, op in operations(document)}
    examples = by_id["createAccount"]["requestBody"]["content"]["application/json"]["examples"]
    answer = await client.post("/api/accounts", json=next(iter(examples.values()))["value"], headers=headers)
    assert answer.status_code == 201
    assert answer.headers["location"] == f"/api/accounts/{answer.json()['id']}"
    assert (await client.get(answer.headers["location"], headers=headers)).status_code == 200


async def test_each_protected_operation_names_the_api_key_scope_it_needs(document: dict[str, Any]) -> None:
    """Reading needs `read`, changing `write`; sending, the users, the audit trail and making or deleting keys
    their own scope; asking for a sync only `read` (it changes only Mailroom's copy)."""
    special = {
        "sendDraft": "send",
        "requestSync": "read",
        "listAuditEvents": "admin",
        "createApiKey": "admin",
        "deleteApiKey": "admin",
        **dict.fromkeys(("listUsers", "createUser", "getUser", "updateUser", "deleteUser"), "admin"),
    }
    for method, path, operation in operations(document):
        if operation["operationId"] in PUBLIC:
            continue
        wanted = special.get(operation["operationId"], "read" if method.lower() == "get" else "write")
        assert operation["security"] == [{"bearer": [wanted]}], f"{method} {path}"
