"""Seeded synthetic sales lines in the Online Retail layout, for scale tests, benchmarks and demos.

Customers follow personas (champions, loyal, big spenders, bargain seekers, new, at risk, casual,
lost one-off buyers and a few wholesale outliers) so segments are there to be found. Countries, tenures,
seasonality (autumn build-up, Christmas peak and closure, no Saturdays, 7:00-20:59), multi-line invoices
over a Zipf-popular catalogue, later 'C' cancellations, guest invoices without CustomerID, ~1% exact
duplicate lines and a handful of zero prices mimic UCI Online Retail.

Size: identified customers average about 20 purchase lines each; guest lines add
missing_id_share / (1 - missing_id_share) of that, cancellations and duplicates ~2% more, so the file
holds about 25 lines per customer at the default missing_id_share=0.2 (200k customers ~ 5M lines).

Everything comes from one numpy.random.default_rng(seed), in a fixed order: same arguments, same bytes.
Invoice headers are drawn for all customers first (about one per 7 lines), sorted by time and numbered
from 536365; their lines are then drawn and written in time order, about CHUNK_LINES at a time.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmentation.errors import InputError

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
SUFFIXES = (".csv", ".parquet")
# Parquet types: CustomerID is a nullable int64, InvoiceDate a timestamp without time zone.
PARQUET_SCHEMA = pa.schema(
    [
        ("InvoiceNo", pa.string()),
        ("StockCode", pa.string()),
        ("Description", pa.string()),
        ("Quantity", pa.int64()),
        ("InvoiceDate", pa.timestamp("us")),
        ("UnitPrice", pa.float64()),
        ("CustomerID", pa.int64()),
        ("Country", pa.string()),
    ]
)

CHUNK_LINES = 1_000_000
FIRST_INVOICE = 536365
FIRST_CUSTOMER = 12346
PRODUCTS = 4000
MAX_LINES = 300  # lines per invoice
DUPLICATE_SHARE = 0.01
ZERO_PRICE_SHARE = 5e-5
PARTIAL_RETURN_SHARE = 0.25  # cancelled lines that return only part of the quantity
CANCEL_DELAY_DAYS = 6.0  # mean delay of a cancellation, in average trading days

# Country: (name as spelled in UCI Online Retail, weight); United Kingdom ~85% of customers.
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("United Kingdom", 85.0),
    ("Germany", 2.4),
    ("France", 2.2),
    ("EIRE", 1.0),
    ("Spain", 0.9),
    ("Belgium", 0.7),
    ("Netherlands", 0.6),
    ("Switzerland", 0.6),
    ("Portugal", 0.55),
    ("Italy", 0.45),
    ("Australia", 0.4),
    ("Norway", 0.35),
    ("Finland", 0.35),
    ("Austria", 0.3),
    ("Channel Islands", 0.3),
    ("Denmark", 0.28),
    ("Sweden", 0.28),
    ("Cyprus", 0.25),
    ("Japan", 0.22),
    ("Poland", 0.2),
    ("USA", 0.15),
    ("Canada", 0.12),
    ("Israel", 0.12),
    ("Greece", 0.1),
    ("Singapore", 0.08),
    ("Iceland", 0.05),
)

# Persona columns: share, invoices (min, extra Poisson mean, max), recency in days before the window's
# end (min, max), minimum span first->last purchase, first purchase within this many days of the end
# (0: anywhere), mean lines per invoice, quantity multiplier, share of lines from the cheap and premium
# product pools, probability that an invoice is partly cancelled.
# fmt: off
PERSONA_FIELDS = (
    "share", "inv_min", "inv_extra", "inv_max", "rec_min", "rec_max", "span_min", "first_within",
    "lines", "qty", "cheap", "premium", "cancel",
)
PERSONAS: dict[str, tuple[float, ...]] = {
    "champions":     (0.050, 6, 6.0, 60, 0, 30, 240, 0, 7.5, 1.5, 0.10, 0.10, 0.05),
    "loyal":         (0.110, 3, 3.0, 30, 0, 90, 180, 0, 5.0, 1.0, 0.10, 0.05, 0.04),
    "big_spenders":  (0.050, 2, 1.0, 8, 0, 200, 60, 0, 11.0, 3.0, 0.05, 0.50, 0.06),
    "bargain":       (0.090, 3, 2.0, 20, 0, 150, 120, 0, 7.5, 1.8, 0.75, 0.00, 0.03),
    "new":           (0.120, 1, 0.5, 5, 0, 59, 0, 60, 4.5, 1.0, 0.10, 0.05, 0.02),
    "at_risk":       (0.110, 4, 2.0, 25, 180, 365, 180, 0, 4.5, 1.2, 0.10, 0.05, 0.05),
    "casual":        (0.200, 1, 1.0, 10, 0, 420, 30, 0, 4.5, 0.8, 0.10, 0.05, 0.03),
    "lost":          (0.266, 1, 0.0, 1, 240, 10**6, 0, 0, 3.7, 0.8, 0.10, 0.05, 0.01),
    "wholesale":     (0.004, 3, 2.0, 20, 0, 120, 300, 0, 25.0, 60.0, 0.20, 0.10, 0.08),
}
# fmt: on
GUEST = (0.0, 1, 0.0, 1, 0, 0, 0, 0, 8.0, 1.0, 0.10, 0.05, 0.0)  # guest invoices: no customer, no returns
LINES_SIGMA = 0.7  # log-normal spread of lines per invoice

LAST_MINUTE = 20 * 60 + 59
HOUR_WEIGHTS = np.array([4, 89, 343, 490, 577, 787, 723, 675, 775, 545, 285, 80, 37, 9], dtype=float)  # 7..20
PACKS = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 36, 48, 72, 96, 144])
PACK_WEIGHTS = np.array([30, 18, 10, 8, 2, 9, 3, 4, 10, 1, 1.5, 4, 0.6, 1, 0.3, 0.3, 0.1])
MONTH_WEIGHTS = np.array([0.75, 0.7, 0.95, 0.85, 1.0, 0.95, 0.9, 0.85, 1.15, 1.35, 1.75, 1.8])
WEEKDAY_WEIGHTS = np.array([1.0, 1.05, 1.1, 1.15, 0.85, 0.0, 0.65])  # Monday..Sunday: closed on Saturdays

# fmt: off
ADJECTIVES = (
    "JUMBO", "SMALL", "LARGE", "MINI", "VINTAGE", "RETRO", "SET OF 3", "SET OF 6", "PACK OF 12", "HANGING",
    "GLASS", "WOODEN", "CERAMIC", "ENAMEL", "PAPER", "FELT", "REGENCY", "FRENCH", "SWISS", "ANTIQUE",
)
PATTERNS = (
    "RED RETROSPOT", "PINK POLKADOT", "WHITE", "BLUE", "IVORY", "GREEN", "SPACEBOY", "DOLLY GIRL", "PAISLEY",
    "BAROQUE", "SKULLS", "STRAWBERRY", "HEART", "STAR", "BIRD", "FLORAL", "VINTAGE LEAF", "CHRISTMAS",
    "GINGHAM", "LOVE",
)
NOUNS = (
    "BAG", "LUNCH BOX", "CAKE TIN", "T-LIGHT HOLDER", "TEA CUP", "MUG", "NAPKINS", "BUNTING", "DOORMAT",
    "CUSHION COVER", "PHOTO FRAME", "ALARM CLOCK", "CHALKBOARD", "CANDLE", "PARTY CUPS", "STORAGE JAR",
    "WATER BOTTLE", "NOTEBOOK", "COAT HANGER", "SIGN", "LANTERN", "WALL CLOCK", "APRON", "BAKING SET",
    "PURSE", "GIFT WRAP", "BOWL", "JIGSAW", "PLAYING CARDS", "TRINKET BOX",
)
# fmt: on
SUFFIXES_WITH_COMMA = (", ASSORTED", ", 2 STYLES", ", 3 STYLES", ", SMALL", ", LARGE")  # quoted in the CSV


@dataclass(frozen=True)
class GenerateSummary:
    """What generate() wrote: the file, its data lines (header excluded), customers and wall time."""

    path: Path
    lines: int
    customers: int
    seconds: float


def generate(
    out: Path,
    customers: int,
    seed: int = 0,
    start: date = date(2010, 12, 1),
    days: int = 730,
    missing_id_share: float = 0.2,
    progress: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Write a seeded synthetic sales file of `customers` customers to `out` (.csv or .parquet)."""
    began = time.perf_counter()
    out = Path(out)
    fmt = _check(out, customers, days, missing_id_share)
    rng = np.random.default_rng(seed)
    cat = _catalogue(rng)
    cdf = _day_cdf(start, days)
    heads = _headers(rng, customers, days, cdf, missing_id_share)
    origin = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    lines = 0
    try:
        with contextlib.ExitStack() as stack:
            if fmt == "csv":
                fh = stack.enter_context(open(tmp, "wb"))
                fh.write(HEADER.encode())
                append, format_chunk = fh.write, _csv_chunk
            else:
                writer = stack.enter_context(pq.ParquetWriter(tmp, PARQUET_SCHEMA, compression="zstd"))
                append, format_chunk = writer.write_table, _parquet_chunk
            for chunk in _line_chunks(rng, heads, cat):
                append(format_chunk(chunk, heads, cat, origin))
                lines += len(chunk["prod"])
                if progress is not None:
                    progress(f"{out}: {lines:,} lines written")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return GenerateSummary(path=out, lines=lines, customers=customers, seconds=time.perf_counter() - began)


