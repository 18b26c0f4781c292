"""Cameras and video over REST (COM-1/2/3/7, MAP-7). Thin: the catalogue logic is in ``service.py``, the media
gateway behind ``media.py``; every media endpoint answers 503 ``media_unavailable`` while video is unavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..core.api import Ctx, RouteTable, body_invalid, json_response, parse_body
from ..core.errors import ApiError
from ..core.services import services
from ..files import service as files
from ..files.service import FILE_STORE, first_file_part
from . import service, xlsx
from .media import ActiveRecording, Media, media
from .models import Camera
from .perms import READ, RECORD, VIEW, WRITE
from .schemas import (
    LOCAL_TZ,
    CameraIn,
    CameraOut,
    CameraPage,
    CameraPatchIn,
    CameraQuery,
    ImportResult,
    PlaybackControlIn,
    PlaybackIn,
    PlaybackOut,
    ProbeIn,
    ProbeOut,
    RecordingOut,
    RecordingPage,
    RecordingQuery,
    RecordingSessionOut,
    RecordingStartIn,
    SdpIn,
    SnapshotOut,
    TimeRange,
    TourIn,
    TourOut,
    TourPatchIn,
    WallLayoutIn,
    WallLayoutOut,
    WebRTCOut,
)

routes = RouteTable("cameras")

SDP_TYPE = "application/sdp"
SNAPSHOT_MAX_BYTES = 20 * 1024 * 1024


async def _json_body(ctx: Ctx, model: type[BaseModel], *, optional: bool = False) -> Any:
    raw = await ctx.request.read()
    if not raw.strip():
        if optional:
            return model()
        raise ApiError(400, "body_required", "a JSON body is required")
    return parse_body(model, raw)


async def _sdp_offer(ctx: Ctx) -> tuple[str, bool]:
    """The SDP offer from an ``application/sdp`` body (WHEP) or JSON ``{sdp}``; and whether it was raw SDP."""
    if ctx.request.content_type == SDP_TYPE:
        raw = await ctx.request.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "bad_sdp", "the SDP offer is not UTF-8 text") from None
        try:
            return SdpIn(sdp=text).sdp, True
        except ValidationError as exc:
            raise body_invalid(exc) from None
    body = await _json_body(ctx, SdpIn)
    return body.sdp, False


def _safe_name(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("_") or "camera"


def _local_stamp(t: dt.datetime) -> str:
    return t.astimezone(LOCAL_TZ).strftime("%Y%m%d_%H%M%S")


def _disposition(filename: str, fallback: str) -> str:
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


async def _media_camera(ctx: Ctx) -> tuple[Media, Any, Camera]:
    """The camera (404), the gateway (503) and a check that the camera may stream (409 when disabled)."""
    cid = ctx.int_param("id")
    c = await service.load_camera(services(ctx.app), cid)
    m = media(ctx.app)
    gw = m.require()
    if not c.enabled:
        raise ApiError(409, "camera_disabled", f"camera {cid} is disabled", {"camera_id": cid})
    if c.protocol != "rtsp":
        raise ApiError(409, "protocol_unsupported", f"{c.protocol} cameras are not supported yet")
    await m.sync_camera(cid)  # normally a no-op; covers a change another process made a moment ago
    return m, gw, c


# --- catalogue ----------------------------------------------------------------------------------------------


@routes.get("/api/v1/cameras", perm=READ, query=CameraQuery, response=CameraPage)
async def list_cameras(ctx: Ctx) -> dict[str, Any]:
    """Cameras by name, filtered by kind, status, unit, tag and text (name, address, tags)."""
    return await service.list_cameras(services(ctx.app), ctx.user, ctx.query)


@routes.get("/api/v1/cameras/geojson", perm=READ)
async def cameras_geojson(ctx: Ctx) -> dict[str, Any]:
    """Cameras with a location as a WGS-84 GeoJSON FeatureCollection (status in the properties)."""
    return await service.cameras_geojson(services(ctx.app))


@routes.post("/api/v1/cameras", perm=WRITE, body=CameraIn, response=CameraOut, status=201)
async def create_camera(ctx: Ctx) -> web.Response:
    """Add a camera; credentials written into the URL are moved to the (write-only) fields."""
    out = await service.create_camera(services(ctx.app), ctx.user, ctx.body)
    await media(ctx.app).sync_camera(out["id"])
    return json_response(out, status=201, headers={"Location": f"/api/v1/cameras/{out['id']}"})


@routes.get(r"/api/v1/cameras/{id:\d+}", perm=READ, response=CameraOut)
async def get_camera(ctx: Ctx) -> dict[str, Any]:
    """One camera (never its password)."""
    return await service.get_camera(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.patch(r"/api/v1/cameras/{id:\d+}", perm=WRITE, body=CameraPatchIn, response=CameraOut)
async def patch_camera(ctx: Ctx) -> dict[str, Any]:
    """Change a camera; `password` null or "" clears it, leaving it out keeps it."""
    out, changed = await service.update_camera(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)
    if service.MEDIA_FIELDS & set(changed):
        await media(ctx.app).sync_camera(out["id"])
    return out


@routes.delete(r"/api/v1/cameras/{id:\d+}", perm=WRITE, status=204)
async def delete_camera(ctx: Ctx) -> None:
    """Remove a camera from the catalogue (its recordings stay until retention removes them)."""
    cid = ctx.int_param("id")
    await service.delete_camera(services(ctx.app), ctx.user, cid)
    await media(ctx.app).sync_camera(cid)


@routes.get("/api/v1/cameras/import-template", perm=READ, response_content_type=xlsx.XLSX_CONTENT_TYPE)
async def import_template(ctx: Ctx) -> web.Response:
    """The XLSX import template (Chinese headers and one example row)."""
    data = await asyncio.to_thread(xlsx.template)
    return web.Response(body=data, content_type=xlsx.XLSX_CONTENT_TYPE,
                        headers={"Content-Disposition": _disposition("摄像机导入模板.xlsx", "cameras-template.xlsx")})


@routes.get("/api/v1/cameras/export.xlsx", perm=READ, query=CameraQuery,
            response_content_type=xlsx.XLSX_CONTENT_TYPE)
async def export_cameras(ctx: Ctx) -> web.Response:
    """The (filtered) catalogue as XLSX in the import format; passwords are never exported."""
    page = await service.list_cameras(services(ctx.app), ctx.user, ctx.query.model_copy(update={
        "page": 1, "page_size": 2000}))
    data = await asyncio.to_thread(xlsx.build, [xlsx.export_row(c) for c in page["items"]])
    return web.Response(body=data, content_type=xlsx.XLSX_CONTENT_TYPE,
                        headers={"Content-Disposition": _disposition("摄像机.xlsx", "cameras.xlsx")})


@routes.post("/api/v1/cameras/import", perm=WRITE, raw_body="multipart/form-data", response=ImportResult)
async def import_cameras(ctx: Ctx) -> dict[str, Any]:
    """Import an XLSX in the template format (field `file`); a row whose name exists updates that camera."""
    part = await first_file_part(ctx.request)
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size > xlsx.MAX_IMPORT_BYTES:
            raise ApiError(413, "payload_too_large", "the spreadsheet exceeds the import size limit",
                           {"max_bytes": xlsx.MAX_IMPORT_BYTES})
        chunks.append(chunk)
    if not size:
        raise ApiError(400, "empty_file", "the uploaded file is empty")
    try:
        rows = await asyncio.to_thread(xlsx.read, b"".join(chunks))
    except xlsx.NotXlsx as exc:
        raise ApiError(415, "unsupported_type", str(exc), {"expected": xlsx.XLSX_CONTENT_TYPE}) from None
    except xlsx.BadTemplate as exc:
        raise ApiError(422, "invalid_template", str(exc), {"headers": xlsx.HEADERS}) from None
    out, touched = await service.import_cameras(services(ctx.app), ctx.user, rows)
    if touched:
        await media(ctx.app).sync_all()
    return out


# --- connection test ----------------------------------------------------------------------------------------


@routes.post("/api/v1/cameras/probe", perm=WRITE, body=ProbeIn, response=ProbeOut)
async def probe_url(ctx: Ctx) -> dict[str, Any]:
    """Connection test of an unsaved URL: codec, resolution, fps, bitrate, time to the first packet."""
    m = media(ctx.app)
    gw = m.require()
    b: ProbeIn = ctx.body
    info = await m.call(gw.probe, b.url, transport=b.transport, username=b.username, password=b.password,
                        timeout_s=b.timeout_s)
    return ProbeOut.model_validate(info or {}).model_dump()


@routes.post(r"/api/v1/cameras/{id:\d+}/probe", perm=WRITE, response=ProbeOut)
async def probe_camera(ctx: Ctx) -> dict[str, Any]:
    """Connection test of a saved camera; the result is kept (`media_info`) and sets its status."""
    cid = ctx.int_param("id")
    svc = services(ctx.app)
    c = await service.load_camera(svc, cid)
    m = media(ctx.app)
    gw = m.require()
    try:
        info = await m.call(gw.probe, c.url, transport=c.transport, username=c.username, password=c.password,
                            timeout_s=5.0)
    except ApiError as exc:
        if c.enabled and not m.in_use(cid):
            await service.set_status(svc, cid, "offline", exc.message, source="probe")
        raise
    out = ProbeOut.model_validate(info or {}).model_dump()
    await service.record_probe(svc, cid, out)
    if c.enabled and not m.in_use(cid):
        await service.set_status(svc, cid, "online", None, source="probe")
    return out


# --- live view (WHEP-style) ---------------------------------------------------------------------------------


@routes.post(r"/api/v1/cameras/{id:\d+}/webrtc", perm=VIEW, raw_body=SDP_TYPE, response=WebRTCOut, status=201)
async def webrtc_offer(ctx: Ctx) -> web.Response:
    """Live view: an SDP offer (`application/sdp` as in WHEP, or JSON `{sdp}`) → 201 with the SDP answer and
    a `Location` to `DELETE` when done. The stream is passed through (no re-encoding)."""
    m, gw, c = await _media_camera(ctx)
    offer, raw = await _sdp_offer(ctx)
    sid, answer = await m.call(gw.webrtc_answer, str(c.id), offer)
    sid = str(sid)
    m.add_session(sid, c.id, "live", ctx.user.user_id)
    location = f"/api/v1/cameras/{c.id}/webrtc/{quote(sid, safe='')}"
    headers = {"Location": location, "X-Session-Id": sid}
    if raw or SDP_TYPE in ctx.request.headers.get("Accept", ""):
        return web.Response(text=answer, status=201, content_type=SDP_TYPE, headers=headers)
    return json_response({"session_id": sid, "sdp": answer, "type": "answer", "location": location}, status=201,
                         headers=headers)


@routes.delete(r"/api/v1/cameras/{id:\d+}/webrtc/{session}", perm=VIEW, status=204)
async def webrtc_close(ctx: Ctx) -> None:
    """Stop a live view session."""
    cid = ctx.int_param("id")
    await service.load_camera(services(ctx.app), cid)
    m = media(ctx.app)
    gw = m.require()
    s = m.session_of(ctx.params["session"], cid, "live")
    m.sessions.pop(s.id, None)
    with contextlib.suppress(ApiError):  # already gone on the gateway's side: the caller's wish is met
        await m.call(gw.webrtc_close, s.id)


# --- snapshot -----------------------------------------------------------------------------------------------


@routes.post(r"/api/v1/cameras/{id:\d+}/snapshot", perm=VIEW, response=SnapshotOut, status=201)
async def snapshot(ctx: Ctx) -> web.Response:
    """A JPEG decoded from the latest keyframe, stored as an attachment; answers its metadata and URL."""
    m, gw, c = await _media_camera(ctx)
    svc = services(ctx.app)
    data = await m.call(gw.snapshot, str(c.id))
    if not isinstance(data, (bytes, bytearray)) or not bytes(data[:3]) == b"\xff\xd8\xff":
        raise ApiError(502, "snapshot_failed", "the media gateway did not return a JPEG picture")
    data = bytes(data)
    taken = dt.datetime.now(dt.UTC)
    digest, size, _head = await ctx.app[FILE_STORE].put_bytes(data, SNAPSHOT_MAX_BYTES)
    filename = f"{_safe_name(c.name)}_{_local_stamp(taken)}.jpg"
    f = await files.record(svc, ctx.user, digest, size, "image/jpeg", filename)
    wh = service.jpeg_size(data)
    async with svc.write(ctx.user) as uow:
        uow.emit("camera.snapshot", subject_type="camera", subject_id=c.id,
                 payload={"camera_id": c.id, "name": c.name, "file_id": f.id, "filename": filename},
                 audience=["role:admin", "role:commander", "role:operator", f"user:{ctx.user.user_id}"])
    out = {"camera_id": c.id, "taken_at": taken, "file_id": f.id, "sha256": f.sha256, "size": f.size,
           "content_type": f.content_type, "filename": f.filename, "url": f"/api/v1/files/{f.id}/content",
           "width": wh[0] if wh else None, "height": wh[1] if wh else None}
    return json_response(out, status=201, headers={"Location": out["url"]})


# --- recording ----------------------------------------------------------------------------------------------


@routes.post(r"/api/v1/cameras/{id:\d+}/recordings", perm=RECORD, response=RecordingSessionOut, status=201)
async def start_recording(ctx: Ctx) -> web.Response:
    """Start an emergency recording (optional JSON `{duration_s}`); it includes the cached GOP as pre-roll."""
    m, gw, c = await _media_camera(ctx)
    body: RecordingStartIn = await _json_body(ctx, RecordingStartIn, optional=True)
    rid = str(await m.call(gw.start_recording, str(c.id), duration_s=body.duration_s))
    started = dt.datetime.now(dt.UTC)
    m.recordings[rid] = ActiveRecording(rid, c.id, ctx.user.user_id, started, body.duration_s)
    async with services(ctx.app).write(ctx.user) as uow:
        uow.emit("camera.recording_started", subject_type="camera", subject_id=c.id,
                 payload={"camera_id": c.id, "name": c.name, "recording_id": rid, "duration_s": body.duration_s})
    location = f"/api/v1/cameras/{c.id}/recordings/{quote(rid, safe='')}"
    return json_response({"recording_id": rid, "camera_id": c.id, "started_at": started,
                          "duration_s": body.duration_s, "location": location}, status=201,
                         headers={"Location": location})


@routes.delete(r"/api/v1/cameras/{id:\d+}/recordings/{rid}", perm=RECORD, status=204)
async def stop_recording(ctx: Ctx) -> None:
    """Stop an emergency recording; its last segment is indexed when the gateway closes it."""
    cid = ctx.int_param("id")
    c = await service.load_camera(services(ctx.app), cid)
    m = media(ctx.app)
    gw = m.require()
    rid = ctx.params["rid"]
    active = m.recordings.get(rid)
    if active is None or active.camera_id != cid:
        raise ApiError(404, "recording_not_active", f"no emergency recording {rid} is running on camera {cid}",
                       {"recording_id": rid, "camera_id": cid})
    await m.call(gw.stop_recording, rid)
    m.recordings.pop(rid, None)
    async with services(ctx.app).write(ctx.user) as uow:
        uow.emit("camera.recording_stopped", subject_type="camera", subject_id=cid,
                 payload={"camera_id": cid, "name": c.name, "recording_id": rid})


@routes.get("/api/v1/recordings", perm=READ, query=RecordingQuery, response=RecordingPage)
async def list_recordings(ctx: Ctx) -> dict[str, Any]:
    """The recordings index (segments) by start time; for one camera and a range also the gaps."""
    return await service.list_recordings(services(ctx.app), ctx.query)


@routes.get(r"/api/v1/recordings/{id:\d+}", perm=READ, response=RecordingOut)
async def get_recording(ctx: Ctx) -> dict[str, Any]:
    """One recorded segment."""
    return service.recording_out(await service.get_recording(services(ctx.app), ctx.int_param("id")))


@routes.get(r"/api/v1/recordings/{id:\d+}/download", perm=READ, response_content_type="video/mp4")
async def download_recording(ctx: Ctx) -> web.StreamResponse:
    """The segment's MP4 file."""
    r = await service.get_recording(services(ctx.app), ctx.int_param("id"))
    path = Path(r.path)
    if not await asyncio.to_thread(path.is_file):
        raise ApiError(410, "recording_missing", "the recorded file is no longer on disk", {"id": r.id})
    name = f"{_safe_name(r.camera_name or str(r.camera_id))}_{_local_stamp(r.start_at)}.mp4"
    return web.FileResponse(path, headers={"Content-Type": "video/mp4",
                                           "Content-Disposition": _disposition(name, f"recording-{r.id}.mp4")})


