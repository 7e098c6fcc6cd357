"""Broken and hostile servers (tests/hostile_server.py): each case archived as far as it got,
with a defined outcome in the JSONL line, and the archive still passes `newsarchive verify`."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.crawl.downloadermiddlewares.retryafter import retry_after_seconds
from tests.conftest import CrawlRun, run_newsarchive
from tests.hostile_server import CP1251_SENTENCE, ROUTES, HostileServer

MAXSIZE = 12_000_000
SEEDS = [path for path in ROUTES if path not in ("/ok", "/rel-target/page", "/loop/b")]
SEEDS.append("/chain/1")
# Crawled apart with a 2 s timeout: big bodies elsewhere must not race a timeout on a busy CI.
SLOW = ("/trickle", "/silent")


@pytest.fixture(scope="module")
def server():
    with HostileServer() as hostile:
        yield hostile


def hostile_crawl(server, work: Path, paths: list[str], timeout: int) -> CrawlRun:
    seeds = work / "seeds.txt"
    seeds.write_text("".join(server.url(path) + "\n" for path in paths))
    return run_newsarchive(
        "crawl", str(seeds), "-o", str(work / "out"), "--depth", "0", "--ignore-robots",
        "-s", f"DOWNLOAD_TIMEOUT={timeout}", "-s", f"DOWNLOAD_MAXSIZE={MAXSIZE}",
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "NEWSARCHIVE_RETRY_AFTER_MAX=10",
        "-s", "NEWSARCHIVE_EXTRACT_TIMEOUT=5",
        timeout=240,
    )


@pytest.fixture(scope="module")
def crawl(server, tmp_path_factory) -> CrawlRun:
    paths = [path for path in SEEDS if path not in SLOW]
    return hostile_crawl(server, tmp_path_factory.mktemp("hostile"), paths, timeout=60)


@pytest.fixture(scope="module")
def slow_crawl(server, tmp_path_factory) -> CrawlRun:
    return hostile_crawl(server, tmp_path_factory.mktemp("slow"), list(SLOW), timeout=2)


@pytest.fixture(scope="module")
def lines(crawl: CrawlRun, slow_crawl: CrawlRun, server) -> dict[str, dict]:
    return {
        line["url"].removeprefix(server.base_url): line
        for run in (crawl, slow_crawl)
        for line in run.jsonl_lines()
    }


@pytest.fixture(scope="module")
def captures(crawl: CrawlRun, slow_crawl: CrawlRun, server) -> dict[str, list]:
    """path -> [(response or revisit record, stored payload)] in the order fetched."""
    found: dict[str, list] = {}
    for path in crawl.warc_files() + slow_crawl.warc_files():
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "revisit"):
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    found.setdefault(url.removeprefix(server.base_url), []).append(
                        (record, record.raw_stream.read())
                    )
    return found


def test_crawl_finishes_with_partial_exit_and_no_traceback(crawl, slow_crawl, lines):
    for run in (crawl, slow_crawl):
        assert run.returncode == 3, run.stderr[-3000:]
        assert "Traceback" not in run.stderr
    assert set(lines) >= set(SEEDS)


def test_archive_still_verifies(crawl: CrawlRun, slow_crawl: CrawlRun):
    for output in (crawl.output, slow_crawl.output):
        run = run_newsarchive("verify", "-o", str(output))
        assert run.returncode == 0, run.stdout[-3000:]


def test_decompression_bomb_capped_and_raw_capture_kept(lines, captures):
    line = lines["/bomb"]
    assert line["status"] == 200 and "during decompression" in line["error"]
    assert line["text"] == "" and line["warc"]["text"] is None  # extraction skipped
    record, payload = captures["/bomb"][0]
    assert line["warc"]["response"]["record_id"] == record.rec_headers.get_header("WARC-Record-ID")
    assert record.rec_headers.get_header("WARC-Truncated") is None  # the capture itself is whole
    assert payload[:2] == b"\x1f\x8b" and len(payload) < 2_000_000
    assert len(gzip.GzipFile(fileobj=io.BytesIO(payload)).read(3_000_000)) == 3_000_000


def test_bomb_longer_than_maxsize_is_cut_and_marked(lines, captures):
    line = lines["/bomb-cut"]
    assert "during decompression" in line["error"] and line["truncated"] == "length"
    record, payload = captures["/bomb-cut"][0]
    assert record.rec_headers.get_header("WARC-Truncated") == "length"
    assert len(payload) == MAXSIZE
    assert record.http_headers.get_header("Content-Length") is None
    assert int(record.http_headers.get_header("X-Archive-Orig-Content-Length")) > MAXSIZE


def test_slow_trickle_cut_by_time(lines, captures):
    line = lines["/trickle"]
    assert line["status"] == 200 and line["truncated"] == "time" and line["error"] is None
    record, payload = captures["/trickle"][0]
    assert record.rec_headers.get_header("WARC-Truncated") == "time"
    assert payload.startswith(b"<html><body><p>a")
    assert record.http_headers.get_header("X-Archive-Orig-Content-Length") == "1000000"


def test_server_that_never_answers_times_out(lines, captures, server):
    line = lines["/silent"]
    assert line["status"] is None and "DownloadTimeoutError" in line["error"]
    assert "within 2s" in line["error"] and line["warc"]["response"] is None
    assert server.hits["/silent"] == 3  # the first try and RETRY_TIMES=2 retries
    assert "/silent" not in captures


def test_redirect_loop_and_long_chain_stop(lines, captures, server):
    for start in ("/loop/a", "/chain/1"):
        line = lines[start]
        assert line["status"] == 302 and "max redirections" in line["error"]
        assert line["warc"]["response"] is not None
    assert server.hits["/chain/11"] == 1 and server.hits["/chain/12"] == 0  # REDIRECT_MAX_TIMES
    assert len(captures["/loop/a"]) + len(captures["/loop/b"]) == 11  # every hop archived


def test_relative_location_followed(lines, captures):
    line = lines["/rel/start"]
    assert line["status"] == 200 and line["final_url"].endswith("/rel-target/page?x=1")
    assert "Relative target" in line["title"]
    record, _ = captures["/rel/start"][0]
    assert record.http_headers.get_header("Location") == "../rel-target/page?x=1"


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/location-malformed", "Invalid IPv6 URL"),
        ("/location-javascript", "Missing scheme"),
        ("/location-empty", "max redirections"),
    ],
)
def test_malformed_or_unsafe_location_not_followed(lines, captures, path, error):
    line = lines[path]
    assert line["status"] == 302 and error in line["error"]
    assert line["warc"]["response"] is not None and captures[path]


def test_file_location_never_followed(lines, server):
    line = lines["/location-file"]
    assert line["status"] == 302 and line["final_url"].endswith("/location-file")
    assert not any(path.startswith("file") or "passwd" in path for path, _ in server.requests)


def test_content_length_shorter_than_body(lines, captures):
    line = lines["/cl-short"]
    assert line["status"] == 200 and line["truncated"] is None
    record, payload = captures["/cl-short"][0]
    assert len(payload) == 20  # the message ends where its framing says
    assert record.http_headers.get_header("Content-Length") == "20"


def test_content_length_longer_than_body(lines, captures):
    line = lines["/cl-long"]
    assert line["status"] == 200 and line["truncated"] == "disconnect"
    record, payload = captures["/cl-long"][0]
    assert record.rec_headers.get_header("WARC-Truncated") == "disconnect"
    assert payload.startswith(b"<html>") and payload.endswith(b"</html>")
    assert len(payload) < 5000
    assert record.http_headers.get_header("Content-Length") is None  # it would lie
    assert record.http_headers.get_header("X-Archive-Orig-Content-Length") == "5000"


def test_garbage_chunk_sizes_are_malformed_chunked_encoding(lines, captures, crawl, server):
    line = lines["/chunk-garbage"]
    assert line["status"] == 200 and line["truncated"] == "disconnect"
    assert line["error"] == "malformed chunked encoding"
    assert line["text"] == ""  # a page with an error is not extracted (as a decompression bomb)
    record, payload = captures["/chunk-garbage"][0]
    assert record.rec_headers.get_header("WARC-Truncated") == "disconnect"
    assert payload.endswith(b"</html>")  # what came before the garbage is kept
    manifest = crawl.manifests()[0]
    assert server.url("/chunk-garbage: malformed chunked encoding") in manifest["stats"]["errors"]


def test_server_closing_without_a_word_is_said_in_words(lines, server):
    assert lines["/no-answer"]["error"] == (
        "ServerClosedError: the server closed the connection without answering"
    )


def test_malformed_header_lines_kept_aside(lines, captures):
    line = lines["/bad-headers"]
    assert line["status"] == 200 and line["title"] == "Bad headers" and line["error"] is None
    record, _ = captures["/bad-headers"][0]
    headers = record.http_headers.headers
    malformed = [v for k, v in headers if k == "X-Archive-Malformed-Header"]
    assert "This line has no colon" in malformed and "Bad Name: spaces in the name" in malformed
    names = [k for k, _ in headers]
    assert names.index("Content-Type") < names.index("X-Fine") < names.index("Content-Length")


def test_missing_reason_phrase(lines, captures):
    assert lines["/no-reason"]["status"] == 200 and lines["/no-reason"]["title"] == "No reason"
    record, _ = captures["/no-reason"][0]
    assert record.http_headers.statusline == "200"


def test_binary_bytes_served_as_html(lines, captures):
    line = lines["/binary-html"]
    assert line["status"] == 200 and line["text"] == "" and line["extraction_error"]
    assert len(captures["/binary-html"][0][1]) == 50_000


def test_ten_megabyte_single_line_page(lines, captures):
    line = lines["/huge-line"]
    outcome = {key: line[key] for key in ("status", "truncated", "error", "extraction_error")}
    assert line["status"] == 200 and line["truncated"] is None, outcome
    assert len(captures["/huge-line"][0][1]) == 10_000_086
    assert "paragraph after paragraph" in line["text"] or line["extraction_error"], outcome


def test_unknown_and_lying_charsets(lines):
    assert "Smörgåsbord café" in lines["/bad-charset"]["text"]
    assert CP1251_SENTENCE in lines["/lying-charset"]["text"]


def test_retry_after_honoured_then_success(lines, captures, server):
    for path, wait in (("/retry-after-once", 1.0), ("/retry-date", 0.9)):
        line = lines[path]
        assert line["status"] == 200 and line["error"] is None, path
        first, second = server.times(path)
        assert second - first >= wait, path
        statuses = [r.http_headers.get_statuscode() for r, _ in captures[path]]
        assert statuses[0] in ("503", "429") and statuses[-1] == "200"


def test_retry_after_retries_are_limited(lines, captures, server):
    line = lines["/retry-429"]
    assert line["status"] == 429 and line["error"] == "HTTP 429"
    times = server.times("/retry-429")
    assert len(times) == 3 and all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False))
    assert len(captures["/retry-429"]) == 3


def test_retry_after_beyond_the_cap_is_not_retried(lines, crawl, server):
    assert lines["/retry-too-long"]["status"] == 503
    assert server.hits["/retry-too-long"] == 1
    assert "exceeds NEWSARCHIVE_RETRY_AFTER_MAX" in crawl.stderr


def test_retry_after_values():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT", now) == 0
    for junk in (None, b"", b"soon", b"-5", b"1.5e9", "\x00"):
        assert retry_after_seconds(junk) is None


def test_hostile_seed_list_is_not_left_open(crawl: CrawlRun):
    assert not list(Path(crawl.output, "warc").glob("*.open"))


def test_retry_after_holds_the_whole_host(server, tmp_path):
    paths = ["/retry-after-once", "/ok", "/no-reason"]
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("".join(server.url(f"{path}?held") + "\n" for path in paths))
    run = run_newsarchive(
        "crawl", str(seeds), "-o", str(tmp_path / "out"), "--depth", "0", "--ignore-robots",
        "--concurrency", "2", "-s", "DOWNLOAD_DELAY=0.2", "-s", "AUTOTHROTTLE_ENABLED=False",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    first_503 = server.times("/retry-after-once?held")[0]
    later = [moment for path, moment in server.requests
             if path.endswith("?held") and moment > first_503]
    assert later and all(moment - first_503 >= 1.0 for moment in later)
