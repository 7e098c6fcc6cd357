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
from newsarchive.capture.addresses import AddressPolicy, IPAddress
from newsarchive.capture.exchange import Exchange
from newsarchive.capture.proxies import Proxy, ProxySelector
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
LOCAL_LOOKUP_TIMEOUT = 2.0  # seconds: the guard's look at a proxied host's address
MALFORMED_CHUNKED = "malformed chunked encoding"


class BlockedAddressError(IgnoreRequest):
    """The host resolved to an address the address policy refuses (private, loopback...)."""


class ServerClosedError(DownloadFailedError):
    """The connection ended before a whole response head arrived (a kept-alive connection that
    the server closed meanwhile is retried once on a new one)."""


class ProxyError(DownloadFailedError):
    """The proxy failed the request or the tunnel (no answer, or a status such as 502)."""


class ProxyRefusedError(IgnoreRequest):
    """The proxy refused the request or the tunnel for want of the right credentials (401, 403,
    407): an IgnoreRequest, since asking again with the same ones cannot help (not retried)."""


REFUSALS = frozenset({401, 403, 407})  # the proxy's statuses that no retry changes


PoolKey = tuple[object, ...]


@dataclass(frozen=True)
class _Route:
    """Where a request goes: the origin, and the proxy in between if any."""

    scheme: str
    host: str
    port: int
    proxy: Proxy | None

    @property
    def key(self) -> PoolKey:
        """Connections are reused only along the same route: plain-HTTP requests through a
        proxy share the proxy's connections; a tunnel belongs to one origin and one proxy."""
        if self.proxy is None:
            return self.scheme, self.host, self.port
        if self.scheme == "http":
            return "http-proxy", self.proxy.host, self.proxy.port
        return self.scheme, self.host, self.port, *self.proxy.key

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def peer(self) -> str:
        """Who answers on the connection, for messages."""
        if self.proxy is not None and self.scheme == "http":
            return f"the proxy {self.proxy.shown}"
        return "the server"


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    protocol: h11.Connection
    ip_address: str | None  # the origin's, None through a proxy

    def close(self) -> None:
        self.writer.close()


