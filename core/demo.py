"""Demo data: a federation with 3 regions and 30 clubs, about 3,000 people, two packages and four logins.

`load_demo_data()` is what `federa demo-data` runs. It is idempotent: every row is looked up by a
stable key first (KBO number for organisations, national register number for people, e-mail for
logins, key for packages and custom fields), so a second run changes nothing.

The data are generated from a fixed seed and a fixed reference year, so person N is the same person
on every run and on every machine; `people=300` loads the first 300 of the same 3,000 (tests).
Identifiers are computed with their real check digits (KBO mod 97, IBAN mod 97 and the Belgian
account check, national register number mod 97), so python-stdnum accepts every one of them.

People, their links and custom field values are written with bulk Core inserts, which the audit
listener does not see: loading demo data is not a user's change.
"""
from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from core.auth import hash_password
from core.db import db, unscoped
from core.models import (CustomField, CustomFieldValue, Organisation, Package, Person, PersonOrganisation,
                         RoleAssignment, Subscription, User)
from core.permissions import CLUB_ADMIN, CLUB_CONTACT, FEDERATION_SECRETARIAT, MEMBER, PLATFORM_ADMIN
from core.reference_data import ensure_reference_data
from core.services.custom_fields import create_field
from core.services.organisations import create_organisation
from core.services.people import search_text_for
from core.services.users import assign_role, builtin_role, create_user

DEMO_PASSWORD = "demo"
SEED = 20250101
# Ages are computed against a fixed date, never today: person N keeps the same national number.
REFERENCE_DATE = dt.date(2025, 1, 1)
SUBSCRIPTIONS_START = dt.date(2024, 1, 1)
EMAIL_DOMAIN = "example.be"

FEDERATION_NAME = "Vlaamse Sportfederatie Demo"
FEDERATION = {
    "short_name": "VSF Demo", "street": "Zuiderlaan 13",
    "postal_code": "9000", "city": "Gent", "email": "info@vsf-demo.example.be", "website": "https://vsf-demo.example.be",
    "legal_form": "vzw",
}

# (region name, short name, [(town, postal code), ...]): real Flemish towns and their postal codes.
REGIONS = [
    ("Regio Antwerpen", "Antwerpen", [
        ("Antwerpen", "2000"), ("Mechelen", "2800"), ("Lier", "2500"), ("Turnhout", "2300"), ("Mol", "2400"),
        ("Geel", "2440"), ("Herentals", "2200"), ("Boom", "2850"), ("Kapellen", "2950"), ("Brasschaat", "2930"),
    ]),
    ("Regio Oost- en West-Vlaanderen", "Vlaanderen", [
        ("Gent", "9000"), ("Aalst", "9300"), ("Sint-Niklaas", "9100"), ("Oudenaarde", "9700"), ("Brugge", "8000"),
        ("Kortrijk", "8500"), ("Oostende", "8400"), ("Roeselare", "8800"), ("Ieper", "8900"), ("Eeklo", "9900"),
    ]),
    ("Regio Vlaams-Brabant en Limburg", "Brabant-Limburg", [
        ("Leuven", "3000"), ("Vilvoorde", "1800"), ("Tienen", "3300"), ("Aarschot", "3200"), ("Halle", "1500"),
        ("Hasselt", "3500"), ("Genk", "3600"), ("Sint-Truiden", "3800"), ("Tongeren", "3700"), ("Beringen", "3580"),
    ]),
]

SPORTS = [("Volleybalclub", "VBC"), ("Basketbalclub", "BBC"), ("Atletiekclub", "AC"), ("Tennisclub", "TC"),
          ("Zwemclub", "ZC"), ("Judoclub", "JC"), ("Turnkring", "TK"), ("Badmintonclub", "BC"),
          ("Wielerclub", "WC"), ("Hockeyclub", "HC")]

# Belgian bank codes (first 3 digits of the account) of the banks clubs typically use; BIC from stdnum's table.
BANK_CODES = ["001", "068", "363", "734", "103", "973", "751", "063"]

