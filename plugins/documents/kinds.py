"""Document kinds: what a kind of document offers to its templates and what it needs from a member.

Plugins offer kinds through the `register_document_kinds` hook (a list of `DocumentKind`); this module
ships three: the health-insurer sport certificate, the digital member card and a free letter.
`DocumentKind` would move to core if a second plugin (billing's tax certificate) needs it.
"""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer

from core.models import Organisation, Person
from core.services import DomainError

UNSCOPED = {"federa_unscoped": True}
CARD_SALT = "documents.member-card"


@dataclass(frozen=True)
class DocumentKind:
    """A kind of document.

    `build(session, org, person, options, cache)` returns the template context for one person;
    `missing(context)` lists what the person lacks for this kind (empty: a document can be made);
    `sample()` is the context of the live preview; `variables` are the names templates may use."""

    key: str
    label: str
    variables: tuple[str, ...]
    build: Callable[..., dict]
    missing: Callable[[dict], list[str]]
    sample: Callable[[], dict]
    default_html: Callable[[str], str]
    page_css: str = "@page { size: A4; margin: 18mm; }"
    default_css: str = ""
    title: Callable[[dict], str] = field(default=lambda ctx: "Document")
    # Options a batch request may carry for this kind.
    options: tuple[str, ...] = ()


# --- shared context ---------------------------------------------------------------------------------

def _address(obj) -> str:
    street = " ".join(x for x in (obj.street, getattr(obj, "house_number", None)) if x)
    if getattr(obj, "box", None):
        street += f" bus {obj.box}"
    city = " ".join(x for x in (obj.postal_code, obj.city) if x)
    return ", ".join(x for x in (street, city) if x)


def _fmt_date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _org_context(org: Organisation) -> dict:
    return {"name": org.name, "short_name": org.short_name or org.name, "kbo": org.kbo_number or "",
            "address": _address(org), "email": org.email or ""}


def _person_context(person: Person) -> dict:
    return {"id": person.id, "name": person.full_name, "first_name": person.first_name,
            "last_name": person.last_name, "birth_date": _fmt_date(person.birth_date),
            "national_number": person.national_number or "", "address": _address(person)}


def _federation(session, org: Organisation, cache: dict) -> Organisation:
    from plugins.membership.services import federation_of

    key = ("federation", org.id)
    if key not in cache:
        cache[key] = federation_of(session, org)
    return cache[key]


def _membership(session, org: Organisation, person: Person, season, cache: dict):
    """The person's membership in `org`'s subtree that runs during `season` (None without one)."""
    from plugins.membership.models import Membership, MembershipType

    stmt = (sa.select(Membership, MembershipType.name, Organisation)
            .join(MembershipType, MembershipType.id == Membership.type_id)
            .join(Organisation, Organisation.id == Membership.org_id)
            .where(Membership.person_id == person.id, Organisation.path.like(org.path + "%"),
                   Membership.status != "pending"))
    if season is not None:
        stmt = stmt.where(Membership.starts_on <= season.ends_on,
                          sa.or_(Membership.ends_on.is_(None), Membership.ends_on >= season.starts_on))
    row = session.execute(stmt.order_by(Membership.starts_on.desc()), execution_options=UNSCOPED).first()
    return row


def season_for(session, org: Organisation, options: dict, cache: dict):
    """The season of a batch: `options["season_id"]`, else the current one of the federation."""
    from plugins.membership import services as ms

    key = ("season", org.id, options.get("season_id"))
    if key not in cache:
        if options.get("season_id"):
            cache[key] = ms.get_season(session, org, int(options["season_id"]))
        else:
            cache[key] = ms.current_season(session, org)
    return cache[key]


def _sport(session, org: Organisation, cache: dict) -> str:
    from core.settings import get_setting

    key = ("sport", org.id)
    if key not in cache:
        registry = current_app.extensions["federa"].settings
        cache[key] = get_setting(session, registry, org, "documents.sport") or ""
    return cache[key]


# --- payment: replaceable until billing exists ---------------------------------------------------------

