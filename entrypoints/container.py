from typing import Any

from dishka import AsyncContainer, Provider, make_async_container
from taskiq import AsyncBroker

from entrypoints.ioc import app_providers
from entrypoints.settings import Settings


def build_container(settings: Settings, broker: AsyncBroker, *providers: Provider) -> AsyncContainer:
    """The app's providers, then the caller's (entrypoint-specific ones and test overrides, which win)."""
    context: dict[Any, Any] = {Settings: settings, AsyncBroker: broker}
    return make_async_container(*app_providers(), *providers, context=context)
