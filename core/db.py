"""Database: the declarative Base, column aliases, and organisation scoping of queries.

One `MetaData` with a naming convention so migrations get stable constraint names.
Tables of plugins are prefixed with the plugin name (checked at start-up, see
`core.plugins.check_model_prefixes`); core tables are unprefixed.

Organisation-scoped models inherit `OrgScoped`. While a scope is set on the session
(`scoped_to(session, org)`, or `set_scope` by the route gate), every ORM SELECT of such a
model is filtered to that organisation's subtree through `with_loader_criteria` (listener in
`core.models`); `unscoped(session)` or the execution option `federa_unscoped` is the explicit
escape for federation-wide and platform-admin work.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Annotated, Iterator

import sqlalchemy as sa
from flask import Flask, current_app
from flask.globals import app_ctx
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        Decimal: sa.Numeric(12, 2),
        dict: sa.JSON(),
        list: sa.JSON(),
    }


class Database:
    """The app's engine and a session per application context (what Flask-SQLAlchemy does, minus the rest).

    Engines are per app, in `app.extensions["federa_engine"]`, so tests can build many apps."""

    metadata = Base.metadata

    def __init__(self) -> None:
        self._factory = sessionmaker(expire_on_commit=False)
        self.session = scoped_session(self._new_session, scopefunc=self._scope)

    @staticmethod
    def _scope() -> int:
        return id(app_ctx._get_current_object())

    def _new_session(self) -> Session:
        return self._factory(bind=self.engine)

    def init_app(self, app: Flask) -> None:
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        app.extensions["federa_engine"] = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], **options)
        app.teardown_appcontext(lambda exc: self.session.remove())

    @property
    def engine(self) -> sa.Engine:
        return current_app.extensions["federa_engine"]

    def create_all(self) -> None:
        self.metadata.create_all(self.engine)


db = Database()

intpk = Annotated[int, mapped_column(primary_key=True)]
created_at = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=utcnow, nullable=False)]
updated_at = Annotated[dt.datetime, mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)]
org_fk = Annotated[int, mapped_column(sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True)]
person_fk = Annotated[int, mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)]
str100 = Annotated[str, mapped_column(sa.String(100))]
str255 = Annotated[str, mapped_column(sa.String(255))]


class OrgScoped:
    """Mixin for models owned by one organisation; queries are filtered by the session's scope."""

    # A real attribute (not only an annotation) so `with_loader_criteria(OrgScoped, ...)` can use it.
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True)


_SCOPE_KEY = "federa_org_scope"


def current_scope(session: Session) -> str | None:
    """The path prefix ("/1/4/") queries are limited to, or None when unscoped."""
    return session.info.get(_SCOPE_KEY)


def set_scope(session: Session, org) -> None:
    """Limit `OrgScoped` queries to `org`'s subtree for the rest of the session (None lifts it)."""
    session.info[_SCOPE_KEY] = org.path if org is not None else None


@contextlib.contextmanager
def scoped_to(session: Session, org) -> Iterator[None]:
    """Limit `OrgScoped` queries to `org`'s subtree for the duration of the block."""
    previous = session.info.get(_SCOPE_KEY)
    set_scope(session, org)
    try:
        yield
    finally:
        session.info[_SCOPE_KEY] = previous


@contextlib.contextmanager
def unscoped(session: Session) -> Iterator[None]:
    """Explicit escape from the organisation scope (federation-wide or platform-admin work)."""
    previous = session.info.get(_SCOPE_KEY)
    session.info[_SCOPE_KEY] = None
    try:
        yield
    finally:
        session.info[_SCOPE_KEY] = previous


# --- set-based inserts ------------------------------------------------------------------------------

def _complete_rows(table: sa.Table, rows: list[dict]) -> list[dict]:
    """Every row with the same keys (an executemany needs that): a column a row leaves out gets the
    column's Python-side default, as an ORM insert would give it (a callable default is called once)."""
    keys = {key for row in rows for key in row}
    defaults = {}
    for column in table.columns:
        if column.key in keys and any(column.key not in row for row in rows):
            default = column.default
            if default is None:
                defaults[column.key] = None
            elif default.is_callable:
                defaults[column.key] = default.arg(None)
            elif default.is_scalar:
                defaults[column.key] = default.arg
            else:
                defaults[column.key] = None
    if not defaults:
        return rows
    return [{**defaults, **row} if len(row) < len(keys) else row for row in rows]


def next_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    """`count` new ids from the PostgreSQL sequence of `table.id`, in one round trip."""
    sequence = sa.func.pg_get_serial_sequence(table.name, "id")
    return list(session.execute(sa.select(sa.func.nextval(sequence))
                                .select_from(sa.func.generate_series(1, count))).scalars())


def insert_rows(session: Session, table: sa.Table, rows: list[dict]) -> list[int]:
    """INSERT `rows` (dicts of column values) into `table` set-based; returns their new ids in order.

    On PostgreSQL the ids come from the sequence first and the complete rows go in by one pipelined
    executemany (a multi-row INSERT ... RETURNING of tens of thousands of parameters costs more to parse
    than to run); elsewhere INSERT ... RETURNING. Bulk statements bypass the ORM and so the audit
    listener: record them with `core.audit.record_created`."""
    if not rows:
        return []
    rows = _complete_rows(table, rows)
    if session.get_bind().dialect.name == "postgresql":
        ids = next_ids(session, table, len(rows))
        session.execute(table.insert(), [{**row, "id": new_id} for row, new_id in zip(rows, ids)])
        return ids
    return list(session.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows).scalars())
