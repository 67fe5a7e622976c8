"""Permissions and settings of the membership module."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.permissions import CLUB_ADMIN, CLUB_CONTACT, FEDERATION_SECRETARIAT, Permission
from core.settings import SettingSpec

ADMINS = (FEDERATION_SECRETARIAT, CLUB_CONTACT, CLUB_ADMIN)

READ = "membership.read"
WRITE = "membership.write"
TYPES_WRITE = "membership.types.write"
SEASONS_WRITE = "membership.seasons.write"
IMPORT = "membership.import"

PERMISSIONS = [
    Permission(READ, _l("View members, member lists and exports"), default_roles=ADMINS),
    Permission(WRITE, _l("Add, change, end and transfer memberships; bulk actions"), default_roles=ADMINS),
    Permission(TYPES_WRITE, _l("Define membership types"), default_roles=ADMINS),
    Permission(SEASONS_WRITE, _l("Define seasons and the clean-up deadline"), default_roles=(FEDERATION_SECRETARIAT,)),
    Permission(IMPORT, _l("Import members from Excel"), default_roles=ADMINS),
]

# Address labels: 3 x 8 on an A4 sheet by default (70 x 37 mm labels without page margins).
SETTINGS = [
    SettingSpec("membership.label_columns", _l("Address labels: columns per sheet"), 3, int, min_value=1, max_value=6),
    SettingSpec("membership.label_rows", _l("Address labels: rows per sheet"), 8, int, min_value=1, max_value=20),
    SettingSpec("membership.label_margin_top_mm", _l("Address labels: top and bottom page margin (mm)"), 0, int,
                min_value=0, max_value=40),
    SettingSpec("membership.label_margin_left_mm", _l("Address labels: left and right page margin (mm)"), 0, int,
                min_value=0, max_value=40),
    SettingSpec("membership.label_padding_mm", _l("Address labels: space inside a label (mm)"), 5, int,
                min_value=0, max_value=15),
]
