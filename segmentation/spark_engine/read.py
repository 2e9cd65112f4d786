"""Sales lines read by Spark (CSV or Parquet, local paths or any URI Spark reads) into the temp view
`lines`, with the same columns, types and one-sentence errors as the DuckDB engine's ingest.

What is shared with ingest rather than rewritten: the header matching and its messages (columns.py),
the local path checks (inputs.py), the typing SQL of every column (typing_sql.py, transpiled by
dialect.py) and the choice of each file's date format (detection.py, run by DuckDB on a sample of the
file's date texts brought to the driver). Spark reads UTF-8 text files with a header row and a one
character delimiter, and Parquet; other shapes (XLSX, other encodings, --no-header, --skip-rows, decimal
commas, line totals, files without an invoice column) are refused in one sentence naming the
--engine duckdb that reads them.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest import DATE_SAMPLE, IngestResult, file_sha256
from segmentation.ingest.columns import _match_or_raise, _money_columns, _sales_wants
from segmentation.ingest.common import _BAD_NUMBER, _Block, _first_line, _quote, _Span
from segmentation.ingest.detection import _type_dates
from segmentation.ingest.inputs import _check_path
from segmentation.ingest.text_files import _sniff
from segmentation.ingest.typing_sql import (
    _COMMA_NUMBER,
    _bad_number_sql,
    _customer_id_sql,
    _hash_sql,
    _number_sql,
    _text_sql,
)
from segmentation.spark_engine import dialect
from segmentation.spark_engine.connection import SparkConnection

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
_FILE_BITS = 52  # rowid = file number << 52 + Spark's increasing id (file order within a file)
_OTHER_ENGINE = "run it with --engine duckdb, which reads it"


def _kind(source: str) -> str:
    """'csv' or 'parquet' from the name; a name without a known suffix is a Parquet dataset folder."""
    name = source.lower().rstrip("/")
    if name.endswith(_TEXT_SUFFIXES):
        return "csv"
    if name.endswith(".xlsx"):
        raise InputError(f"{source}: the spark engine reads CSV and Parquet, not XLSX; {_OTHER_ENGINE}.")
    return "parquet"


def _is_local(source: str) -> bool:
    return "://" not in source and not source.startswith("file:")


def checksum(spark: SparkSession, source: str) -> str:
    """A local file's sha256 (as the DuckDB engine computes it), else the sha256 of the listing of what
    the URI names (path, size and modification time of every file: Spark reads them where they are)."""
    if _is_local(source) and Path(source).is_file():
        return file_sha256(Path(source))
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    path = jvm.org.apache.hadoop.fs.Path(source)
    fs = path.getFileSystem(conf)
    statuses = fs.globStatus(path) or []
    if not statuses:
        raise InputError(f"{source}: file not found.")
    lines = []
    for status in statuses:
        files = fs.listFiles(status.getPath(), True)
        while files.hasNext():
            f = files.next()
            lines.append(f"{f.getPath().toString()}\t{f.getLen()}\t{f.getModificationTime()}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def _first_line_of(spark: SparkSession, source: str) -> str:
    """The header line of a text file: read in Python when local, else by Spark."""
    if _is_local(source):
        opener = gzip.open if source.lower().endswith(".gz") else open
        with opener(source, "rt", encoding="utf-8-sig", errors="replace") as fh:  # type: ignore[operator]
            for line in fh:
                if line.strip():
                    return line.rstrip("\r\n")
        return ""
    row = spark.read.text(source).filter("trim(value) <> ''").first()
    return row[0] if row else ""


def _raw(spark: SparkSession, source: str, kind: str, cfg: RunConfig) -> DataFrame:
    """The file as Spark reads it, every column text (Parquet dates and times as DuckDB's ingest prints
    them, '%Y-%m-%d %H:%M:%S')."""
    if kind == "parquet":
        try:
            frame = spark.read.parquet(source)
        except Exception as exc:  # AnalysisException, or a Java error on a broken footer
            raise _unreadable(source, "Parquet", exc) from exc
        exprs = []
        for field in frame.schema.fields:
            name = "`" + field.name.replace("`", "``") + "`"
            type_name = field.dataType.typeName()
            if type_name.startswith(("timestamp", "date")):
                exprs.append(f"date_format({name}, 'yyyy-MM-dd HH:mm:ss') AS {name}")
            else:
                exprs.append(f"CAST({name} AS STRING) AS {name}")
        return frame.selectExpr(*exprs)
    delimiter = cfg.delimiter or _sniff(_first_line_of(spark, source))
    if delimiter == "tab":
        delimiter = "\t"
    if delimiter == "whitespace" or len(delimiter) != 1:
        raise InputError(
            f"{source}: the spark engine reads text files with a one-character delimiter; {_OTHER_ENGINE}."
        )
    return spark.read.options(
        header=True,
        sep=delimiter,
        quote='"',
        escape='"',
        mode="FAILFAST",
        inferSchema=False,
        encoding="UTF-8",
    ).csv(source)


def _unreadable(source: str, what: str, exc: Exception) -> InputError:
    reason = _first_line(str(exc))[:200]
    return InputError(f"{source}: not a readable {what} file ({reason}).")


def _refuse_shapes(cfg: RunConfig) -> None:
    """The text-file flags only the DuckDB engine's reader takes."""
    for flag, used in (
        ("--no-header", cfg.no_header),
        ("--skip-rows", cfg.skip_rows is not None),
        ("--decimal ,", cfg.decimal == ","),
    ):
        if used:
            raise InputError(
                f"{flag}: the spark engine reads text files with one header row and decimal "
                f"points only; {_OTHER_ENGINE}."
            )


