"""The facade the command server calls. One instance per server process, on the server's event loop.

With ``workers`` > 0 (the default, :func:`default_workers`) the cameras are sharded over that many worker processes
(``worker.py``): a camera's demux, hub, recorders, snapshots and live WebRTC sessions all live in its worker, so no
media packet crosses a process boundary and each shard has its own GIL. Playback, clip export, probes and retention
run in this process (:class:`LocalGateway`). ``workers=0``: everything in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import CameraOffline, UnknownCamera, UnknownRecording, UnknownSession
from .local import LocalGateway, SegmentCb, StatusCb, check_camera_settings
from .recording import apply_retention, recover_segment
from .worker import WorkerClient

log = logging.getLogger("media_gateway")

RESTART_BACKOFF_S = (1.0, 30.0)  # a worker that keeps dying is restarted less and less often


def default_workers() -> int:
    """``ECS_MEDIA_WORKERS`` when set (0 = every camera in the calling process), else one worker per core, 2–4."""
    env = os.environ.get("ECS_MEDIA_WORKERS", "").strip()
    if env:
        try:
            return max(0, int(env))
        except ValueError:
            raise ValueError(f"ECS_MEDIA_WORKERS must be a whole number, not {env!r}") from None
    return min(4, max(2, os.cpu_count() or 1))


@dataclass
class _RemoteCamera:
    id: str
    worker: WorkerClient
    settings: dict[str, Any]  # configure_camera's arguments, to configure it again in a restarted worker


@dataclass
class _RemoteSession:
    """What the facade knows of a live session in a worker (``sessions`` lists it beside the local ones)."""

    id: str
    camera_id: str
    worker: WorkerClient
    kind: str = "live"


@dataclass
class _RemoteRecording:
    id: str
    camera_id: str
    worker: WorkerClient


@dataclass
class _Shard:
    """A worker slot: the process serving it may be replaced after a crash; its cameras stay assigned."""

    index: int
    client: WorkerClient
    restarts: int = 0
    cameras: set[str] = field(default_factory=set)


class MediaGateway:
    """``stats()`` stays synchronous: for sharded cameras it answers from the statistics the workers push (every
    ``worker.STATS_INTERVAL_S`` and with every call's result and status change); :meth:`refresh_stats` waits for
    fresh ones."""

    def __init__(self, var_dir: Path, *, on_status: StatusCb | None = None, on_segment: SegmentCb | None = None,
                 segment_s: float = 300.0, idle_timeout_s: float = 30.0, stall_timeout_s: float = 5.0,
                 lean_rtp: bool = True, workers: int | None = None) -> None:
        self.local = LocalGateway(var_dir, on_status=on_status, on_segment=on_segment, segment_s=segment_s,
                                  idle_timeout_s=idle_timeout_s, stall_timeout_s=stall_timeout_s, lean_rtp=lean_rtp)
        self.var_dir = self.local.var_dir
        self.on_status = on_status
        self.on_segment = on_segment
        self.workers = default_workers() if workers is None else max(0, workers)
        self._shards: list[_Shard] = []
        self._remote: dict[str, _RemoteCamera] = {}
        self._remote_sessions: dict[str, _RemoteSession] = {}
        self._remote_recordings: dict[str, _RemoteRecording] = {}
        # open sessions and recordings by id (the command server checks membership): the workers' and ours
        self.sessions: Mapping[str, Any] = ChainMap(self._remote_sessions, self.local.sessions)
        self.recordings: Mapping[str, Any] = ChainMap(self._remote_recordings, self.local.recordings)
        self._events: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._pool_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = False

    @property
    def sharded(self) -> bool:
        return self.workers > 0

    def worker_pids(self) -> list[int]:
        return [s.client.pid for s in self._shards if s.client.pid is not None]

    @property
    def camera_ids(self) -> list[str]:
        return list(self._remote) if self.sharded else list(self.local.cameras)

    # --- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.local.start()
        if self.sharded:
            self._spawn(self._deliver_events())
        self.started = True

    def _spawn(self, coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        self.started = False  # from here on a worker that exits is not restarted
        await self.local.stop()
        shards, self._shards = self._shards, []
        await asyncio.gather(*(s.client.stop() for s in shards), return_exceptions=True)
        self._remote.clear()
        self._remote_sessions.clear()
        self._remote_recordings.clear()
        if self._tasks:  # let the last status/segment callbacks (segments closed by the workers' stop) run
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await self._events.join()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- worker processes --------------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        g = self.local
        return {"var_dir": str(g.var_dir), "segment_s": g.segment_s, "idle_timeout_s": g.idle_timeout_s,
                "stall_timeout_s": g.stall_timeout_s, "lean_rtp": g.lean_rtp, "parent_pid": os.getpid(),
                "log_level": logging.getLogger("media_gateway").getEffectiveLevel()}

    def _client(self, index: int) -> WorkerClient:
        return WorkerClient(index, self._config(), self._on_event, lambda c: self._spawn(self._worker_exited(c)))

    async def _shard_for_new_camera(self) -> _Shard:
        """The shard with the fewest cameras; worker processes start as cameras arrive (none for a gateway
        without cameras)."""
        async with self._pool_lock:
            if len(self._shards) < self.workers and all(s.cameras for s in self._shards):
                shard = _Shard(len(self._shards), self._client(len(self._shards)))
                await shard.client.start()
                self._shards.append(shard)
                return shard
            return min(self._shards, key=lambda s: (len(s.cameras), s.index))

    def _shard_of(self, client: WorkerClient) -> _Shard | None:
        return next((s for s in self._shards if s.client is client), None)

    async def _worker_exited(self, client: WorkerClient) -> None:
        """A worker died: its cameras go offline, its sessions and recordings are gone; a new process takes its
        cameras over (continuous recording resumes in a new segment, as after a camera drop)."""
        shard = self._shard_of(client)
        if shard is None or not self.started:
            return
        for sid in [sid for sid, s in self._remote_sessions.items() if s.worker is client]:
            del self._remote_sessions[sid]
        for rid in [rid for rid, r in self._remote_recordings.items() if r.worker is client]:
            del self._remote_recordings[rid]
        for cid in sorted(shard.cameras):
            self._events.put_nowait(("status", cid, "offline", {"reason": "media worker exited"}))
        # the segments it was writing stay playable up to their last whole fragment: index them (as of its last
        # statistics push; one it started in the last STATS_INTERVAL_S is found by no one)
        for meta in client.stats.get("writing", []):
            try:
                seg = await asyncio.to_thread(recover_segment, meta)
            except Exception:
                log.exception("recovering segment %s failed", meta.get("path"))
                continue
            if seg is not None:
                self._events.put_nowait(("segment", seg))
        while self.started and self._shard_of(client) is shard:
            shard.restarts += 1
            await asyncio.sleep(min(RESTART_BACKOFF_S[0] * 2 ** (shard.restarts - 1), RESTART_BACKOFF_S[1]))
            new = self._client(shard.index)
            try:
                await new.start()
            except Exception:
                log.exception("media worker %d could not be restarted", shard.index)
                await new.stop()
                continue
            if not self.started:
                await new.stop()
                return
            shard.client = new
            log.warning("media worker %d restarted (pid %s); configuring its %d cameras again", shard.index,
                        new.pid, len(shard.cameras))
            for cid in sorted(shard.cameras):
                cam = self._remote.get(cid)
                if cam is None:
                    continue
                cam.worker = new
                try:
                    await new.call("configure_camera", cid, **cam.settings)
                except Exception as exc:
                    log.error("camera %s could not be configured again: %s", cid, type(exc).__name__)

    # --- events from the workers -------------------------------------------------------------------------------
    def _on_event(self, client: WorkerClient, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "session_gone":
            s = self._remote_sessions.get(msg[1])
            if s is not None and s.worker is client:
                del self._remote_sessions[msg[1]]
        elif kind == "recording_gone":
            r = self._remote_recordings.get(msg[1])
            if r is not None and r.worker is client:
                del self._remote_recordings[msg[1]]
        elif kind in ("status", "segment"):
            if kind == "segment":  # closed and indexed: no longer one to recover should the worker die
                path = msg[1]["path"]
                client.stats["writing"] = [w for w in client.stats.get("writing", []) if w["path"] != path]
            self._events.put_nowait(msg)

    async def _deliver_events(self) -> None:
        """The callbacks run one at a time in arrival order (a camera's online/offline never overtake)."""
        while True:
            msg = await self._events.get()
            try:
                if msg[0] == "status":
                    if msg[1] in self._remote and self.on_status is not None:
                        await self.on_status(msg[1], msg[2], msg[3])
                elif self.on_segment is not None:
                    await self.on_segment(msg[1])
            except Exception:
                log.exception("media gateway callback failed")
            finally:
                self._events.task_done()

    # --- cameras -----------------------------------------------------------------------------------------------
    async def configure_camera(self, camera_id: str, url: str, *, transport: str = "tcp", username: str | None = None,
                               password: str | None = None, record_continuous: bool = False,
                               transcode_h265: bool = False) -> None:
        settings = {"url": url, "transport": transport, "username": username, "password": password,
                    "record_continuous": record_continuous, "transcode_h265": transcode_h265}
        if not self.sharded:
            return await self.local.configure_camera(camera_id, **settings)
        check_camera_settings(url, transport)  # before a worker process is started for it
        cam = self._remote.get(camera_id)
        if cam is None:
            shard = await self._shard_for_new_camera()
            cam = self._remote.get(camera_id)  # a concurrent call for the same camera may have won meanwhile
            if cam is None:  # counted at once, so that concurrent calls spread over the workers
                cam = self._remote[camera_id] = _RemoteCamera(camera_id, shard.client, settings)
                shard.cameras.add(camera_id)
        try:
            await cam.worker.call("configure_camera", camera_id, **settings)
        except Exception:
            if cam.settings is settings and self._remote.get(camera_id) is cam:  # new here: forget it
                self._forget_camera(cam)
            raise
        cam.settings = settings
        return None

    def _forget_camera(self, cam: _RemoteCamera) -> None:
        self._remote.pop(cam.id, None)
        for s in self._shards:
            s.cameras.discard(cam.id)
        for sid in [sid for sid, s in self._remote_sessions.items() if s.camera_id == cam.id]:
            del self._remote_sessions[sid]
        for rid in [rid for rid, r in self._remote_recordings.items() if r.camera_id == cam.id]:
            del self._remote_recordings[rid]

    async def remove_camera(self, camera_id: str) -> None:
        if not self.sharded:
            return await self.local.remove_camera(camera_id)
        cam = self._remote_camera(camera_id)
        self._forget_camera(cam)
        with contextlib.suppress(UnknownCamera, CameraOffline):  # (a dead worker has no camera left to remove)
            await cam.worker.call("remove_camera", camera_id)
        return None

    def _remote_camera(self, camera_id: str) -> _RemoteCamera:
        cam = self._remote.get(camera_id)
        if cam is None:
            raise UnknownCamera(f"unknown camera {camera_id!r}")
        return cam

    async def probe(self, url: str, *, transport: str = "tcp", username: str | None = None,
                    password: str | None = None, timeout_s: float = 5.0) -> dict:
        return await self.local.probe(url, transport=transport, username=username, password=password,
                                      timeout_s=timeout_s)

    # --- live view, snapshots, recordings ----------------------------------------------------------------------
    async def webrtc_answer(self, camera_id: str, offer_sdp: str) -> tuple[str, str]:
        if not self.sharded:
            return await self.local.webrtc_answer(camera_id, offer_sdp)
        cam = self._remote_camera(camera_id)
        worker = cam.worker
        sid, sdp = await worker.call("webrtc_answer", camera_id, offer_sdp)
        if worker.alive and self._remote.get(camera_id) is cam:
            self._remote_sessions[sid] = _RemoteSession(sid, camera_id, worker)
        return sid, sdp

    async def webrtc_close(self, session_id: str) -> None:
        s = self._remote_sessions.pop(session_id, None)
        if s is None:
            return await self.local.webrtc_close(session_id)
        with contextlib.suppress(UnknownSession, CameraOffline):  # it ended by itself meanwhile, or its worker did
            await s.worker.call("webrtc_close", session_id)
        return None

    async def session_stats(self) -> dict[str, dict[str, Any]]:
        """Per session, open and recently closed: camera, kind, state, frames sent, frames its hub queue dropped,
        frames still queued (``LocalGateway.session_stats``, of every process)."""
        out = await self.local.session_stats()
        for s in list(self._shards):
            with contextlib.suppress(CameraOffline):
                out.update(await s.client.call("session_stats"))
        return out

    async def snapshot(self, camera_id: str) -> bytes:
        if not self.sharded:
            return await self.local.snapshot(camera_id)
        return await self._remote_camera(camera_id).worker.call("snapshot", camera_id)

    async def start_recording(self, camera_id: str, *, duration_s: float | None = None) -> str:
        if not self.sharded:
            return await self.local.start_recording(camera_id, duration_s=duration_s)
        cam = self._remote_camera(camera_id)
        worker = cam.worker
        rid = await worker.call("start_recording", camera_id, duration_s=duration_s)
        if worker.alive and self._remote.get(camera_id) is cam:
            self._remote_recordings[rid] = _RemoteRecording(rid, camera_id, worker)
        return rid

    async def stop_recording(self, recording_id: str) -> None:
        r = self._remote_recordings.pop(recording_id, None)
        if r is None:
            return await self.local.stop_recording(recording_id)
        try:
            await r.worker.call("stop_recording", recording_id)
        except CameraOffline:  # its worker died: the recording ended there (its file is playable up to then)
            raise UnknownRecording(f"unknown or finished recording {recording_id!r}") from None
        return None

    async def apply_retention(self, *, max_age_days: float | None = None, max_bytes: int | None = None,
                              released: Iterable[Path] = ()) -> list[Path]:
        """Retention for the caller to schedule: by age, then oldest first down to ``max_bytes``; emergency
        segments are kept unless ``released``; segments being written (in any worker) are never deleted."""
        active = self.local.active_paths()
        for s in list(self._shards):
            active += await s.client.call("active_paths")  # a worker that cannot answer: nothing is deleted
        return await asyncio.to_thread(apply_retention, self.local.rec_dir, max_age_days=max_age_days,
                                       max_bytes=max_bytes, released=list(released), active=active)

    async def export_clip(self, camera_id: str, paths: list[Path], start: datetime, end: datetime) -> Path:
        return await self.local.export_clip(camera_id, paths, start, end)

    # --- playback (in this process: it reads files, not cameras) -----------------------------------------------
    async def playback_answer(self, camera_id: str, paths: list[Path], start: datetime, offer_sdp: str,
                              speed: float = 1.0) -> tuple[str, str]:
        return await self.local.playback_answer(camera_id, paths, start, offer_sdp, speed)

    async def playback_control(self, session_id: str, action: str, value: float | None = None) -> None:
        await self.local.playback_control(session_id, action, value)

    # --- statistics --------------------------------------------------------------------------------------------
    def _remote_stats(self, cam: _RemoteCamera) -> dict[str, Any]:
        pushed = cam.worker.stats
        st = pushed.get("cameras", {}).get(cam.id)
        if st is None:  # configured, not reported yet (or its worker is being restarted)
            return {"camera_id": cam.id, "status": "offline", "running": False, "transport": cam.settings["transport"],
                    "recording_continuous": cam.settings["record_continuous"], "emergency_recordings": [],
                    "viewers": 0, "subscribers": 0, "dropped_packets": 0, "packets": 0, "bytes": 0,
                    "last_packet_at": None, "last_packet_age_s": None}
        st = dict(st)
        if st.get("last_packet_age_s") is not None:  # as of now, not as of the push
            st["last_packet_age_s"] = round(st["last_packet_age_s"] + time.time() - pushed["wall"], 3)
        return st

    async def refresh_stats(self) -> None:
        """Waits for fresh statistics from every worker (each call's answer brings its worker's)."""
        await asyncio.gather(*(s.client.call("ping") for s in self._shards), return_exceptions=True)

    def stats(self, camera_id: str | None = None) -> dict:
        if not self.sharded:
            return self.local.stats(camera_id)
        if camera_id is not None:
            return self._remote_stats(self._remote_camera(camera_id))
        return {
            "cameras": {cid: self._remote_stats(c) for cid, c in self._remote.items()},
            "sessions": {"live": len(self._remote_sessions),
                         "playback": sum(1 for s in self.local.sessions.values() if s.kind == "playback")},
            "recordings": len(self.recordings),
            "workers": [{"index": s.index, "pid": s.client.pid, "alive": s.client.alive, "cameras": sorted(s.cameras),
                         "restarts": s.restarts} for s in self._shards],
        }
