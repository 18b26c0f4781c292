"""Media relay benchmark: N RTSP cameras (gst-rtsp-server, pre-encoded content) → the media gateway (pulls all N,
records all N, sends each to one WebRTC viewer) → WebRTC viewers in separate processes counting received frames.

    .venv/bin/python bench/media_relay.py --streams 8 --resolution 1080p --bitrate 4M
    .venv/bin/python bench/media_relay.py --streams 8 --full-viewers      # aiortc's whole receive path

Processes besides this one: the RTSP server, the gateway (``--role gateway``, a tiny HTTP API for offers and
stats) and ``--viewer-procs`` viewer processes (``--role viewers``). Phases: (1) pull + record only, (2) pull +
record + N viewers, (3) the gateway stopped, ``ffmpeg -c copy`` records the same N streams. Prints JSON.

Viewers (see bench/README.md): every viewer is a real aiortc ``RTCPeerConnection`` (ICE, consent checks, DTLS, SRTP
keys). By default ("lean") the RTP packets are counted on the socket: the RTP header (sequence number, timestamp,
marker) is in clear in SRTP, so a frame counts as delivered when every sequence number from the previous frame's
marker to its own marker arrived. No SRTP unprotect, no jitter buffer, no NACK/PLI: this measures what the gateway
put on the wire, at a receive cost low enough that the viewers do not starve the gateway on a 2-core machine.
``--full-viewers`` runs aiortc's real receive path (SRTP unprotect, depacketise, jitter buffer, NACK) and counts
the frames it assembles, without decoding them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import CLK_TCK, machine_cpu, percentile, proc_sample  # noqa: E402


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        s = proc_sample(pid)
        if s:
            total += s.cpu_s
    return total


def thread_cpu(pid: int, tid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    except OSError:
        return 0.0
    f = stat[stat.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    res = [int(x) for x in out]
    for c in list(res):
        res += children(c)
    return res


def udp_errors() -> dict[str, int]:
    """Machine-wide UDP counters (/proc/net/snmp): RcvbufErrors = datagrams dropped because a socket's receive
    buffer was full."""
    lines = [ln.split() for ln in Path("/proc/net/snmp").read_text().splitlines() if ln.startswith("Udp:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:]), strict=False))


class CpuMeter:
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __enter__(self) -> CpuMeter:
        self.t0, self.c0 = time.monotonic(), self.fn()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.t0
        c1 = self.fn()
        if isinstance(c1, list):  # one figure per process / thread
            self.cpu_pcts = [round((b - a) / self.elapsed * 100, 1) for a, b in zip(self.c0, c1, strict=True)]
            self.cpu_pct = sum(self.cpu_pcts)
        else:
            self.cpu_pct = (c1 - self.c0) / self.elapsed * 100


class LoopLag:
    """Event-loop responsiveness: how late a 20 ms sleep wakes up."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.02)
            self.samples.append((time.monotonic() - t - 0.02) * 1000)

    def take(self) -> dict[str, float | None]:
        s, self.samples = sorted(self.samples), []
        return {"p50": _r(percentile(s, 50)), "p99": _r(percentile(s, 99)), "max": _r(s[-1] if s else None)}


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


# --- gateway process ---------------------------------------------------------------------------------------------

