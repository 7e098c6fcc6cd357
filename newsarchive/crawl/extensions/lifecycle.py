"""The run lifecycle extension: opens and closes the archive, writes the manifest and summary."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.utils.defer import deferred_from_coro

from newsarchive.crawl.seeds import SEED_FORMS
from newsarchive.store.archive import Archive

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)
ARCHIVE_WRITE_FAILED = "archive_write_failed"  # Scrapy close reason
INTERRUPTED_REASON = "shutdown"  # Scrapy's close reason when the crawler is stopped (a signal)


class RunLifecycle:
    """Opens the archive when the spider opens; closes it, writes the manifest and prints the
    summary when the spider closes (after the pipelines have written their last records)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.archive = Archive.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        extension = cls(crawler)
        # Before the crawl starts: a second run on the same output must not start at all
        # (the CLI took the lock already; `scrapy crawl` and scrapyd jobs take it here).
        extension.archive.acquire_lock()
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        self.archive.on_fatal = self._stop
        self.archive.open()
        archive = self.archive
        logger.info("newsarchive run %s writing to %s", archive.run_id, archive.layout.root)

    def _stop(self) -> None:
        """The archive cannot be written: stop at once (the CLI prints why, exits 1)."""
        logger.info("newsarchive: %s; stopping the crawl", self.archive.fatal)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=ARCHIVE_WRITE_FAILED))

    def spider_closed(self, reason: str) -> None:
        self.archive.finish_reason = reason
        self.archive.close()
        if self.archive.fatal is not None:
            self.archive.release()
            return  # writing anything more (a manifest, a summary's claims) is pointless
        path = self.archive.write_manifest(datetime.now(UTC))
        self.archive.release()
        if not (self.archive.config.quiet and ended_cleanly(self.archive, reason)):
            print(summary_text(self.archive, reason, path), file=sys.stderr)


def ended_cleanly(archive: Archive, reason: str) -> bool:
    """Ran to its end with every seed archived (exit 0): ``crawl -q`` prints no summary."""
    stats = archive.stats
    return (reason == "finished" and stats.seeds_total > 0 and not stats.seeds_failed
            and stats.same_extraction_error is None)


def summary_text(archive: Archive, reason: str, manifest_path) -> str:
    stats = archive.stats
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(stats.pages.items())) or "none"
    warcs = [f for f in archive.files_written() if f.startswith("warc/")]
    lines = [
        f"newsarchive run {archive.run_id} finished ({reason})",
        *_interrupted_lines(archive, reason),
        *_part_lines(archive),
        f"  pages:      {sum(stats.pages.values())} ({statuses}){_page_types_text(stats)}",
        f"  seeds:      {stats.seeds_archived}/{stats.seeds_total} archived{_seeds_note(stats)}",
        f"  extracted:  {stats.extracted} texts, {stats.extraction_errors} extraction errors",
        *_extraction_failure_lines(archive),
        f"  stored:     {stats.bytes_stored:,} payload bytes in {len(warcs)} WARC file(s), "
        f"{sum(stats.records.values())} records",
        f"  changes:    {_changes_text(stats)}",
        f"  articles:   {archive.jsonl_path}",
        f"  manifest:   {manifest_path}",
    ]
    for edit in stats.edited[:20]:
        lines.append(f"  edited:     {edit['url']} (+{edit['added']} -{edit['removed']} lines)")
    if len(stats.edited) > 20:
        lines.append(f"  edited:     ... {len(stats.edited) - 20} more in the manifest")
    for recovered in stats.recovered:
        lines.append(f"  recovered:  {recovered}")
    for failed in stats.seeds_failed:
        lines.append(f"  seed failed: {failed}")
    lines.extend(f"  seed invalid: {invalid}" for invalid in stats.seeds_invalid[:100])
    if len(stats.seeds_invalid) > 100:
        lines.append(f"  seed invalid: ... {len(stats.seeds_invalid) - 100} more in the manifest")
    if stats.seeds_invalid:
        lines.append(f"  ({SEED_FORMS})")
    for unmatched in stats.unmatched_titles:
        lines.append(f"  unmatched related title: {unmatched['title']!r} (on {unmatched['seed']})")
    lines.extend(_dead_host_lines(stats))
    if stats.errors:
        lines.append(f"  errors:     {len(stats.errors)}")
        lines.extend(f"    {error}" for error in stats.errors[:20])
        if len(stats.errors) > 20:
            lines.append(f"    ... {len(stats.errors) - 20} more in the manifest")
    return "\n".join(lines)


