"""Media relay benchmark: N RTSP cameras (gst-rtsp-server, pre-encoded content) → the media gateway (pulls all N,
records all N, sends each to one WebRTC viewer) → aiortc viewers in a separate process counting received frames.

    .venv/bin/python bench/media_relay.py --streams 8 --resolution 1080p --bitrate 4M

Three processes besides this one: the RTSP server, the gateway (``--role gateway``, a tiny HTTP API for offers and
stats) and the viewers (``--role viewers``; they count depacketised frames without decoding them, so the viewers'
CPU does not starve the gateway on a 2-core machine). Phases: (1) pull + record only, (2) pull + record + N viewers,
(3) the gateway stopped, ``ffmpeg -c copy`` records the same N streams. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import signal
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

from bench._common import proc_sample  # noqa: E402


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        s = proc_sample(pid)
        if s:
            total += s.cpu_s
    return total


def children(pid: int) -> list[int]:
    try:
        out = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    res = [int(x) for x in out]
    for c in list(res):
        res += children(c)
    return res


class CpuMeter:
    def __init__(self, pids_fn: Any) -> None:
        self.pids_fn = pids_fn

    def __enter__(self) -> CpuMeter:
        self.t0, self.c0 = time.monotonic(), cpu_of(self.pids_fn())
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.t0
        self.cpu_pct = (cpu_of(self.pids_fn()) - self.c0) / self.elapsed * 100


# --- gateway process ---------------------------------------------------------------------------------------------

async def run_gateway(port: int, var_dir: Path) -> None:
    from aiohttp import web

    from media_gateway import MediaError, MediaGateway

    gw = MediaGateway(var_dir, segment_s=60, idle_timeout_s=600)
    await gw.start()

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
        return web.json_response({"session": sid, "sdp": sdp})

    async def stats(req: web.Request) -> web.Response:
        out = gw.stats()
        out["tracks"] = {s.camera_id: s.track.frames_sent for s in gw.sessions.values()}
        return web.json_response(out, dumps=lambda o: json.dumps(o, default=str))

    app = web.Application()
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

def _counting_worker(loop: asyncio.AbstractEventLoop, input_q: queue.Queue, output_q: asyncio.Queue,
                     decode_error: threading.Event) -> None:
    """Replaces aiortc's decoder thread: counts assembled frames instead of decoding them."""
    while True:
        task = input_q.get()
        if task is None:
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            return
        loop.call_soon_threadsafe(output_q.put_nowait, time.monotonic())


async def run_viewers(gateway: str, ids: list[str], seconds: float, out_path: Path) -> None:
    import aiohttp
    import aiortc.rtcrtpreceiver
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    aiortc.rtcrtpreceiver.decoder_worker = _counting_worker  # type: ignore[assignment]
    frames: dict[str, int] = dict.fromkeys(ids, 0)
    first: dict[str, float | None] = dict.fromkeys(ids)
    pcs = []
    tasks = []
    async with aiohttp.ClientSession() as http:
        for cid in ids:
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pc.addTransceiver("video", direction="recvonly")
            t0 = time.monotonic()

            def on_track(track: Any, cid: str = cid, t0: float = t0) -> None:
                async def read() -> None:
                    try:
                        while True:
                            t = await track.recv()
                            if first[cid] is None:
                                first[cid] = (t - t0) * 1000
                            frames[cid] += 1
                    except Exception:
                        return
                tasks.append(asyncio.ensure_future(read()))

            pc.on("track", on_track)
            await pc.setLocalDescription(await pc.createOffer())
            async with http.post(f"{gateway}/offer", json={"id": cid, "sdp": pc.localDescription.sdp}) as r:
                ans = await r.json()
            await pc.setRemoteDescription(RTCSessionDescription(ans["sdp"], "answer"))
            pcs.append(pc)
        print("CONNECTED", flush=True)

        async def snap() -> tuple[dict[str, int], dict[str, int]]:
            got = dict(frames)
            async with http.get(f"{gateway}/stats") as r:  # frames sent, at the same moment
                return got, (await r.json())["tracks"]

        await asyncio.sleep(3)  # start-up (ICE/DTLS, GOP catch-up) is reported apart from the steady state
        recv0, sent0 = await snap()
        await asyncio.sleep(seconds)
        recv1, sent1 = await snap()
        await asyncio.to_thread(out_path.write_text, json.dumps(
            {"frames": recv1, "sent": sent1, "frames0": recv0, "sent0": sent0, "first_frame_ms": first}))
        print("DONE", flush=True)
        await asyncio.sleep(3600)


