"""Peppol BIS Billing 3.0 (UBL 2.1) generation and official validation.

Pure module: no Flask, no SQLAlchemy. The billing services map their rows onto the dataclasses below,
call :func:`build_invoice_xml` and, before sending, :func:`validate` (UBL XSD through lxml, then the
official CEN-EN16931 and PEPPOL-EN16931 schematron rules, precompiled to XSLT 2.0, through saxonche).

Amounts are ``Decimal``; every monetary amount in the document is rounded half-up to the cent:
line net amount = quantity x unit price; per VAT category and rate the taxable amount is the sum of its
line amounts plus charges minus allowances, and its VAT is taxable x rate / 100; the totals add those up.

The official rules live outside the project (``../shared/reference/peppol`` from the repository root);
set ``FEDERA_PEPPOL_RULES`` to point elsewhere.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Protocol

from lxml import etree

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS_SVRL = "http://purl.oclc.org/dsdl/svrl"

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"

# UNCL5305 VAT categories used by EN 16931.
VAT_CATEGORIES = {
    "S": "Standard rate",
    "Z": "Zero rated goods",
    "E": "Exempt from tax",
    "AE": "VAT reverse charge",
    "K": "Intra-community supply",
    "G": "Free export item, tax not charged",
    "O": "Services outside scope of tax",
    "L": "Canary Islands general indirect tax",
    "M": "Tax for production, services and importation in Ceuta and Melilla",
}
# Categories whose rate must be 0; "O" carries no rate at all.
ZERO_RATE_CATEGORIES = {"Z", "E", "AE", "K", "G"}
# Categories that need an exemption reason (text or VATEX code) in the VAT breakdown.
EXEMPTION_CATEGORIES = {"E", "AE", "K", "G", "O"}
DEFAULT_EXEMPTION_REASONS = {
    "AE": ("VATEX-EU-AE", "Reverse charge"),
    "K": ("VATEX-EU-IC", "Intra-Community supply"),
    "G": ("VATEX-EU-G", "Export outside the EU"),
    "O": ("VATEX-EU-O", "Not subject to VAT"),
}
PAYMENT_MEANS_CODES = {"30", "58"}
# Categories only a VAT-registered seller (BT-31) can use; E and O also work with the KBO number (BT-32).
VAT_REGISTERED_CATEGORIES = {"S", "Z", "AE", "K", "G", "L", "M"}

CENT = Decimal("0.01")


class UblError(ValueError):
    """The document cannot be expressed as Peppol UBL; ``field`` names the offending input."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class RulesNotFound(RuntimeError):
    """The official Peppol rules folder is missing."""


def dec(value) -> Decimal:
    """A Decimal; floats go through their shortest repr (0.1 -> Decimal('0.1'), not its binary expansion)."""
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def money(value) -> Decimal:
    return dec(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _fmt(value: Decimal) -> str:
    return f"{money(value):.2f}"


def _fmt_plain(value: Decimal) -> str:
    """A quantity, price or percentage without exponent or superfluous zeros (at least one digit)."""
    text = format(dec(value).normalize(), "f")
    return text if text not in ("-0", "") else "0"


def normalise_kbo(value: str | None) -> str | None:
    """'BE 0403.170.701' -> '0403170701'. Only strips formatting; checksums are the validator's job."""
    if not value:
        return None
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) == 9:
        digits = "0" + digits
    return digits


# --- input dataclasses ------------------------------------------------------------------------------

@dataclass
class Address:
    country_code: str = "BE"
    street: str | None = None
    additional_street: str | None = None
    city: str | None = None
    postal_code: str | None = None


@dataclass
class Contact:
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass
class Party:
    name: str
    address: Address
    kbo: str | None = None  # Belgian enterprise number -> EndpointID/CompanyID schemeID 0208
    vat_number: str | None = None  # "BE0403170701"; only for VAT-registered parties
    trading_name: str | None = None
    contact: Contact | None = None
    # Peppol endpoint when the party has no KBO number (scheme, id), e.g. ("9925", "BE0403170701").
    endpoint: tuple[str, str] | None = None

    @property
    def endpoint_id(self) -> tuple[str, str] | None:
        kbo = normalise_kbo(self.kbo)
        if kbo:
            return ("0208", kbo)
        return self.endpoint


