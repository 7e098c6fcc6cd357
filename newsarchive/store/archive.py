"""The output directory of one crawl run, shared by the components of one crawler.

Its layout is :class:`newsarchive.store.layout.Layout`. One :class:`Archive` per crawler
(``Archive.of(crawler)``), opened when the spider opens and closed when it closes, by
``newsarchive.crawl.extensions.lifecycle.RunLifecycle``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from newsarchive import __version__
from newsarchive.base.failures import ArchiveWriteError, describe_os_error
from newsarchive.base.urls import host_and_address, redact_credentials, redact_url
from newsarchive.capture.proxies import ProxySelector, shown_proxy
from newsarchive.capture.warc_writer import WarcFileWriter, WrittenRecord
from newsarchive.config import Config
from newsarchive.store.cdxj import cdxj_line, merge_into_index
from newsarchive.store.jsonl import read_jsonl
from newsarchive.store.layout import Layout, new_run_id
from newsarchive.store.repair import PENDING_PREFIX, repair
from newsarchive.store.runlock import RunLock
from newsarchive.store.state import StateStore, open_state_store

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from newsarchive.extract.workers import ExtractionPool

_CRAWLER_ATTRIBUTE = "_newsarchive_archive"


class SameExtractionError(NamedTuple):
    """The extraction_error of more than half of the pages a run extracted."""

    error: str
    pages: int
    of: int  # pages that went to extraction

# Fewer pages failing alike say more about those pages than about the extraction.
MIN_SAME_ERROR_PAGES = 3


@dataclass
class RunStats:
    pages: Counter = field(default_factory=Counter)  # candidate articles by status ("error" too)
    records: Counter = field(default_factory=Counter)  # WARC records by type
    bytes_stored: int = 0  # payload bytes of response records
    extracted: int = 0
    extraction_errors: int = 0
    extraction_error_kinds: Counter = field(default_factory=Counter)  # extraction_error -> pages
    errors: list[str] = field(default_factory=list)
    related_titles: dict[str, dict] = field(default_factory=dict)  # title -> {seed, matched}
    seeds_total: int = 0
    seeds_archived: int = 0
    seeds_failed: list[str] = field(default_factory=list)
    seeds_invalid: list[str] = field(default_factory=list)  # "where: 'text': why" (seed input)
    seeds_not_fetched: int = 0  # seeds beyond --max-pages
    page_types: Counter = field(default_factory=Counter)  # extracted pages by JSONL page_type
    changes: Counter = field(default_factory=Counter)  # JSONL "change" values of articles
    listing_changes: Counter = field(default_factory=Counter)  # of listing and other pages
    revisits: Counter = field(default_factory=Counter)  # revisit records by profile
    revisits_in_run: int = 0  # of them, of a payload this same run fetched before
    not_due: int = 0  # known articles skipped by the revisit policy
    edited: list[dict] = field(default_factory=list)  # {url, added, removed} of changed articles
    recovered: list[str] = field(default_factory=list)  # what start-of-run recovery did
    proxies_used: set[str] = field(default_factory=set)  # proxies exchanges went through, shown
    # host (or host:port) -> {"reason", "requests_not_sent"}: hosts dead for the rest of the run
    dead_hosts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def host_dead(self, host: str, reason: str) -> None:
        self.dead_hosts.setdefault(host, {"reason": reason, "requests_not_sent": 0})

    def dead_host_of(self, url: str) -> str | None:
        """The dead host (or host:port) `url` is on, or None."""
        if not self.dead_hosts:
            return None
        host, address = host_and_address(url)
        return host if host in self.dead_hosts else address if address in self.dead_hosts else None

    def dead_host_request(self, host: str) -> str:
        """A request failed without being sent: its host was found dead before. Its reason."""
        entry = self.dead_hosts[host]
        entry["requests_not_sent"] += 1
        return entry["reason"]

    @property
    def dead_host_requests(self) -> int:
        return sum(entry["requests_not_sent"] for entry in self.dead_hosts.values())

    def extraction_done(self, extraction: dict[str, Any]) -> None:
        """Count a page that went to extraction, by its outcome."""
        if extraction.get("text"):
            self.extracted += 1
        else:
            self.extraction_errors += 1
            error = str(extraction.get("extraction_error") or "no text").strip()
            self.extraction_error_kinds[error] += 1

    @property
    def same_extraction_error(self) -> SameExtractionError | None:
        """The error most extractions failed with, if more than half of them did (a broken
        install, a site that renders its articles in the browser): the run is then partial."""
        if not self.extraction_error_kinds:
            return None
        error, pages = self.extraction_error_kinds.most_common(1)[0]
        attempted = self.extracted + self.extraction_errors
        if pages < MIN_SAME_ERROR_PAGES or 2 * pages <= attempted:
            return None
        return SameExtractionError(error, pages, attempted)

    def title_looked_up(self, title: str, seed: str, matched: bool) -> None:
        entry = self.related_titles.setdefault(title, {"seed": seed, "matched": False})
        entry["matched"] = entry["matched"] or matched

    @property
    def unmatched_titles(self) -> list[dict[str, str]]:
        """Related titles that matched a link on none of their document's seed pages."""
        return [
            {"title": title, "seed": entry["seed"]}
            for title, entry in self.related_titles.items()
            if not entry["matched"]
        ]