class RawCaptureDownloadHandler:
    """HTTP/1.1 over asyncio + h11, recording the raw request and response of every download.

    Written against Scrapy's public download-handler interface (``lazy``, ``from_crawler``,
    ``async download_request(request)``, ``async close()``), with no Scrapy base class.
    Proxies (capture/proxies.py): plain HTTP in absolute form, HTTPS in a CONNECT tunnel.
    """

    lazy = False  # built when the crawl starts, not on its first request

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = crawler.settings
        self._default_maxsize = settings.getint("DOWNLOAD_MAXSIZE")
        self._verify_tls = settings.getbool("DOWNLOAD_VERIFY_CERTIFICATES", False)
        self._idle: dict[PoolKey, deque[_Connection]] = defaultdict(deque)
        # as Scrapy's own handler pools them: one idle connection per request allowed at once,
        # so that a busy host's connections are reused, not reopened for most requests
        self._max_idle = max(MIN_IDLE_PER_HOST, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
        self._address_policy = AddressPolicy.from_crawler(crawler)
        self._proxies = ProxySelector.from_settings(settings)
        self._local_addresses: dict[str, list[IPAddress]] = {}  # proxied hosts, for the guard
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
        route = _route(request, self._proxies.for_request(request))
        exchange = Exchange(url=request.url, started=datetime.now(UTC), request_head=b"")
        exchange.proxy = route.proxy.shown if route.proxy else None
        request.meta[EXCHANGE_META_KEY] = exchange
        timeout = float(request.meta.get("download_timeout") or 180)
        maxsize = int(request.meta.get("download_maxsize", self._default_maxsize) or 0)
        body = bytearray()
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._fetch(request, route, exchange, body, maxsize), timeout)
        except TimeoutError:
            if not exchange.complete:
                request.meta.pop(EXCHANGE_META_KEY, None)
                raise DownloadTimeoutError(
                    f"no response within {timeout:g}s"
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
        self, request: Request, route: _Route, exchange: Exchange, body: bytearray, maxsize: int
    ) -> None:
        if route.proxy is not None:
            await self._check_proxied_host(route.host, route.port, request)
        connection = self._take_idle(route.key)
        if connection is not None:
            if connection.ip_address is not None:  # checked again: this request may not go there
                try:
                    self._check_address(connection.ip_address, route.host, request)
                except BlockedAddressError:
                    self._release(route.key, connection)  # still good for other requests
                    raise
            try:
                await self._exchange(connection, request, route, exchange, body, maxsize)
                return
            except (ServerClosedError, OSError, h11.RemoteProtocolError):
                if exchange.complete:
                    raise
                connection.close()  # a stale keep-alive connection: try once on a fresh one
        connection = await self._connect(request, route)
        await self._exchange(connection, request, route, exchange, body, maxsize)

    async def _exchange(
        self,
        connection: _Connection,
        request: Request,
        route: _Route,
        exchange: Exchange,
        body: bytearray,
        maxsize: int,
    ) -> None:
        exchange.ip_address = connection.ip_address
        wire_head, exchange.request_head, exchange.request_body = _request_bytes(
            connection.protocol, request, route
        )
        try:
            connection.writer.write(wire_head + exchange.request_body)
            await connection.writer.drain()
            reusable = await _read_response(connection, exchange, body, maxsize, request, route)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, OSError) and not exchange.complete:
                raise ServerClosedError(
                    f"the connection to {route.peer} was lost before a response "
                    f"({_reason(exc)})"
                ) from exc
            raise
        if route.proxy is not None and exchange.status == 407:
            connection.close()
            raise ProxyRefusedError(
                _proxy_refusal(request, route.proxy, 407, exchange.reason, "request")
            )
        if reusable:
            self._release(route.key, connection)
        else:
            connection.close()

    async def _connect(self, request: Request, route: _Route) -> _Connection:
        proxy = route.proxy
        if proxy is None:
            ip = await self._resolve(route.host, route.port, request)
            tls = self._tls_context() if route.scheme == "https" else None
            reader, writer = await _open(request, ip, route.port, route.authority, tls, route.host)
            return _Connection(reader, writer, _client(), ip)
        ip = await self._lookup(request, proxy.host, proxy.port, f"the proxy {proxy.shown}")
        reader, writer = await _open(request, ip, proxy.port, f"the proxy {proxy.shown}")
        if route.scheme == "https":
            try:
                await _open_tunnel(reader, writer, request, route, proxy)
                await writer.start_tls(self._tls_context(), server_hostname=route.host)
            except BaseException as exc:
                writer.close()
                if isinstance(exc, OSError):  # ssl.SSLError included
                    raise DownloadFailedError(
                        f"TLS with {route.authority} through the proxy "
                        f"{proxy.shown} failed: {_reason(exc)}"
                    ) from exc
                raise
        return _Connection(reader, writer, _client(), None)

    async def _resolve(self, host: str, port: int, request: Request) -> str:
        ip = await self._lookup(request, host, port, host)
        self._check_address(ip, host, request)
        return ip

    def _check_address(self, ip: str, host: str, request: Request) -> None:
        reason = self._address_policy.refusal(ipaddress.ip_address(ip), request)
        if reason is not None:
            raise BlockedAddressError(f"{host} resolves to {ip}, {reason}")

    async def _check_proxied_host(self, host: str, port: int, request: Request) -> None:
        """The guard through a proxy: the host's name, then its addresses as resolved here
        (once per host; unresolvable here, the proxy's own rules decide)."""
        policy = self._address_policy
        if not policy.enabled:
            return
        reason = policy.name_refusal(host, request)
        if reason is not None:
            raise BlockedAddressError(f"{host} is {reason}")
        addresses = self._local_addresses.get(host)
        if addresses is None:
            addresses = self._local_addresses[host] = await self._addresses_here(host, port)
        for ip in addresses:
            reason = policy.refusal(ip, request)
            if reason is not None:
                raise BlockedAddressError(f"{host} resolves to {ip}, {reason}")

    async def _lookup(self, request: Request, host: str, port: int, what: str) -> str:
        """The address to connect to for host:port (`what` names it in the error)."""
        if _special_invalid(host):
            raise CannotResolveHostError(
                f"the address of {what} was not found (an .invalid name: RFC 6761)"
            )
        try:
            infos = await self._getaddrinfo(host, port)
        except socket.gaierror as exc:
            raise CannotResolveHostError(
                f"the address of {what} was not found ({_reason(exc)})"
            ) from exc
        if not infos:
            raise CannotResolveHostError(f"the address of {what} was not found")
        return str(infos[0][4][0])

    async def _addresses_here(self, host: str, port: int) -> list[IPAddress]:
        """`host`'s addresses as resolved here, by the lookup direct requests share; none if it
        does not resolve here within LOCAL_LOOKUP_TIMEOUT."""
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        if _special_invalid(host):
            return []
        try:
            infos = await asyncio.wait_for(self._getaddrinfo(host, port), LOCAL_LOOKUP_TIMEOUT)
        except (OSError, TimeoutError):
            return []
        return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]

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
            # Like Scrapy's default: an archive records what a site serves, certificate or not
            # (also through a proxy that intercepts TLS with a certificate of its own).
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["http/1.1"])
        return context

    def _take_idle(self, key: PoolKey) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection
            connection.close()
        return None

    def _release(self, key: PoolKey, connection: _Connection) -> None:
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