@dataclass
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_category: str = "E"
    vat_rate: Decimal = Decimal("0")
    unit_code: str = "C62"  # UN/ECE rec 20 "one" (piece)
    name: str | None = None  # item name; defaults to the description
    note: str | None = None

    @property
    def net_amount(self) -> Decimal:
        return money(dec(self.quantity) * dec(self.unit_price))


@dataclass
class AllowanceCharge:
    amount: Decimal
    reason: str
    vat_category: str = "E"
    vat_rate: Decimal = Decimal("0")
    charge: bool = False  # False = allowance (discount), True = charge


@dataclass
class PaymentMeans:
    iban: str
    code: str = "30"  # 30 credit transfer, 58 SEPA credit transfer
    bic: str | None = None
    payment_id: str | None = None  # Belgian structured communication "+++123/4567/89002+++"
    account_name: str | None = None


@dataclass
class Document:
    number: str
    issue_date: date
    seller: Party
    buyer: Party
    lines: list[Line]
    kind: str = INVOICE  # INVOICE or CREDIT_NOTE
    due_date: date | None = None
    currency: str = "EUR"
    buyer_reference: str | None = None  # defaults to the document number (PEPPOL-EN16931-R003)
    order_reference: str | None = None
    note: str | None = None
    payment_terms: str | None = None
    payment_means: PaymentMeans | None = None
    allowances_charges: list[AllowanceCharge] = field(default_factory=list)
    # Credit notes: the invoice they correct.
    billing_reference: str | None = None
    billing_reference_date: date | None = None
    # Free-text exemption reason per VAT category (e.g. {"E": "Art. 44 §2 6° WBTW"}); "E" needs one.
    exemption_reasons: dict[str, str] = field(default_factory=dict)
    prepaid_amount: Decimal = Decimal("0")


# --- totals -----------------------------------------------------------------------------------------

@dataclass
class VatBreakdown:
    category: str
    rate: Decimal | None
    taxable_amount: Decimal
    tax_amount: Decimal
    exemption_reason: str | None = None
    exemption_reason_code: str | None = None


@dataclass
class Totals:
    line_extension: Decimal
    allowance_total: Decimal
    charge_total: Decimal
    tax_exclusive: Decimal
    tax_total: Decimal
    tax_inclusive: Decimal
    prepaid: Decimal
    payable: Decimal
    breakdown: list[VatBreakdown]


def _check_vat(category: str, rate, where: str) -> tuple[str, Decimal | None]:
    if category not in VAT_CATEGORIES:
        raise UblError(f"Unknown VAT category {category!r}.", field=where)
    if category == "O":
        return category, None
    rate = dec(rate if rate is not None else 0)
    if category in ZERO_RATE_CATEGORIES and rate != 0:
        raise UblError(f"VAT category {category} must have rate 0.", field=where)
    if category == "S" and rate <= 0:
        raise UblError("Standard-rated VAT needs a rate above 0.", field=where)
    if rate < 0:
        raise UblError("A VAT rate cannot be negative.", field=where)
    return category, rate


