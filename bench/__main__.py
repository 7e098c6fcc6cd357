"""``python -m bench``: the benchmark suite behind ``make bench`` (see docs/benchmarks.md).

    python -m bench [--sizes 1000,5000,20000] [--repeat 3] [--quick] [--only a,b,c,d,e1,e]
                    [--naive] [--no-write] [--json FILE] [--cache DIR] [--work DIR]
                    [--no-deadhosts]

For each size N: generate (or reuse from the cache) a site of N articles, serve it, run every
measured command on it (the smallest size ``--repeat`` times, medians reported; larger sizes
once), then print the table and the ratios and write them to docs/benchmarks.md. Then the
dead-hosts case (bench/deadhosts.py): requisites on a few hundred hosts that do not resolve,
with and without ``--no-requisites`` (not with ``--quick`` or ``--only``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import deadhosts, runs
from bench.measure import Measurement
from bench.report import Row, environment, generated_section, ratios_table, results_table, write_doc
from bench.serve import SiteServer
from bench.site import cached_site, write_feeds

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
DEFAULT_SIZES = (1000, 5000, 20000)
QUICK_SIZE = 200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", help="comma-separated site sizes (default 1000,5000,20000)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions at the smallest size")
    parser.add_argument("--quick", action="store_true", help=f"one run at N={QUICK_SIZE}")
    parser.add_argument("--only", help="comma-separated run keys (a,b,c,d,e1,e; a0 = naive)")
    parser.add_argument("--naive", action="store_true", help="also the naive CrawlSpider (a0)")
    parser.add_argument("--all", action="store_true", help="every run at every size")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "newsarchive-bench",
        help="where generated sites are kept between runs",
    )
    parser.add_argument("--work", type=Path, help="scratch directory (default: a fresh temp dir)")
    parser.add_argument("--python-server", action="store_true", help="do not use nginx")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--no-deadhosts", action="store_true", help="skip the dead-hosts case")
    return parser.parse_args(argv)


def plan_of(args: argparse.Namespace) -> tuple[list[int], int, dict[int, list[runs.Runner]]]:
    """Sizes, repetitions at the smallest size, and the runs at each size."""
    if args.quick:
        sizes, repeat = [QUICK_SIZE], 1
    else:
        sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(DEFAULT_SIZES)
        repeat = max(1, args.repeat)
    sizes = sorted(sizes)
    plan: dict[int, list[runs.Runner]] = {}
    for size in sizes:
        if args.only:
            keys: tuple[str, ...] = tuple(args.only.split(","))
        elif args.all or len(sizes) == 1:
            keys = tuple(r.key for r in runs.RUNNERS)
        else:
            where = "smallest" if size == sizes[0] else "largest" if size == sizes[-1] else "middle"
            keys = runs.PLAN[where]
        if args.naive:
            keys += ("a0",)
        plan[size] = [r for r in runs.ALL_RUNNERS if r.key in keys]
    return sizes, repeat, plan


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_size(
    args: argparse.Namespace, size: int, reps: int, chosen: list[runs.Runner], work: Path
) -> tuple[list[Row], str, str]:
    started = time.monotonic()
    root, generated = cached_site(args.cache, size)
    if generated:
        log(f"N={size}: generated the site in {time.monotonic() - started:.0f}s under {root}")
    with SiteServer(root, prefer_nginx=not args.python_server) as server:
        write_feeds(root, size, server.base_url)
        ctx = runs.Context(root, server.base_url, work, args.timeout, os.cpu_count() or 1)
        measured: dict[str, list[Measurement]] = {r.key: [] for r in chosen}
        for rep in range(reps):
            for runner in chosen:
                result = runner.go(ctx)
                measured[runner.key].append(result)
                log(f"N={size} #{rep + 1} {runner.key}: {result.pages} pages in "
                    f"{result.wall:.1f}s = {result.pages_per_s:.0f}/s, CPU {result.cpu:.1f}s, "
                    f"RSS {result.peak_rss / 2**20:.0f} MB {result.note}")
        rows = [Row(size, r.key, r.label, measured[r.key]) for r in chosen]
        return rows, server.kind, server.base_url


def commands(chosen: list[runs.Runner]) -> list[str]:
    ctx = runs.Context(Path("SITE"), "http://127.0.0.1:PORT", Path("WORK"), 0, os.cpu_count() or 1)
    python = ".venv/bin/python"
    lines = {
        "a": f"{python} -m bench.bare_spider http://127.0.0.1:PORT/ --concurrency "
             f"{runs.CONCURRENCY} --stats FILE",
        "a0": f"{python} -m bench.bare_spider http://127.0.0.1:PORT/ --naive --stats FILE",
        "b": " ".join(runs.crawl_command(ctx, Path("OUT"), extract=False)),
        "b0": " ".join(runs.crawl_command(ctx, Path("OUT"), extract=False, state=False)),
        "c": " ".join(runs.crawl_command(ctx, Path("OUT"), extract=True)),
        "d": " ".join(runs.wget_command(ctx, Path("WORK"))),
        "e1": f"{python} -m bench.extract_alone SITE --workers 1 --stats FILE",
        "e": f"{python} -m bench.extract_alone SITE --workers {ctx.cores} --stats FILE",
    }
    return [f"{r.key}: " + lines[r.key].replace(str(runs.VENV_BIN), ".venv/bin") for r in chosen]


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the `with SiteServer`: no orphaned nginx


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args(argv)
    sizes, repeat, plan = plan_of(args)
    work = args.work or Path(tempfile.mkdtemp(prefix="newsarchive-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    rows: list[Row] = []
    server_kind = ""
    try:
        for size in sizes:
            reps = repeat if size == sizes[0] else 1
            size_rows, server_kind, _ = bench_size(args, size, reps, plan[size], work)
            rows.extend(size_rows)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    summary = (
        f"N = {', '.join(f'{s:,}' for s in sizes)} articles; medians of {repeat} runs at "
        f"N = {sizes[0]:,}, single runs above; runs per size: "
        + "; ".join(f"{s:,}: {','.join(r.key for r in plan[s])}" for s in sizes)
        + f"; {time.monotonic() - started:.0f} s in all"
    )
    print(results_table(rows))
    print()
    print(ratios_table(rows))
    dead_hosts = ""
    if not (args.no_deadhosts or args.quick or args.only):
        for kind in ("invalid", "refused", "nxdomain"):
            log(f"dead hosts ({kind}): requisites on 300 dead hosts, with and without them")
            # the resolver-bound case once (a minute here); the crawl's own cost, 3 pairs
            reps = 1 if kind == "nxdomain" else 3
            result = deadhosts.measure(60, 300, 10, timeout=args.timeout, kind=kind, repeat=reps)
            print()
            print(deadhosts.describe(result))
            dead_hosts += deadhosts.markdown(result)
    log(summary)
    if args.json:
        data = [{"size": r.size, "key": r.key, "reps": [m.as_dict() for m in r.reps]} for r in rows]
        args.json.write_text(json.dumps(data, indent=1))
    if not args.no_write and not args.quick:
        chosen = [r for r in runs.ALL_RUNNERS if any(r in p for p in plan.values())]
        section = generated_section(
            rows, environment(REPO, server_kind), commands(chosen), summary, dead_hosts
        )
        write_doc(DOC, section)
        log(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
