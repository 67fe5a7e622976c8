"""Audit log: every write (who, when, what changed) and every view of a person's personal data.

Writes are recorded by a `before_flush` listener over all models (except the log itself and
bookkeeping tables), so no code path can forget it. Bulk `UPDATE`/`DELETE` statements bypass the
ORM and so this listener: services use the ORM for data users care about. Views are recorded
explicitly with `record_view` by the pages and API endpoints that show personal data.

Who and where: in a request, the logged-in user, the organisation of the URL and the client address;
in a job, the user who started it and the job's organisation (`core.jobs` sets `federa_audit_actor`).
Secret columns (password and token hashes, keys) are never copied: an update says only "changed".
"""
from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from core.db import utcnow

# Bookkeeping tables whose rows are not "data changes" users care about.
SKIP_TABLES = {"audit_log", "job", "login_attempt", "api_token", "alembic_version"}
# Never copy these values into the log (also any column whose name matches SECRET_PATTERN).
SECRET_COLUMNS = {"password_hash", "token_hash"}
SECRET_PATTERN = re.compile(r"password|secret|token|private_key|api_key|auth_key", re.IGNORECASE)
# Derived or bookkeeping columns that only add noise to a change record.
NOISE_COLUMNS = {"search_text", "updated_at", "created_at"}

_CREATED = "federa_audit_created"
_NEW = "federa_audit_new"


def is_secret(column_key: str) -> bool:
    return column_key in SECRET_COLUMNS or bool(SECRET_PATTERN.search(column_key))


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, dict)):
        return value
    return str(value)


def _actor(session: Session | None = None) -> tuple[int | None, int | None, str | None]:
    """(user id, organisation id, client address) of whoever is writing."""
    if has_request_context():
        user = getattr(g, "user", None)
        org = getattr(g, "org", None)
        return (user.id if user else None), (org.id if org else None), request.remote_addr
    if session is not None and "federa_audit_actor" in session.info:
        user_id, org_id = session.info["federa_audit_actor"]
        return user_id, org_id, None
    return None, None, None


def _subject(obj) -> int | None:
    from core.models import Person

    if isinstance(obj, Person):
        return obj.id
    return getattr(obj, "person_id", None)


def _entity_org(obj, default: int | None) -> int | None:
    """The organisation an entry belongs to: the row's own (an organisation is its own), else the request's."""
    from core.models import Organisation

    if isinstance(obj, Organisation):
        state = inspect(obj)
        if state.session is not None and obj in state.session.deleted:
            # A log row cannot point at the organisation being deleted: it goes to the parent.
            return obj.parent_id
        return obj.id or default
    return getattr(obj, "org_id", None) or default


def _recorded(column: sa.Column) -> bool:
    """Whether change records look at `column`: not bookkeeping noise, and not a column marked
    `info={"derived": True}` (a copy of other rows' values the database keeps, such as a membership's copy
    of its person's name)."""
    return column.key not in NOISE_COLUMNS and not column.info.get("derived")


def _created(keys, value_of) -> dict:
    """What a "create" entry records for the recorded columns `keys`: every value that is set, secrets only
    as "set"."""
    changes: dict[str, Any] = {}
    for key in keys:
        value = value_of(key)
        if value is not None:
            changes[key] = "set" if is_secret(key) else _plain(value)
    return changes


def _changes(obj, action: str) -> dict:
    state = inspect(obj)
    keys = [attr.key for attr in state.mapper.column_attrs if _recorded(attr.columns[0])]
    if action == "create":
        return _created(keys, lambda key: getattr(obj, key))
    changes: dict[str, Any] = {}
    for key in keys:
        if is_secret(key):
            if action == "update" and state.attrs[key].history.has_changes():
                changes[key] = "changed"
            continue
        if action == "update":
            history = state.attrs[key].history
            if history.has_changes():
                old = history.deleted[0] if history.deleted else None
                new = history.added[0] if history.added else None
                if old != new:
                    changes[key] = [_plain(old), _plain(new)]
        else:  # delete: keep what was there
            changes[key] = _plain(getattr(obj, key))
    return changes


def _identity(obj) -> str | None:
    identity = inspect(obj).identity
    if not identity:
        return None
    return str(identity[0]) if len(identity) == 1 else "/".join(str(part) for part in identity)