def compute_totals(doc: Document) -> Totals:
    """Line amounts, VAT breakdown per category and rate, and document totals (all rounded to cents)."""
    if not doc.lines:
        raise UblError("A document needs at least one line.", field="lines")
    groups: dict[tuple[str, Decimal | None], Decimal] = {}
    line_total = Decimal("0.00")
    for i, line in enumerate(doc.lines):
        key = _check_vat(line.vat_category, line.vat_rate, f"lines.{i}.vat_category")
        if dec(line.quantity) == 0:
            raise UblError("Quantity cannot be zero.", field=f"lines.{i}.quantity")
        if dec(line.unit_price) < 0:
            raise UblError("Unit price cannot be negative.", field=f"lines.{i}.unit_price")
        amount = line.net_amount
        line_total += amount
        groups[key] = groups.get(key, Decimal("0.00")) + amount
    allowances = charges = Decimal("0.00")
    for i, ac in enumerate(doc.allowances_charges):
        key = _check_vat(ac.vat_category, ac.vat_rate, f"allowances_charges.{i}.vat_category")
        amount = money(ac.amount)
        if amount <= 0:
            raise UblError("An allowance or charge must be above 0.", field=f"allowances_charges.{i}.amount")
        if ac.charge:
            charges += amount
        else:
            allowances += amount
            amount = -amount
        groups[key] = groups.get(key, Decimal("0.00")) + amount

    breakdown = []
    for (category, rate), taxable in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        tax = money(taxable * rate / 100) if rate else Decimal("0.00")
        reason = code = None
        if category in EXEMPTION_CATEGORIES:
            reason = doc.exemption_reasons.get(category)
            default = DEFAULT_EXEMPTION_REASONS.get(category)
            if not reason and not default:
                raise UblError(f"VAT category {category} needs an exemption reason.", field="exemption_reasons")
            if not reason:
                code, reason = default
        breakdown.append(VatBreakdown(category, rate, money(taxable), tax, reason, code))
    tax_total = sum((b.tax_amount for b in breakdown), Decimal("0.00"))
    tax_exclusive = line_total - allowances + charges
    tax_inclusive = tax_exclusive + tax_total
    prepaid = money(doc.prepaid_amount)
    return Totals(
        line_extension=money(line_total),
        allowance_total=allowances,
        charge_total=charges,
        tax_exclusive=money(tax_exclusive),
        tax_total=money(tax_total),
        tax_inclusive=money(tax_inclusive),
        prepaid=prepaid,
        payable=money(tax_inclusive - prepaid),
        breakdown=breakdown,
    )


# --- XML generation ---------------------------------------------------------------------------------

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _cbc(parent, tag, text, **attrs):
    el = etree.SubElement(parent, f"{{{NS_CBC}}}{tag}", **attrs)
    el.text = _NOT_XML.sub(" ", str(text))  # control characters cannot appear in XML 1.0
    return el


def _cac(parent, tag):
    return etree.SubElement(parent, f"{{{NS_CAC}}}{tag}")


def _amount(parent, tag, value, currency):
    return _cbc(parent, tag, _fmt(value), currencyID=currency)


def _tax_scheme(parent):
    _cbc(_cac(parent, "TaxScheme"), "ID", "VAT")


def _party(parent, party: Party, role: str):
    p = _cac(parent, "Party")
    endpoint = party.endpoint_id
    if not endpoint:
        raise UblError("The party needs a KBO number or a Peppol endpoint.", field=f"{role}.kbo")
    _cbc(p, "EndpointID", endpoint[1], schemeID=endpoint[0])
    kbo = normalise_kbo(party.kbo)
    if kbo:
        _cbc(_cac(p, "PartyIdentification"), "ID", kbo, schemeID="0208")
    if party.trading_name:
        _cbc(_cac(p, "PartyName"), "Name", party.trading_name)
    addr = party.address
    if addr is None or not addr.country_code:
        raise UblError("The party needs an address with a country.", field=f"{role}.address")
    a = _cac(p, "PostalAddress")
    if addr.street:
        _cbc(a, "StreetName", addr.street)
    if addr.additional_street:
        _cbc(a, "AdditionalStreetName", addr.additional_street)
    if addr.city:
        _cbc(a, "CityName", addr.city)
    if addr.postal_code:
        _cbc(a, "PostalZone", addr.postal_code)
    _cbc(_cac(a, "Country"), "IdentificationCode", addr.country_code.upper())
    if party.vat_number:
        ts = _cac(p, "PartyTaxScheme")
        _cbc(ts, "CompanyID", re.sub(r"[^0-9A-Za-z]", "", party.vat_number).upper())
        _tax_scheme(ts)
    elif role == "seller" and kbo:
        # Not VAT-registered (most VZWs): the KBO number is the seller's tax registration identifier
        # (BT-32), which BR-E-02 requires for exempt invoices.
        ts = _cac(p, "PartyTaxScheme")
        _cbc(ts, "CompanyID", kbo)
        _cbc(_cac(ts, "TaxScheme"), "ID", "TAX")
    le = _cac(p, "PartyLegalEntity")
    _cbc(le, "RegistrationName", party.name)
    if kbo:
        _cbc(le, "CompanyID", kbo, schemeID="0208")
    if party.contact and (party.contact.name or party.contact.phone or party.contact.email):
        c = _cac(p, "Contact")
        if party.contact.name:
            _cbc(c, "Name", party.contact.name)
        if party.contact.phone:
            _cbc(c, "Telephone", party.contact.phone)
        if party.contact.email:
            _cbc(c, "ElectronicMail", party.contact.email)


