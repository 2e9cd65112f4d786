"""Opening the inputs: path checks, file kinds, and each file as blocks with its checksum; temp files
(transcoded CSV, glob-safe links, PostgreSQL reads, copies of objects) live until the context ends.

An input is a local file, a PostgreSQL address (database.py) or an s3:// address (object_storage.py),
each of the latter an addresses.Address whose text never holds a password.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from segmentation import input_bounds, scratch
from segmentation.errors import InputError
from segmentation.ingest import database, object_storage
from segmentation.ingest.addresses import Address, resolve_inputs
from segmentation.ingest.columns import _match_or_raise
from segmentation.ingest.common import SUFFIXES, TextShape, _Block, _Want, file_sha256
from segmentation.ingest.parquet import _parquet_block
from segmentation.ingest.spreadsheet import xlsx_blocks
from segmentation.ingest.text_files import (
    csv_block,
)


class _Inputs:
    """The input files as blocks, with their checksums; temp files live until the context ends."""

    def __init__(self, paths: Sequence[Path], wants: list[_Want], shape: TextShape | None = None) -> None:
        if not paths:
            raise InputError("No input file was given.")
        self.paths = tuple(
            p if isinstance(p, Address) else Path(p) for p in resolve_inputs(paths, None, None, None)
        )
        self.sources = tuple(str(p) for p in self.paths)
        self.wants = wants
        self.shape = shape  # text files' layout flags (--no-header, --delimiter, --skip-rows)
        self._digests: list[str] = []
        self._stack = contextlib.ExitStack()
        self._tmp: Path | None = None
        self._count = 0  # names temp files and registered views

    def __enter__(self) -> _Inputs:
        for path in self.paths:  # every file is checked before any is read
            if not isinstance(path, Address):
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

    def blocks(self, path: Path | Address) -> Iterator[tuple[_Block, dict[str, int | None]]]:
        """The input's blocks, each with the column index of every wanted key (None: absent)."""
        if isinstance(path, Address) and isinstance(path.source, database.PgSource):
            self._count += 1
            out = self.tmp_dir() / f"postgres-{self._count}.parquet"
            block, digest, _batches = database.read_postgres(path.source, out)
            self._digests.append(digest)
            yield block, _match_or_raise(block, self.wants)
            return
        if isinstance(path, Address):
            self._count += 1
            folder = self.tmp_dir() / f"objects-{self._count}"
            folder.mkdir()
            for label, copy in object_storage.download(path.source, folder):
                if copy.stat().st_size == 0:
                    raise InputError(f"{label}: the object is empty.")
                yield from self._file_blocks(copy, label)
            return
        yield from self._file_blocks(path, str(path))

    def _file_blocks(self, path: Path, label: str) -> Iterator[tuple[_Block, dict[str, int | None]]]:
        """A local file's blocks (an object's copy under its s3:// label)."""
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
        """A text file's block (text_files.csv_block), with a temp name for a transcoded copy."""
        self._count += 1
        block, digest = csv_block(
            path,
            label,
            gz,
            lambda: self.tmp_dir() / f"transcoded-{self._count}.csv",
            self._duckdb_path,
            self.shape,
            self.wants,
        )
        self._digests.append(digest)
        return block

    def _xlsx_blocks(self, path: Path, label: str) -> Iterator[tuple[_Block, dict[str, int | None]]]:
        """Every matching sheet (spreadsheet.xlsx_blocks), each registered under its own view name."""

        def view_name() -> str:
            self._count += 1
            return f"segments_ingest_sheet_{self._count}"

        yield from xlsx_blocks(path, label, self.wants, view_name, self.shape)


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