class Archive:
    def __init__(
        self,
        config: Config,
        settings_snapshot: dict[str, Any],
        proxies: dict[str, str] | None = None,
    ):
        self.config = config
        self.proxies = proxies or {}  # the proxies configured, shown (ProxySelector.describe)
        self.layout = Layout(config.output_dir)
        self.run_id = config.run_id or new_run_id()
        self.started = datetime.now(UTC)
        self.settings_snapshot = settings_snapshot
        self.stats = RunStats()
        self.seeds: list[str] = []
        self.warc: WarcFileWriter | None = None
        self.state: StateStore | None = None
        # extraction workers (newsarchive.extract.analysis), run by the ExtractionPipeline while
        # open
        self.workers: ExtractionPool | None = None
        self.lock: RunLock | None = None
        self.written_urls: set[str] = set()  # JSONL lines this run wrote before a resume
        self.resumed_at: list[str] = []
        self.part_started = self.started  # this part's start (a resumed run has several)
        self.earlier_parts: list[dict[str, Any]] = []  # the parts before a resume
        self.earlier_stats: dict[str, Any] = {}  # their stats, added to this part's
        self.finish_reason: str | None = None  # Scrapy's close reason, once closed
        self._earlier_files: list[str] = []  # WARC files of this run written before a resume
        self._files_seen: set[str] = set()
        self._jsonl = None
        self._pending_index = None  # unsorted index lines of this run, merged at close
        self.fatal: str | None = None  # why the archive could not be written (run stopped)
        # why extraction cannot work here (the warm-up failed): the run stopped before fetching
        self.extraction_unavailable: str | None = None
        self.on_fatal: Callable[[], None] | None = None  # stops the crawl (RunLifecycle)

    @classmethod
    def of(cls, crawler: Crawler) -> Archive:
        archive = getattr(crawler, _CRAWLER_ATTRIBUTE, None)
        if archive is None:
            config = Config.from_settings(crawler.settings)
            snapshot = {
                key: _jsonable(_redacted(key, value))
                for key, value in crawler.settings.copy_to_dict().items()
                if key.startswith("NEWSARCHIVE_") or key in _RECORDED_SCRAPY_SETTINGS
            }
            proxies = ProxySelector.from_settings(crawler.settings).describe()
            archive = cls(config, snapshot, proxies)
            setattr(crawler, _CRAWLER_ATTRIBUTE, archive)
        return archive

    # -- lifecycle -------------------------------------------------------------------------------
    def acquire_lock(self) -> None:
        """Take the output's run lock (RunLocked if another process holds it)."""
        if self.lock is None:
            self.lock = RunLock.acquire(
                self.layout.state,
                self.run_id,
                self.config.wait_lock,
                shared=bool(self.config.redis_url),  # distributed workers share the output
            )

    def open(self) -> None:
        self.layout.create()
        self.acquire_lock()
        if not self.config.redis_url:  # other workers' files may be live (docs/distributed.md)
            self._recover_killed_runs()
        self.state = open_state_store(self.config, self.layout.state)
        if self.config.resume:
            self._load_resumed_run()
        self.warc = WarcFileWriter(
            self.layout.warc, self.warcinfo(), max_size=self.config.warc_max_size
        )
        self.warc.on_failure = self.fail
        self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")  # noqa: SIM115
        self._pending_index = open(self.pending_index_path, "a", encoding="utf-8")  # noqa: SIM115
        self.write_manifest(None)

    def _recover_killed_runs(self) -> None:
        """Close what killed runs left (``.open`` WARCs, torn JSONL lines, pending index
        files); safe because this process holds the output's run lock."""
        # A killed run always leaves its pending index file (and usually an .open WARC); without
        # either there is nothing to recover, and the index need not be read at every start.
        killed = any(self.layout.warc.glob("*.open")) or any(
            self.layout.index.glob(f"{PENDING_PREFIX}*")
        )
        if not killed:
            return
        report = repair(self.layout)
        self.stats.recovered.extend(report.lines())

    def _load_resumed_run(self) -> None:
        if self.jsonl_path.exists():
            self.written_urls = {line["url"] for line in read_jsonl(self.jsonl_path)}
        if self.manifest_path.exists():
            earlier = json.loads(self.manifest_path.read_text())
            self.started = datetime.fromisoformat(earlier["started"].replace("Z", "+00:00"))
            self.resumed_at = [*earlier.get("resumed_at", []), _iso(datetime.now(UTC))]
            self._earlier_files = [
                Path(name).name for name in earlier.get("files", []) if name.startswith("warc/")
            ]
            self._files_seen.update(self._earlier_files)
            self.earlier_parts = earlier.get("parts") or [_part(earlier)]
            if earlier.get("finish_reason") == "shutdown":
                # stopped gracefully: its queue goes on, so its pages are not seen again. A
                # killed part's stats are only a snapshot, and the resumed part walks again
                # from the seeds, counting what the killed part archived as it goes.
                self.earlier_stats = earlier.get("stats") or {}

    def counted_before(self, url: str) -> bool:
        """Whether an earlier part of this run counted the page already (its stats are added to
        this part's; a resumed run fetches its seeds again)."""
        return bool(self.earlier_stats) and url in self.written_urls

    def release(self) -> None:
        """Give up the run lock (after the manifest is written)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def fail(self, message: str) -> None:
        """Writing failed: stop the run; what is written stays whole (see failures.py)."""
        if self.fatal is None:
            self.fatal = message
            if self.on_fatal is not None:
                self.on_fatal()

    def close(self) -> None:
        if self.fatal is not None:
            self._close_after_failure()
            return
        if self.warc is not None:
            self.warc.close()
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
        if self._pending_index is not None:
            self._pending_index.close()
            self._pending_index = None
            with open(self.pending_index_path, encoding="utf-8") as pending:
                merge_into_index(self.layout.index, (line.rstrip("\n") for line in pending))
            self.pending_index_path.unlink()
        if self.state is not None:
            self.state.close()
            self.state = None

    def _close_after_failure(self) -> None:
        """Close without writing more: the pending index stays for `newsarchive repair`."""
        for close in (
            self.warc.close if self.warc is not None else None,
            self._jsonl.close if self._jsonl is not None else None,
            self._pending_index.close if self._pending_index is not None else None,
            self.state.close if self.state is not None else None,
        ):
            if close is not None:
                with contextlib.suppress(OSError, ValueError):
                    close()
        self._jsonl = self._pending_index = self.state = None

    @property
    def jsonl_path(self) -> Path:
        return self.layout.articles / f"{self.run_id}.jsonl"

    @property
    def pending_index_path(self) -> Path:
        return self.layout.index / f".pending-{self.run_id}.cdxj"

    @property
    def manifest_path(self) -> Path:
        return self.layout.runs / f"{self.run_id}.json"

    # -- writing ---------------------------------------------------------------------------------
    def record_written(self, written: WrittenRecord, profile: str | None = None) -> None:
        self.stats.records[written.rec_type] += 1
        if profile:
            self.stats.revisits[profile.rsplit("/", 1)[-1]] += 1
        if self.fatal is not None:
            return
        line = cdxj_line(written, profile)
        try:
            if line and self._pending_index is not None:
                self._pending_index.write(line + "\n")
                self._pending_index.flush()  # a killed run's index lines survive for recovery
            if written.pointer.file not in self._files_seen:
                self._files_seen.add(written.pointer.file)
                self.write_manifest(None)  # the run's file list stays current if it is killed
        except OSError as exc:
            self.fail(describe_os_error(exc))
            raise ArchiveWriteError(self.fatal or "") from exc

    def write_jsonl(self, line: dict[str, Any]) -> None:
        assert self._jsonl is not None or self.fatal, "archive not open"
        if self.fatal is not None or self._jsonl is None:
            return
        size = os.fstat(self._jsonl.fileno()).st_size  # every earlier line is flushed
        try:
            self._jsonl.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._jsonl.flush()
        except OSError as exc:
            self._abandon_jsonl(size)
            self.fail(describe_os_error(exc, self.jsonl_path))
            raise ArchiveWriteError(self.fatal or "") from exc

    def _abandon_jsonl(self, size: int) -> None:
        """Cut a half-written line off and drop the rest of the buffer: whole lines only."""
        stream = self._jsonl
        assert stream is not None
        self._jsonl = None
        try:
            os.ftruncate(stream.fileno(), size)
        finally:
            stream.buffer.raw.close()
            with contextlib.suppress(OSError, ValueError):
                stream.close()

    def warcinfo(self) -> dict[str, str]:
        return warcinfo_fields(
            self.run_id,
            "scrapy, warcio, trafilatura",
            operator=self.config.operator or "unknown",
            **{
                "http-header-user-agent": str(self.settings_snapshot.get("USER_AGENT", "")),
                "robots": "obey" if self.settings_snapshot.get("ROBOTSTXT_OBEY") else "ignore",
                "crawl-settings": json.dumps(self.settings_snapshot, sort_keys=True, default=str),
                # which proxy the requests went through (docs/proxies.md), without passwords
                **{name.replace("_", "-"): value for name, value in self.proxies.items()},
            },
        )

    def manifest(self, finished: datetime | None = None) -> dict[str, Any]:
        this_part = {"started": _iso(self.part_started),
                     "finished": _iso(finished) if finished else None,
                     "finish_reason": self.finish_reason}
        return {
            "run_id": self.run_id,
            "started": _iso(self.started),
            "finished": _iso(finished) if finished else None,
            "finish_reason": self.finish_reason,
            "extraction_unavailable": self.extraction_unavailable,
            "resumed_at": self.resumed_at,
            "seeds": self.seeds,
            "settings": self.settings_snapshot,
            "versions": package_versions(),
            "proxies": {**self.proxies, "used": sorted(self.stats.proxies_used)},
            # a resumed run's parts (one per start), oldest first; "stats" counts all of them
            "parts": [*self.earlier_parts, this_part],
            "stats": add_stats(self.earlier_stats, self.part_stats()),
            "files": self.files_written(),
        }

    def part_stats(self) -> dict[str, Any]:
        """The manifest's stats of this part of the run (since it started or was resumed)."""
        stats = self.stats
        return {
            "pages_by_status": dict(stats.pages),
            "records_by_type": dict(stats.records),
            "bytes_stored": stats.bytes_stored,
            "extracted": stats.extracted,
            "extraction_errors": stats.extraction_errors,
            "same_extraction_error": _same_error(stats.same_extraction_error),
            "seeds_total": stats.seeds_total,
            "seeds_archived": stats.seeds_archived,
            "seeds_failed": stats.seeds_failed,
            "seeds_invalid": stats.seeds_invalid[:1000],
            "seeds_not_fetched": stats.seeds_not_fetched,
            "page_types": dict(stats.page_types),
            "changes": dict(stats.changes),
            "listing_changes": dict(stats.listing_changes),
            "revisits_by_profile": dict(stats.revisits),
            "revisits_in_run": stats.revisits_in_run,
            "not_due": stats.not_due,
            "edited": stats.edited[:1000],
            "recovered_at_start": stats.recovered,
            "unmatched_related_titles": stats.unmatched_titles,
            "errors": stats.errors[:1000],
            "errors_total": len(stats.errors),
            "dead_hosts": [{"host": host, **entry} for host, entry in stats.dead_hosts.items()],
        }

    def files_written(self) -> list[str]:
        root = self.layout.root
        files = [str((self.layout.warc / name).relative_to(root)) for name in self._warc_files()]
        if self.jsonl_path.exists():
            files.append(str(self.jsonl_path.relative_to(root)))
        files.append(str((self.layout.index / "index.cdxj").relative_to(root)))
        files.append(str(self.manifest_path.relative_to(root)))
        return files

    def _warc_files(self) -> list[str]:
        names = list(self._earlier_files)
        if self.warc is None:
            return names
        names.extend(self.warc.files_written)
        if self.warc.current_file:
            names.append(self.warc.current_file)
        return names

    def write_manifest(self, finished: datetime | None) -> Path:
        path = self.manifest_path
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.manifest(finished), indent=2, ensure_ascii=False))
        os.replace(tmp, path)
        return path


