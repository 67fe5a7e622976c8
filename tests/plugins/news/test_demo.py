"""Demo news: the demo member finds their club's posts in the member app; loading twice adds nothing."""
from __future__ import annotations

import sqlalchemy as sa

from core.db import db
from core.demo import load_demo_data
from plugins.news.models import NewsPost


def test_demo_member_reads_club_news_in_the_app(ctx):
    load_demo_data(people=120)
    posts = db.session.scalar(sa.select(sa.func.count()).select_from(NewsPost))
    assert posts > 0
    client = ctx.test_client()
    token = client.post("/api/v1/auth/token", json={"email": "lid@demo.federa.be", "password": "demo"}).json
    feed = client.get("/api/v1/me/feed", headers={"Authorization": f"Bearer {token['access_token']}"}).json
    titles = [item["title"] for item in feed["items"] if item["kind"] == "news"]
    assert "Welkom in de nieuwe ledenapp" in titles
    load_demo_data(people=120)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NewsPost)) == posts
