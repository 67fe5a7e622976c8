"""Membership invoice runs: a federation invoices its clubs for their members, a club its members.

`plan` says what a run would invoice now (the preview); `start_run` queues the run as a job;
`execute_run` (the job) creates and issues the invoices in chunks with progress. A membership is
invoiced at most once per issuer and season (`billing_membership_charge` has a unique key on it), so
running again only picks up what is new, e.g. members who joined after the previous run.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

import sqlalchemy as sa
from flask_babel import gettext, ngettext
from sqlalchemy.orm import Session

from core.db import unscoped
from core.models import Organisation, Person
from core.services import Conflict, DomainError, NotFound
from plugins.billing import services
from plugins.billing.models import Invoice, InvoiceLine, InvoiceRun, MembershipCharge
from plugins.membership import services as membership
from plugins.membership.models import Membership, MembershipType, Season

CHUNK = 1000


@dataclass
class PlannedInvoice:
    recipient_person_id: int | None
    recipient_org_id: int | None
    recipient_name: str
    lines: list[dict]
    membership_ids: list[int]
    problem: str | None = None  # why it cannot be issued (shown in the preview, skipped by the run)
    # The recipient as printed on the invoice (copied when issued).
    snapshot: dict = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((services.money(Decimal(l["quantity"]) * Decimal(l["unit_price"])) for l in self.lines),
                   Decimal("0.00"))

    def as_dict(self) -> dict:
        return {"recipient_person_id": self.recipient_person_id, "recipient_org_id": self.recipient_org_id,
                "recipient_name": self.recipient_name, "memberships": len(self.membership_ids),
                "total": str(self.total), "problem": self.problem,
                "lines": [{**l, "quantity": str(l["quantity"]), "unit_price": str(l["unit_price"])}
                          for l in self.lines]}


def _in_season(season: Season):
    M = Membership
    return sa.and_(M.status != "pending", M.starts_on <= season.ends_on,
                   sa.or_(M.ends_on.is_(None), M.ends_on >= season.starts_on))


def _line(description: str, quantity, price: Decimal) -> dict:
    return {"description": description[:500], "quantity": Decimal(quantity), "unit_price": Decimal(price),
            "vat_category": "E", "vat_rate": Decimal("0")}


def _has_address(obj) -> bool:
    return bool(obj.street and obj.postal_code and obj.city)


def _person_snapshot(p) -> dict:
    """From a `Person` or a row with the same address columns."""
    street = " ".join(x for x in (p.street, p.house_number, f"bus {p.box}" if p.box else None) if x)
    return {"recipient_name": f"{p.first_name} {p.last_name}", "recipient_street": street,
            "recipient_postal_code": p.postal_code, "recipient_city": p.city, "recipient_country": p.country or "BE",
            "recipient_kbo": None, "recipient_email": p.email}


def _org_snapshot(o: Organisation) -> dict:
    return {"recipient_name": o.name, "recipient_street": o.street, "recipient_postal_code": o.postal_code,
            "recipient_city": o.city, "recipient_country": o.country or "BE", "recipient_kbo": o.kbo_number,
            "recipient_email": o.email}


def plan(session: Session, org: Organisation, season: Season, target: str, mode: str = "per_type") -> list[PlannedInvoice]:
    """What a run of `org` would invoice now: one invoice per member (`members`) or per club (`clubs`)."""
    charged = sa.select(MembershipCharge.membership_id).where(
        MembershipCharge.issuer_id == org.id, MembershipCharge.season_id == season.id)
    M, T = Membership, MembershipType
    with unscoped(session):
        if target == "members":
            P = Person
            # One query with the people joined (an IN list of 100,000 ids would exceed the driver's limits).
            rows = session.execute(
                sa.select(M.id, M.person_id, T.name, T.price, P.first_name, P.last_name, P.street, P.house_number,
                          P.box, P.postal_code, P.city, P.country, P.email)
                .join(T, T.id == M.type_id).join(P, P.id == M.person_id)
                .where(M.org_id == org.id, _in_season(season), M.id.notin_(charged), T.price > 0)
                .order_by(M.person_id, M.id)).all()
            by_person: dict[int, list] = defaultdict(list)
            for row in rows:
                by_person[row.person_id].append(row)
            result = []
            for person_id, items in by_person.items():
                person = items[0]
                result.append(PlannedInvoice(
                    recipient_person_id=person_id, recipient_org_id=None,
                    recipient_name=f"{person.first_name} {person.last_name}",
                    lines=[_line(f"{r.name} {season.name}", 1, r.price) for r in items],
                    membership_ids=[r.id for r in items],
                    problem=None if _has_address(person) else "no address",
                    snapshot=_person_snapshot(person)))
            return result
        if target != "clubs":
            raise DomainError("Unknown target; use clubs or members.", field="target")
        # The federation charges the types defined by itself and the organisations above it.
        own_types = [int(x) for x in org.path.strip("/").split("/") if x]
        clubs = sa.select(Organisation.id).where(Organisation.path.startswith(org.path), Organisation.id != org.id)
        rows = session.execute(
            sa.select(M.id, M.org_id, M.person_id, T.name, T.price).join(T, T.id == M.type_id)
            .where(M.org_id.in_(clubs), T.org_id.in_(own_types), _in_season(season), M.id.notin_(charged),
                   T.price > 0)
            .order_by(M.org_id, T.name, M.id)).all()
        by_club: dict[int, list] = defaultdict(list)
        for row in rows:
            by_club[row.org_id].append(row)
        orgs = {o.id: o for o in session.execute(
            sa.select(Organisation).where(Organisation.id.in_(list(by_club)))).scalars()} if by_club else {}
        names = {}
        if mode == "per_member" and rows:
            names = dict(session.execute(
                sa.select(Person.id, Person.first_name + " " + Person.last_name)
                .join(M, M.person_id == Person.id)
                .where(M.org_id.in_(clubs), _in_season(season), M.id.notin_(charged))).all())
        result = []
        for club_id, items in by_club.items():
            club = orgs[club_id]
            if mode == "per_member":
                lines = [_line(f"{r.name} {season.name}: {names.get(r.person_id, '')}", 1, r.price) for r in items]
            else:
                groups: dict[tuple, int] = defaultdict(int)
                for r in items:
                    groups[(r.name, r.price)] += 1
                lines = [_line(f"{name} {season.name}", count, price) for (name, price), count in groups.items()]
            result.append(PlannedInvoice(recipient_person_id=None, recipient_org_id=club_id, recipient_name=club.name,
                                         lines=lines, membership_ids=[r.id for r in items],
                                         problem=None if _has_address(club) else "no address",
                                         snapshot=_org_snapshot(club)))
        return result


def invoice_date(session: Session, org: Organisation, today: dt.date | None = None) -> dt.date:
    """The date of a run's invoices: the setting `billing.run_invoice_date` of `org` or the nearest organisation
    above it (so clubs can follow their federation's invoice date), else today."""
    from core.gates import federa
    from core.settings import get_setting

    value = (get_setting(session, federa().settings, org, "billing.run_invoice_date") or "").strip()
    if not value:
        return today or dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise DomainError("The invoice date of runs (setting billing.run_invoice_date) is not a date (YYYY-MM-DD).",
                          field="billing.run_invoice_date") from None


def preview(session: Session, org: Organisation, season_id: int, target: str, mode: str = "per_type") -> dict:
    season = membership.get_season(session, org, season_id)
    with unscoped(session):
        services.check_issuer(org)
    date = invoice_date(session, org)
    planned = plan(session, org, season, target, mode)
    ready = [p for p in planned if p.problem is None]
    return {"invoices": [p.as_dict() for p in planned], "count": len(ready), "invoice_date": date,
            "total": sum((p.total for p in ready), Decimal("0.00"))}


def start_run(session: Session, org: Organisation, season_id: int, target: str, user_id: int | None,
              idempotency_key: str | None = None):
    """Queue a run; while one of the same season and target is queued or running, that one is returned."""
    from core.jobs import job_runner

    from core.models import Job

    season = membership.get_season(session, org, season_id)
    if target not in ("clubs", "members"):
        raise DomainError("Unknown target; use clubs or members.", field="target")
    services.check_issuer(org)
    invoice_date(session, org)  # a bad setting is refused now, not in the job
    if idempotency_key:
        job_id = session.execute(sa.select(Job.id).where(Job.idempotency_key == idempotency_key)).scalar()
        if job_id is not None:  # the same request sent again: hand back the run it started
            previous = session.execute(sa.select(InvoiceRun).where(InvoiceRun.job_id == job_id)).scalars().first()
            if previous is not None:
                return previous
    from core.jobs import FINISHED

    # A run whose job ended without finishing it (failed after its retries) no longer blocks a new one.
    busy = session.execute(sa.select(InvoiceRun).join(Job, Job.id == InvoiceRun.job_id).where(
        InvoiceRun.org_id == org.id, InvoiceRun.season_id == season.id, InvoiceRun.target == target,
        InvoiceRun.status.in_(("queued", "running")), Job.status.notin_(FINISHED))).scalars().first()
    if busy is not None:
        return busy
    run = InvoiceRun(org_id=org.id, season_id=season.id, target=target, status="queued", created_by_id=user_id)
    session.add(run)
    session.flush()
    job = job_runner().enqueue(session, "billing.issue_run", org_id=org.id, title=gettext("Invoice run %(season)s", season=season.name),
                               idempotency_key=idempotency_key or f"billing.run:{run.id}", created_by_id=user_id,
                               run_id=run.id)
    run.job_id = job.id
    session.flush()
    return run


def execute_run(session: Session, org: Organisation, run_id: int, *, today: dt.date | None = None,
                mode: str | None = None, progress: Callable | None = None, deliver: bool = True,
                payment_terms_days: int | None = None) -> dict:
    run = session.get(InvoiceRun, run_id)
    if run is None or run.org_id != org.id:
        raise NotFound("Unknown run.")
    from core.gates import federa
    from core.settings import get_setting

    settings = federa().settings
    mode = mode or get_setting(session, settings, org, "billing.federation_invoice_mode")
    terms = payment_terms_days if payment_terms_days is not None else int(
        get_setting(session, settings, org, "billing.payment_terms_days"))
    with unscoped(session):  # the season belongs to the federation, above a club's scope
        season = session.get(Season, run.season_id)
    run.status = "running"
    session.commit()
    with unscoped(session):
        planned = [p for p in plan(session, org, season, run.target, mode) if p.problem is None]
    total = len(planned)
    today = today or invoice_date(session, org)
    services.check_issuer(org)
    for start in range(0, total, CHUNK):
        chunk = planned[start:start + CHUNK]
        ids = issue_chunk(session, org, run, season, chunk, today, terms)
        run.invoices_created += len(ids)
        if deliver and ids:
            from core.jobs import job_runner

            job_runner().enqueue(session, "billing.deliver_invoice", org_id=org.id,
                                 title=ngettext("Send %(num)d invoice", "Send %(num)d invoices", len(ids)), idempotency_key=f"billing.deliver-run:{run.id}:{start}",
                                 invoice_ids=ids)
        if progress:
            progress(start + len(chunk), total)  # commits the chunk
        else:
            session.commit()
    run.status = "done"
    session.commit()
    return {"run_id": run.id, "invoices": run.invoices_created}


def issue_chunk(session: Session, org: Organisation, run: InvoiceRun, season: Season, chunk: list[PlannedInvoice],
                today: dt.date, terms: int) -> list[int]:
    """Create and issue the invoices of `chunk` with a few set-based statements (a run may make 100,000):
    the numbers are taken in one step under the counter's lock, then invoices, lines and membership
    charges are inserted in bulk. Same result as `services.create_invoice` + `services.issue` per invoice;
    the audit log gets one entry per chunk (the invoices themselves are the record of what was made)."""
    from core.audit import _actor
    from core.db import next_ids, utcnow
    from core.models import AuditLog

    if not chunk:
        return []
    last = services.next_number(session, org.id, "invoice", today.year, count=len(chunk))
    first = last - len(chunk) + 1
    now = utcnow()
    due = today + dt.timedelta(days=terms)
    rows, line_rows = [], []
    for offset, item in enumerate(chunk):
        cleaned = services.clean_lines(item.lines)
        nets = [services.money(l["quantity"] * l["unit_price"]) for l in cleaned]
        total = services.money(sum(nets, Decimal("0")))  # runs invoice exempt membership fees (category E)
        sequence = first + offset
        rows.append({"org_id": org.id, "kind": "invoice", "status": "issued", "year": today.year,
                     "sequence": sequence, "number": services.format_number("invoice", today.year, sequence),
                     "issue_date": today, "due_date": due, "currency": "EUR", "issued_at": now,
                     "recipient_person_id": item.recipient_person_id, "recipient_org_id": item.recipient_org_id,
                     **item.snapshot, "total_net": total, "total_vat": Decimal("0.00"), "total": total,
                     "amount_paid": Decimal("0.00"), "amount_credited": Decimal("0.00"), "run_id": run.id,
                     "reminders_sent": 0, "created_at": now, "updated_at": now})
        line_rows.append([{**l, "position": i, "net_amount": n} for i, (l, n) in enumerate(zip(cleaned, nets))])
    table = Invoice.__table__
    if session.get_bind().dialect.name == "postgresql":
        # Ids from the sequence first, so each row goes in complete with its structured communication in one
        # pipelined executemany (a multi-row INSERT ... RETURNING of 30,000 parameters costs more to parse).
        ids = next_ids(session, table, len(rows))
        for invoice_id, row in zip(ids, rows):
            row.update(id=invoice_id, structured_ref=services.structured_ref_for(invoice_id))
        session.connection().execute(table.insert(), rows)
    else:
        ids = list(session.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows).scalars())
        session.execute(table.update().where(table.c.id == sa.bindparam("b_id"))
                        .values(structured_ref=sa.bindparam("b_ref")),
                        [{"b_id": i, "b_ref": services.structured_ref_for(i)} for i in ids])
    session.execute(sa.insert(InvoiceLine.__table__), [
        {**line, "invoice_id": invoice_id} for invoice_id, lines in zip(ids, line_rows) for line in lines])
    session.execute(sa.insert(MembershipCharge.__table__), [
        {"issuer_id": org.id, "membership_id": m, "season_id": season.id, "invoice_id": invoice_id, "created_at": now}
        for invoice_id, item in zip(ids, chunk) for m in item.membership_ids])
    user_id, actor_org, ip = _actor(session)
    session.add(AuditLog(user_id=user_id, org_id=actor_org or org.id, action="create", entity_type="billing_invoice",
                         entity_id=f"{ids[0]}-{ids[-1]}", ip=ip,
                         changes={"run_id": run.id, "invoices": len(ids), "numbers": [rows[0]["number"],
                                                                                      rows[-1]["number"]]}))
    session.flush()
    return ids
