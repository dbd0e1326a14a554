"""Material uploads: size, type and quota limits, content-addressed storage on local disk.

The body is read as it arrives and cut off as soon as it passes the limit (413),
so an oversized upload never fills memory or disk. The type is checked against the
file's first bytes, not only the client's Content-Type. Files are stored under their
SHA-256, written to a temporary name and renamed, so equal files are kept once and a
half-written file is never visible. Each citizen has a quota of uploads (429 with
``Retry-After`` past it: 30 files in 0.4 s were once accepted), and a file is served back
only to its owner, as an attachment of the type its bytes were checked to be.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path

from limits import RateLimitItem, parse_many
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications.models import Upload
from backend.clock import utcnow
from backend.errors import RETRY_AFTER_DOC, AppError

MAX_BYTES = 10 * 1024 * 1024
# Content type → the magic bytes a real file of that type starts with.
ALLOWED = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}


class UploadTooLarge(AppError):
    status = 413
    code = "UPLOAD_TOO_LARGE"
    title_zh = "文件过大（不超过10MB）"
    title_en = "File too large (10 MB at most)"


class UploadTypeRefused(AppError):
    status = 415
    code = "UPLOAD_TYPE_REFUSED"
    title_zh = "仅支持 PDF、JPEG、PNG 文件"
    title_en = "Only PDF, JPEG and PNG files are accepted"


class UploadEmpty(AppError):
    status = 422
    code = "UPLOAD_EMPTY"
    title_zh = "文件为空"
    title_en = "The file is empty"


class UploadQuotaExceeded(AppError):
    status = 429
    code = "UPLOAD_QUOTA_EXCEEDED"
    title_zh = "上传过于频繁，请稍后再试"
    title_en = "Too many uploads; try again later"
    headers_doc = RETRY_AFTER_DOC


class UploadNotFound(AppError):
    status = 404
    code = "UPLOAD_NOT_FOUND"
    title_zh = "文件不存在"
    title_en = "Upload not found"


# The file name an upload is served under: its id and the extension of its checked type.
EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


@lru_cache(maxsize=8)
def quota_rules(spec: str) -> tuple[RateLimitItem, ...]:
    """HEFEITONG_UPLOAD_LIMIT_PER_CITIZEN as `limits` rules (parsed once per value)."""
    return tuple(parse_many(spec))


def check_declared(content_type: str | None, content_length: str | None) -> str:
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in ALLOWED:
        raise UploadTypeRefused()
    if content_length is not None and content_length.isdigit() and int(content_length) > MAX_BYTES:
        raise UploadTooLarge()
    return media


def stored_path(directory: Path, sha: str) -> Path:
    return directory / sha[:2] / sha


async def store(directory: Path, media: str, chunks: AsyncIterator[bytes]) -> tuple[str, int]:
    """Stream the body into the store; returns (sha256, size).

    Chunks (≤ 64 KiB) are written straight to a local file: such writes land in the page
    cache in microseconds, so a thread hop per chunk would cost more than it saves.
    """
    await asyncio.to_thread(os.makedirs, directory, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > MAX_BYTES:
                    raise UploadTooLarge()
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadEmpty()
        if not any(head.startswith(magic) for magic in ALLOWED[media]):
            raise UploadTypeRefused("The file's content is not what its type says")
        sha = digest.hexdigest()
        final = stored_path(directory, sha)
        final.parent.mkdir(exist_ok=True)
        os.replace(temporary, final)  # atomic; an identical file simply replaces itself
        return sha, size
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


async def record(db: AsyncSession, owner_id: str, sha: str, size: int, media: str) -> Upload:
    """The stored file as one of the citizen's uploads (a material refers to its id)."""
    upload = Upload(
        owner_id=owner_id, sha256=sha, size=size, content_type=media, created_at=utcnow()
    )
    db.add(upload)
    await db.flush()
    return upload


async def owned(db: AsyncSession, owner_id: str, upload_id: str) -> Upload:
    """The citizen's own upload; anyone else's, or none, is the same 404."""
    upload = await db.get(Upload, upload_id)
    if upload is None or upload.owner_id != owner_id:
        raise UploadNotFound()
    return upload
