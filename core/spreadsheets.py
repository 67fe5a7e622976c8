"""Excel files the platform writes: typed columns, streamed, text never read as a formula.

Every .xlsx a module produces goes through `Workbook` (reading uploaded files is openpyxl's job). Each column
has a kind fixed up front (text, number, money, date, bool), so a value is written as what its column holds:
a name that starts with "=" stays a name, a postal code stays text, a date is a date Excel can sort.

Rows go into the zip as they come, a chunk at a time, so memory stays flat for a list of any length; strings
are inline (no shared-string table to hold). A list longer than a worksheet goes on in "Title (2)" and so on,
each with the header row, rather than losing rows. Every sheet has a bold, frozen header row with filter buttons.

Why not XlsxWriter, whose constant_memory mode does the same: its per-cell Python work (about 7 µs a cell, and
100,000 members are 1.4 million cells) made the member export miss its 12 s target (12.0-12.7 s); a row
written as one string here costs a fifth of that (the export: 4 s). See docs/decisions.md.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import IO, Iterable, Sequence
from xml.sax.saxutils import escape as _xml_escape, quoteattr

TEXT, NUMBER, MONEY, DATE, BOOL = "text", "number", "money", "date", "bool"
KINDS = frozenset((TEXT, NUMBER, MONEY, DATE, BOOL))
DATE_FORMAT = "dd/mm/yyyy"
MONEY_FORMAT_ID = 4  # Excel's built-in "#,##0.00"

MAX_ROWS = 1_048_576  # rows of a worksheet, the header included
MAX_COLUMNS = 16_384
MAX_CELL_CHARS = 32_767  # Excel's limit of a cell's text, in UTF-16 code units
MAX_TITLE_CHARS = 31
# A worksheet part stays below the size at which Python's zipfile needs Zip64 (2 GiB). Zip64 records written
# for every file (force_zip64) make Excel on the web refuse it, so a list that would pass goes on in a new sheet.
MAX_SHEET_BYTES = zipfile.ZIP64_LIMIT
CHUNK_ROWS = 1000  # rows encoded and handed to the compressor at a time
CHUNK_CHARS = 1_000_000
EXCEL_EPOCH = dt.date(1899, 12, 31).toordinal()

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Style indexes into the cellXfs of STYLES.
_HEADER_STYLE, _DATE_STYLE, _MONEY_STYLE = 1, 2, 3

# Characters XML 1.0 cannot hold (C0 controls but tab and newline; U+FFFE, U+FFFF) are written as OOXML's
# "_xHHHH_", like Excel does; so is a carriage return, which an XML parser would read as a newline, and the "_"
# of a text that already reads like an escape, so that every text reads back as it was.
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_OOXML_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_OOXML_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_BAD_TITLE = re.compile(r"[\[\]:*?/\\\x00-\x1f\ufffe\uffff\ud800-\udfff]")
_WHITESPACE = " \t\n\r"


def column_letter(index: int) -> str:
    """The letters of a column: "A" for 0, "Z" for 25, "AA" for 26."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def excel_serial(value: dt.date) -> float | int:
    """Excel's day number of a date (or date and time): days from 31 December 1899, counting the
    29 February 1900 that Excel believes in, so dates from March 1900 on are one further."""
    if not isinstance(value, dt.date):
        raise TypeError(f"a date column cannot hold {value!r}")
    serial = value.toordinal() - EXCEL_EPOCH
    if serial < 1:
        raise ValueError(f"Excel has no dates before 1900: {value}")
    if serial > 59:
        serial += 1
    if isinstance(value, dt.datetime):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
        return serial + seconds / 86400
    return serial


