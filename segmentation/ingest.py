"""Read the user's sales lines or customer table (CSV, Parquet, XLSX) into typed DuckDB tables.

DuckDB reads CSV and Parquet itself; every file is read as text and typed in the same SELECT (the dates
once their format is chosen from a sample of all rows), so bad values are found in SQL and only the error
path looks for the offending row. Columns reach SQL under generated names (c0, c1, ...), never under the
names in the file.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import hashlib
import io
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import python_calamine

from segmentation import date_order, input_bounds, scratch
from segmentation.config import RunConfig
from segmentation.errors import InputError

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
}
REQUIRED = ("invoice", "quantity", "invoice_date", "unit_price", "customer_id")
SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".parquet", ".xlsx")

# Candidate strptime formats, each with its field order; ties between "mdy" and "dmy" are ambiguous.
DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d %H:%M:%S", "iso"),
    ("%Y-%m-%d %H:%M:%S.%f", "iso"),
    ("%Y-%m-%d %H:%M", "iso"),
    ("%Y-%m-%d", "iso"),
    ("%Y-%m-%dT%H:%M:%S", "iso"),
    ("%Y-%m-%dT%H:%M:%S.%f", "iso"),
    ("%Y/%m/%d %H:%M:%S", "iso"),
    ("%Y/%m/%d %H:%M", "iso"),
    ("%Y/%m/%d", "iso"),
    ("%m/%d/%Y %H:%M", "mdy"),
    ("%m/%d/%Y %H:%M:%S", "mdy"),
    ("%m/%d/%Y", "mdy"),
    ("%m/%d/%y %H:%M", "mdy"),
    ("%m/%d/%y", "mdy"),
    ("%m-%d-%Y %H:%M", "mdy"),
    ("%m-%d-%Y %H:%M:%S", "mdy"),
    ("%m-%d-%Y", "mdy"),
    ("%d/%m/%Y %H:%M", "dmy"),
    ("%d/%m/%Y %H:%M:%S", "dmy"),
    ("%d/%m/%Y", "dmy"),
    ("%d/%m/%y %H:%M", "dmy"),
    ("%d/%m/%y", "dmy"),
    ("%d-%m-%Y %H:%M", "dmy"),
    ("%d-%m-%Y %H:%M:%S", "dmy"),
    ("%d-%m-%Y", "dmy"),
    ("%d.%m.%Y %H:%M", "dmy"),
    ("%d.%m.%Y %H:%M:%S", "dmy"),
    ("%d.%m.%Y", "dmy"),
)
DATE_SAMPLE = 50_000

_HEADER_SEARCH_ROWS = 100  # the header is the first non-empty row among these

_CHUNK = 1 << 24
_DELIMITERS = (",", ";", "\t", "|")
_BAD_NUMBER = "segmentation.ingest: not a number"  # marker of the fast path's error() call
_NULL_WORDS = "('', 'nan', 'none', 'null')"  # lower-cased cell texts that mean "no value"
_C1_BYTES = re.compile(b"[\x80-\x9f]")
# cp1252, with its five undefined bytes kept as the latin-1 characters (as browsers do).
_CP1252 = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))
_LINES_COLUMNS = (
    "invoice VARCHAR, stock_code VARCHAR, description UBIGINT, quantity DOUBLE, invoice_ts VARCHAR, "
    "unit_price DOUBLE, customer_id VARCHAR, country VARCHAR"
)


@dataclass(frozen=True)
class IngestResult:
    """What was read: the sources, their checksum, the rows and how the dates were read."""

    sources: tuple[str, ...]  # file names as given
    sha256: str  # sha256 hex of the concatenation of each file's sha256 hex digest, in order given
    rows_in: int  # data rows read (all files), header excluded
    date_format: str | None  # strptime format chosen for the dates (transactions mode), None in customer mode
    feature_names: tuple[str, ...] = ()  # customer mode: the feature columns, as named by the user
    headers: tuple[tuple[str, ...], ...] = ()  # each file's (sheet's) column names, for known layouts


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


def load_sales(con: duckdb.DuckDBPyConnection, cfg: RunConfig) -> IngestResult:
    """Read the sales files into table `lines`, one row per input row, typed; nothing is dropped here."""
    wants = _sales_wants(cfg.column_map)
    with _Inputs(cfg.inputs, wants) as inputs:
        # segments_block tells the blocks apart for the date checks; dropped once dates are typed
        con.execute(f"CREATE OR REPLACE TABLE lines ({_LINES_COLUMNS}, segments_block INTEGER)")
        spans: list[_Span] = []
        total = 0
        for path in inputs.paths:
            file_rows = 0
            for block, cols in inputs.blocks(path):
                exprs = [
                    _text_sql(cols["invoice"]),
                    _text_sql(cols["stock_code"]),
                    _hash_sql(cols["description"]),
                    _number_sql(cols["quantity"]),
                    _text_sql(cols["invoice_date"]),
                    _number_sql(cols["unit_price"]),
                    _customer_id_sql(cols["customer_id"]),
                    _text_sql(cols["country"]),
                    str(len(spans)),
                ]
                rows = _insert(con, "lines", exprs, block, [cols["quantity"], cols["unit_price"]])
                spans.append((block, cols, rows))
                total += rows
                file_rows += rows
            if file_rows == 0:
                raise InputError(f"{path}: no data rows after the header.")
        date_format = _type_dates(con, spans, cfg)
        headers = tuple(tuple(block.header) for block, _, _ in spans)
        return IngestResult(inputs.sources, inputs.sha256(), total, date_format, headers=headers)


def load_customer_table(con: duckdb.DuckDBPyConnection, cfg: RunConfig) -> IngestResult:
    """Read a one-row-per-customer table into `customer_rows`, features as a list in the order named."""
    if not cfg.id_column or not cfg.feature_columns:
        raise InputError("A customer table needs an id column and at least one feature column.")
    wants = [_Want("customer_id", (cfg.id_column,), True, named=True)]
    if cfg.country_column:
        wants.append(_Want("country", (cfg.country_column,), True, named=True))
    if cfg.tenure_column:
        wants.append(_Want("tenure", (cfg.tenure_column,), True, named=True))
    wants += [_Want(f"f{i}", (name,), True, named=True) for i, name in enumerate(cfg.feature_columns)]
    with _Inputs(cfg.inputs, wants) as inputs:
        con.execute(
            "CREATE OR REPLACE TABLE customer_rows "
            "(customer_id VARCHAR, country VARCHAR, tenure_days DOUBLE, features DOUBLE[])"
        )
        total = 0
        for path in inputs.paths:
            file_rows = 0
            for block, cols in inputs.blocks(path):
                features = [cols[f"f{i}"] for i in range(len(cfg.feature_columns))]
                exprs = [
                    _customer_id_sql(cols["customer_id"]),
                    _text_sql(cols.get("country")),
                    _number_sql(cols.get("tenure")),
                    "[" + ", ".join(_number_sql(c) for c in features) + "]",
                ]
                rows = _insert(con, "customer_rows", exprs, block, [cols.get("tenure"), *features])
                total += rows
                file_rows += rows
            if file_rows == 0:
                raise InputError(f"{path}: no data rows after the header.")
        return IngestResult(inputs.sources, inputs.sha256(), total, None, tuple(cfg.feature_columns))


# ---------------------------------------------------------------------------------------------------
# Opening the files


class _Inputs:
    """The input files as blocks, with their checksums; temp files live until the context ends."""

    def __init__(self, paths: Sequence[Path], wants: list[_Want]) -> None:
        if not paths:
            raise InputError("No input file was given.")
        self.paths = tuple(Path(p) for p in paths)
        self.sources = tuple(str(p) for p in paths)
        self.wants = wants
        self._digests: list[str] = []
        self._stack = contextlib.ExitStack()
        self._tmp: Path | None = None
        self._count = 0  # names temp files and registered views

    def __enter__(self) -> _Inputs:
        for path in self.paths:  # every file is checked before any is read
            _check_path(path)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def tmp_dir(self) -> Path:
        """A private temp directory, deleted when the context ends; inside the run's scratch directory
        when there is one (scratch.py: a killed run's files are removed by the next run)."""
        if self._tmp is None:
            tmp = tempfile.TemporaryDirectory(prefix="segments-ingest-", dir=scratch.current())
            self._tmp = Path(self._stack.enter_context(tmp))
        return self._tmp

    def sha256(self) -> str:
        """sha256 of the files' sha256 hex digests, concatenated in the order given."""
        return hashlib.sha256("".join(self._digests).encode("ascii")).hexdigest()

    def blocks(self, path: Path) -> Iterator[tuple[_Block, dict[str, int | None]]]:
        """The file's blocks, each with the column index of every wanted key (None: absent)."""
        label = str(path)
        kind = _kind(path)
        if kind == "xlsx":
            input_bounds.check_xlsx(path, label)  # before calamine allocates anything
            self._digests.append(file_sha256(path))
            yield from self._xlsx_blocks(path, label)
            return
        if kind == "parquet":
            self._digests.append(file_sha256(path))
            block = _parquet_block(self._duckdb_path(path), label)
        else:
            block = self._csv_block(path, label, kind == "gz")
        yield block, _match_or_raise(block, self.wants)

    def _duckdb_path(self, path: Path) -> str:
        """A path DuckDB reads literally: names with glob characters get a plain symlink."""
        text = str(path)
        if not any(ch in text for ch in "*?[{"):
            return text
        self._count += 1
        suffix = next(sfx for sfx in SUFFIXES if path.name.lower().endswith(sfx))
        link = self.tmp_dir() / f"input-{self._count}{suffix}"
        link.symlink_to(path.resolve())
        return str(link)

    def _csv_block(self, path: Path, label: str, gz: bool) -> _Block:
        """Sniff encoding and delimiter, transcode if DuckDB cannot decode it, and pin the dialect."""
        scan = _scan_text(path, gz)
        self._digests.append(scan.sha256 if not gz else file_sha256(path))
        read_path, encoding, newlines, tail = str(path), scan.encoding, scan.newlines, scan.tail
        if encoding in ("cp1252", "utf-16-be"):
            self._count += 1
            target = self.tmp_dir() / f"transcoded-{self._count}.csv"
            newlines, tail = _transcode(path, gz, encoding, target)
            read_path, encoding, gz = str(target), "utf-8", False
        else:
            read_path = self._duckdb_path(path)
        py_encoding = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "utf-16": "utf-16-le"}[encoding]
        delim, header, skip = _read_header(Path(read_path), gz, py_encoding, label)
        expected = None
        if newlines is not None:
            last_line = 0 if tail.endswith(b"\n") or not tail else 1
            expected = newlines + last_line - _trailing_blank_lines(tail) - skip - 1
        names = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
        relation = (
            f"read_csv(?, header = true, auto_detect = false, columns = {{{names}}}, delim = ?, "
            "quote = '\"', escape = '\"', comment = '', skip = ?, strict_mode = true, encoding = ?)"
        )

        def recount() -> int:
            return _count_records(Path(read_path), gz, py_encoding, delim, skip)

        return _Block(
            kind="csv",
            label=label,
            header=header,
            relation=relation,
            params=(read_path, delim, skip, encoding),
            place="",
            row_name=lambda i: f"line {i + skip + 2}",
            expected_rows=expected,
            recount=recount,
        )

    def _xlsx_blocks(self, path: Path, label: str) -> Iterator[tuple[_Block, dict[str, int | None]]]:
        """Every sheet whose header has the wanted columns; an error when none has."""
        found = []
        try:
            book = python_calamine.CalamineWorkbook.from_path(str(path))
            for name in book.sheet_names:
                sheet = book.get_sheet_by_name(name)
                header = _sheet_header(sheet.to_python(skip_empty_area=False, nrows=_HEADER_SEARCH_ROWS))
                if header is None:
                    continue
                cols = _match(header[0], self.wants)
                if all(cols[w.key] is not None for w in self.wants if w.required):
                    table, excel_rows = _sheet_table(sheet.to_python(skip_empty_area=False), header)
                    found.append((name, header[0], table, excel_rows, cols))
        except python_calamine.CalamineError as exc:
            raise InputError(f"{label}: not a readable XLSX file ({_first_line(str(exc))}).") from exc
        if not found:
            wanted = ", ".join("/".join(w.names) for w in self.wants if w.required)
            sheets = ", ".join(book.sheet_names)
            raise InputError(f"{label}: no sheet has the columns {wanted}; sheets: {sheets}.")
        for name, header_names, table, excel_rows, cols in found:
            self._count += 1
            view = f"segments_ingest_sheet_{self._count}"
            block = _Block(
                kind="xlsx",
                label=label,
                header=header_names,
                relation=view,
                params=(),
                place=f" in sheet '{name}'",
                row_name=lambda i, rows=excel_rows, name=name: f"sheet '{name}', row {rows[i]}",
                arrow=table,
                view=view,
            )
            yield block, cols


