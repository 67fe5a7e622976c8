"""Permissions of the news module."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.permissions import CLUB_ADMIN, CLUB_CONTACT, FEDERATION_SECRETARIAT, Permission

ADMINS = (FEDERATION_SECRETARIAT, CLUB_CONTACT, CLUB_ADMIN)

READ = "news.read"
WRITE = "news.write"

PERMISSIONS = [
    Permission(READ, _l("View news posts and their read counts"), default_roles=ADMINS),
    Permission(WRITE, _l("Write, publish and delete news posts"), default_roles=ADMINS),
]
