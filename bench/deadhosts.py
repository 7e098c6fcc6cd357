"""``python -m bench.deadhosts``: pages whose requisites sit on hosts that do not resolve.

Issue 14: a crawl whose stylesheets, images and scripts point at a few hundred hosts that no
longer exist must finish within 1.5x the time of the same crawl with ``--no-requisites``.
The site: ``--pages`` article pages (and a home page linking them) on 127.0.0.1, each
referencing ``--per-page`` requisites (<img>, <link rel=stylesheet>, <script src>) spread over
``--hosts`` distinct dead hosts. Both crawls run with the crawl's defaults (robots.txt, retries,
AutoThrottle); the ratio is printed and checked against ``LIMIT``. Kinds: ``invalid``, names
under ``.invalid`` (never resolve, RFC 6761: the handler answers without asking the resolver);
``refused``, loopback addresses refusing connections (no resolver: the crawl's own cost);
``nxdomain``, names under ``.test`` that the resolver is asked about (reported, not judged: the
floor is the resolver's own speed).

Also measured for ``nxdomain``: the resolver alone, looking up as many fresh names with
asyncio's default executor as the crawl's handler does (the floor the crawl cannot go below: a
resolver that drops queries makes each lost one cost its timeout). Host names carry a fresh
random label each run, so no resolver cache answers for them.

    python -m bench.deadhosts [--pages 60] [--hosts 300] [--per-page 10] [--timeout 180]
                              [--kind invalid|nxdomain|refused|all] [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Measurement, run
from bench.runs import NEWSARCHIVE, REPO
from bench.serve import SiteServer

LIMIT = 1.5  # with requisites / without, at most
PARAGRAPH = (
    "The council met on Tuesday evening to discuss the budget for the coming year, and members "
    "from every ward asked for the road repairs promised two winters ago to be scheduled at last. "
)


# kind -> the top-level name of its hosts: .invalid names never resolve and the handler says so
# without asking (RFC 6761, 6.4); .test names are asked of the resolver like any dead name
# (RFC 6761, 6.2: resolvers should not treat them specially), so that case is resolver-bound
DEAD_NAME_SUFFIX = {"invalid": "invalid", "nxdomain": "test"}


def requisite_hosts(count: int, salt: str = "", suffix: str = "invalid") -> list[str]:
    return [f"cdn{i}{salt}.gone-{i % 17}.{suffix}" for i in range(count)]


def refusing_hosts(count: int) -> list[str]:
    """host:port on `count` loopback addresses (127.1.x.y) at a port where nothing listens:
    hosts that refuse connections, with no resolver involved."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return [f"127.1.{i // 250}.{i % 250 + 1}:{port}" for i in range(count)]


def resolver_floor(count: int) -> float:
    """Seconds to look up `count` fresh .test names at once, as the crawl's handler does."""

    async def lookup(host: str) -> None:
        try:
            await asyncio.get_running_loop().getaddrinfo(host, 80, type=socket.SOCK_STREAM)
        except socket.gaierror:
            pass

    async def all_of(hosts: list[str]) -> None:
        await asyncio.gather(*(lookup(host) for host in hosts))

    started = time.monotonic()
    asyncio.run(all_of(requisite_hosts(count, "-" + secrets.token_hex(4), "test")))
    return time.monotonic() - started


def _article(index: int, hosts: list[str], per_page: int) -> str:
    tags = []
    for k in range(per_page):
        host = hosts[(index * per_page + k) % len(hosts)]
        if k % 3 == 0:
            tags.append(f'<link rel="stylesheet" href="http://{host}/css/site-{index}.css">')
        elif k % 3 == 1:
            tags.append(f'<script src="http://{host}/js/app-{index}.js"></script>')
        else:
            tags.append(f'<img src="http://{host}/img/photo-{index}-{k}.jpg" alt="photo {k}">')
    head = "\n".join(t for t in tags if not t.startswith("<img"))
    images = "\n".join(t for t in tags if t.startswith("<img"))
    body = "\n".join(f"<p>{PARAGRAPH * 3}Item {index}, part {p}.</p>" for p in range(6))
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Council budget story number {index}</title>\n{head}</head><body><article>"
        f"<h1>Council budget story number {index}</h1>\n{images}\n{body}</article></body></html>"
    )


def article_path(index: int) -> str:
    return f"/news/2024/05/12/council-budget-story-{100000 + index}.html"


