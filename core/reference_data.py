"""Reference rows every installation has: organisation kinds and the built-in roles.

The initial migration inserts them; `ensure_reference_data` adds any missing ones (idempotent),
so kinds added in later versions reach existing databases through `federa db upgrade`.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.models import OrganisationKind, Role

KINDS = [
    ("federation", {"nl": "Federatie", "fr": "Fédération", "en": "Federation"}, 10),
    ("region", {"nl": "Regio", "fr": "Région", "en": "Region"}, 20),
    ("club", {"nl": "Club", "fr": "Club", "en": "Club"}, 30),
    ("government", {"nl": "Lokaal bestuur", "fr": "Pouvoir local", "en": "Local government"}, 40),
    ("service", {"nl": "Dienst", "fr": "Service", "en": "Service"}, 50),
    ("advisory_council", {"nl": "Adviesraad", "fr": "Conseil consultatif", "en": "Advisory council"}, 60),
    ("volunteer_group", {"nl": "Vrijwilligersgroep", "fr": "Groupe de bénévoles", "en": "Volunteer group"}, 70),
    ("umbrella", {"nl": "Koepel", "fr": "Coupole", "en": "Umbrella organisation"}, 80),
]

ROLES = [
    ("platform_admin", "Platform admin", "Manages the whole platform."),
    ("federation_secretariat", "Federation secretariat", "Manages the federation and all organisations below it."),
    ("club_contact", "Club contact person", "The club's contact person; one per club."),
    ("club_admin", "Club admin", "Manages a club, next to the contact person; the federation sets how many a club may have."),
    ("member", "Member", "A member using the member app."),
]


def ensure_reference_data(session: Session) -> None:
    kinds = set(session.execute(sa.select(OrganisationKind.key)).scalars())
    for key, labels, position in KINDS:
        if key not in kinds:
            session.add(OrganisationKind(key=key, labels=labels, position=position))
    roles = set(session.execute(sa.select(Role.key).where(Role.key.is_not(None))).scalars())
    for key, name, description in ROLES:
        if key not in roles:
            session.add(Role(key=key, name=name, description=description))
    session.flush()