def _typed(raw: DataFrame, block: _Block, cols: dict[str, int | None], number: int) -> DataFrame:
    """One file's rows typed by ingest's own typing SQL (c0..cN are the file's columns in order)."""
    renamed = raw.toDF(*[f"c{i}" for i in range(len(raw.columns))])
    exprs = [
        (_text_sql(cols["invoice"]), "invoice"),
        (_text_sql(cols["stock_code"]), "stock_code"),
        (_hash_sql(cols["description"]), "description"),
        (_number_sql(cols["quantity"]), "quantity"),
        (_text_sql(cols["invoice_date"]), "invoice_ts"),
        (_number_sql(cols["unit_price"]), "unit_price"),
        (_customer_id_sql(cols["customer_id"]), "customer_id"),
        (_text_sql(cols["country"]), "country"),
        (_number_sql(cols["line_total"]), "line_total"),
    ]
    return renamed.selectExpr(
        f"monotonically_increasing_id() + {number << _FILE_BITS} AS rowid",
        *(f"{dialect.expression(sql)} AS {name}" for sql, name in exprs),
        f"{number} AS segments_block",
    )


def _bad_number(raw: DataFrame, block: _Block, cols: dict[str, int | None], number: int) -> InputError | None:
    """The first row of the file with a value that should be a number and is not, in ingest's words."""
    numbers = [c for c in (cols["quantity"], cols["unit_price"], cols["line_total"]) if c is not None]
    renamed = raw.toDF(*[f"c{i}" for i in range(len(raw.columns))]).selectExpr(
        f"monotonically_increasing_id() + {number << _FILE_BITS} AS rowid", "*"
    )
    cases = " ".join(f"WHEN {_bad_number_sql(col)} THEN {k}" for k, col in enumerate(numbers))
    flagged = renamed.selectExpr("rowid", dialect.expression(f"CASE {cases} END") + " AS which", "*")
    first = flagged.filter("which IS NOT NULL").orderBy("rowid").first()
    if first is None:
        return None
    k = int(first["which"])
    value = first[f"c{numbers[k]}"]
    offset = renamed.filter(f"rowid < {int(first['rowid'])}").count()
    hint = ""
    if block.kind == "csv" and value is not None:
        if re.fullmatch(_COMMA_NUMBER, str(value).strip()):
            hint = " (with a decimal point; pass --decimal , for decimal commas)"
    return InputError(
        f"{block.label}: column '{block.header[numbers[k]]}', {block.row_name(offset)}: "
        f"expected a number{hint}, got {_quote(value)}."
    )


def _date_formats(spark: SparkSession, lines: DataFrame, spans: list[_Span], cfg: RunConfig) -> list[str]:
    """Each file's date format, chosen by ingest's detection on the first DATE_SAMPLE date texts of
    every file (DuckDB, on the driver); its one-sentence errors are ingest's."""
    with duckdb.connect() as duck:
        duck.execute("CREATE TABLE lines (invoice_ts VARCHAR, segments_block INTEGER)")
        sampled: list[_Span] = []
        for k, (block, cols, _) in enumerate(spans):
            sample = (
                lines.filter(f"segments_block = {k} AND invoice_ts IS NOT NULL")
                .select("rowid", "invoice_ts", "segments_block")
                .limit(DATE_SAMPLE)
                .toArrow()
            )
            duck.register("sample", sample)
            duck.execute("INSERT INTO lines SELECT invoice_ts, segments_block FROM sample ORDER BY rowid")
            duck.unregister("sample")
            sampled.append((block, cols, max(sample.num_rows, 1)))
        return _type_dates(duck, sampled, cfg)


