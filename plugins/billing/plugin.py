"""The billing plugin (being written)."""
from __future__ import annotations

from core.plugins import Plugin


class BillingPlugin(Plugin):
    """Invoices, credit notes and payments."""

    name = "billing"
    label = "Billing"
    requires = ("membership",)
