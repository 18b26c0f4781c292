from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web

from ..core.errors import ApiError, not_found
from ..core.security import Actor
from ..core.services import Services
from .models import StoredFile
from .store import FileStore, TooLarge, content_matches

FILE_STORE: web.AppKey[FileStore] = web.AppKey("file_store")


def file_out(f: StoredFile) -> dict[str, object]:
    return {"id": f.id, "sha256": f.sha256, "size": f.size, "content_type": f.content_type,
            "filename": f.filename, "created_at": f.created_at, "url": f"/api/v1/files/{f.id}/content"}


async def save_upload(svc: Services, store: FileStore, actor: Actor, part: BodyPartReader) -> StoredFile:
    content_type = (part.headers.get("Content-Type") or "application/octet-stream").split(";")[0].strip().lower()
    if content_type not in svc.settings.allowed_types:
        raise ApiError(415, "unsupported_type", f"content type {content_type} is not allowed",
                       {"allowed": sorted(svc.settings.allowed_types)})
    filename = os.path.basename(part.filename or "upload")[:255] or "upload"

    async def chunks() -> AsyncIterator[bytes]:
        while True:
            chunk = await part.read_chunk(256 * 1024)
            if not chunk:
                return
            yield chunk

    try:
        digest, size, head = await store.put_stream(chunks(), svc.settings.upload_max_bytes)
    except TooLarge:
        raise ApiError(413, "payload_too_large", "file exceeds the upload size limit",
                       {"max_bytes": svc.settings.upload_max_bytes}) from None
    if size == 0:
        raise ApiError(400, "empty_file", "the uploaded file is empty")
    if not content_matches(content_type, head):
        raise ApiError(415, "content_mismatch", f"the file content is not {content_type}")
    return await record(svc, actor, digest, size, content_type, filename)


async def record(svc: Services, actor: Actor, digest: str, size: int, content_type: str, filename: str
                 ) -> StoredFile:
    async with svc.write(actor) as uow:
        f = StoredFile(sha256=digest, size=size, content_type=content_type, filename=filename,
                       uploaded_by=actor.user_id)
        uow.session.add(f)
        await uow.session.flush()
        uow.emit("file.uploaded", subject_type="file", subject_id=f.id,
                 payload={"filename": filename, "size": size, "content_type": content_type},
                 audience=[f"user:{actor.user_id}"])
    return f


async def get_for(svc: Services, actor: Actor, file_id: int) -> StoredFile:
    async with svc.db.read() as s:
        f = await s.get(StoredFile, file_id)
    if f is None:
        raise not_found("file", file_id)
    # Enterprises see only what they uploaded themselves (their plan filings), never other attachments.
    if set(actor.roles) <= {"enterprise"} and f.uploaded_by != actor.user_id:
        raise not_found("file", file_id)
    return f


async def first_file_part(request: web.Request) -> BodyPartReader:
    if not request.content_type.startswith("multipart/"):
        raise ApiError(400, "multipart_required", "upload as multipart/form-data with a 'file' field")
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            raise ApiError(400, "file_required", "no 'file' field in the upload")
        if isinstance(part, BodyPartReader) and part.name == "file":
            return part
        with contextlib.suppress(Exception):
            await part.release()  # type: ignore[union-attr]
