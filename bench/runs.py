"""The measured runs: (a) bare Scrapy, (b) WARC-only crawl, (c) full pipeline, (d) wget,
(e1/e2) trafilatura alone. Each runs as its own process tree and counts the pages it handled."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Measurement, run

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
NEWSARCHIVE = str(VENV_BIN / "newsarchive")
WGET = shutil.which("wget") or "/usr/bin/wget"
CONCURRENCY = 32


@dataclass(frozen=True)
class Context:
    """What a run needs: the site (on disk and served), a scratch directory, a time limit."""

    site_root: Path
    base_url: str
    work: Path
    timeout: float
    cores: int


@dataclass(frozen=True)
class Runner:
    key: str
    label: str
    go: Callable[[Context], Measurement]


def _scratch(ctx: Context, name: str) -> Path:
    path = ctx.work / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}


def crawl_command(ctx: Context, out: Path, extract: bool, state: bool = True) -> list[str]:
    command = [
        NEWSARCHIVE, "crawl", ctx.base_url + "/", "-o", str(out),
        "--depth", "100000", "--concurrency", str(CONCURRENCY),
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "NEWSARCHIVE_PROGRESS=False",
    ]
    if not state:
        command += ["-s", "NEWSARCHIVE_STATE=none"]
    return command if extract else [*command, "--no-extract"]


def _newsarchive(ctx: Context, key: str, extract: bool, state: bool = True) -> Measurement:
    out = _scratch(ctx, key)
    command = crawl_command(ctx, out / "archive", extract, state)
    measured = run(key, command, cwd=ctx.work, env=_env(), timeout=ctx.timeout, log=out / "log")
    lines = [
        json.loads(line)
        for path in (out / "archive" / "articles").glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]
    measured.pages = sum(1 for line in lines if line.get("status") == 200)
    measured.extra["with_text"] = sum(1 for line in lines if line.get("text"))
    warcs = (out / "archive").rglob("*.warc.gz")
    measured.extra["warc_bytes"] = sum(path.stat().st_size for path in warcs)
    if measured.returncode not in (0,):
        measured.note = f"exit {measured.returncode}; see {out / 'log'}"
    shutil.rmtree(out / "archive", ignore_errors=True)
    return measured


def warc_crawl(ctx: Context) -> Measurement:
    return _newsarchive(ctx, "b", extract=False)


def warc_crawl_stateless(ctx: Context) -> Measurement:
    return _newsarchive(ctx, "b0", extract=False, state=False)


def full_pipeline(ctx: Context) -> Measurement:
    return _newsarchive(ctx, "c", extract=True)


def _python_tool(ctx: Context, key: str, module: str, args: list[str]) -> Measurement:
    out = _scratch(ctx, key)
    stats = out / "stats.json"
    command = [sys.executable, "-m", module, *args, "--stats", str(stats)]
    measured = run(key, command, cwd=REPO, env=_env(), timeout=ctx.timeout, log=out / "log")
    if stats.exists():
        data = json.loads(stats.read_text())
        measured.pages = int(data.pop("pages"))
        measured.extra.update(data)
    if measured.returncode != 0:
        measured.note = f"exit {measured.returncode}; see {out / 'log'}"
    return measured


def bare_scrapy(ctx: Context) -> Measurement:
    args = [ctx.base_url + "/", "--concurrency", str(CONCURRENCY)]
    return _python_tool(ctx, "a", "bench.bare_spider", args)


def naive_scrapy(ctx: Context) -> Measurement:
    args = [ctx.base_url + "/", "--concurrency", str(CONCURRENCY), "--naive"]
    return _python_tool(ctx, "a0", "bench.bare_spider", args)


def wget(ctx: Context) -> Measurement:
    out = _scratch(ctx, "d")
    command = wget_command(ctx, out)
    if not os.access(WGET, os.X_OK):
        return Measurement("d", command, -1, 0.0, 0.0, 0, note="wget not installed")
    measured = run("d", command, cwd=out, timeout=ctx.timeout, log=out / "log")
    measured.pages = sum(1 for _ in (out / "files").rglob("*.html"))
    measured.extra["warc_bytes"] = sum(p.stat().st_size for p in out.glob("*.warc.gz"))
    if measured.returncode not in (0, 8):  # 8: some 404s (wget guesses /favicon.ico etc.)
        measured.note = f"exit {measured.returncode}; see {out / 'log'}"
    shutil.rmtree(out / "files", ignore_errors=True)
    for path in out.glob("*.warc.gz"):
        path.unlink()
    return measured


def wget_command(ctx: Context, out: Path) -> list[str]:
    return [
        WGET, "--recursive", "--level=inf", "--no-verbose",
        f"--warc-file={out / 'wget'}", f"--directory-prefix={out / 'files'}",
        ctx.base_url + "/",
    ]


def extract_alone(workers: int) -> Callable[[Context], Measurement]:
    def go(ctx: Context) -> Measurement:
        count = workers or ctx.cores
        args = [str(ctx.site_root), "--workers", str(count)]
        return _python_tool(ctx, f"e{count}", "bench.extract_alone", args)

    return go


RUNNERS = (
    Runner("a", "bare Scrapy (lean spider, no output)", bare_scrapy),
    Runner("b", "newsarchive crawl --no-extract (WARC only)", warc_crawl),
    Runner("c", "newsarchive crawl (full pipeline)", full_pipeline),
    Runner("d", "wget --recursive --warc-file", wget),
    Runner("e1", "trafilatura alone, 1 process", extract_alone(1)),
    Runner("e", "trafilatura alone, 1 process per core", extract_alone(0)),
)
OPTIONAL_RUNNERS = (
    Runner("a0", "bare Scrapy, naive (CrawlSpider + LinkExtractor)", naive_scrapy),
    Runner("b0", "newsarchive crawl --no-extract, no state store", warc_crawl_stateless),
)
ALL_RUNNERS = RUNNERS + OPTIONAL_RUNNERS
# The default plan keeps `make bench` under 15 minutes on 2 cores: every run at the smallest
# size, the references that only scale linearly (a, e1) left out at the largest, where the
# state store's cost (b vs. b0) is measured instead.
PLAN = {
    "smallest": ("a", "b", "c", "d", "e1", "e"),
    "middle": ("a", "b", "c", "d", "e"),
    "largest": ("b", "b0", "c", "d", "e"),
}
