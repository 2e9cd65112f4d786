"""Hostile input (issue 11, item 4): far-away XLSX cells and gzip bombs are refused in one sentence,
before a reader allocates, in bounded memory, leaving the stored DB and $TMPDIR as they were."""

from __future__ import annotations

import gzip
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import duckdb
import pytest
import xlsxwriter

from segmentation import cli, input_bounds
from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest import load_sales

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
ROW = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom"
# the child runs `segments ARGS` and reports its peak memory on stderr's last line
CHILD = (
    "import resource, sys\n"
    "from segmentation.cli import main\n"
    "try:\n"
    "    rc = main(sys.argv[1:])\n"
    "finally:\n"
    "    print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)
CHILD_ADDRESS_SPACE = 3 * 1024**3  # the old code asked for 5.6 GB (ZZ200000) and 512 GB (XFD1048576)


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in tmp_path so messages name files as a user types them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(input_bounds.UNPACKED_ENV, raising=False)
    return tmp_path


def far_cell_xlsx(name: str, row: int, col: int, rows: int = 20) -> Path:
    """A small sales sheet plus one value at (row, col), 0-based: the hostile file is a few KB."""
    book = xlsxwriter.Workbook(name)
    sheet = book.add_worksheet("Sales")
    sheet.write_row(0, 0, HEADER.split(","))
    for i in range(rows):
        sheet.write_row(
            i + 1, 0, [536365 + i, "85123A", "HEART", 6, "2010-12-01 08:26:00", 2.55, 17850 + i % 5, "UK"]
        )
    sheet.write(row, col, "x")
    book.close()
    return Path(name)


def segments(args: list[str], tmp_path: Path) -> tuple[int, str, int]:
    """`segments ARGS` in a child limited to 3 GiB of address space, $TMPDIR in tmp_path/tmp:
    (exit code, stderr without the memory line, peak RSS in MiB)."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmpdir)}

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))

    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=limit,
        timeout=300,
        check=False,
    )
    lines = done.stderr.splitlines()
    rss = [int(line.split()[1]) // 1024 for line in lines if line.startswith("maxrss_kb ")]
    return (
        done.returncode,
        "\n".join(line for line in lines if not line.startswith("maxrss_kb ")),
        rss[0] if rss else -1,
    )


def stored(db: Path) -> tuple[bytes, list[str]]:
    """The DB's bytes and the files named after it (.wal, temp copies): what must not change."""
    return db.read_bytes(), sorted(p.name for p in db.parent.iterdir() if p.name.startswith(db.name))


# --- XLSX: a far-away cell ---------------------------------------------------------------------------


def test_a_cell_at_xfd1048576_is_one_sentence_not_an_abort(db_copy: Path, tmp_path: Path) -> None:
    # before: calamine asked for 512 GB, the process aborted (rc 134) with a Rust backtrace
    path = far_cell_xlsx("far.xlsx", 1048575, 16383)
    assert path.stat().st_size < 10_000
    before = stored(db_copy)
    code, err, rss = segments(["run", str(path), "--db", str(db_copy), "--quiet"], tmp_path)
    assert code == 2
    # the limit is 50,000,000 cells, or less where half the available memory holds fewer (160 B each)
    assert re.fullmatch(
        r"Error: far\.xlsx: sheet 'Sales' has a value in cell XFD1048576, so its used range A1:XFD1048576 "
        r"spans 17,179,869,184 cells, over the limit of [\d,]+ cells for one sheet; if that is a stray "
        r"cell far from the data \(often left by formatting\), delete it or export the sheet as CSV\.",
        err,
    ), err
    assert (
        f"limit of {input_bounds.XLSX_MAX_CELLS:,} cells" in err
        or input_bounds.xlsx_cell_limit() < 50_000_000
    )
    assert stored(db_copy) == before
    assert list((tmp_path / "tmp").iterdir()) == []  # no temp directory left behind
    assert 0 < rss < 1024


def test_a_cell_at_zz200000_is_refused_before_reading(db_copy: Path, tmp_path: Path) -> None:
    # before: 5.65 GB peak for a 186 KB file (here the child's 3 GiB address space stops it)
    path = far_cell_xlsx("wide.xlsx", 199_999, 701, rows=5000)
    before = stored(db_copy)
    code, err, rss = segments(["run", str(path), "--db", str(db_copy), "--quiet"], tmp_path)
    assert code == 2
    assert err.startswith(
        "Error: wide.xlsx: sheet 'Sales' has a value in cell ZZ200000, so its used range A1:ZZ200000 "
        "spans 140,400,000 cells, over the limit of "
    )
    assert stored(db_copy) == before
    assert 0 < rss < 1024


def test_an_empty_formatted_cell_far_away_is_harmless() -> None:
    # calamine skips cells without a value, so formatting alone must not be refused
    book = xlsxwriter.Workbook("styled.xlsx")
    sheet = book.add_worksheet("Sales")
    sheet.write_row(0, 0, HEADER.split(","))
    sheet.write_row(1, 0, ROW.split(","))
    sheet.write_blank(1048575, 16383, None, book.add_format({"bold": True}))
    book.close()
    with duckdb.connect() as con:
        assert load_sales(con, RunConfig(inputs=(Path("styled.xlsx"),))).rows_in == 1


def rewrite_sheet(source: Path, target: str, edit: dict[bytes, bytes]) -> Path:
    """A copy of an XLSX whose first sheet's XML has the given replacements."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                for old, new in edit.items():
                    assert old in data
                    data = data.replace(old, new)
            out.writestr(info.filename, data)
    return Path(target)


FAR_ROW = b'<row r="200000" spans="702:702"><c r="ZZ200000" t="s"><v>12</v></c></row>'


@pytest.mark.parametrize(
    ("name", "far_row", "cell"),
    [
        (
            "attributes in another order",
            b'<row r="200000"><c t="s" r="ZZ200000"><v>12</v></c></row>',
            "ZZ200000",
        ),
        (
            "namespace prefix",
            b'<row r="200000"><x:c xmlns:x="x" r="ZZ200000"><x:v>1</x:v></x:c></row>',
            "ZZ200000",
        ),
        ("lower-case reference", b'<row r="200000"><c r="zz200000"><v>1</v></c></row>', "ZZ200000"),
        ("row without r", b'<row><c r="ZZ200000"><v>1</v></c></row>', "ZZ200000"),
        ("cells without r", b'<row r="200000">' + b"<c><v>1</v></c>" * 300 + b"</row>", "KN200000"),
    ],
)
def test_the_far_cell_is_found_however_it_is_written(name: str, far_row: bytes, cell: str) -> None:
    base = far_cell_xlsx("base.xlsx", 199_999, 701)
    path = rewrite_sheet(base, "odd.xlsx", {FAR_ROW: far_row, b'ref="A1:ZZ200000"': b'ref="A1:H21"'})
    far = f"values in cells A200000 and {cell}" if name == "cells without r" else f"a value in cell {cell}"
    with pytest.raises(InputError, match=f"has {far}, so its used range A1:{cell} ") as info:
        input_bounds.check_xlsx(path, "odd.xlsx")
    assert str(info.value).startswith("odd.xlsx: sheet 'Sales' has "), name


def test_a_lying_dimension_is_ignored() -> None:
    base = far_cell_xlsx("base.xlsx", 21, 0)  # the extra value sits just under the data
    claims_huge = rewrite_sheet(base, "claims.xlsx", {b'ref="A1:H22"': b'ref="A1:XFD1048576"'})
    input_bounds.check_xlsx(claims_huge, "claims.xlsx")  # no error: only cells count
    far = far_cell_xlsx("far.xlsx", 1048575, 16383)
    hides = rewrite_sheet(far, "hides.xlsx", {b'<dimension ref="A1:XFD1048576"/>': b""})
    with pytest.raises(InputError, match="cell XFD1048576"):
        input_bounds.check_xlsx(hides, "hides.xlsx")


def test_a_part_larger_than_declared_is_refused() -> None:
    # the size checks trust the declared sizes only until the part is unpacked and its CRC checked
    base = far_cell_xlsx("base.xlsx", 21, 0)
    data = bytearray(base.read_bytes())
    name = b"xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(base) as archive:
        real = archive.getinfo(name.decode()).file_size
    small = (100).to_bytes(4, "little")
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        index = 0  # the local header and the central directory both declare the unpacked size
        while (index := data.find(signature, index)) >= 0:
            if data[index + name_at : index + name_at + len(name)] == name:
                assert int.from_bytes(data[index + size_at : index + size_at + 4], "little") == real
                data[index + size_at : index + size_at + 4] = small
            index += 4
    Path("lies.xlsx").write_bytes(bytes(data))
    with pytest.raises(InputError) as info:
        input_bounds.check_xlsx(Path("lies.xlsx"), "lies.xlsx")
    assert str(info.value).startswith("lies.xlsx: not a readable XLSX file (a damaged zip archive: ")


def test_an_encrypted_part_is_one_sentence() -> None:
    data = bytearray(far_cell_xlsx("base.xlsx", 21, 0).read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # set bit 0: encrypted
        index = 0
        while (index := data.find(signature, index)) >= 0:
            data[index + flags_at] |= 1
            index += 4
    Path("locked.xlsx").write_bytes(bytes(data))
    with duckdb.connect() as con, pytest.raises(InputError) as info:
        load_sales(con, RunConfig(inputs=(Path("locked.xlsx"),)))
    assert str(info.value) == (
        "locked.xlsx: not a readable XLSX file (a part is encrypted; save the workbook without a password)."
    )


# --- gzip: a decompressed-size limit and a bomb's ratio ----------------------------------------------


def gz_sales(name: str, rows: int) -> Path:
    """A gzipped sales CSV with `rows` distinct lines (compresses about as well as real data)."""
    lines = [HEADER] + [
        f"{536365 + i},{10000 + i % 977},ITEM {i % 1013},{1 + i % 7},2010-12-01 08:{i % 60:02d}:00,"
        f"{1 + i % 97 / 10},{12000 + i % 4999},United Kingdom"
        for i in range(rows)
    ]
    path = Path(name)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_gzip_over_the_unpacked_limit_is_one_sentence(
    db_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = gz_sales("big.csv.gz", 40_000)  # ~3 MB unpacked
    monkeypatch.setenv(input_bounds.UNPACKED_ENV, "1M")
    before = stored(db_copy)
    assert cli.main(["run", str(path), "--db", str(db_copy), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"Error: big\.csv\.gz: unpacks to more than the limit of 1,048,576 bytes \(1\.0 MiB, set by "
        r"SEGMENTATION_MAX_UNPACKED_BYTES\); [\d,]+ bytes unpacked so far, so it was not loaded\.\n",
        err,
    ), err
    assert stored(db_copy) == before
    monkeypatch.setenv(input_bounds.UNPACKED_ENV, "8MiB")  # the same file under a higher limit reads
    with duckdb.connect() as con:
        assert load_sales(con, RunConfig(inputs=(path,))).rows_in == 40_000


def gzip_bomb(name: str, mib: int) -> Path:
    """A CSV that unpacks to `mib` MiB of one repeated line: gzip members of 1 MiB each, ~4 KiB packed."""
    line = (ROW + "\n").encode()
    block = line * (1024**2 // len(line))
    member = gzip.compress(block, compresslevel=9)
    path = Path(name)
    with open(path, "wb") as out:
        out.write(gzip.compress((HEADER + "\n").encode()) + member * mib)
    return path


def test_a_gzip_bomb_stops_early_in_bounded_memory(db_copy: Path, tmp_path: Path) -> None:
    path = gzip_bomb("bomb.csv.gz", 256)  # 256 MiB from ~1 MB; the real one was 8 GiB from 29 MB
    assert path.stat().st_size < 2_000_000
    before = stored(db_copy)
    code, err, rss = segments(["run", str(path), "--db", str(db_copy), "--quiet"], tmp_path)
    assert code == 2, err
    assert re.fullmatch(
        r"Error: bomb\.csv\.gz: its first [\d.]+ [KM]iB \([\d,]+ bytes\) unpack to "
        r"[\d.]+ MiB \([\d,]+ bytes\), "
        r"more than 200 times as much, which no real CSV does \(a compression bomb\?\); if the file is "
        r"genuine, unpack it yourself and pass the \.csv\.",
        err,
    ), err
    assert stored(db_copy) == before
    assert list((tmp_path / "tmp").iterdir()) == []
    assert 0 < rss < 1024


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"InvoiceNo,Quantity\n", "Not a gzipped file (b'In')"),
        (gzip.compress((HEADER + "\n" + ROW + "\n").encode())[:-12], "Compressed file ended before the "),
    ],
)
def test_a_broken_gzip_is_one_sentence(content: bytes, reason: str) -> None:
    Path("sales.csv.gz").write_bytes(content)
    with duckdb.connect() as con, pytest.raises(InputError) as info:
        load_sales(con, RunConfig(inputs=(Path("sales.csv.gz"),)))
    assert str(info.value).startswith(f"sales.csv.gz: not a readable gzip file ({reason}")


def test_a_bad_limit_setting_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    path = gz_sales("small.csv.gz", 10)
    monkeypatch.setenv(input_bounds.UNPACKED_ENV, "lots")
    with duckdb.connect() as con, pytest.raises(InputError) as info:
        load_sales(con, RunConfig(inputs=(path,)))
    assert str(info.value) == (
        "SEGMENTATION_MAX_UNPACKED_BYTES: expected a size such as 8G, 500M or 1000000, got 'lots'."
    )


def test_the_default_limit_comes_from_the_machine() -> None:
    limit, source = input_bounds.unpacked_limit()
    assert limit >= 1024**3
    assert limit <= max(input_bounds.available_memory(), 1024**3)
    assert limit <= max(shutil.disk_usage(tempfile.gettempdir()).free // 2, 1024**3)
    assert "SEGMENTATION_MAX_UNPACKED_BYTES changes it" in source