def load_sales(con: SparkConnection, cfg: RunConfig) -> IngestResult:
    """Read cfg.inputs into temp view `lines` (columns as the DuckDB engine's, plus rowid: file order)."""
    spark = con.spark
    _refuse_shapes(cfg)
    wants = _sales_wants(cfg.column_map)
    sources = tuple(str(p) for p in cfg.inputs)
    spans: list[_Span] = []
    frames: list[tuple[DataFrame, _Block, dict[str, int | None]]] = []
    digests = []
    for source in sources:  # every path is checked before any is read, as ingest does
        if _is_local(source) and not Path(source).is_dir():
            _check_path(Path(source))
    for source in sources:
        kind = _kind(source)
        digests.append(checksum(spark, source))
        raw = _raw(spark, source, kind, cfg)
        first_data = 2 if kind == "csv" else 1
        block = _Block(
            kind,
            source,
            tuple(raw.columns),
            "",
            (),
            "",
            (lambda i, first=first_data, kind=kind: f"{'line' if kind == 'csv' else 'row'} {i + first}"),
        )
        cols = _match_or_raise(block, wants)
        _money_columns(block, cols, wants)
        if cols["invoice"] is None or cols["line_total"] is not None or cols["unit_price"] is None:
            raise InputError(
                f"{source}: the spark engine reads files with an invoice column and a unit price (not line "
                f"totals); {_OTHER_ENGINE}."
            )
        frames.append((raw, block, cols))
    typed = [_typed(raw, block, cols, k) for k, (raw, block, cols) in enumerate(frames)]
    lines = typed[0]
    for frame in typed[1:]:
        lines = lines.unionByName(frame)
    try:
        con.register("lines_text", lines, cache=True)
        counts = dict(
            con.spark.sql("SELECT segments_block, count(*) FROM lines_text GROUP BY 1").collect()  # type: ignore[arg-type]
        )
    except Exception as exc:
        message = str(exc)
        if _BAD_NUMBER in message:
            for k, (raw, block, cols) in enumerate(frames):
                found = _bad_number(raw, block, cols, k)
                if found is not None:
                    raise found from exc
        if "MALFORMED" in message.upper() or "FAILFAST" in message.upper():
            label = next((b.label for _, b, _ in frames if b.label in message), sources[0])
            raise InputError(f"{label}: cannot be read as CSV ({_first_line(message)[:200]}).") from exc
        raise
    for k, (_, block, cols) in enumerate(frames):
        if counts.get(k, 0) == 0:
            raise InputError(f"{block.label}: no data rows after the header.")
        spans.append((block, cols, int(counts[k])))
    lines = con.spark.table("lines_text")
    formats = _date_formats(spark, lines, spans, cfg)
    cases = " ".join(
        f"WHEN segments_block = {k} THEN try_strptime(invoice_ts, '{fmt.replace(chr(39), chr(39) * 2)}')"
        for k, fmt in enumerate(formats)
    )
    try:
        date_sql = dialect.expression(f"CASE {cases} END")
    except ValueError as exc:
        raise InputError(
            f"--date-format: the spark engine cannot read dates in this format ({exc})."
        ) from exc
    columns = [c for c in lines.columns if c not in ("invoice_ts", "segments_block")]
    con.register("lines", lines.selectExpr(*columns, f"{date_sql} AS invoice_ts"), cache=True)
    con.drop("lines_text")
    date_text = (
        formats[0]
        if len(set(formats)) == 1
        else "; ".join(f"{b.label}: {f}" for (b, _, _), f in zip(spans, formats, strict=True))
    )
    return IngestResult(
        sources,
        hashlib.sha256("".join(digests).encode("ascii")).hexdigest(),
        sum(rows for _, _, rows in spans),
        date_text,
        headers=tuple(tuple(b.header) for b, _, _ in spans),
        date_formats=tuple((b.label, f) for (b, _, _), f in zip(spans, formats, strict=True)),
    )
