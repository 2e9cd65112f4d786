"""Sales lines where companies keep them: a PostgreSQL table or query, and Parquet or CSV objects in
S3-compatible storage, on real servers (tests/segmentation/conftest.py). The bundled sample read from each
gives the CSV file's cleaning steps, features and segments; a password is never shown or stored; bad
addresses are one sentence and change nothing stored.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import adbc_driver_postgresql.dbapi as pg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs

from segmentation import pipeline
from segmentation.cli import main
from segmentation.config import RunConfig
from segmentation.errors import InputError
from segmentation.ingest import database
from tests.conftest import SAMPLE

K = ("--k", "4")
CUSTOMER_COLUMNS = (
    "customer_id, country, first_purchase, last_purchase, recency_days, frequency, monetary, quantity, "
    "avg_basket_value, tenure_days, distinct_products, return_rate, features, segment_id, is_outlier"
)
BUCKET = "segments-sales"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


def _typed_sample() -> pa.Table:
    """The bundled sample with the types a database would give it (integers, timestamps, floats)."""
    with duckdb.connect() as con:
        return con.sql(
            """SELECT InvoiceNo AS invoiceno, StockCode AS stockcode, Description AS description,
                      Quantity::BIGINT AS quantity, InvoiceDate::TIMESTAMP AS invoicedate,
                      UnitPrice::DOUBLE AS unitprice, CustomerID::DOUBLE AS customerid, Country AS country
               FROM read_csv(?, all_varchar = true)""",
            params=[str(SAMPLE)],
        ).to_arrow_table()


def _with_password(url: str, password: str | None) -> str:
    parts = urllib.parse.urlsplit(url)
    netloc = (
        f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
        if password
        else (f"{parts.username}@{parts.hostname}:{parts.port}")
    )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.fixture(scope="module")
def pg_sales(pg_url: str) -> str:
    """The server's address (with its password), with the sample in table `sales` (ADBC's bulk COPY)."""
    with pg.connect(pg_url) as con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS sales")
        cur.adbc_ingest("sales", _typed_sample(), mode="create")
        cur.execute("DROP SEQUENCE IF EXISTS segments_seq")
        cur.execute("CREATE SEQUENCE segments_seq")
        con.commit()
    return pg_url


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for the test S3 server, as a user would set them; no profile or endpoint from outside."""
    for name, value in S3_KEYS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def s3_sales(s3_endpoint: str) -> str:
    """The endpoint, with bucket BUCKET holding the sample as two Parquet parts, the CSV, and a stray file."""
    host = urllib.parse.urlsplit(s3_endpoint)
    s3 = fs.S3FileSystem(
        access_key="testing", secret_key="testing", region="us-east-1",
        endpoint_override=host.netloc, scheme=host.scheme, allow_bucket_creation=True,
    )  # fmt: skip
    s3.create_dir(BUCKET)
    table = _typed_sample()
    half = table.num_rows // 2
    for name, part in (("part-0.parquet", table.slice(0, half)), ("part-1.parquet", table.slice(half))):
        with s3.open_output_stream(f"{BUCKET}/parquet/{name}") as out:
            pq.write_table(part, out)
    with s3.open_output_stream(f"{BUCKET}/parquet/notes.txt") as out:
        out.write(b"not sales\n")
    with s3.open_output_stream(f"{BUCKET}/csv/online_retail_sample.csv") as out:
        out.write(SAMPLE.read_bytes())
    return s3_endpoint


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[pipeline.RunSummary, list[tuple]]:
    """The bundled CSV's run: its summary and its stored customers."""
    db = tmp_path_factory.mktemp("csv_run") / "s.duckdb"
    summary = pipeline.run(RunConfig(inputs=(SAMPLE,), db_path=db, k=4, progress=False))
    return summary, _customers(db)