def _check_path(path: Path) -> None:
    """Exists, is a file, has a known suffix, is not empty."""
    if not path.exists():
        raise InputError(f"{path}: file not found.")
    if not path.is_file():
        raise InputError(f"{path}: not a file.")
    _kind(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty.")


def _kind(path: Path) -> str:
    """'csv', 'gz', 'parquet' or 'xlsx', from the file name."""
    name = path.name.lower()
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            if suffix.endswith(".gz"):
                return "gz"
            return {".parquet": "parquet", ".xlsx": "xlsx"}.get(suffix, "csv")
    raise InputError(
        f"{path}: unsupported file type; use .csv, .tsv, .txt (each also as .gz), .parquet or .xlsx."
    )


def _parquet_block(read_path: str, label: str) -> _Block:
    """A Parquet file, every column cast to text so it is typed like CSV."""
    try:
        with duckdb.connect() as scratch:
            described = scratch.execute("DESCRIBE SELECT * FROM read_parquet(?)", [read_path]).fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{label}: not a readable Parquet file ({_first_line(str(exc))}).") from exc
    header = tuple(str(row[0]) for row in described)
    names = ", ".join(f"c{i}" for i in range(len(header)))
    exprs = ", ".join(_parquet_text_sql(i, str(row[1])) for i, row in enumerate(described))
    relation = f"(SELECT {exprs} FROM read_parquet(?) AS p({names})) AS t({names})"  # noqa: S608
    return _Block("parquet", label, header, relation, (read_path,), "", lambda i: f"row {i + 1}")


def _parquet_text_sql(index: int, type_name: str) -> str:
    """A Parquet column as text; dates and timestamps (in UTC) as '%Y-%m-%d %H:%M:%S'.

    DuckDB prints a timestamp's fraction only where it is non-zero, which no single format reads.
    """
    c = f"c{index}"
    if type_name == "TIMESTAMPTZ_NS":  # the one timestamp type epoch_us does not take
        return f"strftime(make_timestamp(epoch_ns({c}) // 1000), '%Y-%m-%d %H:%M:%S')"
    if type_name.startswith(("TIMESTAMP", "DATE")):
        return f"strftime(make_timestamp(epoch_us({c})), '%Y-%m-%d %H:%M:%S')"
    return f"CAST({c} AS VARCHAR)"


# ---------------------------------------------------------------------------------------------------
# CSV: encoding, header, line counts


@dataclass(frozen=True)
class _TextScan:
    sha256: str
    encoding: str  # 'utf-8', 'latin-1' or 'utf-16' (DuckDB reads these), 'cp1252' or 'utf-16-be'
    newlines: int | None  # b"\n" bytes in the (decompressed) text; None for UTF-16
    tail: bytes  # the last bytes of the text


def _open_bytes(path: Path, gz: bool) -> io.BufferedIOBase:
    """The file's (decompressed) bytes; a .gz stops in one sentence past its unpacked-size limit."""
    return input_bounds.open_gzip(path, str(path)) if gz else open(path, "rb")


def _scan_text(path: Path, gz: bool) -> _TextScan:
    """One pass over the text: checksum, newline count and the encoding (UTF-8 if it is valid UTF-8)."""
    digest = hashlib.sha256()
    newlines = 0
    valid = True
    tail = b""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with _open_bytes(path, gz) as fh:
        head = fh.read(_CHUNK)
        encoding = _utf16_kind(head)
        chunk = head
        while chunk:
            digest.update(chunk)
            newlines += chunk.count(b"\n")
            if valid and encoding is None and not chunk.isascii():
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    valid = False
            tail = (tail + chunk[-65536:])[-65536:]
            chunk = fh.read(_CHUNK)
    if encoding is not None:
        return _TextScan(digest.hexdigest(), encoding, None, b"")
    if valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    if valid:
        encoding = "utf-8"
    else:  # bytes 0x80-0x9F are C1 controls in latin-1 but letters and signs (€, ", ...) in cp1252
        encoding = "cp1252" if _has_c1(path, gz) else "latin-1"
    return _TextScan(digest.hexdigest(), encoding, newlines, tail)


def _utf16_kind(head: bytes) -> str | None:
    """'utf-16' (little-endian, read by DuckDB) or 'utf-16-be' when the text is UTF-16, else None."""
    if head.startswith(b"\xff\xfe"):
        return "utf-16"
    if head.startswith(b"\xfe\xff"):
        return "utf-16-be"
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(0) * 3 > len(sample):  # ASCII text stored as UTF-16 without BOM
        odd_zeros = sample[1::2].count(0)
        return "utf-16" if odd_zeros * 2 > sample.count(0) else "utf-16-be"
    return None


def _has_c1(path: Path, gz: bool) -> bool:
    """Whether any byte is in 0x80-0x9F."""
    with _open_bytes(path, gz) as fh:
        while chunk := fh.read(_CHUNK):
            if _C1_BYTES.search(chunk):
                return True
    return False


def _transcode(path: Path, gz: bool, encoding: str, target: Path) -> tuple[int | None, bytes]:
    """Stream cp1252 or UTF-16-BE text into a UTF-8 file; returns its newline count and tail."""
    newlines = 0
    tail = b""
    decoder = codecs.getincrementaldecoder("utf-16-be")() if encoding == "utf-16-be" else None
    first = True
    with _open_bytes(path, gz) as src, open(target, "wb") as out:
        while True:
            chunk = src.read(_CHUNK)
            final = not chunk
            if decoder is None:
                text = codecs.charmap_decode(chunk, "strict", _CP1252)[0]
            else:
                try:
                    text = decoder.decode(chunk, final=final)
                except UnicodeDecodeError as exc:
                    raise InputError(f"{path}: not valid UTF-16 text.") from exc
                if first and text.startswith("\ufeff"):
                    text = text[1:]
            first = first and not text
            data = text.encode("utf-8")
            out.write(data)
            newlines += data.count(b"\n")
            tail = (tail + data[-65536:])[-65536:]
            if final:
                break
    return newlines, tail


def _read_header(path: Path, gz: bool, encoding: str, label: str) -> tuple[str, tuple[str, ...], int]:
    """The delimiter (sniffed from the header line), the column names, and the blank lines before them."""
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(_open_bytes(path, gz))
        text = stack.enter_context(io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=""))
        skip = 0
        line = text.readline()
        while line and not line.strip("\r\n"):
            skip += 1
            line = text.readline()
    line = line.lstrip("\ufeff")
    if not line.strip():
        raise InputError(f"{label}: the file is empty.")
    delim = max(_DELIMITERS, key=lambda d: (_count_outside_quotes(line, d), -_DELIMITERS.index(d)))
    if _count_outside_quotes(line, delim) == 0:
        delim = ","
    header = next(csv.reader([line.rstrip("\r\n")], delimiter=delim, quotechar='"'))
    return delim, tuple(name.strip() for name in header), skip


