"""Which network addresses a crawl may connect to.

A hosted crawler must not be turned against its operator's own network: a public page linking to
(or redirecting to) ``http://10.0.0.1/admin`` or ``http://169.254.169.254/`` must not be fetched.
``NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES`` decides: ``True`` always blocks, ``False`` never does, and
``None`` (the default) blocks unless a seed itself names a private host — crawling one's own
intranet or a local test site on purpose keeps working. Seeds are always fetched as given.
Every request is checked, also one that reuses a kept-alive connection; through a proxy, the
host's name and local resolution are checked (:meth:`AddressPolicy.name_refusal`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from newsarchive.base.meta import VIA_META_KEY
from newsarchive.config import Config

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
PRIVATE_NAME_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def is_public_address(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def is_private_host(host: str) -> bool:
    """A host name or literal that plainly points inside the operator's network."""
    host = host.strip("[]").lower().rstrip(".")
    try:
        return not is_public_address(ipaddress.ip_address(host))
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(PRIVATE_NAME_SUFFIXES)


@dataclass
class AddressPolicy:
    crawler: Crawler
    block_private: bool | None = None  # None: decided by the seeds (see module docstring)
    _enabled: bool | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressPolicy:
        return cls(crawler, Config.from_settings(crawler.settings).block_private_addresses)

    @property
    def enabled(self) -> bool:
        if self._enabled is None:
            if self.block_private is not None:
                self._enabled = self.block_private
            else:
                seed_hosts = getattr(self.crawler.spider, "seed_hosts", ())
                self._enabled = not any(is_private_host(host) for host in seed_hosts)
        return self._enabled

    def _is_seed_robots_txt(self, request: Request) -> bool:
        """robots.txt of a seed's own host: fetched for the seed, so allowed like the seed."""
        parts = urlsplit(request.url)
        seed_hosts = getattr(self.crawler.spider, "seed_hosts", ())
        return (
            parts.path == "/robots.txt"
            and not request.meta.get("redirect_times")
            and (parts.hostname or "") in seed_hosts
        )

    def refusal(self, ip: IPAddress, request: Request) -> str | None:
        """Why ``request`` may not connect to ``ip``, or None if it may.

        Asked for every request, also one sent on a kept-alive connection opened for another.
        """
        if not self.enabled or is_public_address(ip):
            return None
        return self._refusal_of_private(request)

    def name_refusal(self, host: str, request: Request) -> str | None:
        """Why ``request`` may not go to ``host`` whose address only a proxy knows, or None.

        A literal address or a plainly private name (``localhost``, ``intranet``, ``*.internal``)
        is refused as its address would be; the download handler also checks what the host
        resolves to here, when it resolves (docs/proxies.md).
        """
        if not self.enabled or not is_private_host(host):
            return None
        return self._refusal_of_private(request)

    def _refusal_of_private(self, request: Request) -> str | None:
        if request.meta.get(VIA_META_KEY) == "seed" and not request.meta.get("redirect_times"):
            return None
        if self._is_seed_robots_txt(request):
            return None
        return (
            "a non-public address reached through a link or redirect "
            "(NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=False allows it)"
        )
