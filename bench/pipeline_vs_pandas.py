"""Benchmark: `segments run` against the plain pandas + scikit-learn pipeline, on the same file, in one run.

Prints wall time and peak memory (max RSS of the child process) of each. The peer is
../shared/bench/peer_pandas.py when present (or --peer PATH); the input is generated with
`segments generate` unless --input is given.

usage: python bench/pipeline_vs_pandas.py --customers 40000 [--input FILE] [--skip-peer]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT.parent / "shared" / "bench" / "peer_pandas.py"


def measure_isolated(cmd: list[str]) -> tuple[float, float, str]:
    """Run cmd under a wrapper process that runs only it: wall seconds, peak RSS (MiB), last output line."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "s = time.perf_counter() - t\n"
        "sys.stderr.write(p.stderr[-3000:] if p.returncode else '')\n"
        "out = (p.stdout.strip() or p.stderr.strip()).splitlines()\n"
        "print(p.returncode, s, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "
        "(out[-1] if out else '').replace(' ', '\\u00a0'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    code, seconds, rss, last = proc.stdout.split(maxsplit=3)
    if code != "0":
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return float(seconds), float(rss), last.replace("\u00a0", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=40_000)
    parser.add_argument("--input", type=Path)
    parser.add_argument("--peer", type=Path, default=PEER)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    source = args.input
    if source is None:
        source = work / f"synthetic_{args.customers}.csv"
        seconds, rss, last = measure_isolated(
            [
                sys.executable,
                "-m",
                "segmentation.cli",
                "generate",
                "--customers",
                str(args.customers),
                "--out",
                str(source),
                "--seed",
                str(args.seed),
            ]
        )
        print(f"generate: {seconds:.1f}s, peak {rss:,.0f} MiB: {last}")
    lines = sum(1 for _ in open(source, "rb")) - 1 if source.suffix == ".csv" else None
    print(
        f"input: {source} ({source.stat().st_size / 2**20:,.0f} MiB"
        + (f", {lines:,} lines)" if lines else ")")
    )
    rows = []
    seconds, rss, last = measure_isolated(
        [
            sys.executable,
            "-m",
            "segmentation.cli",
            "run",
            str(source),
            "--db",
            str(work / "bench.duckdb"),
            "--quiet",
            "--seed",
            str(args.seed),
        ]
    )
    rows.append(("segments run", seconds, rss))
    print(f"segments run: {seconds:.1f}s, peak {rss:,.0f} MiB")
    if not args.skip_peer and args.peer.exists():
        seconds, rss, last = measure_isolated(
            [sys.executable, str(args.peer), str(source), str(work / "peer.csv")]
        )
        rows.append(("pandas peer", seconds, rss))
        print(f"pandas peer: {seconds:.1f}s, peak {rss:,.0f} MiB: {last}")
    print()
    print(f"{'pipeline':<14}{'seconds':>10}{'peak MiB':>12}")
    for name, seconds, rss in rows:
        print(f"{name:<14}{seconds:>10.1f}{rss:>12,.0f}")
    if len(rows) == 2:
        print(
            f"segments run takes {rows[0][1] / rows[1][1]:.2f}x the peer's time and "
            f"{rows[0][2] / rows[1][2]:.2f}x its peak memory"
        )


if __name__ == "__main__":
    main()
