"""Custom person fields that admins define per organisation.

A field belongs to one organisation and applies to its whole subtree: a federation's fields are
shown and filled in for the people of all its clubs. Values are stored as normalised strings in
`CustomFieldValue` ("true"/"false" for yes/no, ISO dates, one of the choices for choice lists),
so filtering is an equality test on one indexed table.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask_babel import gettext
import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.models import CustomField, CustomFieldValue, Organisation, Person
from core.services import Conflict, DomainError, NotFound

UNSCOPED = {"federa_unscoped": True}
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
TEXT_MAX = 255
MEMO_MAX = 5000
TRUE_WORDS = {"true", "1", "yes", "y", "on", "ja", "oui"}
FALSE_WORDS = {"false", "0", "no", "n", "off", "nee", "non"}


# --- definitions ------------------------------------------------------------------------------

def applicable_fields(session: Session, org: Organisation) -> list[CustomField]:
    """Fields of `org` and of its ancestors, the federation's first.

    Unscoped on purpose: the request scope is `org`'s subtree, which leaves out its ancestors."""
    ancestors = org.ancestor_ids
    depth = {org_id: i for i, org_id in enumerate(ancestors)}
    fields = session.execute(
        sa.select(CustomField).where(CustomField.org_id.in_(ancestors)), execution_options=UNSCOPED
    ).scalars().all()
    return sorted(fields, key=lambda f: (depth[f.org_id], f.position, f.label.lower(), f.id))


def fields_by_key(session: Session, org: Organisation) -> dict[str, CustomField]:
    return {f.key: f for f in applicable_fields(session, org)}


def get_own_field(session: Session, org: Organisation, field_id: int) -> CustomField:
    """A field `org` itself defines; fields of other organisations (even ancestors) are not found."""
    field = session.get(CustomField, field_id, execution_options=UNSCOPED)
    if field is None or field.org_id != org.id:
        raise NotFound(gettext("custom field not found"))
    return field


def _clean_choices(field_type: str, choices) -> list[str]:
    if field_type != "choice":
        if choices:
            raise DomainError(gettext("only choice fields have choices"), field="choices")
        return []
    if not isinstance(choices, (list, tuple)):
        raise DomainError(gettext("give the choices as a list"), field="choices")
    clean: list[str] = []
    for choice in choices:
        text = str(choice).strip()
        if not text:
            continue
        if len(text) > TEXT_MAX:
            raise DomainError(gettext("a choice is at most %(count)s characters", count=TEXT_MAX), field="choices")
        if text in clean:
            raise DomainError(gettext("the choice %(choice)r is listed twice", choice=text), field="choices")
        clean.append(text)
    if not clean:
        raise DomainError(gettext("a choice field needs at least one choice"), field="choices")
    return clean


def create_field(session: Session, org: Organisation, key: str, label: str, field_type: str,
                 choices=(), required: bool = False, position: int = 0) -> CustomField:
    key = (key or "").strip()
    if not KEY_RE.match(key):
        raise DomainError(gettext("a key is lower-case letters, digits and _ and starts with a letter (at most 60)"),
                          field="key")
    label = (label or "").strip()
    if not label:
        raise DomainError(gettext("a label is required"), field="label")
    if field_type not in CustomField.TYPES:
        raise DomainError(gettext("type must be one of %(types)s", types=", ".join(CustomField.TYPES)), field="field_type")
    clean_choices = _clean_choices(field_type, choices)
    # The key must be unambiguous for every person this field can apply to: not used by an
    # ancestor (whose field applies here too) nor anywhere in the subtree (which this one will cover).
    clash = session.execute(
        sa.select(CustomField.id).join(Organisation, Organisation.id == CustomField.org_id).where(
            CustomField.key == key,
            sa.or_(CustomField.org_id.in_(org.ancestor_ids), Organisation.path.startswith(org.path)),
        ),
        execution_options=UNSCOPED,
    ).first()
    if clash:
        raise Conflict(gettext("a custom field with this key already applies here or below"), field="key")
    field = CustomField(org_id=org.id, key=key, label=label[:255], field_type=field_type, choices=clean_choices,
                        required=bool(required), position=int(position or 0))
    session.add(field)
    session.flush()
    return field


def update_field(session: Session, field: CustomField, label: str | None = None, choices=None,
                 required: bool | None = None, position: int | None = None) -> CustomField:
    """Label, choices, required and position can change; key and type cannot (stored values depend on them)."""
    if label is not None:
        label = label.strip()
        if not label:
            raise DomainError(gettext("a label is required"), field="label")
        field.label = label[:255]
    if choices is not None:
        clean_choices = _clean_choices(field.field_type, choices)
        dropped = set(field.choices or ()) - set(clean_choices)
        if dropped:
            in_use = session.execute(
                sa.select(CustomFieldValue.value).where(CustomFieldValue.field_id == field.id,
                                                        CustomFieldValue.value.in_(dropped)).limit(1)
            ).scalar()
            if in_use is not None:
                raise Conflict(gettext("the choice %(choice)r is still used by people; change them first", choice=in_use),
                               field="choices")
        field.choices = clean_choices
    if required is not None:
        field.required = bool(required)
    if position is not None:
        field.position = int(position)
    session.flush()
    return field