async def run_gateway(port: int, var_dir: Path, lean_rtp: bool, workers: int | None) -> None:
    from aiohttp import web

    from media_gateway import MediaError, MediaGateway

    gw = MediaGateway(var_dir, segment_s=60, idle_timeout_s=600, lean_rtp=lean_rtp, workers=workers)
    await gw.start()
    lag = LoopLag()
    offered: dict[str, str] = {}  # session → camera, as answered (a session that ends early stays in the count)

    async def configure(req: web.Request) -> web.Response:
        body = await req.json()
        await gw.configure_camera(body["id"], body["url"], record_continuous=body.get("record", False))
        return web.json_response({})

    async def offer(req: web.Request) -> web.Response:
        body = await req.json()
        try:
            sid, sdp = await gw.webrtc_answer(body["id"], body["sdp"])
        except MediaError as exc:
            return web.json_response({"error": exc.message}, status=exc.status)
        offered[sid] = body["id"]
        return web.json_response({"session": sid, "sdp": sdp})

    async def stats(req: web.Request) -> web.Response:
        if req.query.get("fresh"):
            await gw.refresh_stats()
        out = gw.stats()
        sessions = await gw.session_stats()
        out["tracks"] = {cid: sessions[sid]["frames_sent"] for sid, cid in offered.items() if sid in sessions}
        out["closed_sessions"] = [{"camera": cid, "state": sessions.get(sid, {}).get("state")}
                                  for sid, cid in offered.items() if sid not in gw.sessions]
        out["worker_pids"] = gw.worker_pids()
        if req.query.get("lag"):  # the orchestrator's calls delimit the measured windows; the viewers' do not
            out["loop_lag_ms"] = lag.take()
        return web.json_response(out, dumps=lambda o: json.dumps(o, default=str))

    async def close_all(req: web.Request) -> web.Response:
        async def close(sid: str) -> None:
            with contextlib.suppress(MediaError):  # it may have closed by itself meanwhile
                await gw.webrtc_close(sid)

        await asyncio.gather(*(close(sid) for sid in list(gw.sessions)))
        # final counters of the closed sessions: frames sent, and what the hub had for the viewer but did not
        # send (dropped by its queue when the sender fell behind, or still queued)
        sessions = await gw.session_stats()
        final = {sid: sessions[sid] for sid in offered if sid in sessions}
        return web.json_response({"tracks": {offered[sid]: st["frames_sent"] for sid, st in final.items()},
                                  "hub_lost": {offered[sid]: (st["dropped"] or 0) + (st["queued"] or 0)
                                               for sid, st in final.items()},
                                  # the gateway's timestamps of each session's start (None from older code)
                                  "timing": {offered[sid]: st.get("timing") for sid, st in final.items()}})

    app = web.Application()
    app.router.add_post("/close_sessions", close_all)
    app.router.add_post("/configure", configure)
    app.router.add_post("/offer", offer)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("READY", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await gw.stop()
    await runner.cleanup()


# --- viewers process ---------------------------------------------------------------------------------------------

class RtpCounter:
    """Lean viewer: keeps the clear RTP header bytes 1..7 (marker+PT, sequence number, timestamp) of every packet
    as it comes off the socket, and the arrival time of each marker packet. :meth:`frames` works out, afterwards,
    which frames arrived whole."""

    __slots__ = ("hdrs", "marks", "t_first", "t_start")

    def __init__(self) -> None:
        self.hdrs: list[bytes] = []
        self.marks: list[tuple[int, float]] = []  # (number of headers up to and including the marker, time)
        self.t_start = 0.0
        self.t_first: float | None = None  # the first RTP packet off the socket

    def add(self, data: bytes) -> None:
        if self.t_first is None:
            self.t_first = time.monotonic()
        self.hdrs.append(data[1:8])
        if data[1] & 0x80:
            self.marks.append((len(self.hdrs), time.monotonic()))

    def frames(self, upto: int | None = None) -> dict[str, Any]:
        """Complete frames among the first ``upto`` packets (all by default): frames end at a marker; the packets
        from the previous marker (exclusive) to this marker (inclusive) must all be there. A lost marker merges two
        frames into one range, which is then counted as one incomplete frame (conservative)."""
        hdrs = self.hdrs if upto is None else self.hdrs[:upto]
        if not hdrs:
            return {"complete": 0, "packets": 0, "lost_packets": 0, "first_complete_at": None, "other_pt": 0}
        pts = [h[0] & 0x7F for h in hdrs[:64]]
        pt = max(set(pts), key=pts.count)  # the media payload type (RTX would have another one)
        ext: list[int | None] = []  # extended sequence number of each header (None: another payload type)
        last = last_e = None
        for h in hdrs:
            if h[0] & 0x7F != pt:
                ext.append(None)
                continue
            seq = (h[1] << 8) | h[2]
            if last is None or last_e is None:
                e = seq
            else:
                d = (seq - last) & 0xFFFF
                e = last_e + d if d < 0x8000 else last_e - ((last - seq) & 0xFFFF)
            ext.append(e)
            last, last_e = seq, e
        got = {e for e in ext if e is not None}
        markers = sorted({e for e, h in zip(ext, hdrs, strict=True) if e is not None and h[0] & 0x80})
        complete: set[int] = set()
        prev = min(got) - 1
        for m in markers:
            if all(s in got for s in range(prev + 1, m + 1)):
                complete.add(m)
            prev = m
        first_at = None
        for idx, t in self.marks:
            if idx > len(hdrs):
                break
            if ext[idx - 1] in complete:
                first_at = t
                break
        return {"complete": len(complete), "packets": len(got), "lost_packets": max(got) - min(got) + 1 - len(got),
                "first_complete_at": first_at, "other_pt": sum(1 for e in ext if e is None)}


def install_lean_counting(counters: dict[Any, RtpCounter]) -> None:
    """Counts SRTP packets on the ICE socket instead of handing them to aiortc: STUN (consent checks), DTLS and
    SRTCP still go the normal way."""
    import aioice.ice

    orig = aioice.ice.StunProtocol.datagram_received

    def datagram_received(self: Any, data: bytes, addr: Any) -> None:
        if len(data) >= 12 and 128 <= data[0] < 192 and not 192 <= data[1] <= 223:  # RTP, not RTCP (RFC 5761)
            c = counters.get(self)
            if c is not None:
                c.add(data)
                return
        orig(self, data, addr)

    aioice.ice.StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]


