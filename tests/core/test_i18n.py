"""Translations: the nl/fr catalogues are complete, compile and keep every placeholder; web pages are Dutch
by default and follow ?lang=; the API answers in English unless Accept-Language asks otherwise."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from core.db import db
from tests.conftest import _clean, web_login
from tests.factories import Factory

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "core" / "translations"
TRANSLATED = ("nl", "fr")
# %(name)s / %(num)d / %(key)r, %% and {name}: what must survive translation.
PLACEHOLDER_RE = re.compile(r"%\([a-z_]+\)[sdr]|%%|\{[a-z_]*\}")
NN_1985 = "85073003328"


def _catalogue(lang):
    with open(CATALOGUES / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def _messages(catalogue):
    return [m for m in catalogue if m.id]


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER_RE.findall(text))


@pytest.fixture(scope="session")
def compiled(tmp_path_factory) -> Path:
    """The committed .po files compiled into a fresh folder (no reliance on `make` having run)."""
    out = tmp_path_factory.mktemp("translations")
    for lang in ("nl", "fr", "en"):
        target = out / lang / "LC_MESSAGES"
        target.mkdir(parents=True)
        with open(target / "messages.mo", "wb") as f:
            write_mo(f, _catalogue(lang))
    return out


@pytest.mark.parametrize("lang", [*TRANSLATED, "en"])
def test_catalogues_compile_without_format_errors(lang, compiled):
    catalogue = _catalogue(lang)
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalogue.check()]
    assert problems == []
    assert (compiled / lang / "LC_MESSAGES" / "messages.mo").stat().st_size > 0


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated_and_keeps_its_placeholders(lang):
    missing, fuzzy, broken = [], [], []
    for message in _messages(_catalogue(lang)):
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        if not all(s and s.strip() for s in strings):
            missing.append(ids[0])
        if message.fuzzy:
            fuzzy.append(ids[0])
        if len(ids) == 1:
            if _placeholders(strings[0]) != _placeholders(ids[0]):
                broken.append((ids[0], strings[0]))
        else:  # plural forms: each form uses only the msgid's placeholders, the plural form all of them
            allowed = set(_placeholders(ids[0])) | set(_placeholders(ids[1]))
            if any(not set(_placeholders(s)) <= allowed for s in strings) \
                    or _placeholders(strings[-1]) != _placeholders(ids[1]):
                broken.append((ids, strings))
    assert missing == [], f"untranslated in {lang}"
    assert fuzzy == [], f"fuzzy in {lang}"
    assert broken == [], f"placeholders differ in {lang}"


def test_catalogues_hold_every_text_of_the_sources(tmp_path):
    """A UI string added without translating it fails here: extract like `make translations-extract`."""
    pot = tmp_path / "messages.pot"
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "-q", "extract", "-F", "babel.cfg", "-k", "_l",
                    "-k", "lazy_gettext", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with open(pot, "rb") as f:
        source_ids = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    for lang in (*TRANSLATED, "en"):
        known = {m.id if isinstance(m.id, str) else m.id[0] for m in _messages(_catalogue(lang))}
        assert sorted(source_ids - known) == [], f"run `make translations-update` and translate ({lang})"


# --- the running app ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def i18n_app(make_app, compiled):
    return make_app(BABEL_TRANSLATION_DIRECTORIES=str(compiled))


@pytest.fixture
def i18n(i18n_app):
    _clean(i18n_app)
    with i18n_app.app_context():
        yield Factory(db.session), i18n_app.test_client()
        db.session.remove()


def _text(response) -> str:
    """The visible text of a page (tags, scripts and styles removed)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_login_page_is_dutch_by_default_and_french_on_request(i18n):
    _, client = i18n
    page = client.get("/login")
    assert page.status_code == 200
    text = _text(page)
    assert '<html lang="nl"' in page.get_data(as_text=True)
    assert "Wachtwoord" in text and "Aanmelden" in text and "Password" not in text

    page = client.get("/login?lang=fr")
    text = _text(page)
    assert '<html lang="fr"' in page.get_data(as_text=True)
    assert "Mot de passe" in text and "Se connecter" in text and "Wachtwoord" not in text
    assert "Mot de passe" in _text(client.get("/login")), "the choice is remembered"


def test_api_errors_are_english_by_default_and_follow_accept_language(i18n):
    make, client = i18n
    club = make.club(make.federation("Atletiek Vlaanderen"), "AC Gent")
    # A Dutch-speaking admin with a French browser session: the API still defaults to English.
    admin = make.user("admin@example.org", role="club_admin", org=club, password="")
    db.session.commit()
    headers = make.headers(admin)
    bad = {"first_name": "Jan", "last_name": "Peeters", "national_number": "12345678901"}
    url = f"/api/v1/orgs/{club.id}/people"
    client.get("/login?lang=fr")
    before = client.get(url, headers=headers).json["total"]

    r = client.post(url, headers=headers, json=bad)
    assert r.status_code == 422
    assert r.json["errors"]["json"]["national_number"] == ["not a valid national register number or BIS number"]
    assert r.json["message"] == "invalid person data"

    r = client.post(url, headers={**headers, "Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5"}, json=bad)
    assert r.status_code == 422
    assert r.json["errors"]["json"]["national_number"] == ["geen geldig rijksregisternummer of BIS-nummer"]
    assert r.json["message"] == "ongeldige persoonsgegevens"

    r = client.post(url, headers={**headers, "Accept-Language": "fr"}, json=bad)
    assert r.json["errors"]["json"]["national_number"] == [
        "numéro de registre national ou numéro BIS non valable"]

    r = client.post(url, headers={**headers, "Accept-Language": "de, *;q=0.1"}, json=bad)
    assert r.json["message"] == "invalid person data"
    assert client.get(url, headers=headers).json["total"] == before, "nothing was created"


