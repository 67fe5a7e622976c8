"""What a member list produces: Excel (streamed), address list and labels (PDF), e-mail list, birthdays.

The Excel columns are also what the import recognises, so an exported list can be edited and
imported again: the "Person id" column makes each row update the same person.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from core import validation
from core.models import CustomField, CustomFieldValue, Organisation, Person
from core.services import custom_fields as cf
from plugins.membership.models import Membership, MembershipType
from plugins.membership.services import MemberQuery, effective_status

# (key, header). Headers are translated (Dutch first); the import recognises them in every language.
COLUMNS = [
    ("person_id", _l("Person id")),
    ("membership_id", _l("Membership id")),
    ("last_name", _l("Last name")),
    ("first_name", _l("First name")),
    ("birth_date", _l("Birth date")),
    ("gender", _l("Gender")),
    ("national_number", _l("National number")),
    ("street", _l("Street")),
    ("house_number", _l("House number")),
    ("box", _l("Box")),
    ("postal_code", _l("Postal code")),
    ("city", _l("City")),
    ("country", _l("Country")),
    ("email", _l("E-mail")),
    ("phone", _l("Phone")),
    ("mobile", _l("Mobile")),
    ("club_id", _l("Club id")),
    ("club", _l("Club")),
    ("type", _l("Membership type")),
    ("starts_on", _l("Start date")),
    ("ends_on", _l("End date")),
    ("status", _l("Status")),
    ("end_reason", _l("End reason")),
    ("iban", _l("IBAN")),
]
STATUS_LABELS = {"pending": _l("Pending"), "active": _l("Active"), "ended": _l("Ended")}
PERSON_COLUMNS = ("first_name", "last_name", "birth_date", "gender", "national_number", "street", "house_number",
                  "box", "postal_code", "city", "country", "email", "phone", "mobile")
CHUNK = 1000


def _flat_rows(session: Session, mq: MemberQuery):
    """The member rows as plain columns, streamed from the database."""
    M, P = Membership, Person
    query = mq.query.with_only_columns(
        M.id, M.person_id, M.org_id, M.starts_on, M.ends_on, M.status, M.end_reason, M.iban,
        *[getattr(P, c) for c in PERSON_COLUMNS],
        mq.club.name.label("club_name"), MembershipType.__table__.c.name.label("type_name"),
        maintain_column_froms=True)
    return session.execute(query.execution_options(yield_per=CHUNK))


def _custom_values(session: Session, person_ids: list[int], fields: list[CustomField]) -> dict[tuple[int, int], str]:
    if not fields or not person_ids:
        return {}
    rows = session.execute(sa.select(CustomFieldValue.person_id, CustomFieldValue.field_id, CustomFieldValue.value)
                           .where(CustomFieldValue.person_id.in_(person_ids),
                                  CustomFieldValue.field_id.in_([f.id for f in fields])))
    return {(p, f): v for p, f, v in rows}


def write_xlsx(session: Session, org: Organisation, mq: MemberQuery, path: Path, see_identifiers: bool,
               today: dt.date | None = None) -> int:
    """Write the member list to `path` with openpyxl's write-only (streaming) workbook; returns the row count.

    National numbers and bank accounts are left empty for users without the right to see them."""
    today = today or dt.date.today()
    fields = [f for f in cf.applicable_fields(session, org)]
    from openpyxl import Workbook  # imported here: openpyxl costs ~0.3 s of start-up
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(str(_l("Members"))[:31])
    bold = Font(bold=True)
    header = []
    for _, label in COLUMNS:
        cell = WriteOnlyCell(ws, value=str(label))
        cell.font = bold
        header.append(cell)
    for f in fields:
        cell = WriteOnlyCell(ws, value=f.label)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    count = 0
    status_labels = {k: str(v) for k, v in STATUS_LABELS.items()}
    batch: list = []

    def flush():
        values = _custom_values(session, list({r.person_id for r in batch}), fields)
        for r in batch:
            status = effective_status(r, today)
            row = [r.person_id, r.id, r.last_name, r.first_name, r.birth_date, r.gender,
                   validation.format_national_number(r.national_number) if see_identifiers else None,
                   r.street, r.house_number, r.box, r.postal_code, r.city, r.country, r.email, r.phone, r.mobile,
                   r.org_id, r.club_name, r.type_name, r.starts_on, r.ends_on, status_labels[status], r.end_reason,
                   r.iban if see_identifiers else None]
            row += [cf.typed_value(f, values.get((r.person_id, f.id))) for f in fields]
            ws.append(row)
        batch.clear()

    for r in _flat_rows(session, mq):
        batch.append(r)
        count += 1
        if len(batch) >= CHUNK:
            flush()
    flush()
    ws.freeze_panes = "A2"
    wb.save(path)
    return count


def stream_file(path: Path, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """Yield a temporary file's bytes and delete it afterwards."""
    try:
        with open(path, "rb") as handle:
            while True:
                data = handle.read(chunk_size)
                if not data:
                    break
                yield data
    finally:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def temp_path(data_dir: Path, suffix: str) -> Path:
    folder = Path(data_dir) / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(handle)
    return Path(name)