def _counting_worker(loop: asyncio.AbstractEventLoop, input_q: Any, output_q: asyncio.Queue,
                     *args: Any) -> None:
    """Full viewers: replaces aiortc's decoder thread; counts the frames its jitter buffer assembled."""
    while True:
        task = input_q.get()
        if task is None:
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            return
        loop.call_soon_threadsafe(output_q.put_nowait, time.monotonic())


def _ice_protocols(pc: Any) -> list[Any]:
    protos = []
    for t in pc.getTransceivers():
        conn = t.receiver.transport.transport._connection
        protos += list(conn._protocols)
    return protos


async def run_viewers(gateway: str, ids: list[str], out_path: Path, full: bool, rcvbuf: int) -> None:
    import aiohttp
    import aiortc.rtcrtpreceiver
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    lag = LoopLag()
    counters: dict[Any, RtpCounter] = {}
    per_cam: dict[str, RtpCounter] = {}
    frames: dict[str, int] = dict.fromkeys(ids, 0)
    first: dict[str, float | None] = dict.fromkeys(ids)
    t_post: dict[str, float] = {}
    # time.monotonic() (the machine's clock, the gateway's too) of each viewer's steps: answer received, answer
    # applied, connected (ICE + DTLS done on this side)
    steps: dict[str, dict[str, float]] = {cid: {} for cid in ids}
    states: dict[str, str] = {}
    rcvbuf_eff: list[int] = []
    if full:
        aiortc.rtcrtpreceiver.decoder_worker = _counting_worker  # type: ignore[assignment]
    else:
        install_lean_counting(counters)
    pcs = []
    tasks = []
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())

    threading.Thread(target=read_stdin, daemon=True).start()

    async with aiohttp.ClientSession() as http:
        for cid in ids:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pc.addTransceiver("video", direction="recvonly")

            def on_track(track: Any, cid: str = cid) -> None:
                async def read() -> None:
                    try:
                        while True:
                            t = await track.recv()
                            if first[cid] is None:
                                first[cid] = (t - t_post[cid]) * 1000
                            frames[cid] += 1
                    except Exception:
                        return
                tasks.append(asyncio.ensure_future(read()))

            def on_state(pc: Any = pc, cid: str = cid) -> None:
                states[cid] = pc.connectionState
                steps[cid].setdefault(pc.connectionState, time.monotonic())

            pc.on("track", on_track)
            pc.on("connectionstatechange", on_state)
            await pc.setLocalDescription(await pc.createOffer())  # gathers: the sockets exist from here on
            for proto in _ice_protocols(pc):
                sock = proto.transport.get_extra_info("socket")
                if rcvbuf:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                rcvbuf_eff.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
                if not full:
                    c = per_cam.setdefault(cid, RtpCounter())
                    counters[proto] = c
            t_post[cid] = time.monotonic()
            if cid in per_cam:
                per_cam[cid].t_start = t_post[cid]
            async with http.post(f"{gateway}/offer", json={"id": cid, "sdp": pc.localDescription.sdp}) as r:
                ans = await r.json()
            steps[cid]["answer"] = time.monotonic()
            await pc.setRemoteDescription(RTCSessionDescription(ans["sdp"], "answer"))
            steps[cid]["applied"] = time.monotonic()
            pcs.append(pc)
        lags = {"connect": lag.take()}  # while the viewers connected one after another (their first frames)
        print("CONNECTED", flush=True)

        async def snap() -> dict[str, Any]:
            got = {c: len(per_cam[c].hdrs) for c in ids if c in per_cam} if not full else dict(frames)
            async with http.get(f"{gateway}/stats") as r:  # frames sent, at the same moment
                return {"recv": got, "sent": (await r.json())["tracks"], "t": time.monotonic()}

        snaps: dict[str, Any] = {}
        while True:
            cmd = await commands.get()
            if cmd.startswith("SNAP"):
                lags[cmd] = lag.take()
                snaps[cmd] = await snap()
                print(f"{cmd} done", flush=True)
            elif cmd == "REPORT":
                break
        result: dict[str, Any] = {"mode": "full" if full else "lean", "states": states, "loop_lag_ms": lags,
                                  "rcvbuf_bytes": sorted(set(rcvbuf_eff)), "snaps": snaps, "streams": {}}
        for cid in ids:
            if full:
                result["streams"][cid] = {
                    "frames0": snaps["SNAP0"]["recv"].get(cid, 0), "frames1": snaps["SNAP1"]["recv"].get(cid, 0),
                    "frames_end": frames[cid], "first_frame_ms": first[cid], "lost_packets": None}
            else:
                c = per_cam[cid]
                f0, f1, fend = c.frames(snaps["SNAP0"]["recv"][cid]), c.frames(snaps["SNAP1"]["recv"][cid]), \
                    c.frames()
                result["streams"][cid] = {
                    "frames0": f0["complete"], "frames1": f1["complete"], "frames_end": fend["complete"],
                    "packets": fend["packets"], "lost_packets": fend["lost_packets"], "other_pt": fend["other_pt"],
                    "first_frame_ms": (fend["first_complete_at"] - c.t_start) * 1000
                    if fend["first_complete_at"] else None,
                    "t": {"post": c.t_start, **steps[cid], "first_rtp": c.t_first,
                          "first_frame": fend["first_complete_at"]}}
        await asyncio.to_thread(out_path.write_text, json.dumps(result))
        print("DONE", flush=True)
        await asyncio.sleep(3600)


