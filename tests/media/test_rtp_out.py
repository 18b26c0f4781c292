"""The lean RTP send path without a peer connection: RFC 6184 packetisation, RFC 4588 retransmissions, SRTP +
sendmmsg on a loopback socket, and the batched thread → loop handoff."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading

import pytest
from pylibsrtp import Policy, Session

from media_gateway import rtp_out
from media_gateway.hub import Handoff
from media_gateway.rtp_out import packetize_h264, rtx_from, split_annexb

SPS = bytes([0x67, 0x64, 0x00, 0x28]) + bytes(range(1, 30))
PPS = bytes([0x68, 0xEE, 0x3C, 0x80])
SEI = bytes([0x06, 0x05, 0x02, 0x11, 0x22, 0x80])


def nal(ntype: int, size: int, nri: int = 3) -> bytes:
    body = bytes((i * 7 + 1) % 251 + 1 for i in range(size - 1))  # no zero bytes: no start-code emulation
    return bytes([(nri << 5) | ntype]) + body


def annexb(*nals: bytes) -> bytes:
    return b"".join((b"\x00\x00\x00\x01" if i % 2 == 0 else b"\x00\x00\x01") + n for i, n in enumerate(nals))


def depacketize(payloads: list[bytes]) -> list[bytes]:
    """A reference RFC 6184 receiver (single NAL, STAP-A, FU-A)."""
    out: list[bytes] = []
    fu: bytearray | None = None
    for p in payloads:
        t = p[0] & 0x1F
        if 1 <= t <= 23:
            out.append(p)
        elif t == 24:
            i = 1
            while i < len(p):
                n = struct.unpack_from("!H", p, i)[0]
                out.append(p[i + 2:i + 2 + n])
                i += 2 + n
            assert i == len(p)
        elif t == 28:
            start, end = p[1] & 0x80, p[1] & 0x40
            if start:
                assert fu is None
                fu = bytearray([(p[0] & 0xE0) | (p[1] & 0x1F)])
            assert fu is not None
            fu += p[2:]
            if end:
                out.append(bytes(fu))
                fu = None
        else:
            raise AssertionError(f"unexpected NAL type {t}")
    assert fu is None
    return out


def test_split_annexb_start_codes_and_trailing_zeros() -> None:
    idr = nal(5, 50)
    data = b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x01" + PPS + b"\x00\x00\x00\x00\x01" + idr + b"\x00\x00"
    assert split_annexb(data) == [SPS, PPS, idr]
    assert split_annexb(b"") == [] and split_annexb(b"\x00\x00\x01") == []


def test_keyframe_stap_a_then_fu_a() -> None:
    idr = nal(5, 5000)
    payloads = packetize_h264(annexb(SPS, PPS, SEI, idr), max_payload=1200)
    assert all(len(p) <= 1200 for p in payloads)
    stap = payloads[0]
    assert stap[0] & 0x1F == 24 and stap[0] & 0x60 == 0x60  # STAP-A with the highest NRI of its NAL units
    assert depacketize(payloads) == [SPS, PPS, SEI, idr]
    fus = payloads[1:]
    assert [p[0] & 0x1F for p in fus] == [28] * len(fus)
    assert fus[0][1] & 0x80 and not fus[0][1] & 0x40  # S bit on the first fragment only
    assert fus[-1][1] & 0x40 and not fus[-1][1] & 0x80  # E bit on the last only
    assert all(p[1] & 0xC0 == 0 for p in fus[1:-1])
    assert all(p[1] & 0x1F == 5 for p in fus) and all(p[0] & 0x60 == 0x60 for p in fus)
    assert len({len(p) for p in fus[:-1]}) == 1  # full-size fragments, the last one shorter


def test_single_nal_and_small_pairs() -> None:
    p_slice = nal(1, 900, nri=2)
    assert packetize_h264(annexb(p_slice)) == [p_slice]  # fits: single NAL unit packet
    # two small ones aggregate; one that would overflow the STAP-A starts a new packet
    a, b, c = nal(1, 500), nal(1, 500), nal(1, 500)
    payloads = packetize_h264(annexb(a, b, c), max_payload=1200)
    assert len(payloads) == 2 and payloads[0][0] & 0x1F == 24 and payloads[1] == c
    assert depacketize(payloads) == [a, b, c]
    # exactly the limit: still a single packet; one more byte: FU-A
    assert packetize_h264(annexb(nal(5, 1200)), max_payload=1200) == [nal(5, 1200)]
    assert len(packetize_h264(annexb(nal(5, 1201)), max_payload=1200)) == 2


def test_rtx_packet_layout() -> None:
    ext = struct.pack("!HH", 0xBEDE, 1) + bytes([0x10, 0x30, 0, 0])
    raw = struct.pack("!BBHII", 0x90, 0x80 | 96, 4242, 123456, 0x11111111) + ext + b"payload"
    rtx = rtx_from(raw, 97, 7, 0x22222222)
    assert rtx[0] == 0x90 and rtx[1] == 0x80 | 97  # marker kept, RTX payload type
    assert struct.unpack_from("!HII", rtx, 2) == (7, 123456, 0x22222222)
    assert rtx[12:20] == ext  # header extensions kept
    assert rtx[20:22] == struct.pack("!H", 4242) and rtx[22:] == b"payload"  # OSN, then the original payload


async def test_frame_out_protects_and_sends_in_order() -> None:
    loop = asyncio.get_running_loop()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)  # one burst of 300 datagrams
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2)
    tr, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))

    class Pair:
        class protocol:
            transport = tr
        remote_addr = rx.getsockname()

    key = os.urandom(30)
    prof = Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=prof))
    rxs = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=prof))
    try:
        out = rtp_out._FrameOut(tx, Pair())
        protect_fn, sendmmsg = rtp_out._native()
        if os.uname().sysname == "Linux":
            assert protect_fn is not None and sendmmsg is not None and out.ctx is not None
        head = bytearray(struct.pack("!BBHII", 0x80, 96, 0, 9000, 0xABCDEF))
        payloads = [bytes([i % 256]) * (300 + i) for i in range(300)]  # more than the initial 256 slots: regrows
        assert out.send(head, payloads, 65500, 96) == (65500 + 300) & 0xFFFF
        got = [rxs.unprotect(rx.recv(2048)) for _ in payloads]
        assert [struct.unpack_from("!H", g, 2)[0] for g in got] == [(65500 + i) & 0xFFFF for i in range(300)]
        assert [g[1] for g in got] == [96] * 299 + [0x80 | 96]  # marker on the frame's last packet
        assert [g[12:] for g in got] == payloads
        assert all(struct.unpack_from("!II", g, 4) == (9000, 0xABCDEF) for g in got)
    finally:
        tr.close()
        rx.close()


async def test_handoff_keeps_order_and_batches() -> None:
    loop = asyncio.get_running_loop()
    h = Handoff.of(loop)
    assert Handoff.of(loop) is h
    seen: list[tuple[int, int]] = []
    done = asyncio.Event()
    n_threads, n_items = 4, 2000

    def record(t: int, i: int) -> None:
        seen.append((t, i))
        if len(seen) == n_threads * n_items:
            done.set()

    def worker(t: int) -> None:
        for i in range(n_items):
            h.put(record, t, i)

    calls0, batches0 = h.calls, h.batches
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    async with asyncio.timeout(10):
        await done.wait()
    for th in threads:
        th.join()
    for t in range(n_threads):
        assert [i for tt, i in seen if tt == t] == list(range(n_items))  # each thread's calls in order
    assert h.calls - calls0 == n_threads * n_items
    assert h.batches - batches0 < n_threads * n_items  # several calls per loop wake-up


@pytest.mark.parametrize("bad", [b"", b"\x00\x00\x00"])
def test_packetize_nothing(bad: bytes) -> None:
    assert packetize_h264(bad) == []