@routes.post(r"/api/v1/recordings/{id:\d+}/release", perm=RECORD, response=RecordingOut)
async def release_recording(ctx: Ctx) -> dict[str, Any]:
    """Release an emergency recording (all its segments) so that retention may delete it."""
    return await service.release_recording(services(ctx.app), ctx.user, ctx.int_param("id"))


@routes.get(r"/api/v1/cameras/{id:\d+}/clip", perm=READ, query=TimeRange, response_content_type="video/mp4")
async def export_clip(ctx: Ctx) -> web.StreamResponse:
    """An MP4 of `from`–`to` cut from the recorded segments at keyframes, without re-encoding."""
    cid = ctx.int_param("id")
    svc = services(ctx.app)
    c = await service.load_camera(svc, cid)
    m = media(ctx.app)
    gw = m.require()
    q: TimeRange = ctx.query
    segs = await service.segments_between(svc, cid, q.from_, q.to)
    paths = [Path(r.path) for r in segs if await asyncio.to_thread(Path(r.path).is_file)]
    if not paths:
        raise ApiError(404, "no_recording", "nothing was recorded in that time range",
                       {"camera_id": cid, "from": q.from_, "to": q.to})
    out = Path(await m.call(gw.export_clip, str(cid), paths, q.from_, q.to))
    name = f"{_safe_name(c.name)}_{_local_stamp(q.from_)}-{_local_stamp(q.to)}.mp4"
    headers = {"Content-Type": "video/mp4", "Content-Disposition": _disposition(name, f"clip-{cid}.mp4")}
    try:
        return await _send_file(ctx.request, out, headers)
    finally:
        await asyncio.to_thread(_remove_copy, out, paths)


