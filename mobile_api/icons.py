"""The app icon, drawn by code: Federa's organisation-tree mark (the admin favicon) on a blue tile.

The same shapes give the SVG and, rasterised here with anti-aliased edges, the PNGs that install
prompts and home screens want (192 and 512 pixels, and a maskable variant with a safe margin).
"""
from __future__ import annotations

import functools
import math
import struct
import zlib

BLUE = (0x1D, 0x4E, 0xD8)
WHITE = (0xFF, 0xFF, 0xFF)
# In a 32-unit square, like the favicon: lines (stroke 2, round caps) and three dots.
SEGMENTS = [((16, 8), (16, 14)), ((16, 14), (16, 17)), ((10, 17), (22, 17)), ((10, 17), (10, 20)),
            ((22, 17), (22, 20))]
DOTS = [((16, 8), 2.6), ((10, 22.5), 2.6), ((22, 22.5), 2.6)]
STROKE = 1.0  # half the stroke width

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
       '<rect width="32" height="32" rx="7" fill="#1d4ed8"/>'
       '<path d="M16 8v9M10 20v-3h12v3" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" '
       'stroke-linejoin="round"/>'
       '<circle cx="16" cy="8" r="2.6" fill="#fff"/><circle cx="10" cy="22.5" r="2.6" fill="#fff"/>'
       '<circle cx="22" cy="22.5" r="2.6" fill="#fff"/></svg>')


def _segment_distance(px, py, a, b) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _mark_distance(x: float, y: float) -> float:
    """Signed distance (in 32-unit space) to the white mark; negative inside."""
    d = min(_segment_distance(x, y, a, b) - STROKE for a, b in SEGMENTS)
    for (cx, cy), r in DOTS:
        d = min(d, math.hypot(x - cx, y - cy) - r)
    return d


def _tile_distance(x: float, y: float, radius: float) -> float:
    """Signed distance to the rounded tile of 32 units."""
    qx = abs(x - 16) - (16 - radius)
    qy = abs(y - 16) - (16 - radius)
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - radius


def _png(width: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, len(rows), 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


@functools.lru_cache(maxsize=4)
def png(size: int, maskable: bool = False) -> bytes:
    """The icon as a PNG of `size` pixels. Maskable: a full-bleed tile, the mark within the central 80%."""
    units_per_px = 32 / size
    mark_scale = 1 / 0.72 if maskable else 1.0  # shrink the mark into the safe zone
    rows = []
    for j in range(size):
        row = bytearray()
        y = (j + 0.5) * units_per_px
        for i in range(size):
            x = (i + 0.5) * units_per_px
            tile = 1.0 if maskable else min(1.0, max(0.0, 0.5 - _tile_distance(x, y, 7) / units_per_px))
            mx, my = 16 + (x - 16) * mark_scale, 16 + (y - 16) * mark_scale
            if 6 <= mx <= 26 and 4 <= my <= 26.5:  # the mark's bounding box; nothing of it elsewhere
                mark = min(1.0, max(0.0, 0.5 - _mark_distance(mx, my) / (units_per_px * mark_scale)))
            else:
                mark = 0.0
            colour = tuple(round(b + (w - b) * mark) for b, w in zip(BLUE, WHITE))
            row += bytes(colour) + bytes((round(255 * tile),))
        rows.append(bytes(row))
    return _png(size, rows)
