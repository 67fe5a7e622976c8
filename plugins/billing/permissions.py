"""Permissions and settings of the billing module."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.permissions import CLUB_ADMIN, CLUB_CONTACT, FEDERATION_SECRETARIAT, Permission
from core.settings import SettingSpec

ADMINS = (FEDERATION_SECRETARIAT, CLUB_CONTACT, CLUB_ADMIN)

READ = "billing.read"
WRITE = "billing.write"
PAYMENTS_WRITE = "billing.payments.write"
RUNS = "billing.runs.write"

PERMISSIONS = [
    Permission(READ, _l("View invoices, payments and billing reports"), default_roles=ADMINS),
    Permission(WRITE, _l("Make, issue and credit invoices"), default_roles=ADMINS),
    Permission(PAYMENTS_WRITE, _l("Register payments and import bank statements"), default_roles=ADMINS),
    Permission(RUNS, _l("Run membership invoicing"), default_roles=ADMINS),
]

SETTINGS = [
    SettingSpec("billing.payment_terms_days", _l("Invoices: days to pay"), 30, int, min_value=0, max_value=365),
    SettingSpec("billing.reminder_days", _l("Reminders: days after the due date, comma-separated"), "14,30", str),
    SettingSpec("billing.federation_invoice_mode", _l("Invoicing clubs: one line per membership type or per member"),
                "per_type", str, choices=("per_type", "per_member")),
    SettingSpec("billing.run_invoice_date", _l("Invoice runs: invoice date (YYYY-MM-DD; empty: the day of the run). "
                "Set on a federation, its clubs' runs follow it"), "", str),
    SettingSpec("billing.logo_file", _l("Logo on invoices (set by uploading it on the billing page)"), "", str),
    SettingSpec("billing.mollie_api_key", _l("Mollie API key (online payments)"), "", str),
]