FIRST_NAMES_NL = {
    "M": ["Lucas", "Louis", "Arthur", "Noah", "Liam", "Jules", "Finn", "Mats", "Vic", "Warre", "Lars", "Wout",
          "Stan", "Seppe", "Jonas", "Thomas", "Pieter", "Jan", "Koen", "Bart", "Tom", "Wim", "Dirk", "Geert",
          "Peter", "Luc", "Marc", "Jef", "Stijn", "Jens", "Tibo", "Robbe", "Kobe", "Senne", "Bram", "Nathan",
          "Milan", "Ruben", "Maarten", "Dries"],
    "F": ["Emma", "Olivia", "Louise", "Mila", "Nora", "Lena", "Elena", "Marie", "Julie", "Lotte", "Fien", "Hanne",
          "Lore", "Sara", "Laura", "Eline", "Charlotte", "Ellen", "Nele", "Ann", "Els", "Kathleen", "Sofie",
          "Katrien", "Inge", "Griet", "Lies", "Anke", "Femke", "Jana", "Jolien", "Margot", "Noor", "Liv", "Roos",
          "Saar", "Tine", "Veerle", "Hilde", "Marleen"],
}
FIRST_NAMES_FR = {
    "M": ["Gabriel", "Hugo", "Mathis", "Théo", "Maxime", "Nicolas", "Julien", "Antoine", "Sébastien", "Olivier",
          "François", "Pierre", "Benoît", "Jérôme", "Cédric", "Quentin"],
    "F": ["Chloé", "Manon", "Camille", "Léa", "Juliette", "Zoé", "Amélie", "Céline", "Isabelle", "Nathalie",
          "Sophie", "Aurélie", "Élise", "Margaux", "Hélène", "Valérie"],
}
LAST_NAMES_NL = [
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet",
    "Vermeulen", "Van den Broeck", "Hermans", "Aerts", "Pauwels", "Van Damme", "De Clercq", "Desmet", "Verhoeven",
    "Lambrechts", "Martens", "Vandenberghe", "Van de Velde", "Michiels", "Smets", "Coppens", "De Backer",
    "Verstraete", "Hendrickx", "Bogaerts", "Vervoort", "Verbruggen", "Van Acker", "De Wilde", "Cools", "Segers",
    "Stevens", "Wuyts", "Van Hecke", "Timmermans", "Thys", "Dierckx", "Moens", "Verheyen", "Geerts", "Claeys",
    "De Vos", "Van Dyck", "Baert", "D'Hondt",
]
LAST_NAMES_FR = ["Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Leclercq", "Dumont", "Lejeune",
                 "Renard", "Denis", "François", "Leroy", "Gilson", "Collignon", "Piron", "Mathieu", "Lemaire",
                 "Dupuis", "Henrard"]
STREETS = ["Kerkstraat", "Stationsstraat", "Dorpsstraat", "Molenstraat", "Schoolstraat", "Nieuwstraat",
           "Kapelstraat", "Beekstraat", "Veldstraat", "Lindelaan", "Kouter", "Hoogstraat", "Meersstraat",
           "Bosstraat", "Heidestraat", "Broekstraat", "Populierenlaan", "Eikenlaan", "Kastanjelaan",
           "Sint-Jansstraat", "Marktplein", "Leopoldlaan", "Koning Albertstraat", "Gildestraat"]
TSHIRT_SIZES = ["XS", "S", "M", "L", "XL", "XXL"]

# Indexes into the 30 clubs (region-major): which clubs buy the full package, where the demo logins work.
COMPLETE_CLUBS = (0, 3, 12, 15, 21, 27)
FIRST_CLUB = 0  # the club admin is its contact person; the member belongs here
SECOND_CLUB = 10  # the club admin is also an admin here (another region, only the basic package)


# --- identifiers with real check digits ----------------------------------------------------------

def kbo_number(seq: int) -> str:
    """A 10-digit enterprise number: 8 digits starting with 0, then 97 - (those 8 digits mod 97)."""
    base = 8_000_000 + seq * 7_919  # spread out, below 1e8, first digit 0
    return f"{base:08d}{97 - base % 97:02d}"


def v_code(seq: int) -> str:
    return f"V{1_000_000 + seq:07d}"


