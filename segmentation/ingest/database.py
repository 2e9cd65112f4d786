"""Sales lines or a customer table read from PostgreSQL: a table (`--table`) or the user's own query
(`--query`), streamed in Arrow record batches by ADBC's PostgreSQL driver (libpq's binary COPY, batch by
batch; never the whole result as Python objects).

Every column is cast to text on the server (dates and timestamps as 'YYYY-MM-DD HH24:MI:SS', in UTC for
`timestamptz`), and the batches are written to a Parquet file of text columns in the run's scratch
directory, so the read is typed exactly like a Parquet file (typing_sql reads a block twice when a value is
bad, on a fresh DuckDB connection). Credentials: a password in the address is used for the connection only
and never shown or stored (the address is shown without it); otherwise libpq's own PGPASSWORD, ~/.pgpass,
PGSERVICE and PGPASSFILE apply.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from segmentation.errors import InputError
from segmentation.ingest.common import _Block, file_sha256

SCHEMES = ("postgresql://", "postgres://")
BATCH_BYTES = 16 << 20  # ADBC's batch size hint: each Arrow batch is about this size
_SHOWN_SAFE = " ,.;*=()<>'\"_-"  # a query shown readably in the address
CONNECT_TIMEOUT = 10  # seconds, unless the address sets connect_timeout: an unreachable host is an error


@dataclass(frozen=True)
class PgSource:
    """A parsed PostgreSQL address: what libpq connects to (password included), what is shown."""

    connect_uri: str  # with the password when one was given, without table/query
    shown: str  # no password; with ?table=NAME or ?query=SQL
    table: str | None
    query: str | None
    password: str | None


def is_postgres(text: str) -> bool:
    return text.lower().startswith(SCHEMES)


def parse(text: str, table: str | None = None, query: str | None = None) -> PgSource:
    """The address, its password taken out of what is shown; table/query from the flags or the address's
    own ?table= / ?query= (as a stored run shows them)."""
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port  # raises on a port that is not a number
    except ValueError:
        parts, port = None, None
    if parts is None or not parts.hostname and not parts.path.strip("/") and not parts.query:
        raise InputError(
            f"{_redact(text)}: not a PostgreSQL address; expected postgresql://USER@HOST[:PORT]/DATABASE."
        )
    params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    table = table or next((v for k, v in params if k == "table"), None)
    query = query or next((v for k, v in params if k == "query"), None)
    libpq = [(k, v) for k, v in params if k not in ("table", "query")]
    shown_netloc = parts.hostname or ""
    if parts.hostname and ":" in parts.hostname:  # IPv6
        shown_netloc = f"[{parts.hostname}]"
    if port is not None:
        shown_netloc += f":{port}"
    if parts.username:
        shown_netloc = f"{parts.username}@{shown_netloc}"
    base = _unsplit(parts.scheme, shown_netloc, parts.path, libpq)
    if table and query:
        raise InputError(f"{base}: give --table or --query, not both.")
    if not table and not query:
        raise InputError(f'{base}: name what to read with --table NAME or --query "SELECT ...".')
    what = ("table", table) if table else ("query", query)
    sep = "&" if libpq else "?"
    shown = f"{base}{sep}{what[0]}={urllib.parse.quote(str(what[1]), safe=_SHOWN_SAFE)}"
    if not any(k == "connect_timeout" for k, _ in libpq):
        libpq.append(("connect_timeout", str(CONNECT_TIMEOUT)))
    uri = _unsplit(parts.scheme, parts.netloc, parts.path, libpq)
    return PgSource(uri, shown, table, query, parts.password)


def _unsplit(scheme: str, netloc: str, path: str, params: list[tuple[str, str]]) -> str:
    """An address back together; unlike urlunsplit, keeps the // of an empty host (postgresql:///db)."""
    query = urllib.parse.urlencode(params)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def _redact(text: str) -> str:
    """An address with any password replaced by nothing (for messages about unparseable addresses)."""
    return re.sub(r"(://[^:/@?#]*):[^@/?#]*@", r"\1@", text)


def _reason(exc: Exception, source: PgSource) -> str:
    """libpq's or the server's message, first line, without the driver's prefixes or the password."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^([A-Z_]+: )?(\[libpq\] )?", "", text)
    text = re.sub(r"^Failed to [a-z ]+: ", "", text)
    text = re.sub(r"^Execution error \[[A-Z_]+\]: ", "", text)
    text = re.sub(r"^(connection to server at .*?failed: )", "", text)
    text = re.sub(r"^(ERROR|FATAL):\s+", "", text)
    if source.password:
        text = text.replace(source.password, "")
    return text.strip().rstrip(".")


class _StreamError(Exception):
    """The server's error while the rows streamed (the driver raises it as an Arrow error)."""


def _connect(source: PgSource):  # noqa: ANN202 - adbc's Connection
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as pg

    try:
        con = pg.connect(source.connect_uri, autocommit=False)
    except adbc_driver_manager.Error as exc:
        raise InputError(
            f"{source.shown}: could not connect ({_reason(exc, source)}); "
            "expected a reachable PostgreSQL server and valid credentials."
        ) from exc
    return con


