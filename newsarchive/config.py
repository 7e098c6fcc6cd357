"""The typed view of newsarchive's settings, built once per crawler from Scrapy settings.

Defaults live in :mod:`newsarchive.settings`; nothing else in the code parses NEWSARCHIVE_* keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings



def _optional_bool(settings: BaseSettings, name: str) -> bool | None:
    value = settings.get(name)
    if value is None or value in ("", "auto"):
        return None
    return settings.getbool(name)


@dataclass(frozen=True)
class Config:
    output_dir: Path
    warc_max_size: int
    extract: bool
    extract_workers: int
    extract_timeout: float
    jsonl_html: bool
    depth: int
    allowed_domains: tuple[str, ...]
    max_pages: int
    operator: str
    contact_url: str
    progress: bool | None
    progress_interval: float
    run_id: str | None
    block_private_addresses: bool | None
    seeds: tuple[str, ...]
    proxy: str | None = None  # crawl --proxy (capture/proxies.py); None: the environment's
    requisites: bool = True
    links_in_workers: bool = True
    requisites_max: int = 60
    requisites_maxsize: int = 8 * 1024 * 1024
    state: str = "sqlite"
    state_stores: tuple[tuple[str, str], ...] = ()  # kind -> class path
    revisit_after: float = 6 * 3600.0  # seconds
    revisit_max: float = 30 * 86400.0
    revisit_backoff: float = 2.0
    wait_lock: bool = False
    resume: bool = False
    progress_log_interval: float = 30.0  # seconds between progress lines in a log (--progress)
    tracebacks: bool = False  # full tracebacks in the log; else one line per failure
    quiet: bool = False  # summary only when the run did not end cleanly
    retry_after_max: float = 120.0  # seconds; a longer Retry-After is not waited for
    dead_hosts: bool = True  # unresolvable / refusing hosts fail their other requests at once
    redis_url: str | None = None  # distributed mode (docs/distributed.md)
    redis_prefix: str = "newsarchive"
    redis_idle_close: float = 30.0  # seconds
    redis_poll: float = 1.0
    redis_fingerprint_ttl: float = 86400.0
    redis_heartbeat_ttl: float = 15.0
    # reaches into Scrapy's and trafilatura's internals, each switchable (docs/compat.md)
    readability: str = "short-texts"  # extraction policy (docs/quality.md): or "always"
    trafilatura_tuning: bool = True
    offline_public_suffixes: bool = True
    redis_engine_poll: bool = True
    redis_inflight_ledger: bool = True
    stop_requeue: bool = True  # at a stop, requests waiting per host go back unsent
    retry_after_hold: bool = True  # a Retry-After holds the rest of the host's queue

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Config:
        workers = settings.getint("NEWSARCHIVE_EXTRACT_WORKERS")
        return cls(
            output_dir=Path(settings.get("NEWSARCHIVE_OUTPUT_DIR") or "output"),
            warc_max_size=settings.getint("NEWSARCHIVE_WARC_MAX_SIZE"),
            extract=settings.getbool("NEWSARCHIVE_EXTRACT"),
            extract_workers=workers if workers > 0 else (os.cpu_count() or 1),
            extract_timeout=settings.getfloat("NEWSARCHIVE_EXTRACT_TIMEOUT"),
            links_in_workers=settings.getbool("NEWSARCHIVE_LINKS_IN_WORKERS"),
            jsonl_html=settings.getbool("NEWSARCHIVE_JSONL_HTML"),
            depth=settings.getint("NEWSARCHIVE_DEPTH"),
            allowed_domains=tuple(settings.getlist("NEWSARCHIVE_ALLOWED_DOMAINS")),
            max_pages=settings.getint("NEWSARCHIVE_MAX_PAGES"),
            operator=settings.get("NEWSARCHIVE_OPERATOR") or "",
            contact_url=settings.get("NEWSARCHIVE_CONTACT_URL") or "",
            progress=_optional_bool(settings, "NEWSARCHIVE_PROGRESS"),
            progress_interval=settings.getfloat("NEWSARCHIVE_PROGRESS_INTERVAL"),
            run_id=settings.get("NEWSARCHIVE_RUN_ID") or None,
            block_private_addresses=_optional_bool(settings, "NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES"),
            seeds=tuple(settings.getlist("NEWSARCHIVE_SEEDS")),
            proxy=settings.get("NEWSARCHIVE_PROXY") or None,
            requisites=settings.getbool("NEWSARCHIVE_REQUISITES", True),
            requisites_max=settings.getint("NEWSARCHIVE_REQUISITES_MAX", 60),
            requisites_maxsize=settings.getint("NEWSARCHIVE_REQUISITES_MAXSIZE", 8 * 1024 * 1024),
            state=(settings.get("NEWSARCHIVE_STATE") or "sqlite").lower(),
            state_stores=tuple(settings.getdict("NEWSARCHIVE_STATE_STORES").items()),
            revisit_after=parse_duration(settings.get("NEWSARCHIVE_REVISIT_AFTER") or "6h"),
            revisit_max=parse_duration(settings.get("NEWSARCHIVE_REVISIT_MAX") or "30d"),
            revisit_backoff=max(1.0, settings.getfloat("NEWSARCHIVE_REVISIT_BACKOFF", 2.0)),
            wait_lock=settings.getbool("NEWSARCHIVE_WAIT_LOCK"),
            resume=settings.getbool("NEWSARCHIVE_RESUME"),
            progress_log_interval=settings.getfloat("NEWSARCHIVE_PROGRESS_LOG_INTERVAL", 30.0),
            tracebacks=settings.getbool("NEWSARCHIVE_TRACEBACKS"),
            quiet=settings.getbool("NEWSARCHIVE_QUIET"),
            retry_after_max=settings.getfloat("NEWSARCHIVE_RETRY_AFTER_MAX", 120.0),
            dead_hosts=settings.getbool("NEWSARCHIVE_DEAD_HOSTS", True),
            redis_url=settings.get("NEWSARCHIVE_REDIS_URL") or None,
            redis_prefix=settings.get("NEWSARCHIVE_REDIS_PREFIX") or "newsarchive",
            redis_idle_close=parse_duration(settings.get("NEWSARCHIVE_REDIS_IDLE_CLOSE") or 30),
            redis_poll=settings.getfloat("NEWSARCHIVE_REDIS_POLL", 1.0),
            redis_fingerprint_ttl=parse_duration(
                settings.get("NEWSARCHIVE_REDIS_FINGERPRINT_TTL") or "1d"
            ),
            redis_heartbeat_ttl=parse_duration(
                settings.get("NEWSARCHIVE_REDIS_HEARTBEAT_TTL") or "15s"
            ),
            readability=readability_policy(settings.get("NEWSARCHIVE_READABILITY")),
            trafilatura_tuning=settings.getbool("NEWSARCHIVE_TRAFILATURA_TUNING", True),
            offline_public_suffixes=settings.getbool("NEWSARCHIVE_OFFLINE_PUBLIC_SUFFIXES", True),
            redis_engine_poll=settings.getbool("NEWSARCHIVE_REDIS_ENGINE_POLL", True),
            redis_inflight_ledger=settings.getbool("NEWSARCHIVE_REDIS_INFLIGHT_LEDGER", True),
            stop_requeue=settings.getbool("NEWSARCHIVE_STOP_REQUEUE", True),
            retry_after_hold=settings.getbool("NEWSARCHIVE_RETRY_AFTER_HOLD", True),
        )


READABILITY_POLICIES = ("short-texts", "always")


def readability_policy(value: str | None) -> str:
    """NEWSARCHIVE_READABILITY, checked: one of :data:`READABILITY_POLICIES`."""
    policy = (value or "short-texts").strip().lower()
    if policy not in READABILITY_POLICIES:
        raise ValueError(
            f"NEWSARCHIVE_READABILITY must be one of {', '.join(READABILITY_POLICIES)}: {value!r}"
        )
    return policy


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str | float | int) -> float:
    """Seconds in "90", "90s", "15m", "6h", "2d", "1w" or a combination such as "1h30m"."""
    if isinstance(text, int | float):
        return float(text)
    spec = text.strip().lower().replace(" ", "")
    if not spec:
        raise ValueError("empty duration")
    total, number = 0.0, ""
    for char in spec:
        if char.isdigit() or char == ".":
            number += char
        elif char in _DURATION_UNITS and number:
            total += float(number) * _DURATION_UNITS[char]
            number = ""
        else:
            raise ValueError(f"bad duration {text!r} (use e.g. 30m, 6h, 2d)")
    return total + (float(number) if number else 0.0)
