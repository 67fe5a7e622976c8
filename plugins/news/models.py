"""Tables of the news module: posts, their audience, and per-person read and pop-up "seen" rows.

A post belongs to the organisation that publishes it (`org_id`). Its audience is one or more
organisations of that organisation's subtree, each optionally with everything below it. Its status is
derived from the times: no `publish_at` is a draft; a future one is scheduled; a past one is published
until `expires_at` passes.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, OrgScoped, created_at, intpk, person_fk, updated_at
from core.models import Organisation

STATUSES = ("draft", "scheduled", "published", "expired")


class NewsPost(Base, OrgScoped):
    """A news post of an organisation; `body_html` is stored sanitised (see `plugins.news.sanitize`)."""

    __tablename__ = "news_post"
    __table_args__ = (
        sa.Index("ix_news_post_org_publish", "org_id", "publish_at"),
        sa.CheckConstraint("expires_at IS NULL OR publish_at IS NULL OR expires_at > publish_at",
                           name="expires_after_publish"),
    )

    id: Mapped[intpk]
    title: Mapped[str] = mapped_column(sa.String(200))
    body_html: Mapped[str] = mapped_column(sa.Text, default="")
    image_file: Mapped[Optional[str]] = mapped_column(sa.String(100))
    image_content_type: Mapped[Optional[str]] = mapped_column(sa.String(40))
    publish_at: Mapped[Optional[dt.datetime]] = mapped_column(index=True)
    expires_at: Mapped[Optional[dt.datetime]]
    # Send a push notification to the audience when the post is published.
    push: Mapped[bool] = mapped_column(default=False)
    pushed_at: Mapped[Optional[dt.datetime]]
    # Show once as a pop-up (admin dashboard and member app) to everyone in the audience.
    popup: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"),
                                                         index=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]

    organisation: Mapped[Organisation] = relationship()
    audience: Mapped[list["NewsAudience"]] = relationship(back_populates="post", cascade="all, delete-orphan",
                                                          order_by="NewsAudience.org_id")

    def status_at(self, now: dt.datetime) -> str:
        if self.publish_at is None:
            return "draft"
        if self.publish_at > now:
            return "scheduled"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "published"


class NewsAudience(Base):
    """One organisation a post is for; with `include_descendants` also everything below it."""

    __tablename__ = "news_audience"
    __table_args__ = (sa.UniqueConstraint("post_id", "org_id"),)

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("news_post.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    include_descendants: Mapped[bool] = mapped_column(default=True)

    post: Mapped[NewsPost] = relationship(back_populates="audience")
    organisation: Mapped[Organisation] = relationship()


class NewsRead(Base):
    """A person read a post (once per person: read counts are distinct readers)."""

    __tablename__ = "news_read"
    __table_args__ = (sa.UniqueConstraint("post_id", "person_id"),)

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("news_post.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[person_fk]
    read_at: Mapped[created_at]


class NewsPopupSeen(Base):
    """A person (through the app or their admin login) has seen a post's pop-up: it is not shown again."""

    __tablename__ = "news_popup_seen"
    __table_args__ = (sa.UniqueConstraint("post_id", "person_id"),)

    id: Mapped[intpk]
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("news_post.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[person_fk]
    seen_at: Mapped[created_at]
