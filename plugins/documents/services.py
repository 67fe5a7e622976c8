"""Domain logic of the documents module: templates, PDF rendering, batches, verification, GDPR.

Templates are sandboxed Jinja (HTML + CSS) checked on save against the variables their kind offers.
PDFs are laid out with WeasyPrint once per chunk of members and split per member
(`Document.copy(pages)`), so a batch never holds more than one chunk in memory.
"""
from __future__ import annotations

import base64
import datetime as dt
import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext
from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Organisation, Person, PersonOrganisation
from core.services import DomainError, NotFound
from core.services.organisations import subtree_ids
from plugins.documents.kinds import DocumentKind, check_options, get_kind, read_card_token
from plugins.documents.models import Document, DocumentBatch, DocumentTemplate

UNSCOPED = {"federa_unscoped": True}
LANGUAGES = ("nl", "fr", "en")
MAX_HTML = 100_000
MAX_CSS = 50_000
CHUNK = 50
MAX_SELECTION = 20_000
STORAGE_AREA = "documents"
NOTIFICATION_TYPE = "documents.document_ready"

_env = SandboxedEnvironment(autoescape=True)


class Forbidden(DomainError):
    status = 403


class TooLarge(DomainError):
    status = 413


# --- templates ------------------------------------------------------------------------------------------

def check_template(kind: DocumentKind, html: str, css: str = "") -> None:
    """Refuse a template that does not parse (with its line) or uses a variable its kind does not offer."""
    if not isinstance(html, str) or not html.strip():
        raise DomainError("this field is required", field="html")
    if len(html) > MAX_HTML:
        raise DomainError(f"at most {MAX_HTML} characters", field="html")
    if not isinstance(css, str) or len(css) > MAX_CSS:
        raise DomainError(f"at most {MAX_CSS} characters", field="css")
    if "{{" in css or "{%" in css:
        raise DomainError("the stylesheet cannot use template variables", field="css")
    try:
        tree = _env.parse(html)
    except TemplateSyntaxError as exc:
        raise DomainError(f"syntax error on line {exc.lineno}: {exc.message}", field="html", line=exc.lineno) from None
    unknown = sorted(meta.find_undeclared_variables(tree) - set(kind.variables))
    if unknown:
        line = min((n.lineno for n in tree.find_all(nodes.Name) if n.name in unknown), default=None)
        raise DomainError(f"unknown variable {', '.join(unknown)} on line {line}", field="html", line=line,
                          unknown=unknown, allowed=sorted(kind.variables))
    try:
        render_body(html, kind.sample())
    except Exception as exc:  # the sandbox refuses unsafe access; bad filters fail here too
        raise DomainError(f"the template fails with the sample member: {exc}", field="html") from None


def _clean_template(data: Mapping, current: DocumentTemplate | None) -> dict:
    values = {}
    kind_key = data.get("kind", current.kind if current else None)
    kind = get_kind(kind_key or "")
    values["kind"] = kind.key
    name = str(data.get("name", current.name if current else "") or "").strip()
    if not name or len(name) > 100:
        raise DomainError("1 to 100 characters", field="name")
    values["name"] = name
    language = data.get("language", current.language if current else "nl")
    if language not in LANGUAGES:
        raise DomainError(f"one of {', '.join(LANGUAGES)}", field="language")
    values["language"] = language
    values["html"] = data.get("html", current.html if current else None)
    values["css"] = data.get("css", current.css if current else "") or ""
    check_template(kind, values["html"], values["css"])
    return values


def _check_name(session: Session, org: Organisation, kind: str, name: str, exclude: int | None) -> None:
    stmt = sa.select(DocumentTemplate.id).where(DocumentTemplate.org_id == org.id, DocumentTemplate.kind == kind,
                                                DocumentTemplate.name == name)
    if exclude:
        stmt = stmt.where(DocumentTemplate.id != exclude)
    if session.execute(stmt, execution_options=UNSCOPED).first():
        from core.services import Conflict

        raise Conflict("a template of this kind with this name exists", field="name")