def billing_payment(session, membership, season) -> tuple[Decimal, dt.date] | None:
    """(amount, last payment date) of the paid invoice billing made for this membership and season."""
    registry = current_app.extensions["federa"].plugins
    if "billing" not in registry or membership is None or season is None:
        return None
    from core.gates import is_enabled
    from plugins.billing.models import Invoice, MembershipCharge, Payment

    club = session.get(Organisation, membership.org_id)
    if club is None or not is_enabled(club, "billing"):
        return None
    row = session.execute(
        sa.select(Invoice.amount_paid, sa.func.max(Payment.paid_on))
        .join(MembershipCharge, MembershipCharge.invoice_id == Invoice.id)
        .join(Payment, Payment.invoice_id == Invoice.id)
        .where(MembershipCharge.membership_id == membership.id, MembershipCharge.season_id == season.id,
               Invoice.status == "paid")
        .group_by(Invoice.id, Invoice.amount_paid).order_by(Invoice.id.desc()),
        execution_options=UNSCOPED).first()
    return (Decimal(row[0]), row[1]) if row and row[1] else None


def payment_for(session, membership, person: Person, options: dict, season=None) -> tuple[Decimal, dt.date] | None:
    """(amount, payment date) of the membership fee for the season, or None when it is not known to be paid.

    A paid invoice of the billing module (where it is enabled) counts first; otherwise the batch request
    says it: per person in `options["payments"][person_id] = {"amount", "paid_on"}`, or for everyone in
    `amount_paid` + `paid_on`. This is the one place that decides "paid"; replace it when the rule changes."""
    billed = billing_payment(session, membership, season)
    if billed is not None:
        return billed
    per_person = (options.get("payments") or {}).get(str(person.id)) or {}
    amount = per_person.get("amount", options.get("amount_paid"))
    paid_on = per_person.get("paid_on", options.get("paid_on"))
    if amount in (None, "") or not paid_on:
        return None
    try:
        amount = Decimal(str(amount))
        day = paid_on if isinstance(paid_on, dt.date) else dt.date.fromisoformat(str(paid_on))
    except (InvalidOperation, ValueError):
        return None
    if amount <= 0:
        return None
    return amount, day


def check_options(kind: DocumentKind, options: dict) -> dict:
    """Clean batch options; raises DomainError with field errors."""
    errors = {}
    unknown = sorted(set(options) - set(kind.options))
    for name in unknown:
        errors[f"options.{name}"] = "unknown option for this kind"
    clean = {k: v for k, v in options.items() if k in kind.options}
    if "amount_paid" in clean and clean["amount_paid"] not in (None, ""):
        try:
            if Decimal(str(clean["amount_paid"])) <= 0:
                errors["options.amount_paid"] = "must be more than 0"
            clean["amount_paid"] = str(Decimal(str(clean["amount_paid"])))
        except InvalidOperation:
            errors["options.amount_paid"] = "not a number"
    if clean.get("paid_on"):
        try:
            dt.date.fromisoformat(str(clean["paid_on"]))
        except ValueError:
            errors["options.paid_on"] = "not a valid date (YYYY-MM-DD)"
    if "payments" in clean and not isinstance(clean["payments"], dict):
        errors["options.payments"] = "an object {person_id: {amount, paid_on}}"
    if "season_id" in clean and clean["season_id"] is not None:
        try:
            clean["season_id"] = int(clean["season_id"])
        except (TypeError, ValueError):
            errors["options.season_id"] = "not a number"
    for name in ("subject", "body"):
        if name in clean and (not isinstance(clean[name], str) or len(clean[name]) > 5000):
            errors[f"options.{name}"] = "text of at most 5000 characters"
    if errors:
        raise DomainError("invalid options", errors=errors)
    return clean


# --- sport certificate -------------------------------------------------------------------------------------

def _certificate_context(session, org, person, options, cache) -> dict:
    season = season_for(session, org, options, cache)
    row = _membership(session, org, person, season, cache)
    membership, type_name, club = row if row else (None, "", org)
    federation = _federation(session, club, cache)
    paid = payment_for(session, membership, person, options, season) if membership else None
    return {
        "member": _person_context(person), "club": _org_context(club), "federation": _org_context(federation),
        "sport": _sport(session, club, cache),
        "season": {"name": season.name, "starts_on": _fmt_date(season.starts_on),
                   "ends_on": _fmt_date(season.ends_on)} if season else None,
        "membership": {"type": type_name, "starts_on": _fmt_date(membership.starts_on),
                       "ends_on": _fmt_date(membership.ends_on)} if membership else None,
        "amount_paid": f"{paid[0]:.2f}".replace(".", ",") if paid else "",
        "paid_on": _fmt_date(paid[1]) if paid else "",
        "paid": paid is not None,
        "today": _fmt_date(dt.date.today()),
        "logo": cache.get("logo") or "",
    }


