from datetime import datetime

from domain.changes import LoggedChange
from domain.ports.webhooks import WebhookTransport
from domain.webhooks import AttemptOutcome

Delivered = tuple[str, str, LoggedChange, datetime]


class ScriptedWebhookTransport(WebhookTransport):
    """Receivers that answer each URL from its script, in order, then 200 once it is spent; `delivered` records
    every try as (url, secret, event, at)."""

    def __init__(self, script: dict[str, list[AttemptOutcome]] | None = None) -> None:
        self.script: dict[str, list[AttemptOutcome]] = {} if script is None else script
        self.delivered: list[Delivered] = []
        self.refused: dict[str, str] = {}
        """URL -> the reason `refusal` gives for it."""

    async def refusal(self, url: str) -> str | None:
        return self.refused.get(url)

    def answer(self, url: str, *outcomes: AttemptOutcome) -> None:
        self.script.setdefault(url, []).extend(outcomes)

    async def deliver(self, url: str, secret: str, event: LoggedChange, at: datetime) -> AttemptOutcome:
        self.delivered.append((url, secret, event, at))
        queued = self.script.get(url)
        return queued.pop(0) if queued else AttemptOutcome(200, 1)
