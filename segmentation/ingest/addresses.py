"""Inputs that are not local files: a PostgreSQL address (database.py) or an s3:// address
(object_storage.py). `resolve_inputs` turns each into an `Address`, whose text is what is shown and stored
(never a password) and which carries what the read needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segmentation.errors import InputError
from segmentation.ingest import database, object_storage


class Address(str):
    """An input that is not a local file. Its text is what is shown and stored: a PostgreSQL address
    without its password (with ?table=NAME or ?query=SQL), or the s3:// address as given; `source` is the
    parsed address the read uses (database.PgSource, with the password, or object_storage.S3Source)."""

    source: Any

    def __new__(cls, shown: str, source: Any) -> Address:
        obj = super().__new__(cls, shown)
        obj.source = source
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # copies keep the source (and never put it in the text)
        return (Address, (str(self), self.source))


def is_address(text: object) -> bool:
    """A PostgreSQL or s3:// address rather than a file name."""
    return isinstance(text, str) and (database.is_postgres(text) or object_storage.is_s3(text))


def input_arg(text: str) -> Path | str:
    """argparse's type for an input: a Path, or the address text as given (a Path would fold its //)."""
    return text if is_address(text) else Path(text)


def resolve_inputs(
    inputs: Sequence[Path | str], table: str | None, query: str | None, s3_endpoint: str | None
) -> tuple[Path | str, ...]:
    """Every address as an Address (its password out of the text), files unchanged; --table, --query or
    --s3-endpoint without an input they apply to is an error."""
    out: list[Path | str] = []
    for item in inputs:
        if isinstance(item, Address) or not is_address(item):
            out.append(item)
        elif database.is_postgres(str(item)):
            pg = database.parse(str(item), table, query)
            out.append(Address(pg.shown, pg))
        else:
            s3 = object_storage.parse(str(item), s3_endpoint)
            out.append(Address(s3.address, s3))
    kinds = {type(a.source) for a in out if isinstance(a, Address)}
    for flag, value, kind in (
        ("--table", table, database.PgSource),
        ("--query", query, database.PgSource),
        ("--s3-endpoint", s3_endpoint, object_storage.S3Source),
    ):
        if value and kind not in kinds:
            where = "a PostgreSQL address" if kind is database.PgSource else "an s3:// address"
            raise InputError(f"{flag}: no input is {where}; it reads only from one.")
    return tuple(out)
