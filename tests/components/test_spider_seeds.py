"""The spider takes the seeds ``newsarchive crawl`` has read already instead of reading its
NEWSARCHIVE_SEEDS again (100,000 seeds take seconds to read), with their warnings."""

from __future__ import annotations

from pathlib import Path

from newsarchive.crawl.seeds import load_seeds
from newsarchive.store.archive import Archive
from spiders.articles import ArticlesSpider
from tests.components.support import build_crawler


def test_seeds_read_by_the_command_are_not_read_again(tmp_path: Path) -> None:
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("https://news.example.org/a.html\nnot a url\n")
    loaded = load_seeds([str(seed_file)])
    seed_file.write_text("https://news.example.org/changed-since.html\n")  # read again: seen
    crawler = build_crawler(tmp_path / "out", ArticlesSpider, NEWSARCHIVE_SEEDS=[str(seed_file)])
    spider = ArticlesSpider.from_crawler(crawler, loaded_seeds=loaded)
    assert [seed.url for seed in spider.seeds] == ["https://news.example.org/a.html"]
    assert len(Archive.of(crawler).stats.seeds_invalid) == 1  # the warning of the first read


def test_without_them_the_spider_reads_its_seeds(tmp_path: Path) -> None:
    seed_file = tmp_path / "seeds.txt"
    seed_file.write_text("https://news.example.org/b.html\n")
    crawler = build_crawler(tmp_path / "out", ArticlesSpider, NEWSARCHIVE_SEEDS=[str(seed_file)])
    spider = ArticlesSpider.from_crawler(crawler)
    assert [seed.url for seed in spider.seeds] == ["https://news.example.org/b.html"]