def _tax_category(parent, tag, category, rate, reason=None, code=None):
    tc = _cac(parent, tag)
    _cbc(tc, "ID", category)
    if rate is not None:
        _cbc(tc, "Percent", _fmt_plain(rate))
    if code:
        _cbc(tc, "TaxExemptionReasonCode", code)
    if reason:
        _cbc(tc, "TaxExemptionReason", reason)
    _tax_scheme(tc)


def build_invoice_xml(doc: Document) -> bytes:
    """The Peppol BIS Billing 3.0 UBL Invoice (or CreditNote) for ``doc``, as UTF-8 bytes."""
    if doc.kind not in (INVOICE, CREDIT_NOTE):
        raise UblError(f"Unknown document kind {doc.kind!r}.", field="kind")
    credit = doc.kind == CREDIT_NOTE
    if credit and not doc.billing_reference:
        raise UblError("A credit note must reference the invoice it corrects.", field="billing_reference")
    totals = compute_totals(doc)
    used = {line.vat_category for line in doc.lines} | {ac.vat_category for ac in doc.allowances_charges}
    if used & VAT_REGISTERED_CATEGORIES and not doc.seller.vat_number:
        raise UblError("Only a VAT-registered seller can invoice with VAT category "
                       + ", ".join(sorted(used & VAT_REGISTERED_CATEGORIES)) + ".", field="seller.vat_number")
    cur = doc.currency
    root_ns = NS_CREDIT_NOTE if credit else NS_INVOICE
    root = etree.Element(
        f"{{{root_ns}}}{'CreditNote' if credit else 'Invoice'}",
        nsmap={None: root_ns, "cac": NS_CAC, "cbc": NS_CBC},
    )
    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", doc.number)
    _cbc(root, "IssueDate", doc.issue_date.isoformat())
    if not credit and doc.due_date:
        _cbc(root, "DueDate", doc.due_date.isoformat())
    _cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", "381" if credit else "380")
    if doc.note:
        _cbc(root, "Note", doc.note)
    _cbc(root, "DocumentCurrencyCode", cur)
    _cbc(root, "BuyerReference", doc.buyer_reference or doc.number)
    if doc.order_reference:
        _cbc(_cac(root, "OrderReference"), "ID", doc.order_reference)
    if doc.billing_reference:
        ref = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(ref, "ID", doc.billing_reference)
        if doc.billing_reference_date:
            _cbc(ref, "IssueDate", doc.billing_reference_date.isoformat())
    _party(_cac(root, "AccountingSupplierParty"), doc.seller, "seller")
    _party(_cac(root, "AccountingCustomerParty"), doc.buyer, "buyer")

    pm = doc.payment_means
    if pm:
        if pm.code not in PAYMENT_MEANS_CODES:
            raise UblError("Payment means must be 30 or 58 (credit transfer).", field="payment_means.code")
        iban = re.sub(r"\s", "", pm.iban or "").upper()
        if not iban:
            raise UblError("A credit transfer needs the payee IBAN.", field="payment_means.iban")
        m = _cac(root, "PaymentMeans")
        _cbc(m, "PaymentMeansCode", pm.code, name="SEPA credit transfer" if pm.code == "58" else "Credit transfer")
        if credit and doc.due_date:
            _cbc(m, "PaymentDueDate", doc.due_date.isoformat())
        if pm.payment_id:
            _cbc(m, "PaymentID", pm.payment_id)
        acc = _cac(m, "PayeeFinancialAccount")
        _cbc(acc, "ID", iban)
        if pm.account_name:
            _cbc(acc, "Name", pm.account_name)
        if pm.bic:
            _cbc(_cac(acc, "FinancialInstitutionBranch"), "ID", re.sub(r"\s", "", pm.bic).upper())
    terms = doc.payment_terms
    if not terms and credit and not doc.due_date:
        # BR-CO-25 wants a due date or payment terms whenever the amount is positive, credit notes included.
        terms = f"Credit note for invoice {doc.billing_reference}."
    if not terms and totals.payable > 0 and not doc.due_date:
        raise UblError("A document with an amount due needs a due date or payment terms.", field="due_date")
    if terms:
        _cbc(_cac(root, "PaymentTerms"), "Note", terms)

    for ac in doc.allowances_charges:
        el = _cac(root, "AllowanceCharge")
        _cbc(el, "ChargeIndicator", "true" if ac.charge else "false")
        _cbc(el, "AllowanceChargeReason", ac.reason)
        _amount(el, "Amount", ac.amount, cur)
        rate = None if ac.vat_category == "O" else dec(ac.vat_rate or 0)
        _tax_category(el, "TaxCategory", ac.vat_category, rate)

    tt = _cac(root, "TaxTotal")
    _amount(tt, "TaxAmount", totals.tax_total, cur)
    for b in totals.breakdown:
        st = _cac(tt, "TaxSubtotal")
        _amount(st, "TaxableAmount", b.taxable_amount, cur)
        _amount(st, "TaxAmount", b.tax_amount, cur)
        _tax_category(st, "TaxCategory", b.category, b.rate, b.exemption_reason, b.exemption_reason_code)

    lmt = _cac(root, "LegalMonetaryTotal")
    _amount(lmt, "LineExtensionAmount", totals.line_extension, cur)
    _amount(lmt, "TaxExclusiveAmount", totals.tax_exclusive, cur)
    _amount(lmt, "TaxInclusiveAmount", totals.tax_inclusive, cur)
    if doc.allowances_charges:
        _amount(lmt, "AllowanceTotalAmount", totals.allowance_total, cur)
        _amount(lmt, "ChargeTotalAmount", totals.charge_total, cur)
    if totals.prepaid:
        _amount(lmt, "PrepaidAmount", totals.prepaid, cur)
    _amount(lmt, "PayableAmount", totals.payable, cur)

    for i, line in enumerate(doc.lines, start=1):
        el = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
        _cbc(el, "ID", str(i))
        if line.note:
            _cbc(el, "Note", line.note)
        _cbc(el, "CreditedQuantity" if credit else "InvoicedQuantity", _fmt_plain(line.quantity),
             unitCode=line.unit_code)
        _amount(el, "LineExtensionAmount", line.net_amount, cur)
        item = _cac(el, "Item")
        name = (line.name or line.description or "").strip()
        if not name:
            raise UblError("Every line needs a description.", field=f"lines.{i - 1}.description")
        if line.name and line.description and line.description != line.name:
            _cbc(item, "Description", line.description)
        _cbc(item, "Name", name)
        rate = None if line.vat_category == "O" else dec(line.vat_rate or 0)
        _tax_category(item, "ClassifiedTaxCategory", line.vat_category, rate)
        price = _cac(el, "Price")
        _cbc(price, "PriceAmount", _fmt_plain(line.unit_price), currencyID=cur)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- validation -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    rule_id: str
    flag: str  # "fatal" or "warning" (XSD and well-formedness errors are "fatal")
    message: str
    location: str = ""
    source: str = ""  # "xml", "xsd", "CEN-EN16931-UBL" or "PEPPOL-EN16931-UBL"

    @property
    def fatal(self) -> bool:
        return self.flag == "fatal"


