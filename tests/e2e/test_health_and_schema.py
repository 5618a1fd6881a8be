import base64
import hashlib
import re
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints.http.api_docs import PINNED
from entrypoints.http.app import create_app
from entrypoints.ioc import HealthProbes, MemoryProvider
from entrypoints.settings import load_settings


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
    for answer in ("MailAccountOut", "ServerOut", "OAuthOut"):
        assert not {"password", "access_token", "refresh_token"} & set(schemas[answer]["properties"]), answer
    assert {"password", "auth"} <= set(schemas["ServerIn"]["properties"])
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert (await client.get("/schema")).headers["content-type"].startswith("text/html")


async def test_a_body_over_the_request_limit_is_413(tmp_path: Path) -> None:
    settings = load_settings({"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_MAX_REQUEST_BYTES": "1000"})
    async with AsyncTestClient(create_app(MemoryProvider(), settings=settings)) as client:
        answer = await client.post(
            "/api/auth/login", json={"tenant": "acme", "email": "a@acme.test", "password": "x" * 2000}
        )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


async def test_cors_allows_only_the_configured_origins(tmp_path: Path) -> None:
    environ = {"MAILROOM_DATA_DIR": str(tmp_path), "MAILROOM_CORS_ORIGINS": "https://mail.example.com"}
    async with AsyncTestClient(create_app(MemoryProvider(), settings=load_settings(environ))) as client:
        preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
        allowed = await client.options("/api/me", headers={"Origin": "https://mail.example.com"} | preflight)
        refused = await client.options("/api/me", headers={"Origin": "https://evil.example"} | preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://mail.example.com"
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_the_docs_page_loads_only_its_own_files_with_their_integrity(
    client: AsyncTestClient[Litestar], page: str
) -> None:
    answer = await client.get(page)
    assert answer.status_code == 200
    tags = re.findall(r"<(?:script|link)\b[^>]*>", answer.text)
    loaded = [t for t in tags if re.search(r'(?:src|href)="', t)]
    assert len(loaded) == 3, "the page loads Swagger UI's script, preset and stylesheet"
    for tag in loaded:
        url = re.search(r'(?:src|href)="([^"]+)"', tag)
        assert url is not None
        assert url[1] in PINNED, tag
        assert f'integrity="{PINNED[url[1]]}"' in tag, tag
    page_itself = re.sub(r"spec: \{.*\},\n", "spec: {},\n", answer.text)  # the document's examples hold URLs
    assert "spec: {}," in page_itself
    assert "http://" not in page_itself.replace("http://testserver", "")
    assert "https://" not in page_itself


async def test_the_docs_files_are_served_as_pinned(client: AsyncTestClient[Litestar]) -> None:
    for url, digest in PINNED.items():
        answer = await client.get(url)
        assert answer.status_code == 200, url
        assert "max-age=86400" in answer.headers["cache-control"]
        sha384 = base64.b64encode(hashlib.sha384(answer.content).digest()).decode()
        assert digest == f"sha384-{sha384}", url
    assert (await client.get("/schema/assets/../../../etc/passwd")).status_code == 404