def _customers(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT {CUSTOMER_COLUMNS} FROM customers ORDER BY customer_id").fetchall()  # noqa: S608


def _stored(db: Path) -> tuple[list[str], str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT sources, source_sha256, params FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row is not None
    return list(row[0]), row[1], row[2]


def _assert_same_run(summary: pipeline.RunSummary, db: Path, csv_run: tuple) -> None:
    reference, customers = csv_run
    assert summary.rows_in == reference.rows_in
    assert summary.steps == reference.steps
    assert summary.customers == reference.customers
    assert summary.money_in == reference.money_in
    assert _customers(db) == customers  # every feature, segment and outlier flag of every customer


def test_postgres_table_gives_the_csv_files_run(pg_sales: str, csv_run: tuple, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    summary = pipeline.run(RunConfig(inputs=(pg_sales,), table="sales", db_path=db, k=4, progress=False))
    _assert_same_run(summary, db, csv_run)
    shown = _with_password(pg_sales, None) + "?table=sales"
    assert summary.sources == (shown,)
    sources, sha, params = _stored(db)
    assert sources == [shown]
    assert len(sha) == 64
    password = urllib.parse.urlsplit(pg_sales).password
    assert password and password not in params
    assert password.encode() not in db.read_bytes()  # nowhere in the stored file


def test_postgres_query_through_the_cli_and_the_password_from_pgpassword(
    pg_sales: str, csv_run: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    password = urllib.parse.urlsplit(pg_sales).password
    monkeypatch.setenv("PGPASSWORD", str(password))
    address = _with_password(pg_sales, None)
    query = "SELECT s.* FROM sales AS s JOIN (SELECT 1 AS one) AS j ON true"
    db = tmp_path / "s.duckdb"
    assert main(["run", address, "--query", query, "--db", str(db), *K, "--quiet"]) == 0
    out = capsys.readouterr()
    assert str(password) not in out.out + out.err
    assert f"Input: {address}?query={query};" in out.out
    assert _customers(db) == csv_run[1]
    assert _stored(db)[0] == [f"{address}?query={query}"]


def test_s3_parquet_pattern_gives_the_csv_files_run(s3_sales: str, csv_run: tuple, tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    address = f"s3://{BUCKET}/parquet/*.parquet"  # notes.txt beside the parts is not read
    summary = pipeline.run(
        RunConfig(inputs=(address,), s3_endpoint=s3_sales, db_path=db, k=4, progress=False)
    )
    _assert_same_run(summary, db, csv_run)
    assert _stored(db)[0] == [address]


def test_s3_csv_object_through_the_cli_has_the_local_files_checksum(
    s3_sales: str, csv_run: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_sales)  # the SDK's own variable, instead of --s3-endpoint
    db = tmp_path / "s.duckdb"
    address = f"s3://{BUCKET}/csv/online_retail_sample.csv"
    assert main(["run", address, "--db", str(db), *K, "--quiet"]) == 0
    assert _customers(db) == csv_run[1]
    sources, sha, _ = _stored(db)
    assert sources == [address]
    local = tmp_path / "local.duckdb"
    pipeline.run(RunConfig(inputs=(SAMPLE,), db_path=local, k=4, progress=False))
    assert sha == _stored(local)[1]  # the checksum covers the object's bytes, as for a local file


def test_postgres_read_streams_in_batches(pg_sales: str, tmp_path: Path) -> None:
    """Arrow batches of about the hinted size, each written as it arrives (one Parquet row group each)."""
    source = database.parse(pg_sales, "sales", None)
    small = tmp_path / "small.parquet"
    block, sha, batches = database.read_postgres(source, small, batch_bytes=256 << 10)
    meta = pq.ParquetFile(small).metadata
    assert meta.num_rows == 105_896
    assert batches > 20
    assert meta.num_row_groups == batches
    big = tmp_path / "big.parquet"
    _, sha_big, batches_big = database.read_postgres(source, big, batch_bytes=64 << 20)
    assert batches_big < batches
    assert block.header == ("invoiceno", "stockcode", "description", "quantity", "invoicedate",
                            "unitprice", "customerid", "country")  # fmt: skip
    first = pq.read_table(small).slice(0, 1).to_pylist()[0]
    assert list(first.values()) == ["536371", "22086", "PAPER CHAIN KIT 50'S CHRISTMAS ", "80",
                                    "2010-12-01 09:00:00", "2.55", "13748", "United Kingdom"]  # fmt: skip


def test_a_query_runs_read_only(pg_sales: str) -> None:
    with pytest.raises(InputError, match="cannot execute nextval.. in a read-only transaction"):
        database.read_postgres(
            database.parse(pg_sales, None, "SELECT nextval('segments_seq') AS n"), Path("/nonexistent")
        )
    with pg.connect(pg_sales) as con, con.cursor() as cur:
        cur.execute("SELECT last_value, is_called FROM segments_seq")
        assert cur.fetchone() == (1, False)  # never advanced


@pytest.fixture
def refused_port() -> Iterator[int]:
    from tests.segmentation.conftest import free_port

    yield free_port()


BAD_PG = {
    "wrong password": (
        lambda url, port: [_with_password(url, "wrong"), "--table", "sales"],
        "{shown}?table=sales: could not connect (",
        "); expected a reachable PostgreSQL server and valid credentials.",
    ),
    "refused connection": (
        lambda url, port: [f"postgresql://segments:pw@127.0.0.1:{port}/postgres", "--table", "sales"],
        "postgresql://segments@127.0.0.1:{port}/postgres?table=sales: could not connect (",
        "); expected a reachable PostgreSQL server and valid credentials.",
    ),
    "unknown table": (
        lambda url, port: [url, "--table", "no_such_table"],
        "{shown}?table=no_such_table: no table or view named 'no_such_table'; expected one of: sales.",
        "",
    ),
    "failed query": (
        lambda url, port: [url, "--query", "SELECT nope FROM sales"],
        "{shown}?query=SELECT nope FROM sales: the query failed (",
        "); expected a read-only SELECT.",
    ),
    "two statements": (
        lambda url, port: [url, "--query", "SELECT 1; DROP TABLE sales"],
        "{shown}?query=SELECT 1; DROP TABLE sales: the query failed (",
        "); expected a read-only SELECT.",
    ),
    "no table or query": (
        lambda url, port: [url],
        '{shown}: name what to read with --table NAME or --query "SELECT ...".',
        "",
    ),
    "bad port": (
        lambda url, port: ["postgresql://segments:secret@127.0.0.1:notaport/db", "--table", "sales"],
        "postgresql://segments@127.0.0.1:notaport/db: not a PostgreSQL address; "
        "expected postgresql://USER@HOST[:PORT]/DATABASE.",
        "",
    ),
    "table without a database": (
        lambda url, port: [str(SAMPLE), "--table", "sales"],
        "--table: no input is a PostgreSQL address; it reads only from one.",
        "",
    ),
}


def _assert_refused(args: list[str], db: Path, capsys: pytest.CaptureFixture[str]) -> str:
    before = db.read_bytes()
    files_before = sorted(p.name for p in db.parent.iterdir())
    code = main(["run", *args, "--db", str(db), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == files_before
    assert err.startswith("Error: ") and err.endswith("\n") and err.count("\n") == 1
    return err[len("Error: ") : -1]


@pytest.mark.parametrize("case", list(BAD_PG))
def test_bad_postgres_input_is_one_sentence_and_changes_nothing(
    case: str, pg_sales: str, db_copy: Path, refused_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    make_args, start, end = BAD_PG[case]
    sentence = _assert_refused(make_args(pg_sales, refused_port), db_copy, capsys)
    shown = _with_password(pg_sales, None)
    assert sentence.startswith(start.format(shown=shown, port=refused_port)), sentence
    assert sentence.endswith(end or ".")
    assert "segments-test-password" not in sentence and "wrong" not in sentence.replace(case, "")
    if case == "wrong password":
        assert "password authentication failed" in sentence


def test_unreachable_host_is_a_timeout_not_a_hang(db_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    address = "postgresql://segments@192.0.2.1:5432/db?connect_timeout=2"  # TEST-NET-1: never answers
    sentence = _assert_refused([address, "--table", "sales"], db_copy, capsys)
    assert time.monotonic() - started < 30
    assert sentence.startswith(f"{address}&table=sales: could not connect (")


BAD_S3 = {
    "missing bucket": (
        "s3://no-such-bucket/sales/*.parquet",
        "s3://no-such-bucket/sales/*.parquet: the bucket 'no-such-bucket' does not exist; "
        "expected an existing bucket.",
    ),
    "missing object": (
        f"s3://{BUCKET}/csv/nothing.csv",
        f"s3://{BUCKET}/csv/nothing.csv: no such object; expected an existing key.",
    ),
    "nothing matches": (
        f"s3://{BUCKET}/parquet/*.xlsx",
        f"s3://{BUCKET}/parquet/*.xlsx: no object matches; expected at least one matching key.",
    ),
    "not sales lines": (  # the message names the object, not the copy read
        f"s3://{BUCKET}/parquet/*.txt",
        f"s3://{BUCKET}/parquet/notes.txt: required column ",
    ),
    "no key": (
        f"s3://{BUCKET}",
        f"s3://{BUCKET}: not an object address; expected s3://BUCKET/KEY or s3://BUCKET/PREFIX/*.parquet.",
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", list(BAD_S3))
def test_bad_object_storage_input_is_one_sentence_and_changes_nothing(
    case: str, s3_sales: str, db_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address, expected = BAD_S3[case]
    sentence = _assert_refused([address, "--s3-endpoint", s3_sales], db_copy, capsys)
    assert sentence.startswith(expected), sentence
    assert "testing" not in sentence


def test_service_file_and_pgpass_with_if_changed(
    pg_sales: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where a scheduled re-run gets its connection: a libpq service file and ~/.pgpass, nothing secret on
    the command line; a second run of an unchanged table is skipped by --if-changed."""
    parts = urllib.parse.urlsplit(pg_sales)
    service = tmp_path / "pg_service.conf"
    service.write_text(
        f"[sales]\nhost={parts.hostname}\nport={parts.port}\nuser={parts.username}\ndbname=postgres\n"
    )
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"{parts.hostname}:{parts.port}:*:{parts.username}:{parts.password}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    db = tmp_path / "s.duckdb"
    args = ["run", "postgresql:///?service=sales", "--table", "sales", "--db", str(db), *K, "--quiet"]
    assert main([*args, "--if-changed"]) == 0
    first = capsys.readouterr().out
    assert first.startswith(f"Run 1 stored in {db}")
    assert _stored(db)[0] == ["postgresql:///?service=sales&table=sales"]
    assert main([*args, "--if-changed"]) == 0
    assert capsys.readouterr().out.startswith("segments: skipped: inputs unchanged since run 1")


def test_customer_table_from_a_postgres_query(pg_sales: str, tmp_path: Path) -> None:
    """Customer-table mode reads a database the same way: here one row per customer made by a query."""
    query = (
        "SELECT customerid::bigint AS id, sum(quantity * unitprice) AS spend, count(*) AS lines "
        "FROM sales WHERE customerid IS NOT NULL GROUP BY 1"
    )
    cfg = dict(mode="customers", id_column="id", feature_columns=("spend", "lines"), k=3, progress=False)
    db = tmp_path / "c.duckdb"
    summary = pipeline.run(RunConfig(inputs=(pg_sales,), query=query, db_path=db, **cfg))
    with duckdb.connect() as con:
        expected = con.execute(
            "SELECT count(DISTINCT CustomerID) FROM read_csv(?, all_varchar = true)", [str(SAMPLE)]
        ).fetchone()
    assert summary.rows_in == expected[0]
    assert summary.customers > 0


def test_local_parquet_and_xlsx_give_the_csv_files_run(csv_run: tuple, tmp_path: Path) -> None:
    """The bundled sample as typed Parquet and as an XLSX sheet (numbers, dates as date cells) gives the same
    cleaning, features, segments and outliers as the CSV."""
    import xlsxwriter

    table = _typed_sample()
    parquet = tmp_path / "sample.parquet"
    pq.write_table(table, parquet)
    book = tmp_path / "sample.xlsx"
    with xlsxwriter.Workbook(str(book), {"constant_memory": True}) as workbook:
        sheet = workbook.add_worksheet("Online Retail")
        stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        sheet.write_row(0, 0, ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
                               "UnitPrice", "CustomerID", "Country"])  # fmt: skip
        for r, row in enumerate(zip(*(table.column(i).to_pylist() for i in range(8)), strict=True), 1):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if c == 4:
                    sheet.write_datetime(r, c, value, stamp)
                else:
                    sheet.write(r, c, value)
    for source in (parquet, book):
        db = tmp_path / f"{source.suffix[1:]}.duckdb"
        summary = pipeline.run(RunConfig(inputs=(source,), db_path=db, k=4, progress=False))
        _assert_same_run(summary, db, csv_run)
