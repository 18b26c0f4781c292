"""The event-loop stall recorder (``system/loopwatch.py``): a beat that comes late is recorded with what held
the loop, and admins read it through ``GET /api/v1/system/loop``."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

import pytest

from command_server.system.lifecycle import LOOP_WATCH
from command_server.system.loopwatch import LoopWatch
from tests.conftest import start_api


def hold_the_loop_for_a_report(seconds: float) -> None:
    """Pure Python busy work (the GIL is released every switch interval, so the watchdog can sample)."""
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1


async def test_a_stall_is_recorded_with_the_code_that_held_the_loop() -> None:
    watch = LoopWatch(tick_ms=5, threshold_ms=30)
    watch.start()
    try:
        await asyncio.sleep(0.05)  # beats on time: no stall
        assert watch.stall_count == 0
        assert watch.beats >= 3
        hold_the_loop_for_a_report(0.15)
        await asyncio.sleep(0.03)
    finally:
        watch.stop()
    assert watch.stall_count == 1
    stall = watch.stalls[0]
    assert 140 <= stall.ms < 400
    assert sum(stall.samples.values()) >= 5  # every 5 ms while overdue
    top, _n = stall.samples.most_common(1)[0]
    assert top[-1].startswith("tests/system/test_loopwatch.py:") and top[-1].endswith("hold_the_loop_for_a_report")
    assert any(f.endswith(" test_a_stall_is_recorded_with_the_code_that_held_the_loop") for f in top)
    rep = watch.report()
    assert rep["stall_count"] == 1 and rep["max_lag_ms"] >= 140
    assert rep["lag_histogram_ms"]["100-200"] == 1
    assert sum(rep["lag_histogram_ms"].values()) == watch.beats
    assert rep["stalls"][0]["stacks"][0]["frames"][-1].endswith("hold_the_loop_for_a_report")
    assert not rep["running"]


async def test_a_collection_during_a_stall_is_counted_in_it() -> None:
    watch = LoopWatch(tick_ms=5, threshold_ms=20)
    watch.start()
    try:
        await asyncio.sleep(0.02)
        # enough cyclic garbage that a full collection takes a while; it holds the GIL throughout
        junk = []
        for _ in range(300_000):
            a: list[object] = []
            a.append(a)
            junk.append(a)
        del junk
        t0 = time.perf_counter()
        gc.collect()
        took_ms = (time.perf_counter() - t0) * 1000
        hold_the_loop_for_a_report(0.03)
        await asyncio.sleep(0.02)
    finally:
        watch.stop()
    assert watch.gc[2]["count"] >= 1
    assert watch.gc[2]["max_ms"] >= took_ms * 0.5
    assert watch.stall_count >= 1
    assert max(s.gc_ms for s in watch.stalls) >= took_ms * 0.5


async def test_stop_ends_the_watchdog_and_the_gc_hook() -> None:
    watch = LoopWatch()
    watch.start()
    await asyncio.sleep(0.03)
    assert any(t.name == "ecs-loopwatch" for t in threading.enumerate())
    watch.stop()
    assert watch._on_gc not in gc.callbacks
    beats = watch.beats
    await asyncio.sleep(0.03)
    assert watch.beats == beats
    assert not any(t.name == "ecs-loopwatch" and t.is_alive() for t in threading.enumerate()
                   if t is not threading.current_thread())


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_admins_read_the_stalls_of_the_running_server(settings_factory) -> None:  # type: ignore[no-untyped-def]
    api = await start_api(settings_factory(loop_stall_ms=40))
    try:
        admin = await api.as_user("admin")
        operator = await api.as_user("operator")
        r = await api.client.get("/api/v1/system/loop")
        assert r.status == 401
        r = await operator.get("/api/v1/system/loop")
        assert r.status == 403
        asyncio.get_running_loop().call_soon(hold_the_loop_for_a_report, 0.12)  # the server's loop is this one
        await asyncio.sleep(0.05)
        r = await admin.get("/api/v1/system/loop")
        assert r.status == 200, await r.text()
        body = await r.json()
        assert body["running"] and body["threshold_ms"] == 40
        held = [s for s in body["stalls"] if s["ms"] >= 110]
        assert held, body["stalls"]
        assert held[0]["stacks"][0]["frames"][-1].endswith("hold_the_loop_for_a_report")
        # since: only what began after it
        r = await admin.get("/api/v1/system/loop", params={"since": held[0]["at"]})
        assert [s["at"] for s in (await r.json())["stalls"]][-1] == held[0]["at"]
        r = await admin.get("/api/v1/system/loop", params={"heap": "true", "limit": "1"})
        heap = (await r.json())["heap"]
        assert heap["oldest_generation"] >= sum(heap["types"].values()) > 0 and heap["frozen"] == 0  # (tests)
        assert "heap" not in body
        r = await admin.get("/api/v1/system/loop", params={"since": "2026-01-01T00:00:00"})
        assert r.status == 422  # no zone
        r = await admin.get("/api/v1/system/loop", params={"limit": "0"})
        assert r.status == 422
    finally:
        await api.client.close()


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_the_recorder_can_be_turned_off(settings_factory) -> None:  # type: ignore[no-untyped-def]
    api = await start_api(settings_factory(loop_stall_ms=0))
    try:
        admin = await api.as_user("admin")
        r = await admin.get("/api/v1/system/loop")
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "loop_watch_off"
        assert LOOP_WATCH not in api.app
    finally:
        await api.client.close()