# --- orchestration -----------------------------------------------------------------------------------------------

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
    gw = vw = None
    result: dict[str, Any] = {"streams": n, "resolution": args.resolution, "bitrate": args.bitrate, "fps": args.fps,
                              "gop": args.gop, "cores": os.cpu_count()}

    def post(path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(gurl + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}")

    def get_stats() -> dict[str, Any]:
        with urllib.request.urlopen(gurl + "/stats", timeout=30) as r:
            return json.loads(r.read())

    try:
        gw = subprocess.Popen([py, __file__, "--role", "gateway", "--port", str(gport), "--var", str(work / "var")],
                              stdout=subprocess.PIPE, cwd=ROOT)
        wait_line(gw, "READY", 30)
        gw_pids = lambda: [gw.pid]  # noqa: E731
        srv_pids = lambda: [srv.pid, *children(srv.pid)] if srv.pid else []  # noqa: E731
        ids = [f"cam{i}" for i in range(1, n + 1)]
        for cid in ids:  # staggered: simultaneous connects can crash GStreamer 1.22's shared media
            post("/configure", {"id": cid, "url": srv.url(cid), "record": True})
            time.sleep(args.stagger)
        time.sleep(3)
        # phase 1: pull + record
        with CpuMeter(gw_pids) as rec_cpu, CpuMeter(srv_pids) as srv_cpu1:
            time.sleep(args.seconds)
        result["gateway_record_only_cpu_pct"] = round(rec_cpu.cpu_pct, 1)
        result["rtsp_server_cpu_pct_phase1"] = round(srv_cpu1.cpu_pct, 1)
        # phase 2: + one WebRTC viewer per stream
        out = work / "viewers.json"
        vw = subprocess.Popen([py, __file__, "--role", "viewers", "--gateway", gurl, "--ids", ",".join(ids),
                               "--seconds", str(args.seconds + 4), "--out", str(out)], stdout=subprocess.PIPE, cwd=ROOT)
        wait_line(vw, "CONNECTED", 120)
        time.sleep(2)
        s0 = get_stats()
        with CpuMeter(gw_pids) as gw_cpu, CpuMeter(srv_pids) as srv_cpu, CpuMeter(lambda: [vw.pid]) as vw_cpu:
            time.sleep(args.seconds)
        s1 = get_stats()
        rss = proc_sample(gw.pid)
        wait_line(vw, "DONE", 60)
        viewers = json.loads(out.read_text())
        sent = {cid: viewers["sent"].get(cid, 0) for cid in ids}
        recv = viewers["frames"]
        total_sent, total_recv = sum(sent.values()), sum(recv.values())
        steady_sent = sum(viewers["sent"].get(c, 0) - viewers["sent0"].get(c, 0) for c in ids)
        steady_recv = sum(recv.get(c, 0) - viewers["frames0"].get(c, 0) for c in ids)
        firsts = sorted(v for v in viewers["first_frame_ms"].values() if v is not None)
        dropped = sum(c["dropped_packets"] for c in s1["cameras"].values())
        result.update({
            "gateway_cpu_pct": round(gw_cpu.cpu_pct, 1),
            "gateway_rss_mb": round(rss.rss_mb, 1) if rss else None,
            "rtsp_server_cpu_pct": round(srv_cpu.cpu_pct, 1),
            "viewers_cpu_pct": round(vw_cpu.cpu_pct, 1),
            "frames_sent_total": total_sent, "frames_received_total": total_recv,
            "delivered_pct_incl_startup": round(100 * total_recv / total_sent, 2) if total_sent else None,
            "delivered_pct_steady": round(100 * steady_recv / steady_sent, 2) if steady_sent else None,
            "frames_per_stream": {cid: {"sent": sent[cid], "received": recv.get(cid, 0)} for cid in ids},
            "relay_fps_per_stream": round((sum(s1["tracks"].values()) - sum(s0["tracks"].values())) /
                                          args.seconds / n, 2),
            "hub_dropped_packets": dropped,
            "first_frame_ms": {"min": firsts[0] if firsts else None,
                               "median": firsts[len(firsts) // 2] if firsts else None,
                               "max": firsts[-1] if firsts else None},
            "streams_online": sum(1 for c in s1["cameras"].values() if c["status"] == "online"),
        })
        stop(vw)
        vw = None
        stop(gw)
        gw = None
        rec_bytes = sum(p.stat().st_size for p in (work / "var").rglob("*.mp4"))
        result["recorded_mb"] = round(rec_bytes / 1e6, 1)
        # phase 3: ffmpeg -c copy of the same N streams
        ff_dir = work / "ffmpeg"
        ff_dir.mkdir()
        procs = []
        for cid in ids:
            procs.append(subprocess.Popen(
                ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", srv.url(cid), "-c", "copy", "-f", "mp4",
                 "-movflags", "frag_keyframe+empty_moov+default_base_moof", str(ff_dir / f"{cid}.mp4")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            time.sleep(args.stagger)
        time.sleep(3)
        with CpuMeter(lambda: [p.pid for p in procs]) as ff_cpu:
            time.sleep(args.seconds)
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        result["ffmpeg_copy_cpu_pct"] = round(ff_cpu.cpu_pct, 1)
        result["record_cpu_ratio_vs_ffmpeg"] = round(result["gateway_record_only_cpu_pct"] / ff_cpu.cpu_pct, 2) \
            if ff_cpu.cpu_pct > 0 else None
    finally:
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
    ap.add_argument("--stagger", type=float, default=0.3, help="seconds between RTSP connects")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (recordings)")
    ap.add_argument("--role", default="bench", choices=["bench", "gateway", "viewers"])
    ap.add_argument("--port", type=int)
    ap.add_argument("--var")
    ap.add_argument("--gateway")
    ap.add_argument("--ids")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.role == "gateway":
        asyncio.run(run_gateway(args.port, Path(args.var)))
    elif args.role == "viewers":
        asyncio.run(run_viewers(args.gateway, args.ids.split(","), args.seconds, Path(args.out)))
    else:
        print(json.dumps(bench(args), indent=2))


if __name__ == "__main__":
    main()
