"""A line's money once the lines are read: invoices where the file has none, unit prices checked
against line totals, and a unit price that behaves like a line total refused (docs/cleaning.md,
"Line totals and missing invoices").
"""

from __future__ import annotations

import duckdb

from segmentation.errors import InputError
from segmentation.ingest.common import _Block, _Span

NO_INVOICE_NOTE = "no invoice column: one purchase per customer and day"

# A unit price column is refused as a line total when it grows with the quantity as a line total does:
# per product (stock code), the median of its ratio "price at quantity 2 / price at quantity 1" is at
# least _TOTAL_RATIO, over at least _MIN_PRODUCTS products with lines of both quantities (a price per unit
# stays about the same for one product); in a file without stock codes, over all lines, the median price
# at quantity 2 is at least _TOTAL_RATIO and at quantity 3 at least 1.5 x _TOTAL_RATIO times the median
# at quantity 1, with at least _MIN_LINES lines of each (prices differ more between products than for one
# product, so both must hold).
_TOTAL_RATIO = 1.6
_MIN_PRODUCTS = 10
_MIN_LINES = 20

# Blocks whose unit price and line total disagree (|quantity x unit price - line total| above a cent,
# exactly, in decimals) on more than half the lines where both are given and the quantity is not 0 are
# refused: one of the two is not what it is named.
_GAP = (
    "abs(TRY_CAST(quantity AS DECIMAL(18,4)) * TRY_CAST(unit_price AS DECIMAL(18,4)) "
    "- TRY_CAST(line_total AS DECIMAL(18,4))) > 0.01"
)
_DISAGREE = f"""
SELECT segments_block, count(*), count(*) FILTER (WHERE {_GAP}),
       arg_min([quantity, unit_price, line_total], rowid) FILTER (WHERE {_GAP})
FROM lines
WHERE quantity <> 0 AND unit_price IS NOT NULL AND line_total IS NOT NULL
GROUP BY segments_block ORDER BY segments_block
"""  # noqa: S608 - no user text
_PRICE_BY_QUANTITY = """
WITH l AS (
    SELECT segments_block AS b, stock_code, quantity, unit_price FROM lines
    WHERE unit_price > 0 AND quantity IN (1, 2, 3) AND segments_block IN (SELECT unnest($blocks::INTEGER[]))
), p AS (
    SELECT b, median(unit_price) FILTER (WHERE quantity = 2) / median(unit_price) FILTER (WHERE quantity = 1)
               AS ratio
    FROM l WHERE stock_code IS NOT NULL GROUP BY b, stock_code HAVING ratio IS NOT NULL
), per_product AS (
    SELECT b, count(*) AS products, median(ratio) AS ratio FROM p GROUP BY b
), overall AS (
    SELECT b, count(*) FILTER (WHERE quantity = 1) AS n1, count(*) FILTER (WHERE quantity = 2) AS n2,
           count(*) FILTER (WHERE quantity = 3) AS n3,
           median(unit_price) FILTER (WHERE quantity = 2)
               / median(unit_price) FILTER (WHERE quantity = 1) AS r2,
           median(unit_price) FILTER (WHERE quantity = 3)
               / median(unit_price) FILTER (WHERE quantity = 1) AS r3
    FROM l GROUP BY b
)
SELECT o.b, coalesce(p.products, 0), p.ratio, o.n1, o.n2, o.n3, o.r2, o.r3
FROM overall o LEFT JOIN per_product p USING (b) ORDER BY o.b
"""


def check_and_derive(con: duckdb.DuckDBPyConnection, spans: list[_Span]) -> list[str]:
    """Check the money columns of table `lines` (still with segments_block) and give every line of a
    block without invoices the invoice 'day <customer> <date>'; returns notes for the report."""
    notes = []
    totals = [k for k, (_, cols, _) in enumerate(spans) if cols.get("line_total") is not None]
    prices_only = [k for k, (_, cols, _) in enumerate(spans) if cols.get("line_total") is None]
    if totals:
        for k, n, bad, example in con.execute(_DISAGREE).fetchall():
            if k in totals and bad * 2 > n:
                block, cols, _ = spans[k]
                q, p, t = example
                raise InputError(
                    f"{block.label}{block.place}: columns '{_name(block, cols, 'unit_price')}' (unit price) "
                    f"and '{_name(block, cols, 'line_total')}' (line total) disagree on {bad:,} of {n:,} "
                    f"lines (e.g. {q:g} x {p:g} is not {t:g}); map only the one you trust."
                )
    if prices_only:
        for k, products, ratio, n1, n2, n3, r2, r3 in con.execute(
            _PRICE_BY_QUANTITY, {"blocks": prices_only}
        ).fetchall():
            if products >= _MIN_PRODUCTS:
                total, shown, how = ratio >= _TOTAL_RATIO, ratio, "per product"
            else:
                enough = min(n1, n2, n3) >= _MIN_LINES and r2 is not None and r3 is not None
                total = enough and r2 >= _TOTAL_RATIO and r3 >= 1.5 * _TOTAL_RATIO
                shown, how = r2, "over all lines"
            if total:
                block, cols, _ = spans[k]
                name = _name(block, cols, "unit_price")
                raise InputError(
                    f"{block.label}{block.place}: column '{name}' read as the unit price looks like a line "
                    f"total (its median on lines of quantity 2 is {shown:.1f} times that on lines of "
                    f"quantity 1, {how}, where a price per unit stays about the same); "
                    f"use --map line_total={name}."
                )
    missing = [k for k, (_, cols, _) in enumerate(spans) if cols.get("invoice") is None]
    if missing:
        con.execute(
            "UPDATE lines SET invoice = 'day ' || customer_id || ' ' || strftime(invoice_ts, '%Y-%m-%d') "
            "WHERE segments_block IN (SELECT unnest($blocks::INTEGER[]))",
            {"blocks": missing},
        )
        if len(missing) == len(spans):
            notes.append(NO_INVOICE_NOTE)
        else:
            files = ", ".join(dict.fromkeys(spans[k][0].label + spans[k][0].place for k in missing))
            notes.append(f"{NO_INVOICE_NOTE} ({files})")
    return notes


def _name(block: _Block, cols: dict[str, int | None], key: str) -> str:
    """The file's name of a matched column."""
    index = cols[key]
    return block.header[index] if index is not None else key
