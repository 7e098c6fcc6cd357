"""The extraction pipeline: trafilatura on HTML pages in the extraction workers, which must prove
they can extract before the crawl fetches anything."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import CloseSpider

from newsarchive.base.mediatypes import is_html
from newsarchive.compat.trafilatura import Tuning
from newsarchive.crawl.items import PageItem
from newsarchive.extract.analysis import not_html_error
from newsarchive.extract.decoding import decode_html
from newsarchive.extract.workers import ExtractionPool, ExtractionUnavailable
from newsarchive.store.archive import Archive

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

EXTRACTION_UNAVAILABLE = "extraction_unavailable"  # Scrapy close reason


class ExtractionPipeline:
    """Runs trafilatura on HTML pages in a process pool sized to the cores.

    The pool (``archive.workers``) also serves the spider, which hands it each HTML page to
    find its links and requisites and extract it in one parse; the pages it extracted arrive
    here with their extraction done."""

    def __init__(self, archive: Archive):
        self.archive = archive
        self.config = archive.config
        self.pool: ExtractionPool | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(Archive.of(crawler))

    async def open_spider(self) -> None:
        if self.config.extract or self.config.links_in_workers:
            tuning = Tuning(self.config.trafilatura_tuning, self.config.readability)
            self.pool = ExtractionPool(
                self.config.extract_workers, self.config.extract_timeout, tuning
            )
            self.archive.workers = self.pool
        if self.config.extract and self.pool is not None:
            # Scrapy sends no request before every pipeline has opened: a crawl that cannot
            # extract stops here, before it fetches anything (the CLI says why, exits 1).
            # CloseSpider while the spider starts is honoured since Scrapy 2.18.
            try:
                await self.pool.warm_up()
            except ExtractionUnavailable as exc:
                self.archive.extraction_unavailable = str(exc)
                raise CloseSpider(EXTRACTION_UNAVAILABLE) from exc

    def close_spider(self) -> None:
        if self.pool is not None:
            self.archive.workers = None
            self.pool.close()
            self.pool = None

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem) or item.status is None or item.status >= 400:
            return item
        if item.error:
            return item  # refused after it was received (a decompression bomb): not extracted
        if item.url in self.archive.written_urls:
            return item  # resumed run: its line is written already
        if not is_html(item.content_type, item.body):
            item.extraction = {"extraction_error": not_html_error(item.content_type)}
            return item
        if not self.config.extract:
            item.extraction = {"extraction_error": "extraction disabled (--no-extract)"}
            if self.config.jsonl_html:
                item.extraction["html"] = decode_html(item.body, item.content_type)[0]
            return item
        if not item.extraction and self.pool is not None:
            item.extraction = await self.pool.extract(
                item.body, item.page_url, item.content_type, include_html=self.config.jsonl_html
            )
        self.archive.stats.extraction_done(item.extraction)
        return item
