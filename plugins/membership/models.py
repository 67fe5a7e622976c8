"""Tables of the membership module: seasons, membership types, memberships, saved filters, clean-ups,
applications from the public sign-up form.

Memberships belong to a club (`org_id`); types and seasons belong to the organisation that defines
them (a federation's apply to its whole subtree).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, OrgScoped, UTCDateTime, created_at, intpk, person_fk, str100, updated_at
from core.models import Organisation, Person

STATUSES = ("pending", "active", "ended")


class Season(Base, OrgScoped):
    """A season or working year of a federation, with the date by which clubs finish their clean-up."""

    __tablename__ = "membership_season"
    __table_args__ = (sa.UniqueConstraint("org_id", "name"),)

    id: Mapped[intpk]
    name: Mapped[str100]
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    cleanup_deadline: Mapped[Optional[dt.date]]
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class MembershipType(Base, OrgScoped):
    """A kind of membership with a price per season; a federation's types apply in all its clubs."""

    __tablename__ = "membership_type"
    __table_args__ = (sa.UniqueConstraint("org_id", "name"),)

    id: Mapped[intpk]
    name: Mapped[str100]
    price: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0"))
    min_age: Mapped[Optional[int]]
    max_age: Mapped[Optional[int]]
    # Counts as an affiliation to the federation ("sportend lid").
    sporting: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


_COPY = {"deferred": True, "info": {"derived": True}}


class Membership(Base, OrgScoped):
    """A person's membership of a club. It runs on from season to season until it is ended."""

    __tablename__ = "membership_membership"
    __table_args__ = (
        sa.Index("ix_membership_membership_org_status", "org_id", "status"),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates"),
        # The member list's text search filters, sorts and counts memberships in one trigram scan.
        sa.Index("ix_membership_membership_person_search_text_trgm", "person_search_text", postgresql_using="gin",
                 postgresql_ops={"person_search_text": "gin_trgm_ops"}),
        # The list's default order: a federation-wide first page stops after 50 rows.
        sa.Index("ix_membership_membership_person_name", "person_last_name", "person_first_name", "id"),
    )

    id: Mapped[intpk]
    person_id: Mapped[person_fk]
    type_id: Mapped[int] = mapped_column(sa.ForeignKey("membership_type.id", ondelete="RESTRICT"), index=True)
    starts_on: Mapped[dt.date]
    ends_on: Mapped[Optional[dt.date]] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="active")
    end_reason: Mapped[Optional[str]] = mapped_column(sa.String(200))
    # The bank account the fee is paid from (validated IBAN); core has no bank account on people yet.
    iban: Mapped[Optional[str]] = mapped_column(sa.String(34))
    # A transfer ends the membership in one club and starts one in another; both stay as history.
    transferred_from_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("membership_membership.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]
    # Copies of the person's columns the member list searches and sorts on, so a federation-wide search
    # needs no probe per matching person. Kept by database triggers (PERSON_COPY_TRIGGERS) whoever writes,
    # ORM or set-based; nothing reads them through the ORM and the audit log leaves them out ("derived").
    person_last_name: Mapped[Optional[str]] = mapped_column(sa.String(100), **_COPY)
    person_first_name: Mapped[Optional[str]] = mapped_column(sa.String(100), **_COPY)
    person_birth_date: Mapped[Optional[dt.date]] = mapped_column(**_COPY)
    person_search_text: Mapped[Optional[str]] = mapped_column(sa.Text, **_COPY)

    person: Mapped[Person] = relationship()
    type: Mapped[MembershipType] = relationship()
    organisation: Mapped[Organisation] = relationship()


COPIED = ("last_name", "first_name", "birth_date", "search_text")  # person column -> membership person_<column>

# PostgreSQL: a membership takes the copies when it is written with a person (BEFORE, so the row goes in
# complete); a person's change of a copied column updates their memberships.
PERSON_COPY_TRIGGERS_POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION membership_copy_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT last_name, first_name, birth_date, search_text
      INTO NEW.person_last_name, NEW.person_first_name, NEW.person_birth_date, NEW.person_search_text
      FROM person WHERE id = NEW.person_id;
    RETURN NEW;
END $$""",
    """CREATE TRIGGER membership_copy_person BEFORE INSERT OR UPDATE OF person_id ON membership_membership
FOR EACH ROW EXECUTE FUNCTION membership_copy_person()""",
    """CREATE OR REPLACE FUNCTION membership_follow_person() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE membership_membership
       SET person_last_name = NEW.last_name, person_first_name = NEW.first_name,
           person_birth_date = NEW.birth_date, person_search_text = NEW.search_text
     WHERE person_id = NEW.id;
    RETURN NULL;
END $$""",
    """CREATE TRIGGER membership_follow_person AFTER UPDATE OF last_name, first_name, birth_date, search_text
ON person FOR EACH ROW
WHEN (OLD.last_name IS DISTINCT FROM NEW.last_name OR OLD.first_name IS DISTINCT FROM NEW.first_name
      OR OLD.birth_date IS DISTINCT FROM NEW.birth_date OR OLD.search_text IS DISTINCT FROM NEW.search_text)
EXECUTE FUNCTION membership_follow_person()""",
]
_SQLITE_COPY = """UPDATE membership_membership SET
    person_last_name = (SELECT last_name FROM person WHERE id = NEW.person_id),
    person_first_name = (SELECT first_name FROM person WHERE id = NEW.person_id),
    person_birth_date = (SELECT birth_date FROM person WHERE id = NEW.person_id),
    person_search_text = (SELECT search_text FROM person WHERE id = NEW.person_id)
  WHERE id = NEW.id;"""
# SQLite has no BEFORE trigger that can change the new row: AFTER triggers complete it.
PERSON_COPY_TRIGGERS_SQLITE = [
    f"CREATE TRIGGER membership_copy_person AFTER INSERT ON membership_membership BEGIN {_SQLITE_COPY} END",
    f"""CREATE TRIGGER membership_copy_person_moved AFTER UPDATE OF person_id ON membership_membership
BEGIN {_SQLITE_COPY} END""",
    """CREATE TRIGGER membership_follow_person AFTER UPDATE OF last_name, first_name, birth_date, search_text ON person
BEGIN UPDATE membership_membership
   SET person_last_name = NEW.last_name, person_first_name = NEW.first_name,
       person_birth_date = NEW.birth_date, person_search_text = NEW.search_text
 WHERE person_id = NEW.id; END""",
]
PERSON_COPY_DROP = {
    "postgresql": ["DROP TRIGGER IF EXISTS membership_follow_person ON person",
                   "DROP FUNCTION IF EXISTS membership_follow_person()",
                   "DROP FUNCTION IF EXISTS membership_copy_person() CASCADE"],
    "sqlite": ["DROP TRIGGER IF EXISTS membership_follow_person"],  # the others go with their table
}
PERSON_COPY_TRIGGERS = {"postgresql": PERSON_COPY_TRIGGERS_POSTGRESQL, "sqlite": PERSON_COPY_TRIGGERS_SQLITE}

for _dialect, _statements in PERSON_COPY_TRIGGERS.items():
    for _statement in _statements:
        sa.event.listen(Membership.__table__, "after_create", sa.DDL(_statement).execute_if(dialect=_dialect))
    for _statement in PERSON_COPY_DROP[_dialect]:
        sa.event.listen(Membership.__table__, "before_drop", sa.DDL(_statement).execute_if(dialect=_dialect))


class SavedFilter(Base, OrgScoped):
    """A member-list filter saved under a name for an organisation."""

    __tablename__ = "membership_saved_filter"
    __table_args__ = (sa.UniqueConstraint("org_id", "name"),)

    id: Mapped[intpk]
    name: Mapped[str100]
    query: Mapped[dict] = mapped_column(default=dict)
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class Cleanup(Base, OrgScoped):
    """A club's statement that its member list is cleaned up for a season."""

    __tablename__ = "membership_cleanup"
    __table_args__ = (sa.UniqueConstraint("org_id", "season_id"),)

    id: Mapped[intpk]
    season_id: Mapped[int] = mapped_column(sa.ForeignKey("membership_season.id", ondelete="CASCADE"), index=True)
    done_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]


