"""Hosts that do not exist (issue 14): each is tried once, then its requests fail unsent.

Real crawls of a small local site whose pages load requisites from hosts under ``.invalid``
(reserved: never resolves) and from a port on 127.0.0.1 where nothing listens (refused).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.utils.misc import build_from_crawler

from newsarchive.base.exitcodes import EXIT_PARTIAL
from newsarchive.base.failures import DeadHostError
from newsarchive.capture.http_handler import RawCaptureDownloadHandler
from newsarchive.compat.scrapy import CannotResolveHostError
from newsarchive.crawl.downloadermiddlewares.deadhosts import DeadHostsMiddleware
from newsarchive.demo.server import SiteServer
from newsarchive.store.archive import RunStats
from tests.components.support import build_crawler
from tests.conftest import CrawlRun, run_newsarchive

PAGES = 6
DNS_HOSTS = [f"cdn{i}.gone-{i}.invalid" for i in range(8)]
DEAD_LINE = "is dead for this run"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: connections to it are refused


def _page(index: int, refused: int) -> str:
    """Loads 2 requisites from each of 4 dead hosts, 1 from the refused port, 1 that exists."""
    hosts = [DNS_HOSTS[(index + k) % len(DNS_HOSTS)] for k in range(4)]
    tags = [f'<img src="http://{host}/img/{index}-{n}.jpg">' for host in hosts for n in range(2)]
    tags.append(f'<script src="http://127.0.0.1:{refused}/app-{index}.js"></script>')
    tags.append('<link rel="stylesheet" href="/static/site.css">')
    text = "<p>The council met on Tuesday to discuss the budget for next year. </p>" * 12
    return (f"<!doctype html><html lang=en><head><title>Story {index}</title></head><body>"
            f"<article><h1>Story {index}</h1>{''.join(tags)}{text}</article></body></html>")


@pytest.fixture(scope="module")
def dead_site(tmp_path_factory) -> tuple[SiteServer, int]:
    root = tmp_path_factory.mktemp("deadhosts-site")
    refused = _closed_port()
    links = []
    for index in range(PAGES):
        path = f"news/2024/05/12/council-story-{100000 + index}.html"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(_page(index, refused))
        links.append(f'<a href="/{path}">Council story {index}</a>')
    (root / "index.html").write_text("<html><body>" + "".join(links) + "</body></html>")
    (root / "static").mkdir()
    (root / "static" / "site.css").write_text("body { color: #222 }")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n")
    with SiteServer(root) as server:
        yield server, refused


def _crawl(server: SiteServer, out: Path, *args: str) -> CrawlRun:
    # one request at a time: each dead host's first request is the only one that is sent
    return run_newsarchive("crawl", server.base_url + "/", "-o", str(out), "--concurrency", "1",
                           "-s", "NEWSARCHIVE_PROGRESS=False", *args)


@pytest.fixture(scope="module")
def crawl(dead_site, tmp_path_factory) -> CrawlRun:
    server, _ = dead_site
    server.clear()
    return _crawl(server, tmp_path_factory.mktemp("deadhosts") / "out")


def test_pages_archived_and_each_dead_host_reported_once(crawl: CrawlRun, dead_site):
    server, refused = dead_site
    assert crawl.returncode == 0, crawl.stderr
    assert sum(1 for line in crawl.jsonl_lines() if line["status"] == 200) == PAGES + 1
    dead = {f"127.0.0.1:{refused}", *DNS_HOSTS}
    lines = [line for line in crawl.stderr.splitlines() if DEAD_LINE in line]
    assert sorted(line.split("host ", 1)[1].split(" ")[0] for line in lines) == sorted(dead)
    assert all("WARNING" in line for line in lines)
    assert "Traceback" not in crawl.stderr
    assert "Retrying" not in crawl.stderr and "Gave up retrying" not in crawl.stderr
    assert "requisite not captured" not in crawl.stderr  # the host's one line says it
    assert f"dead hosts: {len(dead)} " in crawl.stdout + crawl.stderr


def test_manifest_lists_dead_hosts_and_requests_not_sent(crawl: CrawlRun, dead_site):
    _, refused = dead_site
    listed = {entry["host"]: entry for entry in crawl.manifests()[0]["stats"]["dead_hosts"]}
    assert set(listed) == {f"127.0.0.1:{refused}", *DNS_HOSTS}
    assert "the address of cdn0.gone-0.invalid was not found" in listed[DNS_HOSTS[0]]["reason"]
    assert f"127.0.0.1:{refused}" in listed[f"127.0.0.1:{refused}"]["reason"]
    # each page names 4 DNS hosts twice and the refused port once; a host's first request is
    # its robots.txt (robotsscope: fetched off the scope too), which finds it dead, so every
    # requisite on it fails unsent
    dns_requests = PAGES * 4 * 2
    assert sum(listed[h]["requests_not_sent"] for h in DNS_HOSTS) == dns_requests
    # 127.0.0.1 is in the crawl's scope: its robots.txt, not a script, found the port closed
    assert listed[f"127.0.0.1:{refused}"]["requests_not_sent"] == PAGES


def test_live_host_on_same_address_unaffected(crawl: CrawlRun, dead_site):
    server, _ = dead_site
    # 127.0.0.1:<refused> is dead; 127.0.0.1:<site> is not: its stylesheet was fetched
    assert any(target == "/static/site.css" for _, target, _ in server.requests)


def test_seed_on_dead_host_fails_with_one_line(dead_site, tmp_path):
    server, _ = dead_site
    dead_seed = "http://news.gone-seed.invalid/politics/2024/05/12/story-100001.html"
    run = run_newsarchive("crawl", dead_seed, "-o", str(tmp_path / "out"), "--no-requisites",
                          "-s", "NEWSARCHIVE_PROGRESS=False")
    assert run.returncode == EXIT_PARTIAL, run.stderr
    assert "Traceback" not in run.stderr and "ERROR" not in run.stderr
    assert sum(DEAD_LINE in line for line in run.stderr.splitlines()) == 1
    (line,) = run.jsonl_lines()
    assert "the address of news.gone-seed.invalid was not found" in line["error"]
    entry = run.manifests()[0]["stats"]["dead_hosts"][0]
    assert entry["requests_not_sent"] == 1  # robots.txt found it dead; the seed was not sent
    # nothing was captured: no new article in the changes of the run
    assert not any(run.manifests()[0]["stats"]["changes"].values())
    assert "0 new, 0 changed, 0 unchanged" in run.stdout + run.stderr


def test_switched_off_retries_refused_connections(dead_site, tmp_path):
    _, refused = dead_site
    run = run_newsarchive("crawl", f"http://127.0.0.1:{refused}/", "-o", str(tmp_path / "out"),
                          "--no-requisites", "-s", "NEWSARCHIVE_DEAD_HOSTS=False",
                          "-s", "NEWSARCHIVE_PROGRESS=False", "-s", "LOG_LEVEL=DEBUG")
    assert run.returncode == EXIT_PARTIAL, run.stderr
    assert DEAD_LINE not in run.stderr
    assert f"Retrying <GET http://127.0.0.1:{refused}/>" in run.stderr


def test_dead_host_lookup_by_host_or_port():
    stats = RunStats()
    assert stats.dead_host_of("http://cdn.gone.invalid/a.css") is None
    stats.host_dead("cdn.gone.invalid", "DNS lookup of cdn.gone.invalid failed")
    stats.host_dead("127.0.0.1:9", "127.0.0.1:9: refused")
    assert stats.dead_host_of("https://CDN.gone.invalid:8443/x.js") == "cdn.gone.invalid"
    assert stats.dead_host_of("http://127.0.0.1:9/x") == "127.0.0.1:9"
    assert stats.dead_host_of("http://127.0.0.1/x") is None  # port 80: another address
    assert stats.dead_host_of("https://127.0.0.1:443/x") is None
    assert stats.dead_host_request("127.0.0.1:9") == "127.0.0.1:9: refused"
    assert stats.dead_host_requests == 1


def _counting_lookups(crawler, scenario) -> tuple[list[str], object]:
    """Run ``scenario(handler)`` with the real resolver, each lookup it asks for counted."""
    lookups: list[str] = []

    async def run() -> object:
        loop = asyncio.get_running_loop()
        real = loop.getaddrinfo

        async def counted(host, *args, **kwargs):
            lookups.append(host)
            return await real(host, *args, **kwargs)

        loop.getaddrinfo = counted
        handler = build_from_crawler(RawCaptureDownloadHandler, crawler)
        try:
            return await scenario(handler)
        finally:
            await handler.close()

    return lookups, asyncio.run(run())


def test_requests_at_once_share_one_lookup(tmp_path):
    """Ten requisites of one dead host asked for together: one DNS lookup, ten failures."""
    # under .test: asked of the resolver (RFC 6761 6.2), unlike .invalid names
    requests = [Request(f"http://cdn.shared-gone.test/img-{n}.jpg") for n in range(10)]

    async def scenario(handler):
        downloads = (handler.download_request(request) for request in requests)
        return await asyncio.gather(*downloads, return_exceptions=True)

    lookups, outcomes = _counting_lookups(build_crawler(tmp_path), scenario)
    assert all(isinstance(outcome, CannotResolveHostError) for outcome in outcomes)
    assert lookups == ["cdn.shared-gone.test"]


def test_invalid_names_fail_without_asking_the_resolver(tmp_path):
    """RFC 6761 6.4: names under .invalid never resolve; the resolver is not asked."""
    requests = [Request("http://cdn.gone.invalid/a.jpg"), Request("http://INVALID./b.css")]

    async def scenario(handler):
        downloads = (handler.download_request(request) for request in requests)
        return await asyncio.gather(*downloads, return_exceptions=True)

    lookups, outcomes = _counting_lookups(build_crawler(tmp_path), scenario)
    assert all(isinstance(outcome, CannotResolveHostError) for outcome in outcomes)
    assert "RFC 6761" in str(outcomes[0])
    assert lookups == []


@pytest.mark.parametrize("cache", [True, False])
def test_new_connections_to_a_known_host_ask_the_resolver_once(tmp_path, site, cache):
    crawler = build_crawler(tmp_path, NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=False,
                            DNSCACHE_ENABLED=cache)
    url = f"http://localhost:{site.port}/robots.txt"

    async def scenario(handler):
        for _ in range(3):  # a new connection each time
            response = await handler.download_request(Request(url, headers={"Connection": "close"}))
            assert response.status == 200
        return None

    lookups, _ = _counting_lookups(crawler, scenario)
    assert lookups == ["localhost"] * (1 if cache else 3)


def _dns_failure(errno: int) -> CannotResolveHostError:
    error = CannotResolveHostError("DNS lookup of slow.example failed")
    error.__cause__ = socket.gaierror(errno, "as the resolver said")
    return error


def test_temporary_dns_failure_is_retried_once_then_dead(tmp_path):
    middleware = DeadHostsMiddleware.from_crawler(build_crawler(tmp_path))
    request = Request("http://slow.example/a.css")
    shared = _dns_failure(socket.EAI_AGAIN)
    assert middleware.process_exception(request, shared) is None  # left to RetryMiddleware
    assert middleware.process_exception(request, shared) is None  # one lookup, two requests
    with pytest.raises(DeadHostError):
        middleware.process_exception(request, _dns_failure(socket.EAI_AGAIN))  # the retry's
    with pytest.raises(DeadHostError, match="DNS lookup of slow.example failed"):
        middleware.process_request(Request("https://slow.example/b.js"))


def test_no_such_name_is_dead_at_once(tmp_path):
    middleware = DeadHostsMiddleware.from_crawler(build_crawler(tmp_path))
    with pytest.raises(DeadHostError):
        middleware.process_exception(Request("http://x.example/"), _dns_failure(socket.EAI_NONAME))
    assert middleware.process_request(Request("http://other.example/")) is None
