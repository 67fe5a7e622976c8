"""Tables of the notification service: the inbox, deliveries per channel and device, preferences,
the browsers' push subscriptions and the server's VAPID key pair (core tables, unprefixed)."""
from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, created_at, intpk, person_fk, updated_at


class PushSubscription(Base):
    """A browser's Web Push subscription (one per device and browser), owned by the person logged in there.

    The endpoint is unique: when another member logs in on the same device, the subscription moves to them."""

    __tablename__ = "push_subscription"

    id: Mapped[intpk]
    person_id: Mapped[person_fk]
    endpoint: Mapped[str] = mapped_column(sa.String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(sa.String(120))
    # Named "secret" so the audit log never copies it.
    auth_secret: Mapped[str] = mapped_column(sa.String(60))
    user_agent: Mapped[Optional[str]] = mapped_column(sa.String(255))
    created_at: Mapped[created_at]
    last_success_at: Mapped[Optional[dt.datetime]]
    failures: Mapped[int] = mapped_column(default=0)

    def info(self) -> dict:
        """The subscription as the browser gave it (what pywebpush wants)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth_secret}}


class Notification(Base):
    """One notification for one person: the in-app inbox entry that push and e-mail deliveries point at.

    `key` is the idempotency key of the `notify()` call: one row per person and key, however often it runs."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.UniqueConstraint("person_id", "key"),
        sa.Index("ix_notification_person_created", "person_id", "created_at"),
    )

    id: Mapped[intpk]
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("person.id", ondelete="CASCADE"))
    org_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("organisation.id", ondelete="SET NULL"), index=True)
    type_key: Mapped[str] = mapped_column(sa.String(100))
    key: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    url: Mapped[Optional[str]] = mapped_column(sa.String(500))
    created_at: Mapped[created_at]
    read_at: Mapped[Optional[dt.datetime]]


class NotificationDelivery(Base):
    """One notification sent on one channel to one target: `push:<subscription id>` or `email`.

    Unique per notification and target, so a retried job never sends to the same device twice."""

    __tablename__ = "notification_delivery"
    __table_args__ = (sa.UniqueConstraint("notification_id", "target"),)

    STATUSES = ("pending", "sent", "failed", "gone")

    id: Mapped[intpk]
    notification_id: Mapped[int] = mapped_column(sa.ForeignKey("notification.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(10))  # push, email
    target: Mapped[str] = mapped_column(sa.String(40))
    subscription_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("push_subscription.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[Optional[str]] = mapped_column(sa.String(255))
    sent_at: Mapped[Optional[dt.datetime]]

    notification: Mapped[Notification] = relationship()


class NotificationPreference(Base):
    """A person's choice of channels for one notification type (the inbox always keeps a copy)."""

    __tablename__ = "notification_preference"
    __table_args__ = (sa.UniqueConstraint("person_id", "type_key"),)

    id: Mapped[intpk]
    person_id: Mapped[person_fk]
    type_key: Mapped[str] = mapped_column(sa.String(100))
    push: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[updated_at]


class VapidKey(Base):
    """The server's VAPID key pair, created once on first use and never regenerated (a new key would orphan
    every browser subscription). One row, id 1; kept in the database so every web node and worker shares it."""

    __tablename__ = "push_vapid_key"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    private_key: Mapped[str] = mapped_column(sa.Text)  # PEM (PKCS8)
    public_key: Mapped[str] = mapped_column(sa.String(120))  # uncompressed point, base64url, what browsers take
    created_at: Mapped[created_at]
