"""Tables of the documents module: templates, batches and the generated documents.

A template belongs to the organisation that made it (a federation's templates can be used by its clubs).
A batch is one "generate for this selection" request; a document is one PDF for one person, unique per
(batch, person) so a retried batch never makes a second document or a second notification.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, OrgScoped, created_at, intpk, person_fk, str100, updated_at


class DocumentTemplate(Base, OrgScoped):
    """HTML/CSS for one document kind, in one language."""

    __tablename__ = "documents_template"
    __table_args__ = (sa.UniqueConstraint("org_id", "kind", "name"),)

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str100]
    language: Mapped[str] = mapped_column(sa.String(2), default="nl")
    html: Mapped[str] = mapped_column(sa.Text)
    css: Mapped[str] = mapped_column(sa.Text, default="")
    logo_file: Mapped[Optional[str]] = mapped_column(sa.String(255))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class DocumentBatch(Base, OrgScoped):
    """One bulk generation: the selection, the job that runs it and what came out."""

    __tablename__ = "documents_batch"

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(sa.String(40))
    template_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("documents_template.id", ondelete="SET NULL"))
    job_id: Mapped[Optional[str]] = mapped_column(sa.String(36), index=True)
    person_ids: Mapped[list] = mapped_column(default=list)
    # Kind-specific input: season, amount paid and payment date, letter subject...
    options: Mapped[dict] = mapped_column(default=dict)
    # [{"person_id", "name", "missing": [...]}] for members the kind could not make a document for.
    skipped: Mapped[list] = mapped_column(default=list)
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[created_at]
    updated_at: Mapped[updated_at]


class Document(Base, OrgScoped):
    """One generated PDF for one person."""

    __tablename__ = "documents_document"
    __table_args__ = (sa.UniqueConstraint("batch_id", "person_id"),)

    id: Mapped[intpk]
    batch_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("documents_batch.id", ondelete="CASCADE"),
                                                    index=True)
    person_id: Mapped[person_fk]
    kind: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(200))
    file_key: Mapped[Optional[str]] = mapped_column(sa.String(255))
    size: Mapped[int] = mapped_column(default=0)
    notified_at: Mapped[Optional[dt.datetime]]
    opened_at: Mapped[Optional[dt.datetime]]
    created_at: Mapped[created_at]