def _count_outside_quotes(line: str, delim: str) -> int:
    """How often delim occurs outside double quotes."""
    count, quoted = 0, False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == delim and not quoted:
            count += 1
    return count


def _trailing_blank_lines(tail: bytes) -> int:
    """Empty lines at the end of the text, which DuckDB skips."""
    stripped = tail.rstrip(b"\r\n")
    ending = tail[len(stripped) :]
    if not stripped and tail:  # the tail is all newlines: a file of blank lines
        return ending.count(b"\n")
    return max(ending.count(b"\n") - 1, 0)


def _count_records(path: Path, gz: bool, encoding: str, delim: str, skip: int) -> int:
    """Data records by Python's csv module, blank lines skipped: the slow, exact count."""
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(_open_bytes(path, gz))
        text = stack.enter_context(io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=""))
        for _ in range(skip):
            text.readline()
        reader = csv.reader(text, delimiter=delim, quotechar='"', doublequote=True)
        try:
            return sum(1 for row in reader if row) - 1
        except csv.Error:
            return -1


# ---------------------------------------------------------------------------------------------------
# XLSX


def _sheet_header(rows: list[list[Any]]) -> tuple[tuple[str, ...], int] | None:
    """The first non-empty row as column names, and its index; None for an empty sheet."""
    for index, row in enumerate(rows):
        if any(cell != "" for cell in row):
            return tuple((_cell_text(cell) or "").strip() for cell in row), index
    return None


