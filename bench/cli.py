"""Command line: `python -m bench run|report|compare|schema|corpus`."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from bench import compare as compare_mod
from bench import model
from bench.config import DEFAULT_CONFIG, ConfigError, load_config
from bench.processes import stop_all


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_run(args: argparse.Namespace) -> int:
    from bench.report import write_report
    from bench.runner import Runner

    profile = "quick" if args.quick else "full" if args.full else "default"
    try:
        config = load_config(args.config, profile=profile)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    runner = Runner(config, Path(args.out), run_id=args.run_id)
    # SIGTERM (e.g. from a CI timeout) stops the run like Ctrl-C: nothing may be left running. SIGINT is
    # installed explicitly too: Python leaves it ignored when started with it ignored (`cmd &` in a script, nohup).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    started = time.monotonic()
    try:
        run = runner.execute()
    except KeyboardInterrupt:
        stopped = stop_all()
        runner.run.interrupted = True
        runner.save(ended=True)
        print(f"\ninterrupted: stopped every service and k6 process group"
              f"{' (last: ' + ', '.join(stopped) + ')' if stopped else ''}; partial result in {runner.result_path}",
              file=sys.stderr)
        return 130
    finally:
        stop_all()
    wall = time.monotonic() - started
    report_dir = Path(args.reports).resolve() / runner.run_id
    report_path = write_report(run, report_dir)
    failures = run.failures
    print(f"\nfinished in {int(wall // 60)}m{int(wall % 60):02d}s; result {runner.result_path}; report {report_path}")
    if failures:
        print(f"{len(failures)} part(s) failed, see the report's Failures section", file=sys.stderr)
        return 1
    return 0


def _load(path: str) -> model.Run | None:
    try:
        return model.load(path)
    except model.NotAResult as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report import write_report

    run = _load(args.result)
    if run is None:
        return 2
    out = Path(args.out) if args.out else Path(args.reports) / run.run_id
    print(write_report(run, out))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    a, b = _load(args.a), _load(args.b)
    if a is None or b is None:
        return 2
    comparison = compare_mod.compare(a, b, force=args.force)
    print(compare_mod.format_comparison(comparison, args.a, args.b, show_all=args.all), end="")
    if args.markdown:
        Path(args.markdown).write_text(
            compare_mod.format_comparison(comparison, args.a, args.b, show_all=args.all, markdown=True),
            encoding="utf-8")
    if comparison.differences and not args.force:
        return 2
    return 1 if comparison.differing else 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(model.schema_text(), end="")
    return 0


def cmd_corpus(args: argparse.Namespace) -> int:
    from bench import corpus

    try:
        path, described = corpus.prepare()
    except corpus.CorpusUnavailable as exc:
        print(f"corpus unavailable: {exc}", file=sys.stderr)
        return 1
    print(f"{path}\n{described}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the benchmark matrix and write result.json and the report")
    size = run.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a small matrix, about 3 minutes")
    size.add_argument("--full", action="store_true", help="the full matrix with long windows, for bigger machines")
    run.add_argument("--config", default=str(DEFAULT_CONFIG), help="TOML configuration (default: bench/config.toml)")
    run.add_argument("--out", default="results", help="directory for run directories (default: results/)")
    run.add_argument("--reports", default="reports", help="directory for reports (default: reports/)")
    run.add_argument("--run-id", default=None, help="name of the run (default: UTC timestamp)")
    run.set_defaults(func=cmd_run)
    report = sub.add_parser("report", help="write the Markdown report and charts for a result file")
    report.add_argument("result")
    report.add_argument("--out", default=None, help="report directory (default: reports/<run-id>)")
    report.add_argument("--reports", default="reports")
    report.set_defaults(func=cmd_report)
    comp = sub.add_parser("compare", help="B's figures and verdicts against A's: changes only where 95 %% intervals "
                                          "separate by the margin; exit 1 when a verdict differs, 2 when the runs "
                                          "measured different things")
    comp.add_argument("a")
    comp.add_argument("b")
    comp.add_argument("--force", action="store_true", help="compare runs that are not comparable (every line says so)")
    comp.add_argument("--all", action="store_true", help="print every figure, not only the changed ones")
    comp.add_argument("--markdown", metavar="FILE", default=None, help="also write the comparison as Markdown")
    comp.set_defaults(func=cmd_compare)
    schema = sub.add_parser("schema", help="print the JSON schema of result.json (generated from bench/model.py)")
    schema.set_defaults(func=cmd_schema)
    corpus = sub.add_parser("corpus", help="fetch and sample the real text the AI requests carry; prints its file")
    corpus.set_defaults(func=cmd_corpus)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
