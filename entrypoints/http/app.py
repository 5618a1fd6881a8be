import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dishka import Provider
from dishka.integrations.litestar import LitestarProvider, setup_dishka
from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig
from taskiq.api import run_scheduler_task

from adapters.jobs.broker import QUEUE_NAME
from adapters.jobs.depth import RedisQueueDepth
from entrypoints.container import build_container
from entrypoints.http.access import scope_guard
from entrypoints.http.api_docs import LocalSwagger, docs_assets
from entrypoints.http.authentication import (
    BearerTokenMiddleware,
    PrincipalProvider,
    remember_revoked_sessions,
    tenant_scope_middleware,
)
from entrypoints.http.controllers.access import ApiKeyController, UserController
from entrypoints.http.controllers.accounts import MailAccountController
from entrypoints.http.controllers.audit import audit_trail
from entrypoints.http.controllers.auth import LoginController, MeController, SessionController
from entrypoints.http.controllers.compose import ComposeController
from entrypoints.http.controllers.events import ChangesController, WebhookController
from entrypoints.http.controllers.health import health
from entrypoints.http.controllers.messages import (
    AccountMailController,
    MessageController,
    ThreadController,
    search_messages,
)
from entrypoints.http.controllers.metrics import metrics as metrics_endpoint
from entrypoints.http.controllers.oauth import ConsentCallbackController, ConsentStartController
from entrypoints.http.controllers.sync import SyncController
from entrypoints.http.middleware_errors import middleware_errors_middleware
from entrypoints.http.openapi import TAGS, finish_document
from entrypoints.http.problems import EXCEPTION_HANDLERS
from entrypoints.http.rate_limit import rate_limit_middleware
from entrypoints.http.request_log import request_log_middleware
from entrypoints.logs import stamp_request_ids
from entrypoints.metrics import watch_queue_depth
from entrypoints.settings import Settings, load_settings
from entrypoints.worker.runtime import attach_container, create_broker, create_scheduler, worker_providers
from entrypoints.worker.tasks import WORKER_ID
from entrypoints.worker.watchers import kick_webhook_dispatch, watch_inboxes


def create_served_app(settings: Settings | None = None) -> Litestar:
    """The API as `mailroom serve` runs it, in its one process or as uvicorn's factory in each of its worker
    processes (settings from the environment)."""
    return create_app(settings=settings, freeze_heap=True)


def create_app(*override_providers: Provider, settings: Settings | None = None, freeze_heap: bool = False) -> Litestar:
    """The API. Providers passed here override the production wiring (tests pass `MemoryProvider()`).

    Without Redis the task broker, the scheduler and the inbox watches run inside this process (the embedded
    default). With `freeze_heap`, the objects alive once the app has started (modules, routes, the ORM's
    mappers) are moved out of the garbage collector's reach (`gc.freeze`): they live as long as the process,
    and each full collection would otherwise walk them all, a pause in whichever request set it off. Not for
    tests, which build many apps in one process.
    """
    settings = settings or load_settings()
    stamp_request_ids()
    broker = create_broker(settings)
    container = build_container(
        settings, broker, LitestarProvider(), PrincipalProvider(), *worker_providers(), *override_providers
    )
    attach_container(broker, container)
    embedded_jobs = settings.redis_url is None

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await broker.startup()
        await remember_revoked_sessions(container)
        background = []
        if embedded_jobs:
            background.append(asyncio.create_task(run_scheduler_task(create_scheduler(broker))))
            background.append(asyncio.create_task(kick_webhook_dispatch(container)))
            if settings.idle_enabled:
                background.append(asyncio.create_task(watch_inboxes(container, settings, WORKER_ID)))
        if freeze_heap:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await broker.shutdown()
            await container.close()

    protected = Router(
        path="/",
        route_handlers=[
            MeController,
            SessionController,
            UserController,
            ApiKeyController,
            MailAccountController,
            ConsentStartController,
            SyncController,
            search_messages,
            AccountMailController,
            MessageController,
            ThreadController,
            ComposeController,
            audit_trail,
            ChangesController,
            WebhookController,
        ],
        middleware=[DefineMiddleware(BearerTokenMiddleware), tenant_scope_middleware, rate_limit_middleware],
        guards=[scope_guard],
        security=[{"bearer": []}],
    )
    watch_queue_depth(RedisQueueDepth(settings.redis_url, QUEUE_NAME) if settings.redis_url else None)
    metrics = PrometheusConfig(app_name="mailroom", prefix="mailroom_http", group_path=True, exclude=["/metrics"])
    app = Litestar(
        route_handlers=[
            health,
            metrics_endpoint,
            LoginController,
            ConsentCallbackController,
            docs_assets(),
            protected,
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[request_log_middleware, metrics.middleware, middleware_errors_middleware],
        cors_config=_cors(settings),
        request_max_body_size=settings.max_request_bytes,
        openapi_config=_openapi(),
        lifespan=[lifespan],
        logging_config=None,  # the process configured logging (entrypoints.logs); Litestar's default replaces it
        debug=False,
    )
    setup_dishka(container, app)
    finish_document(app)
    return app


def _cors(settings: Settings) -> CORSConfig | None:
    origins = settings.allowed_origins
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "X-Tenant-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"],
        max_age=600,
    )


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Mailroom",
        version="0.1.0",
        description="Headless email: IMAP/SMTP accounts, sync, search, drafts and sending.",
        path="/schema",
        render_plugins=[LocalSwagger()],
        tags=TAGS,
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
        ),
    )
