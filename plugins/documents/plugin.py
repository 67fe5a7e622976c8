"""The documents plugin (being written)."""
from __future__ import annotations

from core.plugins import Plugin


class DocumentsPlugin(Plugin):
    """Personalised documents for members."""

    name = "documents"
    label = "Documents"
    requires = ("membership",)