class MailLog(Base):
    """Who a bulk e-mail job already wrote to, so a retried job never sends twice."""

    __tablename__ = "membership_mail_log"
    __table_args__ = (sa.UniqueConstraint("job_id", "person_id"),)

    id: Mapped[intpk]
    job_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    person_id: Mapped[person_fk]
    sent_at: Mapped[created_at]


APPLICATION_STATUSES = ("new", "waiting", "accepted", "declined")


class Application(Base, OrgScoped):
    """Someone's application to become a member of a club, sent through its public sign-up form.

    It holds the applicant's own data until the club decides: accepting it finds or creates the person
    (never a duplicate), starts the membership and empties the copy kept here; a declined application is
    erased after the retention period (`membership.signup_retention_days`)."""

    __tablename__ = "membership_application"
    __table_args__ = (
        sa.Index("ix_membership_application_org_status", "org_id", "status", "created_at"),
        # One open application per applicant and club, whatever arrives at the same moment (a double click).
        sa.UniqueConstraint("org_id", "dedupe_key"),
        # Ids are never reused (SQLite would reuse the last one after a purge): jobs and audit entries name them.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[intpk]
    status: Mapped[str] = mapped_column(sa.String(10), default="new")
    # The applicant's folded names, birth date and e-mail while the application is open; cleared on the decision.
    dedupe_key: Mapped[Optional[str]] = mapped_column(sa.String(64))
    type_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("membership_type.id", ondelete="SET NULL"))
    first_name: Mapped[Optional[str]] = mapped_column(sa.String(100))
    last_name: Mapped[Optional[str]] = mapped_column(sa.String(100))
    birth_date: Mapped[Optional[dt.date]]
    gender: Mapped[Optional[str]] = mapped_column(sa.String(1))
    email: Mapped[Optional[str]] = mapped_column(sa.String(255))
    phone: Mapped[Optional[str]] = mapped_column(sa.String(32))
    street: Mapped[Optional[str]] = mapped_column(sa.String(255))
    house_number: Mapped[Optional[str]] = mapped_column(sa.String(16))
    box: Mapped[Optional[str]] = mapped_column(sa.String(16))
    postal_code: Mapped[Optional[str]] = mapped_column(sa.String(16))
    city: Mapped[Optional[str]] = mapped_column(sa.String(100))
    country: Mapped[Optional[str]] = mapped_column(sa.String(2))
    national_number: Mapped[Optional[str]] = mapped_column(sa.String(11))
    preferred_language: Mapped[str] = mapped_column(sa.String(2), default="nl")
    remarks: Mapped[Optional[str]] = mapped_column(sa.Text)
    # When the applicant agreed to the club's privacy statement (the form refuses without it).
    consent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # A keyed hash of the client address: enough to slow down one sender, not to know who it was.
    source_hash: Mapped[Optional[str]] = mapped_column(sa.String(64), index=True)
    decided_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    decline_reason: Mapped[Optional[str]] = mapped_column(sa.String(500))
    person_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("membership_membership.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    # No relationship to the type: a federation's type lies above the club's query scope (services.type_of).
    person: Mapped[Optional[Person]] = relationship()