def _execute(cur, sql: str, params: tuple = ()) -> None:  # noqa: ANN001
    cur.execute(sql, params) if params else cur.execute(sql)


def _find_table(cur, source: PgSource) -> str:  # noqa: ANN001
    """The table or view named by --table ('name' or 'schema.name'), quoted; checked in pg_catalog."""
    name = str(source.table)
    schema, _, rel = name.rpartition(".")
    sql = (
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND (CASE WHEN $1 = '' THEN pg_catalog.pg_table_is_visible(c.oid) ELSE n.nspname = $1 END) "
        "ORDER BY (c.relname = $2) DESC, n.nspname, c.relname"
    )
    cur.execute(sql, (schema, rel))
    rows = cur.fetchall()
    exact = [r for r in rows if r[1] == rel] or [r for r in rows if r[1].lower() == rel.lower()]
    if len(exact) != 1:
        known = ", ".join(r[1] if not schema else f"{r[0]}.{r[1]}" for r in rows[:10])
        more = ", ..." if len(rows) > 10 else ""
        expected = f"expected one of: {known}{more}" if rows else "this user sees no table or view there"
        raise InputError(f"{source.shown}: no table or view named '{name}'; {expected}.")
    return f"{_ident(exact[0][0])}.{_ident(exact[0][1])}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text_select(cur, relation: str, source: PgSource) -> tuple[str, tuple[str, ...]]:  # noqa: ANN001
    """SELECT every column of `relation` as text c0..cN, and the column names."""
    cur.execute(f"SELECT * FROM {relation} LIMIT 0")  # noqa: S608 - a quoted name or the user's query
    schema = cur.fetch_arrow_table().schema
    exprs = []
    for i, field in enumerate(schema):
        col = f"q.{_ident(field.name)}"
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            exprs.append(f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS c{i}")
        elif pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
            exprs.append(f"to_char({col}, 'YYYY-MM-DD HH24:MI:SS') AS c{i}")
        else:
            exprs.append(f"{col}::text AS c{i}")
    if len(set(schema.names)) != len(schema.names):
        raise InputError(f"{source.shown}: two columns have the same name; expected distinct column names.")
    return f"SELECT {', '.join(exprs)} FROM {relation}", tuple(schema.names)  # noqa: S608


def read_postgres(source: PgSource, out: Path, batch_bytes: int = BATCH_BYTES) -> tuple[_Block, str, int]:
    """Stream the table or query into `out` (Parquet, text columns c0..cN) in Arrow batches, in one
    READ ONLY transaction; returns the block, the sha256 of the data read and the number of batches."""
    import adbc_driver_manager
    import adbc_driver_postgresql as pgdrv

    con = _connect(source)
    try:
        cur = con.cursor()
        try:
            cur.execute("SET TRANSACTION READ ONLY")
            cur.execute("SET LOCAL TimeZone = 'UTC'")
            cur.execute("SET LOCAL DateStyle = 'ISO, YMD'")
            cur.execute("SET LOCAL extra_float_digits = 1")
        except adbc_driver_manager.Error as exc:
            raise InputError(
                f"{source.shown}: could not start a read-only transaction ({_reason(exc, source)})."
            ) from exc
        try:
            if source.table:
                relation = _find_table(cur, source)
            else:
                relation = f"({str(source.query).strip().rstrip(';')}) AS q"
            if source.table:
                relation += " AS q"
            sql, header = _text_select(cur, relation, source)
            cur.adbc_statement.set_options(
                **{pgdrv.StatementOptions.BATCH_SIZE_HINT_BYTES.value: str(batch_bytes)}
            )
            cur.execute(sql)
            reader = cur.fetch_record_batch()
            schema = pa.schema([(f"c{i}", pa.string()) for i in range(len(header))])
            batches = 0
            with pq.ParquetWriter(out, schema, compression="zstd") as writer:
                while True:
                    try:  # the server's errors while rows stream arrive here, as Arrow errors
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    except pa.ArrowException as exc:
                        raise _StreamError(str(exc)) from exc
                    writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
                    batches += 1
        except (adbc_driver_manager.Error, _StreamError) as exc:
            what = "the query failed" if source.query else "the table could not be read"
            expected = "a read-only SELECT" if source.query else "a table this user may SELECT from"
            raise InputError(
                f"{source.shown}: {what} ({_reason(exc, source)}); expected {expected}."
            ) from exc
        finally:
            cur.close()
    finally:
        try:
            con.rollback()  # read only: nothing to keep
        except adbc_driver_manager.Error:
            pass  # a broken connection: the error that broke it is the one to tell
        finally:
            con.close()
    names = ", ".join(f"c{i}" for i in range(len(header)))
    block = _Block(
        "parquet",
        source.shown,
        header,
        f"read_parquet(?) AS t({names})",
        (str(out),),
        "",
        lambda i: f"row {i + 1}",
    )
    return block, file_sha256(out), batches
