"""Which proxy a request goes through, and the Proxy-Authorization it sends there.

The choice follows Scrapy's HttpProxyMiddleware: ``request.meta["proxy"]`` first (a URL, with
credentials or with a ``Proxy-Authorization`` header beside it; None goes direct), then
``NEWSARCHIVE_PROXY`` (``crawl --proxy``) or, while ``HTTPPROXY_ENABLED``, the ``http_proxy`` and
``https_proxy`` environment variables; ``no_proxy`` names the hosts reached directly.

Scrapy's middleware itself is off (settings.py): it copies the credentials into every request's
Proxy-Authorization header, which redirects and retries carry into the scheduler's disk queue
under the output (state/jobs/). Here they stay in memory, with the download handler, and only
:attr:`Proxy.shown` (no password) is ever printed or recorded. docs/proxies.md.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies, proxy_bypass_environment

from scrapy.exceptions import NotSupported
from scrapy.utils.httpobj import urlparse_cached

from newsarchive.base.meta import PROXY_META_KEY
from newsarchive.base.urls import redact_url
from newsarchive.config import Config

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.settings import BaseSettings

PROXIED_SCHEMES = ("http", "https")


def shown_proxy(url: str) -> str:
    """A proxy URL as it may be printed or recorded: without its password."""
    try:
        return redact_url(_with_scheme(url))
    except ValueError:  # a port that is no number: nothing of it is shown
        return "(a malformed proxy URL)"


def _with_scheme(url: str) -> str:
    text = url.strip()
    return text if "://" in text else f"http://{text}"  # as Scrapy reads one without


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy: where it listens and what authorizes us there."""

    host: str
    port: int
    shown: str  # its URL without the password: for messages, warcinfo and manifest
    authorization: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, auth_encoding: str = "latin-1") -> Proxy:
        """``http://[user:password@]host[:port]`` (the scheme may be left out)."""
        parts = urlsplit(_with_scheme(url))
        shown = shown_proxy(url)
        if parts.scheme.lower() != "http":
            raise NotSupported(
                f"proxy {shown}: only http:// proxies are supported (TLS to the origin still "
                "goes through them, in a CONNECT tunnel)"
            )
        try:
            port = parts.port or 80
        except ValueError:
            raise NotSupported(f"proxy {shown}: bad port") from None
        if not parts.hostname:
            raise NotSupported(f"proxy {shown}: no host")
        authorization = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            try:
                encoded = base64.b64encode(credentials.encode(auth_encoding))
            except UnicodeEncodeError:
                raise NotSupported(
                    f"proxy {shown}: its credentials are not {auth_encoding} "
                    "(HTTPPROXY_AUTH_ENCODING)"
                ) from None
            authorization = b"Basic " + encoded
        return cls(parts.hostname, port, shown, authorization)

    @property
    def key(self) -> tuple[str, int, bytes | None]:
        return self.host, self.port, self.authorization


class ProxySelector:
    """The proxy of each request (see the module docstring), or None to go direct."""

    def __init__(
        self, proxies: dict[str, str], no_proxy: str | None = None, auth_encoding: str = "latin-1"
    ):
        self._urls = {scheme: url for scheme, url in proxies.items() if url}
        self._no_proxy = no_proxy
        self._auth_encoding = auth_encoding
        self._parsed: dict[str, Proxy] = {}
        self._bypass: dict[str, bool] = {}

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> ProxySelector:
        """``NEWSARCHIVE_PROXY`` for both schemes, else the environment's (HTTPPROXY_ENABLED)."""
        configured = Config.from_settings(settings).proxy
        encoding = settings.get("HTTPPROXY_AUTH_ENCODING") or "latin-1"
        environment = getproxies()
        no_proxy = environment.get("no") or None
        if configured:
            return cls({"http": configured, "https": configured}, no_proxy, encoding)
        if not settings.getbool("HTTPPROXY_ENABLED"):
            return cls({}, None, encoding)
        urls = {scheme: environment.get(scheme, "") for scheme in PROXIED_SCHEMES}
        return cls(urls, no_proxy, encoding)

    def describe(self) -> dict[str, str]:
        """The proxies in use, without passwords (the warcinfo record's and manifest's)."""
        shown = {f"{scheme}_proxy": shown_proxy(url) for scheme, url in self._urls.items()}
        if shown and self._no_proxy:
            shown["no_proxy"] = self._no_proxy
        return shown

    def for_request(self, request: Request) -> Proxy | None:
        if PROXY_META_KEY in request.meta:
            value = request.meta[PROXY_META_KEY]
            if not value:
                return None
            proxy = self._parse(str(value))
            header = request.headers.get(b"Proxy-Authorization")
            if proxy.authorization is None and header:
                proxy = Proxy(proxy.host, proxy.port, proxy.shown, bytes(header))
            return proxy
        parsed = urlparse_cached(request)
        url = self._urls.get(parsed.scheme)
        if url is None or not parsed.hostname:
            return None
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        if self._bypassed(f"{parsed.hostname}:{port}"):
            return None
        return self._parse(url)

    def _parse(self, url: str) -> Proxy:
        proxy = self._parsed.get(url)
        if proxy is None:
            proxy = self._parsed[url] = Proxy.from_url(url, self._auth_encoding)
        return proxy

    def _bypassed(self, host: str) -> bool:
        """``no_proxy`` read as urllib (and so Scrapy) reads it: host names, domain suffixes
        (``.example.org`` or ``example.org``), ``*``; and ``host:port`` entries."""
        if not self._no_proxy:
            return False
        bypassed = self._bypass.get(host)
        if bypassed is None:
            bypassed = bool(proxy_bypass_environment(host, {"no": self._no_proxy}))
            self._bypass[host] = bypassed
        return bypassed
