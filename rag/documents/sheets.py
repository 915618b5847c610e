"""Spreadsheets (.xlsx, read by openpyxl in read-only mode) and .csv files (the standard library's csv)
as text: each row one readable line with its column names, ``Name: Ada; Role: engineer``.

A bare row of values ("Ada, engineer") cannot be read: the reader needs the names to find "Ada's
role". The first row with any value names the columns (a nameless column goes by its letter, as
the spreadsheet shows it); it is kept as a line too, so the document view shows the whole table. A
row is cited by its sheet and row number as the spreadsheet numbers it (``sheet Staff, row 4``; a
.csv has one sheet: ``row 4``). openpyxl streams each worksheet, and rows and cells are counted as
they come, gaps included, since a few bytes can claim a million rows or a cell in column XFD.
"""

from __future__ import annotations

import csv
import datetime
import io
import warnings
from collections.abc import Iterable, Sequence

from rag.documents.archive import check_archive, damaged
from rag.documents.formats import decode
from rag.documents.parts import Parts, TooMuchText, one_line
from rag.types import Extracted

MAX_ROWS = 5_000_000  # rows of all sheets, empty ones between filled ones included
MAX_CELLS = 20_000_000  # cells of all rows, as wide as the row's last cell
MAX_CSV_BYTES = 64 * 2**20
SNIFF_CHARS = 65_536  # the start of a .csv that tells its delimiter
DELIMITERS = (",", ";", "\t", "|")
CELL_SEPARATOR, NAME_SEPARATOR = "; ", ": "
# A blank line between rows makes each row a passage of its own. The reader then reads the row that
# retrieval found, not the first of several: on 8 questions over a small sheet and .csv, 7 right with
# rows as paragraphs, 3 with rows as consecutive lines (the reader picks from the first row).
ROW_SEPARATOR = "\n\n"


def column_letter(n: int) -> str:
    """``A`` for 1, ``Z`` for 26, ``AA`` for 27: a spreadsheet's name for column ``n``."""
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def shown(value: object) -> str:
    """A cell's value as a spreadsheet shows it: 3 not 3.0, a date without a midnight time, TRUE/FALSE."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(" ", "seconds")
    return one_line(str(value))


class Table:
    """The rows of one sheet written into ``parts``, a line each (a paragraph: ROW_SEPARATOR), each
    labelled with its row; the header row follows the sheet's name on the next line."""

    def __init__(self, parts: Parts, sheet: str | None, counts: list[int]) -> None:
        self.parts, self.sheet, self.counts = parts, sheet, counts
        self.names: list[str] | None = None

    def row(self, number: int, values: Sequence[object]) -> None:
        self.counts[0] += 1
        self.counts[1] += len(values)
        if self.counts[0] > MAX_ROWS or self.counts[1] > MAX_CELLS:
            raise TooMuchText(f"the {self.parts.kind} has over {MAX_ROWS:,} rows or {MAX_CELLS:,} cells")
        cells = [shown(v) for v in values]
        if not any(cells):
            return
        header = self.names is None
        if header:
            self.names = [c or column_letter(i) for i, c in enumerate(cells, 1)]
            line = CELL_SEPARATOR.join(c for c in cells if c)
        else:
            named = [(self.names[i] if i < len(self.names) else column_letter(i + 1), c) for i, c in enumerate(cells)]
            line = CELL_SEPARATOR.join(f"{name}{NAME_SEPARATOR}{c}" for name, c in named if c)
        label = f"row {number}" if self.sheet is None else f"sheet {self.sheet}, row {number}"
        self.parts.add(line, label, "\n" if header and self.sheet is not None else ROW_SEPARATOR)

    def title(self) -> None:
        """The sheet's name, its header row on the next line, so the view and the passages show it."""
        if self.sheet is not None:
            self.parts.add(self.sheet, f"sheet {self.sheet}")

    def rows(self, rows: Iterable[Sequence[object]]) -> None:
        for number, values in enumerate(rows, 1):
            self.row(number, values)


def xlsx_text(data: bytes) -> Extracted:
    """Each worksheet's name, then its rows as named lines; chart sheets have no rows and add nothing."""
    kind = ".xlsx"
    check_archive(data, kind, streamed=lambda name: name.startswith("xl/worksheets/"))
    from openpyxl import load_workbook

    parts, counts = Parts("workbook"), [0, 0]
    try:
        with warnings.catch_warnings():  # openpyxl warns of every feature it skips; the text is what matters
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                for sheet in book.worksheets:
                    sheet.reset_dimensions()  # the file's stated size may lie: read the rows there are
                    table = Table(parts, one_line(sheet.title), counts)
                    table.title()
                    table.rows(sheet.iter_rows(values_only=True))
            finally:
                book.close()
    except TooMuchText:
        raise
    except Exception as exc:  # openpyxl raises many kinds of errors on damaged files
        raise damaged(kind, exc) from None
    return parts.extracted("the workbook has no text")


def delimiter(sample: str) -> str:
    """The delimiter that splits the sample's first lines into the same number (above one) of fields
    most often, more fields breaking ties; a comma when none does. csv.Sniffer is not used: a quoted
    "engineer, senior" in a semicolon file makes it choose the comma."""
    lines = sample.splitlines(keepends=True)[:50]
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-row
    best, choice = (0, 0), ","
    for candidate in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=candidate) if row]
        except csv.Error:
            continue
        if widths and widths[0] > 1:
            score = (sum(w == widths[0] for w in widths), widths[0])
            if score > best:
                best, choice = score, candidate
    return choice


def csv_text(data: bytes) -> Extracted:
    """The rows of a .csv file (UTF-8, or UTF-16 with its byte-order mark) as named lines; the delimiter
    is told from its first lines (``delimiter``)."""
    if len(data) > MAX_CSV_BYTES:
        raise ValueError(f"the .csv is over {MAX_CSV_BYTES >> 20} MB")
    text = decode(data).removeprefix("\ufeff")
    parts = Parts("table")
    try:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text[:SNIFF_CHARS]))
        Table(parts, None, [0, 0]).rows(rows)
    except csv.Error as exc:
        raise damaged(".csv", exc) from None
    return parts.extracted("the table has no text")
