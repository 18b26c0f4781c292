"""The event bus: "new events were committed" wake-ups between processes.

The event table is the source of truth, so the bus carries no payloads, only the newest id. In-process by
default; with ``REDIS_URL`` a Redis pub/sub channel reaches every server process. A lost message costs
nothing but latency: each process's pump also polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("ecs.bus")

CHANNEL = "ecs:events"


class EventBus(Protocol):
    def notify(self, last_id: int) -> None: ...
    async def start(self, on_wake: Callable[[], None]) -> None: ...
    async def stop(self) -> None: ...
    async def ping(self) -> None: ...


class InMemoryBus:
    def __init__(self) -> None:
        self._on_wake: Callable[[], None] | None = None

    def notify(self, last_id: int) -> None:
        if self._on_wake is not None:
            self._on_wake()

    async def start(self, on_wake: Callable[[], None]) -> None:
        self._on_wake = on_wake

    async def stop(self) -> None:
        self._on_wake = None

    async def ping(self) -> None:
        return None


class RedisBus:
    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)
        self._on_wake: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[object]] = set()

    def notify(self, last_id: int) -> None:
        if self._on_wake is not None:
            self._on_wake()  # our own pump need not wait for the round trip
        task = asyncio.ensure_future(self._redis.publish(CHANNEL, str(last_id)))
        self._pending.add(task)
        task.add_done_callback(self._published)

    def _published(self, task: asyncio.Task[object]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("redis publish failed: %s (pumps will poll)", task.exception())

    async def start(self, on_wake: Callable[[], None]) -> None:
        self._on_wake = on_wake
        self._task = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(CHANNEL)
                async for msg in pubsub.listen():
                    if msg.get("type") == "message" and self._on_wake is not None:
                        self._on_wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarted: keep trying; the pump's poll covers the gap
                log.warning("redis bus listener error: %s; retrying", exc)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for t in list(self._pending):
            with contextlib.suppress(Exception):
                await t
        await self._redis.aclose()

    async def ping(self) -> None:
        await self._redis.ping()
