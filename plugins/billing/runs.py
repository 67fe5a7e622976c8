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
from sqlalchemy.orm import Session

from core.db import unscoped
from core.models import Organisation, Person
from core.services import Conflict, DomainError, NotFound
from plugins.billing import services
from plugins.billing.models import Invoice, InvoiceRun, MembershipCharge
from plugins.membership import services as membership
from plugins.membership.models import Membership, MembershipType, Season

CHUNK = 200


@dataclass
class PlannedInvoice:
    recipient_person_id: int | None
    recipient_org_id: int | None
    recipient_name: str
    lines: list[dict]
    membership_ids: list[int]
    problem: str | None = None  # why it cannot be issued (shown in the preview, skipped by the run)

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


def plan(session: Session, org: Organisation, season: Season, target: str, mode: str = "per_type") -> list[PlannedInvoice]:
    """What a run of `org` would invoice now: one invoice per member (`members`) or per club (`clubs`)."""
    charged = sa.select(MembershipCharge.membership_id).where(
        MembershipCharge.issuer_id == org.id, MembershipCharge.season_id == season.id)
    M, T = Membership, MembershipType
    with unscoped(session):
        if target == "members":
            rows = session.execute(
                sa.select(M.id, M.person_id, T.name, T.price).join(T, T.id == M.type_id)
                .where(M.org_id == org.id, _in_season(season), M.id.notin_(charged), T.price > 0)
                .order_by(M.person_id, M.id)).all()
            by_person: dict[int, list] = defaultdict(list)
            for row in rows:
                by_person[row.person_id].append(row)
            people = {p.id: p for p in session.execute(
                sa.select(Person).where(Person.id.in_(list(by_person)))).scalars()} if by_person else {}
            result = []
            for person_id, items in by_person.items():
                person = people[person_id]
                result.append(PlannedInvoice(
                    recipient_person_id=person_id, recipient_org_id=None,
                    recipient_name=f"{person.first_name} {person.last_name}",
                    lines=[_line(f"{r.name} {season.name}", 1, r.price) for r in items],
                    membership_ids=[r.id for r in items],
                    problem=None if _has_address(person) else "no address"))
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
            names = {p.id: f"{p.first_name} {p.last_name}" for p in session.execute(
                sa.select(Person).where(Person.id.in_({r.person_id for r in rows}))).scalars()}
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
                                         problem=None if _has_address(club) else "no address"))
        return result


def preview(session: Session, org: Organisation, season_id: int, target: str, mode: str = "per_type") -> dict:
    season = membership.get_season(session, org, season_id)
    with unscoped(session):
        services.check_issuer(org)
    planned = plan(session, org, season, target, mode)
    ready = [p for p in planned if p.problem is None]
    return {"invoices": [p.as_dict() for p in planned], "count": len(ready),
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
    job = job_runner().enqueue(session, "billing.issue_run", org_id=org.id, title=f"Invoice run {season.name}",
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
    made = 0
    for number, item in enumerate(planned, start=1):
        invoice = services.create_invoice(session, org, item.lines, recipient_person_id=item.recipient_person_id,
                                          recipient_org_id=item.recipient_org_id, run_id=run.id)
        session.add_all([MembershipCharge(issuer_id=org.id, membership_id=m, season_id=season.id,
                                          invoice_id=invoice.id) for m in item.membership_ids])
        services.issue(session, invoice, today=today, payment_terms_days=terms)
        if deliver:
            from core.jobs import job_runner

            job_runner().enqueue(session, "billing.deliver_invoice", org_id=org.id,
                                 title=f"Send invoice {invoice.number}",
                                 idempotency_key=f"billing.deliver:{invoice.id}", invoice_id=invoice.id)
        made += 1
        if number % CHUNK == 0 or number == total:
            run.invoices_created += made
            made = 0
            if progress:
                progress(number, total)  # commits the chunk
            else:
                session.commit()
    run.status = "done"
    session.commit()
    return {"run_id": run.id, "invoices": run.invoices_created}
