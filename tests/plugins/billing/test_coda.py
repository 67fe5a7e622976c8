"""CODA v2.3 parsing: the real bank statement in ../shared/reference/coda, structured communications, and
malformed files (each refused with the line number and what is wrong)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from plugins.billing import coda

SAMPLE = Path(__file__).resolve().parents[3].parent / "shared/reference/coda/coda_sample_v2_3_single_statement.txt"


@pytest.fixture(scope="module")
def raw() -> bytes:
    return SAMPLE.read_bytes()


def lines(raw: bytes) -> list[str]:
    return raw.decode("ascii").splitlines()


def join(recs: list[str]) -> bytes:
    return ("\r\n".join(recs) + "\r\n").encode("ascii")


def put(rec: str, pos: int, value: str) -> str:
    """Overwrite 1-based position ``pos`` onwards with ``value`` (the record keeps its 128 characters)."""
    return rec[: pos - 1] + value + rec[pos - 1 + len(value):]


def test_real_statement(raw):
    [st] = coda.parse(raw)
    assert st.account == "BE86407051416150"
    assert st.currency == "EUR"
    assert st.sequence == 42
    assert st.holder_name == "STORA ENSO LANGERBRUGGE NV"
    assert st.date == date(2009, 3, 5) and st.old_balance_date == date(2009, 3, 4)
    assert len(st.movements) == 32
    assert all(isinstance(m.amount, D) for m in st.movements)
    # Totals reconcile, both on the top-level movements and on the bookable leaves.
    assert st.old_balance + sum(m.amount for m in st.top_level_movements) == st.new_balance
    assert st.old_balance + sum(m.amount for m in st.bookable_movements()) == st.new_balance
    assert st.debit_total == st.credit_total == D("64703.01")
    assert len(st.bookable_movements()) == 30  # the two globalised movements are replaced by their details
    refs = [m.reference for m in st.movements]
    assert len(set(refs)) == 32
    assert refs == [m.reference for m in coda.parse(raw)[0].movements]  # stable across imports

    first = st.movements[0]
    assert first.amount == D("20.00") and first.value_date == date(2009, 3, 5)
    assert first.communication_type_code == "114" and first.structured_communication is None

    amex = st.movements[9]
    assert amex.amount == D("-62095.01")
    assert amex.counterparty_name == "AMERICAN EXPRESS"
    assert amex.information == ["001AMERICAN EXPRESS"]

    vivium = st.movements[10]
    assert vivium.amount == D("148.30")
    assert vivium.communication == "ONG. SG 20-4203595 LOONVERLIES HAMERLYNCK TONY"  # 21 + 22 continued
    assert vivium.counterparty_name == "VIVIUM" and vivium.counterparty_account == "310180203454"

    detail = st.movements[16]
    assert detail.is_detail and detail.sequence == 16 and detail.detail == 1
    assert detail.counterparty_account == "BE38733040385372" and detail.counterparty_bic == "KREDBEBB"


def _with_structured(raw: bytes, code: str = "101", digits: str = "090933755493") -> list[str]:
    recs = lines(raw)
    i = next(n for n, r in enumerate(recs) if r.startswith("2100110000"))
    comm = (code + digits).ljust(53)
    recs[i] = put(put(recs[i], 62, "1"), 63, comm)
    recs[i + 1] = put(recs[i + 1], 11, " " * 53)  # no free-text continuation
    return recs


def test_structured_communication_is_normalised(raw):
    [st] = coda.parse(join(_with_structured(raw)))
    m = st.movements[10]
    assert m.structured_communication == "090933755493"
    assert m.structured_communication_formatted == "+++090/9337/55493+++"
    assert m.communication_type_code == "101"
    [st] = coda.parse(join(_with_structured(raw, code="102")))
    assert st.movements[10].structured_communication == "090933755493"
    # Another structured type (e.g. 107 direct debit) is not a Belgian payment reference.
    [st] = coda.parse(join(_with_structured(raw, code="107")))
    assert st.movements[10].structured_communication is None


def test_lf_and_latin1_are_accepted(raw):
    text = raw.decode("ascii").replace("\r\n", "\n")
    recs = text.splitlines()
    recs[0] = put(recs[0], 35, "CAFÉ")
    assert coda.parse("\n".join(recs).encode("latin-1"))[0].movements


def test_two_statements_in_one_file(raw):
    recs = lines(raw)
    assert len(coda.parse(join(recs + recs))) == 2


def _error(data: bytes) -> coda.CodaError:
    with pytest.raises(coda.CodaError) as exc:
        coda.parse(data)
    return exc.value


def test_wrong_length(raw):
    recs = lines(raw)
    recs[5] = recs[5][:100]
    err = _error(join(recs))
    assert err.line == 6 and "100 characters" in str(err)


def test_bad_record_type(raw):
    recs = lines(raw)
    recs[3] = "7" + recs[3][1:]
    err = _error(join(recs))
    assert err.line == 4 and "Unknown record type" in err.message


def test_truncated(raw):
    recs = lines(raw)
    err = _error(join(recs[:40]))
    assert "truncated" in err.message
    assert "empty" in _error(b"").message
    assert "header" in _error(join(recs[1:])).message


def test_amount_and_date_errors(raw):
    recs = lines(raw)
    bad = list(recs)
    bad[2] = put(bad[2], 33, "00000000002000X")
    err = _error(join(bad))
    assert err.line == 3 and "Amount" in err.message
    bad = list(recs)
    bad[2] = put(bad[2], 48, "320309")
    assert "Value date" in _error(join(bad)).message


def test_balance_and_trailer_must_reconcile(raw):
    recs = lines(raw)
    bad = list(recs)
    bad[2] = put(bad[2], 33, "000000000021000")  # movement 1 says 21.00 instead of 20.00
    err = _error(join(bad))
    assert err.line == len(recs) - 1 and "new balance" in err.message
    bad = list(recs)
    bad[-1] = put(bad[-1], 17, "000090")
    assert "counts 90 records" in _error(join(bad)).message


def test_continuation_must_belong_to_its_movement(raw):
    recs = lines(raw)
    bad = list(recs)
    bad[3] = put(bad[3], 3, "0002")  # record 22 of movement 1 claims to be movement 2's
    err = _error(join(bad))
    assert err.line == 4 and "belongs to movement" in err.message
    bad = list(recs)
    del bad[3]  # record 21 announces a 22 that never comes
    assert "Expected record 22" in _error(join(bad)).message


def test_unsupported_version(raw):
    recs = lines(raw)
    recs[0] = put(recs[0], 128, "1")
    assert "version" in _error(join(recs)).message
