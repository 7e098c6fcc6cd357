"""The item pipelines with a real Archive: ExtractionPipeline fills each page's extraction (or
says why not); ArchivePipeline writes the cleaned copy as conversion + metadata records and one
JSONL line whose pointers resolve in the WARC, judging the article new, unchanged or changed."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scrapy.crawler import Crawler

from newsarchive.capture.exchange import Exchange
from newsarchive.capture.warc_writer import WrittenRecord
from newsarchive.crawl.items import PageItem
from newsarchive.crawl.pipelines.archive import ArchivePipeline
from newsarchive.crawl.pipelines.extraction import ExtractionPipeline
from newsarchive.extract.analysis import extract_page
from newsarchive.store.archive import Archive
from tests.components.support import all_records, build_crawler, opened, record_at, sha1_b32
from tests.conftest import SITE

PATH = "2024/05/01/harbour-expansion-approved-a10001.html"
URL = f"https://news.example.org/{PATH}"
HTML = "text/html; charset=utf-8"
BODY = (SITE / PATH).read_bytes()
PDF = (SITE / "2024/05/03/annual-report-a10009.pdf").read_bytes()


@pytest.fixture(scope="module")
def extraction() -> dict[str, Any]:
    """The fixture page extracted once, in this process."""
    return extract_page(BODY, URL, HTML)


def page_item(body: bytes = BODY, content_type: str = HTML, **fields: Any) -> PageItem:
    fields.setdefault("status", 200)
    return PageItem(
        url=URL, via="seed", seed=URL, depth=0, content_type=content_type, body=body,
        fetched_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **fields,
    )


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def maybe_await(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


# --- ExtractionPipeline -----------------------------------------------------------------------


def extraction_pipeline(crawler: Crawler) -> ExtractionPipeline:
    return ExtractionPipeline.from_crawler(crawler)


def test_not_html_is_not_extracted(tmp_path: Path) -> None:
    pipeline = extraction_pipeline(build_crawler(tmp_path))
    item = run(pipeline.process_item(page_item(PDF, "application/pdf")))
    assert item.extraction["extraction_error"] == "not HTML (application/pdf)"
    assert "text" not in item.extraction


def test_no_extract_says_so(tmp_path: Path) -> None:
    crawler = build_crawler(tmp_path, NEWSARCHIVE_EXTRACT=False,
                            NEWSARCHIVE_LINKS_IN_WORKERS=False, NEWSARCHIVE_JSONL_HTML=True)
    pipeline = extraction_pipeline(crawler)

    async def scenario() -> PageItem:
        await maybe_await(pipeline.open_spider())
        try:
            return await pipeline.process_item(page_item())
        finally:
            await maybe_await(pipeline.close_spider())

    item = run(scenario())
    assert "extraction disabled" in item.extraction["extraction_error"]
    assert "Harbour expansion approved" in item.extraction["html"]  # --jsonl-html still works
    assert Archive.of(crawler).stats.extracted == 0


def test_failed_and_errored_pages_are_left_alone(tmp_path: Path) -> None:
    pipeline = extraction_pipeline(build_crawler(tmp_path))
    missing = run(pipeline.process_item(page_item(status=404)))
    refused = run(pipeline.process_item(page_item(error="decompression bomb")))
    unfetched = run(pipeline.process_item(page_item(status=None, error="DNS lookup failed")))
    assert missing.extraction == refused.extraction == unfetched.extraction == {}


def test_pages_are_extracted_in_the_worker_pool(tmp_path: Path, extraction: dict) -> None:
    crawler = build_crawler(tmp_path, NEWSARCHIVE_EXTRACT_WORKERS=1)
    pipeline = extraction_pipeline(crawler)
    archive = Archive.of(crawler)

    async def scenario() -> tuple[PageItem, PageItem, PageItem]:
        await maybe_await(pipeline.open_spider())
        try:
            extracted = await pipeline.process_item(page_item())
            # extracted already by the workers for the spider: not extracted twice
            done = await pipeline.process_item(page_item(extraction={"text": "Done before."}))
            empty = await pipeline.process_item(page_item(b"<html><body></body></html>"))
            return extracted, done, empty
        finally:
            await maybe_await(pipeline.close_spider())

    extracted, done, empty = run(scenario())
    assert extracted.extraction["text"] == extraction["text"] != ""
    assert extracted.extraction["title"] == extraction["title"]
    assert extracted.extraction["text_digest"] == sha1_b32(extraction["text"].encode())
    assert done.extraction == {"text": "Done before."}
    assert empty.extraction["text"] == ""
    assert (archive.stats.extracted, archive.stats.extraction_errors) == (2, 1)
    assert archive.workers is None  # the pool is closed with the spider


# --- ArchivePipeline --------------------------------------------------------------------------


class Run:
    """One run of the archive pipeline on the output: its archive open for writing."""

    def __init__(self, output: Path, run_id: str):
        self.crawler = build_crawler(output, NEWSARCHIVE_RUN_ID=run_id)
        self.archive = Archive.of(self.crawler)
        self.pipeline = ArchivePipeline.from_crawler(self.crawler)

    def fetched(self, body: bytes) -> WrittenRecord:
        """The response record of a page fetched with this body (as the capture writes it)."""
        assert self.archive.warc is not None
        exchange = Exchange(
            url=URL, started=datetime.now(UTC), request_head=b"GET / HTTP/1.1\r\n\r\n",
            status=200, reason="OK", response_headers=[(b"Content-Type", HTML.encode())],
            body=body, complete=True,
        )
        response, request = self.archive.warc.write_exchange(exchange)
        self.archive.record_written(response)
        self.archive.record_written(request)
        return response


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Any]:
    def archive_run(run_id: str, body: bytes, extraction: dict[str, Any]) -> dict[str, Any]:
        one = Run(tmp_path, run_id)
        with opened(one.archive):
            item = page_item(body, response_record=one.fetched(body), extraction=extraction)
            assert one.pipeline.process_item(item) is item
        lines = (tmp_path / "articles" / f"{run_id}.jsonl").read_text().splitlines()
        assert len(lines) == 1
        return json.loads(lines[0])

    yield archive_run


def test_new_page_gets_its_text_records_and_jsonl_line(
    runs: Any, tmp_path: Path, extraction: dict
) -> None:
    line = runs("run-1", BODY, extraction)
    assert (line["url"], line["run_id"], line["status"], line["change"]) == (
        URL, "run-1", 200, "new"
    )
    assert line["previous"] is None
    assert line["title"] == extraction["title"] and line["text"] == extraction["text"]
    assert line["payload_digest"] == sha1_b32(BODY)
    assert line["text_digest"] == sha1_b32(extraction["text"].encode())

    warc = tmp_path / "warc"
    response = record_at(warc, line["warc"]["response"])
    assert response.rec_type == "response" and response.payload == BODY
    assert response.header("WARC-Target-URI") == URL
    text = record_at(warc, line["warc"]["text"])
    assert text.rec_type == "conversion"
    assert text.payload.decode("utf-8") == extraction["text"]
    assert text.header("WARC-Refers-To") == response.header("WARC-Record-ID")
    assert text.header("WARC-Refers-To-Target-URI") == URL
    assert text.header("Content-Type").startswith("text/plain")
    records = all_records(warc)
    assert [r.rec_type for r in records] == [
        "warcinfo", "response", "request", "conversion", "metadata"
    ]
    metadata = records[-1]
    assert metadata.header("WARC-Refers-To") == response.header("WARC-Record-ID")
    assert metadata.header("WARC-Target-URI") == f"urn:pageinfo:{URL}"
    fields = json.loads(metadata.payload)
    assert fields["title"] == extraction["title"]
    assert fields["text_digest"] == line["text_digest"]


def test_second_identical_capture_is_unchanged(runs: Any, tmp_path: Path, extraction: dict) -> None:
    first = runs("run-1", BODY, extraction)
    second = runs("run-2", BODY, extraction)
    assert second["change"] == "unchanged"
    assert second["previous"]["run_id"] == "run-1"
    assert second["previous"]["record_id"] == first["warc"]["response"]["record_id"]
    # the unchanged text is not stored twice: the line points at the first run's copy
    assert second["warc"]["text"] == first["warc"]["text"]
    assert second["warc"]["response"] != first["warc"]["response"]
    assert "conversion" not in [r.rec_type for r in all_records(tmp_path / "warc")[5:]]


def test_edited_text_is_changed_with_a_diff(runs: Any, tmp_path: Path, extraction: dict) -> None:
    first = runs("run-1", BODY, extraction)
    marker = b"<p>Commissioners spent"
    insert = b"<p>Correction: the vote was held on Tuesday, not on Monday as first reported.</p>"
    edited_body = BODY.replace(marker, insert + marker, 1)
    edited = extract_page(edited_body, URL, HTML)
    assert edited["text"] != extraction["text"]
    line = runs("run-2", edited_body, edited)
    assert line["change"] == "changed"
    assert line["diff"]["added"] >= 1
    assert line["previous"]["text"] == first["warc"]["text"]
    text = record_at(tmp_path / "warc", line["warc"]["text"])
    assert "Correction: the vote was held on Tuesday" in text.payload.decode("utf-8")
    assert line["warc"]["text"] != first["warc"]["text"]


def test_page_without_text_has_no_text_record(runs: Any, tmp_path: Path) -> None:
    failed = {"text": "", "extraction_error": "not HTML (application/pdf)"}
    line = runs("run-1", PDF, failed)
    assert line["warc"]["text"] is None and line["warc"]["response"] is not None
    assert line["extraction_error"] == "not HTML (application/pdf)"
    assert line["change"] == "new"