_RECORDED_SCRAPY_SETTINGS = {
    "HTTPPROXY_ENABLED",
    "USER_AGENT",
    "ROBOTSTXT_OBEY",
    "DEPTH_LIMIT",
    "AUTOTHROTTLE_ENABLED",
    "CONCURRENT_REQUESTS",
    "CONCURRENT_REQUESTS_PER_DOMAIN",
    "DOWNLOAD_DELAY",
    "DOWNLOAD_TIMEOUT",
    "DOWNLOAD_MAXSIZE",
}


def warcinfo_fields(run_id: str, tools: str, **extra: str) -> dict[str, str]:
    """The warcinfo record of every WARC file newsarchive writes (crawls and re-extractions)."""
    return {
        "software": f"newsarchive/{__version__} ({tools})",
        "format": "WARC File Format 1.1",
        "conformsTo":
        "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "isPartOf": run_id,
        "hostname": os.uname().nodename,
        **extra,
        "python": sys.version.split()[0],
        "versions": json.dumps(package_versions(), sort_keys=True),
    }


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("newsarchive", "scrapy", "warcio", "trafilatura", "h11", "lxml", "twisted"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


# a resumed run loads its seeds again: these describe its seeds as the current part found them
PER_PART_STATS = ("seeds_total", "seeds_invalid", "seeds_not_fetched", "same_extraction_error")


def add_stats(earlier: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The stats of a run's earlier parts plus its current part's: counts added, lists
    joined; PER_PART_STATS are the current part's."""
    total = dict(current)
    for key, value in earlier.items():
        now = current.get(key)
        if key in PER_PART_STATS or now is None:
            continue
        if isinstance(now, dict) and isinstance(value, dict):
            total[key] = dict(Counter(value) + Counter(now)) if _counts(value, now) else now
        elif isinstance(now, list) and isinstance(value, list):
            joined = [*value, *(item for item in now if item not in value)]
            total[key] = joined[:1000] if key in ("errors", "edited") else joined
        elif isinstance(now, int) and isinstance(value, int):
            total[key] = value + now
    # a resumed run fetches its seeds again: each is archived once
    total["seeds_archived"] = min(total.get("seeds_archived", 0), total.get("seeds_total", 0))
    return total


def _counts(*mappings: dict[str, Any]) -> bool:
    return all(isinstance(v, int) for mapping in mappings for v in mapping.values())


def _part(manifest: dict[str, Any]) -> dict[str, Any]:
    """The one part of a run that was never resumed, from its manifest."""
    return {key: manifest.get(key) for key in ("started", "finished", "finish_reason")}


def _same_error(same: SameExtractionError | None) -> dict[str, Any] | None:
    return same._asdict() if same is not None else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _redacted(key: str, value: Any) -> Any:
    """Passwords (a Redis URL's, a proxy's, a seed URL's) stay out of manifests and warcinfo."""
    if key == "NEWSARCHIVE_REDIS_URL" and isinstance(value, str) and "@" in value:
        return redact_url(value)
    if key == "NEWSARCHIVE_PROXY" and isinstance(value, str):
        return shown_proxy(value)
    if key == "NEWSARCHIVE_SEEDS":
        seeds = value.replace(",", " ").split() if isinstance(value, str) else value
        return [redact_credentials(str(seed)) for seed in seeds or ()]
    return value


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)
