"""Fixtures of the news tests: a federation with a region and two clubs, another federation, news
switched on everywhere, admins at each level and a member of the first club with an app login."""
from __future__ import annotations

import datetime as dt
import io
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from PIL import Image

from core.db import db, utcnow
from core.models import ModuleOverride
from plugins.news.models import NewsAudience, NewsPopupSeen, NewsPost, NewsRead

NOW = utcnow


def switch(org, on: bool, plugin: str = "news") -> None:
    row = db.session.execute(sa.select(ModuleOverride).where(ModuleOverride.org_id == org.id,
                                                             ModuleOverride.plugin == plugin),
                             execution_options={"federa_unscoped": True}).scalar_one_or_none()
    if row is None:
        db.session.add(ModuleOverride(org_id=org.id, plugin=plugin, enabled=on))
    else:
        row.enabled = on
    db.session.commit()


@pytest.fixture
def world(make) -> SimpleNamespace:
    w = SimpleNamespace()
    w.fed = make.federation("Sportfederatie")
    w.region = make.region(w.fed, "Regio Oost")
    w.club_a = make.club(w.region, "SK Gent")
    w.club_b = make.club(w.region, "SK Brugge")
    w.other_fed = make.federation("Andere federatie")
    w.other_club = make.club(w.other_fed, "Club Elders")
    for org in (w.fed, w.region, w.club_a, w.club_b, w.other_fed, w.other_club):
        switch(org, True)
    w.sec_user = make.user("sec@example.org", role="federation_secretariat", org=w.fed)
    w.admin_a_user = make.user("admin-a@example.org", role="club_admin", org=w.club_a)
    w.admin_b_user = make.user("admin-b@example.org", role="club_admin", org=w.club_b)
    w.other_user = make.user("other@example.org", role="club_admin", org=w.other_club)
    w.member_user = make.user("lid-a@example.org", role="member", org=w.club_a)  # linked to club A
    w.member_b_user = make.user("lid-b@example.org", role="member", org=w.club_b)
    w.sec = make.headers(w.sec_user)
    w.admin_a = make.headers(w.admin_a_user)
    w.admin_b = make.headers(w.admin_b_user)
    w.other = make.headers(w.other_user)
    w.member = make.headers(w.member_user)
    w.member_b = make.headers(w.member_b_user)
    return w


def create(client, org, headers, **fields):
    """Create a post through the API (published now unless told otherwise); returns its JSON."""
    body = {"title": "Nieuws", "body_html": "<p>Hallo</p>", "publish_at": (utcnow() - dt.timedelta(minutes=1)).isoformat()}
    body.update(fields)
    r = client.post(f"/api/v1/orgs/{org.id}/news/posts", json=body, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def counts() -> dict:
    return {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (NewsPost, NewsAudience, NewsRead, NewsPopupSeen)}


def png_bytes(size=(4, 3)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def same_picture(data: bytes, expected: bytes) -> bool:
    """Stored images are re-encoded (without metadata): compare what they show."""
    with Image.open(io.BytesIO(data)) as got, Image.open(io.BytesIO(expected)) as want:
        return got.format == want.format and got.size == want.size and got.convert("RGB").tobytes() == \
            want.convert("RGB").tobytes()
