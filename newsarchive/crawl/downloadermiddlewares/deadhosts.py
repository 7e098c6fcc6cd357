"""Hosts that do not exist: found once, then failed at once for the rest of the run.

A host whose name does not resolve, or a host:port that refuses connections, is a fact about
that host for the rest of the run (as Heritrix treats a failed DNS prerequisite). Without this
every request to it (robots.txt, each requisite, each retry) looked it up again and failed
again; a few hundred dead CDN hosts kept a crawl of 60 pages busy for many minutes.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured

from newsarchive.base.failures import DeadHostError
from newsarchive.base.urls import host_and_address
from newsarchive.compat.scrapy import CannotResolveHostError, DownloadConnectionRefusedError
from newsarchive.store.archive import Archive

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# "Temporary failure in name resolution": the resolver did not answer, which says little about
# the host. Dead only once it happened this often (the retry that follows the first one).
TEMPORARY_DNS_STRIKES = 2


class DeadHostsMiddleware:
    """Fails the requests to hosts found dead in this run, unsent (NEWSARCHIVE_DEAD_HOSTS).

    Dead: a DNS lookup that failed (the host, any port), or a refused connection (that
    host:port). The request that finds it fails with :class:`DeadHostError` carrying the
    original error; so does every later request to the host, in ``process_request``, before
    the downloader's per-host queue and delays. One WARNING per host; the run's summary and
    manifest count them (``RunStats.dead_hosts``).

    Priority 560, closer to the downloader than RetryMiddleware (550): the first failure is
    raised from ``process_exception`` as the DeadHostError, an IgnoreRequest, so it is not
    retried and RobotsTxtMiddleware (100) treats a dead host's robots.txt as missing without
    logging an error. A temporary DNS failure (EAI_AGAIN) is retried once first.
    """

    def __init__(self, archive: Archive):
        self.stats = archive.stats  # its dead_hosts: host or host:port -> the first error
        # host -> the temporary DNS failures seen: requests that shared one lookup (the
        # handler's) share its error, and count once
        self.temporary_failures: dict[str, list[BaseException]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        archive = Archive.of(crawler)
        if not archive.config.dead_hosts:
            raise NotConfigured("NEWSARCHIVE_DEAD_HOSTS is off")
        middleware = cls(archive)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def process_request(self, request: Request) -> None:
        key = self.stats.dead_host_of(request.url)
        if key is not None:
            raise DeadHostError(key, self.stats.dead_host_request(key))

    def process_exception(self, request: Request, exception: Exception) -> None:
        key = self._dead_key(request, exception)
        if key is None:
            return None
        if key not in self.stats.dead_hosts:
            reason = str(exception) or type(exception).__name__
            self.stats.host_dead(key, reason)
            logger.warning("host %s is dead for this run: %s; its other requests fail without "
                           "being sent", key, reason)
        raise DeadHostError(key, self.stats.dead_hosts[key]["reason"]) from exception

    def _dead_key(self, request: Request, exception: Exception) -> str | None:
        """The host or host:port `exception` shows dead, or None."""
        host, address = host_and_address(request.url)
        if isinstance(exception, DownloadConnectionRefusedError | ConnectionRefusedError):
            return address
        if not isinstance(exception, CannotResolveHostError):
            return None
        cause = exception.__cause__
        if isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_AGAIN:
            seen = self.temporary_failures.setdefault(host, [])
            if not any(cause is earlier for earlier in seen):
                seen.append(cause)
            if len(seen) < TEMPORARY_DNS_STRIKES:
                return None  # RetryMiddleware tries once more
        return host

    def spider_closed(self) -> None:
        stats = self.stats
        if stats.dead_hosts:
            logger.info("%d dead host(s); %d request(s) to them failed without being sent",
                        len(stats.dead_hosts), stats.dead_host_requests)

