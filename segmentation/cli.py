"""The `segments` command: a thin layer over the library; bad input is one sentence on stderr and exit 2.

`serve`, `demo` (in segmentation/serve_cli.py, which checks the port before anything else) and `export`
import `dashboard` inside their functions: they are the only places where the segmentation side touches
the reading side (export goes through the dashboard's query layer, so a list exported from the command
line is exactly the list the dashboard shows).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from segmentation.audit import add_parser as add_audit_parser
from segmentation.audit import cmd_audit
from segmentation.errors import InputError
from segmentation.run_options import add_db, add_run_parser, config
from segmentation.serve_cli import cmd_demo, cmd_serve
from segmentation.users import add_parser as add_users_parser
from segmentation.users import cmd_users


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (the README documents each flag)."""
    parser = argparse.ArgumentParser(
        prog="segments", description="Customer segmentation into a DuckDB file, and its dashboard."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    add_run_parser(sub)

    runs = sub.add_parser("runs", help="list the stored runs")
    add_db(runs)

    rename = sub.add_parser("rename", help="rename a segment of a run")
    rename.add_argument("run_id", type=int, metavar="RUN", help="run id (see `segments runs`)")
    rename.add_argument("segment", metavar="SEGMENT", help="segment id or current name")
    rename.add_argument("name", metavar="NAME", help="the new name, unique within the run")
    add_db(rename)

    gen = sub.add_parser("generate", help="write a seeded synthetic sales file (Online Retail layout)")
    gen.add_argument("--customers", type=int, required=True, help="number of customers")
    gen.add_argument("--out", type=Path, required=True, help="output .csv or .parquet")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    export = sub.add_parser("export", help="write a filtered customer list to CSV or XLSX")
    add_db(export)
    export.add_argument("--run", type=int, help="run id (default: the latest)")
    export.add_argument("--segment", action="append", default=[], help="segment id or name (repeatable)")
    export.add_argument("--country", action="append", default=[], help="country (repeatable)")
    export.add_argument("--tenure-min", type=float, help="minimum tenure in days")
    export.add_argument("--tenure-max", type=float, help="maximum tenure in days")
    export.add_argument("--preset", choices=["at-risk", "outliers"], help="a ready-made list")
    export.add_argument(
        "--top",
        type=int,
        help="only the first N customers of the list (at-risk: the N with most value at risk)",
    )
    export.add_argument("--out", type=Path, required=True, help="output .csv (plain: header, rows) or .xlsx")
    export.add_argument(
        "--sidecar", action="store_true", help="also write OUT.about.json: run, snapshot, filters, UTC time"
    )
    add_audit_parser(sub)

    for name, text in (
        ("serve", "serve the dashboard over an existing DB"),
        ("demo", "segment the bundled sample if the DB has no run, then serve the dashboard"),
    ):
        p = sub.add_parser(name, help=text)
        add_db(p)
        p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
        p.add_argument("--debug", action="store_true", help="Dash dev tools (never on a shared host)")
        p.add_argument("--users", help="users file: login required (default: $SEGMENTATION_USERS)")
    add_users_parser(sub)
    return parser


def cmd_run(a: argparse.Namespace) -> int:
    """Segment, store, print the report."""
    cfg = config(a)
    if a.if_changed:  # a scheduled re-run: nothing new, nothing written (checked before the model's imports)
        from segmentation import rerun

        skipped = rerun.skip_line(cfg)
        if skipped:
            print(skipped)
            return 0
    from segmentation import pipeline, report
    from segmentation.phases import format_phases

    summary = pipeline.run(cfg)
    print(report.format_run(summary))
    if a.timings:
        print(format_phases(summary.phases, summary.seconds), file=sys.stderr)
    return 0


def cmd_runs(a: argparse.Namespace) -> int:
    """List the stored runs, newest first."""
    from segmentation import report, store

    rows = store.list_runs(a.db)
    if not rows:
        print(f"{a.db}: no runs yet; make one with `segments run FILE`.")
        return 0
    print(
        report.table(
            ["run", "created", "mode", "sources", "customers", "k", "silhouette", "stability", "outliers"],
            [[r[0], str(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8]] for r in rows],
        )
    )
    return 0


def cmd_rename(a: argparse.Namespace) -> int:
    """Rename a segment by copy-and-swap, so a served dashboard is never written in place."""
    from segmentation import store

    old, new = store.rename_segment(a.db, a.run_id, a.segment, a.name)
    print(f"run {a.run_id}: renamed {old!r} to {new!r}")
    return 0


def cmd_generate(a: argparse.Namespace) -> int:
    """Write a synthetic sales file."""
    from segmentation import synthetic

    if a.seed < 0:
        raise InputError(f"--seed {a.seed}: expected a whole number of 0 or more.")
    s = synthetic.generate(
        a.out, a.customers, seed=a.seed, progress=lambda m: print(m, file=sys.stderr, flush=True)
    )
    print(f"wrote {s.lines:,} lines for {s.customers:,} customers to {s.path} in {s.seconds:.1f}s")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    """Write a filtered list through the dashboard's own query layer and validation."""
    from dashboard import export

    try:
        result = export.export_from_cli(
            a.db,
            run_id=a.run,
            segments=a.segment,
            countries=a.country,
            tenure_min=a.tenure_min,
            tenure_max=a.tenure_max,
            preset=a.preset,
            top=a.top,
            out=a.out,
            sidecar=a.sidecar,
        )
    except export.ExportError as exc:
        raise InputError(str(exc)) from exc
    print(result)
    return 0


COMMANDS = {
    "run": cmd_run,
    "runs": cmd_runs,
    "rename": cmd_rename,
    "generate": cmd_generate,
    "export": cmd_export,
    "serve": cmd_serve,
    "demo": cmd_demo,
    "users": cmd_users,
    "audit": cmd_audit,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `segments` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        try:
            if args.command == "export":  # the dashboard's query layer would call a stray .wal "no run"
                from segmentation.served_file import check_readable

                check_readable(args.db)
            return COMMANDS[args.command](args)
        except Exception as exc:  # a full disk or read-only directory (OSError or DuckDB's): one sentence
            from segmentation import faults

            sentence = faults.describe(exc, getattr(args, "db", None))
            if sentence is None:
                raise
            raise InputError(sentence) from exc
    except InputError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted; nothing was changed.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
