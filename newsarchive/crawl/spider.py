"""The articles crawl: seed pages, then the related articles they link to.

``scrapy crawl articles -a seeds=PATH_OR_URL`` (several separated by commas or whitespace), or
``newsarchive crawl SEED...`` which passes them in NEWSARCHIVE_SEEDS.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from newsarchive.base.failures import DeadHostError, RunStopping
from newsarchive.base.mediatypes import is_html
from newsarchive.base.meta import (
    CAPTURE_META_KEY,
    DISCOVERY_META_KEY,
    REFERRER_META_KEY,
    REQUISITE_URLS_META_KEY,
    SEED_META_KEY,
    TITLES_META_KEY,
    VIA_META_KEY,
)
from newsarchive.base.urls import InvalidURL, normalize_url, registered_domain, url_host
from newsarchive.crawl.feeds import Discovery, DocKind, discover
from newsarchive.crawl.items import PageItem
from newsarchive.crawl.seeds import Seed, SeedWarning, load_seeds, related_titles_by_file
from newsarchive.extract.analysis import PageAnalysis, PageJob
from newsarchive.extract.links import discover_links
from newsarchive.schedule.revisit import RevisitPolicy, Verdict
from newsarchive.store.archive import Archive

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)


class BaseArticlesSpider(scrapy.Spider):
    """The articles crawl: seed pages, then the related articles they link to (the module
    docstring). ``spiders.articles.ArticlesSpider`` is it, as a Scrapy project spider."""

    name = "articles"

    def __init__(
        self,
        seeds: str | None = None,
        *args: Any,
        loaded_seeds: tuple[list[Seed], list[SeedWarning]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.seed_args = seeds.replace(",", " ").split() if seeds else []
        # the seeds of NEWSARCHIVE_SEEDS as `newsarchive crawl` read them already (a list of
        # 100,000 seeds takes seconds to read): used instead of reading them again
        self.loaded_seeds = loaded_seeds
        self.seeds: list[Seed] = []
        self.seed_hosts: set[str] = set()
        self.seed_urls: set[str] = set()
        # 64-bit hashes of the links already followed in this run: most links of a news page
        # were seen on earlier pages, and a Request the dupefilter drops costs far more.
        self.followed: set[int] = set()
        self.candidates = 0
        self.not_due: set[int] = set()  # 64-bit hashes of the known articles found not due

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.archive = Archive.of(crawler)
        spider.config = spider.archive.config
        spider.policy = RevisitPolicy.from_config(spider.config, spider.archive.run_id)
        loaded = None if spider.seed_args else spider.loaded_seeds
        spider._use_seeds(*(loaded or load_seeds(spider.seed_args or list(spider.config.seeds))))
        spider.loaded_seeds = None
        return spider

    def _use_seeds(self, seeds: list[Seed], warnings: list[SeedWarning]) -> None:
        for warning in warnings:
            logger.warning("seed input: %s", warning)
            if warning.invalid:
                self.archive.stats.seeds_invalid.append(str(warning))
            else:
                self.archive.stats.errors.append(f"seed input: {warning}")
        if self.config.depth == 0:
            for name, count in related_titles_by_file(seeds).items():
                note = f"{count} 'Related article:' lines in {name} will not be followed: --depth 0"
                logger.warning("seed input: %s", note)
                self.archive.stats.errors.append(f"seed input: {note}")
        self.seeds = seeds
        self.seed_hosts = {url_host(seed.url) for seed in seeds}
        self.seed_urls = {seed.url for seed in seeds}
        self.archive.seeds = [seed.url for seed in seeds]
        self.archive.stats.seeds_total = len(seeds)
        domains = {registered_domain(seed.url) for seed in seeds}
        domains.update(self.config.allowed_domains)
        self.allowed_domains = sorted(domains)

    async def start(self) -> AsyncIterator[Request]:
        for index, seed in enumerate(self.seeds):
            if self._max_pages_reached():
                self._seeds_beyond_max_pages(len(self.seeds) - index)
                return
            if seed.via != "seed":  # an entry of a feed or sitemap file: the revisit policy
                if self._due(seed.url, seed.lastmod):
                    yield self._request(seed.url, via=seed.via, seed=seed.url, referrer=None)
                else:
                    self.archive.stats.seeds_archived += 1  # by an earlier run, and not due
                continue
            yield self._request(
                seed.url,
                via="seed",
                seed=seed.url,
                referrer=None,
                meta={TITLES_META_KEY: seed.related_titles},
                dont_filter=True,  # a seed is always fetched, even if a redirect led there first
            )

    def _max_pages_reached(self) -> bool:
        """Whether --max-pages requests for pages (JSONL lines: seeds, entries of feeds and
        sitemaps, followed links) have been made; robots.txt and requisites do not count."""
        return bool(self.config.max_pages) and self.candidates >= self.config.max_pages

    def _seeds_beyond_max_pages(self, count: int) -> None:
        self.archive.stats.seeds_not_fetched = count
        logger.warning(
            "max pages (%d) reached: %d more seeds not fetched", self.config.max_pages, count
        )

    def _request(
        self,
        url: str,
        *,
        via: str,
        seed: str,
        referrer: str | None,
        meta: dict | None = None,
        dont_filter: bool = False,
    ) -> Request:
        self.candidates += 1
        return Request(
            url,
            dont_filter=dont_filter,
            callback=self.parse_page,
            errback=self.on_error,
            meta={
                VIA_META_KEY: via,
                SEED_META_KEY: seed,
                REFERRER_META_KEY: referrer,
                **(meta or {}),
            },
        )

    async def parse_page(self, response: Response) -> AsyncIterator[PageItem | Request]:
        discovery = self._discovery(response)
        if discovery is not None:
            if not response.meta.get(DISCOVERY_META_KEY):
                yield self._page_item(response)
            for request in self._discovered(response, discovery):
                yield request
            return
        item = self._page_item(response)
        follow = (
            response.status < 400
            and isinstance(response, TextResponse)
            and response.meta.get("depth", 0) < self.config.depth
        )
        job = self._worker_job(response, item, follow)
        if follow and (job is None or not job.links):
            # links found here: the crawl goes on while a worker extracts the page
            for request in self._follow(response, None):
                yield request
            follow = False
        analysis = await self._analyse(job, response, item) if job is not None else None
        yield item
        if follow:
            for request in self._follow(response, analysis):
                yield request

    # (not "_job": scrapyd passes the job id as that spider argument)
    def _worker_job(self, response: Response, item: PageItem, follow: bool) -> PageJob | None:
        """What the extraction workers are to do with this page: parse it once for its cleaned
        copy, its links and its requisites (None: nothing, or no workers). Until the workers
        have started (~1 s: they import trafilatura), the crawl finds links itself."""
        workers = self.archive.workers
        if workers is None or response.status >= 400 or not is_html(item.content_type, item.body):
            return None
        in_workers = self.config.links_in_workers and workers.ready
        job = PageJob(
            response.body,
            response.url,
            item.content_type,
            extract=self.config.extract
            and not item.error
            and item.url not in self.archive.written_urls,
            include_html=self.config.jsonl_html,
            links=follow and in_workers,
            related_titles=tuple(response.meta.get(TITLES_META_KEY, ())),
            allowed_domains=tuple(self.allowed_domains),
            requisites=in_workers and self.config.requisites and CAPTURE_META_KEY in response.meta,
        )
        return job if job.extract or job.links or job.requisites else None

    async def _analyse(self, job: PageJob, response: Response, item: PageItem) -> PageAnalysis:
        """Hand `job` to the workers (`_worker_job` made it only when they run)."""
        workers = self.archive.workers
        assert workers is not None
        analysis = await workers.analyse(job)
        if analysis.extraction is not None:
            item.extraction = analysis.extraction
        if analysis.requisites is not None:
            response.meta[REQUISITE_URLS_META_KEY] = analysis.requisites
        return analysis

    def _discovery(self, response: Response) -> Discovery | None:
        """The feed, sitemap or robots.txt a seed (or a sitemap it listed) turned out to be."""
        meta = response.meta
        if response.status >= 400:
            return None
        if meta.get(VIA_META_KEY) != "seed" and not meta.get(DISCOVERY_META_KEY):
            return None
        discovery = discover(response.body, response.url)
        return None if discovery.kind is DocKind.OTHER else discovery

    def _discovered(self, response: Response, discovery: Discovery) -> Iterator[Request]:
        seed = response.meta.get(SEED_META_KEY, response.url)
        for url in discovery.sitemaps:
            yield Request(
                url,
                callback=self.parse_page,
                errback=self.on_error,
                meta={
                    VIA_META_KEY: "sitemap",
                    SEED_META_KEY: seed,
                    REFERRER_META_KEY: response.url,
                    DISCOVERY_META_KEY: True,
                },
            )
        for entry in discovery.entries:
            try:
                url = normalize_url(entry.url)
            except InvalidURL:
                continue
            if url in self.seed_urls or not self._due(url, entry.lastmod):
                continue
            if self._max_pages_reached():
                logger.info("max pages (%d) reached: not enqueuing more entries", self.candidates)
                return
            yield self._request(url, via=entry.via, seed=seed, referrer=response.url)

    def _due(self, url: str, lastmod: datetime | None = None) -> bool:
        """Whether a known article is to be fetched again (newsarchive.schedule.revisit)."""
        verdict = self.policy.verdict(self.archive.state, url, lastmod)
        if verdict is not Verdict.NOT_DUE:
            # else fetched in this run already, or a listing page: not counted
            return verdict is Verdict.DUE
        key = hash(url)
        if key not in self.not_due:  # listed by the feed and the sitemap: one article
            self.not_due.add(key)
            self.archive.stats.not_due += 1
        return False

    def _follow(self, response: TextResponse, analysis: PageAnalysis | None) -> Iterator[Request]:
        titles = response.meta.get(TITLES_META_KEY, ())
        if analysis is not None and analysis.links is not None:
            links, unmatched = analysis.links, analysis.unmatched_titles
            self.crawler.stats.inc_value("newsarchive/pages_linked_by_workers")
        else:  # no workers (yet), or one failed on this page: parse it here
            found = discover_links(response, titles, self.allowed_domains)
            links = [(link.url, link.via) for link in found.links]
            unmatched = found.unmatched_titles
            self.crawler.stats.inc_value("newsarchive/pages_linked_by_crawler")
        for title in titles:
            matched = title not in unmatched
            self.archive.stats.title_looked_up(title, response.url, matched)
            if not matched:
                logger.info("Related article %r: no matching link on %s", title, response.url)
        seed = response.meta.get(SEED_META_KEY, response.url)
        for url, via in links:
            if url in self.seed_urls:
                continue  # fetched as a seed already: a second visit would be a duplicate line
            key = hash(url)
            if key in self.followed:
                continue  # requested (or found not due) earlier in this run
            self.followed.add(key)
            if not self._due(url):
                continue
            if self._max_pages_reached():
                logger.info("max pages (%d) reached: not following more links", self.candidates)
                return
            yield self._request(url, via=via, seed=seed, referrer=response.url)

    def parse_requisite(self, response: Response) -> Iterator[Any]:
        """A page requisite (newsarchive.crawl.spidermiddlewares.requisites): archived raw by the
        WARC capture
        middleware, with no JSONL line and no links followed."""
        yield from ()

    def requisite_failed(self, failure: Failure) -> Iterator[Any]:
        # a dead host's requisites: its one WARNING says it (crawl/downloadermiddlewares/deadhosts)
        level = logging.DEBUG if failure.check(DeadHostError) else logging.INFO
        logger.log(level, "requisite not captured: %s: %s", failure.request.url,
                   _describe_failure(failure))
        yield from ()

    def on_error(self, failure: Failure) -> Iterator[PageItem]:
        request = failure.request
        if failure.check(RunStopping):  # not sent: back in the queue for --resume
            return
        if request.meta.get(DISCOVERY_META_KEY):
            self.archive.stats.errors.append(f"{request.url}: {_describe_failure(failure)}")
            return
        response = failure.value.response if failure.check(HttpError) else None
        if response is not None:
            yield self._page_item(response)
            return
        item = self._base_item(request, datetime.now(UTC))
        item.error = _describe_failure(failure)
        _attach_capture(item, request)
        self._count_seed(item)
        yield item

    def _page_item(self, response: Response) -> PageItem:
        capture = response.meta.get(CAPTURE_META_KEY) or {}
        written = capture.get("response")
        fetched = datetime.now(UTC)
        item = self._base_item(response.request, fetched)
        if written is not None:
            item.fetched_at = _iso_z(written.date)
        item.final_url = response.url
        item.status = capture.get("received_status") or response.status  # 304, not the page
        item.revisit_profile = capture.get("revisit_profile")
        item.content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        item.body = response.body
        item.response_record = written
        item.truncated = capture.get("truncated")
        item.error = capture.get("error")  # a response that arrived broken (capture/exchange.py)
        if item.status >= 400:
            item.error = f"HTTP {item.status}"
        self._count_seed(item)
        return item

    def _base_item(self, request: Request, fetched: datetime) -> PageItem:
        meta = request.meta
        return PageItem(
            url=meta.get("redirect_urls", [request.url])[0],
            via=meta.get(VIA_META_KEY, "seed"),
            seed=meta.get(SEED_META_KEY, request.url),
            referrer=meta.get(REFERRER_META_KEY),
            depth=meta.get("depth", 0),
            fetched_at=fetched.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    def _count_seed(self, item: PageItem) -> None:
        if item.depth != 0:  # seeds, and entries of feed or sitemap files given as seeds
            return
        fetched = item.status is not None and item.status < 400 and not item.error
        if fetched and item.response_record is not None:
            self.archive.stats.seeds_archived += 1
        else:
            self.archive.stats.seeds_failed.append(f"{item.url}: {item.error}")


def _attach_capture(item: PageItem, request: Request) -> None:
    """A response received, then refused (decompression bomb, bad redirect), stays linked."""
    capture = request.meta.get(CAPTURE_META_KEY) or {}
    written = capture.get("response")
    if written is not None:
        item.response_record = written
        item.status = capture.get("received_status")
        item.final_url = request.url
        item.truncated = capture.get("truncated")
        item.fetched_at = _iso_z(written.date)


def _describe_failure(failure: Failure) -> str:
    value = failure.value
    message = str(value) or type(value).__name__
    if type(value).__name__ == "IgnoreRequest" and "robots" in message.lower():
        return "forbidden by robots.txt"
    return f"{type(value).__name__}: {message}"


def _iso_z(warc_date: str) -> str:
    # WARC-Date carries microseconds; the JSONL keeps whole seconds in UTC.
    return warc_date[:19] + "Z"
