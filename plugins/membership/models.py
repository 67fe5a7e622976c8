"""Tables of the membership module: seasons, membership types, memberships, saved filters, clean-ups.

Memberships belong to a club (`org_id`); types and seasons belong to the organisation that defines
them (a federation's apply to its whole subtree).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, OrgScoped, created_at, intpk, person_fk, str100, updated_at
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


class Membership(Base, OrgScoped):
    """A person's membership of a club. It runs on from season to season until it is ended."""

    __tablename__ = "membership_membership"
    __table_args__ = (
        sa.Index("ix_membership_membership_org_status", "org_id", "status"),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates"),
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

    person: Mapped[Person] = relationship()
    type: Mapped[MembershipType] = relationship()
    organisation: Mapped[Organisation] = relationship()


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