def delete_field(session: Session, field: CustomField) -> None:
    """Delete a field and its values (an explicit admin decision, unlike switching a module off)."""
    session.execute(sa.delete(CustomFieldValue).where(CustomFieldValue.field_id == field.id))
    session.delete(field)
    session.flush()


# --- values -----------------------------------------------------------------------------------

def normalise_value(field: CustomField, raw: Any) -> str | None:
    """The stored form of `raw` for `field`, None for empty. Raises ValueError with a user-facing message."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    kind = field.field_type
    if kind == "bool":
        if isinstance(raw, bool):
            return "true" if raw else "false"
        word = str(raw).strip().lower()
        if word in TRUE_WORDS:
            return "true"
        if word in FALSE_WORDS:
            return "false"
        raise ValueError(gettext("must be yes or no (true/false)"))
    if kind == "date":
        if isinstance(raw, dt.date):
            return raw.isoformat()
        try:
            return dt.date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise ValueError(gettext("not a valid date (YYYY-MM-DD)")) from None
    if isinstance(raw, (dict, list)):
        raise ValueError(gettext("must be a single value"))
    text = str(raw).strip()
    if kind == "choice":
        if text not in field.choices:
            raise ValueError(gettext("must be one of: %(choices)s", choices=", ".join(field.choices)))
        return text
    limit = MEMO_MAX if kind == "memo" else TEXT_MAX
    if len(text) > limit:
        raise ValueError(gettext("at most %(count)s characters", count=limit))
    return text


def typed_value(field: CustomField, stored: str | None):
    """What the API and templates show: booleans for yes/no, strings otherwise."""
    if stored is None:
        return None
    if field.field_type == "bool":
        return stored == "true"
    return stored


def validate_values(fields: dict[str, CustomField], values: dict | None,
                    creating: bool) -> tuple[dict[str, str | None], dict[str, str]]:
    """Check `values` ({key: raw}) against the applicable `fields`.

    Returns (clean values, errors by "custom_fields.<key>"). Required fields must be given on create
    and cannot be emptied later."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        return {}, {"custom_fields": "give custom fields as an object {key: value}"}
    clean: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for key, raw in values.items():
        field = fields.get(key)
        if field is None:
            errors[f"custom_fields.{key}"] = gettext("unknown custom field")
            continue
        try:
            clean[key] = normalise_value(field, raw)
        except ValueError as exc:
            errors[f"custom_fields.{key}"] = str(exc)
    for key, field in fields.items():
        if not field.required or f"custom_fields.{key}" in errors:
            continue
        if (creating or key in clean) and clean.get(key) is None:
            errors[f"custom_fields.{key}"] = gettext("this field is required")
    return clean, errors


def stored_values(session: Session, person_id: int, fields: dict[str, CustomField]) -> dict[str, str]:
    """{key: stored string} of `person_id` for the given fields."""
    if not fields:
        return {}
    by_id = {f.id: f.key for f in fields.values()}
    rows = session.execute(
        sa.select(CustomFieldValue.field_id, CustomFieldValue.value)
        .where(CustomFieldValue.person_id == person_id, CustomFieldValue.field_id.in_(by_id))
    ).all()
    return {by_id[field_id]: value for field_id, value in rows}


def store_values(session: Session, person: Person, fields: dict[str, CustomField],
                 clean: dict[str, str | None]) -> bool:
    """Write validated values (None deletes). Returns whether anything changed."""
    if not clean:
        return False
    existing = {
        row.field_id: row for row in session.execute(
            sa.select(CustomFieldValue).where(CustomFieldValue.person_id == person.id,
                                              CustomFieldValue.field_id.in_([fields[k].id for k in clean]))
        ).scalars()
    }
    changed = False
    for key, value in clean.items():
        field = fields[key]
        row = existing.get(field.id)
        if value is None:
            if row is not None:
                session.delete(row)
                changed = True
        elif row is None:
            session.add(CustomFieldValue(field_id=field.id, person_id=person.id, value=value))
            changed = True
        elif row.value != value:
            row.value = value
            changed = True
    return changed


def values_for(session: Session, org: Organisation, person: Person) -> list[tuple[CustomField, Any]]:
    """(field, typed value or None) for every field that applies in `org`, in display order."""
    fields = applicable_fields(session, org)
    stored = stored_values(session, person.id, {f.key: f for f in fields})
    return [(f, typed_value(f, stored.get(f.key))) for f in fields]


def filter_condition(field: CustomField, raw: Any):
    """SQL condition on `Person` for "custom field equals `raw`" (text fields: contains, any case).

    Raises ValueError for a value the field can never hold."""
    value = normalise_value(field, raw)
    if value is None:
        raise ValueError(gettext("give a value to filter on"))
    cfv = CustomFieldValue.__table__
    if field.field_type in ("text", "memo"):
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        match = cfv.c.value.ilike(f"%{escaped}%", escape="\\")
    else:
        match = cfv.c.value == value
    return sa.exists(sa.select(cfv.c.id).where(cfv.c.field_id == field.id, cfv.c.person_id == Person.id, match))
