"""Excel import of members: read, map columns, validate every row, then write all or nothing.

1. `read_sheet` opens the .xlsx (read-only) and returns its header row; `auto_mapping` maps headers to
   fields, recognising the export's own headers in every UI language, field keys and custom fields.
2. `run_import` validates every row first, with only SELECTs: names, dates, national numbers,
   e-mail, phones, IBAN, membership type, club. People are found by person id (the export's first
   column), else national number, else name + birth date; a name + birth date match with someone
   this organisation does not know yet is reported as a probable duplicate (never merged: give their
   person id, or "new"). Duplicated rows are refused. Any error: `ImportFailed` with every row's
   errors, and nothing was written. Otherwise everything is written in the caller's transaction.
Blank cells never erase stored data: an edited export updates what was changed.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import IO, Any

import sqlalchemy as sa
from flask_babel import force_locale
from sqlalchemy.orm import Session

from core import spreadsheets, validation
from core.audit import record_created
from core.db import insert_rows, utcnow
from core.models import AuditLog, CustomFieldValue, Organisation, Person, PersonOrganisation
from core.services import DomainError
from core.services import custom_fields as cf
from core.services import people
from plugins.membership import services
from plugins.membership.exports import COLUMNS, PERSON_COLUMNS
from plugins.membership.models import Membership

FIELDS = [key for key, _ in COLUMNS]
IGNORED = {"status", "club"}  # shown in the export, not read back (the club is matched by "club_id" or name)
NEW_WORDS = {"new", "nieuw", "nouveau", "neu"}
DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d")
MAX_ROWS = 50_000
CHUNK = 1000
UNSCOPED = {"federa_unscoped": True}


class ImportFailed(DomainError):
    """The file cannot be imported; `details["rows"]` lists every row's errors. Nothing was written."""

    status = 422


@dataclass
class Sheet:
    name: str
    headers: list[str]
    rows: Any  # iterator of (sheet row number, tuple of values)
    sheet_names: list[str]


def read_sheet(file: IO[bytes] | str, sheet: str | None = None) -> Sheet:
    from openpyxl import load_workbook  # imported here: openpyxl costs ~0.3 s of start-up
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(file, read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, ValueError, Exception) as exc:  # zipfile errors too
        if isinstance(exc, DomainError):
            raise
        raise ImportFailed("this is not an Excel file (.xlsx)", field="file") from None
    names = wb.sheetnames
    if sheet:
        if sheet not in names:
            raise ImportFailed(f"the file has no sheet {sheet!r} (sheets: {', '.join(names)})", field="sheet",
                               sheets=names)
        ws = wb[sheet]
    else:
        ws = wb[names[0]]
    rows = ws.iter_rows(values_only=True)
    header_row = next(rows, None) or ()
    headers = [_text(h) or "" for h in header_row]
    while headers and not headers[-1]:
        headers.pop()
    numbered = ((number, values) for number, values in enumerate(rows, start=2))
    return Sheet(ws.title, headers, numbered, names)


