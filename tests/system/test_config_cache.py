"""``core/config_cache.ConfigCache``: which events move the generation, and that nothing older than the
generation a call started with is answered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from command_server.core.config_cache import ConfigCache


@dataclass
class Ev:
    id: int
    type: str


async def test_only_watched_events_move_the_generation() -> None:
    c = ConfigCache()
    c.saw([Ev(3, "warning_rule.created")])
    assert c.generation == 0  # nothing watched yet
    c.watch("warning_rule.", "monitoring_source.")
    c.watch("warning_rule.")
    c.saw([Ev(4, "alarm.created"), Ev(5, "warning_rule.updated"), Ev(6, "monitoring.readings_ingested")])
    assert c.generation == 5
    await c.on_events([Ev(7, "monitoring_source.deleted"), Ev(8, "warning.opened")])
    assert c.generation == 7
    c.saw([Ev(2, "warning_rule.created")])  # an older event never moves it back
    c.advance(6)
    assert c.generation == 7
    c.advance(9)
    assert c.generation == 9


async def test_remembered_until_the_generation_moves() -> None:
    c = ConfigCache()
    c.watch("rule.")
    reads: list[int] = []

    async def load() -> int:
        reads.append(c.generation)
        return len(reads)

    assert [await c.get("rules", load) for _ in range(3)] == [1, 1, 1]
    assert await c.get("other", load) == 2  # each name on its own
    c.saw([Ev(10, "rule.updated")])
    assert await c.get("rules", load) == 3
    assert await c.get("rules", load) == 3
    assert reads == [0, 0, 10] and c.loads == 3


async def test_a_value_read_while_a_change_arrived_is_read_again() -> None:
    c = ConfigCache()
    c.watch("rule.")
    gate = asyncio.Event()
    reads = 0

    async def slow_load() -> str:
        nonlocal reads
        reads += 1
        n = reads
        if n == 1:
            await gate.wait()  # a change commits while the first read is in flight
        return f"read {n}"

    first = asyncio.create_task(c.get("rules", slow_load))
    await asyncio.sleep(0)
    c.saw([Ev(4, "rule.created")])
    assert await c.get("rules", slow_load) == "read 2"  # a caller after the change does not wait for the old read
    gate.set()
    assert await first == "read 1"
    # the late old read did not replace the newer one
    assert await c.get("rules", slow_load) == "read 2" and reads == 2


async def test_a_failed_read_is_not_remembered() -> None:
    c = ConfigCache()
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")
        return calls

    with pytest.raises(ConnectionError):
        await c.get("rules", flaky)
    assert await c.get("rules", flaky) == 2 and await c.get("rules", flaky) == 2
