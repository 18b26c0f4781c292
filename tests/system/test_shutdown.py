"""Background loops stop when asked, whatever they were doing at that instant.

CI hung at an app's shut-down: the event pump waited for its wake-up with ``asyncio.wait_for``, which on
Python 3.11 returns normally when the cancel arrives in the loop turn after the event fired — the cancel was
lost, the pump went on polling a dropped schema and ``stop()`` never returned. These tests fire the wake-up
and then stop after 0…7 loop turns, so one of them lands in that window.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from command_server.core.db import Database
from command_server.core.migrate import upgrade
from command_server.core.pump import EventPump
from command_server.notify.service import SmsDispatcher

TURNS = range(8)


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def _stops_within(stop: Any, seconds: float = 3.0) -> None:
    # asyncio.wait, not a timeout: a timeout cancels stop(), which cancels the loop a second time and hides the hang
    stopping = asyncio.ensure_future(stop())
    done, _ = await asyncio.wait({stopping}, timeout=seconds)
    if not done:
        stopping.cancel()
        pytest.fail("stop() did not return: the loop swallowed its cancellation")


async def test_event_pump_stops_even_when_woken_in_the_same_instant(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'ecs.db'}")
    await upgrade(db.engine)
    try:
        for n in TURNS:
            pump = EventPump(db, poll_interval_s=30)
            await pump.start()
            await _turns(2)  # the pump is parked on its wake-up
            pump.wake()
            await _turns(n)
            await _stops_within(pump.stop)
            assert pump._task is not None and pump._task.done()
    finally:
        await db.dispose()


async def test_sms_dispatcher_stops_even_when_woken_in_the_same_instant() -> None:
    for n in TURNS:
        drains = 0

        async def drain(**_kw: Any) -> int:
            nonlocal drains
            drains += 1
            return 0

        d = SmsDispatcher(svc=None, sender=None)  # type: ignore[arg-type]  # only the loop is under test
        d.drain = drain  # type: ignore[method-assign]
        d.start(poll_s=30)
        await _turns(4)  # the first (start-up) drain has run; parked on the wake-up
        d.wake()
        await _turns(n)
        task = d._task
        await _stops_within(d.stop)
        assert task is not None and task.done()
        assert drains >= 1