def _interrupted_lines(archive: Archive, reason: str) -> list[str]:
    """How to continue a run a signal stopped (exit code 4, EXIT_INTERRUPTED)."""
    if reason != INTERRUPTED_REASON:
        return []
    if archive.config.redis_url:
        return ["  interrupted: the shared frontier keeps the rest; start a worker again"]
    return [f"  interrupted: resume with `newsarchive crawl --resume {archive.run_id} "
            f"-o {archive.layout.root}`"]


def _part_lines(archive: Archive) -> list[str]:
    """A resumed run: the counts below are this part's, the manifest's the whole run's."""
    if not archive.earlier_parts:
        return []
    return [f"  resumed:    part {len(archive.earlier_parts) + 1} of the run; the counts below "
            "are this part's, the manifest's cover all parts"]


def _dead_host_lines(stats, shown: int = 10) -> list[str]:
    """Hosts that did not resolve or refused connections, the first `shown` named."""
    if not stats.dead_hosts:
        return []
    lines = [f"  dead hosts: {len(stats.dead_hosts):,} "
             f"({stats.dead_host_requests:,} requests not sent)"]
    lines.extend(f"    {host}: {entry['reason']}"
                 for host, entry in list(stats.dead_hosts.items())[:shown])
    if len(stats.dead_hosts) > shown:
        lines.append(f"    ... {len(stats.dead_hosts) - shown} more in the manifest")
    return lines


def _extraction_failure_lines(archive: Archive) -> list[str]:
    """Why this run extracted nothing, or the one error most of its extractions failed with."""
    if archive.extraction_unavailable is not None:
        return [f"  extraction unavailable: {archive.extraction_unavailable}"]
    same = archive.stats.same_extraction_error
    if same is None:
        return []
    return [f"  extraction failed on {same.pages} of {same.of} pages with the same error: "
            f"{same.error}"]


def _seeds_note(stats) -> str:
    notes = []
    if stats.seeds_not_fetched:
        notes.append(f", {stats.seeds_not_fetched} not fetched (--max-pages)")
    if stats.seeds_invalid:
        notes.append(f", {len(stats.seeds_invalid)} invalid (not crawled)")
    return "".join(notes)


def _page_types_text(stats) -> str:
    """"; 31 articles, 8 listings, 1 other" of the extracted pages, if any."""
    if not stats.page_types:
        return ""
    counts = [(stats.page_types[kind], kind) for kind in ("article", "listing", "other")]
    named = [f"{n} {kind}{'' if n == 1 or kind == 'other' else 's'}" for n, kind in counts if n]
    return "; " + ", ".join(named)


def _changes_text(stats) -> str:
    """Changes of articles; listing and other pages change on every run, said apart."""
    changes = ", ".join(f"{stats.changes[k]} {k}" for k in ("new", "changed", "unchanged"))
    listings = stats.listing_changes
    if listings:
        changes += (f" articles (listing and other pages: {listings['new']} new, "
                    f"{listings['changed']} changed, {listings['unchanged']} unchanged)")
    revisits = sum(stats.revisits.values())
    text = f"{changes}; {revisits} revisit record{'' if revisits == 1 else 's'}"
    if stats.revisits_in_run:  # not of an earlier run: the same content fetched twice in this one
        share = "" if stats.revisits_in_run == revisits else f"{stats.revisits_in_run} "
        text += f" ({share}of content this run had fetched already)"
    return f"{text}; {stats.not_due} known articles not due"


