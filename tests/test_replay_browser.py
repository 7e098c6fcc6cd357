"""The replay app in a real headless Chromium, over a real archive of the fixture site.

Two crawls of a copy of the fixture site (the seed article edited in between), then the origin
server is stopped and a recording server takes its port: whatever the browser does in the
archive, that server must see no request. Screenshots go to test-artifacts/replay/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsarchive.demo.server import SiteServer
from tests.conftest import ROOT, SITE, CrawlRun, run_newsarchive
from tests.replay_support import (
    REPLAY_HOST,
    chromium,
    free_ports,
    get,
    require_chromium,
    wait_for,
)

ARTIFACTS = ROOT / "test-artifacts" / "replay"
EDITED_FROM = "The harbour commission voted seven to two in favour of the northern breakwater plan."
EDITED_TO = "The harbour commission voted six to three in favour of the northern breakwater plan."
HOSTILE_PATH = "/2024/05/05/hostile-page-a10666.html"

require_chromium(module_level=True)


def _hostile_page(app_origin: str) -> str:
    """An archived page whose script tries to read and change the archive app."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>&lt;img src=x onerror=alert(1)&gt; Harbour intruder page</title>
<meta name="author" content="Mallory">
</head><body><article><h1>&lt;img src=x onerror=alert(1)&gt; Harbour intruder page</h1>
<p>This archived page carries a script that tries to reach into the archive app that shows it.
It reads the parent document, rewrites its title and fetches the app's home page, all of which
must fail when the page is replayed, because archived pages are untrusted content.</p>
<p>The harbour office said the test page would be archived like every other page, with its
script intact, and replayed from a separate origin under a strict content security policy.</p>
<p id="parent-result">pending</p><p id="fetch-result">pending</p><p id="top-result">pending</p>
<script>
function out(id, text) {{ document.getElementById(id).textContent = text; }}
try {{
  var html = window.parent.document.body.innerHTML;
  window.parent.document.title = "PWNED";
  out("parent-result", "read:" + html.length);
}} catch (e) {{ out("parent-result", "blocked:" + e.name); }}
try {{ out("top-result", "read:" + window.top.location.href); }}
catch (e) {{ out("top-result", "blocked:" + e.name); }}
fetch("{app_origin}/").then(function (r) {{ return r.text(); }})
  .then(function (t) {{ out("fetch-result", "read:" + t.length); }})
  .catch(function (e) {{ out("fetch-result", "blocked:" + e.name); }});
