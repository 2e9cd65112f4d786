"""Bounds on hostile input, checked before a reader allocates: zip parts and XLSX used ranges, gzip sizes.

python-calamine allocates rows x columns of a sheet's used range, so one far-away cell (XFD1048576) asks
for 512 GB and aborts the process; gzip and zip parts can unpack to many times their size. Everything here
streams the bytes once with bounded memory and refuses in one sentence.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from segmentation import scratch
from segmentation.errors import InputError

XLSX_MAX_BYTES = 2 * 1024**3  # all parts of a workbook, unpacked
XLSX_MAX_RATIO = 200  # unpacked / packed size of the whole workbook
XLSX_MAX_ENTRIES = 10_000
XLSX_MAX_CELLS = 50_000_000  # rows x columns of a sheet's used range (less on a small machine)
XLSX_BYTES_PER_CELL = 160  # peak per text cell, calamine plus to_python: 142 B measured on UCI
GZIP_MAX_RATIO = 200  # a real CSV compresses 5-15 times; far more is a bomb
GZIP_RATIO_FLOOR = 64 * 1024**2  # the ratio is judged once this much is unpacked
UNPACKED_ENV = "SEGMENTATION_MAX_UNPACKED_BYTES"

_CHUNK = 1 << 22
_MAX_TAG = 1 << 20  # no real XML start tag is this long
_MAX_META = 16 * 1024**2  # workbook.xml and its relationships, read whole
_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"
_PREFIXED_CELL = re.compile(rb":c[\s/>]")  # <x:c ...>: namespace prefixes go the slow, exact way
# a cell as Excel and most writers start it: column letters, row digits, and '/' when it is empty
_CELL_REF = re.compile(rb'<c r="([A-Za-z]{1,3})([0-9]{1,7})"[^>]*?(/?)>')
_TAG = re.compile(rb"<" + _PREFIX + rb"(row|c)(?=[\s/>])([^>]*)>")
_REF_ATTR = re.compile(rb"\br\s*=\s*[\"']([A-Za-z]*)([0-9]+)[\"']")
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*", re.IGNORECASE)
_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOC_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


# ---------------------------------------------------------------------------------------------------
# Machine limits


def available_memory() -> int:
    """Bytes of memory this process can still use: MemAvailable, lowered by a cgroup limit if any."""
    avail = scratch.meminfo_bytes("MemAvailable")
    if avail is None:
        avail = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    limit = scratch.cgroup_limit()  # cgroup v2's memory.max; None when unlimited
    if limit is not None:
        try:
            used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        except (OSError, ValueError):
            return avail
        avail = min(avail, max(limit - used, 0))
    return avail


def xlsx_cell_limit() -> int:
    """Cells one sheet may span: XLSX_MAX_CELLS, or what half the available memory holds if that is less."""
    return max(min(XLSX_MAX_CELLS, available_memory() // 2 // XLSX_BYTES_PER_CELL), 1_000_000)


def unpacked_limit() -> tuple[int, str]:
    """The most bytes a .gz input may unpack to, and where that number comes from (for messages).

    SEGMENTATION_MAX_UNPACKED_BYTES (e.g. '8G') when set; else the available memory or half the free
    space of the temp directory (a transcoded copy lands there), whichever is less, and at least 1 GiB.
    """
    text = os.environ.get(UNPACKED_ENV, "").strip()
    if text:
        match = _SIZE.fullmatch(text)
        if not match or float(match.group(1)) < 1:
            raise InputError(f"{UNPACKED_ENV}: expected a size such as 8G, 500M or 1000000, got '{text}'.")
        scale = 1024 ** " KMGT".index(match.group(2).upper() or " ")
        return int(float(match.group(1)) * scale), f"set by {UNPACKED_ENV}"
    free_disk = shutil.disk_usage(tempfile.gettempdir()).free // 2
    limit = max(min(available_memory(), free_disk), 1024**3)
    return limit, f"from this machine's free memory and disk; {UNPACKED_ENV} changes it"


def _size(n: int) -> str:
    """Bytes in words: '8.0 GiB (8,589,934,592 bytes)'."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


