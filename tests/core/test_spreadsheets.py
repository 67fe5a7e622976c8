"""The Excel writer every export uses: what a spreadsheet program reads back (here openpyxl, in full and
read-only mode), kinds kept, text never a formula, long lists over several sheets, and bad input refused."""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from lxml import etree
from openpyxl import load_workbook

from core import spreadsheets
from core.spreadsheets import BOOL, DATE, MONEY, NUMBER, TEXT, Workbook


def written(rows, kinds, header=None, title="Leden", **sheet_options) -> bytes:
    out = io.BytesIO()
    with Workbook(out) as book:
        sheet = book.sheet(title, header or [f"Kolom {i}" for i in range(len(kinds))], kinds, **sheet_options)
        for row in rows:
            sheet.append(row)
    return out.getvalue()


def read(data: bytes, **options):
    return load_workbook(io.BytesIO(data), **options)


def test_values_read_back_as_their_column_kinds():
    rows = [["Jan", 7, Decimal("1234.5"), dt.date(1985, 7, 30), True],
            ["0470 12 34 56", 2.25, Decimal("-0.01"), dt.datetime(2026, 12, 3, 18, 30), False],
            ["9000", 10**15, 3, dt.date(1900, 3, 1), 1]]
    ws = read(written(rows, [TEXT, NUMBER, MONEY, DATE, BOOL])).active
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=2)] == [
        ["Jan", 7, 1234.5, dt.datetime(1985, 7, 30), True],
        ["0470 12 34 56", 2.25, -0.01, dt.datetime(2026, 12, 3, 18, 30), False],
        ["9000", 10**15, 3, dt.datetime(1900, 3, 1), True]]
    assert ws["C2"].number_format == "#,##0.00" and ws["D2"].number_format == "dd/mm/yyyy"
    assert [ws[f"{col}2"].data_type for col in "ABCDE"] == ["s", "n", "n", "d", "b"]


def test_dates_around_excels_imaginary_29_february_1900():
    """Excel counts a 29 February 1900 that never was: serial 59 is 28 February, 61 is 1 March."""
    assert spreadsheets.excel_serial(dt.date(1900, 1, 1)) == 1
    assert spreadsheets.excel_serial(dt.date(1900, 2, 28)) == 59
    assert spreadsheets.excel_serial(dt.date(1900, 3, 1)) == 61
    assert spreadsheets.excel_serial(dt.date(2026, 12, 3)) == 46359
    assert spreadsheets.excel_serial(dt.datetime(2026, 12, 3, 12)) == 46359.5


def test_text_is_never_a_formula_a_link_or_a_number():
    texts = ['=HYPERLINK("http://x.example","klik")', "+32470123456", "-1", "@SUM(1+1)", "http://x.example",
             "0032", "1e5", "TRUE"]
    ws = read(written([[t] for t in texts], [TEXT])).active
    cells = [row[0] for row in ws.iter_rows(min_row=2)]
    assert [(c.value, c.data_type) for c in cells] == [(t, "s") for t in texts]
    assert not ws._hyperlinks


def test_any_text_comes_back_as_it_was_written():
    texts = ['Vos & Zonen <bvba> "De Kring"', "  Jan  ", "regel 1\nregel 2", "tab\there", "Ça va, Müller",
             "🏐 Volley", "bell\x07 and nul\x00", "_x0041_ is no A", "</t></is></c><c><f>1+1</f></c>",
             '<r><t>a</t></r>', "\ufffe"]
    data = written([[t] for t in texts], [TEXT])
    full = [row[0].value for row in read(data).active.iter_rows(min_row=2)]
    streamed = [row[0] for row in read(data, read_only=True).active.iter_rows(min_row=2, values_only=True)]
    # Characters XML cannot hold are written as "_xHHHH_", which Excel reads as the character and openpyxl
    # leaves as it is (`spreadsheets.unescape`, which the import uses, does what Excel does).
    assert full == streamed
    assert [spreadsheets.unescape(text) for text in full] == texts


