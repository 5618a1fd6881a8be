"""Tenant B tries every route that takes an id with tenant A's ids: always 404, nothing changes.

The routes come from the app itself, so a new endpoint with an `{…_id}` path parameter is covered without
editing this test.
"""

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.e2e.conftest import Login, account_body

_ID_PARAMETER = re.compile(r"\{(\w+_id):\w+\}")


def id_routes(app: Litestar) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        if not _ID_PARAMETER.search(route.path):
            continue
        for method in sorted(getattr(route, "methods", ())):
            if method not in ("HEAD", "OPTIONS"):
                routes.append((method, route.path))
    return routes


async def test_every_id_route_answers_404_for_another_tenants_ids(
    app: Litestar, client: AsyncTestClient[Litestar], login: Login
) -> None:
    acme, globex = await login(), await login(tenant="globex", email="eve@globex.test")
    account = (await client.post("/api/accounts", json=account_body(), headers=acme)).json()
    ids = {"account_id": account["id"]}
    bodies: dict[str, Any] = {"PUT": account_body("eve@globex.test"), "PATCH": {"name": "Taken over"}, "POST": {}}

    routes = id_routes(app)
    assert ("DELETE", "/api/accounts/{account_id:uuid}") in routes
    for method, template in routes:
        path = _ID_PARAMETER.sub(lambda m: ids[m.group(1)], template)
        answer = await client.request(method, path, headers=globex, json=bodies.get(method))
        assert answer.status_code == 404, (method, template, answer.text)
        assert account["email"] not in answer.text

    assert (await client.get("/api/accounts", headers=globex)).json() == {"items": [], "total": 0}
    assert (await client.get(f"/api/accounts/{account['id']}", headers=acme)).json() == account
