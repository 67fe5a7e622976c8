"""Peppol UBL benchmark: generation + full official validation (UBL XSD, CEN and PEPPOL schematron) per
invoice after warm-up (target <= 30 ms), plus CODA parsing of a 10,000-movement statement (parse only; the
booking target belongs to the billing services). Pure Python, no database. Prints JSON.

Usage: python bench/billing_ubl.py [invoices]
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import date
from decimal import Decimal as D
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins.billing import coda, ubl  # noqa: E402


def invoice(n: int) -> ubl.Document:
    address = ubl.Address("BE", f"Kerkstraat {n % 200 + 1}", None, "Gent", "9000")
    lines = [ubl.Line(f"Membership 2026 type {i}", D(1 + (n + i) % 40), D("27.35") + i, "E", D(0))
             for i in range(3)]
    lines.append(ubl.Line("Club jersey", D(2), D("19.99"), "S", D(21)))
    return ubl.Document(
        number=f"2026/{n:06d}", issue_date=date(2026, 1, 15), due_date=date(2026, 2, 14),
        seller=ubl.Party("Vlaamse Voetbalfederatie VZW", address, kbo="0403170701", vat_number="BE0403170701"),
        buyer=ubl.Party(f"FC Club {n} VZW", address, kbo="0202239951"),
        lines=lines, exemption_reasons={"E": "Art. 44 Belgian VAT Code"},
        allowances_charges=[ubl.AllowanceCharge(D("5.00"), "Discount", "S", D(21))],
        payment_means=ubl.PaymentMeans("BE48320070184927", bic="BBRUBEBB", payment_id="+++090/9337/55493+++"),
    )


def coda_file(movements: int) -> bytes:
    """A synthetic one-statement CODA file: every movement a credit with a structured communication."""

    def rec(*fields: tuple[int, str]) -> str:
        chars = [" "] * 128
        for start, value in fields:  # 0-based start
            chars[start:start + len(value)] = value
        return "".join(chars)

    iban = "BE48320070184927"
    recs = [rec((0, "00000010126300050"), (34, "FEDERATIE VZW"), (60, "BBRUBEBB"), (127, "2")),
            rec((0, "12001"), (5, iban), (39, "EUR0"), (43, "0" * 15), (58, "311225"), (64, "FEDERATIE VZW"),
                (125, "001"))]
    total = 0
    for i in range(1, movements + 1):
        cents = 1000 + i % 5000
        total += cents
        base = 1_000_000_000 + i
        ogm = f"{base:010d}{base % 97 or 97:02d}"
        seq = f"{i % 10000:04d}0000"
        recs.append(rec((0, "21" + seq), (10, f"REF{i}"), (31, f"0{cents * 10:015d}010126001500001101" + ogm),
                        (115, "010126001"), (124, "01"), (127, "0")))
        recs.append(rec((0, "22" + seq), (98, "GEBABEBB"), (125, "1"), (127, "0")))
        recs.append(rec((0, "23" + seq), (10, "BE68539007547034"), (47, f"MEMBER {i}"), (125, "0"),
                        (127, "0")))
    recs.append(rec((0, "8001"), (4, iban), (38, "EUR0"), (42, f"{total * 10:015d}"), (57, "010126")))
    recs.append(rec((0, "9"), (16, f"{movements * 3 + 2:06d}{0:015d}{total * 10:015d}"), (127, "2")))
    return ("\r\n".join(recs) + "\r\n").encode()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    t0 = time.perf_counter()
    ubl.get_validator()
    compile_s = time.perf_counter() - t0
    for n in range(5):  # warm-up
        ubl.validate(ubl.build_invoice_xml(invoice(n)))
    build_ms, total_ms = [], []
    fatal = 0
    for n in range(count):
        t = time.perf_counter()
        xml = ubl.build_invoice_xml(invoice(n))
        t_built = time.perf_counter()
        fatal += len(ubl.fatal_findings(ubl.validate(xml)))
        build_ms.append((t_built - t) * 1000)
        total_ms.append((time.perf_counter() - t) * 1000)

    data = coda_file(10_000)
    t = time.perf_counter()
    [statement] = coda.parse(data)
    coda_s = time.perf_counter() - t
    structured = sum(1 for m in statement.movements if m.structured_communication)

    p50 = statistics.median(total_ms)
    p95 = sorted(total_ms)[int(len(total_ms) * 0.95) - 1]
    print(json.dumps({
        "invoices": count,
        "stylesheet_compile_s": round(compile_s, 3),
        "ubl_build_p50_ms": round(statistics.median(build_ms), 2),
        "ubl_build_and_validate_p50_ms": round(p50, 2),
        "ubl_build_and_validate_p95_ms": round(p95, 2),
        "target_ms": 30,
        "ok": p50 <= 30 and fatal == 0,
        "fatal_findings": fatal,
        "coda_movements": len(statement.movements),
        "coda_structured_communications": structured,
        "coda_parse_s": round(coda_s, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
