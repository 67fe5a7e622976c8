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

# The public sign-up form of a club (`/join/<org_id>`). Set on a federation, a value holds for all its clubs
# unless a club sets its own; the club's membership admins may change them.
SIGNUP_SETTINGS = [
    SettingSpec("membership.signup_open", _l("Sign-up form: open for applications"), False, bool,
                write_permission=WRITE),
    SettingSpec("membership.signup_waiting_list", _l("Sign-up form: applications go on a waiting list"), False, bool,
                description=_l("Without a maximum number of members every application waits; with one, only those "
                               "that arrive once the club is full."), write_permission=WRITE),
    SettingSpec("membership.signup_capacity", _l("Sign-up form: maximum number of members (0: no maximum)"), 0, int,
                description=_l("When the club is full the form puts applications on the waiting list, or takes "
                               "none without one."), min_value=0, max_value=100_000, write_permission=WRITE),
    SettingSpec("membership.signup_ask_address", _l("Sign-up form: ask the address"), True, bool,
                write_permission=WRITE),
    SettingSpec("membership.signup_ask_phone", _l("Sign-up form: ask a phone number"), True, bool,
                write_permission=WRITE),
    SettingSpec("membership.signup_ask_national_number", _l("Sign-up form: ask the national register number"), False,
                bool, description=_l("Only when the club needs it, e.g. for the health insurer's sport certificate."),
                write_permission=WRITE),
    SettingSpec("membership.signup_intro", _l("Sign-up form: text above the form"), "", str, write_permission=WRITE),
    SettingSpec("membership.signup_privacy_url", _l("Sign-up form: link to the privacy statement"), "", str,
                write_permission=WRITE),
    SettingSpec("membership.signup_confirmation_text", _l("Sign-up form: text of the confirmation e-mail"), "", str,
                description=_l("Added to the e-mail the applicant gets when the application arrives."),
                write_permission=WRITE),
    SettingSpec("membership.signup_welcome_text", _l("Sign-up form: text of the welcome e-mail"), "", str,
                description=_l("Added to the e-mail a new member gets when the application is accepted."),
                write_permission=WRITE),
    SettingSpec("membership.signup_notify", _l("Sign-up form: who hears of a new application"), "", str,
                description=_l("E-mail addresses, separated by commas; empty: the club's contact person "
                               "(or its admins)."),
                write_permission=WRITE),
    SettingSpec("membership.signup_retention_days", _l("Sign-up form: days a declined application is kept"), 90, int,
                min_value=0, max_value=3650, write_permission=WRITE),
    SettingSpec("membership.signup_undecided_days", _l("Sign-up form: days an application nobody decides on is kept"),
                365, int, description=_l("Also on the waiting list: after this the applicant's data are erased."),
                min_value=30, max_value=3650, write_permission=WRITE),
]
SETTINGS += SIGNUP_SETTINGS