def _sheet_table(rows: list[list[Any]], header: tuple[tuple[str, ...], int]) -> tuple[pa.Table, list[int]]:
    """The rows under the header as text columns c0..cN (empty rows skipped), with their Excel row numbers."""
    names, start = header
    data = [(i + 1, row) for i, row in enumerate(rows) if i > start and any(cell != "" for cell in row)]
    columns = {
        f"c{j}": pa.array([_cell_text(row[j]) for _, row in data], pa.string()) for j in range(len(names))
    }
    return pa.table(columns), [number for number, _ in data]


def _cell_text(value: Any) -> str | None:
    """A cell as text: whole floats without '.0', datetimes in ISO form, empty cells None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, dt.datetime):  # to the second: Excel's float days are rarely exact
        return (value + dt.timedelta(microseconds=500_000)).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------------------------------------------
# Columns


def _norm(name: str) -> str:
    """A header name compared case-, space- and underscore-insensitively."""
    return re.sub(r"[\s_]+", "", name).lower()


def _sales_wants(column_map: dict[str, str]) -> list[_Want]:
    """The sales columns to find: --map names first, else the aliases."""
    unknown = sorted(set(column_map) - set(ALIASES))
    if unknown:
        raise InputError(f"--map: unknown column '{unknown[0]}'; use one of {', '.join(ALIASES)}.")
    wants = []
    for key, aliases in ALIASES.items():
        if key in column_map:
            wants.append(_Want(key, (column_map[key],), True, mapped=True))
        else:
            wants.append(_Want(key, aliases, key in REQUIRED))
    return wants


def _match(header: Sequence[str], wants: list[_Want]) -> dict[str, int | None]:
    """The column index of every wanted key: an exact name first, then a normalized one; None if absent."""
    out: dict[str, int | None] = {}
    for want in wants:
        found = None
        for name in want.names:
            exact = [i for i, h in enumerate(header) if h == name]
            loose = [i for i, h in enumerate(header) if _norm(h) == _norm(name)]
            if exact or loose:
                found = (exact or loose)[0]
                break
        out[want.key] = found
    return out


def _match_or_raise(block: _Block, wants: list[_Want]) -> dict[str, int | None]:
    """_match, with one sentence for the first wanted column that is missing."""
    cols = _match(block.header, wants)
    found = ", ".join(block.header)
    for want in wants:
        if cols[want.key] is not None or not want.required:
            continue
        if want.mapped:
            raise InputError(
                f"{block.label}: --map {want.key}={want.names[0]} names a column that is not in the file; "
                f"columns found: {found}."
            )
        if want.named:
            raise InputError(f"{block.label}: column '{want.names[0]}' not found; columns found: {found}.")
        raise InputError(
            f"{block.label}: required column '{want.key}' not found (looked for {', '.join(want.names)}); "
            f"columns found: {found}."
        )
    return cols


# ---------------------------------------------------------------------------------------------------
# SQL


def _text_sql(col: int | None) -> str:
    """Trimmed text, empty -> NULL."""
    return "NULL::VARCHAR" if col is None else f"NULLIF(trim(c{col}), '')"


def _hash_sql(col: int | None) -> str:
    """A 64-bit hash of the trimmed text (empty and missing alike); only duplicate detection reads it."""
    return "hash(NULL::VARCHAR)" if col is None else f"hash(NULLIF(trim(c{col}), ''))"


def _number_sql(col: int | None) -> str:
    """A finite DOUBLE; empty/'nan'/'None'/'NULL' -> NULL; anything else stops the statement."""
    if col is None:
        return "NULL::DOUBLE"
    c = f"c{col}"
    return (
        f"CASE WHEN {c} IS NULL THEN NULL::DOUBLE "
        f"WHEN isfinite(TRY_CAST({c} AS DOUBLE)) THEN TRY_CAST({c} AS DOUBLE) "
        f"WHEN lower(trim({c})) IN {_NULL_WORDS} THEN NULL::DOUBLE "
        f"ELSE error('{_BAD_NUMBER}') END"
    )


def _bad_number_sql(col: int) -> str:
    """True where _number_sql would stop."""
    c = f"c{col}"
    return (
        f"({c} IS NOT NULL AND NOT coalesce(isfinite(TRY_CAST({c} AS DOUBLE)), false) "
        f"AND lower(trim({c})) NOT IN {_NULL_WORDS})"
    )


def _customer_id_sql(col: int | None) -> str:
    """Trimmed id; '17850.0' -> '17850'; empty/'nan'/'None'/'NULL' -> NULL."""
    if col is None:
        return "NULL::VARCHAR"
    t = f"trim(c{col})"
    return (
        f"CASE WHEN lower({t}) IN {_NULL_WORDS} THEN NULL "
        f"WHEN regexp_full_match({t}, '[0-9]+\\.0+') THEN split_part({t}, '.', 1) ELSE {t} END"
    )


def _insert(
    con: duckdb.DuckDBPyConnection,
    table: str,
    exprs: list[str],
    block: _Block,
    numbers: list[int | None],
) -> int:
    """INSERT one block's typed rows; bad numbers and broken CSV become one-sentence errors."""
    sql = f"INSERT INTO {table} SELECT {', '.join(exprs)} FROM {block.relation}"  # noqa: S608 - generated
    if block.arrow is not None:
        con.register(block.view, block.arrow)
    try:
        row = con.execute(sql, list(block.params)).fetchone()
    except duckdb.Error as exc:
        if _BAD_NUMBER in str(exc):
            raise _bad_number_error(block, [c for c in numbers if c is not None]) from exc
        if block.kind == "csv" and isinstance(exc, duckdb.InvalidInputException):
            raise InputError(_csv_error(block.label, str(exc))) from exc
        if block.kind == "parquet" and isinstance(exc, (duckdb.InvalidInputException, duckdb.IOException)):
            reason = _first_line(str(exc))
            raise InputError(f"{block.label}: not a readable Parquet file ({reason}).") from exc
        raise
    finally:
        if block.arrow is not None:
            con.unregister(block.view)
    rows = int(row[0]) if row else 0
    if block.expected_rows is not None and rows != block.expected_rows and block.recount is not None:
        counted = block.recount()  # -1: Python's csv module could not read it either; trust DuckDB
        if counted not in (rows, -1):
            raise InputError(
                f"{block.label}: read {rows:,} rows but the file has {counted:,} data lines; "
                "check its delimiter and quoting."
            )
    return rows


