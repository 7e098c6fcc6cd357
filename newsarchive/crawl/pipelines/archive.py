"""The archive pipeline: the cleaned copy as WARC conversion and metadata records, a JSONL line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from newsarchive import __version__
from newsarchive.capture.warc_writer import RecordPointer, WrittenRecord
from newsarchive.crawl.items import PageItem
from newsarchive.schedule.changes import (
    CHANGED,
    UNCHANGED,
    Judgement,
    is_article,
    judge,
    line_diff,
)
from newsarchive.store.archive import Archive
from newsarchive.store.jsonl import JSONL_SCHEMA, extracted_fields, metadata_document
from newsarchive.store.records import WarcRecords, read_text
from newsarchive.store.state import ArticleState

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler




class ArchivePipeline:
    """Writes the cleaned text (conversion + metadata records) and one JSONL line per page,
    saying whether the article changed since its last capture (newsarchive.schedule.changes)."""

    def __init__(self, archive: Archive):
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(Archive.of(crawler))

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PageItem):
            return item
        if not self.archive.counted_before(item.url):
            self._count(item)
        if item.url in self.archive.written_urls:
            return item  # resumed run: its line is written already
        state, stats = self.archive.state, self.archive.stats
        previous = state.get_article(item.url) if state is not None else None
        captured = _captured(item)
        judged = _judge(item, previous, captured)
        if captured and judged.change == UNCHANGED and previous and self._same_text(item, previous):
            text_pointer = previous.text.as_dict() if previous.text else None  # stored already
        elif item.response_record is not None and item.extraction.get("text"):
            text_pointer = self._write_cleaned_copy(item, item.response_record)
        else:
            text_pointer = None
        line = jsonl_line(item, self.archive.run_id, text_pointer)
        line["change"] = judged.change
        line["previous"] = previous.as_previous() if previous else None
        if judged.change == CHANGED and judged.by_text and previous is not None:
            self._add_diff(line, previous)
        self.archive.write_jsonl(line)
        # a front page's changes are no edits; a failed visit: what the page was last time
        article = is_article(line["page_type"] or (previous.page_type if previous else None))
        if captured or previous is not None:  # a page never captured is no new article
            (stats.changes if article else stats.listing_changes)[judged.change] += 1
        if article and "diff" in line:
            stats.edited.append({"url": line["url"], **line["diff"]})
        if captured and state is not None:
            state.put_article(_article_state(line, previous))
        return item

    def _add_diff(self, line: dict[str, Any], previous: ArticleState) -> None:
        before = read_text(self.archive.layout.warc, previous.text)
        line["diff"] = line_diff(before, line["text"])

    def _same_text(self, item: PageItem, previous: ArticleState) -> bool:
        """Whether the previous conversion record holds this text and is still there to point
        at (the same page bytes give another text when the extractor has changed)."""
        same = item.extraction.get("text_digest") == previous.text_digest
        return same and self._archived(previous)

    def _archived(self, previous: ArticleState) -> bool:
        """Whether the previous text is still there to point at (not removed by retention)."""
        if previous.text is None:
            return True
        return WarcRecords(self.archive.layout.warc).has_file(previous.text.file)

    def _write_cleaned_copy(self, item: PageItem, response: WrittenRecord) -> dict[str, Any]:
        warc = self.archive.warc
        assert warc is not None
        refers = [
            ("WARC-Refers-To", response.pointer.record_id),
            ("WARC-Refers-To-Target-URI", response.target_uri),
            ("WARC-Refers-To-Date", response.date),
        ]
        text = item.extraction["text"].encode("utf-8")
        conversion = warc.make_record(
            "conversion",
            f"urn:text:{response.target_uri}",
            text,
            content_type="text/plain; charset=utf-8",
            warc_headers=refers,
        )
        written = warc.write_record(conversion)
        self.archive.record_written(written)
        metadata = metadata_document(item.extraction, f"newsarchive/{__version__} trafilatura")
        metadata_record = warc.make_record(
            "metadata",
            f"urn:pageinfo:{response.target_uri}",
            json.dumps(metadata, ensure_ascii=False).encode("utf-8"),
            content_type="application/json",
            warc_headers=refers,
        )
        self.archive.record_written(warc.write_record(metadata_record))
        return written.pointer.as_dict()

    def _count(self, item: PageItem) -> None:
        stats = self.archive.stats
        stats.pages[str(item.status) if item.status is not None else "error"] += 1
        if item.extraction.get("page_type"):
            stats.page_types[item.extraction["page_type"]] += 1
        if item.error:
            stats.errors.append(f"{item.url}: {item.error}")


def _captured(item: PageItem) -> bool:
    """Whether this visit says something about the article: not a network error, not a 5xx,
    not a 304 whose archived page could not be read."""
    if item.response_record is None or (item.status or 0) >= 500:
        return False
    return not (item.status == 304 and not item.body)


def _judge(item: PageItem, previous: ArticleState | None, captured: bool) -> Judgement:
    if not captured and previous is not None:
        return Judgement(UNCHANGED, False)
    response = item.response_record
    return judge(
        previous,
        item.extraction.get("text") or "",
        item.extraction.get("text_digest"),
        response.payload_digest if response else None,
    )


def _article_state(line: dict[str, Any], previous: ArticleState | None) -> ArticleState:
    unchanged = line["change"] == UNCHANGED
    warc = line["warc"]
    return ArticleState(
        url=line["url"],
        run_id=line["run_id"],
        fetched_at=line["fetched_at"],
        payload_digest=line["payload_digest"],
        text_digest=line["text_digest"],
        response=RecordPointer(**warc["response"]) if warc["response"] else None,
        text=RecordPointer(**warc["text"]) if warc["text"] else None,
        unchanged_runs=previous.unchanged_runs + 1 if unchanged and previous else 0,
        changed_at=(previous.changed_at if unchanged and previous else line["fetched_at"]),
        page_type=line.get("page_type"),
    )


def jsonl_line(item: PageItem, run_id: str, text_pointer: dict[str, Any] | None) -> dict[str, Any]:
    """The schema-1 JSONL record (docs/jsonl.md) of one page."""
    extraction = item.extraction
    response = item.response_record
    line: dict[str, Any] = {
        "schema": JSONL_SCHEMA,
        "run_id": run_id,
        "url": item.url,
        "final_url": item.final_url,
        "status": item.status,
        "error": item.error,
        "fetched_at": item.fetched_at,
        "via": item.via,
        "seed": item.seed,
        "referrer": item.referrer,
        "depth": item.depth,
    }
    line.update(extracted_fields(extraction))
    if "html" in extraction:
        line["html"] = extraction["html"]
    line["payload_digest"] = response.payload_digest if response else None
    line["text_digest"] = extraction.get("text_digest")
    line["truncated"] = item.truncated
    line["change"] = "new"
    line["previous"] = None
    line["warc"] = {
        "response": response.pointer.as_dict() if response else None,
        "text": text_pointer,
    }
    return line
