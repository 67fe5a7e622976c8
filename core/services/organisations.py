"""The organisation tree: create, update, move (no cycles), subtree queries."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core import validation
from core.models import Organisation, OrganisationKind
from core.services import Conflict, DomainError

EDITABLE = ("name", "short_name", "email", "phone", "website", "street", "postal_code", "city", "country",
            "kbo_number", "v_code", "iban", "bic", "legal_form")
NORMALISERS = {
    "kbo_number": validation.kbo_number,
    "v_code": validation.v_code,
    "iban": validation.iban,
    "bic": validation.bic,
    "email": validation.email,
    "phone": validation.phone,
}


def normalise_fields(fields: dict) -> dict:
    """Validate and normalise; raises DomainError naming every field at fault."""
    errors: dict[str, str] = {}
    clean: dict = {}
    for key, value in fields.items():
        if key not in EDITABLE:
            errors[key] = "unknown field"
            continue
        if isinstance(value, str):
            value = value.strip() or None
        if value is not None and key in NORMALISERS:
            try:
                value = NORMALISERS[key](value)
            except ValueError as exc:
                errors[key] = str(exc)
                continue
        clean[key] = value
    if "name" in clean and not clean["name"]:
        errors["name"] = "a name is required"
    if errors:
        raise DomainError("invalid organisation data", field=None, errors=errors)
    return clean


def subtree_ids(session: Session, org: Organisation):
    """A select of the ids of `org` and everything below it."""
    return sa.select(Organisation.id).where(Organisation.path.startswith(org.path))


def _check_kind(session: Session, kind: str) -> None:
    if session.get(OrganisationKind, kind) is None:
        raise DomainError(f"unknown organisation kind {kind!r}", field="kind")


def create_organisation(session: Session, name: str, kind: str, parent: Organisation | None = None,
                        **fields) -> Organisation:
    _check_kind(session, kind)
    clean = normalise_fields({"name": name, **fields})
    org = Organisation(kind=kind, parent=parent, **clean)
    session.add(org)
    session.flush()  # id is needed for the path
    org.path = (parent.path if parent else "/") + f"{org.id}/"
    org.depth = parent.depth + 1 if parent else 0
    session.flush()
    return org


def update_organisation(session: Session, org: Organisation, **fields) -> Organisation:
    if "kind" in fields:
        _check_kind(session, fields["kind"])
        org.kind = fields.pop("kind")
    for key, value in normalise_fields(fields).items():
        setattr(org, key, value)
    session.flush()
    return org


def move_organisation(session: Session, org: Organisation, new_parent: Organisation | None) -> Organisation:
    """Re-parent `org` with its subtree; refuses to make an organisation its own ancestor."""
    if new_parent is not None and new_parent.path.startswith(org.path):
        raise Conflict("an organisation cannot be moved below itself or one of its descendants",
                       field="parent_id")
    old_path = org.path
    new_path = (new_parent.path if new_parent else "/") + f"{org.id}/"
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


def ancestors(session: Session, org: Organisation) -> list[Organisation]:
    """From the root down to the parent of `org`."""
    ids = org.ancestor_ids[:-1]
    if not ids:
        return []
    by_id = {o.id: o for o in session.execute(sa.select(Organisation).where(Organisation.id.in_(ids))).scalars()}
    return [by_id[i] for i in ids if i in by_id]
