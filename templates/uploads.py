"""Checking uploaded files by their content (never by name or the browser's claim)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from smsportal.errors import ServiceError

MB = 1024 * 1024
DOCUMENT_MAX_BYTES = 5 * MB
FRAME_IMAGE_MAX_BYTES = 1 * MB
RICH_TOTAL_MAX_BYTES = int(1.9 * MB)

DOCUMENT_TYPES = ("pdf", "jpeg", "png")
FRAME_TYPES = ("jpeg", "png", "gif")
CONTENT_TYPES = {"pdf": "application/pdf", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif"}


@dataclass(frozen=True)
class CheckedFile:
    kind: str  # pdf / jpeg / png / gif
    content_type: str
    size: int


def sniff(upload) -> str | None:
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if head.startswith(b"%PDF-"):
        return "pdf"
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(upload) as image:
            image.verify()
            fmt = (image.format or "").lower()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None
    finally:
        upload.seek(0)
    return {"jpeg": "jpeg", "png": "png", "gif": "gif"}.get(fmt)


def check_upload(upload, *, allowed: tuple[str, ...], max_bytes: int, field: str) -> CheckedFile:
    if upload is None:
        raise ServiceError("file_required", _("Please choose a file."), field=field)
    size = getattr(upload, "size", None) or 0
    if size > max_bytes:
        raise ServiceError(
            "file_too_large",
            _("The file is too large (at most %(mb)s MB).") % {"mb": round(max_bytes / MB, 1)},
            field=field,
        )
    if size == 0:
        raise ServiceError("file_empty", _("The file is empty."), field=field)
    kind = sniff(upload)
    if kind not in allowed:
        names = "/".join(k.upper().replace("JPEG", "JPG") for k in allowed)
        raise ServiceError(
            "file_type", _("This file type is not accepted; use %(types)s.") % {"types": names}, field=field
        )
    return CheckedFile(kind=kind, content_type=CONTENT_TYPES[kind], size=size)