</script></article></body></html>
"""


@dataclass
class Replay:
    app: str
    replay: str
    base_url: str
    output: Path
    runs: list[CrawlRun]
    recorder: SiteServer
    process: subprocess.Popen


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Iterator[Replay]:
    work = tmp_path_factory.mktemp("replay")
    site_root = work / "site"
    shutil.copytree(SITE, site_root)
    app_port, replay_port = free_ports(2)
    app_origin = f"http://127.0.0.1:{app_port}"
    hostile = site_root / HOSTILE_PATH.lstrip("/")
    hostile.parent.mkdir(parents=True, exist_ok=True)
    hostile.write_text(_hostile_page(app_origin), encoding="utf-8")
    output = work / "out"
    with SiteServer(site_root) as origin:
        base = origin.base_url
        seed = work / "seed.txt"
        seed.write_text((site_root / "seed.txt").read_text().replace("{base}", base))
        extra = work / "urls.txt"
        extra.write_text(f"{base}{HOSTILE_PATH}\n{base}/r/old-url\n")
        first = run_newsarchive("crawl", str(seed), str(extra), "-o", str(output))
        assert first.returncode == 0, first.stderr
        article = site_root / "2024/05/01/harbour-expansion-approved-a10001.html"
        article.write_text(article.read_text("utf-8").replace(EDITED_FROM, EDITED_TO), "utf-8")
        second = run_newsarchive("crawl", str(seed), "-o", str(output))
        assert second.returncode == 0, second.stderr
        origin_port = origin.port
    recorder = SiteServer(site_root, port=origin_port).start()  # must stay silent from now on
    env = {**os.environ, "NEWSARCHIVE_REPLAY_CACHE": str(work / "cache"),
           "NEWSARCHIVE_REPLAY_HOST": REPLAY_HOST}
    process = subprocess.Popen(
        [sys.executable, "-m", "newsarchive.cli", "replay", "-o", str(output),
         "--port", str(app_port), "--replay-port", str(replay_port)],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(process, f"{app_origin}/")
        yield Replay(app_origin, f"http://{REPLAY_HOST}:{replay_port}", base, output,
                     [first, second], recorder, process)
    finally:
        process.terminate()
        process.wait(timeout=10)
        recorder.stop()


@pytest.fixture(scope="module")
def browser(archive: Replay) -> Iterator:
    driver = chromium(archive.output.parent / "chromium-profile", performance_log=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def _wait(driver, condition, timeout: float = 10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _seed_title(expected) -> str:
    return expected["articles"][expected["seed_path"]]["title"]


def _request_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


# -- the browser journey ---------------------------------------------------------------------
def test_home_lists_runs_and_searches(archive: Replay, browser, expected):
    from selenium.webdriver.common.by import By

    browser.get(archive.app + "/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
    assert len(rows) == 2
    runs = [run.manifests() for run in archive.runs][-1]
    assert runs[-1]["run_id"] in rows[0].text  # newest first
    _shot(browser, "01-home")
    box = browser.find_element(By.NAME, "q")
    box.send_keys("breakwater six")
    box.submit()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results .hits li"))
    hits = browser.find_elements(By.CSS_SELECTOR, "#results .hits li")
    assert [h for h in hits if _seed_title(expected) in h.text]
    assert browser.find_elements(By.CSS_SELECTOR, "#results mark")
    _shot(browser, "02-search")


def test_article_page(archive: Replay, browser, expected):
    from selenium.webdriver.common.by import By

    browser.get(archive.app + "/?q=breakwater+six")
    browser.find_element(By.PARTIAL_LINK_TEXT, _seed_title(expected)).click()
    _wait(browser, lambda d: d.find_elements(By.ID, "title"))
    assert browser.find_element(By.ID, "title").text == _seed_title(expected)
    assert "Jane Doe" in browser.find_element(By.CSS_SELECTOR, ".byline").text
    assert EDITED_TO in browser.find_element(By.ID, "text").text
    assert len(browser.find_elements(By.CSS_SELECTOR, ".timeline tbody tr")) == 2
    assert browser.find_elements(By.PARTIAL_LINK_TEXT, "response record")
    _shot(browser, "03-article")


def test_raw_replay_comes_from_the_archive(archive: Replay, browser, expected):
    from selenium.webdriver.common.by import By

    browser.get(archive.app + "/?q=breakwater+six")
    browser.find_element(By.PARTIAL_LINK_TEXT, _seed_title(expected)).click()
    browser.find_element(By.CSS_SELECTOR, "a.replay").click()
    assert "Archived copy" in browser.find_element(By.ID, "banner").text
    frame = browser.find_element(By.ID, "replay")
    assert frame.get_attribute("src").startswith(archive.replay + "/web/")
    browser.switch_to.frame(frame)
    try:
        _wait(browser, lambda d: d.execute_script(
            "var i = document.querySelector('img.logo-mark');"
            " return i && i.complete && i.naturalWidth > 0;"))
        assert EDITED_TO in browser.find_element(By.TAG_NAME, "body").text
        image = browser.find_element(By.CSS_SELECTOR, "img.logo-mark")
        assert image.get_attribute("src").startswith(archive.replay + "/web/")
        background = browser.execute_script(
            "return getComputedStyle(document.querySelector('.site-header')).backgroundImage")
        assert "/web/" in background and "masthead.png" in background  # CSS and its image
    finally:
        browser.switch_to.default_content()
    _shot(browser, "04-replay-framed")


def test_direct_replay_lands_in_the_framed_view(archive: Replay, browser, expected):
    from selenium.webdriver.common.by import By

    url = f"{archive.replay}/web/2/{archive.base_url}{expected['seed_path']}"  # the oldest
    browser.get(url)
    assert browser.current_url.startswith(archive.app + "/replay/")  # never unframed
    assert expected["seed_path"] in browser.find_element(By.ID, "banner").text
    browser.switch_to.frame(browser.find_element(By.ID, "replay"))
    try:
        _wait(browser, lambda d: d.execute_script(
            "var i = document.querySelector('img.logo-mark');"
            " return i && i.complete && i.naturalWidth;"))
        assert EDITED_FROM in browser.find_element(By.TAG_NAME, "body").text  # first capture
    finally:
        browser.switch_to.default_content()
    _shot(browser, "05-replay-direct")
    code, headers, _ = _get(url)  # a client without Sec-Fetch-* headers: the memento itself
    assert code == 302 and re.match(r"/web/\d{14}/", headers["location"])
    code, _, body = _get(archive.replay + headers["location"])
    assert code == 200 and b'id="newsarchive-banner"' in body and EDITED_FROM.encode() in body


def test_diff_between_two_captures(archive: Replay, browser, expected):
    from selenium.webdriver.common.by import By

    browser.get(archive.app + "/?q=breakwater+six")
    browser.find_element(By.PARTIAL_LINK_TEXT, _seed_title(expected)).click()
    browser.find_element(By.ID, "compare").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "diff"))
    table = browser.find_element(By.ID, "diff")
    deleted = [e.text for e in table.find_elements(By.TAG_NAME, "del")]
    inserted = [e.text for e in table.find_elements(By.TAG_NAME, "ins")]
    assert "seven" in " ".join(deleted) and "six" in " ".join(inserted)
    _shot(browser, "06-diff-side-by-side")
    browser.find_element(By.LINK_TEXT, "inline").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "div.diff.inline"))
    assert browser.find_elements(By.CSS_SELECTOR, "div.diff.inline p.changed ins")
    _shot(browser, "07-diff-inline")


# -- browsing: runs, sites, edits, the edits feed, grouped search ----------------------------
DOC_SHOTS = (1000, 860)  # the screenshots of docs/replay.md (docs/images/) are taken at this size


def _doc_shot(driver, name: str) -> None:
    driver.set_window_size(*DOC_SHOTS)
    try:
        driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    finally:
        driver.set_window_size(1280, 1000)


def _lines(archive: Replay) -> list[dict]:
    return [line for line in archive.runs[-1].jsonl_lines()]


def _edited_urls(archive: Replay) -> list[str]:
    return [line["url"] for line in _lines(archive) if line.get("change") == "changed"
            and line.get("text") and line.get("page_type") in (None, "article")]


def _checked(driver, name: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'input[name="{name}"]:checked').get_attribute(
        "value")


def test_home_to_run_page_to_article(archive: Replay, browser, expected):
    from selenium.webdriver.common.by import By

    first, newest = (m["run_id"] for m in archive.runs[-1].manifests())
    browser.get(archive.app + "/")
    browser.find_element(By.LINK_TEXT, newest).click()
    _wait(browser, lambda d: d.find_elements(By.ID, "run-articles"))
    assert browser.current_url == f"{archive.app}/run/{newest}"
    rows = browser.find_elements(By.CSS_SELECTOR, "#run-articles tbody tr")
    assert len(rows) == sum(1 for line in _lines(archive) if line["run_id"] == newest)
    seed = next(row for row in rows if _seed_title(expected) in row.text)
    assert "changed" in seed.text and "200" in seed.text and "127.0.0.1" in seed.text
    _doc_shot(browser, "browse-run")
    changed = [line for line in _lines(archive)
               if line["run_id"] == newest and line.get("change") == "changed"]
    link = browser.find_element(By.CSS_SELECTOR, '#change-filter a[href$="?change=changed"]')
    assert link.text == f"changed ({len(changed)})"
    link.click()
    _wait(browser, lambda d: "change=changed" in d.current_url)
    rows = browser.find_elements(By.CSS_SELECTOR, "#run-articles tbody tr")
    assert len(rows) == len(changed) and all("changed" in row.text for row in rows)
    seed = next(row for row in rows if _seed_title(expected) in row.text)
    seed.find_element(By.PARTIAL_LINK_TEXT, _seed_title(expected)).click()
    _wait(browser, lambda d: d.find_elements(By.ID, "title"))
    assert browser.find_element(By.ID, "title").text == _seed_title(expected)
    assert browser.current_url.startswith(f"{archive.app}/capture/{newest}/")
    # a changed capture is compared, by default, with the capture it changed from
    assert _checked(browser, "a").startswith(first + "/")
    assert _checked(browser, "b") == browser.current_url.split("/capture/", 1)[1]
    browser.find_element(By.ID, "changes").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "diff"))
    assert not browser.find_elements(By.ID, "identical")
    assert "seven" in " ".join(e.text for e in browser.find_elements(By.TAG_NAME, "del"))


def test_sites_to_site_to_article(archive: Replay, browser, expected):
    from urllib.parse import urlsplit

    from selenium.webdriver.common.by import By

    articles = {line["url"] for line in _lines(archive)
                if urlsplit(line["url"]).hostname == "127.0.0.1"}
    browser.get(archive.app + "/")
    browser.find_element(By.LINK_TEXT, "Sites").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "sites"))
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#sites tbody tr")
               if r.text.startswith("127.0.0.1 "))
    assert row.text.split()[1] == str(len(articles))
    _doc_shot(browser, "browse-sites")
    row.find_element(By.LINK_TEXT, "127.0.0.1").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "site-articles"))
    listed = browser.find_elements(By.CSS_SELECTOR, "#site-articles tbody tr")
    assert len(listed) == min(len(articles), 50)
    seed = [r for r in listed if _seed_title(expected) in r.text]
    assert len(seed) == 1  # one row per article, its two captures counted
    assert seed[0].find_elements(By.TAG_NAME, "td")[1].text == "2"
    _doc_shot(browser, "browse-site")
    seed[0].find_element(By.PARTIAL_LINK_TEXT, _seed_title(expected)).click()
    _wait(browser, lambda d: d.find_elements(By.ID, "title"))
    assert EDITED_TO in browser.find_element(By.ID, "text").text  # the latest capture


def test_edits_to_diff(archive: Replay, browser, expected):
    from selenium.webdriver.common.by import By

    browser.get(archive.app + "/")
    browser.find_element(By.LINK_TEXT, "Edits").click()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "article.edit"))
    edits = browser.find_elements(By.CSS_SELECTOR, "article.edit")
    assert len(edits) == len(_edited_urls(archive)) >= 1  # listings' changes are not edits
    seed = next(e for e in edits if _seed_title(expected) in e.text)
    assert [d.text for d in seed.find_elements(By.TAG_NAME, "del")] == ["seven", "two"]
    assert [i.text for i in seed.find_elements(By.TAG_NAME, "ins")] == ["six", "three"]
    _doc_shot(browser, "browse-edits")
    seed.find_element(By.LINK_TEXT, "full diff").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "diff"))
    assert not browser.find_elements(By.ID, "identical")
    table = browser.find_element(By.ID, "diff")
    assert "seven" in " ".join(e.text for e in table.find_elements(By.TAG_NAME, "del"))
    assert "six" in " ".join(e.text for e in table.find_elements(By.TAG_NAME, "ins"))


def test_edits_atom_feed(archive: Replay, browser, expected):
    import feedparser
    from selenium.webdriver.common.by import By

    browser.get(archive.app + "/edits")
    discovered = browser.find_element(By.CSS_SELECTOR, 'link[type="application/atom+xml"]')
    href = discovered.get_attribute("href")
    assert href == archive.app + "/edits.atom"
    browser.find_element(By.ID, "feed").click()
    _wait(browser, lambda d: d.current_url == href and d.find_elements(By.TAG_NAME, "pre"))
    shown = browser.find_element(By.TAG_NAME, "pre").text  # Chromium shows the XML as text
    code, headers, body = _get(href)
    assert code == 200 and headers["content-type"].startswith("application/atom+xml")
    assert shown.strip() == body.decode("utf-8").strip()
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and feed.feed.id and feed.feed.updated
    assert [link.href for link in feed.feed.links if link.rel == "self"] == [href]
    assert len(feed.entries) == len(_edited_urls(archive))
    entry = next(e for e in feed.entries if e.title == _seed_title(expected))
    assert entry.id.startswith("urn:uuid:") and entry.updated
    assert "<del>seven</del>" in entry.content[0].value
    browser.get(entry.link)
    _wait(browser, lambda d: d.find_elements(By.ID, "diff"))
    assert browser.current_url.startswith(archive.app + "/diff?")
    assert "six" in " ".join(e.text for e in browser.find_elements(By.TAG_NAME, "ins"))


def test_search_lists_each_article_once(archive: Replay, browser, expected):
    from selenium.webdriver.common.by import By

    newest = archive.runs[-1].manifests()[-1]["run_id"]
    browser.get(archive.app + "/")
    box = browser.find_element(By.NAME, "q")
    box.send_keys("harbour commission")
    box.submit()
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results .hits li"))
    hits = browser.find_elements(By.CSS_SELECTOR, "#results .hits > li")
    urls = [hit.find_element(By.CSS_SELECTOR, ".url").text.split(" · ")[0] for hit in hits]
    assert len(urls) == len(set(urls))  # captures of one article grouped
    seed = [hit for hit in hits if _seed_title(expected) in hit.text]
    assert len(seed) == 1 and "2 captures" in seed[0].text
    captures = seed[0].find_elements(By.CSS_SELECTOR, ".hitcaptures a")
    assert f"/capture/{newest}/" in captures[0].get_attribute("href")  # latest first
    title = seed[0].find_element(By.CSS_SELECTOR, "a.title").get_attribute("href")
    assert f"/capture/{newest}/" in title
    _doc_shot(browser, "browse-search")


def test_archived_script_cannot_reach_the_app(archive: Replay, browser):
    from selenium.webdriver.common.by import By

    browser.get(f"{archive.app}/replay/2/{archive.base_url}{HOSTILE_PATH}")
    frame = browser.find_element(By.ID, "replay")
    browser.switch_to.frame(frame)
    try:
        _wait(browser, lambda d: "pending" not in d.find_element(By.ID, "fetch-result").text)
        parent = browser.find_element(By.ID, "parent-result").text
        top = browser.find_element(By.ID, "top-result").text
        fetched = browser.find_element(By.ID, "fetch-result").text
    finally:
        browser.switch_to.default_content()
    assert parent.startswith("blocked:"), parent
    assert top.startswith("blocked:"), top
    assert fetched.startswith("blocked:"), fetched
    assert browser.title != "PWNED" and "PWNED" not in browser.page_source
    _shot(browser, "08-hostile-page")


def test_no_request_left_the_archive(archive: Replay, browser, expected):
    from selenium.webdriver.common.by import By

    browser.get(f"{archive.app}/replay/2/{archive.base_url}{expected['seed_path']}")
    browser.switch_to.frame(browser.find_element(By.ID, "replay"))
    try:
        _wait(browser, lambda d: d.execute_script(
            "var i = document.querySelector('img.logo-mark'); return i && i.naturalWidth;"))
    finally:
        browser.switch_to.default_content()
    urls = _request_urls(browser)
    assert urls  # the log did record the journey
    outside = [
        url for url in urls
        if url.startswith(("http:", "https:"))
        and not url.startswith((archive.app + "/", archive.replay + "/"))
    ]
    assert outside == []
    assert archive.recorder.requests == []  # the stopped origin's port heard nothing


# -- HTTP-level checks on the same servers -----------------------------------------------------
def _get(url: str, headers: dict | None = None, method: str = "GET"):
    answer = get(url, headers, method)  # replay.localhost is reached through 127.0.0.1
    return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.body


def test_redirect_capture_replays_as_redirect(archive: Replay, expected):
    start, (_, status, _) = expected["redirect"]["start"], expected["redirect"]["hops"][0]
    code, headers, _ = _get(f"{archive.replay}/web/2/{archive.base_url}{start}")
    assert code == status
    assert re.match(rf"/web/\d{{14}}/{re.escape(archive.base_url)}/r/older-url$",
                    headers["location"])


def test_revisit_replays_the_original_payload(archive: Replay, expected):
    image = archive.base_url + expected["requisites"]["image"]
    revisits = [
        line.split(" ", 2) for line in (archive.output / "index" / "index.cdxj").read_text()
        .splitlines() if f'"url": "{image}"' in line and '"warc/revisit"' in line
    ]
    assert revisits  # the second run saw the same image: a revisit record, no second copy
    stamp = revisits[-1][1]
    code, headers, body = _get(f"{archive.replay}/web/{stamp}if_/{image}")
    assert code == 200 and headers["x-archive-capture"] == stamp
    assert headers["content-type"] == "image/png"
    assert body == (SITE / expected["requisites"]["image"].lstrip("/")).read_bytes()


def test_encodings_undone_and_charsets_kept(archive: Replay, expected):
    for key in ("gzip_path", "chunked_path"):
        path = expected[key]
        code, headers, body = _get(f"{archive.replay}/web/2if_/{archive.base_url}{path}")
        if code == 302:  # asked at another time: sent on to the capture's own
            code, headers, body = _get(archive.replay + headers["location"])
        assert code == 200, key
        assert "content-encoding" not in headers and "transfer-encoding" not in headers
        assert expected["body_sentences"][path].encode() in body
    cp1251 = expected["cp1251"]
    code, headers, body = _get(f"{archive.replay}/web/2if_/{archive.base_url}{cp1251['path']}")
    if code == 302:
        code, headers, body = _get(archive.replay + headers["location"])
    assert headers["content-type"] == cp1251["content_type"]
    assert cp1251["sentence"].encode(cp1251["encoding"]) in body  # bytes as archived


def test_record_view_and_download(archive: Replay, expected):
    import io

    from warcio.archiveiterator import ArchiveIterator

    line = next(line for run in archive.runs for line in run.jsonl_lines()
                if line["url"].endswith(expected["seed_path"]))
    pointer = line["warc"]["response"]
    query = f"offset={pointer['offset']}&length={pointer['length']}"
    code, _, page = _get(f"{archive.app}/record/{pointer['file']}?{query}")
    escaped_id = pointer["record_id"].replace("<", "&lt;").replace(">", "&gt;")
    assert code == 200 and escaped_id.encode() in page and b"WARC-Type" in page
    code, headers, stored = _get(f"{archive.app}/record/{pointer['file']}/download?{query}")
    assert code == 200 and headers["content-type"] == "application/warc"
    assert len(stored) == pointer["length"]
    record = next(iter(ArchiveIterator(io.BytesIO(stored))))
    assert record.rec_headers.get_header("WARC-Record-ID") == pointer["record_id"]


def test_not_archived_is_a_clear_404(archive: Replay):
    code, headers, body = _get(f"{archive.replay}/web/2024/https://live.example.org/x.js")
    assert code == 404 and headers["x-archive-status"] == "not-archived"
    assert b"Not archived" in body
    code, _, _ = _get(f"{archive.replay}/api/thing")  # no replay referrer: nothing to resolve
    assert code == 404


def test_policies_and_read_only(archive: Replay):
    _, app_headers, _ = _get(archive.app + "/")
    assert "default-src 'none'" in app_headers["content-security-policy"]
    assert f"frame-src {archive.replay}" in app_headers["content-security-policy"]
    assert app_headers["x-frame-options"] == "DENY"
    _, replay_headers, _ = _get(f"{archive.replay}/web/2/{archive.base_url}/static/site.css")
    policy = replay_headers["content-security-policy"]
    assert f"connect-src 'self' {archive.replay}" in policy
    assert "set-cookie" not in {name.lower() for name in replay_headers}
    assert _get(archive.replay + "/web/2/http://x.test/", method="POST")[0] == 405
    assert _get(archive.app + "/", headers={"Host": "evil.example:80"})[0] == 421
    assert _get(archive.replay + "/", headers={"Host": "127.0.0.1; script-src *"})[0] == 421


def test_no_traversal_through_names_ids_or_urls(archive: Replay):
    warc = next((archive.output / "warc").glob("*.warc.gz")).name
    for path in (
        "/record/..%2F..%2Fetc%2Fpasswd?offset=0&length=10",
        "/record/%2E%2E?offset=0&length=10",
        f"/record/{warc}?offset=7&length=100",
        f"/record/{warc}/download?offset=0&length=999999999",
        "/capture/..%2F..%2Fetc/1",
        "/capture/x/99999",
        "/diff?a=../../etc/passwd&b=x/1",
        "/static/..%2F..%2Fapp.py",
        "/replay/2/file:///etc/passwd",
    ):
        code, _, body = _get(archive.app + path)
        assert code == 404, path
        assert b"root:" not in body


def test_archived_markup_is_escaped_in_the_app(archive: Replay):
    lines = [line for run in archive.runs for line in run.jsonl_lines()]
    hostile = next(line for line in lines if line["url"].endswith(HOSTILE_PATH))
    assert "<img src=x" in hostile["title"]
    code, _, body = _get(f"{archive.app}/capture/{hostile['run_id']}/"
                         f"{_line_number(archive, hostile)}")
    assert code == 200
    assert b"&lt;img src=x onerror=alert(1)&gt;" in body and b"<img src=x" not in body
    code, _, body = _get(f"{archive.app}/?q=intruder")
    assert b"&lt;img src=x" in body and b"<img src=x" not in body


def _line_number(archive: Replay, line: dict) -> int:
    path = archive.output / "articles" / f"{line['run_id']}.jsonl"
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if json.loads(text)["url"] == line["url"]:
            return number
    raise AssertionError("line not found")
