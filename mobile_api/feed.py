"""What plugins show in the member app, through the organisation-scoped `mobile_feed` hook.

A plugin returns `FeedItem`s (or dicts with the same keys) from `mobile_feed(org, person, since)`.
The member app asks every organisation the member is linked to *and their ancestors* (club, region,
federation), each through the hook gate, so a module that is off for an organisation adds nothing
there. Return only the items that belong to `org` itself: its ancestors are asked separately.

`kind` says where an item appears: "news", "event" and "message" in the feed; "document" in the
documents list, "invoice" in the invoices list, "membership" in the memberships list (documents and
invoices also appear in the feed when `in_feed` is true, memberships never do). Text is plain;
`body_html` is rich text and is cleaned with an allow-list before it leaves the server.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import scoped_to
from core.gates import call_org_hook, flatten
from core.models import Organisation, Person, PersonOrganisation
from mobile_api.sanitize import clean_html, plain_text, safe_link

KINDS = ("news", "event", "message", "document", "invoice", "membership")
NEVER_IN_FEED = ("membership",)


@dataclass(frozen=True)
class FeedItem:
    title: str
    kind: str = "news"
    id: str | None = None  # unique within the plugin and kind; items are de-duplicated on it
    plugin: str = ""
    summary: str = ""
    body_html: str = ""
    url: str | None = None  # a page of the app ("/app/#/...") or an https page
    image_url: str | None = None
    published_at: dt.datetime | None = None
    # documents and invoices
    download_url: str | None = None  # an API URL the app fetches with the member's token
    content_type: str | None = None
    payment_url: str | None = None
    amount: Decimal | None = None
    currency: str = "EUR"
    status: str | None = None
    due_on: dt.date | None = None
    in_feed: bool = True
    # set by the collector
    org_id: int | None = None
    org_name: str | None = None


_FIELDS = {f.name for f in fields(FeedItem)}


def _utc(value):
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, str):
        try:
            return _utc(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    return value


def normalise(item, org: Organisation) -> FeedItem | None:
    """A safe FeedItem from what a plugin returned (None for something unusable)."""
    if isinstance(item, FeedItem):
        data = asdict(item)
    elif isinstance(item, dict):
        data = {k: v for k, v in item.items() if k in _FIELDS}
    else:
        return None
    title = plain_text(data.get("title"), 200)
    kind = data.get("kind") or "news"
    if not title or kind not in KINDS:
        return None
    data.update(
        title=title, kind=kind, summary=plain_text(data.get("summary"), 1000),
        body_html=clean_html(data.get("body_html")), url=safe_link(data.get("url")),
        image_url=safe_link(data.get("image_url")), download_url=safe_link(data.get("download_url")),
        payment_url=safe_link(data.get("payment_url"), allow_relative=False),
        published_at=_utc(data.get("published_at")), org_id=org.id, org_name=org.short_name or org.name,
        id=None if data.get("id") is None else str(data["id"]),
    )
    if kind in NEVER_IN_FEED:
        data["in_feed"] = False
    return FeedItem(**data)


def member_organisations(session: Session, person: Person) -> list[Organisation]:
    """The organisations the person is linked to and all their ancestors, top-down."""
    paths = session.execute(
        sa.select(Organisation.path).join(PersonOrganisation, PersonOrganisation.org_id == Organisation.id)
        .where(PersonOrganisation.person_id == person.id), execution_options={"federa_unscoped": True}
    ).scalars().all()
    ids = {int(part) for path in paths for part in path.strip("/").split("/") if part}
    if not ids:
        return []
    return list(session.execute(sa.select(Organisation).where(Organisation.id.in_(ids))
                                .order_by(Organisation.depth, Organisation.name)).scalars())


def linked_organisations(session: Session, person: Person) -> list[tuple[Organisation, str]]:
    """(organisation, relation) for every direct link of the person."""
    return list(session.execute(
        sa.select(Organisation, PersonOrganisation.relation)
        .join(PersonOrganisation, PersonOrganisation.org_id == Organisation.id)
        .where(PersonOrganisation.person_id == person.id).order_by(Organisation.depth, Organisation.name),
        execution_options={"federa_unscoped": True}).all())


def collect(session: Session, person: Person, since: dt.datetime | None = None,
            kinds: tuple[str, ...] | None = None, feed: bool = False) -> list[FeedItem]:
    """Items from every enabled module of every organisation of the member, newest first."""
    seen: set[tuple] = set()
    items: list[FeedItem] = []
    for org in member_organisations(session, person):
        with scoped_to(session, org):
            returned = flatten(call_org_hook("mobile_feed", org, person=person, since=since))
        for raw in returned:
            item = normalise(raw, org)
            if item is None or (kinds and item.kind not in kinds) or (feed and not item.in_feed):
                continue
            if since is not None and item.published_at is not None and item.published_at <= since:
                continue
            key = (item.plugin, item.kind, item.id) if item.id is not None else (org.id, item.kind, item.title,
                                                                                    item.published_at)
            if key in seen:
                continue
            seen.add(key)
            items.append(item)
    oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    items.sort(key=lambda i: i.published_at or oldest, reverse=True)
    return items