def sheet_title(title: str, taken: Iterable[str] = ()) -> str:
    """A title Excel accepts: none of []:*?/\\, at most 31 characters, not empty, no "'" at either end, and
    unique (case-insensitively) among `taken`, with " (2)", " (3)" ... added when needed."""
    base = " ".join(_BAD_TITLE.sub(" ", title).split())[:MAX_TITLE_CHARS].strip(" '") or "Sheet"
    taken = {t.lower() for t in taken}
    candidate, number = base, 1
    while candidate.lower() in taken:
        number += 1
        suffix = f" ({number})"
        candidate = base[:MAX_TITLE_CHARS - len(suffix)].rstrip(" '") + suffix
    return candidate


def _fit(text: str) -> str:
    """`text` cut to what a cell holds (Excel refuses a file with a longer one). Excel counts UTF-16 units:
    a character beyond the Basic Multilingual Plane counts twice and is never cut in half."""
    data = text.encode("utf-16-le")
    if len(data) <= MAX_CELL_CHARS * 2:
        return text
    data = data[:MAX_CELL_CHARS * 2]
    if 0xD8 <= data[-1] <= 0xDB:  # the first half of a surrogate pair
        data = data[:-2]
    return data.decode("utf-16-le")


def _escape(text: str) -> str:
    return _xml_escape(_OOXML_ESCAPE.sub(lambda m: f"_x{ord(m.group()):04X}_", text))


def unescape(text: str) -> str:
    """A cell's text as Excel shows it: "_xHHHH_" is the character HHHH ("_x005F_" an underscore). Excel
    writes characters XML cannot hold that way; openpyxl, reading, leaves them as they are.

    Known gap: in a file saved by Excel (shared strings) openpyxl itself already turns "_x005F_" into "_", so
    a text that literally reads like "_x0041_" comes back as "A". Our own files (inline strings) round-trip."""
    return _OOXML_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


def _text_cell(ref: str, text: str, style: str = "") -> str:
    if len(text) * 2 > MAX_CELL_CHARS:
        text = _fit(text)
    if _NEEDS_ESCAPE.search(text):
        text = _escape(text)
    if text[0] in _WHITESPACE or text[-1] in _WHITESPACE:  # Excel would drop it otherwise
        return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    return f'<c r="{ref}"{style} t="inlineStr"><is><t>{text}</t></is></c>'


def _number(value) -> str:
    """A number as Excel holds it (a double); int and float subclasses (enums) as their plain value."""
    if type(value) is int:
        return str(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TypeError(f"a number column cannot hold {value!r}")
    if isinstance(value, int):
        return str(int(value))
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"not a number Excel can hold: {value}")
    return repr(number)


class _Worksheet:
    """One worksheet part of the zip, written from its first row to its last."""

    def __init__(self, book: "Workbook", title: str, header: Sequence[str], widths: Sequence[float]):
        self.title = title
        self.rows = 0
        self.columns = len(header)
        self.number = len(book._worksheets) + 1
        self._bytes = 0
        self._pending: list[str] = []
        self._pending_chars = 0
        self.closed = False
        selected = ' tabSelected="1"' if self.number == 1 else ""
        cols = "".join(f'<col min="{i}" max="{i}" width="{float(w):g}" customWidth="1"/>'
                       for i, w in enumerate(widths, start=1))
        style = f' s="{_HEADER_STYLE}"'
        start = (f'{_XML_DECLARATION}<worksheet xmlns="{_MAIN_NS}">'
                 f'<sheetViews><sheetView workbookViewId="0"{selected}>'
                 '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                 '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
                 '<sheetFormatPr defaultRowHeight="15"/>' + (f"<cols>{cols}</cols>" if cols else "") + "<sheetData>")
        header_row = ('<row r="1">' + "".join(_text_cell(f"{column_letter(i)}1", label, style)
                                              for i, label in enumerate(header) if label) + "</row>")
        start.encode(), header_row.encode()  # what cannot be written fails before the zip entry is opened
        self._stream = book._zip.open(f"xl/worksheets/sheet{self.number}.xml", "w")
        self._write(start)
        self.add(header_row)

    def fits(self, row_xml: str) -> bool:
        # At most 4 UTF-8 bytes a character: the pending chunk is counted high, what was written exactly.
        return (self.rows < MAX_ROWS
                and self._bytes + 4 * (self._pending_chars + len(row_xml)) + 200 < MAX_SHEET_BYTES)

    def add(self, row_xml: str) -> None:
        self.rows += 1
        self._pending.append(row_xml)
        self._pending_chars += len(row_xml)
        if len(self._pending) >= CHUNK_ROWS or self._pending_chars >= CHUNK_CHARS:
            self._flush()

    def _write(self, text: str) -> None:
        data = text.encode()
        self._bytes += len(data)
        self._stream.write(data)

    def _flush(self) -> None:
        if self._pending:
            self._write("".join(self._pending))
            self._pending.clear()
            self._pending_chars = 0

    def close(self) -> None:
        self.closed = True
        self._flush()
        self._write(f'</sheetData><autoFilter ref="A1:{self.filter_end}"/>'
                    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
                    '</worksheet>')
        self._stream.close()

    @property
    def filter_end(self) -> str:
        return f"{column_letter(max(self.columns, 1) - 1)}{self.rows}"


