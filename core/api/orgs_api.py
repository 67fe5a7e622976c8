"""REST API: orgs. (being written)"""
from __future__ import annotations

from core.api import ApiBlueprint

blp = ApiBlueprint("orgs", __name__, url_prefix="/api/v1", description="orgs")