async def _send_file(request: web.Request, path: Path, headers: dict[str, str]) -> web.StreamResponse:
    """Stream a file that is deleted right after (FileResponse would look at it again after the handler)."""
    f = await asyncio.to_thread(path.open, "rb")
    try:
        size = await asyncio.to_thread(lambda: os.fstat(f.fileno()).st_size)
        resp = web.StreamResponse(headers=headers)
        resp.content_length = size
        await resp.prepare(request)
        while chunk := await asyncio.to_thread(f.read, 256 * 1024):
            await resp.write(chunk)
        await resp.write_eof()
        return resp
    finally:
        await asyncio.to_thread(f.close)


def _remove_copy(out: Path, segments: list[Path]) -> None:
    """Delete an exported clip after sending it — unless the gateway handed back a recorded segment itself."""
    if out.resolve() in {p.resolve() for p in segments}:
        return
    with contextlib.suppress(OSError):
        out.unlink()


# --- playback -----------------------------------------------------------------------------------------------


@routes.post(r"/api/v1/cameras/{id:\d+}/playback", perm=READ, body=PlaybackIn, response=PlaybackOut, status=201)
async def playback(ctx: Ctx) -> web.Response:
    """Play `from`–`to` of the recordings to WebRTC: `{sdp, from, to, speed}` → the SDP answer and a session."""
    cid = ctx.int_param("id")
    svc = services(ctx.app)
    await service.load_camera(svc, cid)
    m = media(ctx.app)
    gw = m.require()
    b: PlaybackIn = ctx.body
    segs = await service.segments_between(svc, cid, b.from_, b.to)
    segs = [r for r in segs if await asyncio.to_thread(Path(r.path).is_file)]
    if not segs:
        raise ApiError(404, "no_recording", "nothing was recorded in that time range",
                       {"camera_id": cid, "from": b.from_, "to": b.to})
    start = max(b.from_, segs[0].start_at)
    end = min(b.to, max(r.end_at for r in segs))
    sid, answer = await m.call(gw.playback_answer, str(cid), [Path(r.path) for r in segs], start, b.sdp,
                               speed=b.speed)
    sid = str(sid)
    m.add_session(sid, cid, "playback", ctx.user.user_id, start)
    location = f"/api/v1/cameras/{cid}/playback/{quote(sid, safe='')}"
    return json_response({"session_id": sid, "sdp": answer, "type": "answer", "camera_id": cid, "start": start,
                          "end": end, "speed": b.speed, "segments": len(segs), "location": location},
                         status=201, headers={"Location": location})