class Sheet:
    """A list of rows under one header: one worksheet, or as many as it takes ("Title", "Title (2)" ...)."""

    def __init__(self, book: "Workbook", title: str, header: Sequence[str], kinds: Sequence[str],
                 widths: Sequence[float] | None):
        if len(kinds) != len(header):
            raise ValueError(f"{len(header)} header labels for {len(kinds)} column kinds")
        if not 0 < len(kinds) <= MAX_COLUMNS:
            raise ValueError(f"a sheet has 1 to {MAX_COLUMNS} columns, not {len(kinds)}")
        unknown = set(kinds) - KINDS
        if unknown:
            raise ValueError(f"unknown column kinds: {', '.join(sorted(unknown))}")
        self.title = title
        self.count = 0  # rows appended, headers not counted
        self._book = book
        self._header = [str(label) for label in header]
        self._widths = list(widths) if widths else [min(max(len(label) + 2, 10), 60) for label in self._header]
        self._columns = list(zip([column_letter(i) for i in range(len(kinds))], kinds))
        self._worksheet = book._start_worksheet(title, self._header, self._widths)

    def append(self, values: Sequence) -> None:
        """Write the next row. None and "" leave a cell empty; any other value is written as its column's
        kind: a text column writes str(value), a number or money column takes int, float or Decimal, a date
        column a date or datetime, a bool column anything (as true or false)."""
        if len(values) > len(self._columns):
            raise ValueError(f"{len(values)} values for {len(self._columns)} columns")
        worksheet = self._worksheet
        if worksheet.closed:
            raise ValueError(f"sheet {self.title!r} has ended: the workbook has started another")
        r = str(worksheet.rows + 1)
        cells = []
        add = cells.append
        for (letter, kind), value in zip(self._columns, values):
            if value is None or value == "":
                continue
            if kind == TEXT:
                text = value if type(value) is str else str(value)
                if text:
                    add(_text_cell(letter + r, text))
            elif kind == NUMBER:
                add(f'<c r="{letter}{r}"><v>{_number(value)}</v></c>')
            elif kind == DATE:
                if isinstance(value, dt.date) and value.year < 1900:  # Excel has none: text the import reads
                    add(_text_cell(letter + r, value.strftime("%d/%m/%Y")))
                else:
                    add(f'<c r="{letter}{r}" s="{_DATE_STYLE}"><v>{excel_serial(value)}</v></c>')
            elif kind == MONEY:
                add(f'<c r="{letter}{r}" s="{_MONEY_STYLE}"><v>{_number(value)}</v></c>')
            else:
                add(f'<c r="{letter}{r}" t="b"><v>{1 if value else 0}</v></c>')
        row_xml = f'<row r="{r}">{"".join(cells)}</row>'
        if not worksheet.fits(row_xml):
            if worksheet.rows == 1:
                raise ValueError("one row larger than a worksheet holds")
            self._worksheet = self._book._start_worksheet(self.title, self._header, self._widths)
            self.append(values)  # numbered again for the new sheet
            return
        worksheet.add(row_xml)
        self.count += 1