def write_site(root: Path, pages: int, names: list[str], per_page: int) -> None:
    """The home page, ``pages`` articles and a robots.txt, as static files under ``root``."""
    for index in range(pages):
        path = root / article_path(index).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_article(index, names, per_page), encoding="utf-8")
    links = "\n".join(
        f'<li><a href="{article_path(i)}">Council budget story number {i}</a></li>'
        for i in range(pages)
    )
    home = f"<!doctype html><html><head><title>News</title></head><body><ul>{links}</ul></body>"
    (root / "index.html").write_text(home, encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")


@dataclass
class Outcome:
    label: str
    measured: Measurement
    archived: int


def crawl(base_url: str, work: Path, label: str, extra: list[str], timeout: float) -> Outcome:
    out = work / label
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [
        NEWSARCHIVE, "crawl", base_url + "/", "-o", str(out / "archive"),
        "-s", "NEWSARCHIVE_PROGRESS=False", *extra,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    measured = run(label, command, cwd=work, env=env, timeout=timeout, log=out / "log")
    lines = [
        json.loads(line)
        for path in (out / "archive" / "articles").glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]
    archived = sum(1 for line in lines if line.get("status") == 200)
    return Outcome(label, measured, archived)


@dataclass
class Result:
    bare: Outcome
    full: Outcome
    hosts: int
    floor: float | None  # seconds the resolver alone takes for as many names
    site: str = ""
    kind: str = "invalid"

    @property
    def ratio(self) -> float:
        wall = self.bare.measured.wall
        return self.full.measured.wall / wall if wall else float("inf")

    @property
    def ok(self) -> bool:
        return self.ratio <= LIMIT and self.full.measured.note != "timed out"


def measure(
    pages: int, hosts: int, per_page: int, timeout: float, kind: str = "invalid", repeat: int = 1
) -> Result:
    """The crawl without and with requisites (the medians of `repeat` pairs, each on a freshly
    written site); the resolver alone for "nxdomain". `kind`: see the module's docstring."""
    work = Path(tempfile.mkdtemp(prefix="bench-deadhosts-"))
    pairs: list[tuple[Outcome, Outcome]] = []
    try:
        for rep in range(max(1, repeat)):
            if kind in DEAD_NAME_SUFFIX:
                names = requisite_hosts(hosts, "-" + secrets.token_hex(4), DEAD_NAME_SUFFIX[kind])
            else:
                names = refusing_hosts(hosts)
            root = work / f"site-{rep}"
            write_site(root, pages, names, per_page)
            with SiteServer(root, prefer_nginx=False) as server:
                bare = crawl(server.base_url, work, "no-requisites", ["--no-requisites"], timeout)
                full = crawl(server.base_url, work, "requisites", [], timeout)
            pairs.append((bare, full))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bare = _median([pair[0] for pair in pairs])
    full = _median([pair[1] for pair in pairs])
    where = {"invalid": "under `.invalid`", "nxdomain": "under `.test` (asked of the resolver)",
             "refused": "on 127.1.x.y refusing connections"}[kind]
    floor = resolver_floor(hosts) if kind == "nxdomain" else None
    site = f"{pages} article pages, each loading {per_page} requisites from {hosts} hosts {where}"
    if len(pairs) > 1:
        site += f"; medians of {len(pairs)} runs each"
    return Result(bare, full, hosts, floor, site, kind)


def _median(outcomes: list[Outcome]) -> Outcome:
    return sorted(outcomes, key=lambda outcome: outcome.measured.wall)[len(outcomes) // 2]


def describe(result: Result) -> str:
    lines = [
        f"{o.label}: {o.archived} pages archived in {o.measured.wall:.1f}s "
        f"(exit {o.measured.returncode}{', ' + o.measured.note if o.measured.note else ''})"
        for o in (result.bare, result.full)
    ]
    if result.floor is not None:
        lines.append(f"resolver alone, {result.hosts} fresh .test names: {result.floor:.1f}s")
    verdict = "ok" if result.ok else "OVER THE LIMIT"
    lines.append(f"{result.kind}: ratio with/without requisites: {result.ratio:.2f} "
                 f"(limit {LIMIT}): {verdict}")
    return "\n".join(lines)


def markdown(result: Result) -> str:
    """The case as a section of docs/benchmarks.md's generated part."""
    rows = "\n".join(
        f"| {o.label} | {o.archived} | {o.measured.wall:.1f} | {o.measured.returncode} |"
        for o in (result.bare, result.full)
    )
    floor = ("" if result.floor is None else
             f"; the resolver alone takes {result.floor:.1f} s for as many fresh names")
    return f"""
### Dead hosts ({result.kind})

{result.site} (bench/deadhosts.py), crawled with and without `--no-requisites`:

| crawl | pages archived | wall s | exit |
|:--|--:|--:|--:|
{rows}

Ratio {result.ratio:.2f} (limit {LIMIT}: {"met" if result.ok else "not met"}){floor}.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deadhosts", description=__doc__)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--per-page", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per crawl")
    parser.add_argument(
        "--kind", choices=("invalid", "nxdomain", "refused", "all"), default="all"
    )
    parser.add_argument("--repeat", type=int, default=1, help="pairs of crawls (medians)")
    args = parser.parse_args(argv)
    kinds = ("invalid", "nxdomain", "refused") if args.kind == "all" else (args.kind,)
    results = [
        measure(args.pages, args.hosts, args.per_page, args.timeout, kind, args.repeat)
        for kind in kinds
    ]
    for result in results:
        print(describe(result))
    # the resolver-bound case is reported, not judged: its floor is the network's resolver
    judged = [result for result in results if result.kind != "nxdomain"]
    return 0 if all(result.ok for result in judged) else 1


if __name__ == "__main__":
    sys.exit(main())
