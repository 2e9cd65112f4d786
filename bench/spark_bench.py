"""Spark engine benchmark (issue 14): `segments run` with --engine duckdb and --engine spark on the same
seeded files, one machine, Spark in local[2].

For each size it reuses (or generates) run_bench.py's seeded file in --work, runs each engine as its own
process (`python -m segmentation.cli run FILE --quiet --timings --seed S`, the DB removed first), prints
wall seconds, peak RSS (of the process tree that was waited for: with Spark, the JVM that pyspark starts is
included only when it has exited by then) and each phase's seconds, the ratio spark / duckdb, and checks the
two stored runs agree: the same cleaning steps (lines, customers, money) and the adjusted Rand index of
the segment assignments.

usage: python bench/spark_bench.py [--sizes 5M,25M] [--work DIR] [--seed 0] [--master local[2]]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import fresh_ours_cmd, input_file, measure, parse_phases, parse_size  # noqa: E402

PHASES = ("read", "clean", "features", "value fit")


def _agreement(duck_db: Path, spark_db: Path) -> tuple[bool, float]:
    """(same cleaning steps, ARI of the segment assignments) of the two stored runs."""
    from sklearn.metrics import adjusted_rand_score

    steps = "SELECT * EXCLUDE (run_id) FROM cleaning_steps ORDER BY step"
    labels = "SELECT customer_id, segment_id FROM customers ORDER BY customer_id"
    with (
        duckdb.connect(str(duck_db), read_only=True) as a,
        duckdb.connect(str(spark_db), read_only=True) as b,
    ):
        same_steps = a.execute(steps).fetchall() == b.execute(steps).fetchall()
        la, lb = a.execute(labels).df(), b.execute(labels).df()
    if list(la["customer_id"]) != list(lb["customer_id"]):
        return same_steps, float("nan")
    return same_steps, float(adjusted_rand_score(la["segment_id"], lb["segment_id"]))


def main(argv: list[str] | None = None) -> int:
    """Run both engines on every size and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5M,25M", help="line counts, e.g. 5M,25M (k/M suffixes)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "segments-bench")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--master", default="local[2]", help="--spark-master (default local[2])")
    a = parser.parse_args(argv)
    a.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for text in a.sizes.split(","):
        path, lines, customers, how = input_file(a.work, parse_size(text.strip()), a.seed)
        print(f"== {text}: {lines:,} lines, {customers:,} customers ({how})", flush=True)
        measured = {}
        for engine in ("duckdb", "spark"):
            db = a.work / f"engine_{engine}_{text}.duckdb"
            extra = ("--engine", engine) + (("--spark-master", a.master) if engine == "spark" else ())
            m = measure(fresh_ours_cmd(path, db, a.seed, extra=extra), a.work, f"engine_{engine}_{text}")
            if m.timed_out:
                print(f"{engine} failed:\n{m.stderr[-2000:]}")
                return 1
            phases = {name: seconds for name, seconds, _ in parse_phases(m.stderr)}
            measured[engine] = (m, phases, db)
            shown = ", ".join(f"{p} {phases.get(p, 0):.1f}" for p in PHASES)
            rest = m.seconds - sum(phases.get(p, 0) for p in PHASES)
            print(
                f"{engine:7} wall {m.seconds:7.1f} s  peak {m.peak_mib:7,.0f} MiB  "
                f"({shown}; model, store and start-up {rest:.1f})",
                flush=True,
            )
        same_steps, ari = _agreement(measured["duckdb"][2], measured["spark"][2])
        ratio = measured["spark"][0].seconds / measured["duckdb"][0].seconds
        print(f"spark / duckdb wall time: {ratio:.1f}x; same cleaning steps: {same_steps}; ARI {ari:.3f}")
        rows.append((text, lines, measured["duckdb"][0].seconds, measured["spark"][0].seconds, ratio, ari))
    print("\nsize   lines        duckdb s   spark s   spark/duckdb   ARI")
    for text, lines, d, s, ratio, ari in rows:
        print(f"{text:6} {lines:>11,} {d:9.1f} {s:9.1f} {ratio:10.1f}x   {ari:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
