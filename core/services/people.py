"""People: one record per natural person, visible in an organisation through links to its subtree.

Create and update validate every field (Belgian national/BIS number, e-mail, phones ...), keep
`search_text` current and refuse probable duplicates with a pointer to the existing record.
An organisation that meets a person who already exists elsewhere *links* them instead
(`link_person`, which asks for the national number or the name and birth date as proof).
`merge_people` folds a duplicate into the record that stays, moving every reference to it,
including those in plugin tables (found by walking the metadata for foreign keys to `person.id`).
The people list (`people_query`) filters on personal data, custom fields and the search fields
plugins declare through `register_search_fields`.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
import weakref
from dataclasses import dataclass
from typing import Any, Callable

from flask_babel import gettext
import sqlalchemy as sa
from sqlalchemy.orm import Session, load_only
from stdnum.be import bis as stdnum_bis
from stdnum.be import nn as stdnum_nn

from core import validation
from core.db import Base, utcnow
from core.models import AuditLog, CustomFieldValue, Organisation, Person, PersonOrganisation, User
from core.services import Conflict, DomainError, NotFound
from core.services import custom_fields as cf
from core.services.organisations import subtree_ids

GENDERS = ("M", "F", "X")
LANGUAGES = ("nl", "fr", "en")
EDITABLE = (
    "first_name", "last_name", "birth_date", "gender", "national_number", "street", "house_number", "box",
    "postal_code", "city", "country", "email", "email_alt", "phone", "mobile", "emergency_contact_name",
    "emergency_contact_phone", "preferred_language",
)
MAX_LENGTH = {
    "first_name": 100, "last_name": 100, "street": 255, "house_number": 16, "box": 16, "postal_code": 16,
    "city": 100, "emergency_contact_name": 255,
}
NORMALISERS = {
    "national_number": validation.national_number,
    "email": validation.email,
    "email_alt": validation.email,
    "phone": validation.phone,
    "mobile": validation.phone,
    "emergency_contact_phone": validation.phone,
}
# Filled from the removed record on merge when empty on the kept one.
MERGE_FILL = EDITABLE + ("photo_file",)
# Core tables whose references to a person `merge_people` moves itself (unique constraints need care).
EXPLICIT_REFERENCES = {"person_organisation", "custom_field_value", "user_account"}
SORTS = {
    "name": ("last_name", "first_name"),
    "birth_date": ("birth_date",),
    "city": ("city", "last_name", "first_name"),
    "postal_code": ("postal_code", "last_name", "first_name"),
    "created_at": ("created_at",),
}

_po = PersonOrganisation.__table__
_org = Organisation.__table__


# --- plugin search fields -----------------------------------------------------------------------

@dataclass(frozen=True)
class SearchField:
    """An extra filter of the people list that a plugin declares (`register_search_fields`).

    `key` is the query-string name and starts with the plugin name (`membership.status`).
    `condition(value, org)` gets the raw string from the request and the organisation of the list
    and returns a SQL condition on `core.models.Person` (typically an EXISTS on the plugin's table),
    or raises ValueError with a user-facing message for a value it cannot filter on.
    `type` (text, choice, bool, date, int) and `choices` tell the list page which input to show."""

    key: str
    label: str
    condition: Callable[[str, Organisation], Any]
    type: str = "text"
    choices: tuple[str, ...] = ()


_search_field_cache: "weakref.WeakKeyDictionary[object, list[tuple[str, SearchField]]]" = weakref.WeakKeyDictionary()


def declared_search_fields(registry) -> list[tuple[str, SearchField]]:
    """(plugin name, field) for every search field of the loaded plugins; collected once per registry."""
    found = _search_field_cache.get(registry)
    if found is None:
        found = []
        for owner, field in registry.collect("register_search_fields"):
            if not isinstance(field, SearchField):
                raise TypeError(f"register_search_fields of plugin {owner!r} must return "
                                f"core.services.people.SearchField, not {type(field).__name__}")
            if not field.key.startswith(owner + "."):
                raise ValueError(f"search field {field.key!r} of plugin {owner!r} must start with {owner + '.'!r}")
            found.append((owner, field))
        _search_field_cache[registry] = found
    return found


def search_fields_for(registry, enabled: frozenset[str] | set[str]) -> dict[str, SearchField]:
    """The search fields of core and of the plugins enabled for an organisation, by key."""
    return {f.key: f for owner, f in declared_search_fields(registry) if owner == "core" or owner in enabled}


# --- normalising --------------------------------------------------------------------------------

def fold(text: str | None) -> str:
    """Lower case without accents and with single spaces: how names are compared and searched."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


SEARCHED = ("first_name", "last_name", "email", "postal_code", "city")


def search_text_of(values: dict) -> str:
    """`search_text` for a person's column values (also rows inserted set-based, which no ORM listener sees)."""
    return fold(" ".join(filter(None, (values.get(key) for key in SEARCHED))))


def search_text_for(person: Person) -> str:
    return search_text_of({key: getattr(person, key) for key in SEARCHED})


def _national_number_birth_date(number: str) -> dt.date | None:
    module = stdnum_nn if stdnum_nn.is_valid(number) else stdnum_bis
    try:
        return module.get_birth_date(number)
    except Exception:  # numbers with an unknown birth date encode none
        return None


def _parse_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value).strip())