# ---------------------------------------------------------------------------------------------------
# gzip


class _BoundedGzip(io.RawIOBase):
    """A .gz file's unpacked bytes that stop with an InputError past the size limit or a bomb's ratio."""

    def __init__(self, path: Path, label: str, limit: int, source: str) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._gz = gzip.GzipFile(fileobj=self._file, mode="rb")
        self._label, self._limit, self._source = label, limit, source
        self.unpacked = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            n = self._gz.readinto(buffer)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self._label}: not a readable gzip file ({exc}).") from exc
        self.unpacked += n
        if self.unpacked > self._limit:
            human = _size(self._limit).split(" (")[0]
            raise InputError(
                f"{self._label}: unpacks to more than the limit of {self._limit:,} bytes ({human}, "
                f"{self._source}); {self.unpacked:,} bytes unpacked so far, so it was not loaded."
            )
        packed = max(self._file.tell(), 1)
        if self.unpacked > GZIP_RATIO_FLOOR and self.unpacked > GZIP_MAX_RATIO * packed:
            raise InputError(
                f"{self._label}: its first {_size(packed)} unpack to {_size(self.unpacked)}, more than "
                f"{GZIP_MAX_RATIO} times as much, which no real CSV does (a compression bomb?); if the file "
                "is genuine, unpack it yourself and pass the .csv."
            )
        return n

    def close(self) -> None:
        if not self.closed:
            self._gz.close()
            self._file.close()
        super().close()


def open_gzip(path: Path, label: str) -> io.BufferedReader:
    """A .gz file's unpacked bytes, refused in one sentence past unpacked_limit() or GZIP_MAX_RATIO."""
    limit, source = unpacked_limit()
    return io.BufferedReader(_BoundedGzip(path, label, limit, source), buffer_size=1 << 16)


# ---------------------------------------------------------------------------------------------------
# XLSX: the zip, then every sheet's used range


def check_xlsx(path: Path, label: str) -> None:
    """Refuse a workbook that would blow up its reader: too many parts, too big or too compressed
    unpacked (sizes as declared, then as actually unpacked), or a sheet spanning too many cells."""
    entries = _declared_entries(path)
    if entries is not None and entries > XLSX_MAX_ENTRIES:
        raise InputError(f"{label}: the file has more than {XLSX_MAX_ENTRIES:,} parts; refusing to read it.")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_declared(infos, label)
            sheets = _worksheet_parts(archive, {info.filename for info in infos}, label)
            budget = xlsx_cell_limit()
            for info in infos:
                with archive.open(info) as part:
                    if info.filename in sheets:
                        _check_sheet(part, label, sheets[info.filename], budget)
                    else:
                        while part.read(_CHUNK):  # zipfile stops at the declared size and checks the CRC
                            pass
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,  # zipfile's answer to a compression method it cannot read
        RuntimeError,
        ValueError,
        OSError,
        EOFError,
    ) as exc:
        raise InputError(f"{label}: not a readable XLSX file ({_reason(exc)}).") from exc


def _reason(exc: BaseException) -> str:
    """Why zipfile gave up, in a few words."""
    text = str(exc).strip().rstrip(".")
    if isinstance(exc, zipfile.BadZipFile) and "not a zip file" in text.lower():
        return "not a zip archive"
    if "encrypted" in text.lower():
        return "a part is encrypted; save the workbook without a password"
    return f"a damaged zip archive: {text}" if text else "a damaged zip archive"


