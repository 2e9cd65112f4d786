"""Independent pandas check of the cleaning rules and customer features written in docs/cleaning.md.

Recomputes every rule and every customer's features from the raw sales file with pandas and exact integer
money (units of 0.0001), following only the written spec, and compares them with a stored run:

    python bench/check_features_pandas.py --input data.csv.gz [--db FILE.duckdb [--run N]]

Without --db it prints its own rule table, totals and spot checks. Exit code 0 when everything matches.

Readings of the spec where it leaves room: a purchase cancelled in full (net quantity 0) is never an outlier,
whatever its unit price; returns at the same time are taken in file-line order; recency/tenure are calendar
days from the purchase's date to the snapshot date; avg_basket_value rounds the exact net revenue / frequency;
return_rate is capped at 1 before rounding (half up) to 4 places; country ties go to the smaller code point.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

import numpy as np
import pandas as pd

SCALE = 10_000  # prices and money are integers in units of 0.0001
FACTOR = 20  # --outlier-factor default
NON_PRODUCT = {"POST", "DOT", "C2", "M", "BANK CHARGES", "AMAZONFEE", "CRUK", "B", "S", "D"}
RULES = [
    "missing_customer_id",
    "unparseable_date",
    "after_snapshot",
    "exact_duplicate",
    "non_product",
    "non_positive",
    "unmatched_return",
    "extreme_outlier",
    "return_of_removed_purchase",
]
RAW = "InvoiceNo StockCode Description Quantity InvoiceDate UnitPrice CustomerID Country".split()
SPOT_IDS = ["16446", "15098", "12346"]
# feature -> how it is compared: exact, cents (|diff| < 0.005) or rate (|diff| <= 1e-4)
FEATURES = {
    "country": "exact",
    "first_purchase": "exact",
    "last_purchase": "exact",
    "recency_days": "exact",
    "frequency": "exact",
    "monetary": "cents",
    "quantity": "exact",
    "avg_basket_value": "cents",
    "tenure_days": "exact",
    "distinct_products": "exact",
    "return_rate": "rate",
}


def parse_price(text: str) -> int | None:
    """Unit price as integer units of 0.0001 (4 places, half away from zero); None when unparseable."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return int((value * SCALE).to_integral_value(ROUND_HALF_UP)) if value.is_finite() else None