def normalise_fields(data: dict, current: Person | None = None, today: dt.date | None = None) -> dict:
    """Validate and normalise person fields; raises DomainError with an error per field at fault.

    `current` is the person being updated (None on create): required names are checked against the
    result, and the national number must agree with the birth date where it encodes one."""
    today = today or dt.date.today()
    errors: dict[str, str] = {}
    clean: dict = {}
    for key, value in data.items():
        if key not in EDITABLE:
            errors[key] = gettext("unknown field")
            continue
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            clean[key] = None
            continue
        try:
            if key in NORMALISERS:
                value = NORMALISERS[key](str(value))
            elif key == "birth_date":
                try:
                    value = _parse_date(value)
                except ValueError:
                    raise ValueError(gettext("not a valid date (YYYY-MM-DD)")) from None
                if value > today:
                    raise ValueError(gettext("a birth date cannot be in the future"))
                if value.year < 1900:
                    raise ValueError(gettext("a birth date before 1900 is not plausible"))
            elif key == "gender":
                value = str(value).upper()
                if value not in GENDERS:
                    raise ValueError(gettext("gender must be M, F or X"))
            elif key == "preferred_language":
                value = str(value).lower()
                if value not in LANGUAGES:
                    raise ValueError(gettext("language must be nl, fr or en"))
            elif key == "country":
                value = str(value).upper()
                if not re.fullmatch(r"[A-Z]{2}", value):
                    raise ValueError(gettext("a country is a two-letter code (BE, NL, FR ...)"))
            else:
                value = str(value)
                if len(value) > MAX_LENGTH.get(key, 255):
                    raise ValueError(gettext("at most %(count)s characters", count=MAX_LENGTH.get(key, 255)))
        except ValueError as exc:
            errors[key] = str(exc)
            continue
        clean[key] = value

    def result(key):
        return clean[key] if key in clean else (getattr(current, key) if current is not None else None)

    for key in ("first_name", "last_name"):
        if key not in errors and (current is None or key in clean) and not result(key):
            errors[key] = gettext("this field is required")
    if result("preferred_language") is None and "preferred_language" in clean:
        clean["preferred_language"] = "nl"
    country = result("country") or "BE"
    postal_code = result("postal_code")
    if country == "BE" and postal_code and "postal_code" not in errors and not re.fullmatch(r"\d{4}", postal_code):
        errors["postal_code"] = gettext("a Belgian postal code has 4 digits")
    number = result("national_number")
    if number and "national_number" not in errors and "birth_date" not in errors:
        encoded = _national_number_birth_date(number)
        birth_date = result("birth_date")
        if encoded is not None:
            if birth_date is None:
                clean["birth_date"] = encoded  # the number says it; spare the admin typing it twice
            elif birth_date != encoded:
                errors["national_number"] = gettext("does not match the birth date")
    if errors:
        raise DomainError(gettext("invalid person data"), errors=errors)
    return clean