def _fold(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", people.fold(text))


def header_names(languages=("nl", "fr", "en")) -> dict[str, str]:
    """{folded header: field key} for the export's headers in every language and the keys themselves."""
    names: dict[str, str] = {}
    for key, label in COLUMNS:
        names[_fold(key)] = key
        for lang in languages:
            with force_locale(lang):
                names[_fold(str(label))] = key
    extra = {"name": "last_name", "naam": "last_name", "achternaam": "last_name", "voornaam": "first_name",
             "geboortedatum": "birth_date", "rijksregisternummer": "national_number", "email": "email",
             "type": "type", "lidmaatschap": "type", "begindatum": "starts_on", "einddatum": "ends_on"}
    names.update({k: v for k, v in extra.items() if k not in names})
    return names


def auto_mapping(headers: list[str], custom_fields: dict) -> dict[str, str]:
    """{header: field} for the headers we recognise (custom fields by key or label)."""
    names = header_names()
    for key, f in custom_fields.items():
        names[_fold(f.label)] = f"cf.{key}"
        names[_fold(f"cf.{key}")] = f"cf.{key}"
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        target = names.get(_fold(header)) if header else None
        if target and target not in used:
            mapping[header] = target
            used.add(target)
    return mapping


def importable_fields(custom_fields: dict) -> list[str]:
    return [k for k in FIELDS if k not in IGNORED] + [f"cf.{k}" for k in custom_fields]


@dataclass
class Summary:
    rows: int = 0
    created_people: int = 0
    updated_people: int = 0
    linked_people: int = 0
    created_memberships: int = 0
    updated_memberships: int = 0
    unchanged: int = 0
    dry_run: bool = False
    person_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = dict(self.__dict__)
        data.pop("person_ids")
        return data


@dataclass
class _Row:
    number: int
    person: Person | None = None
    person_clean: dict = field(default_factory=dict)
    custom_clean: dict = field(default_factory=dict)
    club: Organisation | None = None
    membership: Membership | None = None
    membership_data: dict = field(default_factory=dict)
    new_membership: dict | None = None
    new_person_key: Any = None
    person_id: int | None = None


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return spreadsheets.unescape(str(value)).strip() or None


def _date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)):
        raise ValueError("a number, not a date: format the cell as a date or write DD/MM/YYYY")
    text = str(value).strip()
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date: format the cell as a date or write DD/MM/YYYY")


def _national(value) -> str:
    if isinstance(value, (int, float)):
        value = f"{int(value):011d}"  # a number cell drops leading zeros
    return validation.national_number(str(value))


