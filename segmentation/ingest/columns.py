"""Matching the file's header to the wanted columns (aliases, --map, customer-table names)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from segmentation.errors import InputError
from segmentation.ingest.common import ALIASES, REQUIRED, _Block, _Want


def _norm(name: str) -> str:
    """A header name compared case-, space- and underscore-insensitively."""
    return re.sub(r"[\s_]+", "", name).lower()


# A mapped unit price whose header says it is a line's money (docs/cleaning.md, "Line totals").
_MONEY_WORDS = re.compile(r"amount|total|sales|revenue|value|sum|turnover")
_PRICE_WORDS = re.compile(r"price|unit|each|rate|per")
_DATA_CELL = re.compile(r"[-+0-9.,:/ ]+")  # a number or a date, never a column name


def _expand(column_map: dict[str, str]) -> dict[str, str]:
    """--map customer_id=1,invoice_date=2 as two mappings: a value is split at commas only where every
    later part is NAME=COLUMN with a known NAME (a column name may contain commas)."""
    out: dict[str, str] = {}
    for key, value in column_map.items():
        first, *rest = value.split(",")
        pairs = [part.split("=", 1) for part in rest]
        if rest and all(len(p) == 2 and p[0].strip() in ALIASES for p in pairs):
            out[key] = first.strip()
            out.update((k.strip(), v.strip()) for k, v in pairs)
        else:
            out[key] = value
    return out


def _sales_wants(column_map: dict[str, str]) -> list[_Want]:
    """The sales columns to find: --map names first, else the aliases."""
    column_map = _expand(column_map)
    unknown = sorted(set(column_map) - set(ALIASES))
    if unknown:
        raise InputError(f"--map: unknown column '{unknown[0]}'; use one of {', '.join(ALIASES)}.")
    for key, name in column_map.items():
        if not name:
            raise InputError(f"--map {key}=: expected a column name (or, with --no-header, its position).")
    wants = []
    for key, aliases in ALIASES.items():
        if key in column_map:
            wants.append(_Want(key, (column_map[key],), True, mapped=True))
        else:
            wants.append(_Want(key, aliases, key in REQUIRED))
    return wants


def _match(header: Sequence[str], wants: list[_Want]) -> dict[str, int | None]:
    """The column index of every wanted key: an exact name first, then a normalized one; None if absent."""
    out: dict[str, int | None] = {}
    for want in wants:
        found = None
        for name in want.names:
            exact = [i for i, h in enumerate(header) if h == name]
            loose = [i for i, h in enumerate(header) if _norm(h) == _norm(name)]
            if exact or loose:
                found = (exact or loose)[0]
                break
        out[want.key] = found
    return out


def _match_or_raise(block: _Block, wants: list[_Want]) -> dict[str, int | None]:
    """_match, with one sentence for the first wanted column that is missing."""
    cols = _match(block.header, wants)
    found = ", ".join(block.header)
    for want in wants:
        if cols[want.key] is not None or not want.required:
            continue
        if want.mapped and block.numbered:
            raise InputError(
                f"{block.label}: --map {want.key}={want.names[0]}: expected a column position from 1 to "
                f"{len(block.header)} (with --no-header, columns are numbered from 1)."
            )
        if want.mapped:
            raise InputError(
                f"{block.label}: --map {want.key}={want.names[0]} names a column that is not in the file; "
                f"columns found: {found}."
            )
        if want.named:
            raise InputError(f"{block.label}: column '{want.names[0]}' not found; columns found: {found}.")
        raise InputError(
            f"{block.label}: required column '{want.key}' not found (looked for {', '.join(want.names)}); "
            f"columns found: {found}{_no_header_hint(block)}."
        )
    return cols


def _no_header_hint(block: _Block) -> str:
    """A hint when the header row is all numbers and dates: the file probably has no header."""
    if block.numbered or not block.header or not all(_DATA_CELL.fullmatch(h) for h in block.header):
        return ""
    return (
        " (the first line looks like data: without a header, pass --no-header and --map columns by position)"
    )


def _money_columns(block: _Block, cols: dict[str, int | None], wants: list[_Want]) -> None:
    """A unit price or a line total is needed; a mapped unit price named like a line's money is refused."""
    found = ", ".join(block.header)
    if cols.get("unit_price") is None and cols.get("line_total") is None:
        price = next(w for w in wants if w.key == "unit_price")
        if price.mapped:
            raise InputError(
                f"{block.label}: --map unit_price={price.names[0]} names a column that is not in the file; "
                f"columns found: {found}."
            )
        raise InputError(
            f"{block.label}: required column 'unit_price' not found (looked for {', '.join(price.names)}); "
            f"columns found: {found}; for a line's amount use --map line_total=COLUMN."
        )
    mapped = {w.key for w in wants if w.mapped}
    index = cols.get("unit_price")
    if "unit_price" in mapped and "line_total" not in mapped and index is not None and not block.numbered:
        name = _norm(block.header[index])
        if _MONEY_WORDS.search(name) and not _PRICE_WORDS.search(name):
            raise InputError(
                f"{block.label}: --map unit_price={block.header[index]} names a line's amount, not a price "
                f"per unit; use --map line_total={block.header[index]} (unit price = amount / quantity)."
            )