# --- visibility ---------------------------------------------------------------------------------

def visible_in(org: Organisation, per_row: bool = False):
    """SQL condition on `Person`: linked to `org` or an organisation below it.

    Core tables, not ORM entities, so the request's scope criteria do not add a second subtree filter.
    `per_row=True` writes the check as a LIMIT-ed scalar subquery, which PostgreSQL cannot turn into a
    semi-join: use it when another condition (a trigram search) selects few people, so that index drives
    the query and each candidate costs one index probe, instead of a walk along the name index."""
    if per_row:
        probe = (sa.select(sa.literal(1)).select_from(_po.join(_org, _org.c.id == _po.c.org_id))
                 .where(_po.c.person_id == Person.id, _org.c.path.like(org.path + "%")).limit(1))
        return probe.scalar_subquery().is_not(None)
    return sa.exists(sa.select(_po.c.id).where(_po.c.person_id == Person.id, _po.c.org_id.in_(subtree_ids(org))))


def visible_person(session: Session, org: Organisation, person_id: int) -> Person:
    """The person if they are visible in `org`; NotFound otherwise (also for people elsewhere)."""
    person = session.execute(sa.select(Person).where(Person.id == person_id, visible_in(org))).scalar_one_or_none()
    if person is None:
        raise NotFound(gettext("person not found"))
    return person


def links_in(session: Session, org: Organisation, person_ids) -> dict[int, list[tuple[int, str]]]:
    """{person_id: [(org_id, org name)]} of the links within `org`'s subtree, in one query."""
    result: dict[int, list[tuple[int, str]]] = {pid: [] for pid in person_ids}
    if not result:
        return result
    rows = session.execute(
        sa.select(_po.c.person_id, _org.c.id, _org.c.name)
        .join(_org, _org.c.id == _po.c.org_id)
        .where(_po.c.person_id.in_(list(result)), _org.c.path.like(org.path + "%"))
        .order_by(_org.c.depth, _org.c.name)
    ).all()
    for person_id, org_id, name in rows:
        result[person_id].append((org_id, name))
    return result


# --- duplicates ---------------------------------------------------------------------------------

def find_by_national_number(session: Session, number: str, exclude_id: int | None = None) -> Person | None:
    query = sa.select(Person).where(Person.national_number == number)
    if exclude_id is not None:
        query = query.where(Person.id != exclude_id)
    return session.execute(query).scalar_one_or_none()


def probable_duplicates(session: Session, first_name: str, last_name: str, birth_date: dt.date | None,
                        exclude_id: int | None = None) -> list[Person]:
    """People with the same first and last name (any case, without accents) and birth date."""
    if birth_date is None:
        return []
    query = sa.select(Person).where(Person.birth_date == birth_date)
    if exclude_id is not None:
        query = query.where(Person.id != exclude_id)
    wanted = (fold(first_name), fold(last_name))
    return [p for p in session.execute(query.order_by(Person.id)).scalars()
            if (fold(p.first_name), fold(p.last_name)) == wanted]


# --- create, update, link ---------------------------------------------------------------------------

def _link(session: Session, person: Person, org: Organisation,
          relation: str = "member") -> tuple[PersonOrganisation, bool]:
    link = session.execute(
        sa.select(PersonOrganisation).where(PersonOrganisation.person_id == person.id,
                                            PersonOrganisation.org_id == org.id),
        execution_options={"federa_unscoped": True},
    ).scalar_one_or_none()
    if link is not None:
        return link, False
    link = PersonOrganisation(person=person, org_id=org.id, relation=relation)
    session.add(link)
    session.flush()
    return link, True