def parse_quantity(text: str) -> int | None:
    """Quantity as an integer; None when missing, unparseable or not a whole number."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return int(value) if value.is_finite() and value == value.to_integral_value() else None


def parse_column(col: pd.Series, parse: Callable[[str], int | None]) -> pd.Series:
    """Parse each distinct text of a column once; missing values become <NA>."""
    mapping = {text: parse(text) for text in col.unique()}
    return pd.Series(col.map(mapping), index=col.index, dtype="Int64")


def money_text(units: int | Decimal) -> str:
    """Money in 0.0001 units (int) or a Decimal amount, printed with 4 places."""
    value = Decimal(units).scaleb(-4) if isinstance(units, int) else Decimal(units)
    return f"{value:,.4f}"


def round_div(num: int, den: int) -> int:
    """num / den rounded half away from zero to an integer (den > 0)."""
    sign = -1 if num < 0 else 1
    return sign * ((2 * abs(num) + den) // (2 * den))


def load(path: str) -> pd.DataFrame:
    """Read the raw file as text and derive the typed columns the rules need."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")[RAW]
    df["line"] = np.arange(len(df), dtype=np.int64)
    qty, price = parse_column(df["Quantity"], parse_quantity), parse_column(df["UnitPrice"], parse_price)
    df["q_missing"], df["p_missing"] = qty.isna(), price.isna()
    df["qty"], df["price"] = qty.fillna(0).astype(np.int64), price.fillna(0).astype(np.int64)
    df["cust"] = df["CustomerID"].str.strip().str.replace(r"\.0*$", "", regex=True)
    df["time"] = pd.to_datetime(df["InvoiceDate"].str.strip(), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    df["is_return"] = df["InvoiceNo"].str.strip().str.upper().str.startswith("C") | (df["qty"] < 0)
    df["units"] = df["qty"].abs()
    df["money"] = np.where(df["is_return"], -1, 1) * df["units"] * df["price"]
    df["key"] = df["StockCode"].str.strip().str.upper()
    return df


def fifo_match(purch: pd.DataFrame, rets: pd.DataFrame) -> pd.DataFrame:
    """Simulate FIFO per (customer, stock key): each return eats the earliest purchased units not after it."""
    queues: dict[tuple[str, str], list[list]] = {}
    pairs = set(zip(rets["cust"], rets["key"], strict=True))
    cand = purch[pd.MultiIndex.from_arrays([purch["cust"], purch["key"]]).isin(list(pairs))]
    cand = cand.sort_values(["time", "line"])
    for row in zip(cand["cust"], cand["key"], cand["time"], cand["line"], cand["qty"], strict=True):
        queues.setdefault(row[:2], []).append(list(row[2:]))  # [time, line, units left] in (time, line) order
    heads: dict[tuple[str, str], int] = {}  # per group: index of the earliest purchase with units left
    rows: list[tuple[int, int, int]] = []
    rets = rets.sort_values(["time", "line"])
    for cust, key, r_time, r_line, need in zip(
        rets["cust"], rets["key"], rets["time"], rets["line"], rets["units"], strict=True
    ):
        queue, head = queues.get((cust, key), []), heads.get((cust, key), 0)
        while need > 0 and head < len(queue) and queue[head][0] <= r_time:
            take = min(need, queue[head][2])
            rows.append((queue[head][1], r_line, take))
            queue[head][2] -= take
            need -= take
            if queue[head][2] == 0:
                head += 1
        heads[(cust, key)] = head
    return pd.DataFrame(rows, columns=["p_line", "r_line", "units"], dtype=np.int64)


def percentile99(values: np.ndarray) -> Fraction:
    """Exact 99th percentile with numpy's default linear interpolation (virtual index (n-1) x 0.99)."""
    v = np.sort(values)
    h = Fraction(99, 100) * (len(v) - 1)
    lo = int(h)
    hi = min(lo + 1, len(v) - 1)
    return int(v[lo]) + (h - lo) * (int(v[hi]) - int(v[lo]))


def clean(df: pd.DataFrame) -> tuple[dict[str, tuple[int, int]], pd.DataFrame, pd.DataFrame]:
    """Apply rules 1-9; return {rule: (lines, money)}, kept purchase lines and kept matched allocations."""
    steps: dict[str, tuple[int, int]] = {}

    def drop(cur: pd.DataFrame, mask: pd.Series, rule: str) -> pd.DataFrame:
        steps[rule] = (int(mask.sum()), int(cur.loc[mask, "money"].sum()))
        return cur[~mask]

    cur = drop(df, df["cust"] == "", "missing_customer_id")
    cur = drop(cur, cur["time"].isna(), "unparseable_date")
    steps["after_snapshot"] = (0, 0)  # no --snapshot-date
    cur = drop(cur, cur.duplicated(subset=RAW, keep="first"), "exact_duplicate")
    cur = drop(cur, cur["key"].isin(NON_PRODUCT), "non_product")
    ret, bad_price = cur["is_return"], cur["p_missing"] | (cur["price"] <= 0)
    bad = (~ret & (cur["q_missing"] | (cur["qty"] == 0) | bad_price)) | (ret & (bad_price | cur["q_missing"]))
    cur = drop(cur, bad, "non_positive")
    purch, rets = cur[~cur["is_return"]].copy(), cur[cur["is_return"]].copy()

    alloc = fifo_match(purch, rets)  # rule 7
    rets["matched"] = rets["line"].map(alloc.groupby("r_line")["units"].sum()).fillna(0).astype(np.int64)
    unmatched_money = -((rets["units"] - rets["matched"]) * rets["price"]).sum()
    steps["unmatched_return"] = (int((rets["matched"] == 0).sum()), int(unmatched_money))
    rets = rets[rets["matched"] > 0]

    q99 = percentile99(purch["qty"].to_numpy())  # rule 8, percentiles over purchases after rule 6
    p99 = percentile99(purch["price"].to_numpy())  # in 0.0001 units
    # for an integer x: x > F x p99 <=> x > floor(F x p99)
    q_lim, p_lim = math.floor(FACTOR * q99), math.floor(FACTOR * p99)
    caps = f"{q_lim} units, price {p_lim / SCALE:g}"
    print(
        f"rule 8: p99 quantity {float(q99):g}, price {float(p99) / SCALE:g}; removed above {caps} (x{FACTOR})"
    )
    returned = purch["line"].map(alloc.groupby("p_line")["units"].sum()).fillna(0).astype(np.int64)
    purch["net"] = purch["qty"] - returned
    outlier = (purch["net"] > 0) & ((purch["net"] > q_lim) | (purch["price"] > p_lim))
    steps["extreme_outlier"] = (int(outlier.sum()), int(purch.loc[outlier, "money"].sum()))
    removed = set(purch.loc[outlier, "line"])

    alloc["r_price"] = alloc["r_line"].map(rets.set_index("line")["price"])  # rule 9
    alloc["kept"] = ~alloc["p_line"].isin(removed)
    gone = ~rets["line"].isin(alloc.loc[alloc["kept"], "r_line"])
    money9 = -(alloc.loc[~alloc["kept"], "units"] * alloc.loc[~alloc["kept"], "r_price"]).sum()
    steps["return_of_removed_purchase"] = (int(gone.sum()), int(money9))
    kept_p = purch[~outlier]
    kept_a = alloc[alloc["kept"]].merge(kept_p[["line", "cust", "key"]], left_on="p_line", right_on="line")
    n_in, n_out, n_ret = len(df), sum(n for n, _ in steps.values()), int((~gone).sum())
    print(f"lines: {n_in:,} in = {n_out:,} removed + {len(kept_p) + n_ret:,} kept ({n_ret:,} are returns)")
    return steps, kept_p, kept_a


def features(purch: pd.DataFrame, alloc: pd.DataFrame) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Per-customer features from kept purchase lines and their kept matched returned units."""
    snapshot = purch["time"].max().normalize() + pd.Timedelta(days=1)
    alloc = alloc.assign(r_money=alloc["units"] * alloc["r_price"])
    g, ga = purch.groupby("cust"), alloc.groupby("cust")
    out = pd.DataFrame({"first_purchase": g["time"].min(), "last_purchase": g["time"].max()})
    out["recency_days"] = (snapshot - out["last_purchase"].dt.normalize()).dt.days
    out["tenure_days"] = (snapshot - out["first_purchase"].dt.normalize()).dt.days
    out["frequency"] = g["InvoiceNo"].nunique()
    bought = g["money"].sum()
    back = ga["r_money"].sum().reindex(out.index, fill_value=0)
    out["net"] = bought - back  # exact, 0.0001 units
    out["quantity"] = g["qty"].sum() - ga["units"].sum().reindex(out.index, fill_value=0)
    per_key = (
        purch.groupby(["cust", "key"])["qty"]
        .sum()
        .sub(alloc.groupby(["cust", "key"])["units"].sum(), fill_value=0)
    )
    out["distinct_products"] = (per_key > 0).groupby(level="cust").sum().reindex(out.index, fill_value=0)
    countries = purch.assign(c=purch["Country"].replace("", "Unknown")).groupby(["cust", "c"]).size()
    top = countries.reset_index(name="n").sort_values(["cust", "n", "c"], ascending=[True, False, True])
    out["country"] = top.drop_duplicates("cust").set_index("cust")["c"]
    cents = [round_div(int(n), 100) for n in out["net"]]
    out["monetary"] = [Decimal(c).scaleb(-2) for c in cents]
    basket = [round_div(int(n), 100 * int(f)) for n, f in zip(out["net"], out["frequency"], strict=True)]
    out["avg_basket_value"] = [Decimal(c).scaleb(-2) for c in basket]
    rate = [round_div(min(int(r), int(b)) * SCALE, int(b)) / SCALE for r, b in zip(back, bought, strict=True)]
    out["return_rate"] = rate
    return out, snapshot


def load_stored(db: str, run: int | None) -> tuple[int, dict[str, tuple[int, Decimal]], pd.DataFrame]:
    """Read one run's cleaning_steps and customers from the DuckDB file (read-only)."""
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        if run is None:
            run = con.execute("SELECT max(id) FROM runs").fetchone()[0]
        sql = "SELECT rule, removed, money FROM cleaning_steps WHERE run_id = ? ORDER BY step"
        rows = con.execute(sql, [run]).fetchall()
        cust = con.execute("SELECT * FROM customers WHERE run_id = ?", [run]).df()
    steps = {r: (int(n), Decimal(str(m)) if m is not None else Decimal("NaN")) for r, n, m in rows}
    return run, steps, cust.assign(customer_id=cust["customer_id"].astype(str)).set_index("customer_id")


def report_steps(mine: dict[str, tuple[int, int]], stored: dict[str, tuple[int, Decimal]] | None) -> bool:
    """Print the rule table (mine beside stored) and return whether every rule matches."""
    ok = True
    print(f"\n{'rule':<28}{'lines':>9}{'stored':>9}{'money':>18}{'stored':>18}  match")
    for rule in RULES + [r for r in (stored or {}) if r not in RULES]:
        n, money = mine.get(rule, (0, 0))
        if stored is None:
            print(f"{rule:<28}{n:>9,}{'':>9}{money_text(money):>18}")
            continue
        sn, sm = stored.get(rule, (0, Decimal(0)))
        same = n == sn and abs(Decimal(money).scaleb(-4) - sm) < Decimal("0.005")
        ok &= same
        mark = "yes" if same else "NO"
        print(f"{rule:<28}{n:>9,}{sn:>9,}{money_text(money):>18}{money_text(sm):>18}  {mark}")
    return ok


def diff_mask(a: pd.Series, b: pd.Series, kind: str) -> tuple[pd.Series, object]:
    """Which values differ under the feature's tolerance, and the largest difference."""
    if kind == "exact" and (a.dtype == object or b.dtype == object or str(a.dtype) == "str"):
        mask = a.astype(str) != b.astype(str)
        return mask, None
    if kind == "exact":
        mask = (a != b) | a.isna() | b.isna()
        delta = (a - b).abs()
        return mask, delta.max() if mask.any() else 0
    delta = (a.astype(float) - b.astype(float)).abs()
    mask = (delta >= 0.005) if kind == "cents" else (delta > 1e-4 + 1e-9)
    return mask | delta.isna(), delta.max()


def compare_customers(mine: pd.DataFrame, stored: pd.DataFrame) -> bool:
    """Compare the customer sets and every feature of the common customers; print the differences."""
    only_m, only_s = sorted(set(mine.index) - set(stored.index)), sorted(set(stored.index) - set(mine.index))
    print(
        f"\ncustomers: mine {len(mine):,}, stored {len(stored):,}, only mine {len(only_m)} {only_m[:5]}, "
        f"only stored {len(only_s)} {only_s[:5]}"
    )
    common = sorted(set(mine.index) & set(stored.index))
    ok = not only_m and not only_s
    for feat, kind in FEATURES.items():
        if feat not in stored.columns:
            print(f"  {feat:<18} missing from the stored table")
            ok = False
            continue
        a, b = mine.loc[common, feat], stored.loc[common, feat]
        mask, largest = diff_mask(a, b, kind)
        ok &= not mask.any()
        if not mask.any():
            print(f"  {feat:<18} differ {0:>5}")
            continue
        examples = ", ".join(f"{i}: {a[i]} vs {b[i]}" for i in mask[mask].index[:5])
        largest = f"{largest:.6g}" if isinstance(largest, float) else "-" if largest is None else largest
        print(f"  {feat:<18} differ {int(mask.sum()):>5}  largest {largest}  (mine vs stored) {examples}")
    return ok


def spot_checks(mine: pd.DataFrame, stored: pd.DataFrame | None) -> None:
    """Print all features of a few known customers, mine beside stored."""
    for cid in SPOT_IDS:
        print(f"\ncustomer {cid}" + ("" if stored is None else "   (mine | stored)"))
        for feat in FEATURES:
            value = mine.loc[cid, feat] if cid in mine.index else "absent"
            other = "" if stored is None else stored.loc[cid, feat] if cid in stored.index else "absent"
            print(f"  {feat:<18} {value!s:<22} {other!s}")
        if cid in mine.index:
            print(f"  {'net (exact)':<18} {money_text(int(mine.loc[cid, 'net']))}")


def main(argv: list[str] | None = None) -> int:
    """Recompute, print and compare; 0 when everything matches, 1 otherwise."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help="raw sales file (CSV, may be gzipped)")
    ap.add_argument("--db", help="DuckDB file of a run to compare with (omit: print own numbers only)")
    ap.add_argument("--run", type=int, help="run id (default: the latest in table runs)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    df = load(args.input)
    steps, kept_p, kept_a = clean(df)
    mine, snapshot = features(kept_p, kept_a)
    stored_steps = stored_cust = None
    if args.db:
        run, stored_steps, stored_cust = load_stored(args.db, args.run)
        print(f"stored run {run} in {args.db}")
    print(f"snapshot date {snapshot.date()}, customers {len(mine):,}")
    ok = report_steps(steps, stored_steps)

    total_in, kept_net = int(df["money"].sum()), int(mine["net"].sum())
    total_removed = sum(m for _, m in steps.values())
    holds = total_in == total_removed + kept_net
    print(
        f"\ninput money {money_text(total_in)} = removed {money_text(total_removed)} + kept net "
        f"{money_text(kept_net)}: {'holds' if holds else 'DOES NOT HOLD'}"
    )
    print(f"customers with negative net revenue: {int((mine['net'] < 0).sum())}")
    ok &= holds
    if stored_cust is not None:
        ok &= compare_customers(mine, stored_cust)
    spot_checks(mine, stored_cust)
    print(f"\nwall time {time.perf_counter() - start:.1f} s")
    if args.db:
        print("ALL MATCH" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
