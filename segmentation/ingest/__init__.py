"""Read the user's sales lines or customer table (CSV, Parquet, XLSX) into typed DuckDB tables.

DuckDB reads CSV and Parquet itself; every file is read as text and typed in the same SELECT (the dates
once each file's format is chosen from a sample of its rows), so bad values are found in SQL and only
the error path looks for the offending row. Columns reach SQL under generated names (c0, c1, ...), never
under the names in the file.

One module per concern: `inputs` opens the files, `text_files`, `spreadsheet` and `parquet` read each
kind, `columns` matches headers, `typing_sql` types and inserts, `detection` chooses the date formats, `money`
checks unit prices against line totals and fills missing invoices, and `load` runs a whole read.
"""

from segmentation.ingest.common import ALIASES, REQUIRED, SUFFIXES, IngestResult, file_sha256
from segmentation.ingest.customer_table import load_customer_table
from segmentation.ingest.detection import DATE_FORMATS, DATE_SAMPLE
from segmentation.ingest.inputs import _Inputs
from segmentation.ingest.load import load_sales

__all__ = [
    "ALIASES",
    "DATE_FORMATS",
    "DATE_SAMPLE",
    "REQUIRED",
    "SUFFIXES",
    "IngestResult",
    "_Inputs",
    "file_sha256",
    "load_customer_table",
    "load_sales",
]