@routes.post(r"/api/v1/cameras/{id:\d+}/playback/{session}/control", perm=READ, body=PlaybackControlIn)
async def playback_control(ctx: Ctx) -> dict[str, Any]:
    """Pause, resume, seek (to a date-time) or change the speed of a playback session."""
    cid = ctx.int_param("id")
    m = media(ctx.app)
    gw = m.require()
    s = m.session_of(ctx.params["session"], cid, "playback")
    b: PlaybackControlIn = ctx.body
    value: Any = b.value
    if b.action == "seek" and isinstance(value, dt.datetime):
        value = (value - (s.start or value)).total_seconds()  # the gateway seeks in seconds from the start
        if value < 0:
            raise ApiError(422, "seek_out_of_range", "that time is before the played range",
                           {"start": s.start})
    await m.call(gw.playback_control, s.id, b.action, value)
    return {"session_id": s.id, "action": b.action, "value": b.value,
            "position_s": value if b.action == "seek" else None}


@routes.delete(r"/api/v1/cameras/{id:\d+}/playback/{session}", perm=READ, status=204)
async def playback_close(ctx: Ctx) -> None:
    """Stop a playback session."""
    cid = ctx.int_param("id")
    m = media(ctx.app)
    gw = m.require()
    s = m.session_of(ctx.params["session"], cid, "playback")
    m.sessions.pop(s.id, None)
    with contextlib.suppress(ApiError):
        await m.call(gw.webrtc_close, s.id)