# --- orchestration -----------------------------------------------------------------------------------------------

# A viewer's first frame, step by step (ms), from the viewer's and the gateway's time.monotonic() (one clock on the
# machine): (viewer) POST /offer → (gateway) request in the process that owns the camera → answer ready → (viewer)
# answer received → applied → (gateway) DTLS connected, the sender starts → first frame on the wire → (viewer) first
# complete frame. "gateway_work" is what the gateway itself spends on the critical path (answering, and from DTLS
# connected to the first frame sent); "gateway_request_to_first_sent" also contains the ICE and DTLS round trips,
# i.e. the viewer's replies.
FIRST_FRAME_STEPS = (("offer_to_gateway", "post", "requested"), ("gateway_answer", "requested", "answered"),
                     ("answer_to_viewer", "answered", "answer"), ("viewer_apply", "answer", "applied"),
                     ("ice_dtls", "applied", "connected"), ("gateway_first_send", "connected", "first_sent"),
                     ("to_viewer_frame", "first_sent", "first_frame"),
                     ("gateway_request_to_first_sent", "requested", "first_sent"), ("total", "post", "first_frame"))


def first_frame_steps(streams: dict[str, Any], gw_timing: dict[str, Any], ids: list[str]) -> dict[str, Any] | None:
    per: dict[str, dict[str, float | None]] = {}
    for cid in ids:
        g = gw_timing.get(cid)
        t = streams[cid].get("t")
        if not g or not t:
            continue
        marks = {**t, **{k: v for k, v in g.items() if v is not None}}
        row = {name: (marks[b] - marks[a]) * 1000 if marks.get(a) and marks.get(b) else None
               for name, a, b in FIRST_FRAME_STEPS}
        ga, gs = row["gateway_answer"], row["gateway_first_send"]
        row["gateway_work"] = ga + gs if ga is not None and gs is not None else None
        per[cid] = row
    if not per:
        return None  # viewers or gateway without the timestamps (full viewers, older gateway code)
    out: dict[str, Any] = {}
    for name in [*(x[0] for x in FIRST_FRAME_STEPS), "gateway_work"]:
        vals = sorted(v for v in (r[name] for r in per.values()) if v is not None)
        out[name] = {"median": _r(vals[len(vals) // 2]) if vals else None, "max": _r(vals[-1]) if vals else None}
    slow = sorted(per, key=lambda c: per[c]["total"] or 0.0, reverse=True)[:3]
    out["slowest"] = {c: {k: _r(v) for k, v in per[c].items()} for c in slow}
    return out


def wait_line(proc: subprocess.Popen[bytes], word: str, timeout: float) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"process exited before {word}")
        if word.encode() in line:
            return
    raise RuntimeError(f"timed out waiting for {word}")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def send(proc: subprocess.Popen[bytes], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line.encode() + b"\n")
    proc.stdin.flush()


def bench(args: argparse.Namespace) -> dict[str, Any]:
    import urllib.request

    from tests.peers.rtsp_server import RtspServer, clip, free_port

    n = args.streams
    work = Path(tempfile.mkdtemp(prefix="media-relay-"))
    c = clip(args.resolution, bitrate=args.bitrate, gop=args.gop, fps=args.fps)
    srv = RtspServer(work / "rtsp", {f"cam{i}": c for i in range(1, n + 1)}).start()
    gport = free_port()
    gurl = f"http://127.0.0.1:{gport}"
    py = sys.executable
    gw = None
    vws: list[subprocess.Popen[bytes]] = []
    result: dict[str, Any] = {"streams": n, "resolution": args.resolution, "bitrate": args.bitrate, "fps": args.fps,
                              "gop": args.gop, "cores": os.cpu_count(),
                              "viewer_mode": "full" if args.full_viewers else "lean",
                              "viewer_procs": args.viewer_procs, "seconds": args.seconds,
                              "sender": "aiortc" if args.aiortc_sender else "lean"}

    def post(path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(gurl + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}")

    def get_stats() -> dict[str, Any]:
        with urllib.request.urlopen(gurl + "/stats?lag=1&fresh=1", timeout=30) as r:
            return json.loads(r.read())

    def machine_busy() -> float:
        return machine_cpu()[0]

    ids = [f"cam{i}" for i in range(1, n + 1)]

    def start_gateway(var: Path) -> subprocess.Popen[bytes]:
        """A gateway process pulling and recording all N cameras (staggered connects)."""
        proc = subprocess.Popen([py, __file__, "--role", "gateway", "--port", str(gport), "--var", str(var),
                                 *(["--aiortc-sender"] if args.aiortc_sender else []),
                                 *(["--workers", str(args.workers)] if args.workers is not None else [])],
                                stdout=subprocess.PIPE, cwd=ROOT)
        wait_line(proc, "READY", 30)
        for cid in ids:  # staggered: simultaneous connects can crash GStreamer 1.22's shared media
            post("/configure", {"id": cid, "url": srv.url(cid), "record": True})
            time.sleep(args.stagger)
        time.sleep(3)
        return proc

    def record_only_cpu(gw_pids: list[int]) -> float:
        with CpuMeter(lambda: cpu_of(gw_pids)) as m:
            time.sleep(args.seconds)
        return round(m.cpu_pct, 1)

    def ffmpeg_cpu(k: int) -> float:
        """``ffmpeg -c copy`` to fragmented MP4 of the same N streams (one process per stream, staggered like the
        gateway's connects, measured as long and as late after the last connect)."""
        ff_dir = work / f"ffmpeg{k}"
        ff_dir.mkdir()
        procs = []
        try:
            for cid in ids:
                procs.append(subprocess.Popen(
                    ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", srv.url(cid), "-c", "copy", "-f",
                     "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof", str(ff_dir / f"{cid}.mp4")],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                time.sleep(args.stagger)
            time.sleep(3)
            with CpuMeter(lambda: cpu_of([p.pid for p in procs])) as m:
                time.sleep(args.seconds)
        finally:
            for p in procs:
                p.send_signal(signal.SIGINT)
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        subprocess.run(["rm", "-rf", str(ff_dir)], check=False)
        return round(m.cpu_pct, 1)

    try:
        gw = start_gateway(work / "var")
        gw_pid = gw.pid
        srv_pids = lambda: [srv.pid, *children(srv.pid)] if srv.pid else []  # noqa: E731
        # phase 1: pull + record
        wpids = get_stats()["worker_pids"]
        gw_pids = [gw_pid, *wpids]  # the gateway = the facade's process and its worker processes
        result["gateway_workers"] = len(wpids)
        with CpuMeter(lambda: cpu_of(gw_pids)) as rec_cpu, CpuMeter(lambda: cpu_of(srv_pids())) as srv_cpu1, \
                CpuMeter(lambda: thread_cpu(gw_pid, gw_pid)) as rec_loop, \
                CpuMeter(lambda: [thread_cpu(p, p) for p in wpids]) as rec_wloops:
            time.sleep(args.seconds)
        s = get_stats()
        result["gateway_record_only_cpu_pct"] = round(rec_cpu.cpu_pct, 1)
        result["gateway_record_only_loop_thread_cpu_pct"] = round(rec_loop.cpu_pct, 1)
        result["gateway_record_only_worker_loop_threads_cpu_pct"] = rec_wloops.cpu_pcts
        result["gateway_record_only_loop_lag_ms"] = s["loop_lag_ms"]
        result["rtsp_server_cpu_pct_phase1"] = round(srv_cpu1.cpu_pct, 1)
        # phase 2: + one WebRTC viewer per stream
        groups = [ids[i::args.viewer_procs] for i in range(args.viewer_procs)]
        outs = [work / f"viewers{i}.json" for i in range(len(groups))]
        udp0 = udp_errors()
        for g, out in zip(groups, outs, strict=True):
            cmd = [py, __file__, "--role", "viewers", "--gateway", gurl, "--ids", ",".join(g), "--out", str(out),
                   "--rcvbuf", str(args.rcvbuf)]
            if args.full_viewers:
                cmd.append("--full-viewers")
            vws.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.PIPE, cwd=ROOT))
        with CpuMeter(lambda: cpu_of([v.pid for v in vws])) as vw_connect_cpu, \
                CpuMeter(lambda: cpu_of(gw_pids)) as gw_connect_cpu, CpuMeter(machine_busy) as mach_connect:
            for vw in vws:
                wait_line(vw, "CONNECTED", 180)
        # while the viewers connect one after another (when their first frames are measured): is either side
        # saturated? (the viewers' figure includes their interpreter start-up)
        result["connect_phase"] = {"seconds": round(vw_connect_cpu.elapsed, 1),
                                   "viewers_cpu_pct": round(vw_connect_cpu.cpu_pct, 1),
                                   "gateway_cpu_pct": round(gw_connect_cpu.cpu_pct, 1),
                                   "machine_cpu_pct": round(mach_connect.cpu_pct, 1)}
        time.sleep(args.settle)  # start-up (ICE/DTLS, GOP catch-up) is reported apart from the steady state
        get_stats()
        udp1 = udp_errors()
        for vw in vws:
            send(vw, "SNAP0")
        vw_pids = lambda: [v.pid for v in vws]  # noqa: E731
        with CpuMeter(lambda: cpu_of(gw_pids)) as gw_cpu, CpuMeter(lambda: cpu_of(srv_pids())) as srv_cpu, \
                CpuMeter(lambda: cpu_of(vw_pids())) as vw_cpu, CpuMeter(machine_busy) as mach, \
                CpuMeter(lambda: thread_cpu(gw_pid, gw_pid)) as gw_loop, \
                CpuMeter(lambda: [thread_cpu(p, p) for p in wpids]) as gw_wloops:
            for vw in vws:
                wait_line(vw, "SNAP0 done", 30)
            time.sleep(args.seconds)
            for vw in vws:
                send(vw, "SNAP1")
            for vw in vws:
                wait_line(vw, "SNAP1 done", 30)
        udp2 = udp_errors()
        s1 = get_stats()
        rss = [proc_sample(p) for p in gw_pids]
        closed = post("/close_sessions", {})  # the gateway stops sending: totals are final
        final_sent, hub_lost = closed["tracks"], closed["hub_lost"]
        gw_timing = closed.get("timing") or {}
        time.sleep(1.0)
        for vw in vws:
            send(vw, "REPORT")
        for vw in vws:
            wait_line(vw, "DONE", 120)
        views = [json.loads(o.read_text()) for o in outs]
        streams: dict[str, Any] = {}
        for v in views:
            streams.update(v["streams"])
        sent0: dict[str, int] = {}
        sent1: dict[str, int] = {}
        for v in views:
            for cid in v["streams"]:
                sent0[cid] = v["snaps"]["SNAP0"]["sent"].get(cid, 0)
                sent1[cid] = v["snaps"]["SNAP1"]["sent"].get(cid, 0)
        steady_sent = sum(sent1[c] - sent0[c] for c in ids)
        window_s = sum(v["snaps"]["SNAP1"]["t"] - v["snaps"]["SNAP0"]["t"] for v in views) / len(views)
        steady_recv = sum(streams[c]["frames1"] - streams[c]["frames0"] for c in ids)
        total_sent = sum(final_sent.get(c, 0) for c in ids)
        total_offered = total_sent + sum(hub_lost.get(c, 0) for c in ids)
        total_recv = sum(streams[c]["frames_end"] for c in ids)
        firsts = sorted(streams[c]["first_frame_ms"] for c in ids if streams[c]["first_frame_ms"] is not None)
        lost = [streams[c]["lost_packets"] for c in ids if streams[c]["lost_packets"] is not None]
        packets = sum(streams[c].get("packets", 0) for c in ids)
        result.update({
            "gateway_cpu_pct": round(gw_cpu.cpu_pct, 1),
            "gateway_loop_thread_cpu_pct": round(gw_loop.cpu_pct, 1),
            "gateway_loop_lag_ms": s1["loop_lag_ms"],
            "gateway_worker_loop_threads_cpu_pct": gw_wloops.cpu_pcts,
            "gateway_rss_mb": round(sum(r.rss_mb for r in rss if r), 1),
            "rtsp_server_cpu_pct": round(srv_cpu.cpu_pct, 1),
            "viewers_cpu_pct": round(vw_cpu.cpu_pct, 1),
            "viewers_loop_lag_ms": [v["loop_lag_ms"].get("SNAP1") for v in views],
            "viewers_loop_lag_connect_ms": [v["loop_lag_ms"].get("connect") for v in views],
            "machine_cpu_pct": round(mach.cpu_pct, 1),
            "other_cpu_pct": round(mach.cpu_pct - gw_cpu.cpu_pct - srv_cpu.cpu_pct - vw_cpu.cpu_pct, 1),
            "frames_offered_total": total_offered, "frames_sent_total": total_sent,
            "frames_received_total": total_recv,
            "delivered_pct": round(100 * total_recv / total_offered, 2) if total_offered else None,
            "received_of_sent_pct": round(100 * total_recv / total_sent, 2) if total_sent else None,
            "sent_fps_per_stream": round(steady_sent / args.seconds / n, 2),
            "received_fps_per_stream": round(steady_recv / window_s / n, 2),
            "rtp_packets_received": packets or None,
            "rtp_packets_lost": sum(lost) if lost else None,
            "udp_rcvbuf_errors_startup": udp1["RcvbufErrors"] - udp0["RcvbufErrors"],
            "udp_rcvbuf_errors_steady": udp2["RcvbufErrors"] - udp1["RcvbufErrors"],
            "viewer_rcvbuf_bytes": sorted({b for v in views for b in v["rcvbuf_bytes"]}),
            "hub_dropped_packets": sum(c["dropped_packets"] for c in s1["cameras"].values()),
            # continuous recording (muxed in the demux threads): the longest a demux thread spent opening a segment
            # and writing a fragment, and the longest a segment's close took (on a writer thread), over all cameras
            "recording_ms_max": {k: max((c.get(f"recording_{k}_ms_max") or 0.0 for c in s1["cameras"].values()),
                                        default=None) for k in ("open", "flush", "close")},
            "first_frame_ms": {"min": _r(firsts[0]) if firsts else None,
                               "median": _r(firsts[len(firsts) // 2]) if firsts else None,
                               "max": _r(firsts[-1]) if firsts else None},
            "first_frame_steps_ms": first_frame_steps(streams, gw_timing, ids),
            "sessions_closed": s1["closed_sessions"],
            "streams_online": sum(1 for c in s1["cameras"].values() if c["status"] == "online"),
            "frames_per_stream": {c: {"offered": final_sent.get(c, 0) + hub_lost.get(c, 0),
                                      "sent": final_sent.get(c, 0), "received": streams[c]["frames_end"],
                                      "lost_packets": streams[c]["lost_packets"]} for c in ids},
        })
        for vw in vws:
            stop(vw)
        vws = []
        stop(gw)
        gw = None
        rec_bytes = sum(p.stat().st_size for p in (work / "var").rglob("*.mp4"))
        result["recorded_mb"] = round(rec_bytes / 1e6, 1)
        if not args.no_ffmpeg:
            # phase 3: ffmpeg -c copy of the same N streams. Its figure moves ±30 % between runs (and the machine's
            # speed drifts), so with --ratio-pairs K the gateway's record-only phase (a fresh gateway process, same N
            # streams, same timing) and ffmpeg's alternate K times: each pair is measured minutes apart at most,
            # and the median ratio is reported. The first pair is phase 1 and this phase 3.
            pairs = [(result["gateway_record_only_cpu_pct"], ffmpeg_cpu(0))]
            for k in range(1, args.ratio_pairs):
                gw = start_gateway(work / f"var{k}")
                g = record_only_cpu([gw.pid, *get_stats()["worker_pids"]])
                stop(gw)
                gw = None
                pairs.append((g, ffmpeg_cpu(k)))
            ratios = [round(g / f, 2) if f > 0 else None for g, f in pairs]
            valid = sorted(r for r in ratios if r is not None)
            result["ffmpeg_copy_cpu_pct"] = pairs[0][1]
            result["record_cpu_pairs"] = [{"gateway_record_only_cpu_pct": g, "ffmpeg_copy_cpu_pct": f, "ratio": r}
                                          for (g, f), r in zip(pairs, ratios, strict=True)]
            result["record_cpu_ratio_vs_ffmpeg"] = valid[len(valid) // 2] if valid else None  # the median
    finally:
        for vw in vws:
            stop(vw)
        stop(gw)
        srv.stop()
        if not args.keep:
            subprocess.run(["rm", "-rf", str(work)], check=False)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--resolution", default="1080p", choices=["1080p", "720p", "360p"])
    ap.add_argument("--bitrate", default="4M")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--gop", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0, help="measurement window of each phase")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds between the viewers' start and phase 2")
    ap.add_argument("--stagger", type=float, default=0.3, help="seconds between RTSP connects")
    ap.add_argument("--full-viewers", action="store_true",
                    help="aiortc's real receive path (SRTP unprotect, jitter buffer, NACK) instead of counting RTP "
                         "headers on the socket")
    ap.add_argument("--viewer-procs", type=int, default=1, help="viewer processes (streams are spread over them)")
    ap.add_argument("--rcvbuf", type=int, default=2 * 1024 * 1024,
                    help="SO_RCVBUF of the viewers' UDP sockets in bytes (0 = the system default; the kernel caps it "
                         "at net.core.rmem_max)")
    ap.add_argument("--aiortc-sender", action="store_true",
                    help="the gateway sends with aiortc's RTCRtpSender loop instead of media_gateway.rtp_out")
    ap.add_argument("--workers", type=int, default=None,
                    help="the gateway's worker processes (default: MediaGateway's, i.e. ECS_MEDIA_WORKERS or one per "
                         "core, 2-4; 0 = every camera in the gateway process as before)")
    ap.add_argument("--no-ffmpeg", action="store_true", help="skip phase 3 (ffmpeg -c copy)")
    ap.add_argument("--ratio-pairs", type=int, default=3,
                    help="record-only (gateway) and ffmpeg -c copy phases alternated this many times; the median "
                         "ratio is reported (1 = phase 1 against phase 3 only)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (recordings)")
    ap.add_argument("--role", default="bench", choices=["bench", "gateway", "viewers"])
    ap.add_argument("--port", type=int)
    ap.add_argument("--var")
    ap.add_argument("--gateway")
    ap.add_argument("--ids")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.role == "gateway":
        asyncio.run(run_gateway(args.port, Path(args.var), not args.aiortc_sender, args.workers))
    elif args.role == "viewers":
        asyncio.run(run_viewers(args.gateway, args.ids.split(","), Path(args.out), args.full_viewers, args.rcvbuf))
    else:
        print(json.dumps(bench(args), indent=2))


if __name__ == "__main__":
    main()