def run_import(session: Session, org: Organisation, file: IO[bytes] | str, mapping: dict[str, str] | None = None,
               sheet: str | None = None, dry_run: bool = False, today: dt.date | None = None,
               user_id: int | None = None) -> Summary:
    today = today or dt.date.today()
    custom_fields = cf.fields_by_key(session, org)
    data = read_sheet(file, sheet)
    if mapping is None:
        mapping = auto_mapping(data.headers, custom_fields)
    allowed = set(importable_fields(custom_fields)) | IGNORED
    bad = {h: t for h, t in mapping.items() if t and t not in allowed}
    if bad:
        raise ImportFailed("unknown fields in the column mapping", field="mapping",
                           errors={"mapping": [f"{h}: unknown field {t}" for h, t in bad.items()]})
    missing_headers = [h for h in mapping if h not in data.headers]
    if missing_headers:
        raise ImportFailed(f"the sheet has no column {missing_headers[0]!r}", field="mapping")
    index = {target: data.headers.index(h) for h, target in mapping.items() if target and target not in IGNORED}
    if "person_id" not in index and not {"last_name", "first_name"} <= set(index):
        raise ImportFailed(
            f"sheet {data.name!r} has no columns for last name and first name (or person id); "
            f"found: {', '.join(h for h in data.headers if h) or 'nothing'}", field="sheet", sheets=data.sheet_names)

    raw_rows: list[tuple[int, dict]] = []
    for number, values in data.rows:
        row = {target: values[i] if i < len(values) else None for target, i in index.items()}
        if all(_text(v) is None for v in row.values()):
            continue
        raw_rows.append((number, row))
        if len(raw_rows) > MAX_ROWS:
            raise ImportFailed(f"at most {MAX_ROWS} rows per file", field="file")
    if not raw_rows:
        raise ImportFailed("the sheet has no rows to import", field="file")

    errors_by_row: dict[int, dict[str, str]] = {}
    parsed: list[tuple[int, dict]] = []
    for number, row in raw_rows:
        errs: dict[str, str] = {}
        clean: dict[str, Any] = {}
        for key, value in row.items():
            if _text(value) is None:
                continue
            try:
                if key in ("birth_date", "starts_on", "ends_on"):
                    clean[key] = _date(value)
                elif key == "national_number":
                    if "•" in str(value):
                        continue  # a masked number from an export: leave the stored one alone
                    clean[key] = _national(value)
                elif key == "person_id":
                    text = _text(value)
                    if text.lower() in NEW_WORDS:
                        clean["force_new"] = True
                    else:
                        clean[key] = int(text)
                elif key in ("membership_id", "club_id"):
                    clean[key] = int(_text(value))
                elif key == "iban":
                    clean[key] = validation.iban(str(value))
                else:
                    clean[key] = _text(value)
            except ValueError as exc:
                message = str(exc)
                if key in ("person_id", "membership_id", "club_id") and "invalid literal" in message:
                    message = "not a number"
                errs[key] = message
        if errs:
            errors_by_row[number] = errs
        parsed.append((number, clean))

    # --- look up what the file refers to, in bulk ---------------------------------------------------------
    subtree = {o.id: o for o in session.execute(
        sa.select(Organisation).where(Organisation.path.like(org.path + "%"))).scalars()}
    ids = {c["person_id"] for _, c in parsed if "person_id" in c}
    numbers = {c["national_number"] for _, c in parsed if "national_number" in c}
    births = {c["birth_date"] for _, c in parsed if "birth_date" in c and "person_id" not in c
              and "national_number" not in c}
    by_id: dict[int, Person] = {}
    for chunk in _chunks(sorted(ids)):
        by_id.update({p.id: p for p in session.execute(
            sa.select(Person).where(Person.id.in_(chunk), people.visible_in(org))).scalars()})
    by_number: dict[str, Person] = {}
    for chunk in _chunks(sorted(numbers)):
        by_number.update({p.national_number: p for p in session.execute(
            sa.select(Person).where(Person.national_number.in_(chunk))).scalars()})
    # Name + birth date: narrow rows for the birth dates in the file, compared by folded name here (folding
    # strips accents, which SQL cannot do portably); only the matches are loaded as people.
    wanted = {(people.fold(c.get("first_name")), people.fold(c.get("last_name")), c["birth_date"])
              for _, c in parsed if "birth_date" in c and "person_id" not in c and "national_number" not in c}
    name_ids: dict[tuple, list[int]] = {}
    for chunk in _chunks(sorted(births)):
        for person_id, first, last, birth in session.execute(
                sa.select(Person.id, Person.first_name, Person.last_name, Person.birth_date)
                .where(Person.birth_date.in_(chunk))):
            key = (people.fold(first), people.fold(last), birth)
            if key in wanted:
                name_ids.setdefault(key, []).append(person_id)
    by_person_id: dict[int, Person] = {**by_id, **{p.id: p for p in by_number.values()}}
    matched = sorted({i for ids_ in name_ids.values() for i in ids_} - set(by_person_id))
    for chunk in _chunks(matched):
        by_person_id.update({p.id: p for p in session.execute(sa.select(Person).where(Person.id.in_(chunk))).scalars()})
    by_name = {key: [by_person_id[i] for i in ids_] for key, ids_ in name_ids.items()}
    known = set(by_person_id)
    visible: set[int] = set()
    for chunk in _chunks(sorted(known)):
        visible.update(session.execute(sa.select(Person.id).where(Person.id.in_(chunk), people.visible_in(org))).scalars())
    membership_ids = {c["membership_id"] for _, c in parsed if "membership_id" in c}
    by_membership: dict[int, Membership] = {}
    for chunk in _chunks(sorted(membership_ids)):
        by_membership.update({m.id: m for m in session.execute(sa.select(Membership).where(
            Membership.id.in_(chunk), Membership.org_id.in_(list(subtree))), execution_options=UNSCOPED).scalars()})
    existing_memberships: dict[tuple[int, int, int], list[Membership]] = {}
    for chunk in _chunks(sorted(known)):
        for m in session.execute(sa.select(Membership).where(Membership.person_id.in_(chunk),
                                                             Membership.org_id.in_(list(subtree))),
                                 execution_options=UNSCOPED).scalars():
            existing_memberships.setdefault((m.person_id, m.org_id, m.type_id), []).append(m)
    types_cache: dict[int, dict[str, Any]] = {}

    def type_named(club: Organisation, name: str):
        if club.id not in types_cache:
            types_cache[club.id] = {people.fold(t.name): t for t in services.applicable_types(session, club)}
        return types_cache[club.id].get(people.fold(name))

    club_by_name: dict[str, list[Organisation]] = {}
    for o in subtree.values():
        club_by_name.setdefault(people.fold(o.name), []).append(o)

    # --- validate each row ---------------------------------------------------------------------------------
    seen_people: dict[Any, tuple[int, dict]] = {}
    seen_memberships: dict[Any, int] = {}
    plan: list[_Row] = []
    for number, clean in parsed:
        errs = errors_by_row.setdefault(number, {})
        item = _Row(number)
        person = None
        if "person_id" in clean:
            person = by_id.get(clean["person_id"])
            if person is None:
                errs["person_id"] = "no person with this id in this organisation"
            elif clean.get("national_number") and person.national_number and \
                    clean["national_number"] != person.national_number:
                errs["national_number"] = f"does not match person {person.id}"
        elif clean.get("national_number") and clean["national_number"] in by_number:
            person = by_number[clean["national_number"]]
        elif not clean.get("force_new") and clean.get("birth_date") and clean.get("first_name") and clean.get("last_name"):
            matches = by_name.get((people.fold(clean["first_name"]), people.fold(clean["last_name"]),
                                   clean["birth_date"]), [])
            if len(matches) == 1 and matches[0].id in visible:
                person = matches[0]
            elif matches:
                errs["person_id"] = (
                    f"probably the same person as {', '.join(str(p.id) for p in matches)} (same name and birth "
                    f"date); put their person id in the Person id column, or \"new\" to add another person")
        item.person = person
        # Person fields: for someone we know, only what differs (a blank cell keeps the stored value).
        person_data = {k: clean[k] for k in PERSON_COLUMNS if k in clean}
        if person is not None:
            person_data = {k: v for k, v in person_data.items() if getattr(person, k) != v}
        if "person_id" not in errs:
            try:
                item.person_clean = people.normalise_fields(
                    {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in person_data.items()},
                    current=person, today=today)
            except DomainError as exc:
                errs.update(exc.details.get("errors") or {exc.field or "row": exc.message})
        number_clean = item.person_clean.get("national_number")
        if number_clean and number_clean in by_number and by_number[number_clean] is not person:
            errs["national_number"] = f"another person ({by_number[number_clean].id}) has this national number"
        custom = {k[3:]: clean[k] for k in clean if k.startswith("cf.")}
        values, custom_errors = cf.validate_values(custom_fields, custom, creating=person is None)
        errs.update(custom_errors)
        item.custom_clean = values
        # The same person twice in the file.
        key = ("id", person.id) if person is not None else (
            ("nn", number_clean) if number_clean else
            ("name", people.fold(clean.get("first_name")), people.fold(clean.get("last_name")), clean.get("birth_date")))
        item.new_person_key = key
        previous = seen_people.get(key)
        if previous is not None and not errs:
            if previous[1] != item.person_clean:
                errs["row"] = f"the same person as row {previous[0]} with other details"
        elif previous is None:
            seen_people[key] = (number, item.person_clean)
        # Club.
        club = org
        if "club_id" in clean:
            club = subtree.get(clean["club_id"])
            if club is None:
                errs["club_id"] = "not an organisation in this list"
        elif "club" in clean:
            found = club_by_name.get(people.fold(clean["club"]), [])
            if len(found) != 1:
                errs["club_id"] = "unknown club" if not found else "several clubs have this name; use the club id"
            else:
                club = found[0]
        item.club = club
        # Membership.
        if "club_id" not in errs:
            _plan_membership(item, clean, errs, by_membership, existing_memberships, type_named, seen_memberships,
                             today)
        if not errs:
            errors_by_row.pop(number, None)
        plan.append(item)

    if errors_by_row:
        rows = [{"row": n, "errors": e} for n, e in sorted(errors_by_row.items())]
        raise ImportFailed(f"{len(rows)} of {len(parsed)} rows have errors; nothing was imported", rows=rows)

    summary = Summary(rows=len(plan), dry_run=dry_run)
    if dry_run:
        return summary
    _write(session, org, plan, custom_fields, summary, today)
    session.add(AuditLog(user_id=user_id, org_id=org.id, action="import", entity_type="membership_membership",
                         at=utcnow(), changes={k: v for k, v in summary.as_dict().items() if k != "dry_run"}))
    session.flush()
    return summary


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _plan_membership(item: _Row, clean: dict, errs: dict, by_membership, existing, type_named, seen, today) -> None:
    club, person = item.club, item.person
    mtype = None
    if clean.get("type"):
        mtype = type_named(club, clean["type"])
        if mtype is None:
            errs["type"] = f"unknown membership type {clean['type']!r} in {club.name}"
    if "membership_id" in clean:
        m = by_membership.get(clean["membership_id"])
        if m is None or person is None or m.person_id != person.id:
            errs["membership_id"] = "no membership with this id for this person here"
            return
        if m.org_id != club.id:
            errs["club_id"] = "the membership belongs to another club; transfer the member instead"
            return
        changes: dict[str, Any] = {}
        if mtype is not None and mtype.id != m.type_id:
            changes["type_id"] = mtype.id
        for key in ("starts_on", "ends_on", "end_reason", "iban"):
            if key in clean and clean[key] != getattr(m, key):
                changes[key] = clean[key]
        starts, ends = changes.get("starts_on", m.starts_on), changes.get("ends_on", m.ends_on)
        if ends is not None and ends < starts:
            errs["ends_on"] = "the end date is before the start date"
        if changes.get("ends_on") and not (changes.get("end_reason") or m.end_reason):
            changes["end_reason"] = "import"
        key = ("m", m.id)
        if key in seen:
            errs["membership_id"] = f"the same membership as row {seen[key]}"
        seen.setdefault(key, item.number)
        item.membership, item.membership_data = m, changes
        return
    if mtype is None:
        if "type" not in errs and person is None:
            errs["type"] = "this field is required"
        return
    starts = clean.get("starts_on") or today
    ends = clean.get("ends_on")
    if ends is not None and ends < starts:
        errs["ends_on"] = "the end date is before the start date"
        return
    if not mtype.active:
        errs["type"] = "this membership type is no longer in use"
    birth_date = person.birth_date if person is not None else item.person_clean.get("birth_date")
    problem = services.check_age(mtype, birth_date, starts)
    if problem:
        errs["type"] = problem
    key = ("new", item.new_person_key, club.id, mtype.id)
    if key in seen:
        errs["row"] = f"the same membership as row {seen[key]}"
        return
    seen[key] = item.number
    if person is not None:
        for m in existing.get((person.id, club.id, mtype.id), ()):
            if (m.ends_on is None or m.ends_on >= starts) and (ends is None or m.starts_on <= ends):
                # Already a member of this type: a re-imported list updates, never duplicates.
                changes = {}
                if "ends_on" in clean and clean["ends_on"] != m.ends_on:
                    changes["ends_on"] = clean["ends_on"]
                    changes["end_reason"] = clean.get("end_reason") or m.end_reason or "import"
                if "iban" in clean and clean["iban"] != m.iban:
                    changes["iban"] = clean["iban"]
                item.membership, item.membership_data = m, changes
                return
    item.new_membership = {"type_id": mtype.id, "starts_on": starts, "ends_on": ends,
                           "end_reason": clean.get("end_reason") if ends else None, "iban": clean.get("iban"),
                           "status": "ended" if ends and ends <= today else ("pending" if starts > today else "active")}