def _bad_number_error(block: _Block, numbers: list[int]) -> InputError:
    """Find the first row with a bad number (file order, on a scratch connection) and say where it is."""
    cases = " ".join(f"WHEN {_bad_number_sql(col)} THEN {k}" for k, col in enumerate(numbers))
    values = ", ".join(f"c{col}" for col in numbers)
    sql = f"SELECT CASE {cases} END AS which, {values} FROM {block.relation}"  # noqa: S608 - generated
    with duckdb.connect() as scratch:
        if block.arrow is not None:
            scratch.register(block.view, block.arrow)
        reader = scratch.sql(sql, params=list(block.params)).to_arrow_reader(1_000_000)
        offset = 0
        for batch in reader:
            flags = pc.is_valid(batch.column(0))
            if pc.any(flags).as_py():
                i = pc.index(flags, True).as_py()
                k = batch.column(0)[i].as_py()
                value = batch.column(1 + k)[i].as_py()
                name = block.header[numbers[k]]
                return InputError(
                    f"{block.label}: column '{name}', {block.row_name(offset + i)}: "
                    f"expected a number, got {_quote(value)}."
                )
            offset += batch.num_rows
    return InputError(f"{block.label}: a value that should be a number is not one.")


def _csv_error(label: str, message: str) -> str:
    """DuckDB's CSV error, told in one sentence."""
    line = re.search(r"CSV Error on Line: (\d+)", message)
    where = f"line {line.group(1)}: " if line else ""
    counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if counts:
        return f"{label}: {where}expected {counts.group(1)} fields, found {counts.group(2)}."
    if "unterminated quote" in message:
        return f"{label}: {where}a quoted value is never closed."
    size = re.search(r"Maximum line size of (\d+) bytes exceeded", message)
    if size:
        return f"{label}: {where}the line is longer than {int(size.group(1)):,} bytes."
    # DuckDB: "CSV Error on Line: N", "Original Line: ...", the reason, then "Possible ..." hints
    lines = []
    for text in message.splitlines():
        if text.startswith("Possible"):
            break
        if text.strip():
            lines.append(text.strip())
    reason = lines[-1] if len(lines) > 1 else _first_line(message)
    return f"{label}: {where}cannot be read as CSV ({reason[:200].rstrip('.')})."


