"""REST API: roles. (being written)"""
from __future__ import annotations

from core.api import ApiBlueprint

blp = ApiBlueprint("roles", __name__, url_prefix="/api/v1", description="roles")
