"""Admin pages of billing (`/o/<org_id>/billing/...`): invoice overview, a manual invoice, an invoice
with its actions (issue, cancel, credit, payment), membership runs, bank statements, reports."""
from __future__ import annotations

from flask import Blueprint

web = Blueprint("billing_web", __name__, template_folder="templates", url_prefix="/o/<int:org_id>/billing")
