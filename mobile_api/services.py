"""The member's own data as the app shows and changes it (no Flask request objects here)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from sqlalchemy.orm import Session

from core.models import Person
from core.services import DomainError
from core.services import people as people_service
from core.settings import SettingSpec, get_setting
from mobile_api.feed import linked_organisations

# What an organisation can let members correct themselves; the national number never (it is checked
# against the register and proves identity when organisations link people).
CORRECTABLE = tuple(f for f in people_service.EDITABLE if f != "national_number")
DEFAULT_FIELDS = ("street", "house_number", "box", "postal_code", "city", "country", "email", "email_alt",
                  "phone", "mobile", "emergency_contact_name", "emergency_contact_phone", "preferred_language")
PROFILE_FIELDS_SETTING = "mobile_api.profile_fields"

SETTINGS = [
    SettingSpec(PROFILE_FIELDS_SETTING, _l("Fields members may correct in the member app"), ",".join(DEFAULT_FIELDS),
                str, description="Comma-separated: " + ", ".join(CORRECTABLE)),
]


def editable_fields(session: Session, registry, person: Person) -> list[str]:
    """Fields the person may change: those every organisation they are linked to allows
    (a field one of their clubs keeps to itself stays read-only)."""
    links = linked_organisations(session, person)
    allowed = set(CORRECTABLE) if links else set(DEFAULT_FIELDS)
    for org, _relation in links:
        value = get_setting(session, registry, org, PROFILE_FIELDS_SETTING) or ""
        allowed &= {name.strip() for name in str(value).split(",")}
    return [f for f in CORRECTABLE if f in allowed]


def update_profile(session: Session, registry, person: Person, data: dict) -> Person:
    """Apply the member's corrections; a field they may not change refuses the whole change."""
    allowed = set(editable_fields(session, registry, person))
    errors = {key: "you cannot change this field yourself; ask your club" for key in data if key not in allowed}
    clean = {}
    try:
        clean = people_service.normalise_fields({k: v for k, v in data.items() if k in allowed}, current=person)
    except DomainError as exc:
        errors.update(exc.details.get("errors") or {})
    if errors:
        raise DomainError("invalid profile data", errors=errors)
    for key, value in clean.items():
        setattr(person, key, value)
    person.search_text = people_service.search_text_for(person)
    session.flush()  # the audit log records who changed what
    return person
