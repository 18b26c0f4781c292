"""Realtime fan-out benchmark: delay from an API write to each connected Socket.IO client's receipt.

    python bench/realtime_fanout.py --clients 1000 --events 100 [--url URL] [--namespace /console] [--rate 5]

Without ``--url`` a fresh server (``python -m command_server``, SQLite, in-memory bus) is started on a free
port with a temporary var dir and stopped at the end. N clients are spread over ``--procs`` client
processes (each one asyncio loop), connected in batches, and authenticated with one login per process
(all sockets of a process share its token). When every client has seen ``replay_done``, an operator posts
M bulletins at ``--rate`` per second; each text carries ``time.time()`` taken just before the POST, and
each client takes ``time.time()`` when the ``event`` arrives (all processes share the machine's clock).

Prints one JSON object on stdout; progress goes to stderr. The exit code is 0 whether or not the goals
(p99 < 100 ms, lost 0) are met: benchmarks report, tests assert.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing as mp
import os
import sys
import time
import uuid
from array import array
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import login, machine_cpu, own_server, percentile, proc_sample, r3

# the role each client process logs in as, per namespace (any role the namespace admits will do)
NAMESPACE_USER = {"/console": "commander", "/mobile": "field", "/screen": "screen"}
WRITER_USER = "operator"


def log(msg: str) -> None:
    print(f"[fanout {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- client side (runs in the client processes) -------------------------------------------------------------

async def _within(aw: Any, timeout_s: float) -> Any:
    async with asyncio.timeout(timeout_s):
        return await aw


class Tally:
    """What one client received of this run's bulletins."""

    __slots__ = ("closed", "delays", "dups", "error", "max_seq", "ooo", "replay_done", "seen")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.max_seq = -1
        self.delays: list[float] = []
        self.dups = 0
        self.ooo = 0
        self.replay_done = asyncio.Event()
        self.closed = False
        self.error: str | None = None


