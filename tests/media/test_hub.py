"""The stream hub without any network: fan-out, a slow sink, the GOP cache, idle release."""

from __future__ import annotations

import asyncio
import threading
import time
from fractions import Fraction

import av

from media_gateway.hub import Handoff, MediaPacket, Reset, Stream, StreamInfo
from tests.media.conftest import until

INFO = StreamInfo(codec="h264", width=64, height=48, fps=25.0, time_base=Fraction(1, 90000))


class FakeSource:
    def __init__(self) -> None:
        self.started = self.stopped = 0

    def start(self) -> None:
        self.started += 1

    async def stop(self) -> None:
        self.stopped += 1


def packet(i: int, gop: int = 10) -> MediaPacket:
    key = i % gop == 0
    data = (b"\x00\x00\x00\x01\x65" if key else b"\x00\x00\x00\x01\x41") + bytes([i % 256]) * 100
    return MediaPacket("video", av.Packet(data), i * 3600, i * 3600, Fraction(1, 90000), key, len(data),
                       time.time(), time.monotonic())


async def drain(sub, n: int) -> list:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        out.append(await sub.get())
    return out


async def test_fan_out_with_a_slow_sink() -> None:
    src = FakeSource()
    stream = Stream("s", lambda s: src, idle_timeout_s=0.1)
    stream.set_info(INFO)
    fast1 = stream.subscribe("webrtc:a", maxsize=20)
    fast2 = stream.subscribe("webrtc:b", maxsize=20)
    slow = stream.subscribe("webrtc:slow", maxsize=20)
    assert src.started == 1  # one source for all subscribers
    got1: list = []
    got2: list = []
    for i in range(195):
        stream.publish(packet(i))
        got1 += [fast1.get_nowait() for _ in range(len(fast1.queue))]  # fast sinks keep up
        got2 += [fast2.get_nowait() for _ in range(len(fast2.queue))]
    pk1 = [x for x in got1 if isinstance(x, MediaPacket)]
    assert [p.dts // 3600 for p in pk1] == list(range(195))
    assert len([x for x in got2 if isinstance(x, MediaPacket)]) == 195
    assert fast1.dropped == fast2.dropped == 0
    # the slow sink never read: it lost packets, counted, and what it has starts at a keyframe
    assert slow.dropped > 100
    items = [x for x in list(slow.queue) if isinstance(x, MediaPacket)]
    assert items and items[0].keyframe
    assert len(slow.queue) <= 20
    assert stream.stats()["dropped_packets"] == slow.dropped


async def test_new_subscriber_starts_on_the_cached_keyframe() -> None:
    stream = Stream("s", lambda s: FakeSource())
    stream.set_info(INFO)
    for i in range(27):  # keyframes at 0, 10, 20
        stream.publish(packet(i))
    assert stream.gop[0].keyframe and len(stream.gop) == 7
    sub = stream.subscribe("webrtc:late")
    first = await sub.get()
    assert isinstance(first, Reset) and first.info is INFO
    got = await drain(sub, 7)
    assert got[0].keyframe and got[0].dts == 20 * 3600
    assert [p.dts // 3600 for p in got] == list(range(20, 27))


async def test_subscriber_joining_before_keyframe_waits_for_one() -> None:
    stream = Stream("s", lambda s: FakeSource())
    stream.set_info(INFO)
    sub = stream.subscribe("x")
    for i in range(5, 12):
        stream.publish(packet(i))
    items = [x for x in sub.queue if isinstance(x, MediaPacket)]
    assert items[0].dts == 10 * 3600 and items[0].keyframe


async def test_idle_release_and_always_on() -> None:
    src = FakeSource()
    stream = Stream("s", lambda s: src, idle_timeout_s=0.1)
    sub = stream.subscribe("x")
    sub.close()
    await asyncio.sleep(0.3)
    assert src.stopped == 1 and not stream.running
    stream.set_always_on(True)
    assert stream.running and src.started == 2
    sub = stream.subscribe("y")
    sub.close()
    await asyncio.sleep(0.3)
    assert stream.running  # always on (continuous recording)
    await stream.close()


async def test_stats() -> None:
    stream = Stream("s", lambda s: FakeSource())
    stream.set_info(INFO)
    stream.subscribe("webrtc:v")
    for i in range(30):
        stream.publish(packet(i))
    st = stream.stats()
    assert st["viewers"] == 1 and st["packets"] == 30 and st["codec"] == "h264"
    assert st["last_packet_at"] is not None and st["bitrate_kbps"] > 0


async def test_threaded_source_keeps_the_gop_and_hands_over_only_what_the_loop_wants() -> None:
    """A source thread ingests (GOP cache, statistics) and hands a packet to the loop only while a subscriber or a
    keyframe waiter is there. Subscribers that join, leave and join again while the thread keeps going get the
    cached GOP from its keyframe and then every later packet exactly once: no gap, no duplicate — also when an
    earlier delivery is still queued in the handoff."""
    loop = asyncio.get_running_loop()
    handoff = Handoff.of(loop)
    stream = Stream("s", lambda s: FakeSource())
    stream.set_info(INFO)
    delivered: list[int] = []
    real_deliver = stream.deliver

    def deliver(mp: MediaPacket) -> None:
        delivered.append(mp.dts // 3600)
        real_deliver(mp)

    total = 6000
    ingested = threading.Event()
    go = threading.Event()

    def source() -> None:
        for i in range(total):
            mp = packet(i)
            if stream.ingest(mp):
                handoff.put(deliver, mp)
            if i == 300:
                ingested.set()
                go.wait(5)
            if i % 50 == 0:
                time.sleep(0.001)  # let the loop run: subscribers come and go while packets flow

    th = threading.Thread(target=source)
    th.start()
    await asyncio.to_thread(ingested.wait, 5)
    assert delivered == [] and not handoff.items  # nobody on the loop: nothing handed over
    assert stream.gop[0].keyframe and stream.gop[0].dts == 300 * 3600 and stream.stats()["packets"] == 301
    go.set()
    subs = []
    for _ in range(6):
        sub = stream.subscribe("webrtc:x", maxsize=10**6)
        subs.append(sub)
        await asyncio.sleep(0.003)
        if len(subs) % 2:
            sub.close()  # the flag drops while deliveries may still be queued
        await asyncio.sleep(0.002)
    await asyncio.to_thread(th.join, 10)
    last = subs[-1]
    await until(lambda: any(isinstance(x, MediaPacket) and x.dts == (total - 1) * 3600 for x in last.queue), 5)
    for sub in subs:
        got = [x.dts // 3600 for x in sub.queue if isinstance(x, MediaPacket)]
        assert got and got[0] % 10 == 0  # starts on a keyframe
        assert got == list(range(got[0], got[0] + len(got)))  # every packet once, in order
        if not sub.closed:
            assert got[-1] == total - 1  # … up to the last one
    assert len(delivered) < total  # packets before the first subscriber never went to the loop
    assert stream.stats()["packets"] == total


async def test_keyframe_waiter_is_served_by_a_threaded_source() -> None:
    stream = Stream("s", lambda s: FakeSource())
    handoff = Handoff.of(asyncio.get_running_loop())

    def source() -> None:
        for i in range(5, 25):
            mp = packet(i)
            if stream.ingest(mp):
                handoff.put(stream.deliver, mp)
            time.sleep(0.005)

    waiting = asyncio.ensure_future(stream.wait_keyframe(5))
    await asyncio.sleep(0)
    assert stream.wanted  # a waiter: the source hands packets over
    th = threading.Thread(target=source)
    th.start()
    assert await waiting and stream.gop[0].dts == 10 * 3600
    await asyncio.to_thread(th.join)
    assert not stream.wanted  # served: nobody left on the loop