def belgian_iban(bank_code: str, account: int) -> str:
    """BE + IBAN check + bank code (3) + account (7) + Belgian check (first 10 digits mod 97, 0 → 97)."""
    first10 = f"{bank_code}{account:07d}"
    national = int(first10) % 97 or 97
    bban = f"{first10}{national:02d}"
    # ISO 13616: move "BE00" to the end, letters to numbers (B=11, E=14), check = 98 - (n mod 97).
    check = 98 - int(f"{bban}1114" + "00") % 97
    return f"BE{check:02d}{bban}"


def bic_for(iban: str) -> str:
    from stdnum.be import iban as be_iban

    return be_iban.to_bic(iban)


def national_number(birth: dt.date, serial: int) -> str:
    """YYMMDD + serial (odd for men, even for women) + 97 - (number mod 97); a '2' is prefixed from 2000 on."""
    body = f"{birth:%y%m%d}{serial:03d}"
    value = int(("2" if birth.year >= 2000 else "") + body)
    return f"{body}{97 - value % 97:02d}"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum() or ch == "-")


# --- the organisation tree ------------------------------------------------------------------------

@dataclass(frozen=True)
class ClubSpec:
    seq: int
    region: int
    name: str
    short_name: str
    town: str
    postal_code: str


def club_specs() -> list[ClubSpec]:
    specs = []
    for r, (_, _, towns) in enumerate(REGIONS):
        for i, (town, postal_code) in enumerate(towns):
            sport, short = SPORTS[(i + 3 * r) % len(SPORTS)]
            specs.append(ClubSpec(len(specs), r, f"{sport} {town}", f"{short} {town}", town, postal_code))
    return specs


def _org_fields(seq: int, slug: str, phone_rng: random.Random) -> dict:
    bank = BANK_CODES[seq % len(BANK_CODES)]
    iban = belgian_iban(bank, 1_000_000 + seq * 104_729 % 8_999_999)
    return {
        "kbo_number": kbo_number(seq), "v_code": v_code(seq), "iban": iban, "bic": bic_for(iban),
        "email": f"secretariaat@{slug}.{EMAIL_DOMAIN}", "website": f"https://{slug}.{EMAIL_DOMAIN}",
        "phone": _mobile(phone_rng), "legal_form": "vzw",
    }


def _mobile(rng: random.Random) -> str:
    return f"+324{rng.choice('789')}{rng.randrange(10_000_000):07d}"


def _ensure_org(session: Session, name: str, kind: str, parent: Organisation | None, **fields) -> tuple[Organisation, bool]:
    org = session.execute(sa.select(Organisation).where(Organisation.kbo_number == fields["kbo_number"])).scalar_one_or_none()
    if org is not None:
        return org, False
    return create_organisation(session, name=name, kind=kind, parent=parent, **fields), True


def _ensure_tree(session: Session) -> tuple[Organisation, list[Organisation], list[Organisation], int]:
    rng = random.Random(SEED + 1)
    created = 0
    federation, new = _ensure_org(session, FEDERATION_NAME, "federation", None,
                                  **{**_org_fields(0, "vsf-demo", rng), **FEDERATION})
    created += new
    regions = []
    for r, (name, short, towns) in enumerate(REGIONS):
        town, postal_code = towns[0]  # the regional office sits in the region's first town
        region, new = _ensure_org(session, name, "region", federation, short_name=f"VSF {short}",
                                  street=f"{STREETS[r]} {10 + r}", postal_code=postal_code, city=town,
                                  **_org_fields(1 + r, f"vsf-{_ascii(short)}", rng))
        regions.append(region)
        created += new
    clubs = []
    for spec in club_specs():
        street = f"{STREETS[spec.seq % len(STREETS)]} {1 + spec.seq * 7 % 120}"
        club, new = _ensure_org(session, spec.name, "club", regions[spec.region], short_name=spec.short_name,
                                street=street, postal_code=spec.postal_code, city=spec.town,
                                **_org_fields(10 + spec.seq, _ascii(spec.short_name.replace(" ", "-")), rng))
        clubs.append(club)
        created += new
    return federation, regions, clubs, created


# --- people -----------------------------------------------------------------------------------------

