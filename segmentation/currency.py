"""The currency of a run's money: named by `--currency`, else known from the input's layout, else unknown.

Money is stored as exact decimals without a unit; the run stores its ISO 4217 code (or NULL for unknown)
so every page, report and export can say what the numbers are. A layout is "known" only when every input
file has exactly the columns of a public dataset whose currency is documented: the UCI Online Retail
files (a UK retailer, prices in pounds sterling; Chen, Sain and Guo 2012).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from segmentation.errors import InputError

# Normalised header sets (lower case, no spaces or underscores) of known layouts -> (name, currency).
KNOWN_LAYOUTS: dict[frozenset[str], tuple[str, str]] = {
    frozenset(
        ("invoiceno", "stockcode", "description", "quantity", "invoicedate", "unitprice", "customerid")
        + ("country",)
    ): ("UCI Online Retail", "GBP"),
    frozenset(
        ("invoice", "stockcode", "description", "quantity", "invoicedate", "price", "customerid", "country")
    ): ("UCI Online Retail II", "GBP"),
}
# How money is written for the codes users meet most; other codes follow the amount ("1,234 CHF").
SYMBOLS: dict[str, str] = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥", "INR": "₹", "CNY": "¥"}
_CODE = re.compile(r"[A-Z]{3}")


def parse_code(text: str) -> str:
    """An ISO 4217 code from --currency (case ignored), or one sentence saying what was expected."""
    code = text.strip().upper()
    if not _CODE.fullmatch(code):
        raise InputError(
            f"--currency: '{text}' is not a currency code; expected three letters such as GBP, EUR or USD."
        )
    return code


def _normalised(name: str) -> str:
    return re.sub(r"[\s_]+", "", name).lower()


def layout_of(headers: Iterable[Iterable[str]]) -> tuple[str, str] | None:
    """(layout name, currency) when every file's header is exactly one known layout, else None."""
    found = {frozenset(_normalised(h) for h in header) for header in headers}
    if len(found) != 1:
        return None
    return KNOWN_LAYOUTS.get(found.pop())


def resolve(flag: str | None, headers: Iterable[Iterable[str]]) -> tuple[str | None, str]:
    """The run's currency and why: the flag, else the known layout's, else None (unknown)."""
    if flag:
        return flag, "set by --currency"
    layout = layout_of(headers)
    if layout is not None:
        return layout[1], f"the {layout[0]} layout's currency"
    return None, "unknown: pass --currency CODE to name it"


def affixes(currency: str | None) -> tuple[str, str]:
    """What goes before and after an amount: ('£', ''), ('', ' CHF'), or ('', '') when unknown."""
    if currency in SYMBOLS:
        return SYMBOLS[currency], ""
    return "", f" {currency}" if currency else ""


def money(value: float | None, currency: str | None, digits: int = 0, millions: bool = False) -> str:
    """An amount with its currency: '£1,234', '1,234 CHF', or just '1,234' when the currency is unknown;
    millions writes '£1.76M' (cards)."""
    if value is None:
        return "–"
    text = f"{abs(value) / 1e6:,.2f}M" if millions else f"{abs(value):,.{digits}f}"
    before, after = affixes(currency)
    return f"{'-' if value < 0 else ''}{before}{text}{after}"


def unit(currency: str | None) -> str:
    """The unit in a money column's header or axis title: 'GBP', or 'currency unknown'."""
    return currency or "currency unknown"
