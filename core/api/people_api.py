"""REST API: people. (being written)"""
from __future__ import annotations

from core.api import ApiBlueprint

blp = ApiBlueprint("people", __name__, url_prefix="/api/v1", description="people")
