"""Filtered customer lists as CSV or XLSX: the Flask routes behind the pages' export links and the function
`segments export` calls. Both parse the same query with Filters.from_query and run the same SQL.

Both formats stream: DuckDB formats each row (dashboard/export_sql.py) in bounded memory
(dashboard/export_stream.py) and the bytes leave as they are made, so a 1M-row export starts at once and
never holds the list: CSV lines straight through, XLSX as a zip written on the fly (dashboard/xlsx_stream.py,
not xlsxwriter, which writes its zip only at close). Cells are neutralised against formula injection
(RELIABILITY.md §3, OWASP ASVS 1.2.10): a text cell that starts with = + - @ TAB CR or NUL gets a leading
apostrophe, in CSV and XLSX alike; XLSX text cells are strings, never formulas; numbers stay numbers.

A CSV is its column header and rows, nothing else, so pandas, Excel and CRM importers read it as is; the
context (run, snapshot, filters, UTC export time) is in the file name, the XLSX `About` sheet and, for
`segments export --sidecar`, FILE.about.json (export_context.py). No export ever names a server path, and
nothing sent before the rows claims how many there are: a response has no Content-Length (it goes out
chunked, so a cut transfer lacks the final chunk) and the XLSX's About sheet, which counts the rows, is
written after them; a cut XLSX also lacks the zip's central directory, which every reader needs.

Every export appends one line to the audit log (segmentation/audit.py): who, when, DB, run, filters,
format, rows and bytes written, complete or aborted. A log that cannot be written stops the export first.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dash
from flask import Flask, Response, g, request

from dashboard import export_sql, queries, xlsx_stream
from dashboard.components import make_run_commands, served_db
from dashboard.export_audit import Tally, audit_entry, audited
from dashboard.export_context import ExportContext, content_disposition
from dashboard.export_stream import ExportStream, export_stream
from dashboard.filters import Filters, TableView, query_from_args, url
from dashboard.queries import NoData, QueryTimeout, filtered
from segmentation import audit

SIDECAR_SUFFIX = ".about.json"
_DANGEROUS_START = export_sql.FORMULA_START  # = + - @ TAB CR NUL
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit minus the header row
XLSX_CHUNK_ROWS = 20_000  # rows formatted per query of an XLSX export (CSV: export_stream's default)
CSV_CONTENT_TYPE = (
    "text/csv; charset=utf-8"  # a full Content-Type (passing it as a mimetype doubled the charset)
)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
log = logging.getLogger(__name__)


def neutralise(text: str) -> str:
    """Prefix an apostrophe to text a spreadsheet would run as a formula (= + - @ TAB CR NUL first)."""
    return "'" + text if text.startswith(_DANGEROUS_START) else text


def csv_value(value: Any) -> Any:
    """One cell as csv.writer would get it (the reference export_sql's SQL is tested against): text
    neutralised, numbers as numbers, dates ISO, missing as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if value != value else repr(value)  # NaN -> empty
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):  # money: exact, as stored (e.g. -45.64)
        return str(value) if value.is_finite() else ""
    return neutralise(str(value))


def start_rows(f: Filters, view: TableView | None, fmt: str, top: int | None = None) -> ExportStream:
    """Start the filtered rows as CSV lines (fmt 'csv') or XLSX `<row>`s ('xlsx', at most Excel's limit)."""
    render = functools.partial(export_sql.render, fmt=fmt)
    if fmt == "xlsx":  # XLSX rows are ~3x a CSV line: smaller chunks keep the same memory bound
        return export_stream(f, view, render, top=top, limit=XLSX_MAX_ROWS, chunk_rows=XLSX_CHUNK_ROWS)
    return export_stream(f, view, render, top=top)


def csv_bytes(stream: ExportStream, tally: Tally) -> Iterator[bytes]:
    """The CSV file in pieces: line one is the column header, then the rows; nothing else."""
    try:
        # names too: an --attributes column is named by the user's file (e.g. "=SUM(A1)")
        yield export_sql.csv_header([neutralise(c) for c in stream.columns])
        for piece, rows in stream.pieces:
            tally.rows += rows
            yield piece
    finally:
        stream.close()  # ends the query and frees its cursor now, also when the client went away


def xlsx_bytes(ctx: ExportContext, stream: ExportStream, tally: Tally) -> Iterator[bytes]:
    """The XLSX file in pieces: sheet Customers (bold header, frozen), then sheet About, which is written
    after the rows so it can say how many there are and how many Excel's row limit cut."""

    def customers() -> Iterator[bytes]:
        yield xlsx_stream.text_row([neutralise(c) for c in stream.columns], xlsx_stream.BOLD).encode()
        for piece, rows in stream.pieces:
            tally.rows += rows
            yield piece

    def about() -> Iterator[bytes]:
        for label, value in ctx.about_rows(tally.rows, stream.total):
            yield (
                "<row>"
                + xlsx_stream.text_cell(label, xlsx_stream.BOLD)
                + xlsx_stream.text_cell(neutralise(value))
                + "</row>"
            ).encode()

    try:
        yield from xlsx_stream.stream_workbook(
            [
                xlsx_stream.Sheet("Customers", customers(), frozen_header=True),
                xlsx_stream.Sheet("About", about(), widths=(20, 80)),
            ]
        )
    finally:
        stream.close()


