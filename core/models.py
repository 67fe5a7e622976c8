"""Core tables: organisations, people, users, roles, packages, jobs, audit.

Plugins keep their own tables (prefixed with their name) in their own `models.py`.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, relationship, with_loader_criteria

from core.db import _SCOPE_KEY, Base, OrgScoped, created_at, intpk, org_fk, person_fk, str100, str255, updated_at, utcnow, UTCDateTime


class OrganisationKind(Base):
    """A kind of organisation (federation, region, club, government, service ...): data, not code."""

    __tablename__ = "organisation_kind"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    labels: Mapped[dict] = mapped_column(default=dict)  # {"nl": ..., "fr": ..., "en": ...}
    position: Mapped[int] = mapped_column(default=0)

    def label(self, lang: str = "nl") -> str:
        return self.labels.get(lang) or self.labels.get("nl") or self.key


class Organisation(Base):
    """A node of the organisation tree. `path` ("/1/4/17/") makes subtree queries one LIKE."""

    __tablename__ = "organisation"

    id: Mapped[intpk]
    parent_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("organisation.id", ondelete="RESTRICT"), index=True)
    path: Mapped[str] = mapped_column(sa.String(255), index=True, default="")
    depth: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(sa.ForeignKey("organisation_kind.key"), index=True)
    name: Mapped[str255]
    short_name: Mapped[Optional[str100]]
    email: Mapped[Optional[str255]]
    phone: Mapped[Optional[str]] = mapped_column(sa.String(32))
    website: Mapped[Optional[str255]]
    street: Mapped[Optional[str255]]
    postal_code: Mapped[Optional[str]] = mapped_column(sa.String(16))
    city: Mapped[Optional[str100]]
    country: Mapped[str] = mapped_column(sa.String(2), default="BE")
    kbo_number: Mapped[Optional[str]] = mapped_column(sa.String(10), index=True)
    v_code: Mapped[Optional[str]] = mapped_column(sa.String(8), index=True)
    iban: Mapped[Optional[str]] = mapped_column(sa.String(34))
    bic: Mapped[Optional[str]] = mapped_column(sa.String(11))
    legal_form: Mapped[Optional[str]] = mapped_column(sa.String(40))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    parent: Mapped[Optional["Organisation"]] = relationship(remote_side="Organisation.id", back_populates="children")
    children: Mapped[list["Organisation"]] = relationship(back_populates="parent", order_by="Organisation.name")

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to and including this organisation."""
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.kind} {self.name!r}>"


class OrganisationSetting(Base, OrgScoped):
    """A setting value on an organisation; lookups walk up to the nearest ancestor that has one."""

    __tablename__ = "organisation_setting"
    __table_args__ = (sa.UniqueConstraint("org_id", "key"),)

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(sa.String(100))
    value: Mapped[dict | list | str | int | bool | None] = mapped_column(sa.JSON())