def _certificate_missing(ctx: dict) -> list[str]:
    missing = []
    if ctx["season"] is None:
        missing.append("season")
    if ctx["membership"] is None:
        missing.append("membership")
    if not ctx["paid"]:
        missing.append("payment")
    if not ctx["club"]["kbo"]:
        missing.append("club KBO number")
    return missing


SAMPLE_PERSON = {"id": 0, "name": "An Peeters", "first_name": "An", "last_name": "Peeters",
                 "birth_date": "01/02/1990", "national_number": "90020100229",
                 "address": "Kerkstraat 1, 9000 Gent"}
SAMPLE_CLUB = {"name": "SK Gent", "short_name": "SKG", "kbo": "0123456749", "address": "Sportlaan 5, 9000 Gent",
               "email": "info@skgent.be"}
SAMPLE_FED = {"name": "Sportfederatie", "short_name": "SF", "kbo": "", "address": "", "email": ""}


def _certificate_sample() -> dict:
    return {"member": SAMPLE_PERSON, "club": SAMPLE_CLUB, "federation": SAMPLE_FED, "sport": "Volleybal",
            "season": {"name": "2025-2026", "starts_on": "01/09/2025", "ends_on": "31/08/2026"},
            "membership": {"type": "Volwassene", "starts_on": "01/09/2025", "ends_on": ""},
            "amount_paid": "120,00", "paid_on": "15/09/2025", "paid": True, "today": _fmt_date(dt.date.today()),
            "logo": ""}


LABELS = {
    "nl": {"cert": "Attest van lidmaatschap van een sportvereniging", "cert_intro": "Ondergetekende verklaart dat",
           "nn": "Rijksregisternummer", "member_of": "lid is van", "fed": "aangesloten bij", "sport": "Sport",
           "season": "Periode", "paid": "Betaald lidgeld", "paid_on": "betaald op", "kbo": "Ondernemingsnummer",
           "sign": "Datum, naam en handtekening van de verantwoordelijke", "card": "Lidkaart",
           "valid": "Geldig voor seizoen", "dear": "Beste"},
    "fr": {"cert": "Attestation d'affiliation à un club sportif", "cert_intro": "Le soussigné déclare que",
           "nn": "Numéro de registre national", "member_of": "est membre de", "fed": "affilié à", "sport": "Sport",
           "season": "Période", "paid": "Cotisation payée", "paid_on": "payée le", "kbo": "Numéro d'entreprise",
           "sign": "Date, nom et signature du responsable", "card": "Carte de membre",
           "valid": "Valable pour la saison", "dear": "Cher/Chère"},
    "en": {"cert": "Sports club membership certificate", "cert_intro": "The undersigned declares that",
           "nn": "National register number", "member_of": "is a member of", "fed": "affiliated to",
           "sport": "Sport", "season": "Period", "paid": "Membership fee paid", "paid_on": "paid on",
           "kbo": "Company number", "sign": "Date, name and signature of the person in charge", "card": "Member card",
           "valid": "Valid for season", "dear": "Dear"},
}


def _certificate_html(lang: str) -> str:
    t = LABELS.get(lang, LABELS["nl"])
    return f"""{{% if logo %}}<img class="logo" src="{{{{ logo }}}}" alt="">{{% endif %}}
<h1>{t['cert']}</h1>
<p>{t['cert_intro']} <strong>{{{{ member.name }}}}</strong> ({t['nn']}: {{{{ member.national_number }}}})
{t['member_of']} <strong>{{{{ club.name }}}}</strong>, {t['fed']} {{{{ federation.name }}}}.</p>
<table>
<tr><th>{t['sport']}</th><td>{{{{ sport }}}}</td></tr>
<tr><th>{t['season']}</th><td>{{{{ season.starts_on }}}} – {{{{ season.ends_on }}}} ({{{{ season.name }}}})</td></tr>
<tr><th>{t['paid']}</th><td>€ {{{{ amount_paid }}}}, {t['paid_on']} {{{{ paid_on }}}}</td></tr>
<tr><th>{t['kbo']}</th><td>{{{{ club.kbo }}}}</td></tr>
</table>
<p>{{{{ club.name }}}}, {{{{ club.address }}}}</p>
<div class="signature">{t['sign']}<br>{{{{ today }}}}</div>
"""