def _birth_date(rng: random.Random) -> dt.date:
    """Sports clubs are young: half the members are 6-18, a third 19-45, the rest up to 80."""
    roll = rng.random()
    age = rng.randint(6, 18) if roll < 0.5 else rng.randint(19, 45) if roll < 0.82 else rng.randint(46, 80)
    return REFERENCE_DATE - dt.timedelta(days=age * 365 + rng.randrange(365))


def generate_people(count: int, clubs: list[ClubSpec]) -> list[dict]:
    """`count` people, each with the index of their club (and sometimes a second club); same output every run."""
    rng = random.Random(SEED)
    used_numbers: set[str] = set()
    used_emails: set[str] = set()
    people = []
    for n in range(count):
        gender = "M" if rng.random() < 0.5 else "F"
        french = rng.random() < 0.15
        first = rng.choice((FIRST_NAMES_FR if french else FIRST_NAMES_NL)[gender])
        last = rng.choice(LAST_NAMES_FR if french else LAST_NAMES_NL)
        birth = _birth_date(rng)
        serial = rng.randrange(1, 997)
        serial += (serial % 2 == 0) if gender == "M" else (serial % 2 == 1)  # men odd, women even
        number = national_number(birth, serial)
        while number in used_numbers:
            serial = serial + 2 if serial + 2 <= 998 else 1 + (gender == "F")
            number = national_number(birth, serial)
        used_numbers.add(number)
        club = rng.randrange(len(clubs))
        second = rng.randrange(len(clubs)) if rng.random() < 0.03 else None
        if second == club:
            second = None
        local = f"{_ascii(first)}.{_ascii(last)}"
        email = f"{local}@{EMAIL_DOMAIN}"
        suffix = 2
        while email in used_emails:
            email = f"{local}{suffix}@{EMAIL_DOMAIN}"
            suffix += 1
        used_emails.add(email)
        town = clubs[club]
        minor = (REFERENCE_DATE - birth).days < 18 * 365
        person = {
            "first_name": first, "last_name": last, "birth_date": birth, "gender": gender,
            "national_number": number,
            "street": rng.choice(STREETS), "house_number": str(rng.randint(1, 180)),
            "box": str(rng.randint(1, 4)) if rng.random() < 0.1 else None,
            "postal_code": town.postal_code, "city": town.town, "country": "BE",
            "email": email, "mobile": _mobile(rng), "preferred_language": "fr" if french else "nl",
            "emergency_contact_name": None, "emergency_contact_phone": None,
        }
        if minor or rng.random() < 0.2:
            parent_first = rng.choice((FIRST_NAMES_FR if french else FIRST_NAMES_NL)[rng.choice("MF")])
            person["emergency_contact_name"] = f"{parent_first} {last}"
            person["emergency_contact_phone"] = _mobile(rng)
        tshirt = rng.choice(TSHIRT_SIZES) if rng.random() < 0.6 else None
        certificate = (REFERENCE_DATE + dt.timedelta(days=rng.randrange(30, 700))) if rng.random() < 0.5 else None
        person["search_text"] = search_text_for(SimpleNamespace(**person))
        people.append({"person": person, "club": club, "second_club": second, "tshirt": tshirt,
                       "certificate": certificate})
    return people


def _ensure_people(session: Session, generated: list[dict], clubs: list[Organisation]) -> tuple[int, int]:
    """Insert the people that are missing (by national number), then their missing links. Returns (people, links)."""
    numbers = [g["person"]["national_number"] for g in generated]
    existing = _ids_by_number(session, numbers)
    missing = [g["person"] for g in generated if g["person"]["national_number"] not in existing]
    for start in range(0, len(missing), 1000):
        session.execute(sa.insert(Person), missing[start:start + 1000])
    ids = _ids_by_number(session, numbers) if missing else existing
    wanted = set()
    for g in generated:
        pid = ids[g["person"]["national_number"]]
        wanted.add((pid, clubs[g["club"]].id))
        if g["second_club"] is not None:
            wanted.add((pid, clubs[g["second_club"]].id))
    have = set(session.execute(
        sa.select(PersonOrganisation.person_id, PersonOrganisation.org_id)
        .where(PersonOrganisation.org_id.in_([c.id for c in clubs]))
    ).all())
    links = [{"person_id": pid, "org_id": oid, "relation": "member"} for pid, oid in sorted(wanted - have)]
    if links:
        session.execute(sa.insert(PersonOrganisation), links)
    return len(missing), len(links)


