"""Permissions, settings and notification types of the documents module."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.notifications import NotificationType
from core.permissions import CLUB_ADMIN, CLUB_CONTACT, FEDERATION_SECRETARIAT, Permission
from core.settings import SettingSpec

ADMINS = (FEDERATION_SECRETARIAT, CLUB_CONTACT, CLUB_ADMIN)

READ = "documents.read"
WRITE = "documents.write"
TEMPLATES_WRITE = "documents.templates.write"

PERMISSIONS = [
    Permission(READ, _l("View generated documents and batches"), default_roles=ADMINS),
    Permission(WRITE, _l("Generate and send documents to members"), default_roles=ADMINS),
    Permission(TEMPLATES_WRITE, _l("Make and change document templates"), default_roles=ADMINS),
]

SETTINGS = [
    SettingSpec("documents.sport", _l("Sport named on sport certificates"), "", str),
]

NOTIFICATION_TYPES = [
    NotificationType("documents.document_ready", "New documents", "A certificate, member card or letter for you",
                     default_channels=("push", "email")),
]
