"""RawCaptureDownloadHandler against real local servers: the Exchange it leaves in request.meta
is what crossed the wire (request bytes, status line, header names, order and repeats), whatever
the framing; and its failures are Scrapy's exception types."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotSupported,
)
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler

from newsarchive.base.meta import EXCHANGE_META_KEY, VIA_META_KEY
from newsarchive.capture.exchange import Exchange
from newsarchive.capture.http_handler import RawCaptureDownloadHandler
from newsarchive.demo.server import SiteServer
from tests.components.support import build_crawler
from tests.hostile_server import HostileServer, Send, fixed, head

PAGE = "/2024/05/01/harbour-expansion-approved-a10001.html"  # Content-Length framing
CHUNKED = "/2024/04/29/ferry-operators-welcome-new-berths-a10003.html"
COOKIES = "/2024/04/30/fishermen-fear-loss-of-moorings-a10004.html"  # two Set-Cookie lines
GZIPPED = "/2024/05/02/dredging-contract-awarded-a10002.html"
ODD_HEADERS = ("x-lower-case: kept", "X-Repeat: 1", "Content-Type: text/plain", "X-REPEAT: 2")
ODD_BODY = b"an odd but valid response"
CUT_BODY = b"the first bytes of 5000"


def send_then_close(data: bytes) -> Send:
    def send(server: HostileServer, connection: socket.socket) -> None:
        connection.sendall(data)

    return send


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        server.routes["/odd"] = fixed("299 Quite Fine, Thanks", ODD_BODY, *ODD_HEADERS)
        server.routes["/cut"] = send_then_close(head("200 OK", "Content-Length: 5000") + CUT_BODY)
        server.routes["/garbage-chunks"] = send_then_close(
            head("200 OK", "Transfer-Encoding: chunked") + b"5\r\nfirst\r\nzz\r\nsecond\r\n0\r\n"
        )
        server.routes["/half-head"] = send_then_close(b"HTTP/1.1 200 OK\r\nContent-Ty")
        server.routes["/not-http"] = send_then_close(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        server.routes["/no-answer"] = send_then_close(b"")
        yield server


@pytest.fixture
def crawler(tmp_path: Path) -> Crawler:
    return build_crawler(tmp_path, NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=False)


def download(crawler: Crawler, *requests: Request) -> list[Response]:
    """Download ``requests`` one after the other with one handler (as one downloader slot)."""

    async def scenario() -> list[Response]:
        handler = build_from_crawler(RawCaptureDownloadHandler, crawler)
        try:
            return [await handler.download_request(request) for request in requests]
        finally:
            await handler.close()

    return asyncio.run(scenario())


def fails(crawler: Crawler, request: Request) -> BaseException:
    with pytest.raises(Exception) as caught:
        download(crawler, request)
    assert EXCHANGE_META_KEY not in request.meta  # nothing half-captured is left for the WARC
    return caught.value


def received_head(exchange: Exchange) -> bytes:
    """The response head as the handler says it arrived."""
    status = f"HTTP/{exchange.http_version} {exchange.status}"
    status += f" {exchange.reason}" if exchange.reason else ""
    lines = [status.encode("latin-1")] + [n + b": " + v for n, v in exchange.response_headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def exchange_of(request: Request) -> Exchange:
    exchange = request.meta[EXCHANGE_META_KEY]
    assert isinstance(exchange, Exchange) and exchange.complete
    return exchange


# --- what was received ------------------------------------------------------------------------


def test_response_head_and_body_as_served(crawler: Crawler, site: SiteServer) -> None:
    request = Request(site.base_url + PAGE)
    [response] = download(crawler, request)
    exchange = exchange_of(request)
    assert received_head(exchange) == site.sent_head[PAGE]
    assert exchange.body == site.sent[PAGE]
    assert exchange.ip_address == "127.0.0.1" and exchange.truncated is None
    assert response.status == 200 and response.body == exchange.body
    assert response.headers[b"Content-Length"] == str(len(exchange.body)).encode()
    assert response.protocol == "HTTP/1.1" and str(response.ip_address) == "127.0.0.1"


def test_chunked_body_is_dechunked_and_its_header_kept(crawler: Crawler, site: SiteServer) -> None:
    request = Request(site.base_url + CHUNKED)
    [response] = download(crawler, request)
    exchange = exchange_of(request)
    assert b"Transfer-Encoding: chunked\r\n" in site.sent_head[CHUNKED]
    assert received_head(exchange) == site.sent_head[CHUNKED]
    assert exchange.body == site.sent[CHUNKED]
    # the Scrapy response describes the de-chunked body it carries
    assert b"Transfer-Encoding" not in response.headers and response.body == exchange.body


def test_repeated_headers_stay_repeated(crawler: Crawler, site: SiteServer) -> None:
    request = Request(site.base_url + COOKIES)
    [response] = download(crawler, request)
    exchange = exchange_of(request)
    assert received_head(exchange) == site.sent_head[COOKIES]
    cookies = [v for n, v in exchange.response_headers if n == b"Set-Cookie"]
    assert cookies == [b"fixture_session=abc123; Path=/; HttpOnly",
                       b"fixture_consent=none; Path=/; Max-Age=31536000"]
    assert response.headers.getlist(b"Set-Cookie") == cookies


def test_content_encoding_is_left_to_the_middlewares(crawler: Crawler, site: SiteServer) -> None:
    request = Request(site.base_url + GZIPPED)
    [response] = download(crawler, request)
    exchange = exchange_of(request)
    assert exchange.header(b"content-encoding") == b"gzip"
    assert exchange.body == site.sent[GZIPPED] and exchange.body[:2] == b"\x1f\x8b"
    assert response.body == exchange.body  # HttpCompressionMiddleware decodes it later


def test_header_case_order_repeats_and_reason_phrase(
    crawler: Crawler, hostile: HostileServer
) -> None:
    odd, bare = Request(hostile.url("/odd")), Request(hostile.url("/no-reason"))
    responses = download(crawler, odd, bare)
    exchange = exchange_of(odd)
    assert received_head(exchange) == head(
        "299 Quite Fine, Thanks", *ODD_HEADERS, f"Content-Length: {len(ODD_BODY)}"
    )
    assert (exchange.status, exchange.reason, exchange.body) == (299, "Quite Fine, Thanks",
                                                                 ODD_BODY)
    assert responses[0].headers.getlist(b"X-Repeat") == [b"1", b"2"]
    assert exchange_of(bare).reason == "" and responses[1].status == 200


def test_malformed_header_lines_are_kept_aside(crawler: Crawler, hostile: HostileServer) -> None:
    request = Request(hostile.url("/bad-headers"))
    [response] = download(crawler, request)
    headers = exchange_of(request).response_headers
    assert (b"X-Archive-Malformed-Header", b"This line has no colon") in headers
    assert (b"X-Fine", b"yes") in headers
    assert headers[0] == (b"Content-Type", b"text/html")  # order as received
    assert response.status == 200 and b"Bad headers" in response.body


# --- what was sent ----------------------------------------------------------------------------


def test_request_bytes_are_what_the_server_received(crawler: Crawler, site: SiteServer) -> None:
    request = Request(
        site.base_url + PAGE + "?page=2",
        headers={"User-Agent": "component-test/1", "X-Repeat": ["a", "b"], "Accept": "*/*"},
    )
    download(crawler, request)
    sent = exchange_of(request).request_head
    method, target, received = site.requests[-1]
    assert (method, target) == ("GET", PAGE + "?page=2")
    lines = sent.decode("latin-1").split("\r\n")
    assert lines[0] == f"GET {PAGE}?page=2 HTTP/1.1"
    assert sent.endswith(b"\r\n\r\n")
    assert [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:-2]] == received
    assert received[0] == ("Host", f"127.0.0.1:{site.port}")
    assert [v for n, v in received if n == "X-Repeat"] == ["a", "b"]


def test_post_body_is_recorded(crawler: Crawler, site: SiteServer) -> None:
    request = Request(site.base_url + "/login", method="POST", body=b"email=a%40b.c")
    [response] = download(crawler, request)
    exchange = exchange_of(request)
    assert exchange.request_head.startswith(b"POST /login HTTP/1.1\r\n")
    assert b"Content-Length: 13\r\n" in exchange.request_head
    assert exchange.request_body == b"email=a%40b.c"
    assert site.requests[-1][0] == "POST" and response.status == 200


def test_keep_alive_connection_is_reused(crawler: Crawler, site: SiteServer) -> None:
    before = site.connections
    requests = [Request(site.base_url + path) for path in (PAGE, CHUNKED, COOKIES)]
    responses = download(crawler, *requests)
    assert [r.status for r in responses] == [200, 200, 200]
    assert site.connections - before == 1


# --- framing and limits -----------------------------------------------------------------------


def test_content_length_shorter_than_the_body(crawler: Crawler, hostile: HostileServer) -> None:
    request = Request(hostile.url("/cl-short"))
    [response] = download(crawler, request)
    assert len(exchange_of(request).body) == 20 and len(response.body) == 20
    assert exchange_of(request).truncated is None


def test_connection_closed_before_content_length(crawler: Crawler, hostile: HostileServer) -> None:
    request = Request(hostile.url("/cut"))
    [response] = download(crawler, request)
    exchange = exchange_of(request)
    assert exchange.truncated == "disconnect" and exchange.body == CUT_BODY
    assert "truncated:disconnect" in response.flags


def test_garbage_chunk_sizes_cut_the_body_with_an_error(
    crawler: Crawler, hostile: HostileServer
) -> None:
    request = Request(hostile.url("/garbage-chunks"))
    [response] = download(crawler, request)
    exchange = exchange_of(request)
    assert exchange.body == b"first" and exchange.truncated == "disconnect"
    assert exchange.error == "malformed chunked encoding"
    assert response.status == 200 and "truncated:disconnect" in response.flags


def test_download_maxsize_cuts_the_body(crawler: Crawler, site: SiteServer) -> None:
    request = Request(site.base_url + PAGE, meta={"download_maxsize": 1000})
    [response] = download(crawler, request)
    exchange = exchange_of(request)
    assert exchange.truncated == "length"
    assert exchange.body == site.sent[PAGE][:1000] and len(response.body) == 1000
    assert "truncated:length" in response.flags


# --- failures ---------------------------------------------------------------------------------


def test_no_response_in_time(crawler: Crawler, hostile: HostileServer) -> None:
    error = fails(crawler, Request(hostile.url("/silent"), meta={"download_timeout": 0.3}))
    assert isinstance(error, DownloadTimeoutError)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/no-answer", "the server closed the connection without answering"),
        ("/half-head", "the server closed the connection in the middle of the response head"),
        ("/not-http", "the server did not answer in HTTP (it sent b'SSH-2.0-OpenSSH_9.2')"),
    ],
)
def test_failures_read_as_sentences(
    crawler: Crawler, hostile: HostileServer, path: str, reason: str
) -> None:
    request = Request(hostile.url(path))
    error = fails(crawler, request)
    assert isinstance(error, DownloadFailedError) and str(error) == reason


def test_connection_refused(crawler: Crawler) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = fails(crawler, Request(f"http://127.0.0.1:{port}/"))
    assert isinstance(error, DownloadConnectionRefusedError)


def test_unresolvable_host(crawler: Crawler) -> None:
    error = fails(crawler, Request("http://no-such-host.invalid/"))  # RFC 6761: never resolves
    assert isinstance(error, CannotResolveHostError)


def test_unreachable_proxy_is_named_and_other_schemes_refused(
    crawler: Crawler, site: SiteServer
) -> None:
    # tests/test_proxy.py: through real proxies
    proxied = Request(site.base_url + PAGE, meta={"proxy": "http://user:secret@127.0.0.1:1"})
    error = fails(crawler, proxied)
    assert isinstance(error, DownloadConnectionRefusedError)
    assert str(error) == (
        "the proxy http://user:***@127.0.0.1:1 refused the connection"
    )
    socks = Request(site.base_url + PAGE, meta={"proxy": "socks5://127.0.0.1:1080"})
    assert "only http:// proxies" in str(fails(crawler, socks))
    assert isinstance(fails(crawler, Request("ftp://127.0.0.1/file")), NotSupported)


def test_private_addresses_only_for_seeds(tmp_path: Path, site: SiteServer) -> None:
    crawler = build_crawler(tmp_path)  # NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES: the default
    linked = Request(site.base_url + PAGE)
    error = fails(crawler, linked)
    assert isinstance(error, IgnoreRequest) and "127.0.0.1" in str(error)
    seed = Request(site.base_url + PAGE, meta={VIA_META_KEY: "seed"})
    assert download(crawler, seed)[0].status == 200


def test_private_addresses_checked_per_request_on_a_reused_connection(
    tmp_path: Path, site: SiteServer
) -> None:
    crawler = build_crawler(tmp_path)  # the default: a link to a private address is refused
    seed = Request(site.base_url + PAGE, meta={VIA_META_KEY: "seed"})
    linked = Request(site.base_url + CHUNKED, meta={VIA_META_KEY: "related-link"})
    another_seed = Request(site.base_url + COOKIES, meta={VIA_META_KEY: "seed"})
    before, connections = len(site.requests), site.connections

    async def scenario() -> BaseException | None:
        handler = build_from_crawler(RawCaptureDownloadHandler, crawler)
        error = None
        try:
            await handler.download_request(seed)  # its connection stays open for the next one
            try:
                await handler.download_request(linked)
            except IgnoreRequest as exc:
                error = exc
            await handler.download_request(another_seed)
        finally:
            await handler.close()
        return error

    error = asyncio.run(scenario())
    assert isinstance(error, IgnoreRequest), "the link went out on the seed's connection"
    assert str(error).startswith("127.0.0.1 resolves to 127.0.0.1, a non-public address")
    assert [target for _, target, _ in site.requests[before:]] == [PAGE, COOKIES]
    assert site.connections - connections == 1  # the refusal left the connection in the pool