def _check(out: Path, customers: int, days: int, missing_id_share: float) -> str:
    """Validate the arguments; return 'csv' or 'parquet'."""
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{out}: expected a file name ending in .csv or .parquet.")
    if customers < 1:
        raise InputError(f"{out}: expected at least 1 customer, got {customers}.")
    if days < 1:
        raise InputError(f"{out}: expected a window of at least 1 day, got {days}.")
    if not 0.0 <= missing_id_share < 1.0:
        raise InputError(f"{out}: expected a missing CustomerID share in [0, 1), got {missing_id_share}.")
    return suffix[1:]


@dataclass(frozen=True)
class _Catalogue:
    """Products: display strings, prices and the popularity CDFs of the general, cheap and premium pools."""

    codes: pa.Array
    descriptions: pa.Array
    csv_code_desc: pa.Array  # 'StockCode,Description' with the description quoted when it holds a comma
    csv_price: pa.Array
    price: np.ndarray
    pools: tuple[tuple[np.ndarray, np.ndarray], ...]  # (product ids, cumulative popularity) per pool


def _catalogue(rng: np.random.Generator) -> _Catalogue:
    """Draw PRODUCTS products with unique codes and descriptions, a price each and Zipf-like popularity."""
    numbers = rng.choice(90_000, PRODUCTS, replace=False) + 10_000
    letters = np.where(rng.random(PRODUCTS) < 0.12, rng.integers(0, 6, PRODUCTS), -1)
    codes = [
        f"{n}{'ABCDEF'[k] if k >= 0 else ''}" for n, k in zip(numbers.tolist(), letters.tolist(), strict=True)
    ]
    combos = rng.choice(len(ADJECTIVES) * len(PATTERNS) * len(NOUNS), PRODUCTS, replace=False)
    suffixes = np.where(rng.random(PRODUCTS) < 0.05, rng.integers(0, len(SUFFIXES_WITH_COMMA), PRODUCTS), -1)
    descriptions = []
    for combo, suffix in zip(combos.tolist(), suffixes.tolist(), strict=True):
        adjective, rest = divmod(combo, len(PATTERNS) * len(NOUNS))
        pattern, noun = divmod(rest, len(NOUNS))
        text = f"{ADJECTIVES[adjective]} {PATTERNS[pattern]} {NOUNS[noun]}"
        descriptions.append(text + SUFFIXES_WITH_COMMA[suffix] if suffix >= 0 else text)
    raw = np.exp(rng.normal(np.log(2.5), 0.9, PRODUCTS))
    price = np.where(raw < 1.0, np.round(raw, 2), np.round(raw * 20) / 20 - 0.05)
    price = np.clip(price, 0.1, 650.0).round(2)
    popularity = 1.0 / (rng.permutation(PRODUCTS) + 10.0)
    pools = []
    for mask in (np.ones(PRODUCTS, bool), price <= 1.25, price >= 6.0):
        ids = np.flatnonzero(mask)
        pools.append((ids, np.cumsum(popularity[ids]) / popularity[ids].sum()))
    csv_desc = [f'"{d}"' if "," in d else d for d in descriptions]
    return _Catalogue(
        codes=pa.array(codes),
        descriptions=pa.array(descriptions),
        csv_code_desc=pa.array([f"{c},{d}" for c, d in zip(codes, csv_desc, strict=True)]),
        csv_price=pa.array([f"{p:.2f}" for p in price.tolist()] + ["0.00"]),  # last: the zero price
        price=price,
        pools=tuple(pools),
    )


