"""A minimal XLSX workbook written as a zip on the fly: the bytes leave as soon as they are made.

Why not xlsxwriter: it writes the zip only when the workbook is closed, so a web response cannot start
until every row is formatted (a 1M-row export sent its first byte after 208-239 s here; the issue saw
gunicorn's 60 s worker timeout), and it formats each cell in Python (146 s and more for 1M rows from the
command line). Here the rows arrive as ready-made
`<row>` XML (built in DuckDB: dashboard/export_sql.py), and this module only wraps them in the few OOXML
parts a workbook needs, deflating them into a zip that Python's zipfile writes to an unseekable stream with
data descriptors (sizes and CRCs follow each member), so memory stays bounded by one batch.

The parts: [Content_Types].xml, _rels/.rels, xl/workbook.xml, xl/_rels/workbook.xml.rels (docProps are
optional and left out), xl/styles.xml (style 1 bold for headers and labels, 2 date-time, 3 date), one
data sheet with its header row frozen, and a small label/value sheet. Cells are `inlineStr` text (never a
formula), `n` numbers, `b` booleans and dates as serial numbers with a date style.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO

# Style indexes of styles.xml's cellXfs.
BOLD, DATETIME, DATE = 1, 2, 3
FLUSH_BYTES = 1 << 20  # hand the zip's bytes on about every MiB while rows stream
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    "{sheets}"
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheets}</sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}'
    '<Relationship Id="rIdStyles" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
_SHEET_REL = (
    '<Relationship Id="rId{n}" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet{n}.xml"/>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
)
_FROZEN_HEADER = (
    '<sheetViews><sheetView tabSelected="1" workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
)
_PLAIN_VIEW = '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'


def escape_text(text: str) -> str:
    """Text for a `<t>` element: Excel's _xHHHH_ escapes for control characters (a literal _xHHHH_ is
    escaped itself, as Excel and xlsxwriter do), U+FFFE/U+FFFF likewise, then & < > as entities."""
    text = _ESCAPED.sub(r"_x005F\1", text)
    text = _CONTROL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text_cell(text: str, style: int = 0) -> str:
    """One inline-string cell (a string, never a formula), styled when style is not 0."""
    s = f' s="{style}"' if style else ""
    return f'<c t="inlineStr"{s}><is><t xml:space="preserve">{escape_text(text)}</t></is></c>'


def text_row(values: Sequence[str], style: int = 0) -> str:
    """One row of text cells (the header row: style BOLD)."""
    return "<row>" + "".join(text_cell(v, style) for v in values) + "</row>"


def _col_widths(widths: Sequence[float]) -> str:
    if not widths:
        return ""
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w + 0.7109375}" customWidth="1"/>'
        for i, w in enumerate(widths, start=1)
    )
    return f"<cols>{cols}</cols>"


class Sheet:
    """A sheet to write: its name, whether row 1 is a frozen header, column widths (characters) and its
    body, an iterable of bytes holding consecutive `<row>` elements (produced lazily)."""

    def __init__(
        self, name: str, rows: Iterable[bytes], frozen_header: bool = False, widths: Sequence[float] = ()
    ) -> None:
        self.name = name
        self.rows = rows
        self.frozen_header = frozen_header
        self.widths = tuple(widths)

    def xml(self) -> Iterator[bytes]:
        """The worksheet part in pieces: head, the rows as they come, tail."""
        view = _FROZEN_HEADER if self.frozen_header else _PLAIN_VIEW
        yield (
            _SHEET_HEAD
            + view
            + '<sheetFormatPr defaultRowHeight="15"/>'
            + _col_widths(self.widths)
            + "<sheetData>"
        ).encode()
        yield from self.rows
        yield b"</sheetData></worksheet>"


class _Sink:
    """A write-only, unseekable file object that collects what zipfile writes, for the caller to take."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.written = 0  # bytes written so far (zipfile's tell())
        self.pending = 0  # bytes not yet taken

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.written += len(data)
        self.pending += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def tell(self) -> int:  # zipfile asks; without seek() it switches to data descriptors
        return self.written

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        self.pending = 0
        return out


def _sheets(sheets: Sequence[Sheet]) -> Iterator[Sheet]:
    for sheet in sheets:
        if not sheet.name or len(sheet.name) > 31 or re.search(r"[\[\]:*?/\\']", sheet.name):
            raise ValueError(f"{sheet.name!r}: expected a sheet name of 1-31 characters without []:*?/\\'.")
        yield sheet


def stream_workbook(sheets: Sequence[Sheet], flush_bytes: int | None = None) -> Iterator[bytes]:
    """The .xlsx file's bytes in pieces (about flush_bytes, default FLUSH_BYTES, each), sheets in order.

    A sheet's rows are pulled only while its part is being written, so a later sheet (the About sheet)
    may describe what the earlier sheets held. A client cut short of the end lacks the zip's central
    directory, which every XLSX reader needs: a truncated file is refused, never half read.
    """
    flush_bytes = FLUSH_BYTES if flush_bytes is None else flush_bytes
    sink = _Sink()
    # the sink has tell() but no seek(): zipfile then writes each member's sizes and CRC after its data
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:  # type: ignore[arg-type]
        sheet_list = list(_sheets(sheets))
        parts = {
            "[Content_Types].xml": _CONTENT_TYPES.format(
                sheets="".join(_SHEET_TYPE.format(n=n) for n in range(1, len(sheet_list) + 1))
            ),
            "_rels/.rels": _ROOT_RELS,
            "xl/workbook.xml": _WORKBOOK.format(
                sheets="".join(
                    f'<sheet name="{escape_text(s.name)}" sheetId="{n}" r:id="rId{n}"/>'
                    for n, s in enumerate(sheet_list, start=1)
                )
            ),
            "xl/_rels/workbook.xml.rels": _WORKBOOK_RELS.format(
                rels="".join(_SHEET_REL.format(n=n) for n in range(1, len(sheet_list) + 1))
            ),
            "xl/styles.xml": _STYLES,
        }
        for name, text in parts.items():
            book.writestr(name, text)
        yield sink.take()
        for n, sheet in enumerate(sheet_list, start=1):
            # no force_zip64: a sheet stays far below 4 GiB (Excel's row limit x this schema's ~1 kB rows);
            # past it zipfile raises and the export ends as aborted, never as a corrupt file
            with book.open(f"xl/worksheets/sheet{n}.xml", mode="w") as member:
                for piece in sheet.xml():
                    member.write(piece)
                    if sink.pending >= flush_bytes:
                        yield sink.take()
            yield sink.take()
    yield sink.take()


def write_workbook(target: IO[bytes], sheets: Sequence[Sheet]) -> int:
    """Write stream_workbook(sheets) to an open binary file; returns the bytes written."""
    size = 0
    for chunk in stream_workbook(sheets):
        target.write(chunk)
        size += len(chunk)
    return size
