"""REST API: modules. (being written)"""
from __future__ import annotations

from core.api import ApiBlueprint

blp = ApiBlueprint("modules", __name__, url_prefix="/api/v1", description="modules")