def _first_line(message: str) -> str:
    """The first line of an exception message, without DuckDB's error class."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return re.sub(r"^[A-Za-z ]+Error: ", "", first).rstrip(".")


def _quote(value: object, limit: int = 60) -> str:
    """A cell value for a message, shortened."""
    text = str(value)
    return f"'{text[:limit]}...'" if len(text) > limit else f"'{text}'"


# ---------------------------------------------------------------------------------------------------
# Dates


def _type_dates(con: duckdb.DuckDBPyConnection, spans: list[_Span], cfg: RunConfig) -> str:
    """Choose the date format (or take cfg's), type invoice_ts with it, and check every block has dates."""
    stats = dict.fromkeys(range(len(spans)), (0, None))
    for k, nonnull, first in con.execute(
        "SELECT segments_block, count(invoice_ts), "
        "arg_min(invoice_ts, rowid) FILTER (WHERE invoice_ts IS NOT NULL) FROM lines GROUP BY segments_block"
    ).fetchall():
        stats[k] = (nonnull, first)
    for k, (block, cols, _) in enumerate(spans):
        if stats[k][0] == 0:
            raise InputError(f"{block.label}: column '{_date_name(block, cols)}'{block.place} has no dates.")
    if cfg.date_format:
        fmt = cfg.date_format
        try:
            con.execute("SELECT try_strptime('2000-01-01', ?)", [fmt]).fetchall()
        except duckdb.Error as exc:
            raise InputError(f"--date-format '{fmt}' is not a valid strptime format.") from exc
    else:
        where = [date_order.Where(b.label, _date_name(b, cols), b.place) for b, cols, _ in spans]
        fmt = _detect_format(con, sum(rows for _, _, rows in spans), cfg.dayfirst, where)
        if fmt is None:
            block, cols, _ = spans[0]
            raise InputError(
                f"{block.label}: column '{_date_name(block, cols)}'{block.place}: "
                f"no value is a date in a known format (first value {_quote(stats[0][1])}); "
                "give the format with --date-format."
            )
    con.execute("SET VARIABLE segments_ingest_date_format = ?", [fmt])
    try:
        con.execute(
            "ALTER TABLE lines ALTER invoice_ts TYPE TIMESTAMP "
            "USING try_strptime(invoice_ts, getvariable('segments_ingest_date_format'))"
        )
    finally:
        con.execute("RESET VARIABLE segments_ingest_date_format")
    parsed = dict(
        con.execute("SELECT segments_block, count(invoice_ts) FROM lines GROUP BY segments_block").fetchall()
    )
    for k, (block, cols, _) in enumerate(spans):
        if parsed.get(k, 0) == 0:
            raise InputError(
                f"{block.label}: column '{_date_name(block, cols)}'{block.place}: no value matches the date "
                f"format '{fmt}' (first value {_quote(stats[k][1])})."
            )
    con.execute("ALTER TABLE lines DROP COLUMN segments_block")
    return fmt


def _date_name(block: _Block, cols: dict[str, int | None]) -> str:
    """The date column's name in the file."""
    index = cols["invoice_date"]
    return block.header[index] if index is not None else "invoice_date"


def _detect_format(
    con: duckdb.DuckDBPyConnection, total: int, dayfirst: bool | None, where: list[date_order.Where]
) -> str | None:
    """The candidate format that parses most of a sample of the date texts; day or month first is
    settled on every row (date_order.settle), never guessed."""
    # a failed parse costs DuckDB about 0.5 us: rule out formats on ~1,000 values, count the rest on ~50,000
    survivors = [
        (fmt, order)
        for (fmt, order), n in zip(DATE_FORMATS, _parse_counts(con, DATE_FORMATS, total, 1_000), strict=True)
        if n > 0
    ]
    if not survivors:
        return None
    counts = _parse_counts(con, survivors, total, DATE_SAMPLE)
    best = max(counts)
    if best == 0:
        return None
    fmt, order = next(w for w, n in zip(survivors, counts, strict=True) if n == best)
    month_first = fmt if order == "mdy" else date_order.twin(fmt)
    if order in ("mdy", "dmy") and (month_first, "mdy") in DATE_FORMATS:
        return date_order.settle(con, month_first, dayfirst, where)
    return fmt


def _parse_counts(
    con: duckdb.DuckDBPyConnection, formats: Sequence[tuple[str, str]], total: int, sample: int
) -> list[int]:
    """How many date texts of every (total // sample)-th row each format parses to a year in 1900-2199."""
    counts_sql = ", ".join(
        "count(*) FILTER (WHERE try_strptime(d, ?) BETWEEN TIMESTAMP '1900-01-01' AND TIMESTAMP '2200-01-01')"
        for _ in formats
    )
    # every step-th row: spread over all files, deterministic, and a parallel scan (a reservoir is not)
    sql = (
        "WITH s AS (SELECT invoice_ts AS d FROM lines WHERE rowid % ? = 0 AND invoice_ts IS NOT NULL) "  # noqa: S608
        f"SELECT {counts_sql} FROM s"
    )
    row = con.execute(sql, [max(total // sample, 1), *(fmt for fmt, _ in formats)]).fetchone()
    return [int(n) for n in row] if row else [0] * len(formats)
