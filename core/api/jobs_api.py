"""REST API: jobs. (being written)"""
from __future__ import annotations

from core.api import ApiBlueprint

blp = ApiBlueprint("jobs", __name__, url_prefix="/api/v1", description="jobs")
