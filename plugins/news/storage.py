"""Where news images live: the core file storage, area "news". Images are checked by their content."""
from __future__ import annotations

from pathlib import Path

from core.files import MAX_IMAGE_BYTES, ImageError, check_image, read_limited, storage, without_metadata  # noqa: F401

AREA = "news"


def save(data: bytes, extension: str) -> str:
    """Store the bytes under a new random name; return the name."""
    return storage().save(AREA, data, extension).split("/", 1)[1]


def path_of(name: str) -> Path | None:
    """The file of a stored name, or None when it is missing (or the name is not one of ours)."""
    return storage().path_of(f"{AREA}/{name}") if name else None


def delete(name: str | None) -> None:
    if name:
        storage().delete(f"{AREA}/{name}")
