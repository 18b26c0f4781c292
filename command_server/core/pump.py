"""The event pump: each process tails the event table in id order and hands new events to its subscribers.

Because ids commit in order (see ``uow.py``), tailing ``id > cursor`` never skips an event. Work that must
be ordered with live delivery (a reconnecting socket's replay) runs as a job inside the same task, between
two batches, so a client never sees a live event before the replayed ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select

from .db import Database
from .events import Event, events_after

log = logging.getLogger("ecs.pump")

Subscriber = Callable[[list[Event]], Awaitable[None]]
Job = Callable[[int], Awaitable[None]]


class EventPump:
    def __init__(self, db: Database, *, poll_interval_s: float = 1.0, batch: int = 500) -> None:
        self.db = db
        self.poll_interval_s = poll_interval_s
        self.batch = batch
        self.cursor = 0
        self._subscribers: list[Subscriber] = []
        self._jobs: list[Job] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, fn: Subscriber) -> None:
        self._subscribers.append(fn)

    def wake(self) -> None:
        self._wake.set()

    def schedule(self, job: Job) -> None:
        """Run ``job(cursor)`` in the pump task, ordered with live delivery."""
        self._jobs.append(job)
        self._wake.set()

    async def start(self) -> None:
        async with self.db.read() as s:
            self.cursor = await s.scalar(select(func.max(Event.id))) or 0
        self._task = asyncio.create_task(self._run(), name="event-pump")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                # not wait_for: on 3.11 a cancel arriving as the event fires is swallowed and stop() hangs
                async with asyncio.timeout(self.poll_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event pump: reading events failed; retrying")
                await asyncio.sleep(0.5)
                continue
            while self._jobs:
                job = self._jobs.pop(0)
                try:
                    await job(self.cursor)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("event pump: job failed")

    async def _drain(self) -> None:
        while True:
            async with self.db.read() as s:
                batch = await events_after(s, self.cursor, self.batch)
            if not batch:
                return
            self.cursor = batch[-1].id
            for fn in self._subscribers:
                try:
                    await fn(batch)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("event subscriber %r failed", fn)
            if len(batch) < self.batch:
                return
