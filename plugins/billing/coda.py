"""CODA v2.3 bank statement parser (Belgian "coded statement of account", 128-character fixed records).

Pure module: bytes/str in, dataclasses out. Records (positions in the comments are the spec's 1-based ones):
0 header, 1 old balance, 21/22/23 movement (+ continuation), 31/32/33 information, 4 free message,
8 new balance, 9 trailer. A file may hold several statements (each 0 ... 9).

Integrity is checked, not assumed: every record is 128 characters, continuation records belong to the
movement before them, the trailer's record count and debit/credit totals match, and
old balance + sum of the statement's top-level movements == new balance. Anything wrong raises
:class:`CodaError` with the 1-based line number.

Booking: a globalised movement (detail number 0000 with details 0001...) carries the total; its details carry
the individual payments. :meth:`Statement.bookable_movements` gives the leaves (a movement without details,
or each detail), whose sum equals the top-level sum. Each movement has a stable ``reference`` (account, year,
statement number, sequence, detail, bank reference) so importing the same statement twice can be detected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

RECORD_LENGTH = 128
STRUCTURED_CODES = {"101", "102"}  # Belgian structured communication (OGM/VCS), +++xxx/xxxx/xxxxx+++


class CodaError(ValueError):
    """The file is not valid CODA; ``line`` is the 1-based line number (0 for the file as a whole)."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


@dataclass
class Movement:
    sequence: int
    detail: int
    bank_reference: str
    amount: Decimal  # signed: credit (money in) positive, debit negative
    value_date: date | None
    entry_date: date | None
    transaction_code: str  # 8 characters: type, family, transaction, category
    globalisation_code: int
    communication: str  # free text, or the raw structured communication
    communication_type_code: str | None = None  # e.g. "101" when structured
    structured_communication: str | None = None  # 12 digits, only for code 101/102
    counterparty_name: str | None = None
    counterparty_account: str | None = None  # IBAN (or old account number)
    counterparty_bic: str | None = None
    information: list[str] = field(default_factory=list)  # texts of records 31/32/33
    line_number: int = 0
    reference: str = ""  # stable and unique: for idempotent booking

    @property
    def is_detail(self) -> bool:
        return self.detail > 0

    @property
    def structured_communication_formatted(self) -> str | None:
        s = self.structured_communication
        return f"+++{s[:3]}/{s[3:7]}/{s[7:]}+++" if s else None


@dataclass
class Statement:
    account: str  # IBAN for account structures 2 and 3
    currency: str
    sequence: int  # statement (paper) number, record 1 positions 3-5
    coda_sequence: int  # record 1 positions 126-128
    creation_date: date | None
    old_balance: Decimal
    old_balance_date: date | None
    new_balance: Decimal
    date: date | None  # new balance date
    holder_name: str
    bank_id: str
    bic: str
    duplicate: bool
    movements: list[Movement] = field(default_factory=list)
    debit_total: Decimal = Decimal("0")  # from the trailer
    credit_total: Decimal = Decimal("0")
    free_messages: list[str] = field(default_factory=list)

    @property
    def top_level_movements(self) -> list[Movement]:
        return [m for m in self.movements if not m.is_detail]

    def bookable_movements(self) -> list[Movement]:
        """Leaf movements: details replace the globalised movement they belong to."""
        with_details = {m.sequence for m in self.movements if m.is_detail}
        return [m for m in self.movements if m.is_detail or m.sequence not in with_details]


def _date(text: str, line: int, what: str) -> date | None:
    if text.strip("0 ") == "":
        return None
    if not text.isdigit():
        raise CodaError(line, f"{what} {text!r} is not a date (DDMMYY).")
    day, month, year = int(text[:2]), int(text[2:4]), int(text[4:6])
    try:
        return date(2000 + year if year < 80 else 1900 + year, month, day)
    except ValueError:
        raise CodaError(line, f"{what} {text!r} is not a valid date.") from None