class Person(Base):
    """One record per natural person across all organisations."""

    __tablename__ = "person"
    __table_args__ = (
        # Free-text search (`search_text LIKE '%abc%'`) uses trigrams on PostgreSQL.
        sa.Index("ix_person_search_text_trgm", "search_text", postgresql_using="gin",
                 postgresql_ops={"search_text": "gin_trgm_ops"}),
        # The people list's default order; lets a federation-wide first page stop after 50 rows.
        sa.Index("ix_person_name", "last_name", "first_name", "id"),
    )

    id: Mapped[intpk]
    first_name: Mapped[str100]
    last_name: Mapped[str100]
    birth_date: Mapped[Optional[dt.date]] = mapped_column(index=True)
    gender: Mapped[Optional[str]] = mapped_column(sa.String(1))  # M, F, X
    national_number: Mapped[Optional[str]] = mapped_column(sa.String(11), unique=True)  # national register or BIS
    street: Mapped[Optional[str255]]
    house_number: Mapped[Optional[str]] = mapped_column(sa.String(16))
    box: Mapped[Optional[str]] = mapped_column(sa.String(16))
    postal_code: Mapped[Optional[str]] = mapped_column(sa.String(16))
    city: Mapped[Optional[str100]]
    country: Mapped[str] = mapped_column(sa.String(2), default="BE")
    email: Mapped[Optional[str255]] = mapped_column(index=True)
    email_alt: Mapped[Optional[str255]]
    phone: Mapped[Optional[str]] = mapped_column(sa.String(32))
    mobile: Mapped[Optional[str]] = mapped_column(sa.String(32))
    emergency_contact_name: Mapped[Optional[str255]]
    emergency_contact_phone: Mapped[Optional[str]] = mapped_column(sa.String(32))
    preferred_language: Mapped[str] = mapped_column(sa.String(2), default="nl")
    photo_file: Mapped[Optional[str255]]
    # Lower-cased "first last email city" for free-text search (pg_trgm index on PostgreSQL).
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    merged_into_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("person.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    links: Mapped[list["PersonOrganisation"]] = relationship(back_populates="person", cascade="all, delete-orphan")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.full_name!r}>"


class PersonOrganisation(Base, OrgScoped):
    """A person's link to an organisation: what makes them visible there. Plugins add meaning (memberships)."""

    __tablename__ = "person_organisation"
    __table_args__ = (sa.UniqueConstraint("person_id", "org_id"),)

    id: Mapped[intpk]
    person_id: Mapped[person_fk]
    relation: Mapped[str] = mapped_column(sa.String(40), default="member")
    created_at: Mapped[created_at]

    person: Mapped[Person] = relationship(back_populates="links")
    organisation: Mapped[Organisation] = relationship()


class CustomField(Base, OrgScoped):
    """An extra person field an organisation defines; a federation's fields apply to its whole subtree."""

    __tablename__ = "custom_field"
    __table_args__ = (sa.UniqueConstraint("org_id", "key"),)

    TYPES = ("text", "memo", "choice", "date", "bool")

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(sa.String(60))
    label: Mapped[str255]
    field_type: Mapped[str] = mapped_column(sa.String(10))
    choices: Mapped[list] = mapped_column(default=list)
    required: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[created_at]


class CustomFieldValue(Base):
    __tablename__ = "custom_field_value"
    __table_args__ = (sa.UniqueConstraint("field_id", "person_id"),)

    id: Mapped[intpk]
    field_id: Mapped[int] = mapped_column(sa.ForeignKey("custom_field.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[person_fk]
    value: Mapped[str] = mapped_column(sa.Text)

    field: Mapped[CustomField] = relationship()


class User(Base):
    """A login account, always linked to a person."""

    __tablename__ = "user_account"

    id: Mapped[intpk]
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str] = mapped_column(sa.String(255), unique=True)
    password_hash: Mapped[Optional[str255]]
    is_active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change: invalidates sessions and outstanding reset links.
    auth_epoch: Mapped[int] = mapped_column(default=0)
    last_login_at: Mapped[Optional[dt.datetime]]
    created_at: Mapped[created_at]

    person: Mapped[Person] = relationship()
    assignments: Mapped[list["RoleAssignment"]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="api")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[Optional[dt.datetime]]
    last_used_at: Mapped[Optional[dt.datetime]]

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """A login (`kind` "login") or a password-reset request ("reset"), kept to throttle both."""

    __tablename__ = "login_attempt"

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(sa.String(10), default="login", server_default="login")
    email: Mapped[str] = mapped_column(sa.String(255), index=True)
    ip: Mapped[str] = mapped_column(sa.String(64), index=True)
    success: Mapped[bool]
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Role(Base):
    """A named set of permissions. Built-in roles have a `key`; custom roles belong to an organisation."""

    __tablename__ = "role"

    id: Mapped[intpk]
    key: Mapped[Optional[str]] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str100]
    description: Mapped[Optional[str]] = mapped_column(sa.Text)
    org_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[created_at]

    permission_rows: Mapped[list["RolePermission"]] = relationship(cascade="all, delete-orphan")

    @property
    def builtin(self) -> bool:
        return self.key is not None


class RolePermission(Base):
    __tablename__ = "role_permission"

    role_id: Mapped[int] = mapped_column(sa.ForeignKey("role.id", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(sa.String(100), primary_key=True)


class RoleAssignment(Base):
    """A user holds a role on an organisation and, through it, on its whole subtree.

    `org_id` is NULL only for the platform-admin role, which is global.
    """

    __tablename__ = "role_assignment"
    __table_args__ = (sa.UniqueConstraint("user_id", "role_id", "org_id"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[int] = mapped_column(sa.ForeignKey("role.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[created_at]

    user: Mapped[User] = relationship(back_populates="assignments")
    role: Mapped[Role] = relationship()
    organisation: Mapped[Optional[Organisation]] = relationship()


class Package(Base):
    """A named set of plugins that a customer subscribes to."""

    __tablename__ = "package"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str100]
    description: Mapped[Optional[str]] = mapped_column(sa.Text)
    plugins: Mapped[list] = mapped_column(default=list)
    created_at: Mapped[created_at]


class Subscription(Base, OrgScoped):
    """An organisation's package for a period; `include_descendants` grants it to the whole subtree."""

    __tablename__ = "subscription"

    id: Mapped[intpk]
    package_id: Mapped[int] = mapped_column(sa.ForeignKey("package.id", ondelete="RESTRICT"), index=True)
    starts_on: Mapped[dt.date]
    ends_on: Mapped[Optional[dt.date]]
    include_descendants: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]

    package: Mapped[Package] = relationship()


class ModuleOverride(Base, OrgScoped):
    """Switches one plugin on or off for one organisation, on top of what its packages give."""

    __tablename__ = "module_override"
    __table_args__ = (sa.UniqueConstraint("org_id", "plugin"),)

    id: Mapped[intpk]
    plugin: Mapped[str] = mapped_column(sa.String(40))
    enabled: Mapped[bool]
    created_at: Mapped[created_at]


class Job(Base):
    """A background job as users see it: status and progress (the UI draws a progress bar from this)."""

    __tablename__ = "job"

    STATUSES = ("queued", "running", "done", "failed", "skipped")

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    org_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    plugin: Mapped[Optional[str]] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(100))
    title: Mapped[Optional[str255]]
    status: Mapped[str] = mapped_column(sa.String(10), default="queued", index=True)
    progress: Mapped[int] = mapped_column(default=0)
    total: Mapped[Optional[int]]
    message: Mapped[Optional[str]] = mapped_column(sa.Text)
    result: Mapped[Optional[dict]] = mapped_column(sa.JSON())
    idempotency_key: Mapped[Optional[str]] = mapped_column(sa.String(200), unique=True)
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    started_at: Mapped[Optional[dt.datetime]]
    finished_at: Mapped[Optional[dt.datetime]]

    @property
    def percent(self) -> int:
        if self.status in ("done", "skipped"):
            return 100
        if not self.total:
            return 0
        return min(100, int(self.progress * 100 / self.total))


class AuditLog(Base):
    """Every write (who, when, what changed) and every view of a person's personal data."""

    __tablename__ = "audit_log"

    id: Mapped[intpk]
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    org_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("organisation.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(sa.String(20))  # create, update, delete, view, export, login ...
    entity_type: Mapped[str] = mapped_column(sa.String(60), index=True)
    entity_id: Mapped[Optional[str]] = mapped_column(sa.String(60))
    person_id: Mapped[Optional[int]] = mapped_column(index=True)  # the data subject, kept after erasure for the log
    changes: Mapped[Optional[dict]] = mapped_column(sa.JSON())
    ip: Mapped[Optional[str]] = mapped_column(sa.String(64))


@event.listens_for(Session, "do_orm_execute")
def _apply_org_scope(state: ORMExecuteState) -> None:
    """Filter ORM SELECTs of `OrgScoped` models to the session's organisation subtree."""
    scope = state.session.info.get(_SCOPE_KEY)
    if scope is None or not state.is_select or state.execution_options.get("federa_unscoped"):
        return
    prefix = scope + "%"
    state.statement = state.statement.options(
        with_loader_criteria(
            OrgScoped,
            lambda cls: cls.org_id.in_(sa.select(Organisation.id).where(Organisation.path.like(prefix))),
            include_aliases=True,
        )
    )


@event.listens_for(Person, "before_insert")
@event.listens_for(Person, "before_update")
def _keep_search_text(mapper, connection, person: Person) -> None:
    """Every ORM write of a person keeps `search_text` current, whoever writes it (bulk inserts set it themselves)."""
    from core.services.people import search_text_for

    person.search_text = search_text_for(person)


# The notification service's tables are core tables too (kept in their own module).
from core.notifications import models as _notification_models  # noqa: E402,F401
