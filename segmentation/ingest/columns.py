"""Matching the file's header to the wanted columns (aliases, --map, customer-table names)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from segmentation.errors import InputError
from segmentation.ingest.common import ALIASES, REQUIRED, _Block, _Want


def _norm(name: str) -> str:
    """A header name compared case-, space- and underscore-insensitively."""
    return re.sub(r"[\s_]+", "", name).lower()


def _sales_wants(column_map: dict[str, str]) -> list[_Want]:
    """The sales columns to find: --map names first, else the aliases."""
    unknown = sorted(set(column_map) - set(ALIASES))
    if unknown:
        raise InputError(f"--map: unknown column '{unknown[0]}'; use one of {', '.join(ALIASES)}.")
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
        if want.mapped:
            raise InputError(
                f"{block.label}: --map {want.key}={want.names[0]} names a column that is not in the file; "
                f"columns found: {found}."
            )
        if want.named:
            raise InputError(f"{block.label}: column '{want.names[0]}' not found; columns found: {found}.")
        raise InputError(
            f"{block.label}: required column '{want.key}' not found (looked for {', '.join(want.names)}); "
            f"columns found: {found}."
        )
    return cols