SCHEMATRONS = ("CEN-EN16931-UBL", "PEPPOL-EN16931-UBL")


def rules_dir() -> Path:
    """The official rules folder: $FEDERA_PEPPOL_RULES or <repo root>/../shared/reference/peppol."""
    env = os.environ.get("FEDERA_PEPPOL_RULES")
    path = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "peppol"
    needed = [path / "ubl-2.1-xsd" / "maindoc", *(path / "xslt" / f"{n}.xslt" for n in SCHEMATRONS)]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise RulesNotFound(
            "Peppol validation rules not found (missing: " + ", ".join(missing) + "). Set FEDERA_PEPPOL_RULES "
            "to the folder holding ubl-2.1-xsd/ and xslt/ (the project's ../shared/reference/peppol)."
        )
    return path


class _Validator:
    """Compiled XSDs and stylesheets, built once per process (saxonche compile is ~0.6 s)."""

    def __init__(self, path: Path):
        from saxonche import PySaxonProcessor

        self.path = path
        self.xsd = {
            NS_INVOICE: etree.XMLSchema(etree.parse(str(path / "ubl-2.1-xsd/maindoc/UBL-Invoice-2.1.xsd"))),
            NS_CREDIT_NOTE: etree.XMLSchema(etree.parse(str(path / "ubl-2.1-xsd/maindoc/UBL-CreditNote-2.1.xsd"))),
        }
        self.proc = PySaxonProcessor(license=False)
        compiler = self.proc.new_xslt30_processor()
        self.stylesheets = {
            name: compiler.compile_stylesheet(stylesheet_file=str(path / "xslt" / f"{name}.xslt"))
            for name in SCHEMATRONS
        }
        self.lock = threading.Lock()

    def validate(self, xml: bytes) -> list[Finding]:
        try:
            tree = etree.fromstring(xml)
        except etree.XMLSyntaxError as exc:
            return [Finding("XML", "fatal", f"Not well-formed XML: {exc}", source="xml")]
        ns = etree.QName(tree).namespace
        schema = self.xsd.get(ns)
        if schema is None:
            return [Finding("XML", "fatal", f"Not a UBL Invoice or CreditNote (root {tree.tag}).", source="xml")]
        findings = []
        if not schema.validate(tree):
            for err in schema.error_log:
                findings.append(Finding("UBL-XSD", "fatal", err.message, f"line {err.line}", "xsd"))
        text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
        with self.lock:
            node = self.proc.parse_xml(xml_text=text)
            reports = {name: ss.transform_to_string(xdm_node=node) for name, ss in self.stylesheets.items()}
        for name, svrl in reports.items():
            findings.extend(_svrl_findings(svrl, name))
        return findings