class Worker:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.prefix = f"bench {cfg['run_id']} "
        self.events: int = cfg["events"]
        self.tallies: list[Tally] = []
        self.complete = 0  # clients that have every event
        self.all_complete = asyncio.Event()
        self.first: dict[int, float] = {}  # seq -> earliest receipt delay in this process (ms)
        self.last: dict[int, float] = {}  # seq -> latest receipt delay in this process (ms)
        self.unexpected_disconnects = 0
        self.phase = "connect"

    # One receipt. ``t`` is time.time() taken first thing in the handler.
    def record(self, tally: Tally, data: Any, t: float) -> None:
        if not isinstance(data, dict) or data.get("type") != "bulletin.posted":
            return
        text = (data.get("payload") or {}).get("text", "")
        if not text.startswith(self.prefix):
            return
        _b, _run, seq_s, sent_s = text.split(" ")
        seq = int(seq_s)
        delay = (t - float(sent_s)) * 1000.0
        if seq in tally.seen:
            tally.dups += 1
            return
        tally.seen.add(seq)
        tally.delays.append(delay)
        if seq < tally.max_seq:
            tally.ooo += 1
        else:
            tally.max_seq = seq
        if delay < self.first.get(seq, math.inf):
            self.first[seq] = delay
        if delay > self.last.get(seq, -math.inf):
            self.last[seq] = delay
        if len(tally.seen) == self.events:
            self.complete += 1
            if self.complete == len(self.tallies):
                self.all_complete.set()

    def closed(self, tally: Tally) -> None:
        if not tally.closed:
            tally.closed = True
            if self.phase != "closing":
                self.unexpected_disconnects += 1

    # --- raw client: the Engine.IO v4 / Socket.IO v5 wire protocol over one aiohttp websocket --------------
    async def raw_client(self, http: Any, tally: Tally, connected: asyncio.Future[None]) -> None:
        import aiohttp

        ns = self.cfg["namespace"]
        ws_url = self.cfg["url"].replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        msg_prefix = f"42{ns}," if ns != "/" else "42"
        try:
            ws = await http.ws_connect(ws_url, autoping=True, max_msg_size=0)
        except Exception as exc:
            if not connected.done():
                connected.set_exception(exc)
            return
        try:
            opened = await ws.receive(timeout=30)
            if opened.type != aiohttp.WSMsgType.TEXT or not opened.data.startswith("0"):
                raise RuntimeError(f"no engine.io open packet: {opened!r}")
            auth = {"token": self.cfg["token"], "last_event_id": None}
            await ws.send_str(f"40{ns}," + json.dumps(auth))
            async for msg in ws:
                t = time.time()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                d = msg.data
                if d.startswith(msg_prefix):
                    name, *args = json.loads(d[len(msg_prefix):])
                    if name == "event":
                        self.record(tally, args[0] if args else None, t)
                    elif name == "replay_done":
                        tally.replay_done.set()
                elif d == "2":  # engine.io ping from the server
                    await ws.send_str("3")
                elif d.startswith("40"):
                    if not connected.done():
                        connected.set_result(None)
                elif d.startswith("44"):
                    raise RuntimeError(f"connection refused: {d[:200]}")
                elif d.startswith("41") or d == "1":
                    break
        except Exception as exc:
            tally.error = repr(exc)[:200]
            if not connected.done():
                connected.set_exception(exc)
        finally:
            if not connected.done():
                connected.set_exception(RuntimeError("closed before connect"))
            self.closed(tally)
            with contextlib.suppress(Exception):
                await ws.close()

    # --- python-socketio AsyncClient ----------------------------------------------------------------------
    async def sio_client(self, http: Any, tally: Tally, connected: asyncio.Future[None]) -> None:
        import socketio

        ns = self.cfg["namespace"]
        c = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=http)

        @c.on("event", namespace=ns)
        async def on_event(data: Any) -> None:
            self.record(tally, data, time.time())

        @c.on("replay_done", namespace=ns)
        async def on_replay_done(_data: Any) -> None:
            tally.replay_done.set()

        @c.on("disconnect", namespace=ns)
        async def on_disconnect(*_a: Any) -> None:
            self.closed(tally)

        try:
            await c.connect(self.cfg["url"], namespaces=[ns], transports=["websocket"],
                            auth={"token": self.cfg["token"], "last_event_id": None}, wait_timeout=30)
            connected.set_result(None)
        except Exception as exc:
            tally.error = repr(exc)[:200]
            connected.set_exception(exc)
            self.closed(tally)
            return
        try:
            await self.stop_event.wait()
        finally:
            with contextlib.suppress(Exception):
                await c.disconnect()

    # --- the process's life: connect, report ready, count, report results ------------------------------------
    async def run(self, conn: Any) -> None:
        import aiohttp

        loop = asyncio.get_running_loop()
        commands: asyncio.Queue[Any] = asyncio.Queue()
        loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))
        self.stop_event = asyncio.Event()
        t0 = time.monotonic()
        http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=False),
                                     timeout=aiohttp.ClientTimeout(total=None, connect=30))
        async with http:
            for attempt in range(5):
                try:
                    self.cfg["token"] = await login(http, self.cfg["url"], NAMESPACE_USER[self.cfg["namespace"]])
                    break
                except Exception:
                    if attempt == 4:
                        raise
                    await asyncio.sleep(1 + attempt)
            impl = self.raw_client if self.cfg["impl"] == "raw" else self.sio_client
            tasks: list[asyncio.Task[None]] = []
            failures: list[str] = []
            n, batch = self.cfg["clients"], self.cfg["batch"]
            for start in range(0, n, batch):
                futs = []
                for _ in range(start, min(n, start + batch)):
                    tally = Tally()
                    fut: asyncio.Future[None] = loop.create_future()
                    self.tallies.append(tally)
                    tasks.append(asyncio.create_task(impl(http, tally, fut)))
                    futs.append(fut)
                done = await asyncio.gather(*[_within(f, 40) for f in futs], return_exceptions=True)
                failures += [repr(e)[:200] for e in done if isinstance(e, BaseException)]
            waits = [_within(t.replay_done.wait(), 30) for t in self.tallies if not t.closed]
            await asyncio.gather(*waits, return_exceptions=True)
            ready = sum(1 for t in self.tallies if t.replay_done.is_set() and not t.closed)
            conn.send(("ready", {"connected": n - len(failures), "replay_done": ready,
                                 "failures": len(failures), "failure_sample": failures[:3],
                                 "connect_s": time.monotonic() - t0}))
            cpu0 = None
            while True:
                cmd, arg = await commands.get()
                if cmd == "start":
                    self.phase = "events"
                    cpu0 = time.process_time()
                elif cmd == "drain":
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(arg):
                            await self.all_complete.wait()
                    cpu = time.process_time() - (cpu0 or 0.0)
                    break
                elif cmd == "stop":
                    cpu = 0.0
                    break
            delays = array("d")
            for t in self.tallies:
                delays.extend(t.delays)
            conn.send(("result", {
                "received": sum(len(t.seen) for t in self.tallies),
                "duplicates": sum(t.dups for t in self.tallies),
                "out_of_order": sum(t.ooo for t in self.tallies),
                "disconnects": self.unexpected_disconnects,
                "client_errors": [t.error for t in self.tallies if t.error][:3],
                "delays": delays.tobytes(),
                "first": self.first, "last": self.last,
                "cpu_s": cpu,
            }))
            self.phase = "closing"
            self.stop_event.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def worker_entry(conn: Any, cfg: dict[str, Any]) -> None:
    try:
        asyncio.run(Worker(cfg).run(conn))
    except Exception as exc:
        with contextlib.suppress(Exception):
            conn.send(("error", repr(exc)))
        raise