# --- statistics ---------------------------------------------------------------------------------------------


def _gateway_stats(m: Media, gw: Any, camera_id: str | None) -> Any:
    try:
        return gw.stats(camera_id) if camera_id is not None else gw.stats()
    except Exception as exc:
        err = m.translate(exc)
        if err is None:
            raise
        if err.status == 404:
            return {}
        raise err from None


@routes.get(r"/api/v1/cameras/{id:\d+}/stats", perm=READ)
async def camera_stats(ctx: Ctx) -> dict[str, Any]:
    """Per-stream statistics (bitrate, fps, keyframe interval, viewers, drops, last packet) and our sessions."""
    cid = ctx.int_param("id")
    c = await service.load_camera(services(ctx.app), cid)
    m = media(ctx.app)
    gw = m.require()
    return {"camera_id": cid, "status": c.status, "last_seen": c.last_seen, "viewers": m.viewers(cid),
            "active_recordings": m.active_recordings(cid), "stream": _gateway_stats(m, gw, str(cid))}


@routes.get("/api/v1/media/stats", perm=READ)
async def media_stats(ctx: Ctx) -> dict[str, Any]:
    """The media gateway's statistics for every stream, and this server's sessions."""
    m = media(ctx.app)
    gw = m.require()
    return {"available": True, "cameras_configured": m.configured, "sessions": len(m.sessions),
            "recordings": len(m.recordings), "gateway": _gateway_stats(m, gw, None)}


