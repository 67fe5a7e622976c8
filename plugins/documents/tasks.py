"""Background jobs of the documents module. Generating a batch is idempotent: documents are unique per
(batch, person) and committed per chunk, the notification is sent once per batch."""
from __future__ import annotations

from core.jobs import JobFailed, JobSpec
from core.services import DomainError
from plugins.documents import services
from plugins.documents.models import DocumentBatch


def generate_batch_job(ctx, batch_id: int):
    """One PDF per selected member, stored, then everyone notified; progress per chunk."""
    batch = ctx.session.get(DocumentBatch, batch_id)
    if batch is None:
        raise JobFailed("the batch no longer exists")
    try:
        return services.generate_batch(ctx.session, batch, progress=lambda done, total: ctx.progress(done, total))
    except DomainError as exc:
        raise JobFailed(exc.message) from None


JOBS = [JobSpec("documents.generate_batch", generate_batch_job, max_retries=3)]
