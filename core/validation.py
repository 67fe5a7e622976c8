"""Belgian identifiers and contact data: validate and normalise (python-stdnum, phonenumbers).

Each function returns the compact stored form or raises `ValueError` with a user-facing message.
`marshmallow_validator(fn)` turns one into a field validator for schemas.
"""
from __future__ import annotations

import re

from flask_babel import gettext
import phonenumbers
from marshmallow import ValidationError
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.be import bis as stdnum_bis
from stdnum.be import nn as stdnum_nn
from stdnum.be import vat as stdnum_vat
from stdnum.exceptions import ValidationError as StdnumError

V_CODE_RE = re.compile(r"^V\d{7}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def kbo_number(value: str) -> str:
    """KBO/BCE enterprise number, stored as 10 digits ("0123.456.749" → "0123456749")."""
    try:
        compact = stdnum_vat.validate(value)
    except StdnumError:
        raise ValueError(gettext("not a valid KBO number (10 digits, e.g. 0403.170.701)")) from None
    return compact


def v_code(value: str) -> str:
    compact = value.strip().upper()
    if not V_CODE_RE.match(compact):
        raise ValueError(gettext("a V-code is V followed by 7 digits (e.g. V0001234)"))
    return compact


def iban(value: str) -> str:
    try:
        return stdnum_iban.validate(value)
    except StdnumError:
        raise ValueError(gettext("not a valid IBAN")) from None


def bic(value: str) -> str:
    try:
        return stdnum_bic.validate(value)
    except StdnumError:
        raise ValueError(gettext("not a valid BIC")) from None


def email(value: str) -> str:
    compact = value.strip()
    if not EMAIL_RE.match(compact):
        raise ValueError(gettext("not a valid e-mail address"))
    local, _, domain = compact.rpartition("@")
    return f"{local}@{domain.lower()}"


def phone(value: str) -> str:
    """Any phone number people write; stored in E.164 (+32...). Belgian numbers need no prefix."""
    try:
        parsed = phonenumbers.parse(value, "BE")
    except phonenumbers.NumberParseException:
        raise ValueError(gettext("not a valid phone number")) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(gettext("not a valid phone number"))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def national_number(value: str) -> str:
    """Belgian national register number or BIS number, stored as 11 digits."""
    for module in (stdnum_nn, stdnum_bis):
        try:
            return module.validate(value)
        except StdnumError:
            continue
    raise ValueError(gettext("not a valid national register number or BIS number"))


def format_national_number(value: str | None) -> str:
    if not value:
        return ""
    return f"{value[:2]}.{value[2:4]}.{value[4:6]}-{value[6:9]}.{value[9:]}"


def mask_national_number(value: str | None) -> str:
    """Shown to users without the right to see it: only the last two digits."""
    if not value:
        return ""
    return f"••.••.••-•••.{value[9:]}"


def mask_iban(value: str | None) -> str:
    if not value:
        return ""
    return f"{value[:4]} •••• •••• {value[-4:]}"


def format_kbo(value: str | None) -> str:
    if not value:
        return ""
    return f"{value[:4]}.{value[4:7]}.{value[7:]}"


def marshmallow_validator(fn):
    """Adapt a normaliser into a marshmallow validator (the schema's `post_load` stores the normal form)."""

    def validate(value):
        if value in (None, ""):
            return
        try:
            fn(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None

    return validate