# --- tours --------------------------------------------------------------------------------------------------


@routes.get("/api/v1/camera-tours", perm=READ, response=list[TourOut])
async def list_tours(ctx: Ctx) -> list[dict[str, Any]]:
    """Tours (监控轮询), by name."""
    return await service.list_tours(services(ctx.app))


@routes.post("/api/v1/camera-tours", perm=WRITE, body=TourIn, response=TourOut, status=201)
async def create_tour(ctx: Ctx) -> dict[str, Any]:
    """Define a tour: cameras in order, seconds per camera, the wall layout for whole-wall play."""
    return await service.create_tour(services(ctx.app), ctx.user, ctx.body)


@routes.get(r"/api/v1/camera-tours/{id:\d+}", perm=READ, response=TourOut)
async def get_tour(ctx: Ctx) -> dict[str, Any]:
    """One tour."""
    return await service.get_tour(services(ctx.app), ctx.int_param("id"))


@routes.patch(r"/api/v1/camera-tours/{id:\d+}", perm=WRITE, body=TourPatchIn, response=TourOut)
async def patch_tour(ctx: Ctx) -> dict[str, Any]:
    """Change a tour."""
    return await service.update_tour(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.delete(r"/api/v1/camera-tours/{id:\d+}", perm=WRITE, status=204)
async def delete_tour(ctx: Ctx) -> None:
    """Delete a tour."""
    await service.delete_tour(services(ctx.app), ctx.user, ctx.int_param("id"))


# --- wall layouts -------------------------------------------------------------------------------------------


@routes.get("/api/v1/wall-layouts", perm=READ, response=list[WallLayoutOut])
async def list_layouts(ctx: Ctx) -> list[dict[str, Any]]:
    """The caller's saved video-wall layouts and the shared ones; the default first."""
    return await service.list_layouts(services(ctx.app), ctx.user)


@routes.post("/api/v1/wall-layouts", perm=READ, body=WallLayoutIn, response=WallLayoutOut, status=201)
async def create_layout(ctx: Ctx) -> dict[str, Any]:
    """Save a layout for the caller (`shared: true` for everyone needs the camera write permission)."""
    return await service.create_layout(services(ctx.app), ctx.user, ctx.body)


@routes.put(r"/api/v1/wall-layouts/{id:\d+}", perm=READ, body=WallLayoutIn, response=WallLayoutOut)
async def update_layout(ctx: Ctx) -> dict[str, Any]:
    """Replace one of the caller's layouts (or a shared one, with the camera write permission)."""
    return await service.update_layout(services(ctx.app), ctx.user, ctx.int_param("id"), ctx.body)


@routes.delete(r"/api/v1/wall-layouts/{id:\d+}", perm=READ, status=204)
async def delete_layout(ctx: Ctx) -> None:
    """Delete one of the caller's layouts (or a shared one, with the camera write permission)."""
    await service.delete_layout(services(ctx.app), ctx.user, ctx.int_param("id"))
