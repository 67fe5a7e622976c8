"""UBL generation without the official validator: Decimal arithmetic and rounding, the mapping of the Belgian
specifics (0208 KBO endpoint, IBAN, structured communication), refused inputs and the folder-drop access point.
The official-rules tier is tests/spec/test_peppol.py."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from lxml import etree

from plugins.billing import ubl

NS = {"cbc": ubl.NS_CBC, "cac": ubl.NS_CAC}


def party(name="FC Aalst VZW", kbo="0202.239.951", **kw):
    kw.setdefault("address", ubl.Address("BE", "Dorp 2", None, "Aalst", "9300"))
    return ubl.Party(name, kbo=kbo, **kw)


def doc(lines, **kw):
    data = dict(number="2026/000001", issue_date=date(2026, 3, 1), due_date=date(2026, 3, 31),
                seller=party("Federatie VZW", "BE 0403.170.701", vat_number="BE 0403.170.701"), buyer=party(),
                lines=lines, exemption_reasons={"E": "Art. 44 VAT Code"},
                payment_means=ubl.PaymentMeans("BE48 3200 7018 4927", bic="bbrubebb",
                                               payment_id="+++090/9337/55493+++"))
    data.update(kw)
    return ubl.Document(**data)


def xpath(xml: bytes, path: str) -> list[str]:
    return [e.text if hasattr(e, "text") else str(e) for e in etree.fromstring(xml).xpath(path, namespaces=NS)]


def test_rounding_and_vat_breakdown():
    d = doc([
        ubl.Line("Catering", D(3), D("33.333"), "S", D(12)),  # 99.999 -> 100.00
        ubl.Line("Drinks", D(7), D("1.005"), "S", D(6)),  # 7.035 -> 7.04 (half up)
        ubl.Line("Cones", D("2.5"), D("3.49"), "S", D(21)),  # 8.725 -> 8.73
        ubl.Line("More cones", D(1), D("0.10"), "S", D(21)),
        ubl.Line("Fee", D(2), D(40), "E", D(0)),
    ], allowances_charges=[ubl.AllowanceCharge(D("10"), "Discount", "S", D(12)),
                           ubl.AllowanceCharge(D("1.50"), "Handling", "S", D(21), charge=True)])
    t = ubl.compute_totals(d)
    assert t.line_extension == D("195.87")
    by = {(b.category, b.rate): b for b in t.breakdown}
    assert by[("S", D(12))].taxable_amount == D("90.00") and by[("S", D(12))].tax_amount == D("10.80")
    assert by[("S", D(6))].tax_amount == D("0.42")  # 7.04 * 6% = 0.4224
    assert by[("S", D(21))].taxable_amount == D("10.33") and by[("S", D(21))].tax_amount == D("2.17")
    assert by[("E", D(0))].tax_amount == D("0.00") and by[("E", D(0))].exemption_reason == "Art. 44 VAT Code"
    assert t.allowance_total == D("10.00") and t.charge_total == D("1.50")
    assert t.tax_exclusive == D("187.37")
    assert t.tax_total == D("13.39")
    assert t.tax_inclusive == t.payable == D("200.76")
    assert all(isinstance(v, D) for v in (t.line_extension, t.tax_total, t.payable))


def test_belgian_specifics_in_xml():
    xml = ubl.build_invoice_xml(doc([ubl.Line("Membership 2026", D(10), D("45"))]))
    assert xml.startswith(b"<?xml")
    assert xpath(xml, "//cac:AccountingSupplierParty//cbc:EndpointID/@schemeID") == ["0208"]
    assert xpath(xml, "//cac:AccountingSupplierParty//cbc:EndpointID") == ["0403170701"]
    assert xpath(xml, "//cac:AccountingCustomerParty//cac:PartyLegalEntity/cbc:CompanyID") == ["0202239951"]
    assert xpath(xml, "//cac:AccountingSupplierParty//cac:PartyTaxScheme/cbc:CompanyID") == ["BE0403170701"]
    assert xpath(xml, "//cac:PaymentMeans/cbc:PaymentID") == ["+++090/9337/55493+++"]
    assert xpath(xml, "//cac:PayeeFinancialAccount/cbc:ID") == ["BE48320070184927"]
    assert xpath(xml, "//cac:FinancialInstitutionBranch/cbc:ID") == ["BBRUBEBB"]
    assert xpath(xml, "/*/cbc:CustomizationID") == [ubl.CUSTOMIZATION_ID]
    assert xpath(xml, "/*/cbc:ProfileID") == [ubl.PROFILE_ID]
    assert xpath(xml, "//cbc:PayableAmount") == ["450.00"]
    assert xpath(xml, "//cbc:DueDate") == ["2026-03-31"]
    assert xpath(xml, "//cbc:BuyerReference") == ["2026/000001"]


def test_exempt_seller_without_vat_number_uses_kbo_as_tax_registration():
    d = doc([ubl.Line("Membership", D(1), D(50))], seller=party("Club VZW", "0403170701"))
    xml = ubl.build_invoice_xml(d)
    assert xpath(xml, "//cac:AccountingSupplierParty//cac:PartyTaxScheme/cac:TaxScheme/cbc:ID") == ["TAX"]


def test_credit_note():
    d = doc([ubl.Line("Refund", D(1), D("12.50"))], kind=ubl.CREDIT_NOTE, number="CN-1",
            billing_reference="2026/000001", billing_reference_date=date(2026, 3, 1))
    root = etree.fromstring(ubl.build_invoice_xml(d))
    assert root.tag == f"{{{ubl.NS_CREDIT_NOTE}}}CreditNote"
    assert root.xpath("cbc:CreditNoteTypeCode/text()", namespaces=NS) == ["381"]
    assert root.xpath("//cac:InvoiceDocumentReference/cbc:ID/text()", namespaces=NS) == ["2026/000001"]
    assert root.xpath("//cac:PaymentMeans/cbc:PaymentDueDate/text()", namespaces=NS) == ["2026-03-31"]
    assert root.xpath("//cac:CreditNoteLine/cbc:CreditedQuantity/text()", namespaces=NS) == ["1"]
    assert not root.xpath("cbc:DueDate", namespaces=NS)


@pytest.mark.parametrize("change, field", [
    (dict(lines=[ubl.Line("x", D(1), D(1), "X", D(0))]), "lines.0.vat_category"),
    (dict(lines=[ubl.Line("x", D(1), D(1), "E", D(21))]), "lines.0.vat_category"),
    (dict(lines=[ubl.Line("x", D(1), D(1), "S", D(0))]), "lines.0.vat_category"),
    (dict(lines=[ubl.Line("x", D(0), D(1))]), "lines.0.quantity"),
    (dict(lines=[ubl.Line("x", D(1), D(-1))]), "lines.0.unit_price"),
    (dict(lines=[ubl.Line(" ", D(1), D(1))]), "lines.0.description"),
    (dict(lines=[]), "lines"),
    (dict(exemption_reasons={}), "exemption_reasons"),
    (dict(allowances_charges=[ubl.AllowanceCharge(D(0), "Nothing")]), "allowances_charges.0.amount"),
    (dict(seller=party("Club VZW", None)), "seller.kbo"),
    (dict(buyer=party(address=None)), "buyer.address"),
    (dict(due_date=None), "due_date"),
    (dict(kind=ubl.CREDIT_NOTE), "billing_reference"),
    (dict(kind="order"), "kind"),
    (dict(payment_means=ubl.PaymentMeans("BE48320070184927", code="49")), "payment_means.code"),
    (dict(payment_means=ubl.PaymentMeans("")), "payment_means.iban"),
    (dict(seller=party("Club VZW", "0403170701"), lines=[ubl.Line("x", D(1), D(1), "S", D(21))]),
     "seller.vat_number"),
])
def test_refused_input(change, field):
    base = dict(lines=[ubl.Line("Membership", D(1), D(50))])
    base.update(change)
    with pytest.raises(ubl.UblError) as exc:
        ubl.build_invoice_xml(doc(**base))
    assert exc.value.field == field


def test_normalise_kbo():
    assert ubl.normalise_kbo("BE 0403.170.701") == "0403170701"
    assert ubl.normalise_kbo("403170701") == "0403170701"
    assert ubl.normalise_kbo("") is None


def test_folder_drop_access_point(tmp_path):
    ap = ubl.FolderDropAccessPoint(tmp_path / "outbox")
    xml = ubl.build_invoice_xml(doc([ubl.Line("Membership", D(1), D(50))]))
    message_id = ap.send(xml, "0208:0202239951")
    [written] = (tmp_path / "outbox").iterdir()
    assert written.name == f"0208_0202239951__{message_id}.xml"
    assert written.read_bytes() == xml
    with pytest.raises(ubl.UblError):
        ap.send(xml, "../../etc/passwd")
    assert len(list((tmp_path / "outbox").iterdir())) == 1


def test_control_characters_and_floats_are_handled():
    line = ubl.Line("Jersey\x0b size L\x00", 3, 0.1, "S", 21)  # ints and floats from careless callers
    xml = ubl.build_invoice_xml(doc([line]))
    assert xpath(xml, "//cac:Item/cbc:Name") == ["Jersey  size L "]
    assert xpath(xml, "//cac:Price/cbc:PriceAmount") == ["0.1"]
    assert xpath(xml, "//cac:InvoiceLine/cbc:LineExtensionAmount") == ["0.30"]
    assert xpath(xml, "//cac:TaxTotal/cbc:TaxAmount") == ["0.06"]
