"""Throughput of a distributed crawl with 1 and 2 workers (docs/distributed.md).

``python -m bench.distributed [--articles 300] [--workers 1 2] [--no-extract] [--split-cores]``

The synthetic site of bench/site.py (served by nginx when installed), a redis-server of its own
on a free port, then per configuration: a fresh Redis database and output directory,
``newsarchive seed`` of the home page, N workers crawling the whole site (``--depth 100000``,
concurrency 32 each, no AutoThrottle, as bench/runs.py). Timed from the workers' start to the
last JSONL line written (the idle-out wait after it is not counted); "steady" leaves out the
start-up (from the first line to the last). CPU: user + system time of the workers (not nginx's,
not Redis's; their extraction processes are not reliably included), per page.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench.serve import SiteServer, free_port
from bench.site import cached_site, write_feeds

REPO = Path(__file__).resolve().parent.parent
NEWSARCHIVE = str(Path(sys.executable).parent / "newsarchive")


def _lines(output: Path) -> int:
    folder = output / "articles"
    if not folder.is_dir():
        return 0
    return sum(path.read_bytes().count(b"\n") for path in folder.glob("*.jsonl"))


def measure(
    redis_url: str, base_url: str, work: Path, workers: int, extract: bool, split: bool = False
) -> dict:
    redis.Redis.from_url(redis_url).flushdb()
    output = work / f"out-{workers}"
    shutil.rmtree(output, ignore_errors=True)
    subprocess.run([NEWSARCHIVE, "seed", "--redis", redis_url, base_url + "/"], check=True,
                   capture_output=True)
    command = [NEWSARCHIVE, "crawl", "--redis", redis_url, "-o", str(output),
               "--depth", "100000", "--concurrency", "32",
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "NEWSARCHIVE_REDIS_IDLE_CLOSE=3"]
    if not extract:
        command.append("--no-extract")
    extract_workers = max(1, (os.cpu_count() or 1) // workers) if split else 0
    if extract_workers:
        command += ["-s", f"NEWSARCHIVE_EXTRACT_WORKERS={extract_workers}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    logs = [open(work / f"worker-{workers}-{i}.log", "w") for i in range(workers)]  # noqa: SIM115
    processes = [subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
                 for log in logs]
    count, first, last = 0, None, started
    while any(process.poll() is None for process in processes):
        now_count = _lines(output)
        if now_count != count:
            count, last = now_count, time.monotonic()
            first = first or last
        time.sleep(0.05)
    count = _lines(output)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    codes = [process.returncode for process in processes]
    for log in logs:
        log.close()
    if not count:
        raise SystemExit(f"no page crawled; see {work}/worker-{workers}-*.log")
    elapsed = last - started
    steady = last - (first or last)
    return {
        "workers": workers, "extract": extract, "extract_workers_each": extract_workers or "auto",
        "pages": count, "exit_codes": codes,
        "seconds": round(elapsed, 2), "pages_per_s": round(count / elapsed, 1),
        "steady_pages_per_s": round(count / steady, 1) if steady else None,
        "worker_cpu_ms_per_page": round(1000 * cpu / count, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed")
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-extract", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--split-cores", action="store_true",
                        help="give each worker cores/workers extraction processes")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-distributed-"))
    print(f"work directory (outputs, worker logs): {work}", file=sys.stderr)
    root, _ = cached_site(Path(tempfile.gettempdir()) / "newsarchive-bench-sites", args.articles)
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        with SiteServer(root) as site:
            write_feeds(root, args.articles, site.base_url)
            print(f"site: {args.articles} articles, {site.kind}", file=sys.stderr)
            for _ in range(args.repeat):
                for workers in args.workers:
                    result = measure(f"redis://127.0.0.1:{port}/0", site.base_url, work,
                                     workers, not args.no_extract, args.split_cores)
                    print(json.dumps(result), flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
