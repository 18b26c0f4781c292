"""The cameras domain's logic (no HTTP): catalogue, status, recordings index, tours and wall layouts.

Writes go through a unit of work; catalogue and status changes are events (``camera.*``) that reach every
console live. The password of a camera is never part of an event, a log line or an answer.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..core.errors import ApiError, conflict, not_found, unprocessable
from ..core.security import SystemActor
from ..core.services import Services
from ..core.uow import AnyActor
from ..org.models import Unit
from . import perms
from .models import Camera, CameraRecording, CameraTour, WallLayout
from .schemas import (
    KINDS,
    LAYOUTS,
    LOCAL_TZ,
    CameraIn,
    CameraPatchIn,
    CameraQuery,
    RecordingQuery,
    TourIn,
    TourPatchIn,
    WallLayoutIn,
)
from .xlsx import row_to_camera

log = logging.getLogger("ecs.cameras")

SYSTEM = SystemActor(username="media")
GAP_TOLERANCE_S = 2.0  # segments closer than this are one continuous picture (keyframe cuts)
DEFAULT_RETENTION_DAYS = 30


def _field_error(loc: list[str | int], message: str, type_: str = "value_error") -> ApiError:
    return unprocessable(message, [{"loc": ["body", *loc], "msg": message, "type": type_}])


# --- output -------------------------------------------------------------------------------------------------


def camera_out(c: Camera, actor: AnyActor | None, unit_name: str | None) -> dict[str, Any]:
    may_edit = actor is not None and perms.can(actor, perms.WRITE)
    return {
        "id": c.id, "name": c.name, "kind": c.kind, "protocol": c.protocol, "url": c.url, "transport": c.transport,
        "username": c.username if may_edit else None, "has_password": bool(c.password),
        "lon": c.lon, "lat": c.lat, "address": c.address, "unit_id": c.unit_id, "unit_name": unit_name,
        "feature_id": c.feature_id, "tags": list(c.tags or []), "recording_mode": c.recording_mode,
        "recording_schedule": list(c.recording_schedule or []), "retention_days": c.retention_days,
        "transcode_h265": c.transcode_h265, "enabled": c.enabled, "status": c.status,
        "status_detail": c.status_detail, "status_changed_at": c.status_changed_at, "last_seen": c.last_seen,
        "media_info": dict(c.media_info or {}), "description": c.description, "created_at": c.created_at,
        "updated_at": c.updated_at,
    }


def event_payload(c: Camera, **extra: Any) -> dict[str, Any]:
    """What an event tells about a camera: enough for a map, a tree and a wall; never credentials."""
    return {"id": c.id, "name": c.name, "kind": c.kind, "status": c.status, "lon": c.lon, "lat": c.lat,
            "unit_id": c.unit_id, "enabled": c.enabled, **extra}


async def _unit_names(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict((await s.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))).all())


# --- catalogue reads ----------------------------------------------------------------------------------------


def _filtered(q: CameraQuery) -> Select[Any]:
    stmt = select(Camera)
    if q.kind:
        stmt = stmt.where(Camera.kind.in_(q.kind))
    if q.status:
        stmt = stmt.where(Camera.status.in_(q.status))
    if q.unit_id is not None:
        stmt = stmt.where(Camera.unit_id == q.unit_id)
    if q.enabled is not None:
        stmt = stmt.where(Camera.enabled.is_(q.enabled))
    if q.ids:
        stmt = stmt.where(Camera.id.in_(q.ids))
    return stmt


def _matches(c: Camera, q: CameraQuery) -> bool:
    """Text and tag filters, applied in Python: tags are a JSON list (the catalogue is small)."""
    if q.tag and q.tag not in (c.tags or []):
        return False
    if q.q:
        needle = q.q.strip().lower()
        hay = [c.name, c.address or "", *(c.tags or [])]
        if not any(needle in h.lower() for h in hay):
            return False
    return True


async def list_cameras(svc: Services, actor: AnyActor, q: CameraQuery) -> dict[str, Any]:
    async with svc.db.read() as s:
        stmt = _filtered(q)
        rows = [c for c in (await s.scalars(stmt.order_by(Camera.name, Camera.id))).all() if _matches(c, q)]
        total = len(rows)
        page = rows[(q.page - 1) * q.page_size: q.page * q.page_size]
        units = await _unit_names(s, {c.unit_id for c in page if c.unit_id})
    return {"items": [camera_out(c, actor, units.get(c.unit_id or 0)) for c in page], "total": total,
            "page": q.page, "page_size": q.page_size}


async def get_camera_row(s: AsyncSession, camera_id: int, *, lock: bool = False) -> Camera:
    stmt = select(Camera).where(Camera.id == camera_id)
    if lock:
        stmt = stmt.with_for_update()
    c = await s.scalar(stmt)
    if c is None:
        raise not_found("camera", camera_id)
    return c


async def get_camera(svc: Services, actor: AnyActor, camera_id: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        c = await get_camera_row(s, camera_id)
        units = await _unit_names(s, {c.unit_id} if c.unit_id else set())
    return camera_out(c, actor, units.get(c.unit_id or 0))


async def load_camera(svc: Services, camera_id: int) -> Camera:
    """The row with its (decrypted) credentials, for the media gateway only."""
    async with svc.db.read() as s:
        return await get_camera_row(s, camera_id)


async def all_cameras(svc: Services) -> list[Camera]:
    async with svc.db.read() as s:
        return list((await s.scalars(select(Camera).order_by(Camera.id))).all())


async def cameras_geojson(svc: Services) -> dict[str, Any]:
    """Cameras with a location as a WGS-84 FeatureCollection (the map's camera overlay)."""
    async with svc.db.read() as s:
        rows = (await s.scalars(select(Camera).where(Camera.lon.is_not(None)).order_by(Camera.id))).all()
        units = await _unit_names(s, {c.unit_id for c in rows if c.unit_id})
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": c.id, "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]},
         "properties": {"id": c.id, "name": c.name, "kind": c.kind, "kind_label": KINDS.get(c.kind, c.kind),
                        "status": c.status, "enabled": c.enabled, "address": c.address,
                        "unit_name": units.get(c.unit_id or 0), "tags": list(c.tags or [])}}
        for c in rows]}