def _org_pages(app) -> list[str]:
    """Every page of an organisation that needs nothing but its id (GET, no other URL argument)."""
    return sorted({rule.rule for rule in app.url_map.iter_rules()
                   if rule.rule.startswith("/o/<int:org_id>/") and "GET" in rule.methods
                   and set(rule.arguments) == {"org_id"}})


def _english_texts(catalogue_en) -> set[str]:
    # Long enough not to be a word that Dutch or French shares ("Menu", "Club", "Modules", "E-mail").
    return {m.id for m in _messages(catalogue_en) if isinstance(m.id, str) and len(m.id) >= 12
            and "%" not in m.id and "{" not in m.id}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_main_pages_show_no_english(i18n, lang):
    make, client = i18n
    fed = make.federation("Atletiek Vlaanderen")
    club = make.club(fed, "AC Gent")
    make.person("Marieke", "Janssens", org=club, national_number=NN_1985)
    make.user("secretariaat@example.org", role="federation_secretariat", org=fed, password="secret-pass")
    optional = [plugin.name for plugin in client.application.extensions["federa"].plugins.optional]
    make.subscribe(fed, make.package("all", optional), include_descendants=True)
    db.session.commit()
    web_login(client, "secretariaat@example.org")
    translations = {m.id: m.string for m in _messages(_catalogue(lang)) if isinstance(m.id, str)}
    english = {t for t in _english_texts(_catalogue("en")) if translations.get(t) != t}
    pages = ["/", *(rule.replace("<int:org_id>", str(club.id)) for rule in _org_pages(client.application))]
    assert len(pages) > 5
    left = {}
    for url in pages:
        r = client.get(f"{url}?lang={lang}" if "?" not in url else url, follow_redirects=True)
        assert r.status_code in (200, 403), (url, r.status_code)
        if r.mimetype != "text/html":  # exports (Excel, PDF)
            continue
        text = _text(r)
        found = sorted(t for t in english if t in text)
        if found:
            left[url] = found
    assert left == {}


def test_an_unpaid_amount_is_not_the_verb_open(i18n):
    """"Open" is both the member app's button (nl "Openen") and an unpaid amount (nl "Openstaand")."""
    make, client = i18n
    fed = make.federation("Atletiek Vlaanderen")
    make.user("secretariaat@example.org", role="federation_secretariat", org=fed, password="secret-pass")
    optional = [plugin.name for plugin in client.application.extensions["federa"].plugins.optional]
    make.subscribe(fed, make.package("all", optional), include_descendants=True)
    db.session.commit()
    web_login(client, "secretariaat@example.org")
    for lang, amount, verb in (("nl", "Openstaand", "Openen"), ("fr", "Impayé", "Ouvrir")):
        text = _text(client.get(f"/o/{fed.id}/billing/reports?lang={lang}"))
        assert amount in text and verb not in text
    # "Invoice" is a noun on invoices and a verb on the runs page.
    from plugins.membership.models import Season

    db.session.add(Season(org_id=fed.id, name="2026", starts_on=dt.date(2026, 1, 1), ends_on=dt.date(2026, 12, 31)))
    db.session.commit()
    assert "Factureren" in _text(client.get(f"/o/{fed.id}/billing/runs?lang=nl"))


def test_document_titles_are_in_the_language_of_the_document(i18n):
    from plugins.documents import services as documents
    from plugins.documents.models import Document, DocumentBatch
    from tests.plugins.documents.conftest import build_docs_world

    make, client = i18n
    world = build_docs_world(make)
    batch, _ = documents.create_batch(db.session, world.club_a, {"kind": "letter", "person_ids": [world.an.id],
                                                                 "options": {"body": "Tekst"}})
    db.session.commit()
    client.application.extensions["federa"].jobs.join()
    documents.generate_batch(db.session, db.session.get(DocumentBatch, batch.id))  # done already: changes nothing
    db.session.commit()
    titles = [d.title for d in db.session.execute(sa.select(Document)).scalars()]
    assert titles == ["Brief"]  # the default template is Dutch; in English it would be "Letter"
    from core.models import Job

    # The job in the jobs list is named in the language of whoever started it (the Dutch default here).
    assert db.session.get(Job, batch.job_id).title == "Documenten: Brief"
