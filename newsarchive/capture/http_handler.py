"""A Scrapy download handler that keeps the exchange exactly as it crossed the wire.

Scrapy's Twisted handler canonicalises header names, merges repeated headers, drops the reason
phrase and never shows the request bytes it sent. An archive needs all of them, so this handler
speaks HTTP/1.1 itself: asyncio streams for I/O (the reactor is asyncio's) and h11 for parsing,
which keeps raw header names, order, repeats and the reason phrase. The raw exchange is left in
``request.meta[EXCHANGE_META_KEY]`` for the WarcCaptureMiddleware.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import h11
from scrapy.exceptions import IgnoreRequest, NotSupported
from scrapy.http import Headers, TextResponse
from scrapy.responsetypes import responsetypes
from scrapy.utils.httpobj import urlparse_cached

from newsarchive.base.meta import EXCHANGE_META_KEY
from newsarchive.capture.addresses import AddressPolicy
from newsarchive.capture.exchange import Exchange
from newsarchive.compat.scrapy import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
)

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
MAX_HEAD_SIZE = 256 * 1024
MIN_IDLE_PER_HOST = 8


class BlockedAddressError(IgnoreRequest):
    """The host resolved to an address the address policy refuses (private, loopback...)."""


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: h11.Connection
    ip_address: str

    def close(self) -> None:
        self.writer.close()


class RawCaptureDownloadHandler:
    """HTTP/1.1 over asyncio + h11, recording the raw request and response of every download.

    Written against Scrapy's public download-handler interface (``lazy``, ``from_crawler``,
    ``async download_request(request)``, ``async close()``), with no Scrapy base class.
    """

    lazy = False  # built when the crawl starts, not on its first request

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = crawler.settings
        self._default_maxsize = settings.getint("DOWNLOAD_MAXSIZE")
        self._verify_tls = settings.getbool("DOWNLOAD_VERIFY_CERTIFICATES", False)
        self._idle: dict[tuple[str, str, int], deque[_Connection]] = defaultdict(deque)
        # as Scrapy's own handler pools them: one idle connection per request allowed at once,
        # so that a busy host's connections are reused, not reopened for most requests
        self._max_idle = max(MIN_IDLE_PER_HOST, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        self._address_policy = AddressPolicy.from_crawler(crawler)
        self._lookups: dict[tuple[str, int], asyncio.Future] = {}
        # addresses found, kept for the run as Scrapy's own resolver does (DNSCACHE_ENABLED,
        # DNSCACHE_SIZE): a new connection to a known host asks the resolver nothing
        self._resolved: dict[tuple[str, int], list] = {}
        cache = settings.getbool("DNSCACHE_ENABLED")
        self._resolved_max = settings.getint("DNSCACHE_SIZE") if cache else 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def download_request(self, request: Request) -> Response:
        if request.meta.get("proxy"):
            raise NotSupported("newsarchive's raw-capture handler does not support proxies")
        exchange = Exchange(url=request.url, started=datetime.now(UTC), request_head=b"")
        request.meta[EXCHANGE_META_KEY] = exchange
        timeout = float(request.meta.get("download_timeout") or 180)
        maxsize = int(request.meta.get("download_maxsize", self._default_maxsize) or 0)
        body = bytearray()
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._fetch(request, exchange, body, maxsize), timeout)
        except TimeoutError:
            if not exchange.complete:
                request.meta.pop(EXCHANGE_META_KEY, None)
                raise DownloadTimeoutError(
                    f"no response from {request.url} within {timeout:g}s"
                ) from None
            exchange.truncated = "time"
            logger.warning("Body of %s cut after %gs (WARC-Truncated: time)", request.url, timeout)
        except BaseException:
            request.meta.pop(EXCHANGE_META_KEY, None)
            raise
        exchange.body = bytes(body)
        # AutoThrottle adapts its delay to this; without it the delay stays at its start value.
        request.meta["download_latency"] = exchange.latency or (time.monotonic() - started)
        return self._build_response(request, exchange)

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _fetch(
        self, request: Request, exchange: Exchange, body: bytearray, maxsize: int
    ) -> None:
        key = _pool_key(request)
        connection = self._take_idle(key)
        if connection is not None:
            try:
                await self._exchange(connection, request, exchange, body, maxsize, key)
                return
            except (ConnectionError, h11.RemoteProtocolError, OSError):
                if exchange.complete:
                    raise
                connection.close()  # a stale keep-alive connection: try once on a fresh one
        connection = await self._connect(request, key)
        await self._exchange(connection, request, exchange, body, maxsize, key)

    async def _exchange(
        self,
        connection: _Connection,
        request: Request,
        exchange: Exchange,
        body: bytearray,
        maxsize: int,
        key: tuple[str, str, int],
    ) -> None:
        exchange.ip_address = connection.ip_address
        exchange.request_head, exchange.request_body = _request_bytes(connection.protocol, request)
        connection.writer.write(exchange.request_head + exchange.request_body)
        await connection.writer.drain()
        try:
            reusable = await _read_response(connection, exchange, body, maxsize, request.method)
        except BaseException:
            connection.close()
            raise
        if reusable:
            self._release(key, connection)
        else:
            connection.close()

    async def _connect(self, request: Request, key: tuple[str, str, int]) -> _Connection:
        scheme, host, port = key
        ip = await self._resolve(host, port, request)
        tls = self._tls_context() if scheme == "https" else None
        try:
            reader, writer = await asyncio.open_connection(
                ip, port, ssl=tls, server_hostname=host if tls else None, limit=MAX_HEAD_SIZE
            )
        except ConnectionRefusedError as exc:
            raise DownloadConnectionRefusedError(f"{host}:{port}: {exc}") from exc
        except (OSError, ssl.SSLError) as exc:
            raise DownloadFailedError(f"cannot connect to {host}:{port}: {exc}") from exc
        protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        return _Connection(reader, writer, protocol, ip)

    async def _resolve(self, host: str, port: int, request: Request) -> str:
        try:
            infos = await self._getaddrinfo(host, port)
        except socket.gaierror as exc:
            raise CannotResolveHostError(f"DNS lookup of {host} failed: {exc}") from exc
        for *_, sockaddr in infos:
            ip = str(sockaddr[0])
            reason = self._address_policy.refusal(ipaddress.ip_address(ip), request)
            if reason is None:
                return ip
            raise BlockedAddressError(f"{request.url}: {host} resolves to {ip}, {reason}")
        raise CannotResolveHostError(f"DNS lookup of {host} returned no address")

    def _getaddrinfo(self, host: str, port: int) -> asyncio.Future:
        """The lookup of host:port, shared by the requests that need it at the same time: a
        host's requisites, asked for together, would otherwise each wait for the resolver
        (seconds per lookup where it drops queries, for a host that does not exist)."""
        key = (host, port)
        lookup = self._lookups.get(key)
        if lookup is None:
            loop = asyncio.get_running_loop()
            if key in self._resolved:
                lookup = loop.create_future()
                lookup.set_result(self._resolved[key])
                return lookup
            lookup = asyncio.ensure_future(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM))
            self._lookups[key] = lookup
            lookup.add_done_callback(lambda done: self._lookup_done(key, done))
        return asyncio.shield(lookup)  # a request timing out does not cancel the others' lookup

    def _lookup_done(self, key: tuple[str, int], lookup: asyncio.Future) -> None:
        self._lookups.pop(key, None)
        if lookup.cancelled() or lookup.exception() is not None:
            return  # the exception retrieved here too: every waiter may have timed out
        if len(self._resolved) >= self._resolved_max:
            if not self._resolved_max:
                return
            del self._resolved[next(iter(self._resolved))]  # the oldest
        self._resolved[key] = lookup.result()

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self._verify_tls:
            # Like Scrapy's default: an archive records what a site serves, certificate or not.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["http/1.1"])
        return context

    def _take_idle(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection
            connection.close()
        return None

    def _release(self, key: tuple[str, str, int], connection: _Connection) -> None:
        idle = self._idle[key]
        if len(idle) >= self._max_idle:
            connection.close()
        else:
            idle.append(connection)

    @staticmethod
    def _build_response(request: Request, exchange: Exchange) -> Response:
        headers = Headers()
        for name, value in exchange.response_headers:
            if name.lower() != b"transfer-encoding":
                headers.appendlist(name, value)
        respcls = responsetypes.from_args(headers=headers, url=request.url, body=exchange.body)
        flags = ["truncated", f"truncated:{exchange.truncated}"] if exchange.truncated else []
        extra = {}
        if issubclass(respcls, TextResponse) and _content_encoded(headers):
            # The body is still compressed: HttpCompressionMiddleware's response.replace() reads
            # .encoding, which would run charset detection over the compressed bytes (~1 ms a
            # page). It re-infers the encoding of the decoded body anyway.
            extra["encoding"] = "latin-1"
        return respcls(
            url=request.url,
            status=exchange.status,
            headers=headers,
            body=exchange.body,
            flags=flags,
            request=request,
            ip_address=ipaddress.ip_address(exchange.ip_address) if exchange.ip_address else None,
            protocol=f"HTTP/{exchange.http_version}",
            **extra,
        )


def _content_encoded(headers: Headers) -> bool:
    codings = b",".join(headers.getlist(b"Content-Encoding")).lower()
    return any(c.strip() not in (b"", b"identity") for c in codings.split(b","))


def _pool_key(request: Request) -> tuple[str, str, int]:
    parsed = urlparse_cached(request)
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        raise NotSupported(f"unsupported scheme {scheme!r} in {request.url}")
    if not parsed.hostname:
        raise NotSupported(f"no host in {request.url}")
    port = parsed.port or (443 if scheme == "https" else 80)
    return scheme, parsed.hostname, port


def _request_bytes(protocol: h11.Connection, request: Request) -> tuple[bytes, bytes]:
    parsed = urlparse_cached(request)
    target = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
    host = parsed.netloc.rpartition("@")[2]
    headers: list[tuple[bytes, bytes]] = [(b"Host", host.encode("ascii", "ignore"))]
    for name, values in request.headers.items():
        if name.lower() in (b"host", b"proxy-authorization"):
            continue
        headers.extend((name, value) for value in values)
    body = request.body or b""
    if body and request.headers.get(b"Content-Length") is None:
        headers.append((b"Content-Length", str(len(body)).encode()))
    head = protocol.send(
        h11.Request(method=request.method.encode(), target=target.encode(), headers=headers)
    )
    tail = protocol.send(h11.Data(data=body)) if body else b""
    tail += protocol.send(h11.EndOfMessage()) or b""
    return head or b"", tail


async def _read_response(
    connection: _Connection, exchange: Exchange, body: bytearray, maxsize: int, method: str
) -> bool:
    """Read one response into ``exchange``/``body``; True if the connection can be reused."""
    protocol = connection.protocol
    received = bytearray()  # raw bytes until the head is parsed, for the lenient fallback
    malformed: list[bytes] | None = None
    while True:
        try:
            event = protocol.next_event()
        except h11.RemoteProtocolError as exc:
            if exchange.complete:
                exchange.truncated = "disconnect"
                return False
            if malformed is not None:
                message = f"{exchange.url}: malformed response head: {exc}"
                raise DownloadFailedError(message) from exc
            protocol, malformed = _lenient_protocol(bytes(received), method, exc)
            connection.protocol = protocol
            continue
        if event is h11.NEED_DATA:
            data = await connection.reader.read(READ_CHUNK)
            if not exchange.complete and len(received) <= MAX_HEAD_SIZE:
                received += data
            protocol.receive_data(data)
        elif isinstance(event, h11.Response):
            _record_head(exchange, event)
            if malformed is not None:
                exchange.response_headers = _headers_with_malformed(bytes(received), malformed)
        elif isinstance(event, h11.Data):
            body += event.data
            if maxsize and len(body) > maxsize:
                del body[maxsize:]
                exchange.truncated = "length"
                return False
        elif isinstance(event, h11.EndOfMessage):
            return _start_next_cycle(protocol)
        elif isinstance(event, h11.ConnectionClosed):
            if not exchange.complete:
                raise DownloadFailedError(f"{exchange.url}: connection closed before a response")
            return False
        # InformationalResponse (1xx) needs nothing: the final response follows.


def _lenient_protocol(
    received: bytes, method: str, error: h11.RemoteProtocolError
) -> tuple[h11.Connection, list[bytes]]:
    """A fresh h11 connection fed the head without the header lines h11 rejected.

    Browsers skip broken header lines; so does the archive, keeping each one in the stored
    record under ``X-Archive-Malformed-Header`` (see :func:`_headers_with_malformed`).
    """
    head, sep, rest = received.partition(b"\r\n\r\n")
    if not sep:
        head, sep, rest = received.partition(b"\n\n")
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    if not sep:
        raise error  # no whole head (a closed or stale connection): the caller decides
    if not lines[0].startswith(b"HTTP/"):
        raise DownloadFailedError(f"not an HTTP response: {lines[0][:60]!r}") from error
    good = [line for line in lines[1:] if _HEADER_LINE.match(line)]
    bad = [line for line in lines[1:] if not _HEADER_LINE.match(line)]
    protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
    protocol.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    protocol.send(h11.EndOfMessage())
    protocol.receive_data(b"\r\n".join([lines[0], *good]) + b"\r\n\r\n" + rest)
    logger.warning("Skipped %d malformed header line(s): %r", len(bad), bad[:3])
    return protocol, bad


def _headers_with_malformed(received: bytes, malformed: list[bytes]) -> list[tuple[bytes, bytes]]:
    """All header lines in the order received, the malformed ones under a name of their own."""
    head = received.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    headers = []
    for line in head.replace(b"\r\n", b"\n").split(b"\n")[1:]:
        if line in malformed:
            headers.append((b"X-Archive-Malformed-Header", line.strip()))
        else:
            name, _, value = line.partition(b":")
            headers.append((name, value.strip(b" \t")))
    return headers


# field-name ":" with a token name (RFC 9110); no leading whitespace (obsolete line folding)
_HEADER_LINE = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+:")


def _record_head(exchange: Exchange, event: h11.Response) -> None:
    exchange.latency = (datetime.now(UTC) - exchange.started).total_seconds()
    exchange.status = event.status_code
    exchange.reason = event.reason.decode("latin-1")
    exchange.http_version = event.http_version.decode("ascii")
    exchange.response_headers = [(bytes(n), bytes(v)) for n, v in event.headers.raw_items()]
    exchange.complete = True


def _start_next_cycle(protocol: h11.Connection) -> bool:
    if protocol.our_state is h11.DONE and protocol.their_state is h11.DONE:
        protocol.start_next_cycle()
        return True
    return False