class Workbook:
    """An .xlsx file written as it goes: `sheet()` starts a list under a header (the previous one ends),
    `close()` writes the workbook's own parts. `target` is a path or a binary file. As a context manager,
    an exception leaves an unusable file for the caller to discard."""

    def __init__(self, target: str | Path | IO[bytes]):
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED)
        self._worksheets: list[_Worksheet] = []

    def sheet(self, title: str, header: Sequence[str], kinds: Sequence[str],
              widths: Sequence[float] | None = None) -> Sheet:
        """Start a list of rows on a new worksheet named `title` (made valid and unique: `sheet_title`),
        with `header` as its first row and one kind of KINDS for each column. `widths` in characters;
        by default from the header's labels."""
        return Sheet(self, title, header, kinds, widths)

    @property
    def titles(self) -> list[str]:
        return [w.title for w in self._worksheets]

    def _start_worksheet(self, title: str, header: list[str], widths: list[float]) -> _Worksheet:
        if self._worksheets:
            self._worksheets[-1].close()
        worksheet = _Worksheet(self, sheet_title(title, self.titles), header, widths)
        self._worksheets.append(worksheet)
        return worksheet

    def close(self) -> None:
        if not self._worksheets:
            raise ValueError("a workbook needs at least one sheet")
        self._worksheets[-1].close()
        count = len(self._worksheets)
        self._zip.writestr("[Content_Types].xml", _content_types(count))
        self._zip.writestr("_rels/.rels", _ROOT_RELS)
        self._zip.writestr("xl/workbook.xml", _workbook_xml(self._worksheets))
        self._zip.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(count))
        self._zip.writestr("xl/styles.xml", STYLES)
        self._zip.close()

    def __enter__(self) -> "Workbook":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        # The error that stopped the writing is the one to see, not one from closing a half-written file.
        try:
            if self._worksheets and not self._worksheets[-1].closed:
                self._worksheets[-1]._stream.close()
            self._zip.close()
        except Exception:  # noqa: BLE001
            pass


_ROOT_RELS = (f'{_XML_DECLARATION}<Relationships xmlns="{_PKG_REL_NS}">'
              f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
STYLES = (
    f'{_XML_DECLARATION}<styleSheet xmlns="{_MAIN_NS}">'
    f'<numFmts count="1"><numFmt numFmtId="164" formatCode="{DATE_FORMAT}"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    f'<xf numFmtId="{MONEY_FORMAT_ID}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


def _content_types(count: int) -> str:
    sheet = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    sheets = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sheet}"/>'
                     for i in range(1, count + 1))
    return (f'{_XML_DECLARATION}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f'{sheets}</Types>')


def _workbook_xml(worksheets: list[_Worksheet]) -> str:
    sheets = "".join(f'<sheet name={quoteattr(w.title)} sheetId="{w.number}" r:id="rId{w.number}"/>'
                     for w in worksheets)
    # Excel keeps each sheet's filter range as this hidden name.
    names = "".join(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{w.number - 1}" hidden="1">'
                    f"{_xml_escape(_quoted(w.title))}!$A$1:${column_letter(w.columns - 1)}${w.rows}</definedName>"
                    for w in worksheets)
    return (f'{_XML_DECLARATION}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{sheets}</sheets><definedNames>{names}</definedNames></workbook>")


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _workbook_rels(count: int) -> str:
    sheets = "".join(f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                     for i in range(1, count + 1))
    return (f'{_XML_DECLARATION}<Relationships xmlns="{_PKG_REL_NS}">{sheets}'
            f'<Relationship Id="rId{count + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>')