# --- the coordinator (main process): server, client processes, writer --------------------------------------

def recv_all(conns: list[Any], kind: str, timeout_s: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any] | None] = [None] * len(conns)
    deadline = time.monotonic() + timeout_s
    for i, c in enumerate(conns):
        if not c.poll(max(0.0, deadline - time.monotonic())):
            raise RuntimeError(f"client process {i} did not report {kind} within {timeout_s:.0f} s")
        got, payload = c.recv()
        if got == "error":
            raise RuntimeError(f"client process {i} failed: {payload}")
        if got != kind:
            raise RuntimeError(f"client process {i}: expected {kind}, got {got}")
        out[i] = payload
    return out  # type: ignore[return-value]


async def write_events(url: str, run_id: str, events: int, rate: float) -> list[float]:
    """Post ``events`` bulletins at a fixed rate; return each POST's round trip in ms."""
    import aiohttp

    rtts: list[float] = []
    async with aiohttp.ClientSession() as http:
        token = await login(http, url, WRITER_USER)
        headers = {"Authorization": f"Bearer {token}"}
        t0 = time.monotonic() + 0.2
        for seq in range(events):
            wait = t0 + seq / rate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            sent = time.time()
            async with http.post(f"{url}/api/v1/bulletins", headers=headers,
                                 json={"text": f"bench {run_id} {seq} {sent:.6f}"}) as r:
                await r.read()
                if r.status != 201:
                    raise RuntimeError(f"POST /api/v1/bulletins: HTTP {r.status}")
            rtts.append((time.time() - sent) * 1000.0)
    return rtts


