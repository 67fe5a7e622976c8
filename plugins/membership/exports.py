"""What a member list produces: Excel (streamed), address list and labels (PDF), e-mail list, birthdays.

The Excel columns are also what the import recognises, so an exported list can be edited and
imported again: the "Person id" column makes each row update the same person. The export is streamed
(`core.spreadsheets`: rows go into the file as they come from the database); the import reads with openpyxl.
"""
from __future__ import annotations

import datetime as dt
import operator
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from core import spreadsheets, validation
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
# Columns written as numbers and as dates; every other column of COLUMNS is text.
COLUMN_KINDS = {"person_id": spreadsheets.NUMBER, "membership_id": spreadsheets.NUMBER,
                "club_id": spreadsheets.NUMBER, "birth_date": spreadsheets.DATE, "starts_on": spreadsheets.DATE,
                "ends_on": spreadsheets.DATE}
# Columns of COLUMNS that _flat_rows names otherwise.
ROW_KEYS = {"membership_id": "id", "club_id": "org_id", "club": "club_name", "type": "type_name"}


def _flat_rows(session: Session, mq: MemberQuery):
    """The member rows as plain columns, streamed from the database (a server-side cursor, CHUNK rows at a
    time). Run as a Core statement: plain rows cost a third less than the ORM's for 100,000 members, and the
    query keeps to its organisation's subtree by itself (`members_query`), without the session's scope."""
    M, P = Membership, Person
    query = mq.query.with_only_columns(
        M.id, M.person_id, M.org_id, M.starts_on, M.ends_on, M.status, M.end_reason, M.iban,
        *[getattr(P, c) for c in PERSON_COLUMNS],
        mq.club.name.label("club_name"), MembershipType.__table__.c.name.label("type_name"),
        maintain_column_froms=True)
    # Options on the statement: `Connection.execution_options()` would change the session's connection.
    return session.connection().execute(query, execution_options={"stream_results": True, "max_row_buffer": CHUNK})


def _custom_values(session: Session, person_ids: list[int], fields: list[CustomField]) -> dict[tuple[int, int], str]:
    if not fields or not person_ids:
        return {}
    rows = session.execute(sa.select(CustomFieldValue.person_id, CustomFieldValue.field_id, CustomFieldValue.value)
                           .where(CustomFieldValue.person_id.in_(person_ids),
                                  CustomFieldValue.field_id.in_([f.id for f in fields])))
    return {(p, f): v for p, f, v in rows}


def _column_picker(row_keys: list[str]):
    """A function giving a row of `_flat_rows` as the values of COLUMNS, in their order.

    By position: reading a SQLAlchemy Row by attribute costs ~0.5 µs a value, 12 µs a member row."""
    position = {key: i for i, key in enumerate(row_keys)}
    return operator.itemgetter(*[position[ROW_KEYS.get(key, key)] for key, _ in COLUMNS])


def write_xlsx(session: Session, org: Organisation, mq: MemberQuery, path: Path, see_identifiers: bool,
               today: dt.date | None = None) -> int:
    """Write the member list to `path`, streamed (`core.spreadsheets`); returns the row count.

    Every value is written as its column's kind: text is always text, never a formula or a link. National
    numbers and bank accounts are left empty for users without the right to see them. A list longer than
    a sheet (Excel's 1,048,576 rows) goes on in "Members (2)" and so on."""
    today = today or dt.date.today()
    fields = [f for f in cf.applicable_fields(session, org)]
    column = {key: i for i, (key, _) in enumerate(COLUMNS)}
    person_id, national_number, status, iban = (column[k] for k in ("person_id", "national_number", "status", "iban"))
    header = [str(label) for _, label in COLUMNS] + [f.label for f in fields]
    kinds = ([COLUMN_KINDS.get(key, spreadsheets.TEXT) for key, _ in COLUMNS]
             + [spreadsheets.BOOL if f.field_type == "bool" else spreadsheets.TEXT for f in fields])
    status_labels = {k: str(v) for k, v in STATUS_LABELS.items()}
    format_national_number = validation.format_national_number
    typed_value = cf.typed_value
    with spreadsheets.Workbook(path) as book:
        sheet = book.sheet(str(_l("Members")), header, kinds)
        result = _flat_rows(session, mq)
        pick = _column_picker(list(result.keys()))
        for batch in result.partitions(CHUNK):
            rows = [(r, list(pick(r))) for r in batch]
            values = _custom_values(session, list({row[person_id] for _, row in rows}), fields).get
            for r, row in rows:
                row[status] = status_labels[effective_status(r, today)]
                if see_identifiers:
                    row[national_number] = format_national_number(row[national_number])
                else:
                    row[national_number] = row[iban] = None
                if fields:
                    row += [typed_value(f, values((row[person_id], f.id))) for f in fields]
                sheet.append(row)
    return sheet.count


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