def test_a_text_longer_than_a_cell_holds_is_cut_at_excels_limit():
    long_ascii = "a" * 40_000
    # A character beyond the Basic Multilingual Plane counts twice and is not cut in half.
    long_astral = "a" * 32_766 + "🏐" + "b"
    ws = read(written([[long_ascii], [long_astral]], [TEXT])).active
    assert ws["A2"].value == "a" * 32_767
    assert ws["A3"].value == "a" * 32_766


def test_empty_values_leave_their_cell_empty_and_the_rest_in_place():
    ws = read(written([[None, "", 3, None], ["x", None, None, False]], [TEXT, TEXT, NUMBER, BOOL])).active
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=2)] == [[None, None, 3, None],
                                                                             ["x", None, None, False]]


def test_every_sheet_has_a_bold_frozen_header_with_filters_and_readable_widths():
    book = read(written([["Jan", 1]], [TEXT, NUMBER], header=["Naam", "Aantal leden in de club"]))
    ws = book.active
    assert [c.value for c in ws[1]] == ["Naam", "Aantal leden in de club"]
    assert all(c.font.b for c in ws[1]) and not ws["A2"].font.b
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:B2"
    assert ws.column_dimensions["A"].width == 10 and ws.column_dimensions["B"].width == 25


def test_titles_are_made_valid_and_unique():
    out = io.BytesIO()
    with Workbook(out) as book:
        for title in ("Leden: 2025/26", "Leden: 2025/26", "[]", "Een titel die veel langer is dan eenendertig",
                      "a" * 30 + "'b", "Clubs\ufffe"):
            book.sheet(title, ["A"], [TEXT]).append(["x"])
    assert read(out.getvalue()).sheetnames == ["Leden 2025 26", "Leden 2025 26 (2)", "Sheet",
                                               "Een titel die veel langer is da", "a" * 30, "Clubs"]


def test_a_list_longer_than_a_sheet_goes_on_in_the_next_with_the_header(monkeypatch):
    monkeypatch.setattr(spreadsheets, "MAX_ROWS", 3)
    out = io.BytesIO()
    with Workbook(out) as book:
        members = book.sheet("Leden", ["Naam"], [TEXT])
        for name in ("An", "Bart", "Cas", "Dirk", "Eva"):
            members.append([name])
        book.sheet("Clubs", ["Club"], [TEXT]).append(["SK Gent"])
    assert members.count == 5
    wb = read(out.getvalue())
    assert wb.sheetnames == ["Leden", "Leden (2)", "Leden (3)", "Clubs"]
    assert [[c.value for c in row] for ws in wb.worksheets for row in ws.iter_rows()] == [
        ["Naam"], ["An"], ["Bart"], ["Naam"], ["Cas"], ["Dirk"], ["Naam"], ["Eva"], ["Club"], ["SK Gent"]]
    assert [ws.auto_filter.ref for ws in wb.worksheets] == ["A1:A3", "A1:A3", "A1:A2", "A1:A2"]


def test_a_sheet_goes_on_before_its_part_of_the_file_needs_zip64(monkeypatch):
    """A zip entry of 2 GiB or more needs Zip64 records, and Zip64 records where no entry needs them make
    Excel on the web refuse the file: a sheet goes on in the next before it gets that large."""
    monkeypatch.setattr(spreadsheets, "MAX_SHEET_BYTES", 60_000)
    rows = [[f"Lid {i:05d} " + "x" * 100] for i in range(1000)]
    data = written(rows, [TEXT])
    wb = read(data)
    assert len(wb.sheetnames) > 1
    assert [row[0] for ws in wb.worksheets for row in ws.iter_rows(min_row=2, values_only=True)] == \
        [row[0] for row in rows]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all(info.file_size < 60_000 for info in archive.infolist())
        assert all(info.extract_version < 45 for info in archive.infolist())  # no Zip64 anywhere


def test_the_parts_are_well_formed_xml_with_the_package_parts_excel_needs():
    data = written([["Jan", dt.date(2020, 1, 1)]], [TEXT, DATE])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                "xl/styles.xml", "xl/worksheets/sheet1.xml"} == set(names)
        for name in names:
            etree.fromstring(archive.read(name))  # raises on anything not well formed


