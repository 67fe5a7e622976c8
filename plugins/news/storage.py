"""Where news images live: `<DATA_DIR>/files/news/`, under random names.

Core has no files interface yet (ARCHITECTURE.md plans one, with S3-compatible storage for many
machines); this is the smallest local stand-in, kept behind three functions so it can be swapped.
Images are checked by their content (Pillow), never by the name or content type a client sends.
"""
from __future__ import annotations

import io
import uuid
import warnings
from pathlib import Path

from flask import current_app

MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
# Pillow format -> (content type, extension)
IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "GIF": ("image/gif", "gif"),
                 "WEBP": ("image/webp", "webp")}


class ImageError(ValueError):
    """Not an accepted image; `too_large` tells a size problem (413) from a content problem (422)."""

    def __init__(self, message: str, too_large: bool = False):
        super().__init__(message)
        self.too_large = too_large


def read_limited(stream, limit: int = MAX_IMAGE_BYTES) -> bytes:
    """At most `limit` bytes of `stream`; raises ImageError when there are more (nothing is kept)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImageError(f"the image is larger than {limit // (1024 * 1024)} MB", too_large=True)
    return data


def check_image(data: bytes) -> tuple[str, str]:
    """(content type, extension) of an accepted image (JPEG, PNG, GIF, WebP), judged by its content."""
    from PIL import Image

    if not data:
        raise ImageError("the file is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB", too_large=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                width, height = image.size
                image.verify()
    except Exception:  # Pillow raises many kinds for files that are not images or are damaged
        raise ImageError("not an image (JPEG, PNG, GIF or WebP)") from None
    if kind not in IMAGE_FORMATS:
        raise ImageError("not an image (JPEG, PNG, GIF or WebP)")
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError("the image has too many pixels")
    return IMAGE_FORMATS[kind]


def _folder() -> Path:
    folder = Path(current_app.config["DATA_DIR"]) / "files" / "news"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save(data: bytes, extension: str) -> str:
    """Store the bytes under a new random name; return the name."""
    name = f"{uuid.uuid4().hex}.{extension}"
    (_folder() / name).write_bytes(data)
    return name


def path_of(name: str) -> Path | None:
    """The file of a stored name, or None when it is missing (or the name is not one of ours)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = _folder() / name
    return path if path.is_file() else None


def delete(name: str | None) -> None:
    path = path_of(name) if name else None
    if path is not None:
        path.unlink(missing_ok=True)
