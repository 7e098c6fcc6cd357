"""The framework reference: plain Scrapy crawling the same articles, with no output at all.

``python -m bench.bare_spider URL --stats FILE [--naive]``

The default spider is lean: it walks the tree Scrapy already parsed, joins each href and
requests only article URLs it has not seen yet (what a careful Scrapy user writes). ``--naive``
is the textbook ``CrawlSpider`` + ``LinkExtractor`` instead, which turns every link into a
Request for the dupefilter to drop. Both follow exactly the URLs newsarchive follows on the
benchmark site (dated article paths), obey robots.txt and use Scrapy's own download handler.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule

ARTICLE_PATH = r"/\d{4}/\d\d/\d\d/[^/]+-\d{6,}\.html$"
_ARTICLE_RE = re.compile(ARTICLE_PATH)


class LeanSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, start: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.start_urls = [start]
        self.origin = "{0.scheme}://{0.netloc}/".format(urlsplit(start))
        self.seen: set[str] = {start}
        self.pages = 0

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        self.pages += 1
        base = response.url
        for anchor in response.selector.root.iter("a"):
            href = anchor.get("href")
            if not href:
                continue
            url = urljoin(base, href)
            if url not in self.seen and url.startswith(self.origin) and _ARTICLE_RE.search(url):
                self.seen.add(url)
                yield scrapy.Request(url, callback=self.parse, dont_filter=True)


class NaiveSpider(CrawlSpider):
    name = "bare-naive"
    def __init__(self, start: str, **kwargs: Any):
        self.start_urls = [start]
        origin = "{0.scheme}://{0.netloc}/".format(urlsplit(start))
        extractor = LinkExtractor(allow=f"^{re.escape(origin)}.*{ARTICLE_PATH}")
        self.rules = (Rule(extractor, callback="count", follow=True),)
        self.pages = 0
        super().__init__(**kwargs)

    def parse_start_url(self, response: Response, **kwargs: Any) -> list[Any]:
        self.pages += 1
        return []

    def count(self, response: Response) -> None:
        self.pages += 1


SETTINGS = {
    "ROBOTSTXT_OBEY": True,
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS": 32,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
    "LOG_LEVEL": "WARNING",
    "TELNETCONSOLE_ENABLED": False,
    "USER_AGENT": "newsarchive-bench (bare scrapy)",
    "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_spider")
    parser.add_argument("start")
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    settings = dict(SETTINGS)
    settings["CONCURRENT_REQUESTS"] = settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = args.concurrency
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(NaiveSpider if args.naive else LeanSpider)
    process.crawl(crawler, start=args.start)
    process.start()
    spider = crawler.spider
    args.stats.write_text(json.dumps({"pages": spider.pages}))


if __name__ == "__main__":
    main()
