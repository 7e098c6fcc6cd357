"""newsarchive.compat: each reach into Scrapy's or trafilatura's internals gives the same output
with its switch on and off (where it claims to), and is not made outside the verified versions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tarfile
import time
from pathlib import Path

import pytest
import scrapy
import trafilatura
from scrapy import Request, Spider, signals
from scrapy.downloadermiddlewares import cookies as scrapy_cookies
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.reactor import install_reactor, is_asyncio_reactor_installed
from scrapy.utils.test import get_crawler
from tldextract import TLDExtract

from newsarchive import settings as project_settings
from newsarchive.base.urls import OFFLINE_TLD_EXTRACT
from newsarchive.compat import scrapy as compat_scrapy
from newsarchive.compat import trafilatura as compat_trafilatura
from newsarchive.compat.trafilatura import ALWAYS, SHORT_TEXTS, Tuning
from newsarchive.compat.versions import VerifiedRange, release
from newsarchive.config import Config
from newsarchive.crawl.downloadermiddlewares.cookies import OfflineCookiesMiddleware
from newsarchive.crawl.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from newsarchive.extract.analysis import extract_page
from tests.conftest import ROOT, SITE

NO_REACTOR = {"TWISTED_REACTOR_ENABLED": False}  # components alone, on asyncio (Scrapy 2.19)


@pytest.fixture(scope="module", autouse=True)
def asyncio_reactor() -> None:
    """Scrapy before 2.19 builds no crawler without a reactor: install asyncio's, as `newsarchive
    crawl` runs. From 2.19 none is installed (other test modules run without one)."""
    if release(scrapy.__version__) < (2, 19):
        try:
            install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
        except Exception:  # a reactor is installed already (another test module)
            pass


def crawler_with(settings: dict | None = None):
    return get_crawler(Spider, {**NO_REACTOR, **(settings or {})})


EVALSET = ROOT.parent / "shared" / "eval" / "trafilatura-evalset.tar.gz"
EVAL_SAMPLE = 60  # pages of the development set, every n-th, beside the fixture site's


# --- the version guard --------------------------------------------------------------------------


def test_release_and_range() -> None:
    assert release("2.19.0") == (2, 19) and release("2.3.1.dev0") == (2, 3)
    assert release("3") == (3, 0)
    versions = VerifiedRange("lib", (2, 14), (2, 20))
    assert versions.covers("2.14.2") and versions.covers("2.19.0")
    assert not versions.covers("2.13.4") and not versions.covers("2.20.0")


def test_the_installed_versions_are_verified_ones() -> None:
    assert compat_scrapy.VERIFIED.covers(scrapy.__version__)
    assert compat_trafilatura.VERIFIED.covers(trafilatura.__version__)


def test_outside_its_range_a_reach_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    versions = VerifiedRange("lib", (1, 0), (1, 1))
    with caplog.at_level(logging.WARNING, logger="newsarchive.compat.versions"):
        assert not versions.allows("1.1.0", "patch")
        assert not versions.allows("1.1.0", "patch")
        assert versions.allows("1.0.9", "patch")
    assert [r.getMessage() for r in caplog.records] == [
        "lib 1.1.0 is outside the versions newsarchive's patch was verified with (>=1.0,<1.1): "
        "running without it, as plain lib does"
    ]


# --- trafilatura: the speed changes give the same output; the readability policy is separate --


def fixture_pages() -> list[tuple[str, bytes]]:
    return [
        (f"https://news.example.org/{path.relative_to(SITE)}", path.read_bytes())
        for path in sorted(SITE.rglob("*.html"))
    ]


def evalset_sample(directory: Path) -> list[tuple[str, bytes]]:
    """Every n-th page of the development set (shared/eval), read in the tarball's order (a
    gzip stream: reading members out of order decompresses it again for each)."""
    with tarfile.open(EVALSET) as tar:
        members = [member for member in tar.getmembers() if member.isfile()]
        index = next(member for member in members if member.name.endswith("/evaldata.json"))
        root = index.name.rsplit("/", 1)[0]
        entries = list(json.load(tar.extractfile(index)).items())
        step = max(1, len(entries) // EVAL_SAMPLE)
        wanted = {
            f"{root}/{folder}/{entry['file']}": url
            for url, entry in entries[::step]
            for folder in ("eval", "cache")
        }
        found = {
            wanted[member.name]: tar.extractfile(member).read()
            for member in members
            if member.name in wanted
        }
    return [(url, found[url]) for url, _ in entries[::step] if url in found]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    found = fixture_pages()
    if EVALSET.is_file():
        found += evalset_sample(tmp_path_factory.mktemp("evalset"))
    return found


def extract_all(pages: list[tuple[str, bytes]], tuning: Tuning) -> list[dict]:
    return [extract_page(body, url, "text/html", tuning=tuning) for url, body in pages]


@pytest.mark.parametrize("readability", [SHORT_TEXTS, ALWAYS])
def test_trafilatura_speed_changes_leave_every_field_unchanged(
    pages: list[tuple[str, bytes]], readability: str
) -> None:
    fast = extract_all(pages, Tuning(speed=True, readability=readability))
    plain = extract_all(pages, Tuning(speed=False, readability=readability))
    assert sum(bool(result["text"]) for result in plain) >= len(pages) * 0.8
    for (url, _), tuned, untuned in zip(pages, fast, plain, strict=True):
        assert tuned == untuned, url


LONG_ARTICLE = (
    "<html><head><title>Harbour report</title></head><body><article>"
    + "<p>The harbour authority reported that container traffic rose again this quarter.</p>" * 20
    + "</article></body></html>"
).encode()


@pytest.mark.parametrize("speed", [True, False])
def test_readability_policy_always_is_trafilaturas_own(
    readability_runs: list[int], speed: bool
) -> None:
    extract_page(LONG_ARTICLE, "https://news.example.org/a", "text/html",
                 tuning=Tuning(speed=speed, readability=ALWAYS))  # fmt: skip
    assert readability_runs and all(length > 0 for length in readability_runs)
    readability_runs.clear()
    extract_page(LONG_ARTICLE, "https://news.example.org/a", "text/html",
                 tuning=Tuning(speed=speed, readability=SHORT_TEXTS))  # fmt: skip
    assert readability_runs == [0]  # a long own text: readability saw the blank page only


def test_readability_policy_setting_is_checked() -> None:
    settings = crawler_with({"NEWSARCHIVE_READABILITY": "Always"}).settings
    assert Config.from_settings(settings).readability == ALWAYS
    with pytest.raises(ValueError, match="NEWSARCHIVE_READABILITY"):
        Config.from_settings(crawler_with({"NEWSARCHIVE_READABILITY": "x"}).settings)
    assert project_settings.NEWSARCHIVE_READABILITY == SHORT_TEXTS


def test_outside_the_verified_trafilatura_nothing_is_changed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    url, body = fixture_pages()[0]
    plain = extract_page(body, url, "text/html", tuning=Tuning(speed=False, readability=ALWAYS))
    monkeypatch.setattr(compat_trafilatura, "_hooks", None)
    monkeypatch.setattr(compat_trafilatura.VERIFIED, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="newsarchive.compat.versions"):
        hooks = compat_trafilatura._install(version="2.4.0")
    assert hooks.original_extract_and_compare is None
    assert not hooks.lists and not hooks.attributes and hooks.bare_extraction_code is None
    assert any("trafilatura 2.4.0 is outside" in r.getMessage() for r in caplog.records)
    assert extract_page(body, url, "text/html") == plain  # the default tuning asks for all


# --- Scrapy: the cookies middleware's public-suffix check -----------------------------------


SET_COOKIES = [
    b"suffix=1; Domain=co.uk; Path=/",  # a public suffix: refused
    b"site=2; Domain=example.co.uk; Path=/",
    b"private=3; Domain=github.io; Path=/",  # a private-domain suffix (PSL): refused
    b"host=4; Path=/",
]


QUIET = {"MEMUSAGE_ENABLED": False}  # its engine_stopped handler needs a started engine


def cookie_decisions(offline: bool) -> tuple[list[str], list[str]]:
    """The cookies sent on follow-up requests after one response set SET_COOKIES."""
    crawler = crawler_with({"NEWSARCHIVE_OFFLINE_PUBLIC_SUFFIXES": offline, **QUIET})
    crawler.spider = Spider("cookies")
    middleware = OfflineCookiesMiddleware.from_crawler(crawler)
    try:
        request = Request("https://www.example.co.uk/")
        headers = {b"Set-Cookie": SET_COOKIES}
        response = HtmlResponse(request.url, headers=headers, body=b"", request=request)
        middleware.process_response(request, response)
        sent = []
        for url in ("https://news.example.co.uk/", "https://other.co.uk/"):
            follow = Request(url)
            middleware.process_request(follow)
            sent.append(follow.headers.get(b"Cookie", b"").decode())
        return sent, sorted(cookie.name for jar in middleware.jars.values() for cookie in jar.jar)
    finally:
        crawler.signals.send_catch_log(signals.engine_stopped)


@pytest.fixture
def scrapys_extractor(monkeypatch: pytest.MonkeyPatch) -> TLDExtract:
    """Scrapy's module-level extractor, as it is once it has the suffix list (here the bundled
    one, so the test stays offline)."""
    extractor = TLDExtract(cache_dir=None, suffix_list_urls=(), include_psl_private_domains=True)
    monkeypatch.setattr(scrapy_cookies, "_split_domain", extractor)
    return extractor


def test_cookie_domains_are_decided_the_same_offline(scrapys_extractor: TLDExtract) -> None:
    online_like = cookie_decisions(offline=False)
    assert scrapy_cookies._split_domain is scrapys_extractor  # switched off: left alone
    offline = cookie_decisions(offline=True)
    assert offline == online_like
    assert offline == (["site=2", ""], ["host", "site"])
    assert scrapy_cookies._split_domain is scrapys_extractor  # put back when the engine stopped


def test_cookie_patch_is_made_while_the_crawl_runs_only(scrapys_extractor: TLDExtract) -> None:
    crawler = crawler_with({"NEWSARCHIVE_OFFLINE_PUBLIC_SUFFIXES": True, **QUIET})
    OfflineCookiesMiddleware.from_crawler(crawler)
    assert scrapy_cookies._split_domain is OFFLINE_TLD_EXTRACT
    crawler.signals.send_catch_log(signals.engine_stopped)
    assert scrapy_cookies._split_domain is scrapys_extractor


def test_cookie_patch_is_not_made_outside_the_verified_scrapy(
    scrapys_extractor: TLDExtract, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compat_scrapy.VERIFIED, "_warned", set())
    assert compat_scrapy.use_offline_public_suffixes(OFFLINE_TLD_EXTRACT, True, "2.20.0") is None
    assert compat_scrapy.use_offline_public_suffixes(OFFLINE_TLD_EXTRACT, False) is None
    assert scrapy_cookies._split_domain is scrapys_extractor
    restore = compat_scrapy.use_offline_public_suffixes(OFFLINE_TLD_EXTRACT, True)
    assert restore is not None and scrapy_cookies._split_domain is OFFLINE_TLD_EXTRACT
    restore()
    assert scrapy_cookies._split_domain is scrapys_extractor


# --- Scrapy: the engine ---------------------------------------------------------------------


class EngineWithHeartbeat:
    """Stands in for Scrapy's ExecutionEngine where only its heartbeat interval is read."""

    _SLOT_HEARTBEAT_INTERVAL = 5.0
    _slot = None


def test_idle_engine_poll_is_switchable_and_guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrapy.core.engine import ExecutionEngine

    assert ExecutionEngine._SLOT_HEARTBEAT_INTERVAL == 5.0  # the internal as verified
    monkeypatch.setattr(compat_scrapy.VERIFIED, "_warned", set())
    crawler = crawler_with()
    for enabled, version, expected in [
        (False, scrapy.__version__, 5.0), (True, "2.13.4", 5.0), (True, scrapy.__version__, 0.5),
    ]:  # fmt: skip
        crawler.engine = EngineWithHeartbeat()
        done = compat_scrapy.poll_idle_engine(crawler, 0.5, enabled, version)
        assert crawler.engine._SLOT_HEARTBEAT_INTERVAL == expected and done == (expected == 0.5)


class Slot:
    scheduler = "the scheduler"


class EngineBefore219(EngineWithHeartbeat):
    """Stands in for the ExecutionEngine of Scrapy 2.14 to 2.18: the scheduler on its slot."""

    _slot = Slot()


class EngineFrom219(EngineWithHeartbeat):
    """Stands in for the ExecutionEngine of Scrapy 2.19 on: a public ``scheduler``."""

    @property
    def scheduler(self) -> str:
        return "the public scheduler"


def test_engine_scheduler_is_read_publicly_where_scrapy_has_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scrapy.core.engine import ExecutionEngine

    monkeypatch.setattr(compat_scrapy.VERIFIED, "_warned", set())
    if release(scrapy.__version__) >= (2, 19):
        assert isinstance(ExecutionEngine.scheduler, property)
    crawler = crawler_with()
    crawler.engine = EngineFrom219()
    assert compat_scrapy.engine_scheduler(crawler, "2.21.0") == "the public scheduler"
    crawler.engine = EngineBefore219()
    assert compat_scrapy.engine_scheduler(crawler, "2.14.2") == "the scheduler"
    assert compat_scrapy.engine_scheduler(crawler, "2.20.0") is None


class SlotWithRequests:
    """Stands in for the engine's slot: ``remove_request`` as Scrapy's (2.14 to 2.19)."""

    def __init__(self) -> None:
        self.inprogress = {"a", "b"}

    def remove_request(self, request: str) -> None:
        self.inprogress.remove(request)


def test_request_finished_hook_is_switchable_and_guarded(monkeypatch: pytest.MonkeyPatch) -> None:
    from scrapy.core.engine import _Slot

    assert callable(_Slot.remove_request)  # the internal as verified
    monkeypatch.setattr(compat_scrapy.VERIFIED, "_warned", set())
    crawler, finished = crawler_with(), []
    installed = scrapy.__version__
    for enabled, version, hooked in [
        (False, installed, False), (True, "2.20.0", False), (True, installed, True),
    ]:  # fmt: skip
        crawler.engine = EngineWithHeartbeat()
        crawler.engine._slot = slot = SlotWithRequests()
        done = compat_scrapy.on_request_finished(crawler, finished.append, enabled, version)
        assert done is hooked
        slot.remove_request("a")
        assert slot.inprogress == {"b"} and finished == (["a"] if hooked else [])


class DownloaderOf:
    """Stands in for the engine, with Scrapy's downloader slots (``engine.downloader.slots``)."""

    def __init__(self, slots: dict) -> None:
        self.downloader = type("Downloader", (), {"slots": slots})()


@pytest.mark.parametrize(
    ("version", "clock"), [("2.19.0", time.monotonic), ("2.15.2", time.time), ("2.20.0", None)]
)
def test_retry_after_holds_the_slot_on_the_clock_of_each_scrapy(
    monkeypatch: pytest.MonkeyPatch, version: str, clock
) -> None:
    from scrapy.core.downloader import Slot

    monkeypatch.setattr(compat_scrapy.VERIFIED, "_warned", set())
    slot = Slot(1, 0.5, 0.0) if release(scrapy.__version__) < (2, 16) else Slot(1, 0.5)
    crawler = crawler_with()
    crawler.engine = DownloaderOf({"news.example.org": slot})
    held = compat_scrapy.hold_download_slot(crawler, "news.example.org", 30.0, version)
    assert held is (clock is not None)
    if clock is None:
        assert slot.lastseen == 0
    else:
        assert clock() + 25 < slot.lastseen <= clock() + 30
    assert not compat_scrapy.hold_download_slot(crawler, "other.example.org", 30.0)


@pytest.mark.parametrize("hold", [True, False])
def test_retry_after_hold_switch(hold: bool) -> None:
    """NEWSARCHIVE_RETRY_AFTER_HOLD=False: Scrapy's slots are left as they are (the retried
    request still waits its Retry-After; the rest of the host's queue does not)."""
    from scrapy.core.downloader import Slot

    from newsarchive.crawl.downloadermiddlewares.retryafter import RetryAfterMiddleware

    slot = Slot(1, 0.5, 0.0) if release(scrapy.__version__) < (2, 16) else Slot(1, 0.5)
    crawler = crawler_with({"NEWSARCHIVE_RETRY_AFTER_HOLD": hold})
    crawler.engine = DownloaderOf({"news.example.org": slot})
    crawler.spider = Spider.from_crawler(crawler, "retries")
    middleware = RetryAfterMiddleware.from_crawler(crawler)
    request = Request("https://news.example.org/a", meta={"download_slot": "news.example.org"})
    busy = TextResponse(request.url, status=503, headers={"Retry-After": "0"}, request=request)
    retry = asyncio.run(middleware.process_response(request, busy))
    assert isinstance(retry, Request)  # retried either way
    assert (slot.lastseen != 0) is hold


# --- Scrapy: robots.txt for every request that waited for it -------------------------------


class RobotsEngine:
    """Stands in for Scrapy's engine: serves robots.txt once `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.fetched = 0

    async def download_async(self, request: Request) -> TextResponse:
        self.fetched += 1
        await self.release.wait()
        body = b"User-agent: *\nDisallow: /private/\n"
        return TextResponse(request.url, body=body, request=request)


async def robots_decisions(middleware_class: type, paths: list[str]) -> list[str]:
    crawler = crawler_with({"ROBOTSTXT_OBEY": True})
    crawler.spider = Spider("robots")
    crawler.engine = engine = RobotsEngine()
    middleware = middleware_class.from_crawler(crawler)

    async def decide(path: str) -> str:
        try:
            await middleware.process_request(Request(f"https://news.example.org{path}"))
        except IgnoreRequest:
            return "refused"
        return "allowed"

    waiting = [asyncio.ensure_future(decide(path)) for path in paths]
    await asyncio.sleep(0.01)
    engine.release.set()
    decisions = await asyncio.gather(*waiting)
    assert engine.fetched == 1
    return decisions


def test_robots_txt_is_obeyed_by_every_request_that_waited() -> None:
    if release(scrapy.__version__) < (2, 19) and not is_asyncio_reactor_installed():
        pytest.skip("another reactor is installed in this test process")
    paths = ["/private/a", "/private/b", "/public", "/private/c"]
    decisions = asyncio.run(robots_decisions(RobotsTxtMiddleware, paths))
    assert decisions == ["refused", "refused", "allowed", "refused"]
