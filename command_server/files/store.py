"""Content-addressed file store: bytes under var/files/ab/cd/<sha256>, written atomically and fsynced.

The same content uploaded twice is stored once. Nothing here knows about HTTP or the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path


class TooLarge(Exception):
    pass


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put_stream(self, chunks: AsyncIterator[bytes], max_bytes: int) -> tuple[str, int, bytes]:
        """Store a stream; returns (sha256, size, first bytes for type sniffing)."""
        h = hashlib.sha256()
        size = 0
        head = b""
        fd, tmp = tempfile.mkstemp(dir=self.root / "tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(size)
                    if len(head) < 64:
                        head += chunk[: 64 - len(head)]
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                await asyncio.to_thread(os.fsync, out.fileno())
            digest = h.hexdigest()
            await asyncio.to_thread(self._commit, tmp, digest)
            return digest, size, head
        except BaseException:
            await asyncio.to_thread(_unlink_quietly, tmp)
            raise

    def _commit(self, tmp: str, digest: str) -> None:
        dest = self.path_for(digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            os.unlink(tmp)
            return
        os.replace(tmp, dest)
        dir_fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a crash, not only the bytes
        finally:
            os.close(dir_fd)

    async def put_bytes(self, data: bytes, max_bytes: int) -> tuple[str, int, bytes]:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.put_stream(one(), max_bytes)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# Magic numbers for the types whose declared content type we double-check: an upload claiming to be an
# image or a PDF must start like one, so the console never serves script as "image/png".
_MAGIC: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK\x03\x04",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK\x03\x04",),
}


def content_matches(content_type: str, head: bytes) -> bool:
    if content_type == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    magics = _MAGIC.get(content_type)
    return magics is None or any(head.startswith(m) for m in magics)