def create_template(session: Session, org: Organisation, data: Mapping) -> DocumentTemplate:
    values = _clean_template(data, None)
    _check_name(session, org, values["kind"], values["name"], None)
    template = DocumentTemplate(org_id=org.id, **values)
    session.add(template)
    session.flush()
    return template


def update_template(session: Session, org: Organisation, template: DocumentTemplate, data: Mapping) -> None:
    if template.org_id != org.id:
        raise Forbidden("this template belongs to another organisation", field="id")
    if "kind" in data and data["kind"] != template.kind:
        raise DomainError("the kind of a template cannot change", field="kind")
    values = _clean_template(data, template)
    _check_name(session, org, values["kind"], values["name"], template.id)
    for key, value in values.items():
        setattr(template, key, value)
    session.flush()


def templates_for(session: Session, org: Organisation, kind: str | None = None) -> list[DocumentTemplate]:
    """Templates `org` may use: its own and its ancestors' (nearest first)."""
    stmt = sa.select(DocumentTemplate).where(DocumentTemplate.org_id.in_(org.ancestor_ids))
    if kind:
        stmt = stmt.where(DocumentTemplate.kind == kind)
    rows = list(session.execute(stmt, execution_options=UNSCOPED).scalars())
    depth = {oid: i for i, oid in enumerate(org.ancestor_ids)}
    return sorted(rows, key=lambda t: (-depth[t.org_id], t.kind, t.name))


def get_template(session: Session, org: Organisation, template_id, field_name: str = "template_id"
                 ) -> DocumentTemplate:
    try:
        template = session.execute(sa.select(DocumentTemplate).where(DocumentTemplate.id == int(template_id)),
                                   execution_options=UNSCOPED).scalar_one_or_none()
    except (TypeError, ValueError):
        template = None
    if template is None or template.org_id not in org.ancestor_ids:
        raise NotFound("template not found", field=field_name)
    return template


def delete_template(session: Session, org: Organisation, template: DocumentTemplate) -> None:
    if template.org_id != org.id:
        raise Forbidden("this template belongs to another organisation", field="id")
    from core.files import storage

    key = template.logo_file
    session.delete(template)
    session.flush()
    if key:
        storage().delete(key)


def set_logo(session: Session, org: Organisation, template: DocumentTemplate, data: bytes) -> None:
    """Store a checked image as the template's logo (the old one goes)."""
    from core.files import ImageError, check_image, storage

    if template.org_id != org.id:
        raise Forbidden("this template belongs to another organisation", field="id")
    try:
        _, extension = check_image(data)
    except ImageError as exc:
        raise (TooLarge if exc.too_large else DomainError)(str(exc), field="logo") from None
    old = template.logo_file
    template.logo_file = storage().save(STORAGE_AREA, data, extension)
    session.flush()
    if old:
        storage().delete(old)


@dataclass(frozen=True)
class ResolvedTemplate:
    id: int | None
    name: str
    language: str
    html: str
    css: str
    logo_file: str | None = None


def default_template(kind: DocumentKind, language: str = "nl") -> ResolvedTemplate:
    language = language if language in LANGUAGES else "nl"
    return ResolvedTemplate(None, f"Default ({language})", language, kind.default_html(language), kind.default_css)


def resolve_template(session: Session, org: Organisation, kind: DocumentKind, template_id=None,
                     language: str = "nl") -> ResolvedTemplate:
    """The chosen template (own or an ancestor's), else the nearest one of the kind, else the default."""
    if template_id is not None:
        template = get_template(session, org, template_id)
        if template.kind != kind.key:
            raise DomainError("this template is for another kind of document", field="template_id")
    else:
        found = templates_for(session, org, kind.key)
        same_language = [t for t in found if t.language == language]
        template = (same_language or found or [None])[0]
    if template is None:
        return default_template(kind, language)
    return ResolvedTemplate(template.id, template.name, template.language, template.html, template.css,
                            template.logo_file)


# --- rendering ---------------------------------------------------------------------------------------------

def render_body(html: str, context: dict) -> str:
    return _env.from_string(html).render(**context)