# --- catalogue writes ---------------------------------------------------------------------------------------


async def _check_unit(s: AsyncSession, unit_id: int | None) -> None:
    if unit_id is not None and await s.get(Unit, unit_id) is None:
        raise _field_error(["unit_id"], f"unit {unit_id} does not exist", "not_found")


async def _check_name(s: AsyncSession, name: str, own_id: int | None = None) -> None:
    stmt = select(Camera.id).where(Camera.name == name)
    if own_id is not None:
        stmt = stmt.where(Camera.id != own_id)
    if await s.scalar(stmt) is not None:
        raise conflict("camera_name_taken", f"a camera named {name} already exists", {"name": name})


def _apply(c: Camera, values: dict[str, Any]) -> list[str]:
    changed: list[str] = []
    for name, value in values.items():
        if name == "password":
            value = value or None
            if value != c.password:
                c.password = value
                changed.append("password")
            continue
        if name == "recording_schedule":
            value = [w if isinstance(w, dict) else w.model_dump() for w in value]
        if getattr(c, name) != value:
            setattr(c, name, value)
            changed.append(name)
    return changed


async def create_camera(svc: Services, actor: AnyActor, body: CameraIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        await _check_name(s, body.name)
        await _check_unit(s, body.unit_id)
        c = Camera(status="unknown", media_info={})
        _apply(c, body.model_dump())
        s.add(c)
        await s.flush()
        uow.emit("camera.created", subject_type="camera", subject_id=c.id, payload=event_payload(c))
        units = await _unit_names(s, {c.unit_id} if c.unit_id else set())
    return camera_out(c, actor, units.get(c.unit_id or 0))


# Fields whose change means the gateway must be told again.
MEDIA_FIELDS = frozenset({"url", "transport", "username", "password", "recording_mode", "recording_schedule",
                          "transcode_h265", "enabled", "protocol"})


async def update_camera(svc: Services, actor: AnyActor, camera_id: int, body: CameraPatchIn
                        ) -> tuple[dict[str, Any], list[str]]:
    given = body.model_fields_set
    values = {k: getattr(body, k) for k in given}
    async with svc.write(actor) as uow:
        s = uow.session
        c = await get_camera_row(s, camera_id, lock=uow.is_postgres)
        if "name" in values and values["name"] != c.name:
            await _check_name(s, values["name"], c.id)
        if "unit_id" in values:
            await _check_unit(s, values["unit_id"])
        changed = _apply(c, values)
        if changed:
            if "url" in changed or "username" in changed or "password" in changed:
                c.media_info = {}  # the last probe was of another stream
            c.updated_at = dt.datetime.now(dt.UTC)
            # which fields changed is told; the values of credentials never are
            uow.emit("camera.updated", subject_type="camera", subject_id=c.id,
                     payload=event_payload(c, fields=changed))
        units = await _unit_names(s, {c.unit_id} if c.unit_id else set())
    return camera_out(c, actor, units.get(c.unit_id or 0)), changed


async def delete_camera(svc: Services, actor: AnyActor, camera_id: int) -> None:
    async with svc.write(actor) as uow:
        s = uow.session
        c = await get_camera_row(s, camera_id, lock=uow.is_postgres)
        payload = event_payload(c)
        await s.delete(c)
        uow.emit("camera.deleted", subject_type="camera", subject_id=camera_id, payload=payload)


async def record_probe(svc: Services, camera_id: int, info: dict[str, Any]) -> None:
    """Keep the last successful connection test on the camera (codec, resolution, …); no event."""
    async with svc.write(SYSTEM) as uow:
        c = await uow.session.get(Camera, camera_id)
        if c is not None:
            c.media_info = _media_info(info)


PROBE_KEYS = ("codec", "width", "height", "fps", "bitrate_kbps", "first_packet_ms", "has_audio")


def _media_info(info: dict[str, Any]) -> dict[str, Any]:
    out = {k: info.get(k) for k in PROBE_KEYS if info.get(k) is not None}
    out["probed_at"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    return out


async def set_status(svc: Services, camera_id: int, status: str, detail: str | None = None, *,
                     source: str = "gateway", info: dict[str, Any] | None = None) -> bool:
    """Record what the gateway (or a connection test) saw; a change is a ``camera.online``/``camera.offline``
    event. ``info`` (codec, width, …) as the stream described itself is kept. Returns whether the status
    changed."""
    if status not in ("online", "offline"):
        return False
    detail = (detail or None) and str(detail)[:300]
    now = dt.datetime.now(dt.UTC)
    async with svc.write(SYSTEM) as uow:
        c = await get_camera_row(uow.session, camera_id, lock=uow.is_postgres)
        if status == "online":
            c.last_seen = now
            if info:
                merged = {**(c.media_info or {}), **_media_info(info)}
                if {k: merged.get(k) for k in PROBE_KEYS} != {k: (c.media_info or {}).get(k) for k in PROBE_KEYS}:
                    c.media_info = merged
        if c.status == status:
            if status == "offline" and detail and detail != c.status_detail:
                c.status_detail = detail
            return False
        previous = c.status
        c.status = status
        c.status_detail = detail
        c.status_changed_at = now
        uow.emit(f"camera.{status}", subject_type="camera", subject_id=c.id,
                 payload=event_payload(c, previous=previous, detail=detail, source=source))
    log.info("camera %s is %s (%s)", camera_id, status, detail or source)
    return True


async def set_statuses(svc: Services, changes: list[tuple[int, str, str | None]], *, source: str) -> int:
    """Several status changes (a connection-test sweep) in one transaction; unchanged ones are skipped."""
    if not changes:
        return 0
    now = dt.datetime.now(dt.UTC)
    n = 0
    async with svc.write(SYSTEM) as uow:
        rows = {c.id: c for c in (await uow.session.scalars(
            select(Camera).where(Camera.id.in_([cid for cid, _, _ in changes])))).all()}
        for cid, status, detail in changes:
            c = rows.get(cid)
            if c is None:
                continue
            if status == "online":
                c.last_seen = now
            if c.status == status:
                continue
            previous = c.status
            c.status, c.status_detail, c.status_changed_at = status, (detail or None) and detail[:300], now
            uow.emit(f"camera.{status}", subject_type="camera", subject_id=c.id,
                     payload=event_payload(c, previous=previous, detail=c.status_detail, source=source))
            n += 1
    return n


# --- import -------------------------------------------------------------------------------------------------


@dataclass
class ImportOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "errors": self.errors}


async def import_cameras(svc: Services, actor: AnyActor, rows: list[tuple[int, dict[str, Any]]]
                         ) -> tuple[dict[str, Any], list[int]]:
    """Apply validated spreadsheet rows in one transaction: a row whose name exists updates that camera.

    ``rows`` are (row number, {field: cell text}) from ``xlsx.read``.
    Returns the outcome and the ids of cameras the media gateway must be told about.
    """
    outcome = ImportOutcome()
    touched: list[int] = []
    async with svc.write(actor) as uow:
        s = uow.session
        units = list((await s.execute(select(Unit.id, Unit.name, Unit.code))).all())
        by_name = {c.name: c for c in (await s.scalars(select(Camera))).all()}
        seen: dict[str, int] = {}
        for number, values in rows:
            try:
                body, given = row_to_camera(values, units)
            except ValueError as exc:
                outcome.errors.append({"row": number, "message": str(exc)})
                continue
            if body.name in seen:
                outcome.errors.append({"row": number,
                                       "message": f"名称: the same name is already on row {seen[body.name]}"})
                continue
            seen[body.name] = number
            existing = by_name.get(body.name)
            if existing is None:
                c = Camera(status="unknown", media_info={})
                _apply(c, body.model_dump())
                s.add(c)
                await s.flush()
                by_name[c.name] = c
                outcome.created += 1
                touched.append(c.id)
                continue
            # an update changes only what the sheet gives; a blank password cell keeps the stored one
            changed = _apply(existing, {f: getattr(body, f) for f in given if f != "unit"})
            if changed:
                if {"url", "username", "password"} & set(changed):
                    existing.media_info = {}
                existing.updated_at = dt.datetime.now(dt.UTC)
                outcome.updated += 1
                touched.append(existing.id)
            else:
                outcome.unchanged += 1
        uow.emit("cameras.imported", subject_type="camera",
                 payload={"created": outcome.created, "updated": outcome.updated, "unchanged": outcome.unchanged,
                          "errors": len(outcome.errors)})
    return outcome.as_dict(), touched


# --- recordings index ---------------------------------------------------------------------------------------


def _parse_time(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)
    if isinstance(v, (int, float)):
        return dt.datetime.fromtimestamp(float(v), dt.UTC)
    if isinstance(v, str):
        d = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        return d if d.tzinfo else d.replace(tzinfo=dt.UTC)
    raise ValueError(f"not a time: {v!r}")


def recording_out(r: CameraRecording) -> dict[str, Any]:
    return {"id": r.id, "camera_id": r.camera_id, "camera_name": r.camera_name, "recording_id": r.recording_id,
            "emergency": r.emergency, "released": r.released, "start_at": r.start_at, "end_at": r.end_at,
            "duration_s": round((r.end_at - r.start_at).total_seconds(), 3), "size": r.size,
            "has_audio": r.has_audio, "download_url": f"/api/v1/recordings/{r.id}/download"}


async def add_segment(svc: Services, seg: dict[str, Any]) -> int | None:
    """Index a closed segment (the gateway's ``on_segment``); idempotent on the file path."""
    try:
        camera_id = int(seg["camera_id"])
        start, end = _parse_time(seg["start"]), _parse_time(seg["end"])
        path = str(seg["path"])
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("ignored a recording segment without a camera, start, end or path: %s", exc)
        return None
    if end < start:
        start, end = end, start
    async with svc.write(SYSTEM) as uow:
        s = uow.session
        existing = await s.scalar(select(CameraRecording).where(CameraRecording.path == path,
                                                                CameraRecording.camera_id == camera_id))
        name = await s.scalar(select(Camera.name).where(Camera.id == camera_id)) or ""
        if existing is not None:  # a segment re-announced (e.g. after a fix-up): keep the row, update it
            if existing.recording_id != str(seg.get("recording_id") or ""):
                log.warning("recording segment %s was announced by two recordings (%s, %s)", path,
                            existing.recording_id, seg.get("recording_id"))
            existing.end_at, existing.size = end, int(seg.get("size") or 0)
            return existing.id
        r = CameraRecording(camera_id=camera_id, camera_name=name, recording_id=str(seg.get("recording_id") or ""),
                            emergency=bool(seg.get("emergency")), released=False, path=path, start_at=start,
                            end_at=end, size=int(seg.get("size") or 0), has_audio=bool(seg.get("has_audio")))
        s.add(r)
        await s.flush()
        return r.id


def gaps_of(rows: list[CameraRecording], start: dt.datetime | None, end: dt.datetime | None
            ) -> list[dict[str, Any]]:
    """Stretches of [start, end] that no segment covers (rows of one camera)."""
    spans = sorted((r.start_at, r.end_at) for r in rows)
    out: list[dict[str, Any]] = []
    cursor = start if start is not None else (spans[0][0] if spans else None)
    for a, b in spans:
        if cursor is not None and (a - cursor).total_seconds() > GAP_TOLERANCE_S:
            out.append({"start": cursor, "end": a, "seconds": round((a - cursor).total_seconds(), 3)})
        if cursor is None or b > cursor:
            cursor = b
    now = dt.datetime.now(dt.UTC)
    stop = min(end, now) if end is not None else None
    if stop is not None and cursor is not None and (stop - cursor).total_seconds() > GAP_TOLERANCE_S:
        out.append({"start": cursor, "end": stop, "seconds": round((stop - cursor).total_seconds(), 3)})
    if not spans and start is not None and stop is not None and stop > start:
        out = [{"start": start, "end": stop, "seconds": round((stop - start).total_seconds(), 3)}]
    return out


async def list_recordings(svc: Services, q: RecordingQuery) -> dict[str, Any]:
    stmt = select(CameraRecording)
    if q.camera_id is not None:
        stmt = stmt.where(CameraRecording.camera_id == q.camera_id)
    if q.from_ is not None:
        stmt = stmt.where(CameraRecording.end_at > q.from_)
    if q.to is not None:
        stmt = stmt.where(CameraRecording.start_at < q.to)
    if q.emergency is not None:
        stmt = stmt.where(CameraRecording.emergency.is_(q.emergency))
    async with svc.db.read() as s:
        total = await s.scalar(select(func.count()).select_from(stmt.with_only_columns(CameraRecording.id)
                                                                .subquery()))
        rows = list((await s.scalars(stmt.order_by(CameraRecording.start_at, CameraRecording.id)
                                     .limit(q.page_size).offset((q.page - 1) * q.page_size))).all())
    gaps: list[dict[str, Any]] = []
    if q.camera_id is not None and (total or 0) <= q.page_size and (q.from_ is not None or rows):
        gaps = gaps_of(rows, q.from_, q.to)
    return {"items": [recording_out(r) for r in rows], "total": total or 0, "page": q.page,
            "page_size": q.page_size, "gaps": gaps}


async def get_recording(svc: Services, recording_id: int) -> CameraRecording:
    async with svc.db.read() as s:
        r = await s.get(CameraRecording, recording_id)
    if r is None:
        raise not_found("recording", recording_id)
    return r


async def segments_between(svc: Services, camera_id: int, start: dt.datetime, end: dt.datetime
                           ) -> list[CameraRecording]:
    async with svc.db.read() as s:
        return list((await s.scalars(
            select(CameraRecording).where(CameraRecording.camera_id == camera_id, CameraRecording.end_at > start,
                                          CameraRecording.start_at < end)
            .order_by(CameraRecording.start_at, CameraRecording.id))).all())


async def release_recording(svc: Services, actor: AnyActor, recording_id: int) -> dict[str, Any]:
    """Let retention remove an emergency recording (every segment of it)."""
    async with svc.write(actor) as uow:
        s = uow.session
        r = await s.get(CameraRecording, recording_id)
        if r is None:
            raise not_found("recording", recording_id)
        rows = list((await s.scalars(select(CameraRecording).where(
            CameraRecording.recording_id == r.recording_id, CameraRecording.camera_id == r.camera_id)))
            .all()) if r.recording_id else [r]
        for row in rows:
            row.released = True
        uow.emit("camera.recording_released", subject_type="camera", subject_id=r.camera_id,
                 payload={"camera_id": r.camera_id, "recording_id": r.recording_id, "segments": len(rows)},
                 audience=["role:admin", "role:commander", "role:operator"])
    return recording_out(r)


async def expired_recordings(svc: Services, now: dt.datetime, quota_bytes: int) -> list[CameraRecording]:
    """Segments to delete: past their camera's retention (emergency ones only once released), then the
    oldest deletable ones while the total exceeds the quota."""
    async with svc.db.read() as s:
        retention = dict((await s.execute(select(Camera.id, Camera.retention_days))).all())
        rows = list((await s.scalars(select(CameraRecording).order_by(CameraRecording.start_at,
                                                                       CameraRecording.id))).all())
    doomed: list[CameraRecording] = []
    keep: list[CameraRecording] = []
    for r in rows:
        days = retention.get(r.camera_id, DEFAULT_RETENTION_DAYS)
        deletable = not r.emergency or r.released
        if deletable and r.end_at < now - dt.timedelta(days=days):
            doomed.append(r)
        else:
            keep.append(r)
    if quota_bytes > 0:
        total = sum(r.size for r in keep)
        for r in keep:
            if total <= quota_bytes:
                break
            if r.emergency and not r.released:
                continue
            doomed.append(r)
            total -= r.size
    return doomed


async def forget_recordings(svc: Services, ids: list[int], *, reason: str, freed: int) -> None:
    if not ids:
        return
    async with svc.write(SYSTEM) as uow:
        await uow.session.execute(delete(CameraRecording).where(CameraRecording.id.in_(ids)))
        uow.emit("camera.recordings_expired", subject_type="recording",
                 payload={"segments": len(ids), "bytes": freed, "reason": reason},
                 audience=["role:admin"])


# --- tours --------------------------------------------------------------------------------------------------


def tour_out(t: CameraTour) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "description": t.description, "dwell_s": t.dwell_s, "layout": t.layout,
            "camera_ids": list(t.camera_ids or []), "created_by_name": t.created_by_name,
            "created_at": t.created_at, "updated_at": t.updated_at}


