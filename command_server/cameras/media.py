"""The in-process media gateway, seen from the command server: the only module that talks to ``media_gateway``.

It is imported lazily. When the package is absent, disabled (``ECS_MEDIA_ENABLED=false``) or fails to start,
the app still runs: the reason is logged once and every media endpoint answers 503 ``media_unavailable``.

What the command server keeps here (per process, in memory): which cameras it configured with which
settings (so repeated syncs are free), the WebRTC/playback sessions it opened (so a session can only be
closed through its own camera), and the emergency recordings it started. Status changes and closed
recording segments come back through the gateway's callbacks and become database rows and events.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ..core.errors import ApiError
from ..core.services import Services, services
from . import service
from .settings import MediaSettings

log = logging.getLogger("ecs.media")

MAX_SESSIONS = 20_000
SESSION_MAX_AGE_S = 24 * 3600.0
SCHEDULE_TICK_S = 60.0
HEALTH_CONCURRENCY = 4


@dataclass
class Session:
    id: str
    camera_id: int
    kind: str  # live | playback
    user_id: int | None
    created: float
    start: dt.datetime | None = None  # playback: the time the session started at (seek positions count from it)


@dataclass
class ActiveRecording:
    id: str
    camera_id: int
    user_id: int | None
    started_at: dt.datetime
    duration_s: float | None


class Media:
    def __init__(self, app: web.Application, settings: MediaSettings) -> None:
        self.app = app
        self.settings = settings
        self.gw: Any = None
        self.reason: str | None = "the media gateway has not started"
        self._errors: Any = None
        self._configured: dict[int, tuple[Any, ...]] = {}
        self._sync_lock = asyncio.Lock()
        self._status_locks: dict[int, asyncio.Lock] = {}
        self._reported: dict[int, str] = {}
        self.sessions: dict[str, Session] = {}
        self.recordings: dict[str, ActiveRecording] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # --- state ------------------------------------------------------------------------------------------

    @property
    def svc(self) -> Services:
        return services(self.app)

    @property
    def available(self) -> bool:
        return self.gw is not None

    def require(self) -> Any:
        if self.gw is None:
            raise ApiError(503, "media_unavailable", f"video is unavailable: {self.reason}", {"reason": self.reason})
        return self.gw

    # --- life ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.settings.enabled:
            self.reason = "the media gateway is switched off (ECS_MEDIA_ENABLED=false)"
            log.info("media unavailable: %s", self.reason)
            return
        try:
            gateway_mod = importlib.import_module("media_gateway.gateway")
        except ImportError as exc:
            self.reason = f"the media_gateway package is not installed ({exc})"
            log.warning("media unavailable: %s", self.reason)
            return
        with contextlib.suppress(ImportError):
            self._errors = importlib.import_module("media_gateway.errors")
        var_dir = Path(self.svc.settings.var_dir) / "media"
        try:
            var_dir.mkdir(parents=True, exist_ok=True)
            gw = gateway_mod.MediaGateway(var_dir, on_status=self._on_status, on_segment=self._on_segment,
                                          segment_s=self.settings.segment_s,
                                          idle_timeout_s=self.settings.idle_timeout_s,
                                          stall_timeout_s=self.settings.stall_timeout_s,
                                          workers=self.settings.workers)
            async with asyncio.timeout(self.settings.start_timeout_s):
                await gw.start()
        except Exception as exc:  # the app must run without video rather than not at all
            self.reason = f"the media gateway failed to start: {type(exc).__name__}: {exc}"
            log.exception("media unavailable: the media gateway failed to start")
            return
        self.gw = gw
        self.reason = None
        log.info("media gateway started (%s)", var_dir)
        try:
            await self.sync_all()
        except Exception:
            log.exception("media: configuring the cameras failed")
        self._spawn(self._schedule_loop(), "media-schedule")
        if self.settings.health_interval_s > 0:
            self._spawn(self._health_loop(), "media-health")
        self._spawn(self._retention_loop(), "media-retention")

    async def stop(self) -> None:
        self._closing = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        gw, self.gw = self.gw, None
        self.reason = "the media gateway has stopped"
        if gw is not None:
            try:
                async with asyncio.timeout(30):
                    await gw.stop()
            except Exception:
                log.exception("media: stopping the gateway failed")

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))  # type: ignore[arg-type]

    # --- errors -------------------------------------------------------------------------------------------

    def translate(self, exc: BaseException) -> ApiError | None:
        """The media gateway's exceptions as API errors with a clear code; None for anything else."""
        if isinstance(exc, ApiError):
            return exc
        name = type(exc).__name__
        module = type(exc).__module__ or ""
        message = str(getattr(exc, "message", "") or exc) or name
        code = getattr(exc, "code", None)
        if name == "ProbeError" or (isinstance(code, str) and code in PROBE_ERRORS):
            status, api_code, text = PROBE_ERRORS.get(str(code), (502, "probe_failed", "the connection test failed"))
            return ApiError(status, api_code, f"{text}: {message}" if message and message != text else text,
                            {"probe_code": code})
        if not module.startswith("media_gateway"):
            return None
        status = getattr(exc, "status", None)
        if isinstance(status, int) and 400 <= status <= 599 and isinstance(code, str):
            return ApiError(status, code, message)  # media_gateway.errors.MediaError: its own code and status
        low = name.lower()
        if "sdp" in low or "offer" in low:
            return ApiError(400, "bad_sdp", f"the SDP offer was refused: {message}")
        if "unknown" in low and "session" in low:
            return ApiError(404, "unknown_session", message)
        if "unknown" in low or "notfound" in low:
            return ApiError(404, "unknown_camera", message)
        if "offline" in low:
            return ApiError(409, "camera_offline", message)
        return ApiError(502, "media_error", message)

    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kw: Any) -> Any:
        try:
            return await fn(*args, **kw)
        except TimeoutError:
            raise ApiError(504, "media_timeout", "the media gateway did not answer in time") from None
        except Exception as exc:
            err = self.translate(exc)
            if err is None:
                raise
            raise err from None

    # --- camera configuration -----------------------------------------------------------------------------

    def _desired(self, c: Any, now: dt.datetime) -> tuple[Any, ...] | None:
        if not c.enabled or c.protocol != "rtsp":
            return None
        return (c.url, c.transport, c.username, c.password, service.records_continuously(c, now),
                bool(c.transcode_h265))

    async def sync_camera(self, camera_id: int) -> None:
        """Tell the gateway what the catalogue says about one camera (added, changed, disabled or gone)."""
        if self.gw is None:
            return
        try:
            c = await service.load_camera(self.svc, camera_id)
        except ApiError:
            c = None
        async with self._sync_lock:
            await self._apply(camera_id, c, dt.datetime.now(dt.UTC))

    async def sync_all(self) -> None:
        if self.gw is None:
            return
        now = dt.datetime.now(dt.UTC)
        cams = await service.all_cameras(self.svc)
        present = {c.id for c in cams}
        async with self._sync_lock:
            for c in cams:
                await self._apply(c.id, c, now)
            for cid in [cid for cid in self._configured if cid not in present]:
                await self._apply(cid, None, now)

    async def _apply(self, camera_id: int, c: Any, now: dt.datetime) -> None:
        gw = self.gw
        if gw is None:
            return
        desired = self._desired(c, now) if c is not None else None
        current = self._configured.get(camera_id)
        if desired == current:
            return
        try:
            if desired is None:
                await gw.remove_camera(str(camera_id))
                self._configured.pop(camera_id, None)
                self._reported.pop(camera_id, None)
                for sid in [s.id for s in self.sessions.values() if s.camera_id == camera_id]:
                    self.sessions.pop(sid, None)
                log.info("media: camera %s removed", camera_id)
                return
            url, transport, username, password, record, transcode = desired
            await gw.configure_camera(str(camera_id), url, transport=transport, username=username,
                                      password=password, record_continuous=record, transcode_h265=transcode)
            self._configured[camera_id] = desired
            # the URL is logged, it never carries credentials (schemas.split_rtsp_url); the password never is
            log.info("media: camera %s configured (%s over %s, continuous recording %s)", camera_id, url,
                     transport, "on" if record else "off")
        except Exception as exc:
            log.warning("media: configuring camera %s failed: %s", camera_id, type(exc).__name__)

    # --- callbacks from the gateway -------------------------------------------------------------------------

    async def _on_status(self, camera_id: str, status: str, detail: Any = None) -> None:
        """``detail`` is {"reason"} when offline and the stream's description (codec, width, …) when online."""
        try:
            cid = int(camera_id)
        except (TypeError, ValueError):
            return
        self._reported[cid] = status
        info = None
        if isinstance(detail, dict):
            text = detail.get("reason")
            if status == "online" and detail.get("codec"):
                info = detail
        else:
            text = None if detail is None else str(detail)
        lock = self._status_locks.setdefault(cid, asyncio.Lock())
        try:
            async with lock:
                await service.set_status(self.svc, cid, status, None if text is None else str(text),
                                         source="gateway", info=info)
        except ApiError:
            pass  # a camera deleted meanwhile
        except Exception:
            log.exception("media: recording the status of camera %s failed", cid)

    async def _on_segment(self, seg: dict[str, Any]) -> None:
        try:
            await service.add_segment(self.svc, seg)
        except Exception:
            log.exception("media: indexing a recording segment failed")

    # --- sessions -----------------------------------------------------------------------------------------

    def add_session(self, sid: str, camera_id: int, kind: str, user_id: int | None,
                    start: dt.datetime | None = None) -> None:
        now = time.monotonic()
        if len(self.sessions) >= MAX_SESSIONS:
            for key in [k for k, s in self.sessions.items() if now - s.created > SESSION_MAX_AGE_S]:
                self.sessions.pop(key, None)
            while len(self.sessions) >= MAX_SESSIONS:
                self.sessions.pop(next(iter(self.sessions)))
        self.sessions[sid] = Session(sid, camera_id, kind, user_id, now, start)

    def session_of(self, sid: str, camera_id: int, kind: str) -> Session:
        s = self.sessions.get(sid)
        if s is None or s.camera_id != camera_id or s.kind != kind:
            raise ApiError(404, "session_not_found", f"no {kind} session {sid} on camera {camera_id}",
                           {"session_id": sid, "camera_id": camera_id})
        return s

    @property
    def configured(self) -> int:
        return len(self._configured)

    def _prune_sessions(self) -> None:
        """Forget sessions the gateway has closed by itself (a browser that left without DELETE)."""
        live = getattr(self.gw, "sessions", None)  # a mapping (a view over the gateway's worker processes)
        if isinstance(live, Mapping):
            for sid in [sid for sid in self.sessions if sid not in live]:
                self.sessions.pop(sid, None)

    def viewers(self, camera_id: int) -> int:
        self._prune_sessions()
        return sum(1 for s in self.sessions.values() if s.camera_id == camera_id)

    def active_recordings(self, camera_id: int) -> list[dict[str, Any]]:
        now = dt.datetime.now(dt.UTC)
        out = []
        for r in list(self.recordings.values()):
            if r.duration_s is not None and now > r.started_at + dt.timedelta(seconds=r.duration_s + 5):
                self.recordings.pop(r.id, None)  # it stopped by itself
                continue
            if r.camera_id == camera_id:
                out.append({"recording_id": r.id, "started_at": r.started_at, "duration_s": r.duration_s})
        return out

    # --- background work ----------------------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        """Start and stop continuous recording as the cameras' weekly schedules open and close."""
        while True:
            await asyncio.sleep(SCHEDULE_TICK_S)
            try:
                await self.sync_all()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media: the recording schedule check failed")

    def in_use(self, camera_id: int) -> bool:
        """A viewer, a recording or continuous recording keeps the stream open: the gateway reports its status."""
        if self.viewers(camera_id) or self.active_recordings(camera_id):
            return True
        cfg = self._configured.get(camera_id)
        return bool(cfg and cfg[4])  # recorded continuously: the gateway keeps it open and reports it

    async def health_sweep(self) -> int:
        """Connection-test the cameras nobody keeps open, so every camera in the tree has a status."""
        gw = self.gw
        if gw is None:
            return 0
        cams = [c for c in await service.all_cameras(self.svc)
                if c.enabled and c.protocol == "rtsp" and not self.in_use(c.id)]
        sem = asyncio.Semaphore(HEALTH_CONCURRENCY)
        changes: list[tuple[int, str, str | None]] = []

        async def one(c: Any) -> None:
            async with sem:
                try:
                    info = await gw.probe(c.url, transport=c.transport, username=c.username, password=c.password,
                                          timeout_s=5.0)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    err = self.translate(exc)
                    changes.append((c.id, "offline", err.message if err else type(exc).__name__))
                    return
                changes.append((c.id, "online", None))
                if isinstance(info, dict) and any(info.get(k) != (c.media_info or {}).get(k)
                                                  for k in ("codec", "width", "height")):
                    with contextlib.suppress(Exception):
                        await service.record_probe(self.svc, c.id, info)

        await asyncio.gather(*(one(c) for c in cams))
        # a viewer may have started meanwhile: the gateway's own report wins then
        changes = [ch for ch in changes if not self.in_use(ch[0])]
        return await service.set_statuses(self.svc, changes, source="probe")

    async def _health_loop(self) -> None:
        await asyncio.sleep(min(3.0, self.settings.health_interval_s))  # soon after start: every camera gets a status
        while True:
            try:
                await self.health_sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media: the camera connection sweep failed")
            await asyncio.sleep(self.settings.health_interval_s)

    async def retention_sweep(self) -> tuple[int, int]:
        """Delete segments past retention or over the quota: the files first, then their index rows."""
        quota = int(self.settings.quota_gb * 1024 ** 3)
        doomed = await service.expired_recordings(self.svc, dt.datetime.now(dt.UTC), quota)
        if not doomed:
            return 0, 0
        freed = 0
        ids = []
        for r in doomed:
            await asyncio.to_thread(_unlink, r.path)
            freed += r.size
            ids.append(r.id)
        await service.forget_recordings(self.svc, ids, reason="retention" if not quota else "retention or quota",
                                        freed=freed)
        log.info("media: %d recording segments deleted (%d bytes)", len(ids), freed)
        return len(ids), freed

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.retention_interval_s)
            try:
                await self.retention_sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media: the retention sweep failed")


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
        os.unlink(path)


# ProbeError code → (HTTP status, API code, message)
PROBE_ERRORS: dict[str, tuple[int, str, str]] = {
    "unreachable": (502, "camera_unreachable", "the camera cannot be reached"),
    "auth_failed": (422, "camera_auth_failed", "the camera refused the user name or password"),
    "not_rtsp": (422, "not_rtsp", "the address does not answer as an RTSP server"),
    "no_video": (422, "no_video", "the stream has no video track"),
    "timeout": (504, "camera_timeout", "the camera did not send a picture in time"),
}

MEDIA: web.AppKey[Media] = web.AppKey("media")


def media(app: web.Application) -> Media:
    return app[MEDIA]
