"""Scrapy: what differs between the versions newsarchive supports, and its reaches into
Scrapy's internals, each made only within the verified range and only while its setting is on.

Verified range (:data:`VERIFIED`): Scrapy 2.14 to 2.19. The private names below exist, with the
meaning used, in 2.14.2, 2.15.2, 2.16.0, 2.17.0, 2.18.0 and 2.19.0; the tests ran on 2.14.2 and
2.19.0. docs/compat.md lists every reach, its switch and its fallback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.downloadermiddlewares import cookies as scrapy_cookies
from tldextract import TLDExtract

from newsarchive.compat.versions import VerifiedRange, release

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

VERIFIED = VerifiedRange("Scrapy", (2, 14), (2, 20))

# Download errors: Scrapy's own from 2.15 (its RETRY_EXCEPTIONS list them); before, Twisted's,
# which the RETRY_EXCEPTIONS of those versions list instead.
try:
    from scrapy.exceptions import (
        CannotResolveHostError,
        DownloadConnectionRefusedError,
        DownloadFailedError,
        DownloadTimeoutError,
    )
except ImportError:  # Scrapy < 2.15
    from twisted.internet.error import ConnectError as DownloadFailedError
    from twisted.internet.error import ConnectionRefusedError as DownloadConnectionRefusedError
    from twisted.internet.error import DNSLookupError as CannotResolveHostError
    from twisted.internet.error import TimeoutError as DownloadTimeoutError

__all__ = [
    "VERIFIED",
    "CannotResolveHostError",
    "DownloadConnectionRefusedError",
    "DownloadFailedError",
    "DownloadTimeoutError",
    "engine_scheduler",
    "hold_download_slot",
    "on_request_finished",
    "poll_idle_engine",
    "take_waiting_downloads",
    "use_offline_public_suffixes",
]


def engine_scheduler(crawler: Crawler, version: str = scrapy.__version__) -> Any | None:
    """The running engine's scheduler, or None: ``engine.scheduler`` from Scrapy 2.19,
    ``engine._slot.scheduler`` (private, read only) before."""
    engine = crawler.engine
    if engine is None:
        return None
    if isinstance(getattr(type(engine), "scheduler", None), property):
        return engine.scheduler
    if not VERIFIED.allows(version, "lookup of the engine's scheduler"):
        return None
    return getattr(getattr(engine, "_slot", None), "scheduler", None)


def hold_download_slot(
    crawler: Crawler, key: str | None, seconds: float, version: str = scrapy.__version__
) -> bool:
    """Hold the downloader slot `key` (a host's queue) for `seconds`: Scrapy sends a slot's next
    request ``download_delay()`` after its ``lastseen``, so moving ``lastseen`` ahead holds it
    (only where a delay is configured, as AutoThrottle does). ``downloader.slots`` and
    ``Slot.lastseen`` are unprefixed but undocumented: ``lastseen`` is on ``time.monotonic()``
    from Scrapy 2.16, on ``time.time()`` before. True if held."""
    downloader = getattr(crawler.engine, "downloader", None)
    slot = getattr(downloader, "slots", {}).get(key)
    if slot is None or not slot.download_delay():
        return False
    if not VERIFIED.allows(version, "hold of a downloader slot (Retry-After)"):
        return False
    clock = time.monotonic if release(version) >= (2, 16) else time.time
    slot.lastseen = max(slot.lastseen, clock() + seconds)
    return True


def poll_idle_engine(
    crawler: Crawler, interval: float, enabled: bool = True, version: str = scrapy.__version__
) -> bool:
    """Have an idle engine ask its scheduler for requests every `interval` seconds instead of
    Scrapy's 5 (``ExecutionEngine._SLOT_HEARTBEAT_INTERVAL``, read when the spider's requests
    start, so call this from ``spider_opened``). True if done; otherwise Scrapy's 5 s stay."""
    engine = crawler.engine
    current = getattr(engine, "_SLOT_HEARTBEAT_INTERVAL", None)
    if not enabled or not isinstance(current, int | float):
        return False
    if not VERIFIED.allows(version, "engine heartbeat interval"):
        return False
    engine._SLOT_HEARTBEAT_INTERVAL = interval
    return True


def on_request_finished(
    crawler: Crawler,
    callback: Callable[[Request], None],
    enabled: bool = True,
    version: str = scrapy.__version__,
) -> bool:
    """Call ``callback(request)`` once the engine is done with a request: its response through
    the spider, the items through the pipelines, the follow-ups queued. No public signal says
    that; the engine slot's ``remove_request`` (private) runs then. True if hooked."""
    slot = getattr(crawler.engine, "_slot", None)
    remove = getattr(slot, "remove_request", None)
    if not enabled or not callable(remove):
        return False
    if not VERIFIED.allows(version, "hook on requests finished by the engine"):
        return False

    def remove_request(request: Request) -> None:
        remove(request)
        callback(request)

    slot.remove_request = remove_request
    return True


def take_waiting_downloads(crawler: Crawler, version: str = scrapy.__version__) -> list[Any]:
    """Take the requests waiting in the downloader's per-host queues (past the middlewares, not
    yet sent: a polite crawl holds up to CONCURRENT_REQUESTS there, sent one per download delay)
    as ``(request, deferred)`` pairs; the caller must fire each deferred. ``Downloader.slots``
    and ``Slot.queue`` are unprefixed but undocumented. Empty outside the verified range."""
    downloader = getattr(crawler.engine, "downloader", None)
    slots = getattr(downloader, "slots", None)
    if not isinstance(slots, dict) or not VERIFIED.allows(version, "downloader queues at stop"):
        return []
    taken = []
    for slot in slots.values():
        queue = getattr(slot, "queue", None)
        while queue:
            taken.append(queue.popleft())
    return taken


def use_offline_public_suffixes(
    extractor: TLDExtract, enabled: bool = True, version: str = scrapy.__version__
) -> Callable[[], None] | None:
    """Have Scrapy's CookiesMiddleware check cookie domains against the public suffixes of
    `extractor` instead of its module's ``TLDExtract()`` (``_split_domain``, private), which
    downloads the Public Suffix List on first use. Returns the function that undoes it, or None
    where it was not done (Scrapy's own extractor is used)."""
    original = getattr(scrapy_cookies, "_split_domain", None)
    if not enabled or not isinstance(original, TLDExtract):
        return None
    if not VERIFIED.allows(version, "offline public-suffix check of cookie domains"):
        return None
    scrapy_cookies._split_domain = extractor

    def restore() -> None:
        if scrapy_cookies._split_domain is extractor:
            scrapy_cookies._split_domain = original

    return restore