def _write(session: Session, org: Organisation, plan: list[_Row], custom_fields: dict, summary: Summary,
           today: dt.date) -> None:
    """Write the validated plan. New people, links, custom values and memberships go in set-based (an import
    may hold 50,000 rows), each with the audit entry the ORM would have written; people and memberships that
    exist are updated through the ORM, so the audit listener records exactly what changed."""
    now = utcnow()
    # New people: one row per distinct person of the file.
    new_people: dict[Any, dict] = {}
    for item in plan:
        if item.person is None and item.new_person_key not in new_people:
            new_people[item.new_person_key] = {**item.person_clean, "created_at": now, "updated_at": now,
                                               "search_text": people.search_text_of(item.person_clean)}
    new_ids = dict(zip(new_people, _insert(session, Person.__table__, list(new_people.values()))))
    created = set(new_ids.values())
    summary.created_people = len(created)
    for item in plan:
        item.person_id = item.person.id if item.person is not None else new_ids[item.new_person_key]

    person_ids = sorted({item.person_id for item in plan})
    links = set()
    for chunk in _chunks(sorted(set(person_ids) - created)):
        links.update(session.execute(sa.select(PersonOrganisation.person_id, PersonOrganisation.org_id).where(
            PersonOrganisation.person_id.in_(chunk)), execution_options=UNSCOPED).all())
    updated: set[int] = set()
    link_rows: list[dict] = []
    value_rows: list[dict] = []
    new_memberships: list[dict] = []
    changed: list[tuple[Membership, dict, bool]] = []
    for item in plan:
        person, person_id = item.person, item.person_id
        is_new = person_id in created
        if not is_new and item.person_clean and person_id not in updated:
            for key, value in item.person_clean.items():
                setattr(person, key, value)  # the Person listener keeps search_text current
            updated.add(person_id)
        if item.custom_clean:
            if is_new:
                value_rows += [{"field_id": custom_fields[key].id, "person_id": person_id, "value": value}
                               for key, value in item.custom_clean.items() if value is not None]
            elif cf.store_values(session, person, custom_fields, item.custom_clean):
                updated.add(person_id)
        if (person_id, item.club.id) not in links:
            link_rows.append({"person_id": person_id, "org_id": item.club.id, "relation": "member",
                              "created_at": now})
            links.add((person_id, item.club.id))
            if not is_new:
                summary.linked_people += 1
        if item.new_membership is not None:
            new_memberships.append({"org_id": item.club.id, "person_id": person_id, **item.new_membership,
                                    "transferred_from_id": None, "created_at": now, "updated_at": now})
        elif item.membership is not None and item.membership_data:
            m = item.membership
            was_open = m.ends_on is None and m.status != "ended"
            diff = {k: [_plain(getattr(m, k)), _plain(v)] for k, v in item.membership_data.items()}
            for key, value in item.membership_data.items():
                setattr(m, key, value)
            if m.ends_on is not None and m.ends_on <= today:
                m.status = "ended"
            changed.append((m, diff, was_open and m.ends_on is not None))
        elif item.person_clean == {} and not item.custom_clean:
            summary.unchanged += 1
    _insert(session, PersonOrganisation.__table__, link_rows)
    _insert(session, CustomFieldValue.__table__, value_rows)
    for row, membership_id in zip(new_memberships, _insert(session, Membership.__table__, new_memberships)):
        row["id"] = membership_id
    session.flush()
    summary.updated_people = len(updated)
    summary.created_memberships = len(new_memberships)
    summary.updated_memberships = len(changed)
    summary.person_ids = person_ids
    services.emit(session, "membership.started", (services.event_payload(row) for row in new_memberships))
    services.emit(session, "membership.ended", (services.event_payload(m, changes=d) for m, d, e in changed if e))
    services.emit(session, "membership.changed", (services.event_payload(m, changes=d) for m, d, e in changed if not e))


def _insert(session: Session, table: sa.Table, rows: list[dict]) -> list[int]:
    ids = insert_rows(session, table, rows)
    record_created(session, table, rows, ids)
    return ids


def _plain(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
