"""The membership plugin (being written)."""
from __future__ import annotations

from core.plugins import Plugin


class MembershipPlugin(Plugin):
    """Seasons, membership types and memberships of people in clubs."""

    name = "membership"
    label = "Membership"
