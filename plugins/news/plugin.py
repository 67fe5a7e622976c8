"""The news plugin (being written)."""
from __future__ import annotations

from core.plugins import Plugin


class NewsPlugin(Plugin):
    """News posts and pop-up messages."""

    name = "news"
    label = "News"
