"""Filtered customer lists as CSV or XLSX: the Flask routes behind the pages' export links and the function
`segments export` calls. Both parse the same query with Filters.from_query and run the same SQL.

Cells are neutralised against formula injection (RELIABILITY.md §3, OWASP ASVS 1.2.10): a text cell that
starts with = + - @ TAB CR or NUL gets a leading apostrophe, in CSV and XLSX alike; numbers stay numbers.
XLSX is written by xlsxwriter with strings_to_formulas off and every text cell typed as a string.

A CSV is its column header and rows, nothing else, so pandas, Excel and CRM importers read it as is; the
context (run, snapshot, filters, UTC export time) is in the file name, the XLSX `About` sheet and, for
`segments export --sidecar`, FILE.about.json (export_context.py). No export ever names a server path.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import dash
import xlsxwriter
from flask import Flask, Response, request, send_file, stream_with_context

from dashboard import queries
from dashboard.components import make_run_commands, served_db
from dashboard.export_context import ExportContext, content_disposition
from dashboard.filters import Filters, TableView, query_from_args, url
from dashboard.queries import NoData, QueryTimeout, filtered

SIDECAR_SUFFIX = ".about.json"
_DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "\0")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit minus the header row
CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(text: str) -> str:
    """Prefix an apostrophe to text a spreadsheet would run as a formula (= + - @ TAB CR NUL first)."""
    return "'" + text if text.startswith(_DANGEROUS_START) else text


def csv_value(value: Any) -> Any:
    """One cell for csv.writer: text neutralised, numbers as numbers, dates ISO, missing as empty."""
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


def csv_chunks(stream: queries.RowStream) -> Iterator[str]:
    """The CSV text in chunks: line one is the column header, then one chunk per row batch; nothing else."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(stream.columns)
    yield buffer.getvalue()
    for batch in stream.batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([csv_value(v) for v in row] for row in batch)
        yield buffer.getvalue()


def write_xlsx(target: str | Path | IO[bytes], ctx: ExportContext, stream: queries.RowStream) -> int:
    """Write the rows to sheet 'Customers' (header first) and ctx to sheet 'About'; returns rows written."""
    options = {
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "constant_memory": True,
    }
    book = xlsxwriter.Workbook(target, options)
    try:
        sheet = book.add_worksheet("Customers")
        bold = book.add_format({"bold": True})
        stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        for col, name in enumerate(stream.columns):
            sheet.write_string(0, col, name, bold)
        written = 0
        for batch in stream.batches:
            for values in batch:
                if written >= XLSX_MAX_ROWS:
                    break
                written += 1
                for col, value in enumerate(values):
                    _write_cell(sheet, written, col, value, stamp, day)
        sheet.freeze_panes(1, 0)
        about = book.add_worksheet("About")
        for row, (label, value) in enumerate(ctx.about_rows(written, stream.total)):
            about.write_string(row, 0, label, bold)
            about.write_string(row, 1, neutralise(value))
        about.set_column(0, 0, 20)
        about.set_column(1, 1, 80)
    finally:
        book.close()
    return written


def _write_cell(sheet: Any, row: int, col: int, value: Any, stamp: Any, day: Any) -> None:
    """One typed cell: strings as strings (neutralised), numbers as numbers, dates as dates, None blank."""
    if value is None:
        return
    if isinstance(value, str):
        sheet.write_string(row, col, neutralise(value))
    elif isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, (int, float, Decimal)):
        if value == value and abs(value) != float("inf"):
            sheet.write_number(row, col, float(value))  # XLSX numbers are doubles; cents survive
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value, stamp)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), day)
    else:
        sheet.write_string(row, col, neutralise(str(value)))


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
) -> int:
    """Write the filtered customers of db_path to out_path (.csv or .xlsx, atomically); returns the row count.

    filters is a Filters or a URL-style query mapping (validated exactly as the web route does). With
    sidecar, the context (run, snapshot, filters, UTC time, the file's sha256) also goes to
    sidecar_path(out_path) as JSON; both files appear only once both are written. Raises ValueError for
    another suffix and queries.NoData when the file holds no run.
    """
    out = Path(out_path)
    ext = out.suffix.lower()
    if ext not in (".csv", ".xlsx"):
        raise ValueError(f"{out.name}: expected a file name ending in .csv or .xlsx.")
    token = uuid.uuid4().hex
    tmp = out.with_name(f".{out.name}.tmp-{token}")
    about = sidecar_path(out)
    about_tmp = about.with_name(f".{about.name}.tmp-{token}")
    try:
        with queries.using(db_path):
            f = _resolve(filters)
            if view is None and isinstance(filters, Mapping):
                view = TableView.from_query(filters)
            ctx = ExportContext.build(queries.run_info(f.run_id), f, top, exported_at)
            stream = filtered.export_rows(f, view, top=top)
            if ext == ".csv":
                with open(tmp, "w", encoding="utf-8", newline="") as fh:
                    for chunk in csv_chunks(stream):
                        fh.write(chunk)
                rows = stream.total or 0
            else:
                rows = write_xlsx(tmp, ctx, stream)
        if sidecar:
            context = ctx.sidecar(out.name, rows, stream.columns, _sha256(tmp))
            about_tmp.write_text(json.dumps(context, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, out)
        if sidecar:
            os.replace(about_tmp, about)
    finally:
        for path in (tmp, about_tmp):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return rows


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


def _export_response(ext: str) -> Response:
    """Validate the request's query against the current DB's run, start the filtered rows' stream and send
    them as ext ('csv' or 'xlsx') under a name holding the context; no run is a 404 that says how to make
    one, a timeout a 503."""
    query = query_from_args(request.args)
    try:
        f = filtered.filters_from_query(query)
        ctx = ExportContext.build(queries.run_info(f.run_id), f)
        stream = filtered.export_rows(f, TableView.from_query(query))
    except NoData:
        return _no_data()
    except QueryTimeout as exc:
        return Response(str(exc) + "\n", status=503, mimetype="text/plain")
    response = _csv_response(ctx, stream) if ext == "csv" else _xlsx_response(ctx, stream)
    response.headers["Content-Disposition"] = content_disposition(ctx.filename(ext))
    response.headers["Cache-Control"] = "no-store"
    return response


def _csv_response(ctx: ExportContext, stream: queries.RowStream) -> Response:
    """Stream the rows as plain CSV (header line first; the context is in the file name only)."""
    response = Response(stream_with_context(csv_chunks(stream)), mimetype=CSV_MIMETYPE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _xlsx_response(ctx: ExportContext, stream: queries.RowStream) -> Response:
    """Send the rows as an XLSX workbook (sheets Customers and About)."""
    spool = tempfile.TemporaryFile()  # closed (and so deleted) by the response
    write_xlsx(spool, ctx, stream)
    spool.seek(0)
    return send_file(
        spool, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=ctx.filename("xlsx"), max_age=0
    )


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