def _ids_by_number(session: Session, numbers: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(numbers), 1000):
        chunk = numbers[start:start + 1000]
        found.update(session.execute(
            sa.select(Person.national_number, Person.id).where(Person.national_number.in_(chunk))
        ).all())
    return found


# --- custom fields -----------------------------------------------------------------------------------

def _ensure_field(session: Session, org: Organisation, key: str, **attrs) -> CustomField:
    field = session.execute(
        sa.select(CustomField).where(CustomField.org_id == org.id, CustomField.key == key)
    ).scalar_one_or_none()
    return field or create_field(session, org, key, **attrs)


def _ensure_field_values(session: Session, generated: list[dict], federation: Organisation,
                         first_club: Organisation, clubs: list[Organisation]) -> int:
    tshirt = _ensure_field(session, federation, "tshirt_size", label="T-shirtmaat", field_type="choice",
                           choices=TSHIRT_SIZES, position=10)
    certificate = _ensure_field(session, first_club, "medical_certificate_until",
                                label="Medisch attest geldig tot", field_type="date", position=20)
    ids = _ids_by_number(session, [g["person"]["national_number"] for g in generated])
    wanted: dict[tuple[int, int], str] = {}
    for g in generated:
        pid = ids[g["person"]["national_number"]]
        if g["tshirt"]:
            wanted[(tshirt.id, pid)] = g["tshirt"]
        if g["certificate"] and clubs[g["club"]].id == first_club.id:
            wanted[(certificate.id, pid)] = g["certificate"].isoformat()
    have = set(session.execute(
        sa.select(CustomFieldValue.field_id, CustomFieldValue.person_id)
        .where(CustomFieldValue.field_id.in_([tshirt.id, certificate.id]))
    ).all())
    rows = [{"field_id": f, "person_id": p, "value": v} for (f, p), v in sorted(wanted.items()) if (f, p) not in have]
    if rows:
        session.execute(sa.insert(CustomFieldValue), rows)
    return len(rows)


# --- packages -------------------------------------------------------------------------------------------

PACKAGES = [
    ("basis", "Basis", "Ledenbeheer", ["membership"]),
    ("compleet", "Compleet", "Ledenbeheer, facturatie, documenten en nieuws",
     ["membership", "billing", "documents", "news"]),
]


def _ensure_packages(session: Session, federation: Organisation, clubs: list[Organisation]) -> int:
    packages = {}
    for key, name, description, plugins in PACKAGES:
        package = session.execute(sa.select(Package).where(Package.key == key)).scalar_one_or_none()
        if package is None:
            package = Package(key=key, name=name, description=description, plugins=plugins)
            session.add(package)
            session.flush()
        packages[key] = package
    wanted = [(federation, packages["basis"], True)]
    wanted += [(clubs[i], packages["compleet"], False) for i in COMPLETE_CLUBS]
    created = 0
    for org, package, include_descendants in wanted:
        exists = session.execute(sa.select(Subscription.id).where(
            Subscription.org_id == org.id, Subscription.package_id == package.id)).first()
        if not exists:
            session.add(Subscription(org_id=org.id, package_id=package.id, starts_on=SUBSCRIPTIONS_START,
                                     include_descendants=include_descendants))
            created += 1
    session.flush()
    return created


# --- logins ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Login:
    email: str
    first_name: str
    last_name: str
    birth_date: dt.date | None = None
    gender: str | None = None
    serial: int = 0


LOGINS = {
    "admin": Login("admin@demo.federa.be", "Pieter", "Claes"),
    "secretariat": Login("secretariaat@demo.federa.be", "Sofie", "Maes", dt.date(1985, 9, 21), "F", 112),
    "clubadmin": Login("clubadmin@demo.federa.be", "Koen", "Wouters", dt.date(1978, 3, 2), "M", 57),
    "member": Login("lid@demo.federa.be", "Lotte", "Peeters", dt.date(2001, 5, 14), "F", 208),
}