def _file_bytes(ext: str, ctx: ExportContext, stream: ExportStream, tally: Tally) -> Iterator[bytes]:
    return csv_bytes(stream, tally) if ext == "csv" else xlsx_bytes(ctx, stream, tally)


def _resolve(filters: Filters | Mapping[str, Any]) -> Filters:
    """A Filters as given, or one validated from a query mapping (the CLI passes its flags as a query)."""
    return filters if isinstance(filters, Filters) else filtered.filters_from_query(filters)


def sidecar_path(out: str | Path) -> Path:
    """Where `segments export --sidecar` puts an export's context: FILE.csv -> FILE.csv.about.json."""
    out = Path(out)
    return out.with_name(out.name + SIDECAR_SUFFIX)


def write_export(
    db_path: str | Path,
    filters: Filters | Mapping[str, Any],
    out_path: str | Path,
    view: TableView | None = None,
    top: int | None = None,
    sidecar: bool = False,
    exported_at: datetime | None = None,
    user: str | None = None,
) -> int:
    """Write the filtered customers of db_path to out_path (.csv or .xlsx, atomically); returns the rows
    written, and appends the audit line (user: `cli:<OS user>` unless given).

    filters is a Filters or a URL-style query mapping (validated exactly as the web route does). With
    sidecar, the context (run, snapshot, filters, UTC time, the file's sha256) also goes to
    sidecar_path(out_path) as JSON; the files appear only once both are written and the export is audited.
    Raises ValueError for another suffix, queries.NoData when the file holds no run and audit.AuditError
    when the audit log cannot be written (then no file appears).
    """
    out = Path(out_path)
    ext = out.suffix.lower()
    if ext not in (".csv", ".xlsx"):
        raise ValueError(f"{out.name}: expected a file name ending in .csv or .xlsx.")
    token = uuid.uuid4().hex
    tmp = out.with_name(f".{out.name}.tmp-{token}")
    about = sidecar_path(out)
    about_tmp = about.with_name(f".{about.name}.tmp-{token}")
    log_file = audit.log_path(db_path)
    try:
        with queries.using(db_path):
            f = _resolve(filters)
            if view is None and isinstance(filters, Mapping):
                view = TableView.from_query(filters)
            ctx = ExportContext.build(queries.run_info(f.run_id), f, top, exported_at)
            audit.check(log_file)
            stream = start_rows(f, view, ext[1:], top=top)
            tally = Tally()
            entry = audit_entry(ctx, db_path, user or audit.cli_user(), ext[1:])
            pieces = audited(_file_bytes(ext[1:], ctx, stream, tally), tally, log_file, entry)
            try:
                with open(tmp, "wb") as fh:
                    for piece in pieces:
                        fh.write(piece)
                    fh.flush()
                    os.fsync(fh.fileno())
                    if sidecar:
                        context = ctx.sidecar(out.name, tally.rows, stream.columns, _sha256(tmp))
                        text = json.dumps(context, indent=2, ensure_ascii=False) + "\n"
                        about_tmp.write_text(text, encoding="utf-8")
            finally:
                pieces.close()
        os.replace(tmp, out)
        if sidecar:
            os.replace(about_tmp, about)
    finally:
        for path in (tmp, about_tmp):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return tally.rows


def _sha256(path: Path) -> str:
    """The file's SHA-256 in hex (read in 1 MiB blocks), so a sidecar can be matched to its file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Flask routes: GET <prefix>export/customers.csv?<the page's query> and .xlsx


def _no_data() -> Response:
    """The export's answer when there is no run: 404 with the commands that make one."""
    run, demo = make_run_commands(served_db())
    return Response(
        f"No segmentation run yet: make one with `{run}` or `{demo}`.\n",
        status=404,
        mimetype="text/plain",
    )


def _who() -> str:
    """The signed-in user's name (set by the login), else `anonymous` (no login configured)."""
    return str(g.get("user_name") or "anonymous")


