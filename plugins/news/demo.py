"""Demo news: two published posts in every demo club that has the news module (one also a pop-up). Idempotent."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Organisation
from core.modules import compute_enabled
from plugins.news.models import NewsAudience, NewsPost

POSTS = [  # title, body, days ago, pop-up
    ("Welkom in de nieuwe ledenapp", "<p>Vanaf nu vind je hier het nieuws van je club, je documenten en je "
     "facturen. Zet meldingen aan in <strong>Instellingen</strong> om niets te missen.</p>", 2, True),
    ("Clubfeest op zaterdag", "<p>Iedereen welkom vanaf 18 uur in de kantine. Breng gerust familie en "
     "vrienden mee!</p><ul><li>Barbecue</li><li>Muziek</li></ul>", 1, False),
]


def load(session: Session, federation: Organisation, registry) -> str | None:
    clubs = session.execute(sa.select(Organisation).where(
        Organisation.path.startswith(federation.path), Organisation.kind == "club")).scalars().all()
    created = 0
    now = utcnow()
    for club in clubs:
        if "news" not in compute_enabled(session, registry, club):
            continue
        have = set(session.execute(sa.select(NewsPost.title).where(NewsPost.org_id == club.id)).scalars())
        for title, body, days_ago, popup in POSTS:
            if title in have:
                continue
            post = NewsPost(org_id=club.id, title=title, body_html=body, popup=popup, push=False,
                            publish_at=now - dt.timedelta(days=days_ago))
            post.audience = [NewsAudience(org_id=club.id, include_descendants=True)]
            session.add(post)
            created += 1
    session.flush()
    return f"{created} news posts" if created else None
