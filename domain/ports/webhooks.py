from datetime import datetime
from typing import Protocol

from domain.changes import LoggedChange
from domain.webhooks import AttemptOutcome


class WebhookTransport(Protocol):
    """Delivers one event to one endpoint as Standard Webhooks describe: the event as JSON, POSTed with the
    `webhook-id` (the event id), `webhook-timestamp` and `webhook-signature` headers, signed with `secret`.

    Only public addresses are reached unless the deployment allows private ones; the answer comes back as an
    outcome (status code, or the error), never raised."""

    async def deliver(self, url: str, secret: str, event: LoggedChange, at: datetime) -> AttemptOutcome: ...

    async def refusal(self, url: str) -> str | None:
        """Why deliveries to `url` would be refused (its host resolves to an address this deployment may not
        reach, or does not resolve), or None."""
        ...