def _export_response(ext: str) -> Response:
    """Validate the request's query against the current DB's run, start the filtered rows' stream and send
    them as ext ('csv' or 'xlsx') under a name holding the context, audited. No run is a 404 that says how
    to make one, a timeout a 503, an audit log that cannot be written a 500 (before any row is read)."""
    query = query_from_args(request.args)
    try:
        f = filtered.filters_from_query(query)
        ctx = ExportContext.build(queries.run_info(f.run_id), f)
        db_path = queries.current_db()
        log_file = audit.log_path(db_path)
        audit.check(log_file)
        stream = start_rows(f, TableView.from_query(query), ext)
    except NoData:
        return _no_data()
    except QueryTimeout as exc:
        return Response(str(exc) + "\n", status=503, mimetype="text/plain")
    except audit.AuditError as exc:
        log.error("%s", exc)
        return Response(f"Export refused: {exc}\n", status=500, mimetype="text/plain")
    tally = Tally()
    entry = audit_entry(ctx, db_path, _who(), ext)
    body = audited(_file_bytes(ext, ctx, stream, tally), tally, log_file, entry)
    # a generator body and no Content-Length: the response streams, chunked, from the first rows on
    if ext == "csv":
        response = Response(body, content_type=CSV_CONTENT_TYPE)
    else:
        response = Response(body, mimetype=XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = content_disposition(ctx.filename(ext))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def customers_csv() -> Response:
    """GET export/customers.csv: the filtered customers as CSV."""
    return _export_response("csv")


def customers_xlsx() -> Response:
    """GET export/customers.xlsx: the filtered customers as XLSX."""
    return _export_response("xlsx")


def register(server: Flask, routes_prefix: str = "/") -> None:
    """Add the export routes to the app's Flask server under Dash's routes_pathname_prefix."""
    server.add_url_rule(f"{routes_prefix}export/customers.csv", "export_customers_csv", customers_csv)
    server.add_url_rule(f"{routes_prefix}export/customers.xlsx", "export_customers_xlsx", customers_xlsx)


def export_href(f: Filters, ext: str = "csv", view: TableView | None = None) -> str:
    """The export link for a page (same query as its URL), relative to the app's requests prefix."""
    return url(dash.get_relative_path(f"/export/customers.{ext}"), f, view)


# ---------------------------------------------------------------------------------------------------------
# `segments export`: the same query and validation, but strict: a cron job must fail on a typo, not export
# everyone (the web route ignores unknown values, which a person sees at once on the page).


class ExportError(ValueError):
    """A command-line export request that names something the run does not have; str() is the sentence."""


def export_from_cli(
    db_path: str | Path,
    *,
    out: str | Path,
    run_id: int | None = None,
    segments: Sequence[str] = (),
    countries: Sequence[str] = (),
    tenure_min: float | None = None,
    tenure_max: float | None = None,
    preset: str | None = None,
    top: int | None = None,
    sidecar: bool = False,
) -> str:
    """Write the filtered list for the command line (its first `top` rows when given: for the at-risk list,
    the customers with most value at risk); every value must exist in the run, else ExportError."""
    path = Path(db_path)
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise ExportError(f"{out}: expected a file name ending in .csv or .xlsx.")
    if top is not None and top < 1:
        raise ExportError(f"--top {top}: expected a whole number of customers, 1 or more.")
    if not out.parent.is_dir():
        raise ExportError(f"{out}: the folder {out.parent} does not exist; expected an existing folder.")
    try:
        with queries.using(path):
            run = queries.resolve_run(None) if run_id is None else _known_run(path, run_id)
            allowed = filtered.allowed(run)
    except queries.NoData as exc:
        raise ExportError(
            f"{path}: no segmentation run found ({exc.reason}); make one with `segments run FILE`."
        ) from exc
    by_name = {name: sid for sid, name in allowed.segments.items()}
    segment_ids = []
    for value in segments:
        text = value.strip()
        sid = int(text) if text.isdigit() and int(text) in allowed.segments else by_name.get(text)
        if sid is None:
            names = ", ".join(f"{i} {n}" for i, n in allowed.segments.items())
            raise ExportError(
                f"--segment {value!r}: run {run} has no such segment; expected an id or a name from: {names}."
            )
        segment_ids.append(str(sid))
    for value in countries:
        if value not in allowed.countries:
            raise ExportError(
                f"--country {value!r}: no customer of run {run} is in that country; "
                f"expected one of: {', '.join(allowed.countries)}."
            )
    if tenure_min is not None and tenure_max is not None and tenure_min > tenure_max:
        raise ExportError(
            f"--tenure-min {tenure_min:g} is above --tenure-max {tenure_max:g}; expected min <= max."
        )
    query: dict[str, Any] = {"run": str(run), "segment": segment_ids, "country": list(countries)}
    if tenure_min is not None:
        query["tenure_min"] = str(tenure_min)
    if tenure_max is not None:
        query["tenure_max"] = str(tenure_max)
    if preset:
        query["preset"] = preset
    rows = write_export(path, query, out, top=top, sidecar=sidecar)
    also = f" (context in {sidecar_path(out)})" if sidecar else ""
    return f"wrote {rows:,} customers of run {run} to {out}{also}"


def _known_run(path: Path, run_id: int) -> int:
    row = queries.fetch_one("SELECT id FROM seg.runs WHERE id = ?", [int(run_id)])
    if row is None:
        raise ExportError(f"{path}: run {run_id} not found; `segments runs` lists the runs.")
    return int(row[0])
