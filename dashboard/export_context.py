"""What an export says about itself outside its rows: the file name, the XLSX `About` sheet's label/value
rows and the CLI's optional sidecar JSON, all from one ExportContext built once per export.

A CSV export is the column header and the rows, nothing else (CRM importers, pandas and Excel read line one
as the header), so the context lives here instead. None of it ever holds a filesystem path: the run's
input files are named by their base names only, and the DuckDB file is never named at all.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from dashboard import measures
from dashboard.filters import RANGE_COLUMNS, Filters
from dashboard.queries import RunInfo
from dashboard.queries.filtered import EXPORT_COLUMNS

PRODUCT = "Customer segments export"
SLUG_MAX_BYTES = 80  # the filters' part of a file name, in UTF-8 bytes (whole names stay under ~150)
_STAMP = "%Y%m%dT%H%M%SZ"


def utc_now() -> datetime:
    """The current time in UTC, to the second (export times are stamped to the second)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def as_utc(when: datetime | None) -> datetime:
    """when in UTC to the second (a naive time is taken as UTC); now when None."""
    if when is None:
        return utc_now()
    when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    return when.replace(microsecond=0)


def one_line(text: str) -> str:
    """Text on one line: a newline, tab or NUL in a stored name must not start a new row or field."""
    return re.sub(r"[\r\n\t\0]+", " ", text)


def base_name(source: str) -> str:
    """A source file's name without any directory (either slash), so no server path leaves the server."""
    return one_line(re.split(r"[\\/]", source.rstrip("\\/"))[-1]) or "unnamed"


def slug(text: str) -> str:
    """Lower-case letters (any script), digits, '-' and '+' only, '.' only inside numbers; never empty."""
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"[\s_]+", "-", text.strip())
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", "", text)  # keeps 2.5, drops '..' and leading dots
    text = "".join(ch for ch in text if ch.isalnum() or ch in "+-.")
    return re.sub(r"-{2,}", "-", text).strip("-.") or "x"


def _num(value: float) -> str:
    """A bound for a file name: no exponent, no trailing zeros (100, 2.5, -50)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def filter_slug(f: Filters, top: int | None = None, max_bytes: int = SLUG_MAX_BYTES) -> str:
    """The filters as a short file-name part, e.g. 'germany_tenure-ge100_at-risk'; 'all' when none.

    Longer than max_bytes (UTF-8), it is cut and ends in '-etc-' and 6 hex digits of the full slug's hash,
    so two long filter sets still get different names.
    """
    parts: list[str] = []
    if f.countries:
        parts.append("+".join(slug(c) for c in f.countries))
    if f.segments:
        parts.append("+".join(slug(f.segment_name(s)) for s in f.segments))
    for name in RANGE_COLUMNS:
        lo, hi = getattr(f, f"{name}_min"), getattr(f, f"{name}_max")
        if lo is not None and hi is not None:
            parts.append(f"{name}{_num(lo)}to{_num(hi)}")
        elif lo is not None:
            parts.append(f"{name}-ge{_num(lo)}")
        elif hi is not None:
            parts.append(f"{name}-le{_num(hi)}")
    if f.outliers != "include":
        parts.append("outliers-" + ("excluded" if f.outliers == "exclude" else "only"))
    if f.preset:
        parts.append(slug(f.preset))
    if top is not None:
        parts.append(f"top{top}")
    full = "_".join(parts) or "all"
    if len(full.encode("utf-8")) <= max_bytes:
        return full
    tail = "-etc-" + hashlib.sha256(full.encode("utf-8")).hexdigest()[:6]
    head = full.encode("utf-8")[: max_bytes - len(tail)].decode("utf-8", "ignore")
    return head.rstrip("-+._") + tail


def content_disposition(filename: str) -> str:
    """An attachment header: ASCII filename= always, plus RFC 5987 filename*= when the name is not ASCII."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r"[^A-Za-z0-9+._-]", "", fallback) or "customers.csv"
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='+._-')}"


