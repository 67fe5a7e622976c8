"""Every text of the member app, through the translation catalogue (the app is JavaScript; the shell
page carries these in all three languages so the app can switch language offline)."""
from __future__ import annotations

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

STRINGS = {
    "app_name": _l("Federa"),
    "tagline": _l("News, documents and invoices of your club"),
    "login": _l("Log in"),
    "logout": _l("Log out"),
    "email": _l("E-mail address"),
    "password": _l("Password"),
    "bad_login": _l("Wrong e-mail address or password."),
    "too_many": _l("Too many attempts. Try again later."),
    "feed": _l("News"),
    "documents": _l("Documents"),
    "invoices": _l("Invoices"),
    "profile": _l("Profile"),
    "settings": _l("Settings"),
    "inbox": _l("Notifications"),
    "loading": _l("Loading…"),
    "refresh": _l("Refresh"),
    "error": _l("Something went wrong. Try again."),
    "offline": _l("You are offline. This is what was loaded last."),
    "offline_nothing": _l("You are offline and nothing was loaded yet."),
    "no_news": _l("No news yet."),
    "no_documents": _l("No documents yet."),
    "no_invoices": _l("No invoices yet."),
    "no_notifications": _l("No notifications."),
    "open": _l("Open"),
    "download": _l("Download"),
    "pay": _l("Pay"),
    "pdf": _l("PDF"),
    "due_on": _l("Due on"),
    "paid": _l("Paid"),
    "unpaid": _l("To pay"),
    "mark_all_read": _l("Mark all as read"),
    "your_details": _l("Your details"),
    "read_only_hint": _l("Greyed-out fields can only be changed by your club."),
    "your_organisations": _l("Your organisations"),
    "save": _l("Save"),
    "saved": _l("Saved."),
    "stale": _l("Your details were changed elsewhere. They are reloaded; try again."),
    "fix_errors": _l("Please correct the marked fields."),
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "birth_date": _l("Birth date"),
    "gender": _l("Gender"),
    "national_number": _l("National number"),
    "street": _l("Street"),
    "house_number": _l("Number"),
    "box": _l("Box"),
    "postal_code": _l("Postal code"),
    "city": _l("City"),
    "country": _l("Country"),
    "email_alt": _l("Other e-mail address"),
    "phone": _l("Phone"),
    "mobile": _l("Mobile phone"),
    "emergency_contact_name": _l("Emergency contact"),
    "emergency_contact_phone": _l("Emergency contact phone"),
    "preferred_language": _l("Language"),
    "push_device": _l("Notifications on this device"),
    "push_on": _l("Notifications are on for this device."),
    "push_off": _l("Notifications are off for this device."),
    "push_blocked": _l("Notifications are blocked in the settings of your browser."),
    "push_unsupported": _l("This browser cannot receive notifications. On iPhone, add the app to your home screen first."),
    "turn_on": _l("Turn on"),
    "turn_off": _l("Turn off"),
    "which_notifications": _l("Which notifications"),
    "push": _l("Push"),
    "by_email": _l("E-mail"),
    "language": _l("Language"),
}
LANGUAGES = ("nl", "fr", "en")


def catalogue() -> dict[str, dict[str, str]]:
    """{language: {key: text}} for every language of the app."""
    result = {}
    for lang in LANGUAGES:
        with force_locale(lang):
            result[lang] = {key: str(text) for key, text in STRINGS.items()}
    return result