async def _check_cameras(s: AsyncSession, ids: list[int], loc: str) -> None:
    ids = [i for i in ids if i is not None]
    if not ids:
        return
    found = set((await s.scalars(select(Camera.id).where(Camera.id.in_(ids)))).all())
    missing = [i for i in ids if i not in found]
    if missing:
        raise _field_error([loc], f"camera {', '.join(map(str, missing))} does not exist", "not_found")


async def _check_tour_name(s: AsyncSession, name: str, own_id: int | None = None) -> None:
    stmt = select(CameraTour.id).where(CameraTour.name == name)
    if own_id is not None:
        stmt = stmt.where(CameraTour.id != own_id)
    if await s.scalar(stmt) is not None:
        raise conflict("tour_name_taken", f"a tour named {name} already exists", {"name": name})


async def list_tours(svc: Services) -> list[dict[str, Any]]:
    async with svc.db.read() as s:
        rows = (await s.scalars(select(CameraTour).order_by(CameraTour.name, CameraTour.id))).all()
    return [tour_out(t) for t in rows]


async def get_tour(svc: Services, tour_id: int) -> dict[str, Any]:
    async with svc.db.read() as s:
        t = await s.get(CameraTour, tour_id)
    if t is None:
        raise not_found("tour", tour_id)
    return tour_out(t)