def _day_cdf(start: date, days: int) -> np.ndarray:
    """Cumulative order weight of each day of the window: season, weekday, a mild trend, Christmas closure."""
    day = np.datetime64(start.isoformat(), "D") + np.arange(days)
    month = day.astype("datetime64[M]").astype(np.int64) % 12
    mday = (day - day.astype("datetime64[M]")).astype(np.int64) + 1
    weekday = (day.astype(np.int64) + 3) % 7
    weight = MONTH_WEIGHTS[month] * WEEKDAY_WEIGHTS[weekday] * (1.0 + 0.15 * np.arange(days) / 365.0)
    december = month == 11
    weight[december & (mday >= 21)] *= 0.35
    weight[(december & (mday >= 24)) | ((month == 0) & (mday <= 3))] = 0.0  # closed over Christmas
    if weight.sum() == 0:  # a tiny window of closed days only: trade anyway
        weight[:] = 1.0
    return np.cumsum(weight)


def _sample_days(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Day index for positions u on the cumulative weight scale (closed days are never hit)."""
    u = np.clip(u, 0.0, np.nextafter(cdf[-1], 0.0))
    return np.searchsorted(cdf, u, side="right")


def _between(rng: np.random.Generator, cdf: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Uniform positions on the cumulative weight scale within days lo..hi (so weighted by day)."""
    left = np.where(lo > 0, cdf[lo - 1], 0.0)
    return left + (cdf[hi] - left) * rng.random(len(lo))


def _table(rows: list[tuple[float, ...]]) -> dict[str, np.ndarray]:
    """Persona rows as one array per field."""
    cols = np.array(rows, dtype=float).T
    return {name: cols[i] for i, name in enumerate(PERSONA_FIELDS)}


def _lines_per_invoice(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """Log-normal lines per invoice with the given means, at least 1 and at most MAX_LINES."""
    mu = np.log(mean) - LINES_SIGMA**2 / 2
    return np.clip(np.rint(rng.lognormal(mu, LINES_SIGMA)), 1, MAX_LINES).astype(np.int64)


def _headers(
    rng: np.random.Generator, customers: int, days: int, cdf: np.ndarray, missing_id_share: float
) -> dict[str, np.ndarray]:
    """Every invoice (purchases, cancellations, guests) sorted by time, with its numbers and line counts."""
    p = _table(list(PERSONAS.values()) + [GUEST])
    guest_persona = len(PERSONAS)
    persona = rng.choice(len(PERSONAS), customers, p=p["share"][:-1] / p["share"][:-1].sum())
    country = rng.choice(len(COUNTRIES), customers, p=_country_p())

    # Per customer: number of invoices, last and first purchase day.
    n_inv = p["inv_min"][persona] + rng.poisson(p["inv_extra"][persona])
    n_inv = np.minimum(n_inv, p["inv_max"][persona]).astype(np.int64)
    last_lo = np.clip(days - 1 - p["rec_max"][persona], 0, days - 1).astype(np.int64)
    last_hi = np.clip(days - 1 - p["rec_min"][persona], last_lo, days - 1).astype(np.int64)
    u_last = _between(rng, cdf, last_lo, last_hi)
    last = _sample_days(cdf, u_last)
    first_lo = np.where(p["first_within"][persona] > 0, days - p["first_within"][persona], 0)
    first_lo = np.clip(first_lo, 0, last).astype(np.int64)
    first_hi = np.maximum(last - p["span_min"][persona], first_lo).astype(np.int64)
    u_first = np.minimum(_between(rng, cdf, first_lo, first_hi), u_last)

    # Per invoice: a seasonal day between the customer's first and last (both pinned), a minute, lines.
    cust = np.repeat(np.arange(customers), n_inv)
    k = np.arange(len(cust)) - np.repeat(np.cumsum(n_inv) - n_inv, n_inv)
    n = n_inv[cust]
    ua, ub = u_first[cust], u_last[cust]
    u = np.where(k == 0, ua, np.where(k == n - 1, ub, ua + (ub - ua) * rng.random(len(cust))))
    u = np.where(n == 1, ub, u)
    inv_persona = persona[cust]
    inv_lines = _lines_per_invoice(rng, p["lines"][inv_persona])

    # Cancellations: later, with the first k lines of their invoice.
    cancelled = rng.random(len(cust)) < p["cancel"][inv_persona]
    u_cancel = u + rng.exponential(CANCEL_DELAY_DAYS * cdf[-1] / days, len(cust))
    cancelled &= u_cancel < cdf[-1]
    orig = np.flatnonzero(cancelled)
    cancel_lines = 1 + rng.binomial(inv_lines[orig] - 1, 0.25)

    # Guest invoices until their lines reach the missing share of all lines.
    target = missing_id_share / (1.0 - missing_id_share) * (inv_lines.sum() + cancel_lines.sum())
    guess = int(np.ceil(target / p["lines"][guest_persona] * 1.3)) + 10 if target > 0 else 0
    guest_lines = _lines_per_invoice(rng, np.full(guess, p["lines"][guest_persona]))
    guest_lines = guest_lines[: int(np.searchsorted(np.cumsum(guest_lines), target)) + 1]
    n_guest = len(guest_lines)
    u_guest = rng.random(n_guest) * cdf[-1]

    n_buy, n_cancel = len(cust), len(orig)
    day = _sample_days(cdf, np.concatenate([u, u_guest, u_cancel[orig]]))
    minute = _minutes(rng, n_buy + n_guest + n_cancel)
    cancel_rows = np.arange(n_buy + n_guest, n_buy + n_guest + n_cancel)
    same_day = day[cancel_rows] == day[orig]
    later = np.minimum(minute[orig] + 1 + rng.integers(0, 120, n_cancel), LAST_MINUTE)
    later = np.maximum(minute[cancel_rows], later)
    minute[cancel_rows] = np.where(same_day, later, minute[cancel_rows])

    ts = day * 86_400 + minute * 60
    order = np.lexsort((np.arange(len(ts)), ts))
    pos = np.empty_like(order)
    pos[order] = np.arange(len(order))
    no_customer = np.full(n_guest, -1)
    heads = {
        "ts": ts,
        "kind": np.repeat(np.array([0, 1, 2], np.int8), [n_buy, n_guest, n_cancel]),
        "customer": np.concatenate([cust + FIRST_CUSTOMER, no_customer, cust[orig] + FIRST_CUSTOMER]),
        "country": np.concatenate(
            [country[cust], rng.choice(len(COUNTRIES), n_guest, p=_country_p()), country[cust[orig]]]
        ),
        "persona": np.concatenate([inv_persona, np.full(n_guest, guest_persona), inv_persona[orig]]),
        "lines": np.concatenate([inv_lines, guest_lines, cancel_lines]),
        "cancel_pos": np.full(len(ts), -1),  # for a cancelled purchase: its cancellation's sorted position
        "cancel_lines": np.zeros(len(ts), np.int64),
    }
    heads["cancel_pos"][orig] = pos[cancel_rows]
    heads["cancel_lines"][orig] = cancel_lines
    sorted_heads = {name: values[order] for name, values in heads.items()}
    sorted_heads.update({f"p_{name}": values for name, values in p.items()})
    return sorted_heads


def _country_p() -> np.ndarray:
    """Country probabilities in COUNTRIES order."""
    weights = np.array([w for _, w in COUNTRIES])
    return weights / weights.sum()


def _minutes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Minute of the day, in opening hours 7:00-20:59 with UCI's hourly profile."""
    hour = 7 + rng.choice(len(HOUR_WEIGHTS), n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return np.minimum(hour * 60 + rng.integers(0, 60, n), LAST_MINUTE - 1)  # a same-day return fits after


def _line_chunks(
    rng: np.random.Generator, heads: dict[str, np.ndarray], cat: _Catalogue
) -> Iterator[dict[str, np.ndarray]]:
    """Yield lines in invoice order, about CHUNK_LINES at a time."""
    counts = heads["lines"]
    ends = np.cumsum(counts)
    n_heads = len(counts)
    pending = {
        "pos": np.empty(0, np.int64),
        "line": np.empty(0, np.int64),
        "prod": np.empty(0, np.int64),
        "qty": np.empty(0, np.int64),
    }
    h0 = 0
    while h0 < n_heads:
        done = ends[h0 - 1] if h0 else 0
        h1 = min(int(np.searchsorted(ends, done + CHUNK_LINES, side="left")) + 1, n_heads)
        chunk, pending = _chunk(rng, heads, cat, h0, h1, pending)
        yield chunk
        h0 = h1


def _chunk(
    rng: np.random.Generator,
    heads: dict[str, np.ndarray],
    cat: _Catalogue,
    h0: int,
    h1: int,
    pending: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Lines of headers h0..h1-1: draw purchase lines, set aside their returns, place due returns."""
    counts = heads["lines"][h0:h1]
    starts = np.cumsum(counts) - counts
    buys = np.flatnonzero(heads["kind"][h0:h1] != 2)
    hidx = np.repeat(buys, counts[buys])
    line = np.arange(len(hidx)) - np.repeat(np.cumsum(counts[buys]) - counts[buys], counts[buys])
    persona = heads["persona"][h0:h1][hidx]
    prod = _products(rng, heads, cat, persona, hidx)
    base = PACKS[rng.choice(len(PACKS), len(hidx), p=PACK_WEIGHTS / PACK_WEIGHTS.sum())]
    mult = heads["p_qty"][persona] * rng.lognormal(0.0, 0.25, len(hidx))
    mult *= np.where(cat.price[prod] < 1.0, 1.5, 1.0)  # cheap items go in larger numbers
    qty = np.maximum(np.rint(base * mult), 1).astype(np.int64)

    # Set aside the returns of this chunk's cancelled purchases (their first cancel_lines lines).
    keep = line < heads["cancel_lines"][h0:h1][hidx]
    back = qty[keep]
    partial = rng.random(len(back)) < PARTIAL_RETURN_SHARE
    back = np.where(partial, np.maximum(np.floor(back * rng.uniform(0.2, 0.9, len(back))), 1), back)
    new = {"pos": heads["cancel_pos"][h0:h1][hidx][keep], "line": line[keep], "prod": prod[keep]}
    new["qty"] = -back
    pending = {name: np.concatenate([pending[name], new[name]]) for name in pending}
    due = pending["pos"] < h1
    ret = {name: values[due] for name, values in pending.items()}
    pending = {name: values[~due] for name, values in pending.items()}

    # Place purchases and due returns at their invoice's offset, then repeat ~1% of purchase lines.
    total = int(counts.sum())
    dest = np.concatenate([starts[hidx] + line, starts[ret["pos"] - h0] + ret["line"]])
    out = {name: np.empty(total, np.int64) for name in ("head", "prod", "qty")}
    out["head"][dest] = np.concatenate([hidx, ret["pos"] - h0]) + h0
    out["prod"][dest] = np.concatenate([prod, ret["prod"]])
    out["qty"][dest] = np.concatenate([qty, ret["qty"]])
    repeat = 1 + ((rng.random(total) < DUPLICATE_SHARE) & (out["qty"] > 0))
    out = {name: np.repeat(values, repeat) for name, values in out.items()}
    out["zero_price"] = (rng.random(len(out["prod"])) < ZERO_PRICE_SHARE) & (out["qty"] > 0)
    return out, pending


def _products(
    rng: np.random.Generator,
    heads: dict[str, np.ndarray],
    cat: _Catalogue,
    persona: np.ndarray,
    hidx: np.ndarray,
) -> np.ndarray:
    """Draw a product per line from its persona's pools; redraw repeats so an invoice's codes are distinct."""
    cheap, premium = heads["p_cheap"][persona], heads["p_premium"][persona]
    pick = rng.random(len(persona))
    pool = np.where(pick < cheap, 1, np.where(pick < cheap + premium, 2, 0))
    u = rng.random(len(persona))
    prod = np.empty(len(persona), np.int64)
    for i, (ids, cdf) in enumerate(cat.pools):
        mask = pool == i
        prod[mask] = ids[np.minimum(np.searchsorted(cdf, u[mask], side="right"), len(ids) - 1)]
    while True:
        key = hidx * PRODUCTS + prod
        order = np.argsort(key, kind="stable")
        dup = order[1:][key[order[1:]] == key[order[:-1]]]
        if len(dup) == 0:
            return prod
        prod[dup] = rng.integers(0, PRODUCTS, len(dup))


def _csv_chunk(
    chunk: dict[str, np.ndarray], heads: dict[str, np.ndarray], cat: _Catalogue, origin: int
) -> memoryview:
    """The chunk as UTF-8 CSV lines, joined by Arrow (only descriptions with a comma are quoted)."""
    lo, hi = int(chunk["head"][0]), int(chunk["head"][-1]) + 1
    h = _head_strings(heads, lo, hi, origin)
    local = pa.array(chunk["head"] - lo)
    price_idx = np.where(chunk["zero_price"], PRODUCTS, chunk["prod"])
    text = pc.binary_join_element_wise(
        h["invoice"].take(local),
        cat.csv_code_desc.take(pa.array(chunk["prod"])),
        pc.cast(pa.array(chunk["qty"]), pa.string()),
        h["date"].take(local),
        cat.csv_price.take(pa.array(price_idx)),
        h["tail"].take(local),
        ",",
    )
    offsets = np.frombuffer(text.buffers()[1], np.int32, len(text) + 1, text.offset * 4)
    return memoryview(text.buffers()[2])[offsets[0] : offsets[-1]]


def _parquet_chunk(
    chunk: dict[str, np.ndarray], heads: dict[str, np.ndarray], cat: _Catalogue, origin: int
) -> pa.Table:
    """The chunk as an Arrow table of PARQUET_SCHEMA."""
    lo, hi = int(chunk["head"][0]), int(chunk["head"][-1]) + 1
    invoice = _head_strings(heads, lo, hi, origin)["invoice"].take(pa.array(chunk["head"] - lo))
    prod = pa.array(chunk["prod"])
    customer = heads["customer"][chunk["head"]]
    countries = pa.array([name for name, _ in COUNTRIES])
    columns = [
        invoice,
        cat.codes.take(prod),
        cat.descriptions.take(prod),
        pa.array(chunk["qty"]),
        pa.array((heads["ts"][chunk["head"]] + origin) * 1_000_000, pa.timestamp("us")),
        pa.array(np.where(chunk["zero_price"], 0.0, cat.price[chunk["prod"]])),
        pa.array(customer, pa.int64(), mask=customer < 0),
        countries.take(pa.array(heads["country"][chunk["head"]])),
    ]
    return pa.Table.from_arrays(columns, schema=PARQUET_SCHEMA)


def _head_strings(heads: dict[str, np.ndarray], lo: int, hi: int, origin: int) -> dict[str, pa.Array]:
    """Text of headers lo..hi-1: invoice number ('C' for cancellations), date, and 'CustomerID,Country\\n'."""
    number = pc.cast(pa.array(np.arange(lo, hi) + FIRST_INVOICE), pa.string())
    cancel = pa.array(heads["kind"][lo:hi] == 2)
    invoice = pc.if_else(cancel, pc.binary_join_element_wise("C", number, ""), number)
    date_text = pc.cast(pa.array(heads["ts"][lo:hi] + origin, pa.timestamp("s")), pa.string())
    customer = heads["customer"][lo:hi]
    ids = pc.fill_null(pc.cast(pa.array(customer, pa.int64(), mask=customer < 0), pa.string()), "")
    countries = pa.array([f"{name}\n" for name, _ in COUNTRIES]).take(pa.array(heads["country"][lo:hi]))
    return {"invoice": invoice, "date": date_text, "tail": pc.binary_join_element_wise(ids, countries, ",")}
