"""Page requisites: real crawls of the fixture site capture what its pages load, raw only."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse
from warcio.archiveiterator import ArchiveIterator

from newsarchive.crawl.spidermiddlewares.requisites import requisite_urls
from newsarchive.demo.server import SiteServer
from newsarchive.extract.requisites import css_urls
from tests.conftest import CrawlRun, run_newsarchive, write_seed_document


def _responses(run: CrawlRun) -> dict[str, list]:
    found: dict[str, list] = {}
    for path in run.warc_files():
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    found.setdefault(url, []).append(
                        (record.rec_headers.get_header("WARC-Truncated"),
                         record.content_stream().read())
                    )
    return found


@pytest.fixture(scope="module")
def crawl(site, tmp_path_factory) -> CrawlRun:
    work = tmp_path_factory.mktemp("requisites")
    site.clear()
    seed = write_seed_document(site, work)
    return run_newsarchive("crawl", str(seed), "-o", str(work / "out"))


def test_requisites_archived_raw(crawl: CrawlRun, site, expected):
    assert crawl.returncode == 0, crawl.stderr
    wanted = expected["requisites"]
    responses = _responses(crawl)
    for key in ("stylesheet", "image", "css_image"):  # css_image: named only by the CSS
        url = site.base_url + wanted[key]
        assert url in responses, key
        stored = responses[url][0][1]
        assert stored == (Path(__file__).parent / "site" / wanted[key][1:]).read_bytes()
    index = (crawl.output / "index" / "index.cdxj").read_text()
    assert site.base_url + wanted["image"] in index


def test_requisites_have_no_jsonl_line_and_no_followed_links(crawl: CrawlRun, site):
    urls = {line["url"] for line in crawl.jsonl_lines()}
    assert not any("/static/" in url for url in urls)
    assert sum(1 for path in site.paths if path == "/static/site.css") == 1  # once per run


def test_no_requisites_option(site, tmp_path: Path, expected):
    site.clear()
    seed = write_seed_document(site, tmp_path)
    run = run_newsarchive("crawl", str(seed), "-o", str(tmp_path / "out"), "--no-requisites",
                          "--depth", "0")
    assert run.returncode == 0, run.stderr
    assert not any(path.startswith("/static/") for path in site.paths)


def test_count_and_size_caps(site, tmp_path: Path, expected):
    site.clear()
    seed = write_seed_document(site, tmp_path)
    run = run_newsarchive(
        "crawl", str(seed), "-o", str(tmp_path / "out"), "--depth", "0",
        "-s", "NEWSARCHIVE_REQUISITES_MAX=1", "-s", "NEWSARCHIVE_REQUISITES_MAXSIZE=100",
    )
    assert run.returncode == 0, run.stderr
    paths = set(site.paths)
    assert expected["requisites"]["stylesheet"] in paths  # first in document order
    assert expected["requisites"]["image"] not in paths  # over the count cap
    css = _responses(run)[site.base_url + expected["requisites"]["stylesheet"]][0]
    assert css[0] == "length" and len(css[1]) == 100  # over the size cap: truncated, marked


def test_requisite_urls_from_html_and_css():
    body = (
        b'<html><head><base href="http://cdn.test/assets/">'
        b'<link rel="Stylesheet preload" href="a.css"><link rel="icon" href="/favicon.ico">'
        b'<script src="https://js.test/app.js#v1"></script><style>@import "p.css";'
        b' body{background:url(bg.png)}</style></head><body>'
        b'<img src="i.png" srcset="i2.png 2x, data:image/png;base64,xx 3x">'
        b'<picture><source srcset="w.webp 1x"></picture><p style="background:url(\'s.png\')">'
        b'<a href="/not-a-requisite">x</a><img src="mailto:x@y"></body></html>'
    )
    response = HtmlResponse("http://news.test/page.html", body=body, encoding="utf-8")
    assert requisite_urls(response) == [
        "http://cdn.test/assets/a.css",
        "http://cdn.test/favicon.ico",
        "https://js.test/app.js",
        "http://cdn.test/assets/i.png",
        "http://cdn.test/assets/i2.png",
        "http://cdn.test/assets/w.webp",
        "http://cdn.test/assets/p.css",
        "http://cdn.test/assets/bg.png",
        "http://cdn.test/assets/s.png",
    ]
    assert css_urls("@font-face{src:url('f.woff2') format('woff2')} @import 'x.css';") == [
        "x.css", "f.woff2"
    ]


def test_requisites_on_another_host_obey_its_robots_txt(tmp_path: Path):
    """A requisite on a host outside the scope (here `localhost` beside a seed on 127.0.0.1,
    one server) is fetched only if that host's robots.txt allows it."""
    root = tmp_path / "site"
    (root / "private").mkdir(parents=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    (root / "open.png").write_bytes(b"\x89PNG\r\n\x1a\n open")
    (root / "private" / "closed.png").write_bytes(b"\x89PNG\r\n\x1a\n closed")
    with SiteServer(root) as server:
        other = f"http://localhost:{server.port}"
        (root / "index.html").write_text(
            "<html><head><title>Page</title></head><body><article><h1>Page</h1>"
            f"<p>{'Words of the article. ' * 40}</p>"
            f'<img src="{other}/open.png"><img src="{other}/private/closed.png">'
            "</article></body></html>"
        )
        run = run_newsarchive(
            "crawl", f"{server.base_url}/index.html", "--depth", "0", "-o", str(tmp_path / "out"),
            "-s", "NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=False",
        )
        paths = server.paths
    assert run.returncode == 0, run.stderr
    assert paths.count("/robots.txt") == 2, run.stderr  # 127.0.0.1's and localhost's
    assert "/open.png" in paths
    assert "/private/closed.png" not in paths