async def create_tour(svc: Services, actor: AnyActor, body: TourIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        await _check_tour_name(s, body.name)
        await _check_cameras(s, body.camera_ids, "camera_ids")
        t = CameraTour(name=body.name, description=body.description, dwell_s=body.dwell_s, layout=body.layout,
                       camera_ids=list(body.camera_ids), created_by_id=actor.user_id,
                       created_by_name=actor.username)
        s.add(t)
        await s.flush()
        uow.emit("camera_tour.created", subject_type="camera_tour", subject_id=t.id,
                 payload={"id": t.id, "name": t.name, "cameras": len(t.camera_ids)})
    return tour_out(t)


async def update_tour(svc: Services, actor: AnyActor, tour_id: int, body: TourPatchIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        s = uow.session
        t = await s.get(CameraTour, tour_id)
        if t is None:
            raise not_found("tour", tour_id)
        changed = []
        for name in body.model_fields_set:
            value = getattr(body, name)
            if name == "name" and value != t.name:
                await _check_tour_name(s, value, t.id)
            if name == "camera_ids":
                await _check_cameras(s, value, "camera_ids")
                value = list(value)
            if getattr(t, name) != value:
                setattr(t, name, value)
                changed.append(name)
        if changed:
            t.updated_at = dt.datetime.now(dt.UTC)
            uow.emit("camera_tour.updated", subject_type="camera_tour", subject_id=t.id,
                     payload={"id": t.id, "name": t.name, "fields": changed})
    return tour_out(t)


async def delete_tour(svc: Services, actor: AnyActor, tour_id: int) -> None:
    async with svc.write(actor) as uow:
        t = await uow.session.get(CameraTour, tour_id)
        if t is None:
            raise not_found("tour", tour_id)
        await uow.session.delete(t)
        uow.emit("camera_tour.deleted", subject_type="camera_tour", subject_id=tour_id,
                 payload={"id": tour_id, "name": t.name})


# --- wall layouts -------------------------------------------------------------------------------------------


def layout_out(w: WallLayout, actor: AnyActor) -> dict[str, Any]:
    return {"id": w.id, "name": w.name, "layout": w.layout, "cells": list(w.cells or []),
            "is_default": w.is_default, "shared": w.user_id is None, "mine": w.user_id == actor.user_id,
            "created_at": w.created_at, "updated_at": w.updated_at}


async def list_layouts(svc: Services, actor: AnyActor) -> list[dict[str, Any]]:
    """The caller's layouts and the shared ones; the caller's default first (else the shared default)."""
    async with svc.db.read() as s:
        rows = list((await s.scalars(select(WallLayout).where(
            or_(WallLayout.user_id == actor.user_id, WallLayout.user_id.is_(None)))
            .order_by(WallLayout.name, WallLayout.id))).all())
    own_default = any(w.is_default and w.user_id == actor.user_id for w in rows)

    def rank(w: WallLayout) -> tuple[int, str, int]:
        if w.is_default and (w.user_id == actor.user_id or not own_default):
            return (0, w.name, w.id)
        return (1 if w.user_id == actor.user_id else 2, w.name, w.id)

    out = []
    for w in sorted(rows, key=rank):
        d = layout_out(w, actor)
        if w.user_id is None and own_default:
            d["is_default"] = False  # the caller's own default wins over the shared one
        out.append(d)
    return out


async def _layout_for_edit(s: AsyncSession, actor: AnyActor, layout_id: int) -> WallLayout:
    w = await s.get(WallLayout, layout_id)
    if w is None or (w.user_id is not None and w.user_id != actor.user_id):
        raise not_found("wall layout", layout_id)
    if w.user_id is None and not perms.can(actor, perms.WRITE):
        raise ApiError(403, "forbidden", "only camera administrators change a shared layout",
                       {"permission": perms.WRITE})
    return w


async def _save_layout(uow: Any, actor: AnyActor, w: WallLayout, body: WallLayoutIn) -> None:
    s = uow.session
    owner = None if body.shared else actor.user_id
    if body.shared and not perms.can(actor, perms.WRITE):
        raise ApiError(403, "forbidden", "only camera administrators share a layout", {"permission": perms.WRITE})
    await _check_cameras(s, [c for c in body.cells if c is not None], "cells")
    clash = await s.scalar(select(WallLayout.id).where(
        WallLayout.name == body.name, WallLayout.id != (w.id or 0),
        WallLayout.user_id.is_(None) if owner is None else WallLayout.user_id == owner))
    if clash is not None:
        raise conflict("layout_name_taken", f"a layout named {body.name} already exists", {"name": body.name})
    if body.is_default:
        others = (await s.scalars(select(WallLayout).where(
            WallLayout.is_default.is_(True), WallLayout.id != (w.id or 0),
            WallLayout.user_id.is_(None) if owner is None else WallLayout.user_id == owner))).all()
        for o in others:
            o.is_default = False
    w.user_id, w.name, w.layout = owner, body.name, body.layout
    w.cells = list(body.cells)
    w.is_default = body.is_default
    w.updated_at = dt.datetime.now(dt.UTC)


def _layout_audience(w: WallLayout, actor: AnyActor) -> list[str]:
    return ["all"] if w.user_id is None else [f"user:{actor.user_id}"]


async def create_layout(svc: Services, actor: AnyActor, body: WallLayoutIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        w = WallLayout()
        await _save_layout(uow, actor, w, body)
        uow.session.add(w)
        await uow.session.flush()
        uow.emit("wall_layout.saved", subject_type="wall_layout", subject_id=w.id,
                 payload={"id": w.id, "name": w.name, "layout": w.layout, "shared": w.user_id is None},
                 audience=_layout_audience(w, actor))
    return layout_out(w, actor)


async def update_layout(svc: Services, actor: AnyActor, layout_id: int, body: WallLayoutIn) -> dict[str, Any]:
    async with svc.write(actor) as uow:
        w = await _layout_for_edit(uow.session, actor, layout_id)
        await _save_layout(uow, actor, w, body)
        uow.emit("wall_layout.saved", subject_type="wall_layout", subject_id=w.id,
                 payload={"id": w.id, "name": w.name, "layout": w.layout, "shared": w.user_id is None},
                 audience=_layout_audience(w, actor))
    return layout_out(w, actor)


async def delete_layout(svc: Services, actor: AnyActor, layout_id: int) -> None:
    async with svc.write(actor) as uow:
        w = await _layout_for_edit(uow.session, actor, layout_id)
        audience = _layout_audience(w, actor)
        await uow.session.delete(w)
        uow.emit("wall_layout.deleted", subject_type="wall_layout", subject_id=layout_id,
                 payload={"id": layout_id, "name": w.name}, audience=audience)


# --- recording schedule -------------------------------------------------------------------------------------


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def schedule_active(windows: list[dict[str, Any]], now: dt.datetime) -> bool:
    """Whether continuous recording should run now under a weekly schedule (empty = always)."""
    if not windows:
        return True
    local = now.astimezone(LOCAL_TZ)
    day = local.isoweekday()
    prev_day = 7 if day == 1 else day - 1
    minute = local.hour * 60 + local.minute
    for w in windows:
        days = set(w.get("days") or range(1, 8))
        start, end = _minutes(w.get("start", "00:00")), _minutes(w.get("end", "24:00"))
        if start <= end:
            if day in days and start <= minute < end:
                return True
        else:  # past midnight
            if (day in days and minute >= start) or (prev_day in days and minute < end):
                return True
    return False


def records_continuously(c: Camera, now: dt.datetime) -> bool:
    return c.enabled and c.recording_mode == "continuous" and schedule_active(list(c.recording_schedule or []),
                                                                              now)


def layout_cells(layout: str) -> int:
    return LAYOUTS[layout]


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame marker; None when there is none."""
    if not data.startswith(b"\xff\xd8"):
        return None
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and i + 9 <= n:
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
        if marker == 0xDA:  # start of scan before any frame header
            return None
        i += 2 + length
    return None