def create_person(session: Session, org: Organisation, data: dict, confirm_duplicate: bool = False) -> Person:
    """Create a person and link them to `org`.

    Same national number as someone else: always refused (Conflict with `existing_person_id`; link that
    person instead). Same name and birth date: refused unless `confirm_duplicate`."""
    data = dict(data)
    custom = data.pop("custom_fields", None)
    errors: dict[str, str] = {}
    try:
        clean = normalise_fields(data)
    except DomainError as exc:
        errors.update(exc.details["errors"])
        clean = {}
    fields = cf.fields_by_key(session, org)
    custom_clean, custom_errors = cf.validate_values(fields, custom, creating=True)
    errors.update(custom_errors)
    if errors:
        raise DomainError(gettext("invalid person data"), errors=errors)
    if clean.get("national_number"):
        existing = find_by_national_number(session, clean["national_number"])
        if existing is not None:
            raise Conflict(gettext("a person with this national number already exists; link them to this organisation "
                                   "instead"), field="national_number", existing_person_id=existing.id)
    if not confirm_duplicate:
        duplicates = probable_duplicates(session, clean["first_name"], clean["last_name"], clean.get("birth_date"))
        if duplicates:
            raise Conflict(gettext("a person with the same name and birth date already exists; confirm to create "
                                   "another one"), field="confirm_duplicate", existing_person_id=duplicates[0].id,
                           existing_person_name=duplicates[0].full_name)
    person = Person(**clean)
    session.add(person)
    session.flush()
    _link(session, person, org)
    cf.store_values(session, person, fields, custom_clean)
    session.flush()
    return person


def update_person(session: Session, org: Organisation, person: Person, data: dict) -> Person:
    """Change some fields (and custom fields that apply in `org`); a national number stays unique."""
    data = dict(data)
    custom = data.pop("custom_fields", None)
    errors: dict[str, str] = {}
    try:
        clean = normalise_fields(data, current=person)
    except DomainError as exc:
        errors.update(exc.details["errors"])
        clean = {}
    fields = cf.fields_by_key(session, org)
    custom_clean, custom_errors = cf.validate_values(fields, custom, creating=False)
    errors.update(custom_errors)
    if errors:
        raise DomainError(gettext("invalid person data"), errors=errors)
    if clean.get("national_number") and clean["national_number"] != person.national_number:
        existing = find_by_national_number(session, clean["national_number"], exclude_id=person.id)
        if existing is not None:
            raise Conflict(gettext("another person has this national number; merge the two records instead"),
                           field="national_number", existing_person_id=existing.id)
    for key, value in clean.items():
        setattr(person, key, value)
    if cf.store_values(session, person, fields, custom_clean):
        person.updated_at = utcnow()  # custom values are part of the record (and of its ETag)
    session.flush()
    return person


def link_person(session: Session, org: Organisation, person_id: int | None = None,
                national_number: str | None = None, first_name: str | None = None, last_name: str | None = None,
                birth_date=None, relation: str = "member") -> tuple[Person, bool]:
    """Make an existing person visible in `org`. Returns (person, whether a new link was made).

    The caller proves they know the person: the national number, or the name and birth date. A
    mismatch answers NotFound, so the endpoint cannot be used to probe who exists."""
    person = None
    if national_number:
        try:
            number = validation.national_number(national_number)
        except ValueError as exc:
            raise DomainError(str(exc), field="national_number") from None
        person = find_by_national_number(session, number)
        if person is not None and person_id is not None and person.id != person_id:
            person = None
    elif person_id is not None and first_name and last_name and birth_date:
        try:
            birth = _parse_date(birth_date)
        except ValueError:
            raise DomainError(gettext("not a valid date (YYYY-MM-DD)"), field="birth_date") from None
        candidate = session.get(Person, person_id)
        if (candidate is not None and candidate.birth_date == birth
                and (fold(candidate.first_name), fold(candidate.last_name)) == (fold(first_name), fold(last_name))):
            person = candidate
    else:
        raise DomainError(gettext("give the national number, or the person's id with their name and birth date"),
                          field="national_number")
    if person is None:
        raise NotFound(gettext("no person matches these details"))
    _, created = _link(session, person, org, relation)
    return person, created


