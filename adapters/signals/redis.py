import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from adapters.signals.local import EVERYTHING, LocalDoorbell
from domain.ports.runtime import Doorbell, Listener

log = logging.getLogger("mailroom.signals")

_DROPPED = (RedisError, OSError)
_SUBSCRIBED_WITHIN = 2.0
_QUIET = 30.0
_ANSWER_WITHIN = 10.0
_FIRST_RETRY = 0.2
_LAST_RETRY = 5.0


class RedisDoorbell(Doorbell):
    """Rings carried by Redis pub/sub on `<channel_prefix><topic>`, so a commit in one process wakes the listeners of
    every other. Pub/sub keeps nothing for a subscriber that is away, so:

    - Each process holds one subscriber connection, opened on its first `listen`, read by one task that hands every
      message to the listeners of this process. A topic stays subscribed until `close`: there are a handful.
    - `listen` returns once Redis confirmed the topic's subscription, so a ring published after it is seen; if Redis
      does not confirm within a moment (it is down), the listener is returned anyway and relies on its own re-reads.
    - When the subscriber connection drops (or a PING goes unanswered), it reconnects with a short back-off, and once
      a topic is subscribed again, every listener of it receives the key EVERYTHING ("*"): rings may have been lost
      meanwhile, re-read everything. So does a listener that was returned before its subscription was confirmed.
    - A ring Redis cannot take is logged and dropped, never raised into the request that committed: the store is the
      truth, and listeners catch up when they next look.
    """

    @classmethod
    def for_database(cls, url: str) -> "RedisDoorbell":
        """Channels named after the URL's database: pub/sub is server-wide, not per database, and deployments (or
        a benchmark and the tests) on other databases of one Redis server must not wake each other."""
        database = urlsplit(url).path.strip("/") or "0"
        return cls(url, channel_prefix=f"mailroom:{database}:")

    def __init__(self, url: str, channel_prefix: str = "mailroom:") -> None:
        self._prefix = channel_prefix
        # One retry on a fresh connection: a pooled one may be dead since Redis restarted.
        self._publisher = Redis.from_url(
            url, retry=Retry(NoBackoff(), 1), socket_connect_timeout=1.0, socket_timeout=1.0
        )
        # No retry inside redis-py: it would resubscribe silently, and listeners would not learn of the gap.
        self._subscriber = Redis.from_url(
            url,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
            client_name=re.sub(r"[^!-~]", "_", f"{channel_prefix}doorbell"),  # CLIENT LIST tells it apart
        )
        self._local = LocalDoorbell()
        self._topics: set[str] = set()
        self._subscribed: dict[str, asyncio.Event] = {}
        self._missed: set[str] = set()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._retry_in = _FIRST_RETRY
        self._ring_failing = False
        self._reading_failing = False

    async def ring(self, topic: str, key: str) -> None:
        try:
            await self._publisher.publish(self._prefix + topic, key)
        except _DROPPED as error:
            if not self._ring_failing:
                log.warning("doorbell: Redis did not take a ring of %s (%s); dropped", topic, type(error).__name__)
            self._ring_failing = True
            return
        if self._ring_failing:
            log.info("doorbell: Redis takes rings again")
            self._ring_failing = False

    @asynccontextmanager
    async def listen(self, topic: str) -> AsyncIterator[Listener]:
        async with self._local.listen(topic) as listener:
            await self._subscribe(topic)
            yield listener

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._subscriber.aclose()
        await self._publisher.aclose()

    async def _subscribe(self, topic: str) -> None:
        if topic not in self._topics:
            self._topics.add(topic)
            self._subscribed[topic] = asyncio.Event()
            if self._pubsub is not None:
                with suppress(*_DROPPED):  # the reader sees the drop too, and subscribes every topic anew
                    await self._pubsub.subscribe(self._prefix + topic)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="doorbell-subscriber")
        try:
            async with asyncio.timeout(_SUBSCRIBED_WITHIN):
                await self._subscribed[topic].wait()
        except TimeoutError:
            self._missed.add(topic)

    async def _read(self) -> None:
        while True:
            try:
                async with self._subscriber.pubsub() as pubsub:
                    await self._subscribed_on(pubsub)
            except _DROPPED as error:
                if not self._reading_failing:
                    log.warning("doorbell: lost the Redis subscription (%s); reconnecting", type(error).__name__)
                self._reading_failing = True
            except Exception:
                log.exception("doorbell: the Redis subscriber failed; reconnecting")
            await asyncio.sleep(self._retry_in)
            self._retry_in = min(self._retry_in * 2, _LAST_RETRY)

    async def _subscribed_on(self, pubsub: PubSub) -> None:
        """One connection's life: it subscribes every topic listened to so far, and any topic listened to later."""
        try:
            sent = set(self._topics)
            await pubsub.subscribe(*(self._prefix + topic for topic in sent))
            self._pubsub = pubsub
            if late := self._topics - sent:
                await pubsub.subscribe(*(self._prefix + topic for topic in late))
            await self._pump(pubsub)
        finally:
            self._pubsub = None
            for subscribed in self._subscribed.values():
                subscribed.clear()
            self._missed |= self._topics

    async def _pump(self, pubsub: PubSub) -> None:
        """Hands messages on; a PING after a quiet spell tells a live connection from one silently cut."""
        while True:
            message = await pubsub.get_message(timeout=_QUIET)
            if message is None:
                await pubsub.ping()
                message = await pubsub.get_message(timeout=_ANSWER_WITHIN)
                if message is None:
                    raise RedisConnectionError("no answer to PING")
            await self._deliver(message)

    async def _deliver(self, message: dict[str, Any]) -> None:
        if message["type"] == "message":
            await self._local.ring(message["channel"][len(self._prefix) :], message["data"])
        elif message["type"] == "subscribe":
            topic = message["channel"][len(self._prefix) :]
            self._subscribed[topic].set()
            self._retry_in = _FIRST_RETRY
            if self._reading_failing:
                log.info("doorbell: subscribed on Redis again")
                self._reading_failing = False
            if topic in self._missed:
                self._missed.discard(topic)
                await self._local.ring(topic, EVERYTHING)
