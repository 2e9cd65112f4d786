"""What every reader of the input shares: the canonical columns and their header names, the
result of a read, one block to read (a file or sheet), and small helpers for messages.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

# Canonical sales columns and the header names that match them (case, spaces and underscores ignored).
ALIASES: dict[str, tuple[str, ...]] = {
    "invoice": ("InvoiceNo", "Invoice", "invoice_no"),
    "stock_code": ("StockCode",),
    "description": ("Description",),
    "quantity": ("Quantity", "Qty"),
    "invoice_date": ("InvoiceDate", "Date"),
    "unit_price": ("UnitPrice", "Price"),
    "customer_id": ("CustomerID", "Customer ID", "customer"),
    "country": ("Country",),
    "line_total": ("LineTotal", "line_total"),  # the line's money: quantity x unit price
}


# Always needed; a unit price or a line total too (load.py), an invoice never (one per customer and day).
REQUIRED = ("quantity", "invoice_date", "customer_id")


SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".xlsx")


_HEADER_SEARCH_ROWS = 100  # the header is the first non-empty row among these


_CHUNK = 1 << 24


_DELIMITERS = (",", ";", "\t", "|")


_BAD_NUMBER = "segmentation.ingest: not a number"  # marker of the fast path's error() call


_NULL_WORDS = "('', 'nan', 'none', 'null')"  # lower-cased cell texts that mean "no value"


_LINES_COLUMNS = (
    "invoice VARCHAR, stock_code VARCHAR, description UBIGINT, quantity DOUBLE, invoice_ts VARCHAR, "
    "unit_price DOUBLE, customer_id VARCHAR, country VARCHAR, line_total DOUBLE"
)


@dataclass(frozen=True)
class TextShape:
    """How text files are laid out, from the run's flags: None means detected."""

    no_header: bool = False  # columns are named by position, 1, 2, ...
    delimiter: str | None = None  # one character, or "whitespace" (runs of spaces and tabs)
    decimal: str | None = None  # "." or ","
    skip_rows: int | None = None  # lines above the header (or the first data line)


@dataclass(frozen=True)
class IngestResult:
    """What was read: the sources, their checksum, the rows and how the dates were read."""

    sources: tuple[str, ...]  # file names as given
    sha256: str  # sha256 hex of the concatenation of each file's sha256 hex digest, in order given
    rows_in: int  # data rows read (all files), header excluded
    # strptime format of the dates (transactions mode), None in customer mode; when the files' formats
    # differ, "file: format; file: format" (date_formats has them one by one)
    date_format: str | None
    feature_names: tuple[str, ...] = ()  # customer mode: the feature columns, as named by the user
    headers: tuple[tuple[str, ...], ...] = ()  # each file's (sheet's) column names, for known layouts
    date_formats: tuple[tuple[str, str], ...] = ()  # (file and sheet, strptime format) of every block
    notes: tuple[str, ...] = ()  # how the input was read, for the report ("no invoice column: ...")


@dataclass(frozen=True)
class _Block:
    """One table to read: a CSV or Parquet file, or one XLSX sheet; its columns are c0..cN in SQL."""

    kind: str  # 'csv', 'parquet' or 'xlsx'
    label: str  # the file's name as given
    header: tuple[str, ...]  # column names in the file
    relation: str  # FROM-clause text yielding VARCHAR columns c0..cN; only ? placeholders
    params: tuple[Any, ...]
    place: str  # "" or " in sheet 'X'": where in the file, after a column name in messages
    row_name: Callable[[int], str]  # 0-based data row -> "line 5" / "row 5"
    arrow: pa.Table | None = None  # XLSX: the sheet, registered under `view`
    view: str = ""
    expected_rows: int | None = None  # CSV: data lines counted in the file, when cheap
    recount: Callable[[], int] | None = None  # CSV: exact record count, for when expected_rows differs
    numbered: bool = False  # --no-header: the header is the positions "1", "2", ...
    note: str = ""  # how the text was laid out, when not as a plain CSV with a header ("whitespace", ...)


_Span = tuple[_Block, dict[str, int | None], int]  # a block read, its column indexes and its row count


@dataclass(frozen=True)
class _Want:
    """A column to find: its key, the names to look for, and how to complain when it is missing."""

    key: str
    names: tuple[str, ...]
    required: bool
    mapped: bool = False  # named by --map
    named: bool = False  # named by the user in customer mode


def file_sha256(path: Path) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(message: str) -> str:
    """The first line of an exception message, without DuckDB's error class."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return re.sub(r"^[A-Za-z ]+Error: ", "", first).rstrip(".")


def _quote(value: object, limit: int = 60) -> str:
    """A cell value for a message, shortened."""
    text = str(value)
    return f"'{text[:limit]}...'" if len(text) > limit else f"'{text}'"
