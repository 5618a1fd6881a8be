from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.ioc import HealthProbes


async def test_health_reports_each_dependency(client: AsyncTestClient[Litestar]) -> None:
    answer = await client.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


async def test_health_is_503_naming_the_failed_dependency(app: Litestar, client: AsyncTestClient[Litestar]) -> None:
    probes = await app.state.dishka_container.get(HealthProbes)
    probes.database.up = False  # type: ignore[attr-defined]
    answer = await client.get("/health")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["checks"] == {"database": "failed", "broker": "ok"}
    assert "database" in answer.json()["detail"]


async def test_openapi_describes_the_kept_paths_without_passwords_in_answers(client: AsyncTestClient[Litestar]) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    assert {"/health", "/api/auth/login", "/api/accounts", "/api/accounts/{account_id}"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert "password" not in str(schemas["MailAccountOut"]) + str(schemas["ServerOut"])
    assert "password" in schemas["ServerIn"]["required"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert (await client.get("/schema")).headers["content-type"].startswith("text/html")
