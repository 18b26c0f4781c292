"""Every camera of a gateway in this process: RTSP sources, the hub, recorders, snapshots, live and playback
sessions. It is the whole gateway with ``MediaGateway(workers=0)``, and what each worker process runs for its
shard of the cameras (``worker.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import BadRequest, CameraOffline, UnknownCamera, UnknownRecording, UnknownSession, UnsupportedCodec
from .hub import Reset, Stream
from .playback import PlaybackTrack
from .recording import DirectRecorder, Recorder, apply_retention, export_clip, snapshot_jpeg
from .redact import redact, url_secrets, with_credentials
from .rtsp import RtspSource, probe_sync
from .transcode import TranscodeSource
from .webrtc import PacketTrack, Session, answer

log = logging.getLogger("media_gateway")

CLOSED_SESSIONS_KEPT = 1024
StatusCb = Callable[[str, str, dict], Awaitable[None]]
SegmentCb = Callable[[dict], Awaitable[None]]


@dataclass
class _Camera:
    id: str
    url: str  # with credentials: never log it
    transport: str
    record_continuous: bool
    transcode_h265: bool
    stream: Stream
    status: str = "offline"
    detail: dict[str, Any] = field(default_factory=dict)
    source: RtspSource | None = None
    continuous: DirectRecorder | None = None  # fed by the RTSP source's demux thread, not the hub
    h264: Stream | None = None  # the transcoded stream, when asked for

    @property
    def secrets(self) -> tuple[str, ...]:
        return url_secrets(self.url)


def check_camera_settings(url: str, transport: str) -> None:
    """Refuses what no camera connection could use (the facade checks before it picks a worker process)."""
    if transport not in ("tcp", "udp"):
        raise BadRequest("transport must be tcp or udp")
    if not url.lower().startswith(("rtsp://", "rtsps://")):
        raise BadRequest("only rtsp:// URLs are supported")


class LocalGateway:
    """The gateway's work in this process; :class:`~media_gateway.gateway.MediaGateway` is the facade over it."""

    def __init__(self, var_dir: Path, *, on_status: StatusCb | None = None, on_segment: SegmentCb | None = None,
                 segment_s: float = 300.0, idle_timeout_s: float = 30.0, stall_timeout_s: float = 5.0,
                 lean_rtp: bool = True) -> None:
        self.var_dir = Path(var_dir)
        self.rec_dir = self.var_dir / "recordings"
        self.export_dir = self.var_dir / "exports"
        self.on_status = on_status
        self.on_segment = on_segment
        self.segment_s = segment_s
        self.idle_timeout_s = idle_timeout_s
        self.stall_timeout_s = stall_timeout_s
        self.lean_rtp = lean_rtp  # live view through rtp_out's lean RTP loop (False: aiortc's RTCRtpSender loop)
        self.cameras: dict[str, _Camera] = {}
        self.sessions: dict[str, Session] = {}
        self.recordings: dict[str, Recorder] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = False
        # a worker process tells the facade when a session or recording ended (hooks; None in-process)
        self.on_session_gone: Callable[[str], None] | None = None
        self.on_recording_gone: Callable[[str], None] | None = None
        self._closed_sessions: dict[str, dict[str, Any]] = {}  # final counters of recently closed sessions

    # --- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.rec_dir.mkdir(parents=True, exist_ok=True)
        self.export_dir.mkdir(parents=True, exist_ok=True)
        self.started = True

    async def stop(self) -> None:
        for sid in list(self.sessions):
            await self.webrtc_close(sid)
        for cid in list(self.cameras):
            await self.remove_camera(cid)
        for t in list(self._tasks):
            t.cancel()
        self.started = False

    # --- cameras -----------------------------------------------------------------------------------------------
    async def configure_camera(self, camera_id: str, url: str, *, transport: str = "tcp", username: str | None = None,
                               password: str | None = None, record_continuous: bool = False,
                               transcode_h265: bool = False) -> None:
        check_camera_settings(url, transport)
        full = with_credentials(url, username, password)
        old = self.cameras.get(camera_id)
        if old is not None:
            if (old.url, old.transport, old.transcode_h265) == (full, transport, transcode_h265):
                await self._set_continuous(old, record_continuous)
                return
            await self.remove_camera(camera_id)
        stream = Stream(camera_id, lambda s: self._make_source(camera_id, s), idle_timeout_s=self.idle_timeout_s)
        cam = _Camera(camera_id, full, transport, False, transcode_h265, stream)
        self.cameras[camera_id] = cam
        log.info("camera %s configured: %s (%s)", camera_id, redact(full, *cam.secrets), transport)
        await self._set_continuous(cam, record_continuous)

    def _make_source(self, camera_id: str, stream: Stream) -> RtspSource:
        cam = self.cameras[camera_id]

        async def status(st: str, detail: dict[str, Any]) -> None:
            cam.status, cam.detail = st, detail
            if self.on_status is not None:
                await self.on_status(camera_id, st, detail)

        src = RtspSource(stream, cam.url, transport=cam.transport, stall_timeout_s=self.stall_timeout_s,
                         open_timeout_s=max(self.stall_timeout_s, 3.0), on_status=status)
        if cam.continuous is not None:
            src.add_sink(cam.continuous)
        cam.source = src
        return src

    async def _set_continuous(self, cam: _Camera, on: bool) -> None:
        cam.record_continuous = on
        if on and cam.continuous is None:
            # muxed in the demux thread (DirectRecorder); a source started later takes it in _make_source
            rec = cam.continuous = DirectRecorder(cam.id, self.rec_dir, segment_s=self.segment_s,
                                                  on_segment=self.on_segment)
            src = cam.stream.source
            if isinstance(src, RtspSource):
                src.add_sink(rec)
            cam.stream.set_always_on(True)
        elif not on and cam.continuous is not None:
            rec, cam.continuous = cam.continuous, None
            src = cam.stream.source
            if isinstance(src, RtspSource):
                src.remove_sink(rec)
            await rec.stop()
            cam.stream.set_always_on(False)

    async def remove_camera(self, camera_id: str) -> None:
        cam = self.cameras.pop(camera_id, None)
        if cam is None:
            raise UnknownCamera(f"unknown camera {camera_id!r}")
        for sid, s in list(self.sessions.items()):
            if s.camera_id == camera_id:
                await self.webrtc_close(sid)
        for rid, r in list(self.recordings.items()):
            if r.camera_id == camera_id:
                await self.stop_recording(rid)
        if cam.continuous is not None:
            rec, cam.continuous = cam.continuous, None
            if isinstance(cam.stream.source, RtspSource):
                cam.stream.source.remove_sink(rec)
            await rec.stop()
        if cam.h264 is not None:
            await cam.h264.close()
        await cam.stream.close()

    def _camera(self, camera_id: str) -> _Camera:
        cam = self.cameras.get(camera_id)
        if cam is None:
            raise UnknownCamera(f"unknown camera {camera_id!r}")
        return cam

    async def probe(self, url: str, *, transport: str = "tcp", username: str | None = None,
                    password: str | None = None, timeout_s: float = 5.0) -> dict:
        full = with_credentials(url, username, password)
        return await asyncio.to_thread(probe_sync, full, transport=transport, timeout_s=timeout_s)

    async def _live_stream(self, cam: _Camera, timeout_s: float | None = None) -> Stream:
        """The camera's stream, running and with a keyframe cached (starts a cold source)."""
        stream = cam.stream
        stream.ensure_started()
        try:
            ok = await stream.wait_keyframe(timeout_s or self.stall_timeout_s + 3.0)
        finally:
            stream.release_if_idle()
        if not ok:
            reason = cam.detail.get("reason") or (cam.source.last_error if cam.source else None) or "no video"
            raise CameraOffline(f"camera {cam.id} is offline: {redact(str(reason), *cam.secrets)}")
        return stream

    # --- live view ---------------------------------------------------------------------------------------------
    async def webrtc_answer(self, camera_id: str, offer_sdp: str) -> tuple[str, str]:
        requested = time.monotonic()
        cam = self._camera(camera_id)
        stream = await self._live_stream(cam)
        assert stream.info is not None
        if stream.info.codec != "h264":
            if not cam.transcode_h265:
                raise UnsupportedCodec(f"camera {camera_id} sends {stream.info.codec}; WebRTC here carries H.264 only "
                                       "(enable transcode_h265 for this camera)")
            stream = await self._transcoded(cam)
        sub = stream.subscribe(f"webrtc:{camera_id}", maxsize=90, video_only=True)
        track = PacketTrack(sub, stream.info)
        holder: dict[str, str] = {}

        async def closed() -> None:
            sid = holder.get("id")
            if sid and sid in self.sessions:
                await self.webrtc_close(sid)

        try:
            pc, sdp = await answer(offer_sdp, track, on_closed=closed, lean=self.lean_rtp)
        except Exception:
            sub.close()
            raise
        track.requested_at, track.answered_at = requested, time.monotonic()
        session = Session(camera_id, pc, track)
        holder["id"] = session.id
        self.sessions[session.id] = session
        return session.id, sdp

    async def _transcoded(self, cam: _Camera) -> Stream:
        if cam.h264 is None:
            cam.h264 = Stream(f"{cam.id}#h264", lambda s: TranscodeSource(s, cam.stream),
                              idle_timeout_s=self.idle_timeout_s)
        cam.h264.ensure_started()
        try:
            if not await cam.h264.wait_keyframe(10.0):
                raise CameraOffline(f"camera {cam.id}: the H.264 transcode produced no picture")
        finally:
            cam.h264.release_if_idle()
        return cam.h264

    async def webrtc_close(self, session_id: str) -> None:
        s = self.sessions.pop(session_id, None)
        if s is None:
            raise UnknownSession(f"unknown session {session_id!r}")
        await s.close()
        self._closed_sessions[session_id] = {**self._session_stats(s), "state": "closed"}
        while len(self._closed_sessions) > CLOSED_SESSIONS_KEPT:
            self._closed_sessions.pop(next(iter(self._closed_sessions)))
        if self.on_session_gone is not None:
            self.on_session_gone(session_id)

    @staticmethod
    def _session_stats(s: Session) -> dict[str, Any]:
        t = s.track
        sub = getattr(t, "sub", None)
        lean = getattr(t, "lean", None)
        return {"camera_id": s.camera_id, "kind": s.kind, "state": s.pc.connectionState,
                "frames_sent": getattr(t, "frames_sent", None),
                # frames the hub dropped for this viewer (its queue overflowed) and still queued
                "dropped": sub.dropped if sub is not None else None,
                "queued": sum(1 for x in sub.queue if not isinstance(x, Reset)) if sub is not None else None,
                # time.monotonic() of: the request reaching this process, the answer, DTLS connected (the lean
                # sender starts), the first frame on the wire (lean) or handed to aiortc's sender
                "timing": {"requested": getattr(t, "requested_at", None), "answered": getattr(t, "answered_at", None),
                           "connected": lean.started_at if lean is not None else None,
                           "first_sent": lean.first_sent_at if lean is not None else getattr(t, "first_sent_at",
                                                                                              None)}}

    async def session_stats(self) -> dict[str, dict[str, Any]]:
        """Per session (open, and the last closed ones with their final counters): camera, kind, state, frames
        sent, frames dropped by its hub queue, frames still queued."""
        return {**self._closed_sessions, **{sid: self._session_stats(s) for sid, s in self.sessions.items()}}

    # --- snapshots and recordings ------------------------------------------------------------------------------
    async def snapshot(self, camera_id: str) -> bytes:
        cam = self._camera(camera_id)
        stream = await self._live_stream(cam)
        assert stream.info is not None
        return await asyncio.to_thread(snapshot_jpeg, list(stream.gop[:1]), stream.info)

    async def start_recording(self, camera_id: str, *, duration_s: float | None = None) -> str:
        cam = self._camera(camera_id)
        if duration_s is not None and duration_s <= 0:
            raise BadRequest("duration_s must be positive")
        stream = await self._live_stream(cam)
        rec = Recorder(camera_id, stream.subscribe("recorder:emergency", maxsize=2000), self.rec_dir,
                       segment_s=self.segment_s, emergency=True, duration_s=duration_s, on_segment=self.on_segment,
                       info=stream.info)
        rec.start()
        self.recordings[rec.id] = rec

        def forget(_: object) -> None:
            if self.recordings.get(rec.id) is rec:
                self.recordings.pop(rec.id, None)
            if self.on_recording_gone is not None:
                self.on_recording_gone(rec.id)

        t = asyncio.get_running_loop().create_task(rec.done.wait())
        t.add_done_callback(forget)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return rec.id

    async def stop_recording(self, recording_id: str) -> None:
        rec = self.recordings.pop(recording_id, None)
        if rec is None:
            raise UnknownRecording(f"unknown or finished recording {recording_id!r}")
        await rec.stop()
        if self.on_recording_gone is not None:
            self.on_recording_gone(recording_id)

    def writing(self) -> list[dict[str, Any]]:
        """The segments being written (``Recorder.writing``): a worker pushes them with its statistics, so that
        the facade can index them should the worker die (``recording.recover_segment``)."""
        recs: list[Recorder | DirectRecorder] = [*self.recordings.values(),
                                                 *(c.continuous for c in self.cameras.values() if c.continuous)]
        return [w for w in (r.writing() for r in recs) if w is not None]

    def active_paths(self) -> list[Path]:
        recs: list[Recorder | DirectRecorder] = [*self.recordings.values(),
                                                 *(c.continuous for c in self.cameras.values() if c.continuous)]
        return [r.active_path for r in recs if r.active_path is not None]

    async def apply_retention(self, *, max_age_days: float | None = None, max_bytes: int | None = None,
                              released: Iterable[Path] = ()) -> list[Path]:
        """Retention for the caller to schedule: by age, then oldest first down to ``max_bytes``; emergency
        segments are kept unless ``released``; segments being written are never deleted."""
        return await asyncio.to_thread(apply_retention, self.rec_dir, max_age_days=max_age_days, max_bytes=max_bytes,
                                       released=list(released), active=self.active_paths())

    async def export_clip(self, camera_id: str, paths: list[Path], start: datetime, end: datetime) -> Path:
        if end <= start:
            raise BadRequest("the clip must end after it starts")
        if not paths:
            raise BadRequest("no segments given")
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in camera_id)
        out = self.export_dir / f"{safe}_{start.astimezone(UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}.mp4"
        try:
            return await asyncio.to_thread(export_clip, [Path(p) for p in paths], start, end, out)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    # --- playback ----------------------------------------------------------------------------------------------
    async def playback_answer(self, camera_id: str, paths: list[Path], start: datetime, offer_sdp: str,
                              speed: float = 1.0) -> tuple[str, str]:
        track = PlaybackTrack([Path(p) for p in paths], start, speed)
        holder: dict[str, str] = {}

        async def closed() -> None:
            sid = holder.get("id")
            if sid:
                with contextlib.suppress(UnknownSession):
                    await self.webrtc_close(sid)

        pc, sdp = await answer(offer_sdp, track, on_closed=closed)
        session = Session(camera_id, pc, track, kind="playback")
        holder["id"] = session.id
        self.sessions[session.id] = session
        return session.id, sdp

    async def playback_control(self, session_id: str, action: str, value: float | None = None) -> None:
        s = self.sessions.get(session_id)
        if s is None or not isinstance(s.track, PlaybackTrack):
            raise UnknownSession(f"unknown playback session {session_id!r}")
        s.track.control(action, value)

    # --- statistics --------------------------------------------------------------------------------------------
    def _camera_stats(self, cam: _Camera) -> dict[str, Any]:
        st = cam.stream.stats()
        last = st.pop("last_packet_at")
        st.update({
            "camera_id": cam.id, "status": cam.status,
            "last_packet_at": datetime.fromtimestamp(last, UTC).isoformat() if last else None,
            "last_packet_age_s": round(time.time() - last, 3) if last else None,
            "recording_continuous": cam.continuous is not None,
            # continuous recording: the longest the demux thread spent opening a segment / writing a fragment, and
            # closing a segment took (a writer thread)
            "recording_open_ms_max": round(cam.continuous.open_ms_max, 2) if cam.continuous else None,
            "recording_flush_ms_max": round(cam.continuous.flush_ms_max, 2) if cam.continuous else None,
            "recording_close_ms_max": round(cam.continuous.close_ms_max, 2) if cam.continuous else None,
            "emergency_recordings": [r.id for r in self.recordings.values() if r.camera_id == cam.id],
            "transport": cam.transport,
        })
        if cam.status == "offline" and cam.detail.get("reason"):
            st["reason"] = redact(str(cam.detail["reason"]), *cam.secrets)
        return st

    def stats(self, camera_id: str | None = None) -> dict:
        if camera_id is not None:
            return self._camera_stats(self._camera(camera_id))
        return {
            "cameras": {cid: self._camera_stats(c) for cid, c in self.cameras.items()},
            "sessions": {"live": sum(1 for s in self.sessions.values() if s.kind == "live"),
                         "playback": sum(1 for s in self.sessions.values() if s.kind == "playback")},
            "recordings": len(self.recordings),
        }