def logo_data_uri(key: str | None) -> str:
    if not key:
        return ""
    from core.files import check_image, storage

    data = storage().read(key)
    if not data:
        return ""
    content_type, _ = check_image(data)
    return f"data:{content_type};base64," + base64.b64encode(data).decode()


def full_html(kind: DocumentKind, template: ResolvedTemplate, bodies: Iterable[tuple[str, str]]) -> str:
    """One HTML document; each body starts on a new page at an anchor named by its key."""
    sections = "".join(f'<section class="federa-doc" id="{key}">{body}</section>' for key, body in bodies)
    style = (kind.page_css + "\n.federa-doc { break-after: page; }\n.federa-doc:last-child { break-after: auto; }\n"
             + template.css).replace("</", "<\\/")  # CSS cannot close the style element
    return (f'<!doctype html><html lang="{template.language}"><head><meta charset="utf-8">'
            f"<style>{style}</style></head>"
            f"<body>{sections}</body></html>")


def _url_fetcher():
    """Templates may only embed data: URLs (logo, photo, QR code): no file or network access."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=("data",))


def layout(html: str):
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=_url_fetcher()).render()


def render_pdf(kind: DocumentKind, template: ResolvedTemplate, context: dict) -> bytes:
    return layout(full_html(kind, template, [("doc-0", render_body(template.html, context))])).write_pdf()


def render_many(kind: DocumentKind, template: ResolvedTemplate, items: list[tuple[int, dict]]
                ) -> Iterator[tuple[int, bytes]]:
    """(key, PDF) per item, laid out in one pass and split on the page where each item's anchor is."""
    if not items:
        return iter(())
    html = full_html(kind, template, [(f"doc-{key}", render_body(template.html, ctx)) for key, ctx in items])
    return iter(split_pdfs(html, [key for key, _ in items]))


def split_pdfs(html: str, keys: list[int]) -> list[tuple[int, bytes]]:
    """Lay out `html` once and write one PDF per key (the pages from its anchor to the next one).

    A plain function of strings, so a worker process can run it (see `generate_batch`)."""
    rendered = layout(html)
    groups: dict[int, list] = {}
    current = None
    for page in rendered.pages:
        starts = [name for name in page.anchors if name.startswith("doc-")]
        if starts:
            current = int(starts[0][4:])
        if current is not None:
            groups.setdefault(current, []).append(page)
    return [(key, rendered.copy(groups[key]).write_pdf()) for key in keys if groups.get(key)]