def run(args: argparse.Namespace, url: str, server_pid: int | None) -> dict[str, Any]:
    n, m = args.clients, args.events
    procs = args.procs or max(1, min(4, math.ceil(n / 250)))
    procs = min(procs, n)
    run_id = uuid.uuid4().hex[:8]
    ctx = mp.get_context("spawn")
    conns, workers = [], []
    per_batch = max(1, args.batch // procs)
    t_spawn = time.monotonic()
    for i in range(procs):
        share = n // procs + (1 if i < n % procs else 0)
        parent, child = ctx.Pipe()
        cfg = {"url": url, "namespace": args.namespace, "clients": share, "events": m, "run_id": run_id,
               "batch": per_batch, "impl": args.impl}
        p = ctx.Process(target=worker_entry, args=(child, cfg), name=f"fanout-client-{i}", daemon=True)
        p.start()
        conns.append(parent)
        workers.append(p)
    try:
        log(f"{procs} client process(es), {n} clients ({args.impl}), connecting in batches of {per_batch}/process")
        ready = recv_all(conns, "ready", timeout_s=120 + n * 0.5)
        connect_time = time.monotonic() - t_spawn
        connected = sum(r["connected"] for r in ready)
        log(f"connected {connected}/{n} (replay_done {sum(r['replay_done'] for r in ready)}) in {connect_time:.1f} s")
        time.sleep(1.0)  # let the connect burst settle
        before = proc_sample(server_pid) if server_pid else None
        mach0 = machine_cpu()
        own0 = time.process_time()
        t_events = time.monotonic()
        for c in conns:
            c.send(("start", None))
        rtts = asyncio.run(write_events(url, run_id, m, args.rate))
        log(f"posted {m} bulletins; draining (up to {args.drain:.0f} s)")
        for c in conns:
            c.send(("drain", args.drain))
        results = recv_all(conns, "result", timeout_s=args.drain + 60)
        phase_s = time.monotonic() - t_events
        after = proc_sample(server_pid) if server_pid else None
        mach1 = machine_cpu()
        writer_cpu = time.process_time() - own0
    finally:
        for p in workers:
            p.join(30)
            if p.is_alive():
                p.terminate()
                p.join(5)

    delays: list[float] = []
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for r in results:
        delays.extend(array("d", r["delays"]))
        for seq, d in r["first"].items():
            first[seq] = min(first.get(seq, math.inf), d)
        for seq, d in r["last"].items():
            last[seq] = max(last.get(seq, -math.inf), d)
    delays.sort()
    rtts_sorted = sorted(rtts)
    received = sum(r["received"] for r in results)
    spread = sorted(last[s] - first[s] for s in first)
    first_sorted = sorted(first.values())
    client_cpu = sum(r["cpu_s"] for r in results)
    server_cpu = after.cpu_s - before.cpu_s if before and after else None
    busy = mach1[0] - mach0[0]
    out: dict[str, Any] = {
        "clients": n,
        "events": m,
        "p50_ms": r3(percentile(delays, 50)),
        "p99_ms": r3(percentile(delays, 99)),
        "max_ms": r3(delays[-1] if delays else None),
        "lost": n * m - received,
        "duplicates": sum(r["duplicates"] for r in results),
        "out_of_order": sum(r["out_of_order"] for r in results),
        "p90_ms": r3(percentile(delays, 90)),
        "mean_ms": r3(sum(delays) / len(delays) if delays else None),
        "first_client_p50_ms": r3(percentile(first_sorted, 50)),
        "fanout_spread_p50_ms": r3(percentile(spread, 50)),
        "fanout_spread_max_ms": r3(spread[-1] if spread else None),
        "write_p50_ms": r3(percentile(rtts_sorted, 50)),
        "write_p99_ms": r3(percentile(rtts_sorted, 99)),
        "write_max_ms": r3(rtts_sorted[-1] if rtts_sorted else None),
        "expected": n * m,
        "received": received,
        "connected": connected,
        "connect_failures": sum(r["failures"] for r in ready),
        "disconnects": sum(r["disconnects"] for r in results),
        "connect_time_s": round(connect_time, 2),
        "client_processes": procs,
        "client_impl": args.impl,
        "namespace": args.namespace,
        "rate_per_s": args.rate,
        "event_phase_s": round(phase_s, 2),
        "client_cpu_pct": round(100.0 * client_cpu / phase_s, 1),
        "writer_cpu_pct": round(100.0 * writer_cpu / phase_s, 1),
        "server": "own" if args.url is None else args.url,
        "server_rss_mb": round(after.rss_mb, 1) if after else None,
        "server_cpu_pct": round(100.0 * server_cpu / phase_s, 1) if server_cpu is not None else None,
        "cpus": os.cpu_count(),
        # every process on the machine, in % of one core; "other" = not this benchmark (noise from neighbours)
        "machine_cpu_pct": round(100.0 * busy / phase_s, 1),
        "other_cpu_pct": round(100.0 * (busy - client_cpu - writer_cpu - (server_cpu or 0.0)) / phase_s, 1)
        if server_cpu is not None else None,
    }
    samples = [s for r in ready for s in r["failure_sample"]] + [e for r in results for e in r["client_errors"]]
    if samples:
        out["error_sample"] = samples[:5]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=100, help="Socket.IO clients (default 100)")
    ap.add_argument("--events", type=int, default=20, help="bulletins to post (default 20)")
    ap.add_argument("--url", help="use this running server instead of starting one (demo accounts needed)")
    ap.add_argument("--namespace", default="/console", choices=sorted(NAMESPACE_USER))
    ap.add_argument("--rate", type=float, default=5.0, help="bulletins per second (default 5)")
    ap.add_argument("--procs", type=int, default=0, help="client processes (default: one per 250 clients, max 4)")
    ap.add_argument("--batch", type=int, default=100, help="connections opened at once, over all processes")
    ap.add_argument("--drain", type=float, default=10.0, help="seconds to wait for late deliveries (default 10)")
    ap.add_argument("--impl", choices=["raw", "socketio"], default="raw",
                    help="client: 'raw' = minimal Engine.IO4/Socket.IO5 protocol over aiohttp websockets "
                         "(light, default); 'socketio' = python-socketio AsyncClient")
    ap.add_argument("--server-pid", type=int, help="with --url: pid of the server, for CPU and RSS figures")
    args = ap.parse_args(argv)
    if args.clients < 1 or args.events < 1 or args.rate <= 0:
        ap.error("--clients, --events and --rate must be positive")

    if args.url:
        result = run(args, args.url.rstrip("/"), args.server_pid)
    else:
        with own_server() as server:
            log(f"server started at {server.url} (pid {server.proc.pid})")
            result = run(args, server.url, server.proc.pid)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