def _amount(sign: str, digits: str, line: int, what: str) -> Decimal:
    if not digits.isdigit() or len(digits) != 15:
        raise CodaError(line, f"{what} {digits!r} is not a 15-digit amount.")
    if sign not in "01":
        raise CodaError(line, f"{what} sign {sign!r} must be 0 (credit) or 1 (debit).")
    value = Decimal(f"{digits[:12]}.{digits[12:]}")
    return -value if sign == "1" else value


def _int(text: str, line: int, what: str) -> int:
    if not text.isdigit():
        raise CodaError(line, f"{what} {text!r} is not a number.")
    return int(text)


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _account(structure: str, text: str) -> str:
    if structure == "2":
        return text[:16].strip()
    if structure == "0":
        return text[:12].strip()
    return text[:34].strip()


def parse(data: bytes | str) -> list[Statement]:
    """All statements in a CODA file. Raises CodaError on the first problem."""
    text = _decode(data)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise CodaError(0, "The file is empty.")
    statements: list[Statement] = []
    st: Statement | None = None
    header: dict | None = None
    last: Movement | None = None  # the movement continuation/information records attach to
    expect: str | None = None  # the record type the previous record announced ("22", "23", "31"...)
    count = 0  # records between 0 and 9
    seen_new_balance = False

    for no, raw in enumerate(lines, start=1):
        rec = raw.rstrip("\r\n")
        if len(rec) != RECORD_LENGTH:
            raise CodaError(no, f"Record is {len(rec)} characters long, expected {RECORD_LENGTH}.")
        kind = rec[0]
        if kind in "23":
            kind = rec[:2]
        if kind not in {"0", "1", "21", "22", "23", "31", "32", "33", "4", "8", "9"}:
            raise CodaError(no, f"Unknown record type {rec[:2]!r}.")
        if header is None and kind != "0":
            raise CodaError(no, f"Expected a header record (0), found {kind!r}.")
        if expect and kind != expect:
            raise CodaError(no, f"Expected record {expect} (announced by the previous record), found {kind}.")
        expect = None

        if kind == "0":
            if header is not None:
                raise CodaError(no, "Header record (0) before the trailer (9) of the previous statement.")
            if rec[127] != "2":
                raise CodaError(no, f"Unsupported CODA version {rec[127]!r} (only version 2 is supported).")
            header = {
                "creation_date": _date(rec[5:11], no, "Creation date"),
                "bank_id": rec[11:14].strip(),
                "duplicate": rec[16] == "D",
                "bic": rec[60:71].strip(),
            }
            count, seen_new_balance, last = 0, False, None
            continue
        if kind == "9":
            if st is None or not seen_new_balance:
                raise CodaError(no, "Trailer record (9) before the new balance record (8).")
            records = _int(rec[16:22], no, "Record count")
            st.debit_total = abs(_amount("0", rec[22:37], no, "Debit total"))
            st.credit_total = _amount("0", rec[37:52], no, "Credit total")
            if records != count:
                raise CodaError(no, f"Trailer counts {records} records, the statement has {count}.")
            top = st.top_level_movements
            debit = -sum((m.amount for m in top if m.amount < 0), Decimal(0))
            credit = sum((m.amount for m in top if m.amount > 0), Decimal(0))
            if (debit, credit) != (st.debit_total, st.credit_total):
                raise CodaError(no, f"Trailer totals debit {st.debit_total} / credit {st.credit_total} do not match "
                                    f"the movements (debit {debit} / credit {credit}).")
            statements.append(st)
            st, header, last = None, None, None
            continue

        if kind != "4":  # the trailer counts records 1, 2x, 3x and 8
            count += 1
        if kind == "1":
            if st is not None:
                raise CodaError(no, "A second old balance record (1) in one statement.")
            structure = rec[1]
            if structure not in "0123":
                raise CodaError(no, f"Unknown account structure {structure!r}.")
            st = Statement(
                account=_account(structure, rec[5:39]),
                currency=rec[39:42].strip(),
                sequence=_int(rec[2:5], no, "Statement number"),
                coda_sequence=_int(rec[125:128], no, "CODA sequence number"),
                creation_date=header["creation_date"],
                old_balance=_amount(rec[42], rec[43:58], no, "Old balance"),
                old_balance_date=_date(rec[58:64], no, "Old balance date"),
                new_balance=Decimal(0),
                date=None,
                holder_name=rec[64:90].strip(),
                bank_id=header["bank_id"],
                bic=header["bic"],
                duplicate=header["duplicate"],
            )
            continue
        if st is None:
            raise CodaError(no, f"Record {kind} before the old balance record (1).")
        if seen_new_balance and kind != "4":
            raise CodaError(no, f"Record {kind} after the new balance record (8).")

        if kind == "21":
            seq, det = _int(rec[2:6], no, "Sequence number"), _int(rec[6:10], no, "Detail number")
            structured = rec[61] == "1"
            if rec[61] not in "01":
                raise CodaError(no, f"Communication type {rec[61]!r} must be 0 or 1.")
            comm = rec[62:115]
            last = Movement(
                sequence=seq,
                detail=det,
                bank_reference=rec[10:31].strip(),
                amount=_amount(rec[31], rec[32:47], no, "Amount"),
                value_date=_date(rec[47:53], no, "Value date"),
                entry_date=_date(rec[115:121], no, "Entry date"),
                transaction_code=rec[53:61],
                globalisation_code=_int(rec[124], no, "Globalisation code"),
                communication=comm,
                communication_type_code=comm[:3] if structured else None,
                line_number=no,
            )
            st.movements.append(last)
            if rec[125] == "1":
                expect = "22"
            elif rec[127] == "1":
                expect = "31"
            continue

        if kind in ("22", "23", "31", "32", "33"):
            if last is None:
                raise CodaError(no, f"Record {kind} without a movement record (21) before it.")
            seq, det = _int(rec[2:6], no, "Sequence number"), _int(rec[6:10], no, "Detail number")
            if kind in ("22", "23") and (seq, det) != (last.sequence, last.detail):
                raise CodaError(no, f"Record {kind} belongs to movement {seq}/{det}, "
                                    f"not to {last.sequence}/{last.detail} before it.")
            if kind in ("31", "32", "33") and seq != last.sequence:
                raise CodaError(no, f"Information record {kind} belongs to movement {seq}, not {last.sequence}.")
        if kind == "22":
            last.communication += rec[10:63]
            last.counterparty_bic = rec[98:109].strip() or None
            if rec[125] == "1":
                expect = "23"
            elif rec[127] == "1":
                expect = "31"
        elif kind == "23":
            last.counterparty_account = rec[10:44].strip() or None
            last.counterparty_name = rec[47:82].strip() or None
            last.communication += rec[82:125]
            if rec[127] == "1":
                expect = "31"
        elif kind == "31":
            last.information.append(rec[40:113])
            if rec[125] == "1":
                expect = "32"
        elif kind == "32":
            last.information[-1:] = [(last.information[-1] if last.information else "") + rec[10:115]]
            if rec[125] == "1":
                expect = "33"
        elif kind == "33":
            last.information[-1:] = [(last.information[-1] if last.information else "") + rec[10:100]]
        elif kind == "4":
            st.free_messages.append(rec[32:112].strip())
        elif kind == "8":
            st.new_balance = _amount(rec[41], rec[42:57], no, "New balance")
            st.date = _date(rec[57:63], no, "New balance date")
            total = sum((m.amount for m in st.top_level_movements), Decimal(0))
            if st.old_balance + total != st.new_balance:
                raise CodaError(no, f"Old balance {st.old_balance} + movements {total} != new balance "
                                    f"{st.new_balance}.")
            seen_new_balance = True
            _finish(st)

    if header is not None or st is not None:
        raise CodaError(len(lines), "The file is truncated: the trailer record (9) is missing.")
    return statements


def _finish(st: Statement) -> None:
    year = (st.date or st.old_balance_date or st.creation_date or date(1900, 1, 1)).year
    for m in st.movements:
        text = m.communication
        m.communication = " ".join(text.split())
        m.information = [" ".join(i.split()) for i in m.information]
        if m.communication_type_code in STRUCTURED_CODES:
            digits = text[3:15]
            if digits.isdigit():
                m.structured_communication = digits
        m.reference = f"{st.account}/{year}/{st.sequence:03d}/{m.sequence:04d}/{m.detail:04d}/{m.bank_reference}"
