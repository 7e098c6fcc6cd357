"""WarcCaptureMiddleware with a real Archive: each Exchange becomes a response and a request record
that warcio reads back byte for byte; across runs, known URLs are asked conditionally and an
unchanged payload or a 304 becomes a revisit record."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from scrapy import Request
from scrapy.http import HtmlResponse, Response

from newsarchive.base.meta import CAPTURE_META_KEY, EXCHANGE_META_KEY
from newsarchive.capture.exchange import Exchange
from newsarchive.crawl.downloadermiddlewares.capture import WarcCaptureMiddleware
from newsarchive.store.archive import Archive
from tests.components.support import all_records, build_crawler, opened, record_at, sha1_b32
from tests.conftest import SITE

URL = "https://news.example.org/2024/05/01/harbour-expansion-approved-a10001.html"
BODY = (SITE / "2024/05/01/harbour-expansion-approved-a10001.html").read_bytes()
ETAG = '"v1-harbour"'
LAST_MODIFIED = "Wed, 01 May 2024 08:00:00 GMT"
REQUEST_HEAD = (
    b"GET /2024/05/01/harbour-expansion-approved-a10001.html HTTP/1.1\r\n"
    b"Host: news.example.org\r\nuser-agent: component-test/1\r\nAccept: */*\r\n\r\n"
)
# as a server sent them: odd case, a repeat, chunked framing
HEADERS = [
    (b"Date", b"Wed, 01 May 2024 09:00:00 GMT"),
    (b"content-type", b"text/html; charset=utf-8"),
    (b"Set-Cookie", b"a=1"),
    (b"ETag", ETAG.encode()),
    (b"Last-Modified", LAST_MODIFIED.encode()),
    (b"Set-Cookie", b"b=2"),
    (b"Transfer-Encoding", b"chunked"),
]
# as stored: the body is stored de-chunked, so its framing header is kept under another name
STORED_HEADERS = [
    (n.decode(), v.decode()) if n != b"Transfer-Encoding" else ("X-Archive-Orig-" + n.decode(),
                                                                 v.decode())
    for n, v in HEADERS
]


def exchange(status: int = 200, body: bytes = BODY, reason: str = "OK") -> Exchange:
    return Exchange(
        url=URL,
        started=datetime.now(UTC),
        request_head=REQUEST_HEAD,
        ip_address="192.0.2.7",
        status=status,
        reason=reason,
        response_headers=HEADERS if status == 200 else HEADERS[:1],
        body=body,
        complete=True,
    )


def capture(middleware: WarcCaptureMiddleware, fetched: Exchange) -> tuple[Request, Response]:
    """The request/response pair as the download handler hands it on, through the middleware."""
    request = Request(URL, meta={EXCHANGE_META_KEY: fetched})
    response = HtmlResponse(URL, status=fetched.status, body=fetched.body, request=request)
    return request, middleware.process_response(request, response)


def middleware_for(output: Path, **settings: object) -> WarcCaptureMiddleware:
    crawler = build_crawler(output, **settings)
    return WarcCaptureMiddleware.from_crawler(crawler)


def test_exchange_becomes_response_and_request_records(tmp_path: Path) -> None:
    middleware = middleware_for(tmp_path)
    with opened(middleware.archive):
        request, response = capture(middleware, exchange())
    assert response.body == BODY and EXCHANGE_META_KEY not in request.meta
    written = request.meta[CAPTURE_META_KEY]["response"]
    record = record_at(tmp_path / "warc", written.pointer.as_dict())
    assert record.rec_type == "response"
    assert record.header("WARC-Target-URI") == URL
    assert record.header("WARC-IP-Address") == "192.0.2.7"
    assert record.header("WARC-Payload-Digest") == sha1_b32(BODY) == written.payload_digest
    assert record.http_status == "200 OK"
    assert record.http_headers == STORED_HEADERS
    assert record.payload == BODY
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(
        n.encode() + b": " + v.encode() + b"\r\n" for n, v in STORED_HEADERS
    ) + b"\r\n"
    assert head + BODY in record.raw  # the head is stored byte for byte, not re-serialised

    records = all_records(tmp_path / "warc")
    assert [r.rec_type for r in records] == ["warcinfo", "response", "request"]
    sent = records[2]
    assert sent.header("WARC-Concurrent-To") == record.header("WARC-Record-ID")
    assert sent.raw.endswith(b"\r\n\r\n" + REQUEST_HEAD + b"\r\n\r\n")  # case, order as sent
    # the CDXJ index names the capture
    index = (tmp_path / "index" / "index.cdxj").read_text()
    assert written.pointer.file in index and '"status": "200"' in index


def test_response_not_from_the_capture_handler_passes_through(tmp_path: Path) -> None:
    middleware = middleware_for(tmp_path)
    with opened(middleware.archive):
        request = Request(URL)
        response = HtmlResponse(URL, body=BODY, request=request)
        assert middleware.process_response(request, response) is response
    assert CAPTURE_META_KEY not in request.meta
    assert all_records(tmp_path / "warc") == []  # no WARC file opened for nothing


def test_identical_payload_becomes_a_revisit(tmp_path: Path) -> None:
    middleware = middleware_for(tmp_path)
    with opened(middleware.archive):
        first, _ = capture(middleware, exchange())
        second, response = capture(middleware, exchange())
        changed, _ = capture(middleware, exchange(body=BODY.replace(b"harbour", b"port")))
    assert response.body == BODY
    original = first.meta[CAPTURE_META_KEY]["response"]
    revisit = record_at(tmp_path / "warc", second.meta[CAPTURE_META_KEY]["response"].pointer
                        .as_dict())
    assert revisit.rec_type == "revisit"
    assert revisit.header("WARC-Profile") == (
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    )
    assert revisit.header("WARC-Refers-To") == original.pointer.record_id
    assert revisit.header("WARC-Refers-To-Target-URI") == URL
    assert revisit.header("WARC-Payload-Digest") == sha1_b32(BODY)
    assert revisit.payload == b"" and revisit.http_headers == STORED_HEADERS
    assert changed.meta[CAPTURE_META_KEY]["response"].rec_type == "response"
    types = [r.rec_type for r in all_records(tmp_path / "warc")]
    assert types == ["warcinfo", "response", "request", "revisit", "request", "response",
                     "request"]


def test_known_url_is_asked_conditionally_in_the_next_run(tmp_path: Path) -> None:
    first_run = middleware_for(tmp_path, NEWSARCHIVE_RUN_ID="run-1")
    with opened(first_run.archive):
        unknown = Request(URL)
        assert first_run.process_request(unknown) is None
        capture(first_run, exchange())
    assert b"If-None-Match" not in unknown.headers
    assert b"If-Modified-Since" not in unknown.headers

    second_run = middleware_for(tmp_path, NEWSARCHIVE_RUN_ID="run-2")
    with opened(second_run.archive):
        again = Request(URL)
        assert second_run.process_request(again) is None
        other = Request(URL + "?other")
        second_run.process_request(other)
        own = Request(URL, headers={"If-None-Match": '"mine"'})
        second_run.process_request(own)
    assert again.headers[b"If-None-Match"] == ETAG.encode()
    assert again.headers[b"If-Modified-Since"] == LAST_MODIFIED.encode()
    assert b"If-None-Match" not in other.headers
    assert own.headers[b"If-None-Match"] == b'"mine"'  # a request's own validator is kept


def test_not_modified_hands_on_the_archived_page(tmp_path: Path) -> None:
    first_run = middleware_for(tmp_path, NEWSARCHIVE_RUN_ID="run-1")
    with opened(first_run.archive):
        first, _ = capture(first_run, exchange())
    second_run = middleware_for(tmp_path, NEWSARCHIVE_RUN_ID="run-2")
    with opened(second_run.archive):
        request, response = capture(second_run, exchange(304, b"", "Not Modified"))
    assert response.status == 200 and response.body == BODY and "archived" in response.flags
    assert response.headers.getlist(b"Set-Cookie") == [b"a=1", b"b=2"]
    capture_meta = request.meta[CAPTURE_META_KEY]
    assert capture_meta["received_status"] == 304
    revisit = record_at(tmp_path / "warc", capture_meta["response"].pointer.as_dict())
    assert revisit.rec_type == "revisit" and revisit.http_status == "304 Not Modified"
    assert revisit.header("WARC-Profile") == (
        "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
    )
    assert revisit.header("WARC-Refers-To") == (
        first.meta[CAPTURE_META_KEY]["response"].pointer.record_id
    )


def test_resumed_run_answers_from_the_archive(tmp_path: Path) -> None:
    killed = middleware_for(tmp_path, NEWSARCHIVE_RUN_ID="run-1")
    with opened(killed.archive):
        capture(killed, exchange())
    resumed = middleware_for(tmp_path, NEWSARCHIVE_RUN_ID="run-1", NEWSARCHIVE_RESUME=True)
    with opened(resumed.archive):
        request = Request(URL)
        response = resumed.process_request(request)
    assert response is not None and response.body == BODY and "archived" in response.flags
    assert request.meta[CAPTURE_META_KEY]["replayed"] is True
    # nothing fetched, nothing written again
    assert [r.rec_type for r in all_records(tmp_path / "warc")] == [
        "warcinfo", "response", "request"
    ]


def test_archive_of_the_crawler_is_shared(tmp_path: Path) -> None:
    crawler = build_crawler(tmp_path)
    assert WarcCaptureMiddleware.from_crawler(crawler).archive is Archive.of(crawler)