# --- people of a list (one entry per person) -------------------------------------------------------------

@dataclass
class Addressee:
    person_id: int
    name: str
    street: str
    city: str
    country: str
    email: str | None
    clubs: list[str]
    birth_date: dt.date | None


def addressees(session: Session, mq: MemberQuery, limit: int | None = None) -> list[Addressee]:
    """One entry per person of the list (a person with two memberships appears once), in list order."""
    found: dict[int, Addressee] = {}
    for r in _flat_rows(session, mq):
        entry = found.get(r.person_id)
        if entry is None:
            if limit is not None and len(found) >= limit:
                break
            street = " ".join(filter(None, [r.street, r.house_number, f"bus {r.box}" if r.box else None]))
            city = " ".join(filter(None, [r.postal_code, r.city]))
            entry = found[r.person_id] = Addressee(r.person_id, f"{r.first_name} {r.last_name}".strip(), street,
                                                   city, r.country or "BE", r.email, [], r.birth_date)
        if r.club_name not in entry.clubs:
            entry.clubs.append(r.club_name)
    return list(found.values())


def email_list(session: Session, mq: MemberQuery) -> tuple[list[str], int]:
    """("Name <address>" for each person with an e-mail address, number of people without one)."""
    entries = addressees(session, mq)
    with_mail = [f"{a.name} <{a.email}>" for a in entries if a.email]
    return with_mail, len(entries) - len(with_mail)


# --- birthdays ---------------------------------------------------------------------------------------------

PERIODS = ("day", "week", "month", "year")


def period_days(period: str, start: dt.date) -> list[dt.date]:
    if period == "day":
        return [start]
    if period == "week":
        monday = start - dt.timedelta(days=start.weekday())
        return [monday + dt.timedelta(days=i) for i in range(7)]
    if period == "month":
        first = start.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return [first + dt.timedelta(days=i) for i in range((nxt - first).days)]
    first = dt.date(start.year, 1, 1)
    return [first + dt.timedelta(days=i) for i in range((dt.date(start.year + 1, 1, 1) - first).days)]


def birthday_condition(period: str, start: dt.date):
    """SQL condition on `Person.birth_date` for a birthday within the period around `start`."""
    month = sa.extract("month", Person.birth_date)
    day = sa.extract("day", Person.birth_date)
    if period == "year":
        return Person.birth_date.is_not(None)
    if period == "month":
        return month == start.month
    days = period_days(period, start)
    pairs = {(d.month, d.day) for d in days}
    if (2, 28) in pairs and (3, 1) in pairs:
        pairs.add((2, 29))  # born on 29 February: celebrated in a non-leap year too
    return sa.or_(*[sa.and_(month == m, day == d) for m, d in sorted(pairs)])


def birthdays(session: Session, mq: MemberQuery, period: str, start: dt.date, limit: int = 5000) -> list[dict]:
    """People of the list with a birthday in the period: date, name, age they turn, clubs; by date."""
    days = period_days(period, start)
    year_of = {(d.month, d.day): d for d in days}
    filtered = MemberQuery(query=mq.query.where(birthday_condition(period, start)), count=mq.count,
                           filters=mq.filters, club=mq.club)
    result = []
    for a in addressees(session, filtered, limit=limit):
        if a.birth_date is None:
            continue
        key = (a.birth_date.month, a.birth_date.day)
        when = year_of.get(key) or year_of.get((2, 28))
        if when is None:
            continue
        result.append({"date": when, "person_id": a.person_id, "name": a.name, "age": when.year - a.birth_date.year,
                       "birth_date": a.birth_date, "clubs": a.clubs, "email": a.email})
    result.sort(key=lambda item: (item["date"], item["name"]))
    return result


# --- PDFs --------------------------------------------------------------------------------------------------

def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def label_layout(columns: int, rows: int, margin_top: int, margin_left: int, padding: int) -> dict:
    """Label size in mm for an A4 sheet (210 x 297 mm) split into `columns` x `rows`."""
    width = (210 - 2 * margin_left) / columns
    height = (297 - 2 * margin_top) / rows
    return {"columns": columns, "rows": rows, "per_page": columns * rows, "width": round(width, 2),
            "height": round(height, 2), "margin_top": margin_top, "margin_left": margin_left, "padding": padding}