def _svrl_findings(svrl: str, source: str) -> list[Finding]:
    doc = etree.fromstring(svrl.encode("utf-8"))
    out = []
    for el in doc.iter(f"{{{NS_SVRL}}}failed-assert", f"{{{NS_SVRL}}}successful-report"):
        text = el.findtext(f"{{{NS_SVRL}}}text") or ""
        out.append(Finding(el.get("id") or "", el.get("flag") or "fatal", " ".join(text.split()),
                           el.get("location") or "", source))
    return out


_validator: _Validator | None = None
_validator_lock = threading.Lock()


def get_validator() -> _Validator:
    global _validator
    if _validator is None:
        with _validator_lock:
            if _validator is None:
                _validator = _Validator(rules_dir())
    return _validator


def validate(xml: bytes) -> list[Finding]:
    """All findings (fatal and warning) of the UBL XSD and the CEN + PEPPOL rules for ``xml``."""
    return get_validator().validate(xml)


def fatal_findings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.fatal]


# --- sending ----------------------------------------------------------------------------------------

class AccessPoint(Protocol):
    """Sends a validated UBL document to a Peppol receiver (``"0208:0403170701"``); returns a message id."""

    def send(self, xml: bytes, receiver_endpoint: str) -> str: ...


class FolderDropAccessPoint:
    """Writes each document into a folder, for an access point (or a person) that picks files up there."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def send(self, xml: bytes, receiver_endpoint: str) -> str:
        if not re.fullmatch(r"[0-9]{4}:[A-Za-z0-9.\-_]+", receiver_endpoint or ""):
            raise UblError("Receiver endpoint must look like '0208:0403170701'.", field="receiver_endpoint")
        self.folder.mkdir(parents=True, exist_ok=True)
        message_id = uuid.uuid4().hex
        name = f"{receiver_endpoint.replace(':', '_')}__{message_id}.xml"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(xml)
        os.replace(tmp, self.folder / name)  # atomic: a pick-up never sees a half-written file
        return message_id