def _declared_entries(path: Path) -> int | None:
    """The entry count in the zip's end record, read before zipfile builds one object per entry."""
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(size - 65_557, 0))
        tail = fh.read()
        end = tail.rfind(b"PK\x05\x06")
        if end < 0 or len(tail) < end + 22:
            return None  # zipfile will say it is not a zip archive
        (count,) = struct.unpack("<H", tail[end + 10 : end + 12])
        locator = tail.rfind(b"PK\x06\x07", 0, end)
        if count == 0xFFFF and locator >= 0 and len(tail) >= locator + 20:  # Zip64
            (record_at,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
            if record_at + 40 <= size:
                fh.seek(record_at)
                record = fh.read(40)
                if record[:4] == b"PK\x06\x06":
                    (count,) = struct.unpack("<Q", record[32:40])
        return count


def _check_declared(infos: list[zipfile.ZipInfo], label: str) -> None:
    """Too many parts, too big or too compressed, as the archive declares them."""
    if len(infos) > XLSX_MAX_ENTRIES:
        raise InputError(f"{label}: the file has more than {XLSX_MAX_ENTRIES:,} parts; refusing to read it.")
    unpacked = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if unpacked > XLSX_MAX_BYTES:
        raise InputError(f"{label}: the file unpacks to more than 2 GiB; refusing to read it.")
    if unpacked > XLSX_MAX_RATIO * max(packed, 1):
        raise InputError(
            f"{label}: the file unpacks to more than {XLSX_MAX_RATIO} times its size; refusing to read it."
        )


def _worksheet_parts(archive: zipfile.ZipFile, names: set[str], label: str) -> dict[str, str]:
    """Worksheet part name -> sheet name, from the workbook's relationships; every part under
    xl/worksheets/ is checked too (named by its path when the workbook does not name it)."""
    parts = {name: name for name in names if re.fullmatch(r"xl/worksheets/[^/]+\.xml", name)}
    try:
        rels = ElementTree.fromstring(_small_part(archive, "xl/_rels/workbook.xml.rels", label))
        book = ElementTree.fromstring(_small_part(archive, "xl/workbook.xml", label))
    except (KeyError, ElementTree.ParseError):
        return parts  # calamine will report the broken workbook; the parts are still checked
    targets = {}
    for rel in rels.iter(f"{_REL_NS}Relationship"):
        target = rel.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        targets[rel.get("Id")] = os.path.normpath(part).replace(os.sep, "/")
    for sheet in book.iter():
        if sheet.tag.endswith("}sheet") and targets.get(sheet.get(_DOC_REL)) in names:
            parts[targets[sheet.get(_DOC_REL)]] = sheet.get("name") or "?"
    return parts


def _small_part(archive: zipfile.ZipFile, name: str, label: str) -> bytes:
    """A metadata part read whole, refused when it is implausibly large."""
    if archive.getinfo(name).file_size > _MAX_META:
        raise InputError(f"{label}: its part {name} is over {_MAX_META // 1024**2} MiB; not a real workbook.")
    with archive.open(name) as part:
        return part.read(_MAX_META + 1)


@dataclass
class _Extent:
    """The used range so far (1-based last row and column) and the cells that set it."""

    rows: int = 0
    cols: int = 0
    row_cell: str = ""
    col_cell: str = ""

    def add(self, row: int, col: int) -> None:
        if row > self.rows:
            self.rows, self.row_cell = row, _cell_name(row, col)
        if col > self.cols:
            self.cols, self.col_cell = col, _cell_name(row, col)


def _check_sheet(part: io.BufferedIOBase, label: str, sheet: str, budget: int) -> None:
    """Stream one worksheet's XML and refuse it when its used range spans more than `budget` cells.

    Only cells holding something count (calamine skips empty formatted cells such as <c r="Z9" s="1"/>);
    <dimension ref> is ignored, because it can lie or be absent. A quick pass bounds the range by the
    longest references (ZZ and 999999: at most 702 x 999,999); only when that bound is over budget is
    every cell looked at.
    """
    bound = _quick_bound(part, budget)
    if bound is not None and bound <= budget:
        return
    extent = None
    if bound is not None:
        part.seek(0)
        extent = _scan_fast(part)
    if extent is None:  # some cell has no plain r="A1" reference: walk every tag
        part.seek(0)
        extent = _scan_exact(part)
    if extent.rows * extent.cols <= budget:
        return
    corner = _cell_name(extent.rows, extent.cols)
    if extent.row_cell == extent.col_cell:
        far, stray = f"a value in cell {extent.row_cell}", "that is a stray cell far from the data"
        fix = "delete it"
    else:
        far = f"values in cells {extent.row_cell} and {extent.col_cell}"
        stray, fix = "those are stray cells far from the data", "delete them"
    raise InputError(
        f"{label}: sheet '{sheet}' has {far}, so its used range A1:{corner} spans "
        f"{extent.rows * extent.cols:,} cells, over the limit of {budget:,} cells for one sheet; if "
        f"{stray} (often left by formatting), {fix} or export the sheet as CSV."
    )


def _chunks(part: io.BufferedIOBase) -> Iterator[bytes]:
    """Yield the part's bytes in chunks that end between tags."""
    rest = b""
    while True:
        chunk = part.read(_CHUNK)
        data = rest + chunk
        if not chunk:
            yield data
            return
        cut = data.rfind(b"<")
        if cut < 0 or data.find(b">", cut) >= 0:
            rest = b""
        else:
            data, rest = data[:cut], data[cut:]
            if len(rest) > _MAX_TAG:
                raise zipfile.BadZipFile("an XML tag longer than 1 MiB")
        yield data


def _quick_bound(part: io.BufferedIOBase, budget: int) -> int | None:
    """An upper bound of the used range from the longest column letters and row digits, found by one
    C-speed search per chunk; None when some cell does not start as <c r="A1"."""
    letters = digits = 0
    for data in _chunks(part):
        if _PREFIXED_CELL.search(data):
            return None
        while True:  # the first cell that is not <c r="...">, or has longer letters or digits than so far
            longer = rb'<c(?:(?=[\s/>])(?! r=")| r="(?:[A-Za-z]{%d}|[A-Za-z]{1,4}[0-9]{%d}))'
            match = re.search(longer % (letters + 1, digits + 1), data)
            if match is None:
                break
            ref = re.match(rb'<c r="([A-Za-z]*)([0-9]*)', data[match.start() : match.start() + 40])
            if ref is None:
                return None
            letters, digits = max(letters, len(ref.group(1))), max(digits, len(ref.group(2)))
            if letters >= 4 or digits >= 8 or 26**letters * (10**digits - 1) > budget:
                return budget + 1  # look closer
    return 26**letters * (10**digits - 1)


def _scan_fast(part: io.BufferedIOBase) -> _Extent | None:
    """The used range from cells' r="A1" references; None as soon as a cell has another form."""
    extent = _Extent()
    for data in _chunks(part):
        refs = _CELL_REF.findall(data)
        if len(refs) != data.count(b'<c r="'):
            return None
        valued = [(c, r) for c, r, empty in refs if not empty]
        if not valued:
            continue
        letters = max({c.upper() for c, _ in valued}, key=lambda c: (len(c), c))
        row = max(map(int, (r for _, r in valued)))
        col = _column_number(letters)
        if row > extent.rows:
            extent.add(row, next(_column_number(c) for c, r in valued if int(r) == row))
        if col > extent.cols:
            extent.add(next(int(r) for c, r in valued if c.upper() == letters), col)
    return extent


def _scan_exact(part: io.BufferedIOBase) -> _Extent:
    """The used range tag by tag: a row or cell without a reference follows the one before it."""
    extent = _Extent()
    row = col = 0
    for data in _chunks(part):
        for match in _TAG.finditer(data):
            ref = _REF_ATTR.search(match.group(2))
            if match.group(1) == b"row":
                row = int(ref.group(2)) if ref else row + 1
                col = 0
                continue
            if ref and ref.group(1):
                cell_row, col = int(ref.group(2)), _column_number(ref.group(1))
            else:
                cell_row, col = row, col + 1
            if not match.group(2).endswith(b"/"):
                extent.add(cell_row, col)
    return extent


def _column_number(letters: bytes) -> int:
    """'A' -> 1, 'XFD' -> 16384."""
    number = 0
    for ch in letters.upper():
        number = number * 26 + ch - 64
    return number


def _cell_name(row: int, col: int) -> str:
    """(1048576, 16384) -> 'XFD1048576'."""
    letters = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"