CERT_CSS = """body { font-family: sans-serif; font-size: 11pt; }
.logo { max-height: 25mm; float: right; }
h1 { font-size: 16pt; margin-top: 10mm; }
table { border-collapse: collapse; margin: 6mm 0; }
th { text-align: left; padding: 1.5mm 6mm 1.5mm 0; }
.signature { margin-top: 20mm; border-top: 1px solid #999; width: 80mm; padding-top: 2mm; font-size: 9pt; }"""


# --- member card -------------------------------------------------------------------------------------------

def card_token(person_id: int, club_id: int, season_id: int) -> str:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CARD_SALT).dumps(
        {"p": person_id, "o": club_id, "s": season_id})


def read_card_token(token: str) -> dict | None:
    """The payload of a member-card token, or None when it is forged or damaged."""
    try:
        data = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=CARD_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in ("p", "o", "s")):
        return None
    return data


def verify_url(token: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + "/verify/" + token


def qr_data_uri(text: str) -> str:
    """A PNG QR code (a fixed mask and a bitmap keep encoding and PDF drawing at a few ms per card)."""
    import segno

    return segno.make(text, error="m", mask=0).png_data_uri(scale=4, border=1)


def _photo(person: Person) -> str:
    if not person.photo_file:
        return ""
    from core.files import storage

    data = storage().read(person.photo_file)
    return ("data:image/jpeg;base64," + base64.b64encode(data).decode()) if data else ""


def _card_context(session, org, person, options, cache) -> dict:
    season = season_for(session, org, options, cache)
    row = _membership(session, org, person, season, cache)
    membership, type_name, club = row if row else (None, "", org)
    token = card_token(person.id, club.id, season.id) if (season and membership) else ""
    url = verify_url(token) if token else ""
    return {
        "member": _person_context(person), "photo": _photo(person), "club": _org_context(club),
        "membership": {"type": type_name} if membership else None,
        "season": {"name": season.name, "ends_on": _fmt_date(season.ends_on)} if season else None,
        "qr": qr_data_uri(url) if url else "", "verify_url": url, "logo": cache.get("logo") or "",
    }


def _card_missing(ctx: dict) -> list[str]:
    return [name for name in ("season", "membership") if ctx[name] is None]


def _card_sample() -> dict:
    return {"member": SAMPLE_PERSON, "photo": "", "club": SAMPLE_CLUB, "membership": {"type": "Volwassene"},
            "season": {"name": "2025-2026", "ends_on": "31/08/2026"},
            "qr": qr_data_uri("https://example.org/verify/sample"), "verify_url": "https://example.org/verify/sample",
            "logo": ""}


def _card_html(lang: str) -> str:
    t = LABELS.get(lang, LABELS["nl"])
    return f"""<div class="card">
{{% if photo %}}<img class="photo" src="{{{{ photo }}}}" alt="">{{% endif %}}
<div class="club">{{{{ club.name }}}}</div>
<div class="kind">{t['card']}</div>
<div class="name">{{{{ member.name }}}}</div>
<div>{{{{ membership.type }}}}</div>
<div>{t['valid']} {{{{ season.name }}}}</div>
<img class="qr" src="{{{{ qr }}}}" alt="">
</div>
"""


CARD_CSS = """body { font-family: sans-serif; font-size: 7pt; margin: 0; }
.card { position: relative; height: 54mm; padding: 3mm; box-sizing: border-box; }
.club { font-weight: bold; font-size: 9pt; color: #1d4ed8; }
.kind { text-transform: uppercase; font-size: 6pt; color: #555; margin-bottom: 2mm; }
.name { font-size: 10pt; font-weight: bold; }
.photo { position: absolute; left: 3mm; bottom: 3mm; width: 16mm; height: 20mm; object-fit: cover; }
.qr { position: absolute; right: 3mm; bottom: 3mm; width: 22mm; height: 22mm; image-rendering: pixelated; }"""


# --- free letter -----------------------------------------------------------------------------------------------

def _letter_context(session, org, person, options, cache) -> dict:
    return {"member": _person_context(person), "org": _org_context(org), "subject": options.get("subject") or "",
            "body": options.get("body") or "", "today": _fmt_date(dt.date.today()), "logo": cache.get("logo") or ""}


def _letter_missing(ctx: dict) -> list[str]:
    return [] if ctx["member"]["address"] else ["address"]


def _letter_sample() -> dict:
    return {"member": SAMPLE_PERSON, "org": SAMPLE_CLUB, "subject": "Uitnodiging", "body": "Tekst van de brief.",
            "today": _fmt_date(dt.date.today()), "logo": ""}


def _letter_html(lang: str) -> str:
    t = LABELS.get(lang, LABELS["nl"])
    return f"""{{% if logo %}}<img class="logo" src="{{{{ logo }}}}" alt="">{{% endif %}}
<p class="sender">{{{{ org.name }}}}<br>{{{{ org.address }}}}</p>
<p class="to">{{{{ member.name }}}}<br>{{{{ member.address }}}}</p>
<p>{{{{ today }}}}</p>
<h2>{{{{ subject }}}}</h2>
<p>{t['dear']} {{{{ member.first_name }}}},</p>
<div class="body">{{{{ body }}}}</div>
"""


LETTER_CSS = """body { font-family: serif; font-size: 11pt; }
.logo { max-height: 20mm; }
.to { margin: 15mm 0 10mm 95mm; }
.body { white-space: pre-wrap; }"""


def _titled(name: str, ctx: dict) -> str:
    """A document's title: the kind's name (in the template's language, see `services`) and the season."""
    season = (ctx.get("season") or {}).get("name")
    return f"{name} {season}" if season else name


CERTIFICATE = DocumentKind(
    key="sport_certificate", label=_l("Sport certificate for the health insurer"),
    variables=("member", "club", "federation", "sport", "season", "membership", "amount_paid", "paid_on", "paid",
               "today", "logo"),
    build=_certificate_context, missing=_certificate_missing, sample=_certificate_sample,
    default_html=_certificate_html, default_css=CERT_CSS,
    title=lambda ctx: _titled(_("Sport certificate"), ctx),
    options=("season_id", "amount_paid", "paid_on", "payments"),
)
MEMBER_CARD = DocumentKind(
    key="member_card", label=_l("Digital member card"),
    variables=("member", "photo", "club", "membership", "season", "qr", "verify_url", "logo"),
    build=_card_context, missing=_card_missing, sample=_card_sample, default_html=_card_html,
    page_css="@page { size: 85.6mm 54mm; margin: 0; }", default_css=CARD_CSS,
    title=lambda ctx: _titled(_("Member card"), ctx),
    options=("season_id",),
)
LETTER = DocumentKind(
    key="letter", label=_l("Letter"),
    variables=("member", "org", "subject", "body", "today", "logo"),
    build=_letter_context, missing=_letter_missing, sample=_letter_sample, default_html=_letter_html,
    default_css=LETTER_CSS, title=lambda ctx: ctx.get("subject") or _("Letter"),
    options=("subject", "body"),
)

BUILT_IN = [CERTIFICATE, MEMBER_CARD, LETTER]


def document_kinds(app=None) -> dict[str, DocumentKind]:
    """Every kind offered by the loaded plugins, by key (collected once per app)."""
    app = app or current_app
    extra = app.extensions["federa"].extra
    found = extra.get("document_kinds")
    if found is None:
        found = {}
        for owner, kind in app.extensions["federa"].plugins.collect("register_document_kinds"):
            if kind.key in found:
                raise RuntimeError(f"duplicate document kind {kind.key!r} (declared again by {owner})")
            found[kind.key] = kind
        extra["document_kinds"] = found
    return found


def get_kind(key: str, field_name: str = "kind") -> DocumentKind:
    kinds = document_kinds()
    if key not in kinds:
        raise DomainError("unknown document kind", field=field_name, choices=sorted(kinds))
    return kinds[key]
