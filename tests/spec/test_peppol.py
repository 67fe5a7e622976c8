"""Official-validator tier: generated Peppol BIS Billing 3.0 documents pass the UBL XSD and the CEN + PEPPOL
schematron rules (../shared/reference/peppol) with zero fatal errors, and broken ones fail with the right rules.

The compiled stylesheets are cached per process (plugins.billing.ubl.get_validator), so the tier compiles once."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from lxml import etree

from plugins.billing import ubl


@pytest.fixture(scope="module")
def validator():
    return ubl.get_validator()


def seller(**kw):
    data = dict(
        name="Vlaamse Voetbalfederatie VZW",
        address=ubl.Address("BE", "Kerkstraat 1", None, "Gent", "9000"),
        kbo="0403.170.701",
        contact=ubl.Contact("Secretariaat", "+32 9 123 45 67", "info@vvf.example"),
    )
    data.update(kw)
    return ubl.Party(**data)


def buyer(**kw):
    data = dict(name="FC Aalst VZW", address=ubl.Address("BE", "Dorp 2", None, "Aalst", "9300"), kbo="0202239951")
    data.update(kw)
    return ubl.Party(**data)


PAY = ubl.PaymentMeans("BE48 3200 7018 4927", code="58", bic="BBRUBEBB", payment_id="+++090/9337/55493+++")


def document(**kw):
    data = dict(
        number="2026/000123",
        issue_date=date(2026, 1, 15),
        due_date=date(2026, 2, 14),
        seller=seller(),
        buyer=buyer(),
        lines=[ubl.Line("Membership fee 2026 - senior", D(12), D("45.50")),
               ubl.Line("Membership fee 2026 - youth", D(30), D("27.35"))],
        exemption_reasons={"E": "Exempt, art. 44 §2 3° Belgian VAT Code"},
        payment_means=PAY,
    )
    data.update(kw)
    return ubl.Document(**data)


VAT_SELLER = dict(vat_number="BE0403170701")

REPRESENTATIVE = {
    "exempt": lambda: document(),
    "standard_21": lambda: document(
        seller=seller(**VAT_SELLER), buyer=buyer(vat_number="BE0202239951"),
        lines=[ubl.Line("Club jerseys", D(25), D("19.99"), "S", D(21), unit_code="H87"),
               ubl.Line("Shipping", D(1), D("12.40"), "S", D(21))],
    ),
    "credit_note_without_due_date_or_payment": lambda: document(
        kind=ubl.CREDIT_NOTE, number="2026/CN/0008", billing_reference="2026/000124", due_date=None,
        payment_means=None, lines=[ubl.Line("Membership fee 2026 - senior", D(1), D("45.50"))],
    ),
    "several_rates": lambda: document(
        seller=seller(**VAT_SELLER),
        lines=[ubl.Line("Sports drinks", D(48), D("1.15"), "S", D(6)),
               ubl.Line("Catering", D(3), D("33.333"), "S", D(12)),
               ubl.Line("Training cones", D(7), D("3.49"), "S", D(21)),
               ubl.Line("Course fee", D(2), D(80), "E", D(0))],
    ),
    "credit_note": lambda: document(
        kind=ubl.CREDIT_NOTE, number="2026/CN/0007", billing_reference="2026/000123",
        billing_reference_date=date(2026, 1, 15),
        lines=[ubl.Line("Membership fee 2026 - youth (left the club)", D(2), D("27.35"))],
    ),
    "allowance_and_charge": lambda: document(
        seller=seller(**VAT_SELLER),
        lines=[ubl.Line("Tournament registration", D(4), D(150), "S", D(21)),
               ubl.Line("Insurance", D(4), D(12), "E", D(0))],
        allowances_charges=[ubl.AllowanceCharge(D("60.00"), "Early bird discount", "S", D(21)),
                            ubl.AllowanceCharge(D("5.00"), "Administration", "S", D(21), charge=True)],
    ),
    "reverse_charge_AE": lambda: document(
        seller=seller(**VAT_SELLER), buyer=buyer(vat_number="BE0202239951"), exemption_reasons={},
        lines=[ubl.Line("Renovation of the clubhouse", D(1), D("2500.00"), "AE", D(0))],
    ),
    "outside_scope_O": lambda: document(
        exemption_reasons={}, lines=[ubl.Line("Sponsorship contribution", D(1), D(250), "O", None)],
    ),
    "prepaid_without_due_date": lambda: document(due_date=None, payment_terms="Paid by direct debit",
                                                 prepaid_amount=D("10.00")),
}


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
def test_representative_documents_pass_official_rules(validator, name):
    xml = ubl.build_invoice_xml(REPRESENTATIVE[name]())
    findings = ubl.validate(xml)
    assert ubl.fatal_findings(findings) == [], findings


@pytest.mark.parametrize("path", sorted((ubl.rules_dir() / "examples").glob("*.xml")), ids=lambda p: p.name)
def test_official_examples_pass(validator, path):
    assert ubl.fatal_findings(ubl.validate(path.read_bytes())) == []


def _xml_set(xml: bytes, xpath: str, value: str) -> bytes:
    tree = etree.fromstring(xml)
    nodes = tree.xpath(xpath, namespaces={"cbc": ubl.NS_CBC, "cac": ubl.NS_CAC})
    assert nodes, xpath
    for node in nodes:
        node.text = value
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _fatal_ids(xml: bytes) -> set[str]:
    return {f.rule_id for f in ubl.fatal_findings(ubl.validate(xml))}


def test_wrong_total_is_fatal(validator):
    xml = ubl.build_invoice_xml(REPRESENTATIVE["standard_21"]())
    broken = _xml_set(xml, "//cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "999.99")
    assert "BR-CO-15" in _fatal_ids(broken)
    broken = _xml_set(xml, "//cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "1.00")
    assert "BR-CO-10" in _fatal_ids(broken)


def test_bad_kbo_checksum_is_fatal(validator):
    xml = ubl.build_invoice_xml(document(buyer=buyer(kbo="0202239952")))
    ids = _fatal_ids(xml)
    assert "PEPPOL-COMMON-R043" in ids


def test_missing_exemption_reason_and_xsd_errors_are_reported(validator):
    xml = ubl.build_invoice_xml(document())
    broken = etree.fromstring(xml)
    for el in broken.xpath("//cbc:TaxExemptionReason", namespaces={"cbc": ubl.NS_CBC}):
        el.getparent().remove(el)
    assert "BR-E-10" in _fatal_ids(etree.tostring(broken))
    # An element out of schema order is an XSD error.
    bad = xml.replace(b"<cbc:ProfileID>", b"<cbc:Bogus>x</cbc:Bogus><cbc:ProfileID>")
    findings = ubl.validate(bad)
    assert any(f.source == "xsd" and f.fatal for f in findings)
    assert ubl.validate(b"<Invoice") [0].rule_id == "XML"


def test_missing_rules_folder_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("FEDERA_PEPPOL_RULES", str(tmp_path))
    with pytest.raises(ubl.RulesNotFound, match="FEDERA_PEPPOL_RULES"):
        ubl.rules_dir()


def test_validation_from_worker_threads(validator):
    import threading

    good = ubl.build_invoice_xml(REPRESENTATIVE["standard_21"]())
    bad = _xml_set(good, "//cac:LegalMonetaryTotal/cbc:PayableAmount", "1.00")
    results = []

    def work():
        results.append((_fatal_ids(good), _fatal_ids(bad)))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(set(), {"BR-CO-16"})] * 3