def _route(request: Request, proxy: Proxy | None) -> _Route:
    parsed = urlparse_cached(request)
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https"):
        raise NotSupported(f"unsupported scheme {scheme!r}")
    if not parsed.hostname:
        raise NotSupported("no host in the URL")
    port = parsed.port or (443 if scheme == "https" else 80)
    return _Route(scheme, parsed.hostname, port, proxy)


def _client() -> h11.Connection:
    return h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)


def _reason(exc: BaseException) -> str:
    """An OS or TLS error in words, without the errno."""
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _special_invalid(host: str) -> bool:
    """RFC 6761, 6.4: a name under ``invalid.`` never resolves, and resolution libraries should
    say so at once; glibc asks the resolver anyway (seconds where it drops queries)."""
    name = host.rstrip(".").lower()
    return name == "invalid" or name.endswith(".invalid")


async def _open(
    request: Request,
    ip: str,
    port: int,
    what: str,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.open_connection(
            ip, port, ssl=tls, server_hostname=server_hostname if tls else None,
            limit=MAX_HEAD_SIZE,
        )
    except ConnectionRefusedError as exc:
        raise DownloadConnectionRefusedError(
            f"{what} refused the connection"
        ) from exc
    except ssl.SSLError as exc:
        raise DownloadFailedError(
            f"TLS with {what} failed: {_reason(exc)}"
        ) from exc
    except OSError as exc:
        raise DownloadFailedError(
            f"cannot connect to {what}: {_reason(exc)}"
        ) from exc


async def _open_tunnel(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request: Request,
    route: _Route,
    proxy: Proxy,
) -> None:
    """``CONNECT host:port`` to the proxy; returns once the proxy said 2xx."""
    protocol = _client()
    headers = [(b"Host", route.authority.encode("ascii"))]
    if proxy.authorization:
        headers.append((b"Proxy-Authorization", proxy.authorization))
    connect = h11.Request(method=b"CONNECT", target=route.authority.encode(), headers=headers)
    writer.write(protocol.send(connect) or b"")
    protocol.send(h11.EndOfMessage())
    await writer.drain()
    while True:
        try:
            event = protocol.next_event()
        except h11.RemoteProtocolError as exc:
            raise ProxyError(
                f"the proxy {proxy.shown} did not answer CONNECT "
                f"{route.authority} in HTTP"
            ) from exc
        if event is h11.NEED_DATA:
            data = await reader.read(READ_CHUNK)
            if not data:
                raise ProxyError(
                    f"the proxy {proxy.shown} closed the connection instead of "
                    f"opening a tunnel to {route.authority}"
                )
            protocol.receive_data(data)
        elif isinstance(event, h11.Response):
            if 200 <= event.status_code < 300:
                return
            reason = event.reason.decode("latin-1")
            what = f"tunnel to {route.authority}"
            refusal = _proxy_refusal(request, proxy, event.status_code, reason, what)
            if event.status_code in REFUSALS:
                raise ProxyRefusedError(refusal)
            raise ProxyError(refusal)


def _proxy_refusal(request: Request, proxy: Proxy, status: int, reason: str, what: str) -> str:
    """The proxy's no, in words: a 407 says whether credentials were sent at all."""
    message = f"the proxy {proxy.shown} refused the {what}: {status}"
    message += f" {reason}" if reason else ""
    if status == 407:
        message += (
            " (proxy authentication required: the credentials were not accepted)"
            if proxy.authorization
            else " (proxy authentication required: give them in the proxy URL, "
            "http://USER:PASSWORD@HOST:PORT)"
        )
    return message


def _request_bytes(
    protocol: h11.Connection, request: Request, route: _Route
) -> tuple[bytes, bytes, bytes]:
    """The request head sent, the head recorded in the WARC, and the body (with its framing).

    They differ only through a plain-HTTP proxy: the proxy is sent the absolute URL and the
    Proxy-Authorization; the WARC records the request as the origin is asked, origin-form and
    without the proxy's credentials (docs/proxies.md).
    """
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
    method = request.method.encode()
    origin_form = h11.Request(method=method, target=target.encode(), headers=headers)
    if route.proxy is not None and route.scheme == "http":
        absolute = f"{parsed.scheme}://{host}{target}".encode("ascii", "ignore")
        proxy_headers = list(headers)
        if route.proxy.authorization:
            proxy_headers.append((b"Proxy-Authorization", route.proxy.authorization))
        sent = protocol.send(h11.Request(method=method, target=absolute, headers=proxy_headers))
        recorded = _client().send(origin_form)
    else:
        sent = recorded = protocol.send(origin_form)
    tail = protocol.send(h11.Data(data=body)) if body else b""
    tail += protocol.send(h11.EndOfMessage()) or b""
    return sent or b"", recorded or b"", tail


async def _read_response(
    connection: _Connection,
    exchange: Exchange,
    body: bytearray,
    maxsize: int,
    request: Request,
    route: _Route,
) -> bool:
    """Read one response into ``exchange``/``body``; True if the connection can be reused."""
    protocol = connection.protocol
    received = bytearray()  # raw bytes until the head is parsed, for the lenient fallback
    malformed: list[bytes] | None = None
    ended = False  # the peer closed (or reset) the connection
    while True:
        try:
            event = protocol.next_event()
        except h11.RemoteProtocolError as exc:
            if exchange.complete:
                _cut(exchange, ended)
                return False
            if ended:
                raise ServerClosedError(_closed_early(request, route, received)) from exc
            if malformed is not None:
                message = f"malformed response head: {exc}"
                raise DownloadFailedError(message) from exc
            protocol, malformed = _lenient_protocol(bytes(received), request, route, exc)
            connection.protocol = protocol
            continue
        if event is h11.NEED_DATA:
            try:
                data = await connection.reader.read(READ_CHUNK)
            except OSError:
                if not exchange.complete:
                    raise
                data = b""  # reset in the middle of the body: kept as far as it came
            ended = not data
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
                raise ServerClosedError(_closed_early(request, route, received))
            return False
        # InformationalResponse (1xx) needs nothing: the final response follows.


def _cut(exchange: Exchange, ended: bool) -> None:
    """A body that stopped before its end: the connection closed, or its framing broke."""
    exchange.truncated = "disconnect"
    if ended:
        return
    chunked = b"chunked" in (exchange.header(b"Transfer-Encoding") or b"").lower()
    exchange.error = MALFORMED_CHUNKED if chunked else "malformed body framing"
    logger.warning(
        "Body of %s cut: %s (WARC-Truncated: disconnect)", exchange.url, exchange.error
    )


def _closed_early(request: Request, route: _Route, received: bytearray) -> str:
    if not received:
        return f"{route.peer} closed the connection without answering"
    return f"{route.peer} closed the connection in the middle of the response head"


def _lenient_protocol(
    received: bytes, request: Request, route: _Route, error: h11.RemoteProtocolError
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
        raise DownloadFailedError(
            f"the response head does not end within {MAX_HEAD_SIZE // 1024} KiB"
        ) from error
    if not lines[0].startswith(b"HTTP/"):
        raise DownloadFailedError(
            f"{route.peer} did not answer in HTTP (it sent {lines[0][:60]!r})"
        ) from error
    good = [line for line in lines[1:] if _HEADER_LINE.match(line)]
    bad = [line for line in lines[1:] if not _HEADER_LINE.match(line)]
    protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
    protocol.send(h11.Request(method=request.method, target="/", headers=[("Host", "x")]))
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