def unlink_person(session: Session, org: Organisation, person: Person) -> None:
    """Remove the person's link to `org` itself; the person and their other links stay."""
    link = session.execute(
        sa.select(PersonOrganisation).where(PersonOrganisation.person_id == person.id,
                                            PersonOrganisation.org_id == org.id),
        execution_options={"federa_unscoped": True},
    ).scalar_one_or_none()
    if link is None:
        raise Conflict(gettext("this person is linked to an organisation below this one; remove the link there"))
    person.links.remove(link)
    session.delete(link)
    session.flush()


# --- the people list ------------------------------------------------------------------------------

def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def text_search(q: str, column=Person.search_text):
    """Every word must occur in `search_text` (or in `column`, a copy of it). Words of 3+ letters match
    anywhere (pg_trgm GIN index on PostgreSQL); shorter ones match the start of a word, which trigrams cannot
    index anyway. Both sides are folded to lower case, so a plain LIKE does (ILIKE lower-cases every candidate
    again)."""
    conditions = []
    for word in fold(q).split():
        escaped = _like_escape(word)
        if len(word) >= 3:
            conditions.append(column.like(f"%{escaped}%", escape="\\"))
        else:
            conditions.append(sa.or_(column.like(f"{escaped}%", escape="\\"),
                                     column.like(f"% {escaped}%", escape="\\")))
    return sa.and_(sa.true(), *conditions)


def people_query(session: Session, org: Organisation, *, q: str | None = None, gender: str | None = None,
                 birth_year: int | None = None, age_min: int | None = None, age_max: int | None = None,
                 birthday_month: int | None = None, postal_code: str | None = None, city: str | None = None,
                 within: int | None = None, custom: dict | None = None, extra: dict | None = None,
                 search_fields: dict[str, SearchField] | None = None, sort: str = "name",
                 today: dt.date | None = None):
    """A select of the people visible in `org`, filtered and sorted (paginate it).

    `within` narrows to an organisation below `org`; `custom` is {custom field key: value} for the
    fields that apply there; `extra` is {search field key: value} for `search_fields` (core's and
    the enabled plugins'). Raises DomainError naming each bad filter."""
    today = today or dt.date.today()
    errors: dict[str, str] = {}
    scope = org
    if within is not None and within != org.id:
        sub = session.get(Organisation, within)
        if sub is None or not sub.path.startswith(org.path):
            errors["org_id"] = gettext("not an organisation below this one")
        else:
            scope = sub
    selective = bool(q) and any(len(word) >= 3 for word in fold(q).split())
    query = sa.select(Person).where(visible_in(scope, per_row=selective))
    if q and q.strip():
        query = query.where(text_search(q))
    if gender:
        if gender.upper() not in GENDERS:
            errors["gender"] = gettext("gender must be M, F or X")
        query = query.where(Person.gender == gender.upper())
    if birth_year is not None:
        query = query.where(Person.birth_date.between(dt.date(birth_year, 1, 1), dt.date(birth_year, 12, 31)))
    if age_min is not None:
        query = query.where(Person.birth_date <= _years_before(today, age_min))
    if age_max is not None:
        query = query.where(Person.birth_date > _years_before(today, age_max + 1))
    if birthday_month is not None:
        query = query.where(sa.extract("month", Person.birth_date) == birthday_month)
    if postal_code:
        query = query.where(Person.postal_code == postal_code.strip())
    if city:
        query = query.where(sa.func.lower(Person.city) == city.strip().lower())
    if custom:
        fields = cf.fields_by_key(session, scope)
        for key, value in custom.items():
            field = fields.get(key)
            if field is None:
                errors[f"cf.{key}"] = gettext("unknown custom field")
                continue
            try:
                query = query.where(cf.filter_condition(field, value))
            except ValueError as exc:
                errors[f"cf.{key}"] = str(exc)
    for key, value in (extra or {}).items():
        field = (search_fields or {}).get(key)
        if field is None:
            errors[key] = gettext("unknown filter")
            continue
        try:
            query = query.where(field.condition(value, scope))
        except ValueError as exc:
            errors[key] = str(exc)
    descending = sort.startswith("-")
    columns = SORTS.get(sort.lstrip("-"))
    if columns is None:
        errors["sort"] = gettext("sort by one of: %(sorts)s (prefix - for descending)", sorts=", ".join(SORTS))
        columns = SORTS["name"]
    if errors:
        raise DomainError(gettext("invalid filter"), errors=errors)
    order = [getattr(Person, c) for c in columns] + [Person.id]
    return query.order_by(*[c.desc() if descending else c.asc() for c in order])


