"""Text files (CSV, TSV, TXT, each also gzipped): one pass for checksum, newlines and encoding,
transcoding what DuckDB cannot decode, the header and delimiter, and exact record counts.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from segmentation import input_bounds
from segmentation.errors import InputError
from segmentation.ingest.columns import _match
from segmentation.ingest.common import (
    _CHUNK,
    _DELIMITERS,
    _HEADER_SEARCH_ROWS,
    TextShape,
    _Block,
    _Want,
    file_sha256,
)

_C1_BYTES = re.compile(b"[\x80-\x9f]")


# cp1252, with its five undefined bytes kept as the latin-1 characters (as browsers do).
_CP1252 = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))


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


def _head_lines(path: Path, gz: bool, encoding: str, skip: int = 0) -> list[str]:
    """The first lines of the text (skip lines, then at most _HEADER_SEARCH_ROWS non-blank ones), endings
    kept."""
    lines: list[str] = []
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(_open_bytes(path, gz))
        text = stack.enter_context(io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=""))
        nonblank = 0
        while nonblank < _HEADER_SEARCH_ROWS and (line := text.readline()):
            lines.append(line.lstrip("\ufeff") if not lines else line)
            nonblank += len(lines) > skip and bool(line.strip("\r\n"))
    return lines


def _sniff(line: str) -> str:
    """The delimiter of a line: the most frequent of , ; tab | outside quotes, else "whitespace" when
    runs of spaces split it, else ","."""
    delim = max(_DELIMITERS, key=lambda d: (_count_outside_quotes(line, d), -_DELIMITERS.index(d)))
    if _count_outside_quotes(line, delim) > 0:
        return delim
    return "whitespace" if len(line.split()) > 1 else ","


def _cells(line: str, delim: str) -> list[str]:
    """A line's fields."""
    if delim == "whitespace":
        return line.split()
    return next(csv.reader([line.rstrip("\r\n")], delimiter=delim, quotechar='"'), [])


def _layout(
    lines: list[str], label: str, shape: TextShape, wants: Sequence[_Want]
) -> tuple[str, tuple[str, ...], int]:
    """The delimiter, the column names and the lines above the header (or above the first data line
    with --no-header): after --skip-rows lines, or the first row among the first lines that has every
    required wanted column (title rows above it are skipped), else the first non-blank line."""
    start = shape.skip_rows or 0
    if start >= len(lines) and shape.skip_rows:
        raise InputError(f"{label}: --skip-rows {shape.skip_rows} skips every line of the file.")
    candidates = [i for i in range(start, len(lines)) if lines[i].strip("\r\n")]
    if not candidates or not lines[candidates[0]].strip():
        raise InputError(f"{label}: the file is empty.")
    first = candidates[0]
    chosen = first
    required = [w for w in wants if w.required]
    if shape.skip_rows is None and not shape.no_header and required:
        for i in candidates:
            cells = _cells(lines[i], shape.delimiter or _sniff(lines[i]))
            cols = _match([c.strip() for c in cells], required)
            if all(v is not None for v in cols.values()):
                chosen = i
                break
    delim = shape.delimiter or _sniff(lines[chosen])
    cells = [c.strip() for c in _cells(lines[chosen], delim)]
    if shape.no_header:
        cells = [str(k + 1) for k in range(len(cells))]
    return delim, tuple(cells), chosen


def _to_tsv(path: Path, gz: bool, encoding: str, target: Path) -> tuple[int, bytes]:
    """Stream a whitespace-separated text into a UTF-8 tab-separated file, line for line (blank lines
    kept, so line numbers stay); returns its newline count and tail."""
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(_open_bytes(path, gz))
        text = stack.enter_context(io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=""))
        out = stack.enter_context(open(target, "w", encoding="utf-8", newline=""))
        writer = csv.writer(out, delimiter="\t", quotechar='"', lineterminator="\n")
        for line in text:
            fields = line.lstrip("\ufeff").split()
            if fields:
                writer.writerow(fields)
            else:
                out.write("\n")
    newlines = 0
    tail = b""
    with open(target, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            newlines += chunk.count(b"\n")
            tail = (tail + chunk[-65536:])[-65536:]
    return newlines, tail


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


def csv_block(
    path: Path,
    label: str,
    gz: bool,
    transcode_to: Callable[[], Path],
    duckdb_path: Callable[[Path], str],
    shape: TextShape | None = None,
    wants: Sequence[_Want] = (),
) -> tuple[_Block, str]:
    """Sniff encoding, delimiter and header row (or take them from shape), transcode what DuckDB cannot
    read (other encodings, whitespace-separated columns; to transcode_to()), and pin the dialect;
    returns the block and the file's sha256 hex digest."""
    shape = shape or TextShape()
    scan = _scan_text(path, gz)
    digest = scan.sha256 if not gz else file_sha256(path)
    read_path, encoding, newlines, tail = str(path), scan.encoding, scan.newlines, scan.tail
    if encoding in ("cp1252", "utf-16-be"):
        target = transcode_to()
        newlines, tail = _transcode(path, gz, encoding, target)
        read_path, encoding, gz = str(target), "utf-8", False
    else:
        read_path = duckdb_path(path)
    py_encoding = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "utf-16": "utf-16-le"}[encoding]
    delim, header, skip = _layout(
        _head_lines(Path(read_path), gz, py_encoding, shape.skip_rows or 0), label, shape, wants
    )
    notes = []
    if delim == "whitespace":
        target = transcode_to().with_suffix(".tsv")  # not the transcoded copy it may read
        newlines, tail = _to_tsv(Path(read_path), gz, py_encoding, target)
        read_path, encoding, py_encoding, gz, delim = str(target), "utf-8", "utf-8", False, "\t"
        notes.append("columns separated by spaces")
    if skip and not shape.skip_rows and not shape.no_header:
        notes.append(f"header on line {skip + 1}")
    if shape.no_header:
        notes.append("no header row, columns numbered from 1")
    has_header = not shape.no_header
    expected = None
    if newlines is not None:
        last_line = 0 if tail.endswith(b"\n") or not tail else 1
        expected = newlines + last_line - _trailing_blank_lines(tail) - skip - (1 if has_header else 0)
    names = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
    relation = (
        f"read_csv(?, header = ?, auto_detect = false, columns = {{{names}}}, delim = ?, "
        "quote = '\"', escape = '\"', comment = '', skip = ?, strict_mode = true, encoding = ?)"
    )

    def recount() -> int:
        return _count_records(Path(read_path), gz, py_encoding, delim, skip) + (0 if has_header else 1)

    first_data = skip + (2 if has_header else 1)
    block = _Block(
        kind="csv",
        label=label,
        header=header,
        relation=relation,
        params=(read_path, has_header, delim, skip, encoding),
        place="",
        row_name=lambda i: f"line {i + first_data}",
        expected_rows=expected,
        recount=recount,
        numbered=shape.no_header,
        note=", ".join(notes),
    )
    return block, digest
