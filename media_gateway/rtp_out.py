"""A lean RTP send loop for pass-through H.264 (the live view's hot path).

aiortc's ``RTCRtpSender`` builds an ``RtpPacket`` object per packet, serialises its header extensions, SRTP-protects
and sends it through four layers of Python (DTLS transport → ICE connection → STUN protocol → asyncio transport):
~35 µs of CPU per packet on this machine, ~0.5 core for 32 cameras at 4 Mbit/s (≈13,800 packets/s) before
anything else runs on the event loop. This module replaces only the sender's RTP loop (``_run_rtp``) and its
retransmission (``_retransmit``) on one ``RTCRtpSender`` instance:

* packetisation per RFC 6184, packetization-mode 1 (:func:`packetize_h264`): a NAL unit that fits is sent alone
  or aggregated with its small neighbours in a STAP-A; a larger one is split into FU-A fragments;
* one header template per frame (aiortc serialises it once, with the negotiated ``mid`` and ``abs-send-time``
  extensions), per packet only the marker bit and sequence number are patched;
* SRTP with the DTLS transport's own libsrtp session, and ``sendto`` straight on the ICE pair's datagram transport.

Everything else stays aiortc's: signalling, ICE (consent checks), DTLS, RTCP sender reports (fed with the same
counters), NACK (answered from this loop's history, as RTX when negotiated) and PLI (a camera cannot be asked for
a keyframe; the viewer recovers at the next one).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import socket
import struct
import time
import types
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCRtpSender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RtpPacket
from aiortc.utils import random32

log = logging.getLogger("media_gateway.rtp_out")

MAX_PAYLOAD = 1200  # RTP payload bytes: with RTP header, extensions, SRTP tag, UDP and IPv6 < 1280 (min IPv6 MTU)
HISTORY = 256  # packets kept for NACK (a 1080p keyframe is ~100)
NTP_EPOCH = 2208988800  # 1900 → 1970
NAL_STAP_A = 24
NAL_FU_A = 28

# (annexb bytes, 90 kHz timestamp) of the next frame; raises MediaStreamError at the end
FrameSource = Callable[[], Awaitable[tuple[bytes, int]]]


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.POINTER(_Iovec)), ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t), ("msg_flags", ctypes.c_int)]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


def _load_native() -> tuple[Any, Any]:
    """(srtp_protect, sendmmsg) through ``ctypes.PyDLL``, i.e. called WITHOUT releasing the GIL; either may be
    None (then pylibsrtp / the asyncio transport are used)."""
    protect = send = None
    try:
        from pylibsrtp import _binding

        protect = ctypes.PyDLL(_binding.__file__).srtp_protect  # libsrtp 2: (srtp_t, void *rtp, int *len)
        protect.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        protect.restype = ctypes.c_int
    except (ImportError, OSError, AttributeError) as exc:  # pragma: no cover - depends on the wheel
        log.info("srtp_protect not reachable through ctypes (%r): using pylibsrtp", exc)
    try:
        send = ctypes.PyDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).sendmmsg
        send.argtypes = [ctypes.c_int, ctypes.POINTER(_Mmsghdr), ctypes.c_uint, ctypes.c_int]
        send.restype = ctypes.c_int
    except (OSError, AttributeError) as exc:  # pragma: no cover - not Linux
        log.info("sendmmsg not available (%r): sending datagram by datagram", exc)
    return protect, send


_NATIVE: tuple[Any, Any] | None = None


def _native() -> tuple[Any, Any]:
    global _NATIVE
    if _NATIVE is None:
        _NATIVE = _load_native()
    return _NATIVE


def _sockaddr(addr: tuple[Any, ...]) -> bytes:
    host, port = addr[0], addr[1]
    if ":" in host:
        return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI", port, 0) + socket.inet_pton(
            socket.AF_INET6, host) + struct.pack("=I", 0)
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton(host) + bytes(8)


class _FrameOut:
    """Protects a frame's packets in place into one buffer and sends them in one ``sendmmsg``.

    Why: the SRTP and socket calls are the only C calls per packet, and pylibsrtp (cffi) and ``socket.sendto``
    release and re-take the GIL around each one. With 32+ demux threads in the process, re-taking it is where the
    event loop lost most of its time (a GIL convoy: at N = 32 the loop thread was "busy" all the time at 35 % CPU).
    Through ``ctypes.PyDLL`` both run without releasing the GIL, and one system call sends the whole frame."""

    MAX_TRAILER = 144  # SRTP tag + MKI, as pylibsrtp reserves

    def __init__(self, session: Any, pair: Any) -> None:
        self.session = session
        self.pair = pair
        self.transport = pair.protocol.transport
        self.addr = pair.remote_addr
        self.protect_fn, self.sendmmsg = _native()
        self.ctx = None
        if self.protect_fn is not None:
            from pylibsrtp import _binding

            self.ctx = int(_binding.ffi.cast("uintptr_t", session._srtp[0]))
        raw = self.transport.get_extra_info("socket")
        self.fd = raw.fileno() if raw is not None else -1
        if self.fd < 0:
            self.sendmmsg = None
        self.name = ctypes.create_string_buffer(_sockaddr(self.addr))
        self.len = ctypes.c_int(0)
        self.len_p = ctypes.byref(self.len)
        self._alloc(1 << 18, 256)

    def _alloc(self, size: int, count: int) -> None:
        self.buf = ctypes.create_string_buffer(size)
        self.base = ctypes.addressof(self.buf)
        self.view = memoryview(self.buf).cast("B")
        self.iov = (_Iovec * count)()
        self.msgs = (_Mmsghdr * count)()
        name, namelen = ctypes.addressof(self.name), len(self.name.raw) - 1
        for k in range(count):
            h = self.msgs[k].msg_hdr
            h.msg_name, h.msg_namelen = name, namelen
            h.msg_iov = ctypes.pointer(self.iov[k])
            h.msg_iovlen = 1

    def send(self, head: bytearray, payloads: list[bytes], seq: int, pt: int) -> int:
        """Sends the frame's packets (sequence numbers from ``seq``, marker on the last); returns the next seq."""
        if self.transport.is_closing():  # its descriptor may be gone (and reused): never write to a stale fd
            raise ConnectionError("ICE transport closed")
        hl = len(head)
        need = sum(len(p) for p in payloads) + len(payloads) * (hl + self.MAX_TRAILER)
        if need > len(self.view) or len(payloads) > len(self.msgs):
            self._alloc(max(need, 2 * len(self.view)), max(len(payloads), 2 * len(self.msgs)))
        v, base, iov = self.view, self.base, self.iov
        off = 0
        last = len(payloads) - 1
        for i, pl in enumerate(payloads):
            head[1] = pt | 0x80 if i == last else pt
            head[2] = seq >> 8
            head[3] = seq & 0xFF
            n = hl + len(pl)
            if self.ctx is not None:
                v[off:off + hl] = head
                v[off + hl:off + n] = pl
                self.len.value = n
                rc = self.protect_fn(self.ctx, base + off, self.len_p)
                if rc != 0:
                    raise ConnectionError(f"srtp_protect failed ({rc})")
                n = self.len.value
            else:
                data = self.session.protect(bytes(head) + pl)
                n = len(data)
                v[off:off + n] = data
            iov[i].iov_base = base + off
            iov[i].iov_len = n
            off += n
            seq = (seq + 1) & 0xFFFF
        count = last + 1
        sent = 0
        if self.sendmmsg is not None and not self.transport.get_write_buffer_size():
            sent = max(0, self.sendmmsg(self.fd, self.msgs, count, 0))  # -1 + EAGAIN: the transport buffers
        for i in range(sent, count):
            self.transport.sendto(ctypes.string_at(iov[i].iov_base, iov[i].iov_len), self.addr)
        return seq


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B access unit (start codes 00 00 01 / 00 00 00 01; trailing zero bytes dropped)."""
    out: list[bytes] = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        start = i + 3
        i = data.find(b"\x00\x00\x01", start)
        end = len(data) if i < 0 else i
        while end > start and data[end - 1] == 0:  # the next 4-byte start code's zero, or trailing_zero_8bits
            end -= 1
        if end > start:
            out.append(data[start:end])
    return out


def packetize_h264(data: bytes, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """RTP payloads for one H.264 access unit in Annex B (RFC 6184, packetization-mode 1)."""
    payloads: list[bytes] = []
    stap: list[bytes] = []
    stap_size = 1  # the STAP-A NAL header

    def flush_stap() -> None:
        nonlocal stap_size
        if len(stap) == 1:
            payloads.append(stap[0])  # single NAL unit packet
        elif stap:
            f = max(n[0] & 0x80 for n in stap)
            nri = max(n[0] & 0x60 for n in stap)
            payloads.append(bytes([f | nri | NAL_STAP_A]) + b"".join(
                struct.pack("!H", len(n)) + n for n in stap))
        stap.clear()
        stap_size = 1

    for nal in split_annexb(data):
        if len(nal) > max_payload:
            flush_stap()
            indicator = (nal[0] & 0xE0) | NAL_FU_A
            ntype = nal[0] & 0x1F
            body = memoryview(nal)[1:]
            size = max_payload - 2  # full-size fragments, the last one shorter
            n = (len(body) + size - 1) // size
            for k in range(n):
                part = body[k * size:(k + 1) * size]
                fu = ntype | (0x80 if k == 0 else 0) | (0x40 if k == n - 1 else 0)
                payloads.append(bytes((indicator, fu)) + part)
            continue
        if stap_size + 2 + len(nal) > max_payload:
            flush_stap()
        stap.append(nal)
        stap_size += 2 + len(nal)
    flush_stap()
    return payloads


def rtx_from(raw: bytes, rtx_pt: int, rtx_seq: int, rtx_ssrc: int) -> bytes:
    """RFC 4588 retransmission packet of the (unprotected) RTP packet ``raw``: same header with the RTX payload
    type, sequence number and SSRC; the payload is prefixed with the original sequence number."""
    cc = raw[0] & 0x0F
    hlen = 12 + 4 * cc
    if raw[0] & 0x10:
        hlen += 4 + 4 * struct.unpack_from("!H", raw, hlen + 2)[0]
    head = bytearray(raw[:hlen])
    head[1] = (head[1] & 0x80) | rtx_pt
    struct.pack_into("!H", head, 2, rtx_seq)
    struct.pack_into("!I", head, 8, rtx_ssrc)
    return bytes(head) + raw[2:4] + raw[hlen:]


class LeanSender:
    """State of the lean loop for one ``RTCRtpSender`` (installed by :func:`install`)."""

    def __init__(self, sender: RTCRtpSender, next_frame: FrameSource, on_stop: Callable[[], None]) -> None:
        self.sender = sender
        self.next_frame = next_frame
        self.on_stop = on_stop
        # seq → (seq, header template of its frame, marker, payload), for NACKs
        self.history: list[tuple[int, bytes, bool, bytes] | None] = [None] * HISTORY
        self.packets = 0
        self.frames = 0
        self.started_at: float | None = None  # time.monotonic(): aiortc starts this loop once DTLS is connected
        self.first_sent_at: float | None = None  # … and the first frame's packets are on the wire

    # name-mangled state of RTCRtpSender that RTCP (sender reports, stats) reads
    def _set(self, name: str, value: Any) -> None:
        setattr(self.sender, f"_RTCRtpSender__{name}", value)

    def _get(self, name: str) -> Any:
        return getattr(self.sender, f"_RTCRtpSender__{name}")

    async def run_rtp(self, codec: RTCRtpCodecParameters) -> None:
        s = self.sender
        self.started_at = time.monotonic()
        self._get("rtp_started").set()
        pt = codec.payloadType
        seq = random_sequence_number()
        ts_origin = random32()
        ssrc = s._ssrc
        hmap = self._get("rtp_header_extensions_map")
        mid = self._get("mid")
        history = self.history
        octets = 0
        out: _FrameOut | None = None
        try:
            while True:
                data, ts90 = await self.next_frame()
                dtls = s.transport
                if dtls.state != "connected":
                    raise ConnectionError("not connected")
                pair = dtls.transport._connection._nominated.get(1)
                if pair is None:
                    raise ConnectionError("no nominated ICE pair")
                payloads = packetize_h264(data)
                if not payloads:
                    continue
                if out is None or out.pair is not pair or out.session is not dtls._tx_srtp:
                    out = _FrameOut(dtls._tx_srtp, pair)
                ts = (ts_origin + ts90) & 0xFFFFFFFF
                tmpl = RtpPacket(payload_type=pt, sequence_number=0, timestamp=ts, ssrc=ssrc)
                tmpl.extensions.mid = mid
                tmpl.extensions.abs_send_time = int((time.time() + NTP_EPOCH) * 262144) & 0xFFFFFF  # 6.18 s
                template = tmpl.serialize(hmap)
                last = len(payloads) - 1
                for i, pl in enumerate(payloads):
                    history[(seq + i) % HISTORY] = ((seq + i) & 0xFFFF, template, i == last, pl)
                    octets += len(pl)
                seq = out.send(bytearray(template), payloads, seq, pt)
                if self.first_sent_at is None:
                    self.first_sent_at = time.monotonic()
                n = len(payloads)
                self.packets += n
                self.frames += 1
                self._set("packet_count", self.packets)
                self._set("octet_count", octets)
                self._set("rtp_timestamp", ts)
                self._set("ntp_timestamp", int((time.time() + NTP_EPOCH) * (1 << 32)))
                # let the other senders, RTCP and the sources run between frames (next_frame may not suspend)
                await asyncio.sleep(0)
        except (asyncio.CancelledError, ConnectionError, MediaStreamError):
            pass
        except Exception:
            log.exception("lean RTP sender failed")
        finally:
            self.on_stop()
            self._get("rtp_exited").set()

    async def retransmit(self, sequence_number: int) -> None:
        item = self.history[sequence_number % HISTORY]
        if item is None or item[0] != sequence_number:
            return
        _, template, marker, payload = item
        head = bytearray(template)
        head[1] |= 0x80 if marker else 0
        struct.pack_into("!H", head, 2, sequence_number)
        raw = bytes(head) + payload
        rtx_pt = self._get("rtx_payload_type")
        if rtx_pt is not None:
            rtx_seq = self._get("rtx_sequence_number")
            raw = rtx_from(raw, rtx_pt, rtx_seq, self.sender._rtx_ssrc)
            self._set("rtx_sequence_number", (rtx_seq + 1) & 0xFFFF)
        try:
            await self.sender.transport._send_rtp(raw)
        except ConnectionError:
            pass


def install(sender: RTCRtpSender, next_frame: FrameSource, on_stop: Callable[[], None]) -> LeanSender:
    """Makes ``sender`` use the lean loop; call before the peer connection starts sending (``sender.send``)."""
    lean = LeanSender(sender, next_frame, on_stop)
    sender._run_rtp = types.MethodType(lambda _self, codec: lean.run_rtp(codec), sender)  # type: ignore[method-assign]
    sender._retransmit = types.MethodType(lambda _self, seq: lean.retransmit(seq), sender)  # type: ignore[method-assign]
    return lean