LIST_COLUMNS = ("id", "first_name", "last_name", "birth_date", "gender", "postal_code", "city", "email")


def list_page(session: Session, query, page: int, page_size: int, searching: bool = False) -> dict:
    """One page of `people_query` in the list envelope, loading only the columns a list shows.

    With a text search (`searching`) the total comes with the page (`count(*) OVER ()`), so the search runs
    once. Without one, the page query can stop after `page_size` rows along the name index and a plain
    count is cheaper; a first page that is not full needs no count at all."""
    query = (query.options(load_only(*[getattr(Person, c) for c in LIST_COLUMNS]))
             .limit(page_size).offset((page - 1) * page_size))
    if searching:
        rows = session.execute(query.add_columns(sa.func.count().over().label("total"))).all()
        items = [row[0] for row in rows]
        total = rows[0].total if rows else None
    else:
        items = session.execute(query).scalars().all()
        total = len(items) if page == 1 and len(items) < page_size else None
    if total is None:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.limit(None).offset(None)
                                                                       .order_by(None).subquery()))
    return {"items": items, "total": total, "page": page, "page_size": page_size}


# --- merging --------------------------------------------------------------------------------------

def person_references(metadata=None) -> list[tuple[sa.Table, sa.Column]]:
    """(table, column) of every foreign key to `person.id`, core and plugin tables alike."""
    metadata = metadata if metadata is not None else Base.metadata
    found = []
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "person" and fk.column.name == "id":
                found.append((table, fk.parent))
    return found


