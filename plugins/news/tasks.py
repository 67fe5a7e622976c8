"""Background jobs of the news module.

`news.push_due` runs every minute: scheduled posts whose time came (and posts whose push could not be
handed over earlier) get their notification. Idempotent: `pushed_at` is set in the same transaction,
and core's `notify` ignores a second call with the same idempotency key.
"""
from __future__ import annotations

from core.gates import is_enabled
from core.jobs import JobSpec
from plugins.news import services


def push_due_job(ctx):
    """Send the notifications of published posts that asked for one and have not had it."""
    sent = skipped = 0
    for post in services.due_pushes(ctx.session):
        if not is_enabled(post.organisation, "news"):
            skipped += 1  # module off for the publisher: its posts are not shown, so not announced either
            continue
        if services.push_if_due(ctx.session, post):
            sent += 1
        ctx.session.commit()
    return {"pushed": sent, "module_off": skipped}


JOBS = [JobSpec("news.push_due", push_due_job, max_retries=2, periodic_seconds=60)]
