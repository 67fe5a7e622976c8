"""Files (uploads, generated documents) behind one small storage interface: a local folder by default.

Keys look like `<area>/<random>.<ext>`; an area is a plugin's or core's folder ("photos", "news").
Only the interface is used elsewhere, so an S3-compatible store can replace the local folder for
installations with several web nodes (see docs/operators.md).

Images are judged by their content (Pillow), never by the name or content type a client sends.
"""
from __future__ import annotations

import io
import re
import uuid
import warnings
from pathlib import Path

from flask import current_app

MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
# Pillow format -> (content type, extension)
IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "GIF": ("image/gif", "gif"),
                 "WEBP": ("image/webp", "webp")}
_AREA_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_NAME_RE = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{1,5}$")


class LocalStorage:
    """Files under `<DATA_DIR>/files/<area>/`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _folder(self, area: str) -> Path:
        if not _AREA_RE.match(area):
            raise ValueError(f"bad storage area {area!r}")
        folder = self.root / area
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def save(self, area: str, data: bytes, extension: str) -> str:
        """Store `data` under a new random name; return its key."""
        name = f"{uuid.uuid4().hex}.{extension.lower()}"
        target = self._folder(area) / name
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(target)  # never a half-written file under the real name
        return f"{area}/{name}"

    def path_of(self, key: str | None) -> Path | None:
        """The file of a key, or None when it is missing or the key is not one of ours."""
        area, _, name = (key or "").partition("/")
        if not _AREA_RE.match(area) or not _NAME_RE.match(name):
            return None
        path = self._folder(area) / name
        return path if path.is_file() else None

    def read(self, key: str) -> bytes | None:
        path = self.path_of(key)
        return path.read_bytes() if path is not None else None

    def delete(self, key: str | None) -> None:
        path = self.path_of(key)
        if path is not None:
            path.unlink(missing_ok=True)


def storage() -> LocalStorage:
    """The current app's storage."""
    store = current_app.extensions.get("federa_files")
    if store is None:
        store = current_app.extensions["federa_files"] = LocalStorage(Path(current_app.config["DATA_DIR"]) / "files")
    return store


# --- images -------------------------------------------------------------------------------------

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


def as_photo(data: bytes, max_side: int = 600) -> bytes:
    """A checked image re-encoded as a JPEG of at most `max_side` pixels, upright, without metadata
    (EXIF can carry the place and time a picture was taken)."""
    check_image(data)
    return _reencoded(data, max_side, "JPEG")


def _reencoded(data: bytes, max_side: int, kind: str) -> bytes:
    """A checked still image upright, at most `max_side` pixels, saved afresh as `kind`. Pillow writes EXIF,
    XMP or text chunks only when asked to, so what comes out carries no metadata."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        image = ImageOps.exif_transpose(image)
        image.thumbnail((max_side, max_side))
        out = io.BytesIO()
        if kind == "JPEG":
            image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
        else:
            image.save(out, format=kind, **({"optimize": True} if kind == "PNG" else {}))
    return out.getvalue()


def without_metadata(data: bytes, max_side: int = 1600) -> tuple[bytes, str, str]:
    """A checked image re-encoded in its own format without metadata (EXIF can carry the place and time a
    picture was taken), upright and at most `max_side` pixels; (bytes, content type, extension).
    Animated GIFs and WebPs keep every frame and their size."""
    from PIL import Image

    content_type, extension = check_image(data)
    with Image.open(io.BytesIO(data)) as image:
        kind, animated = image.format, getattr(image, "is_animated", False)
        if animated:
            out = io.BytesIO()
            image.save(out, format=kind, save_all=True)
            return out.getvalue(), content_type, extension
    return _reencoded(data, max_side, kind), content_type, extension
