"""The organisation tree: create, update, move (no cycles), delete, list and search; organisation kinds."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask_babel import gettext
import sqlalchemy as sa
from sqlalchemy.orm import Session

from core import validation
from core.db import Base
from core.models import Organisation, OrganisationKind, PersonOrganisation
from core.services import Conflict, DomainError, NotFound

EDITABLE = ("name", "short_name", "email", "phone", "website", "street", "postal_code", "city", "country",
            "kbo_number", "v_code", "iban", "bic", "legal_form")
MAX_LENGTHS = {"name": 255, "short_name": 100, "email": 255, "website": 255, "street": 255, "postal_code": 16,
               "city": 100, "legal_form": 40}
KIND_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
BE_POSTAL_CODE_RE = re.compile(r"^[1-9]\d{3}$")

# Tables that belong to an organisation's own configuration and go with it when it is deleted.
# Rows in any other table that point at the organisation (people links, plugin data) block the delete.
CASCADING_TABLES = {"organisation_setting", "subscription", "module_override", "role_assignment", "role",
                    "custom_field", "job", "audit_log"}


def website(value: str) -> str:
    """A web address; "www.club.be" becomes "https://www.club.be"."""
    compact = value.strip()
    if "://" not in compact:
        compact = "https://" + compact
    parts = urlsplit(compact)
    if parts.scheme not in ("http", "https") or "." not in parts.netloc or " " in compact:
        raise ValueError(gettext("not a valid web address"))
    return compact


def country(value: str) -> str:
    compact = value.strip().upper()
    if not COUNTRY_RE.match(compact):
        raise ValueError(gettext("a country is a two-letter code (e.g. BE)"))
    return compact


NORMALISERS = {
    "kbo_number": validation.kbo_number,
    "v_code": validation.v_code,
    "iban": validation.iban,
    "bic": validation.bic,
    "email": validation.email,
    "phone": validation.phone,
    "website": website,
    "country": country,
}


def normalise_fields(fields: dict, current_country: str | None = None) -> dict:
    """Validate and normalise; raises DomainError naming every field at fault (`details["errors"]`)."""
    errors: dict[str, str] = {}
    clean: dict = {}
    for key, value in fields.items():
        if key not in EDITABLE:
            errors[key] = gettext("unknown field")
            continue
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and not isinstance(value, str):
            errors[key] = gettext("must be text")
            continue
        if value is not None and key in NORMALISERS:
            try:
                value = NORMALISERS[key](value)
            except ValueError as exc:
                errors[key] = str(exc)
                continue
        if value is not None and len(value) > MAX_LENGTHS.get(key, 255):
            errors[key] = gettext("at most %(count)s characters", count=MAX_LENGTHS.get(key, 255))
            continue
        clean[key] = value
    if "name" in fields and not clean.get("name") and "name" not in errors:
        errors["name"] = gettext("a name is required")
    if "country" in clean and clean["country"] is None:
        clean["country"] = "BE"
    if clean.get("postal_code") and (clean.get("country") or current_country or "BE") == "BE" \
            and not BE_POSTAL_CODE_RE.match(clean["postal_code"]):
        errors["postal_code"] = gettext("a Belgian postal code has 4 digits")
    if errors:
        raise DomainError(gettext("invalid organisation data"), errors=errors)
    return clean


# --- kinds ------------------------------------------------------------------------------------

def list_kinds(session: Session) -> list[OrganisationKind]:
    return list(session.execute(
        sa.select(OrganisationKind).order_by(OrganisationKind.position, OrganisationKind.key)).scalars())


def create_kind(session: Session, key: str, labels: dict[str, str], position: int | None = None) -> OrganisationKind:
    key = (key or "").strip()
    if not KIND_KEY_RE.match(key):
        raise DomainError(gettext("a kind key is 2-40 lower-case letters, digits or _"), field="key")
    if session.get(OrganisationKind, key) is not None:
        raise Conflict(gettext("organisation kind %(key)r already exists", key=key), field="key")
    labels = {lang: text.strip() for lang, text in (labels or {}).items() if text and text.strip()}
    if not labels.get("nl"):
        raise DomainError(gettext("a Dutch label is required"), field="labels")
    if position is None:
        position = (session.scalar(sa.select(sa.func.max(OrganisationKind.position))) or 0) + 10
    kind = OrganisationKind(key=key, labels=labels, position=position)
    session.add(kind)
    session.flush()
    return kind


def _check_kind(session: Session, kind: str) -> None:
    if not kind or session.get(OrganisationKind, kind) is None:
        raise DomainError(gettext("unknown organisation kind %(kind)r", kind=kind), field="kind")


# --- the tree ---------------------------------------------------------------------------------

def subtree_ids(org: Organisation):
    """A select of the ids of `org` and everything below it (a literal LIKE prefix, so the path index applies)."""
    return sa.select(Organisation.id).where(Organisation.path.like(org.path + "%"))


def in_subtree(org: Organisation, other: Organisation) -> bool:
    """Whether `other` is `org` or below it."""
    return other.path.startswith(org.path)


def create_organisation(session: Session, name: str, kind: str, parent: Organisation | None = None,
                        **fields) -> Organisation:
    errors = {}
    try:
        _check_kind(session, kind)
    except DomainError as exc:
        errors["kind"] = exc.message
    try:
        clean = normalise_fields({"name": name, **fields})
    except DomainError as exc:
        errors.update(exc.details["errors"])
    if errors:
        raise DomainError(gettext("invalid organisation data"), errors=errors)
    org = Organisation(kind=kind, parent=parent, **clean)
    session.add(org)
    session.flush()  # id is needed for the path
    org.path = (parent.path if parent else "/") + f"{org.id}/"
    org.depth = parent.depth + 1 if parent else 0
    session.flush()
    return org


def update_organisation(session: Session, org: Organisation, **fields) -> Organisation:
    """Change fields (all validated first; on any error nothing changes)."""
    errors = {}
    kind = fields.pop("kind", None)
    if kind is not None:
        try:
            _check_kind(session, kind)
        except DomainError as exc:
            errors["kind"] = exc.message
    try:
        clean = normalise_fields(fields, current_country=org.country)
    except DomainError as exc:
        errors.update(exc.details["errors"])
    if errors:
        raise DomainError(gettext("invalid organisation data"), errors=errors)
    if kind is not None:
        org.kind = kind
    for key, value in clean.items():
        setattr(org, key, value)
    session.flush()
    return org


def move_organisation(session: Session, org: Organisation, new_parent: Organisation | None) -> Organisation:
    """Re-parent `org` with its subtree; refuses to make an organisation its own ancestor."""
    if new_parent is not None and new_parent.path.startswith(org.path):
        raise Conflict(gettext("an organisation cannot be moved below itself or one of its descendants"),
                       field="parent_id")
    old_path = org.path
    new_path = (new_parent.path if new_parent else "/") + f"{org.id}/"
    if new_path == old_path:
        return org
    depth_change = (new_parent.depth + 1 if new_parent else 0) - org.depth
    org.parent = new_parent
    descendants = session.execute(
        sa.select(Organisation).where(Organisation.path.startswith(old_path))
    ).scalars().all()
    for node in descendants:
        node.path = new_path + node.path[len(old_path):]
        node.depth += depth_change
    session.flush()
    return org


def _referencing_tables(org_table: sa.Table) -> list[tuple[sa.Table, sa.Column]]:
    found = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table is org_table and table.name not in CASCADING_TABLES and table is not org_table:
                found.append((table, fk.parent))
    return found


def delete_organisation(session: Session, org: Organisation) -> None:
    """Delete an organisation that has no children, no people and no module data.

    Its own configuration (settings, subscriptions, overrides, roles and assignments on it) goes with it."""
    if session.scalar(sa.select(sa.func.count()).where(Organisation.parent_id == org.id)):
        raise Conflict(gettext("this organisation has organisations below it; move or delete those first"))
    people = session.scalar(
        sa.select(sa.func.count()).select_from(PersonOrganisation).where(PersonOrganisation.org_id == org.id),
        execution_options={"federa_unscoped": True})
    if people:
        raise Conflict(gettext("%(num)s people are linked to this organisation; remove those links first",
                               num=people), people=people)
    blocking = []
    for table, column in _referencing_tables(Organisation.__table__):
        if table.name == "person_organisation":
            continue
        if session.execute(sa.select(sa.literal(1)).select_from(table).where(column == org.id).limit(1)).first():
            blocking.append(table.name)
    if blocking:
        raise Conflict(gettext("modules still keep data of this organisation: %(tables)s",
                               tables=", ".join(sorted(set(blocking)))),
                       tables=sorted(set(blocking)))
    session.delete(org)
    session.flush()


def get_organisation(session: Session, org_id: int | None) -> Organisation:
    org = session.get(Organisation, org_id) if org_id is not None else None
    if org is None:
        raise NotFound(gettext("no such organisation"), field="parent_id")
    return org


def ancestors(session: Session, org: Organisation) -> list[Organisation]:
    """From the root down to the parent of `org`."""
    ids = org.ancestor_ids[:-1]
    if not ids:
        return []
    by_id = {o.id: o for o in session.execute(sa.select(Organisation).where(Organisation.id.in_(ids))).scalars()}
    return [by_id[i] for i in ids if i in by_id]


def search_organisations(visible=sa.true(), q: str | None = None, kind: str | None = None,
                         parent_id: int | None = None, below: Organisation | None = None):
    """A select of organisations (`visible` is an SQL condition, e.g. `core.access.visible_org_filter`).

    `q` matches name, short name or city (case-insensitive); `below` limits to a subtree (itself included).
    Ordered as a tree (pre-order by path), so a subtree renders as an indented list."""
    query = sa.select(Organisation).where(visible)
    if q:
        pattern = f"%{q.strip().lower()}%"
        query = query.where(sa.or_(sa.func.lower(Organisation.name).like(pattern),
                                   sa.func.lower(Organisation.short_name).like(pattern),
                                   sa.func.lower(Organisation.city).like(pattern)))
    if kind:
        query = query.where(Organisation.kind == kind)
    if parent_id is not None:
        query = query.where(Organisation.parent_id == parent_id)
    if below is not None:
        query = query.where(Organisation.path.startswith(below.path))
    # "/" sorts before digits, so ordering by path lists every parent right before its subtree.
    return query.order_by(Organisation.path)