def test_a_workbook_streams_large_lists_without_holding_them(tmp_path):
    """A chunk of rows at a time goes into the file: what is pending never grows past CHUNK_ROWS rows."""
    path = tmp_path / "leden.xlsx"
    with Workbook(path) as book:
        sheet = book.sheet("Leden", ["Id", "Naam"], [NUMBER, TEXT])
        for i in range(5 * spreadsheets.CHUNK_ROWS):
            sheet.append([i, f"Lid {i}"])
            assert len(sheet._worksheet._pending) < spreadsheets.CHUNK_ROWS
    rows = list(read(path.read_bytes(), read_only=True).active.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 5000 and rows[-1] == (4999, "Lid 4999")


@pytest.mark.parametrize("kinds, value, error", [
    ([NUMBER], "12", TypeError), ([NUMBER], True, TypeError), ([MONEY], float("nan"), ValueError),
    ([MONEY], Decimal("Infinity"), ValueError), ([NUMBER], float("inf"), ValueError), ([DATE], "1/1/2020", TypeError)])
def test_a_value_its_column_cannot_hold_is_refused(kinds, value, error):
    with pytest.raises(error):
        written([[value]], kinds)


def test_a_sheet_must_be_described_correctly():
    book = Workbook(io.BytesIO())
    with pytest.raises(ValueError, match="2 header labels for 1 column kinds"):
        book.sheet("Leden", ["A", "B"], [TEXT])
    with pytest.raises(ValueError, match="unknown column kinds: formula"):
        book.sheet("Leden", ["A"], ["formula"])
    with pytest.raises(ValueError, match="at least one sheet"):
        book.close()
    sheet = Workbook(io.BytesIO()).sheet("Leden", ["A"], [TEXT])
    with pytest.raises(ValueError, match="2 values for 1 columns"):
        sheet.append(["a", "b"])


def test_column_letters():
    assert [spreadsheets.column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702, 16_383)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD"]


def test_carriage_returns_and_dates_before_1900_come_back_as_they_were():
    """An XML parser reads a carriage return as a newline, so it is written escaped; Excel has no dates
    before 1900, so those are written as text (DD/MM/YYYY, which the member import reads as a date)."""
    data = written([["a\r\nb", dt.date(1899, 12, 31)], ["end\r", dt.date(1900, 1, 1)]], [TEXT, DATE])
    rows = list(read(data).active.iter_rows(min_row=2, values_only=True))
    assert [spreadsheets.unescape(text) for text, _ in rows] == ["a\r\nb", "end\r"]
    assert [date for _, date in rows] == ["31/12/1899", dt.datetime(1900, 1, 1)]


def test_numbers_are_written_as_the_doubles_excel_holds():
    import enum

    class Level(enum.IntEnum):
        CLUB = 3

    ws = read(written([[Level.CLUB, Decimal("30.25")], [10**16, 1e-7]], [NUMBER, MONEY])).active
    assert [[c.value for c in row] for row in ws.iter_rows(min_row=2)] == [[3, 30.25], [10**16, 1e-7]]
    with pytest.raises(ValueError):
        written([[Decimal("1E+400")]], [MONEY])


def test_rows_cannot_go_to_a_sheet_the_workbook_has_left():
    book = Workbook(io.BytesIO())
    first = book.sheet("Leden", ["A"], [TEXT])
    first.append(["a1"])
    book.sheet("Clubs", ["A"], [TEXT])
    with pytest.raises(ValueError, match="has ended"):
        first.append(["a2"])


def test_the_error_that_stopped_the_writing_is_the_one_raised():
    with pytest.raises(ValueError, match="could not convert string to float"):
        with Workbook(io.BytesIO()) as book:
            book.sheet("Leden", ["A"], [TEXT], widths=["breed"])
    with pytest.raises(TypeError, match="a number column cannot hold 'twaalf'"):
        with Workbook(io.BytesIO()) as book:
            book.sheet("Leden", ["A"], [NUMBER]).append(["twaalf"])
