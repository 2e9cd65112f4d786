"""Fit the product's BG/NBD and Gamma-Gamma on the CDNOW sample and print them beside the published values.

    python bench/value_published.py --bgnbd cdnow_summary.csv --gamma-gamma cdnow_summary_monetary.csv

The CDNOW sample (2,357 customers, weeks, 39-week calibration) is not shipped with this project; the
`lifetimes` package's wheel carries it (lifetimes/datasets/cdnow_customers_summary.csv: ID, frequency,
recency, T; and cdnow_customers_summary_with_monetary_value or the x, t_x, T, zbar layout). Published:
Fader, Hardie and Lee (2005), "Counting your customers the easy way", BG/NBD r = 0.243, alpha = 4.414,
a = 0.793, b = 2.426, log-likelihood -9582.4; Fader and Hardie (2013), "The Gamma-Gamma model of monetary
value", p = 6.25, q = 3.74, gamma = 15.44 on the 946 repeat buyers, spend/frequency correlation 0.11.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segmentation.value import bgnbd, gamma_gamma  # noqa: E402

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log-likelihood": -9582.4}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _columns(frame: pd.DataFrame) -> tuple[str, str, str]:
    """(x, t_x, T) column names in either of the two usual layouts."""
    return ("frequency", "recency", "T") if "frequency" in frame.columns else ("x", "t_x", "T")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bgnbd", type=Path, required=True, help="CSV with x, t_x, T per customer")
    parser.add_argument("--gamma-gamma", type=Path, help="CSV with x and the average spend (zbar/monetary)")
    args = parser.parse_args()
    data = pd.read_csv(args.bgnbd)
    x, t_x, T = (data[c].to_numpy(dtype=float) for c in _columns(data))
    m = bgnbd.fit(x, t_x, T)
    ours = {"r": m.r, "alpha": m.alpha, "a": m.a, "b": m.b, "log-likelihood": m.log_likelihood}
    worst = 0.0
    print(f"BG/NBD on {len(data):,} customers        ours      published")
    for k, v in PUBLISHED_BGNBD.items():
        worst = max(worst, abs(ours[k] - v) / abs(v))
        print(f"  {k:<15} {ours[k]:>12.4f} {v:>12.4f}")
    if args.gamma_gamma:
        g = pd.read_csv(args.gamma_gamma)
        xs = g[_columns(g)[0]].to_numpy(dtype=float)
        spend = g["zbar" if "zbar" in g.columns else "monetary_value"].to_numpy(dtype=float)
        buyers = xs > 0
        f = gamma_gamma.fit(xs[buyers], spend[buyers])
        corr = gamma_gamma.spend_frequency_correlation(xs[buyers], spend[buyers])
        print(f"Gamma-Gamma on {int(buyers.sum()):,} repeat buyers   ours      published")
        for k, v in PUBLISHED_GG.items():
            got = getattr(f, k)
            worst = max(worst, abs(got - v) / abs(v))
            print(f"  {k:<15} {got:>12.4f} {v:>12.4f}")
        print(f"  spend/frequency correlation {corr:.3f} (published 0.11)")
    print(f"largest relative difference from the published values: {worst:.2%}")
    return 0 if worst < 0.005 else 1


if __name__ == "__main__":
    sys.exit(main())