def _unique_column_sets(table: sa.Table, column: sa.Column) -> list[list[sa.Column]]:
    """The other columns of every unique key of `table` that includes `column`."""
    sets = []
    keys = [table.primary_key] + [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    keys += [ix for ix in table.indexes if ix.unique]
    for key in keys:
        columns = list(key.columns)
        if column in columns:
            sets.append([c for c in columns if c is not column])
    return sets


def _collision(session: Session, table: sa.Table, column: sa.Column, keep_id: int, remove_id: int) -> bool:
    """Would moving `remove`'s rows onto `keep` break a unique key of `table`?"""
    for others in _unique_column_sets(table, column):
        a, b = table.alias("a"), table.alias("b")
        query = sa.select(sa.literal(1)).select_from(a).join(
            b, sa.and_(sa.true(), *[a.c[c.name] == b.c[c.name] for c in others])
        ).where(a.c[column.name] == remove_id, b.c[column.name] == keep_id).limit(1)
        if session.execute(query).first():
            return True
    return False


def check_mergeable(session: Session, keep: Person, remove: Person) -> None:
    if keep.id == remove.id:
        raise DomainError(gettext("choose two different people"), field="other_person_id")
    logins = session.execute(sa.select(sa.func.count()).select_from(User)
                             .where(User.person_id.in_([keep.id, remove.id]))).scalar()
    if logins >= 2:
        raise Conflict(gettext("both people have a login; remove one of the logins first"), field="other_person_id")
    if keep.national_number and remove.national_number and keep.national_number != remove.national_number:
        raise Conflict(gettext("the two people have different national numbers; they are not the same person"),
                       field="other_person_id")


def merge_preview(session: Session, keep: Person, remove: Person) -> dict:
    """What a merge would do: fields filled on `keep` and rows moved per table."""
    check_mergeable(session, keep, remove)
    filled = {key: getattr(remove, key) for key in MERGE_FILL
              if getattr(keep, key) in (None, "") and getattr(remove, key) not in (None, "")}
    moved = {}
    for table, column in person_references():
        if table.name == "person" and column.name == "merged_into_id":
            continue
        count = session.execute(sa.select(sa.func.count()).select_from(table)
                                .where(column == remove.id)).scalar()
        if count:
            moved[table.name] = count
    return {"filled": filled, "moved": moved}


def merge_people(session: Session, keep: Person, remove: Person) -> Person:
    """Fold `remove` into `keep` and delete `remove`.

    Every reference moves: links (a link to an organisation both have is kept once), custom values
    (`keep`'s value wins), the login account, and rows of plugin tables. Empty fields of `keep` are
    filled from `remove`. Records an audit entry and sends `person.merged` to the plugins enabled in
    each organisation `keep` is linked to. Refused for two logins or two different national numbers,
    and when a plugin table holds rows for both that a unique key forbids combining."""
    check_mergeable(session, keep, remove)
    keep_id, remove_id = keep.id, remove.id
    generic = [(t, c) for t, c in person_references() if t.name not in EXPLICIT_REFERENCES]
    for table, column in generic:
        if table.name != "person" and _collision(session, table, column, keep_id, remove_id):
            raise Conflict(gettext("both people have rows in %(table)s that cannot be combined; resolve that first",
                                   table=table.name),
                           field="other_person_id", table=table.name)
    filled = {}
    for key in MERGE_FILL:
        if getattr(keep, key) in (None, "") and getattr(remove, key) not in (None, ""):
            filled[key] = getattr(remove, key)
    if "national_number" in filled:
        remove.national_number = None  # unique: free it before `keep` takes it
        session.flush()
    for key, value in filled.items():
        setattr(keep, key, value)

    keep_orgs = {link.org_id for link in keep.links}
    for link in list(remove.links):
        if link.org_id in keep_orgs:
            remove.links.remove(link)
            session.delete(link)
        else:
            link.person = keep
            keep_orgs.add(link.org_id)
    keep_fields = set(session.execute(sa.select(CustomFieldValue.field_id)
                                      .where(CustomFieldValue.person_id == keep_id)).scalars())
    for value in session.execute(sa.select(CustomFieldValue).where(CustomFieldValue.person_id == remove_id)).scalars():
        if value.field_id in keep_fields:
            session.delete(value)
        else:
            value.person_id = keep_id
    user = session.execute(sa.select(User).where(User.person_id == remove_id)).scalar_one_or_none()
    if user is not None:
        user.person = keep
    session.flush()

    moved: dict[str, int] = {}
    for table, column in generic:
        result = session.execute(sa.update(table).where(column == remove_id).values({column.name: keep_id}))
        if result.rowcount:
            moved[table.name] = result.rowcount
    # Plugin rows loaded before the bulk updates must not be flushed back with the old person.
    for obj in list(session.identity_map.values()):
        if obj is not keep and obj is not remove and any(
                getattr(obj, "__tablename__", None) == t.name for t, _ in generic):
            session.expire(obj)

    from core.audit import _actor  # the same "who" as every other audit entry

    user_id, org_id, ip = _actor()
    session.add(AuditLog(user_id=user_id, org_id=org_id, action="merge", entity_type="person",
                         entity_id=str(keep_id), person_id=keep_id, ip=ip,
                         changes={"removed_person_id": remove_id, "kept_person_id": keep_id,
                                  "filled": sorted(filled), "moved": moved}))
    session.delete(remove)
    session.flush()

    from core.gates import call_org_hook

    linked = session.execute(sa.select(Organisation).join(_po, _po.c.org_id == Organisation.id)
                             .where(_po.c.person_id == keep_id)).scalars().all()
    payload = {"kept_person_id": keep_id, "removed_person_id": remove_id}
    for org in linked:
        call_org_hook("on_event", org, event="person.merged", payload=payload)
    return keep