@dataclass(frozen=True)
class ExportContext:
    """One export's context: which run and snapshot, which filters, when (UTC); never a path."""

    run_id: int
    mode: str | None
    created_at: datetime | None
    snapshot_date: date | None
    sources: tuple[str, ...]  # input files' base names
    filters: tuple[str, ...]  # in words, one per filter ('All customers' when none)
    query: tuple[tuple[str, str], ...]  # the same filters as URL query pairs, run first (the page's URL)
    slug: str
    exported_at: datetime  # UTC, to the second
    top: int | None = None
    currency: str | None = None  # the money columns' ISO 4217 code; None: unknown

    @classmethod
    def build(
        cls, info: RunInfo, f: Filters, top: int | None = None, exported_at: datetime | None = None
    ) -> ExportContext:
        """The context of exporting f's customers of run info (exported now unless exported_at is given)."""
        described = [one_line(line) for line in f.describe()]
        if top is not None:
            described.append(f"Limit: the first {top:,} customers of the list")
        return cls(
            run_id=info.id,
            mode=info.mode,
            created_at=info.created_at,
            snapshot_date=info.snapshot_date,
            sources=tuple(base_name(s) for s in info.sources),
            filters=tuple(described),
            query=tuple((k, one_line(v)) for k, v in f.query_pairs()),
            slug=filter_slug(f, top),
            exported_at=as_utc(exported_at),
            top=top,
            currency=info.currency,
        )

    @property
    def stamp(self) -> str:
        """The export time for file names, e.g. 20261201T041500Z."""
        return self.exported_at.strftime(_STAMP)

    def filename(self, ext: str) -> str:
        """E.g. customers_run3_snap2011-12-09_germany_at-risk_20261201T041500Z.csv: run, snapshot, filters."""
        parts = ["customers", f"run{self.run_id}"]
        if self.snapshot_date is not None:
            parts.append(f"snap{self.snapshot_date.isoformat()}")
        parts += [self.slug, self.stamp]
        return "_".join(parts) + "." + ext

    def about_rows(self, rows: int, total: int | None = None) -> list[tuple[str, str]]:
        """The About sheet as (label, value) rows; total above rows adds a line saying the sheet is cut."""
        out = [
            ("Product", PRODUCT),
            ("Run", str(self.run_id)),
            ("Run kind", self.mode or "transactions"),
            ("Run created", _local(self.created_at)),
            ("Snapshot date", self.snapshot_date.isoformat() if self.snapshot_date else "unknown"),
            ("Source files", ", ".join(self.sources) or "unknown"),
            ("Filters", "; ".join(self.filters)),
            ("Rows exported", str(rows)),
            ("Exported at (UTC)", self.exported_at.strftime("%Y-%m-%d %H:%M:%S UTC")),
            ("Money columns in", self.currency or "unknown currency (the run named none)"),
            ("Rates", "fractions of one: return_rate 0.05 = 5%, p_alive 0.42 = 42% chance still active"),
        ]
        out += [
            (f"Column {c}", measures.label(c, self.currency))
            for c in EXPORT_COLUMNS
            if c in measures.MEASURES
        ]
        if total is not None and total > rows:
            out.append(
                (
                    "Truncated",
                    f"Excel holds {rows:,} rows: the last {total - rows:,} of the list's {total:,} customers "
                    "are cut from this sheet; export CSV for all of them.",
                )
            )
        return out

    def sidecar(self, file_name: str, rows: int, columns: list[str], sha256: str) -> dict[str, Any]:
        """The sidecar JSON of an exported file (its name, not its path, and its checksum)."""
        return {
            "product": PRODUCT,
            "file": file_name,
            "sha256": sha256,
            "rows": rows,
            "columns": list(columns),
            "exported_at": self.exported_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "run": {
                "id": self.run_id,
                "kind": self.mode or "transactions",
                "created": _local(self.created_at) if self.created_at else None,
                "snapshot_date": self.snapshot_date.isoformat() if self.snapshot_date else None,
                "source_files": list(self.sources),
            },
            "filters": {"description": list(self.filters), "query": urlencode(self.query)},
            "top": self.top,
            "currency": self.currency,
            "column_meanings": {
                c: measures.label(c, self.currency) for c in columns if c in measures.MEASURES
            },
        }


def _local(when: datetime | None) -> str:
    """A run's creation time as stored (the server's clock, to the second), or 'unknown'."""
    return when.isoformat(sep=" ", timespec="seconds") if when else "unknown"