@event.listens_for(Session, "before_flush")
def _record_writes(session: Session, flush_context, instances) -> None:
    from core.models import AuditLog

    pending: list[tuple[str, Any]] = (
        [("create", o) for o in session.new]
        + [("update", o) for o in session.dirty if session.is_modified(o, include_collections=False)]
        + [("delete", o) for o in session.deleted]
    )
    if not pending:
        return
    user_id, org_id, ip = _actor(session)
    # Rows created earlier in this transaction, by (table, id): later updates fold into their "create" entry.
    created = session.info.setdefault(_CREATED, {})
    for action, obj in pending:
        table = getattr(obj, "__tablename__", None)
        if table is None or table in SKIP_TABLES:
            continue
        changes = _changes(obj, action)
        if action == "update" and not changes:
            continue
        if action == "update" and (table, _identity(obj)) in created:
            entry = created[(table, _identity(obj))]
            entry.changes = {**(entry.changes or {}), **{k: v[1] if isinstance(v, list) else v
                                                         for k, v in changes.items()}}
            continue
        entry = AuditLog(user_id=user_id, org_id=_entity_org(obj, org_id), action=action,
                         entity_type=table, person_id=_subject(obj), changes=changes, ip=ip, at=utcnow())
        if action == "create":
            # The id is known only after the flush; fill it in then.
            session.info.setdefault(_NEW, []).append((entry, obj, org_id))
        else:
            entry.entity_id = _identity(obj)
        session.add(entry)


@event.listens_for(Session, "after_flush_postexec")
def _fill_new_ids(session: Session, flush_context) -> None:
    pending = session.info.pop(_NEW, None)
    if not pending:
        return
    created = session.info.setdefault(_CREATED, {})
    for entry, obj, org_id in pending:
        entry.entity_id = _identity(obj)
        if entry.person_id is None:
            entry.person_id = _subject(obj)
        entry.org_id = _entity_org(obj, org_id)
        changes = dict(entry.changes or {})
        identity = inspect(obj).identity
        if "id" not in changes and identity and len(identity) == 1:
            changes["id"] = identity[0]
        entry.changes = changes
        created[(entry.entity_type, entry.entity_id)] = entry


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_created(session: Session) -> None:
    session.info.pop(_CREATED, None)
    session.info.pop(_NEW, None)


def record_created(session: Session, table: sa.Table, rows: list[dict], ids: list[int]) -> None:
    """Audit "create" entries for rows a service inserted set-based (`core.db.insert_rows`), which the
    flush listener does not see: one entry per row with what the listener would have recorded."""
    from core.models import AuditLog

    if table.name in SKIP_TABLES or not rows:
        return
    user_id, org_id, ip = _actor(session)
    now = utcnow()
    columns = [c.key for c in table.columns if c.key != "id" and _recorded(c)]
    entries = []
    for row, new_id in zip(rows, ids):
        changes = {**_created(columns, row.get), "id": new_id}
        entries.append({"at": now, "user_id": user_id, "action": "create", "entity_type": table.name,
                        "entity_id": str(new_id), "ip": ip, "changes": changes,
                        "person_id": new_id if table.name == "person" else row.get("person_id"),
                        "org_id": new_id if table.name == "organisation" else (row.get("org_id") or org_id)})
    session.execute(sa.insert(AuditLog.__table__), entries)


def record_view(session: Session, person_id: int | None, what: str = "person", org_id: int | None = None,
                action: str = "view", entity_id: str | None = None) -> None:
    """Log that the current user viewed (or, with `action="export"`, exported) personal data of
    `person_id`. `entity_id` names the record seen when it is not the person (its data subject may have no
    person record yet: an application). Caller commits."""
    from core.models import AuditLog

    user_id, request_org_id, ip = _actor(session)
    session.add(AuditLog(user_id=user_id, org_id=org_id or request_org_id, action=action, entity_type=what,
                         entity_id=entity_id or str(person_id), person_id=person_id, ip=ip, at=utcnow()))


def audit_for_person(session: Session, person_id: int) -> list:
    """Every entry about `person_id` as data subject (writes to their records and views of their data),
    oldest first — for a GDPR export; `redact_person_audit` is its erase counterpart."""
    from core.models import AuditLog

    return list(session.execute(
        sa.select(AuditLog).where(AuditLog.person_id == person_id).order_by(AuditLog.at, AuditLog.id)
    ).scalars())


def redact_person_audit(session: Session, person_id: int) -> int:
    """For erasure: drop the recorded values about `person_id`, keep who did what when (the log's
    purpose). Returns the number of entries redacted. Caller commits."""
    from core.models import AuditLog

    result = session.execute(
        sa.update(AuditLog).where(AuditLog.person_id == person_id).values(changes=sa.null())
    )
    return result.rowcount or 0
