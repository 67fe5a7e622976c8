"""Audit log: every write (who, when, what changed) and every view of a person's personal data.

Writes are recorded by a `before_flush` listener over all models (except the log itself and
bookkeeping tables), so no code path can forget it. Views are recorded explicitly with
`record_view` by the pages and API endpoints that show personal data.
"""
from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from core.db import utcnow

# Bookkeeping tables whose rows are not "data changes" users care about.
SKIP_TABLES = {"audit_log", "job", "login_attempt", "api_token", "alembic_version"}
# Never copy these values into the log.
SECRET_COLUMNS = {"password_hash", "token_hash"}


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


def _actor() -> tuple[int | None, int | None, str | None]:
    if not has_request_context():
        return None, None, None
    user = getattr(g, "user", None)
    org = getattr(g, "org", None)
    return (user.id if user else None), (org.id if org else None), request.remote_addr


def _subject(obj) -> int | None:
    from core.models import Person

    if isinstance(obj, Person):
        return obj.id
    return getattr(obj, "person_id", None)


def _changes(obj, action: str) -> dict:
    state = inspect(obj)
    changes: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in SECRET_COLUMNS:
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
        elif action == "create":
            value = getattr(obj, key)
            if value is not None:
                changes[key] = _plain(value)
        else:  # delete: keep what was there
            changes[key] = _plain(getattr(obj, key))
    return changes


@event.listens_for(Session, "before_flush")
def _record_writes(session: Session, flush_context, instances) -> None:
    from core.models import AuditLog

    user_id, org_id, ip = _actor()
    pending: list[tuple[str, Any]] = (
        [("create", o) for o in session.new]
        + [("update", o) for o in session.dirty if session.is_modified(o, include_collections=False)]
        + [("delete", o) for o in session.deleted]
    )
    if not pending:
        return
    session.info.setdefault("federa_audit_new", [])
    # Rows created earlier in this transaction: later updates fold into their "create" entry.
    created = session.info.setdefault("federa_audit_created", {})
    for action, obj in pending:
        table = getattr(obj, "__tablename__", None)
        if table is None or table in SKIP_TABLES:
            continue
        changes = _changes(obj, action)
        if action == "update" and not changes:
            continue
        if action == "update" and id(obj) in created:
            entry = created[id(obj)]
            entry.changes = {**(entry.changes or {}), **{k: v[1] for k, v in changes.items()}}
            continue
        entry = AuditLog(user_id=user_id, org_id=getattr(obj, "org_id", None) or org_id, action=action,
                         entity_type=table, person_id=_subject(obj), changes=changes, ip=ip)
        if action == "create":
            # The id is known only after the flush; fill it in then.
            session.info["federa_audit_new"].append((entry, obj))
            created[id(obj)] = entry
        else:
            entry.entity_id = str(inspect(obj).identity[0]) if inspect(obj).identity else None
        session.add(entry)


@event.listens_for(Session, "after_flush_postexec")
def _fill_new_ids(session: Session, flush_context) -> None:
    pending = session.info.pop("federa_audit_new", None)
    for entry, obj in pending or ():
        identity = inspect(obj).identity
        entry.entity_id = str(identity[0]) if identity else None
        if entry.person_id is None:
            entry.person_id = _subject(obj)
        changes = dict(entry.changes or {})
        if "id" not in changes and identity:
            changes["id"] = identity[0]
        entry.changes = changes


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_created(session: Session) -> None:
    session.info.pop("federa_audit_created", None)


def record_view(session: Session, person_id: int, what: str = "person", org_id: int | None = None) -> None:
    """Log that the current user viewed (or exported) personal data of `person_id`. Caller commits."""
    from core.models import AuditLog

    user_id, request_org_id, ip = _actor()
    session.add(AuditLog(user_id=user_id, org_id=org_id or request_org_id, action="view", entity_type=what,
                         entity_id=str(person_id), person_id=person_id, ip=ip, at=utcnow()))
