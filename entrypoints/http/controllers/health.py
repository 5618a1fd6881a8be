from typing import Any

from dishka.integrations.litestar import FromDishka, inject
from litestar import Response, get

from application.health import CheckHealth
from entrypoints.http.openapi import problems
from entrypoints.http.problems import problem


@get(
    "/health",
    tags=["health"],
    operation_id="getHealth",
    summary="Liveness and dependencies",
    description="200 with each dependency `ok`, or 503 naming those failing (for load balancers and probes; "
    "no token needed).",
    responses=problems(503),
)
@inject
async def health(check: FromDishka[CheckHealth]) -> Response[dict[str, Any]]:
    report = await check()
    checks = {name: "ok" if ok else "failed" for name, ok in report.checks.items()}
    if report.healthy:
        return Response({"status": "ok", "checks": checks})
    return problem(503, f"failing: {', '.join(report.failing)}", checks=checks)