def _ensure_login(session: Session, login: Login, org: Organisation | None, password_hash: str) -> tuple[User, bool]:
    user = session.execute(sa.select(User).where(User.email == login.email)).scalar_one_or_none()
    if user is not None:
        return user, False
    number = national_number(login.birth_date, login.serial) if login.birth_date else None
    person = None
    if number:
        person = session.execute(sa.select(Person).where(Person.national_number == number)).scalar_one_or_none()
    if person is None:
        person = Person(first_name=login.first_name, last_name=login.last_name, birth_date=login.birth_date,
                        gender=login.gender, national_number=number, email=login.email,
                        postal_code=org.postal_code if org is not None else None,
                        city=org.city if org is not None else None)
        person.search_text = search_text_for(person)
        session.add(person)
        session.flush()
    user = create_user(session, person, login.email)
    user.password_hash = password_hash
    return user, True


def _ensure_link(session: Session, person_id: int, org: Organisation, relation: str = "member") -> None:
    exists = session.execute(sa.select(PersonOrganisation.id).where(
        PersonOrganisation.person_id == person_id, PersonOrganisation.org_id == org.id)).first()
    if not exists:
        session.add(PersonOrganisation(person_id=person_id, org_id=org.id, relation=relation))


def _ensure_logins(session: Session, federation: Organisation, clubs: list[Organisation]) -> int:
    first, second = clubs[FIRST_CLUB], clubs[SECOND_CLUB]
    # "demo" is below the password policy (demo data only). One hash for all four: argon2 is slow on purpose.
    existing = set(session.execute(sa.select(User.email).where(
        User.email.in_([login.email for login in LOGINS.values()]))).scalars())
    password_hash = hash_password(DEMO_PASSWORD) if len(existing) < len(LOGINS) else ""
    admin, new_admin = _ensure_login(session, LOGINS["admin"], None, password_hash)
    secretariat, new_secretariat = _ensure_login(session, LOGINS["secretariat"], federation, password_hash)
    clubadmin, new_clubadmin = _ensure_login(session, LOGINS["clubadmin"], first, password_hash)
    member, new_member = _ensure_login(session, LOGINS["member"], first, password_hash)
    _ensure_link(session, secretariat.person_id, federation, relation="staff")
    _ensure_link(session, clubadmin.person_id, first)
    _ensure_link(session, clubadmin.person_id, second)
    _ensure_link(session, member.person_id, first)
    for user, role, org in [(admin, PLATFORM_ADMIN, None), (secretariat, FEDERATION_SECRETARIAT, federation),
                            (clubadmin, CLUB_CONTACT, first), (clubadmin, CLUB_ADMIN, second),
                            (member, MEMBER, first)]:
        assign_role(session, user, builtin_role(session, role), org)
    session.flush()
    return sum((new_admin, new_secretariat, new_clubadmin, new_member))


# --- entry point ---------------------------------------------------------------------------------------------

def load_demo_data(people: int = 3000, session: Session | None = None) -> str:
    """Load (or complete) the demo data and commit; returns a one-line summary. Needs an app context."""
    session = session or db.session
    with unscoped(session):
        ensure_reference_data(session)
        federation, regions, clubs, new_orgs = _ensure_tree(session)
        generated = generate_people(people, club_specs())
        new_people, new_links = _ensure_people(session, generated, clubs)
        new_values = _ensure_field_values(session, generated, federation, clubs[FIRST_CLUB], clubs)
        new_subscriptions = _ensure_packages(session, federation, clubs)
        new_logins = _ensure_logins(session, federation, clubs)
        session.commit()
        plugin_summaries = [summary for summary in current_app.extensions["federa"].plugins.pm.hook.load_demo_data(
            session=session, federation=federation) if summary]
        session.commit()
        total_people = session.scalar(sa.select(sa.func.count()).select_from(Person))
    created = (f"{new_orgs} organisations, {new_people} people, {new_links} club links, {new_values} field values, "
               f"{new_subscriptions} subscriptions, {new_logins} logins")
    return (f"Demo data ready: {federation.name} with {len(regions)} regions, {len(clubs)} clubs and "
            f"{total_people} people (created now: {created}). "
            + "".join(f" {summary}." for summary in plugin_summaries)
            + f" Logins (password '{DEMO_PASSWORD}'): " + ", ".join(login.email for login in LOGINS.values()))