def render_pool(size: int):
    """Worker processes for laying out PDFs (WeasyPrint is CPU-bound Python: threads would not help).

    "spawn": a fresh interpreter, never a fork of a process holding database connections and threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=size, mp_context=multiprocessing.get_context("spawn"))


# --- batches ----------------------------------------------------------------------------------------------

def people_in(session: Session, org: Organisation, person_ids: list[int]) -> set[int]:
    """Those of `person_ids` linked to `org` or an organisation below it."""
    found: set[int] = set()
    for start in range(0, len(person_ids), 1000):
        part = person_ids[start:start + 1000]
        found.update(session.execute(
            sa.select(PersonOrganisation.person_id).where(PersonOrganisation.person_id.in_(part),
                                                          PersonOrganisation.org_id.in_(subtree_ids(org))),
            execution_options=UNSCOPED).scalars())
    return found


def _selection(session: Session, org: Organisation, person_ids, filters) -> list[int]:
    if (person_ids is None) == (filters is None):
        raise DomainError("give either person_ids or filter", field="person_ids")
    if person_ids is not None:
        try:
            ids = list(dict.fromkeys(int(p) for p in person_ids))
        except (TypeError, ValueError):
            raise DomainError("a list of person ids", field="person_ids") from None
        if not ids:
            raise DomainError("select at least one person", field="person_ids")
        if len(ids) > MAX_SELECTION:
            raise DomainError(f"at most {MAX_SELECTION} people per batch", field="person_ids")
        outside = sorted(set(ids) - people_in(session, org, ids))
        if outside:
            raise DomainError("these people are not members of this organisation", field="person_ids",
                              outside=outside)
        return ids
    from plugins.membership import services as ms

    if not isinstance(filters, Mapping):
        raise DomainError("an object of member-list filters", field="filter")
    try:
        mq = ms.members_query(session, org, {k: str(v) for k, v in filters.items()})
    except DomainError as exc:
        raise DomainError(exc.message, field="filter", errors={f"filter.{exc.field or 'filter'}": exc.message}
                          ) from None
    ids = list(dict.fromkeys(session.execute(sa.select(mq.query.subquery().c.person_id)).scalars()))
    if not ids:
        raise DomainError("the filter selects nobody", field="filter")
    if len(ids) > MAX_SELECTION:
        raise DomainError(f"at most {MAX_SELECTION} people per batch", field="filter")
    return ids


def create_batch(session: Session, org: Organisation, data: Mapping, user_id: int | None = None):
    """Check the request, store the batch and queue its job (sent when the caller commits)."""
    from core.jobs import enqueue

    kind = get_kind(data.get("kind") or "")
    options = check_options(kind, dict(data.get("options") or {}))
    template_id = data.get("template_id")
    if template_id is not None:
        resolve_template(session, org, kind, template_id)
    ids = _selection(session, org, data.get("person_ids"), data.get("filter"))
    if kind.key in ("sport_certificate", "member_card") and options.get("season_id") is not None:
        from plugins.membership import services as ms

        try:
            ms.get_season(session, org, options["season_id"])
        except DomainError:
            raise NotFound("season not found", field="options.season_id") from None
    batch = DocumentBatch(org_id=org.id, kind=kind.key, template_id=template_id, person_ids=ids, options=options,
                          skipped=[], created_by_id=user_id)
    session.add(batch)
    session.flush()
    job = enqueue(session, "documents.generate_batch", org_id=org.id, title=gettext("Documents: %(kind)s", kind=kind.label)[:255],
                  idempotency_key=f"documents-batch:{batch.id}", created_by_id=user_id, batch_id=batch.id)
    batch.job_id = job.id
    session.flush()
    return batch, job


def get_batch(session: Session, org: Organisation, batch_id: int) -> DocumentBatch:
    batch = session.execute(sa.select(DocumentBatch).where(DocumentBatch.id == batch_id,
                                                           DocumentBatch.org_id.in_(subtree_ids(org))),
                            execution_options=UNSCOPED).scalar_one_or_none()
    if batch is None:
        raise NotFound("batch not found")
    return batch


def batch_counts(session: Session, batch: DocumentBatch) -> dict:
    D = Document
    generated, delivered, opened = session.execute(
        sa.select(sa.func.count(D.id), sa.func.count(D.notified_at), sa.func.count(D.opened_at))
        .where(D.batch_id == batch.id), execution_options=UNSCOPED).one()
    return {"selected": len(batch.person_ids), "generated": generated, "delivered": delivered, "opened": opened,
            "skipped_count": len(batch.skipped or [])}


def generate_batch(session: Session, batch: DocumentBatch, progress=None, processes: int | None = None) -> dict:
    """Make the missing documents of a batch, then notify their people once. Safe to run again.

    Members are taken in chunks: contexts are built here (database), each chunk is laid out once and
    split per member (in `processes` worker processes for large batches), and every finished chunk is
    stored and committed before the next, so at most a few chunks of PDFs are ever in memory and a
    retry continues where the last attempt stopped (documents are unique per batch and person)."""
    from collections import deque

    from flask import current_app

    from core.files import storage

    org = session.get(Organisation, batch.org_id)
    kind = get_kind(batch.kind)
    options = batch.options or {}
    template = resolve_template(session, org, kind, batch.template_id)
    cache: dict = {"logo": logo_data_uri(template.logo_file)}
    done = set(session.execute(sa.select(Document.person_id).where(Document.batch_id == batch.id),
                               execution_options=UNSCOPED).scalars())
    todo = [pid for pid in batch.person_ids if pid not in done]
    total = len(batch.person_ids)
    if processes is None:
        config = current_app.config
        processes = int(config.get("DOCUMENTS_RENDER_PROCESSES") or min(2, os.cpu_count() or 1))
        if len(todo) < int(config.get("DOCUMENTS_PARALLEL_FROM", 300)):
            processes = 1
    skipped: list[dict] = []
    state = {"count": len(done)}
    store = storage()

    def prepare(part: list[int]):
        people = {p.id: p for p in session.execute(sa.select(Person).where(Person.id.in_(part))).scalars()}
        items = []
        for pid in part:
            person = people.get(pid)
            if person is None:
                skipped.append({"person_id": pid, "name": "", "missing": ["person"]})
                continue
            context = kind.build(session, org, person, options, cache)
            missing = kind.missing(context)
            if missing:
                skipped.append({"person_id": pid, "name": person.full_name, "missing": missing})
            else:
                items.append((pid, context))
        titles, bodies = {}, []
        for pid, ctx in items:
            try:
                bodies.append((f"doc-{pid}", render_body(template.html, ctx)))
            except Exception as exc:  # one member's data must not stop the batch
                skipped.append({"person_id": pid, "name": people[pid].full_name,
                                "missing": [f"template error: {exc}"[:200]]})
                continue
            with force_locale(template.language):  # titles are in the language of the document
                titles[pid] = str(kind.title(ctx))[:200]
        return titles, full_html(kind, template, bodies)

    def finish(titles: dict, pdfs: list[tuple[int, bytes]]):
        keys = []
        try:
            for pid, pdf in pdfs:
                keys.append(store.save(STORAGE_AREA, pdf, "pdf"))
                session.add(Document(org_id=org.id, batch_id=batch.id, person_id=pid, kind=kind.key,
                                     title=titles[pid], file_key=keys[-1], size=len(pdf)))
            batch.skipped = list(skipped)
            if progress:
                progress(min(state["count"] + len(pdfs) + len(skipped), total), total)  # commits
            else:
                session.flush()
        except BaseException:
            for key in keys:  # no file without its row (a concurrent run of the same batch, a lost database)
                store.delete(key)
            raise
        state["count"] += len(pdfs)

    chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
    if processes > 1 and chunks:
        pending: deque = deque()
        with render_pool(processes) as pool:
            for part in chunks:
                titles, html = prepare(part)
                pending.append((titles, pool.submit(split_pdfs, html, list(titles)) if titles else None))
                while len(pending) > 2 * processes:  # bounded: memory stays flat
                    titles_done, future = pending.popleft()
                    finish(titles_done, future.result() if future else [])
            while pending:
                titles_done, future = pending.popleft()
                finish(titles_done, future.result() if future else [])
    else:
        for part in chunks:
            titles, html = prepare(part)
            finish(titles, split_pdfs(html, list(titles)) if titles else [])
    batch.skipped = skipped
    notified = notify_batch(session, batch, org, kind)
    return {"generated": state["count"], "skipped": len(skipped), "notified": notified}


def notify_batch(session: Session, batch: DocumentBatch, org: Organisation, kind: DocumentKind) -> int:
    """One notification (inbox, push, e-mail) to everyone with a new document; never twice for a batch."""
    from core.notifications import notify

    pending = list(session.execute(sa.select(Document).where(Document.batch_id == batch.id,
                                                             Document.notified_at.is_(None)),
                                   execution_options=UNSCOPED).scalars())
    if not pending:
        return 0
    notify(session, [d.person_id for d in pending], NOTIFICATION_TYPE, f"New document: {kind.label}",
           f"{org.name} sent you a document. Open it in the app.", url="/app/#/documents", org_id=org.id,
           idempotency_key=f"documents-batch:{batch.id}",
           created_by_id=batch.created_by_id)
    now = utcnow()
    for document in pending:
        document.notified_at = now
    session.flush()
    return len(pending)


# --- documents --------------------------------------------------------------------------------------------

def documents_of(session: Session, org: Organisation, person_id: int, own_only: bool = False) -> list[Document]:
    stmt = sa.select(Document).where(Document.person_id == person_id)
    stmt = stmt.where(Document.org_id == org.id) if own_only else stmt.where(Document.org_id.in_(subtree_ids(org)))
    return list(session.execute(stmt.order_by(Document.created_at.desc(), Document.id.desc()),
                                execution_options=UNSCOPED).scalars())


def get_document(session: Session, org: Organisation, document_id: int) -> Document:
    document = session.execute(sa.select(Document).where(Document.id == document_id,
                                                         Document.org_id.in_(subtree_ids(org))),
                               execution_options=UNSCOPED).scalar_one_or_none()
    if document is None:
        raise NotFound("document not found")
    return document


def member_document(session: Session, person_id: int, document_id: int) -> Document:
    """The member's own document (anyone else's is NotFound), marked opened the first time."""
    from core.gates import is_enabled

    document = session.execute(sa.select(Document).where(Document.id == document_id),
                               execution_options=UNSCOPED).scalar_one_or_none()
    if document is None or document.person_id != person_id:
        raise NotFound("document not found")
    org = session.get(Organisation, document.org_id)
    if org is None or not is_enabled(org, "documents"):
        raise NotFound("document not found")
    if document.opened_at is None:
        document.opened_at = utcnow()
        session.flush()
    return document


def read_file(document: Document) -> bytes:
    from core.files import storage

    data = storage().read(document.file_key) if document.file_key else None
    if data is None:
        raise NotFound("the file of this document is missing")
    return data


# --- verification -------------------------------------------------------------------------------------------

def verify(session: Session, token: str, today: dt.date | None = None) -> dict:
    """What the public verification page shows: status "valid", "expired" or "invalid", name, club, season."""
    from plugins.membership.models import Membership, Season

    today = today or dt.date.today()
    data = read_card_token(token)
    if data is None:
        return {"status": "invalid"}
    person = session.get(Person, data["p"])
    club = session.get(Organisation, data["o"])
    season = session.execute(sa.select(Season).where(Season.id == data["s"]),
                             execution_options=UNSCOPED).scalar_one_or_none()
    if person is None or club is None or season is None:
        return {"status": "invalid"}
    membership = session.execute(
        sa.select(Membership).where(Membership.person_id == person.id, Membership.org_id == club.id,
                                    Membership.status != "pending", Membership.starts_on <= season.ends_on,
                                    sa.or_(Membership.ends_on.is_(None), Membership.ends_on >= season.starts_on))
        .order_by(Membership.starts_on.desc()), execution_options=UNSCOPED).scalars().first()
    result = {"name": person.full_name, "club": club.name, "season": season.name, "valid_until": season.ends_on}
    if membership is None:
        result["status"] = "invalid"
    elif today > season.ends_on or (membership.ends_on is not None and membership.ends_on < today):
        result["status"] = "expired"
    else:
        result["status"] = "valid"
    return result


# --- GDPR ----------------------------------------------------------------------------------------------------

def export_person(session: Session, org: Organisation, person: Person) -> dict:
    return {"documents": [{"id": d.id, "kind": d.kind, "title": d.title, "created_at": d.created_at.isoformat(),
                           "notified_at": d.notified_at.isoformat() if d.notified_at else None,
                           "opened_at": d.opened_at.isoformat() if d.opened_at else None}
                          for d in documents_of(session, org, person.id, own_only=True)]}


def erase_person(session: Session, org: Organisation, person: Person) -> dict:
    """Generated documents are copies of data kept elsewhere: their files and rows go; batches forget the
    person's name in their list of skipped members."""
    from core.files import storage

    documents = documents_of(session, org, person.id, own_only=True)
    for document in documents:
        storage().delete(document.file_key)
        session.delete(document)
    batches = session.execute(sa.select(DocumentBatch).where(DocumentBatch.org_id == org.id),
                              execution_options=UNSCOPED).scalars()
    for batch in batches:
        if any(s.get("person_id") == person.id for s in batch.skipped or []):
            batch.skipped = [s for s in batch.skipped if s.get("person_id") != person.id]
        if person.id in (batch.person_ids or []):
            batch.person_ids = [p for p in batch.person_ids if p != person.id]
    session.flush()
    return {"documents": "deleted", "rows": len(documents)}
