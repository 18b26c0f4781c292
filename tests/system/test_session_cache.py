"""Session liveness remembered for a few seconds, re-read ahead of expiry (core/security.SessionCache)."""

from __future__ import annotations

import asyncio
import time

from command_server.core.security import SessionCache


async def test_an_entry_in_use_is_reread_in_the_background_and_never_served_stale() -> None:
    cache = SessionCache(ttl_s=0.4)
    reads: list[float] = []
    answer = {"alive": True}
    gate = asyncio.Event()
    gate.set()

    async def read() -> bool:
        reads.append(time.monotonic())
        await gate.wait()
        return answer["alive"]

    cache.put("s", True)
    cache.refresh_ahead("s", read)  # young: nothing to do
    await asyncio.sleep(0)
    assert reads == []
    await asyncio.sleep(0.25)  # past half its life
    assert cache.get("s") is True
    cache.refresh_ahead("s", read)
    cache.refresh_ahead("s", read)  # one read at a time
    await asyncio.sleep(0.01)
    assert len(reads) == 1
    # the entry is now as old as that read: in use, it never expires
    await asyncio.sleep(0.25)
    assert cache.get("s") is True

    # revoked elsewhere: the next background read brings it, and the session is refused
    answer["alive"] = False
    cache.refresh_ahead("s", read)
    await asyncio.sleep(0.01)
    assert cache.get("s") is False
    cache.refresh_ahead("s", read)  # a dead entry is not re-read ahead: the next read is the caller's
    await asyncio.sleep(0.01)
    assert len(reads) == 2


async def test_a_revocation_during_a_background_read_wins_and_nothing_outlives_the_ttl() -> None:
    cache = SessionCache(ttl_s=0.4)
    gate = asyncio.Event()

    async def slow_read() -> bool:
        await gate.wait()
        return True  # what the database said before the revocation

    cache.put("s", True)
    await asyncio.sleep(0.25)
    cache.refresh_ahead("s", slow_read)
    await asyncio.sleep(0)
    cache.mark_revoked("s")  # logout in this process while the read is out
    gate.set()
    await asyncio.sleep(0.01)
    assert cache.get("s") is False

    # a read that fails leaves the entry to expire; the next request reads it itself
    async def failing() -> bool:
        raise OSError("database away")

    cache.put("t", True)
    await asyncio.sleep(0.25)
    cache.refresh_ahead("t", failing)
    await asyncio.sleep(0.01)
    assert cache.get("t") is True  # still within its life
    await asyncio.sleep(0.2)
    assert cache.get("t") is None  # expired: never served stale
    await cache.close()
