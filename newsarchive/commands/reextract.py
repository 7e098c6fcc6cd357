"""``newsarchive reextract -o DIR [--run RUN]``: extract again from the archived responses.

No network: every JSONL line of the chosen runs that points at a stored response (or a revisit
of one) is extracted again from the WARC, with the current version and settings. The result is
a run of its own: ``articles/<new run>.jsonl``, conversion and metadata records in a new WARC
file (``WARC-Refers-To`` the original response), their CDXJ lines, and ``runs/<new run>.json``.
Nothing of the original runs is rewritten, so an archive improves when the extractor does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsarchive import __version__
from newsarchive.base.codings import decode_content
from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_OK
from newsarchive.capture.warc_writer import RecordPointer, WarcFileWriter, WrittenRecord
from newsarchive.commands.crawl import project_settings
from newsarchive.compat.trafilatura import DEFAULT_TUNING, Tuning
from newsarchive.config import Config
from newsarchive.extract.workers import ExtractionPool, ExtractionUnavailable
from newsarchive.store.archive import package_versions, warcinfo_fields
from newsarchive.store.cdxj import cdxj_line, merge_into_index
from newsarchive.store.jsonl import extracted_fields, metadata_document, read_jsonl
from newsarchive.store.layout import Layout, new_run_id
from newsarchive.store.records import read_record
from newsarchive.store.runlock import RunLock, RunLocked

PENDING = 64  # pages handed to the pool at a time


def run(args: argparse.Namespace) -> int:
    layout = Layout(args.output)
    sources = _jsonl_files(layout, args.run)
    if not sources:
        which = f"run {args.run}" if args.run else "any run"
        print(f"newsarchive reextract: no JSONL of {which} in {layout.articles}", file=sys.stderr)
        return EXIT_FATAL
    run_id = new_run_id()
    try:
        lock = RunLock.acquire(layout.state, run_id)
    except RunLocked as exc:
        print(f"newsarchive reextract: {exc}", file=sys.stderr)
        return EXIT_FATAL
    try:
        reextraction = Reextraction(layout, run_id, sources, _tuning())
        stats = reextraction.run(include_reextracted=bool(args.run))
    except ExtractionUnavailable as exc:
        print(f"newsarchive reextract: extraction unavailable: {exc}\n"
              "newsarchive reextract: no run was written: fix the installation", file=sys.stderr)
        return EXIT_FATAL
    finally:
        lock.release()
    print(
        f"newsarchive reextract {run_id}: {stats['pages']} pages, {stats['extracted']} texts, "
        f"{stats['skipped']} without an archived response\n"
        f"  articles: {layout.articles / f'{run_id}.jsonl'}",
        file=sys.stderr,
    )
    return EXIT_OK


def _tuning() -> Tuning:
    """How trafilatura runs, as the project's settings say (NEWSARCHIVE_READABILITY...)."""
    config = Config.from_settings(project_settings({}))
    return Tuning(speed=config.trafilatura_tuning, readability=config.readability)


def _jsonl_files(layout: Layout, run_id: str | None) -> list[Path]:
    if run_id:
        path = layout.articles / f"{run_id}.jsonl"
        return [path] if path.is_file() else []
    return sorted(layout.articles.glob("*.jsonl"))


def _lines(paths: list[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        yield from read_jsonl(path)


class Reextraction:
    """One re-extraction run over the lines of `sources`."""

    def __init__(
        self, layout: Layout, run_id: str, sources: list[Path], tuning: Tuning = DEFAULT_TUNING
    ):
        self.layout = layout
        self.tuning = tuning
        self.run_id = run_id
        self.sources = sources
        self.started = datetime.now(UTC)
        self.stats = {"pages": 0, "extracted": 0, "skipped": 0}
        self.index_lines: list[str] = []
        # responses by record id, to find what a revisit refers to
        self.responses: dict[str, dict[str, Any]] = {}

    def run(self, include_reextracted: bool = False) -> dict[str, int]:
        """Re-extract every line; ExtractionUnavailable (nothing written) if the workers fail
        their warm-up."""
        # without --run, earlier re-extractions are not re-extracted again (their lines would
        # repeat the crawl's); a re-extraction named by --run is
        lines = [
            line for line in _lines(self.sources)
            if include_reextracted or "reextracted_from" not in line
        ]  # fmt: skip
        for line in lines:
            pointer = (line.get("warc") or {}).get("response")
            if pointer:
                self.responses.setdefault(pointer["record_id"], pointer)
        asyncio.run(self._run(lines))
        return self.stats

    async def _run(self, lines: list[dict[str, Any]]) -> None:
        with ExtractionPool(tuning=self.tuning) as pool:
            await pool.warm_up()  # before a file is written: a broken install writes nothing
            self.layout.create()
            writer = WarcFileWriter(self.layout.warc, self._warcinfo())
            output = self.layout.articles / f"{self.run_id}.jsonl"
            try:
                with open(output, "x", encoding="utf-8") as jsonl:
                    await self._extract_all(pool, lines, writer, jsonl)
            finally:
                writer.close()
                if self.index_lines:
                    merge_into_index(self.layout.index, self.index_lines)
                self._write_manifest(writer.files_written)

    async def _extract_all(
        self, pool: ExtractionPool, lines: list[dict[str, Any]], writer, jsonl
    ) -> None:
        for start in range(0, len(lines), PENDING):
            batch = lines[start : start + PENDING]
            results = await asyncio.gather(*(self._extract(pool, line) for line in batch))
            for line, found in zip(batch, results, strict=True):
                if found is None:
                    continue
                response, extraction = found
                jsonl.write(json.dumps(self._line(line, response, extraction, writer),
                                       ensure_ascii=False) + "\n")
            jsonl.flush()

    async def _extract(
        self, pool: ExtractionPool, line: dict[str, Any]
    ) -> tuple[WrittenRecord, dict[str, Any]] | None:
        pointer = (line.get("warc") or {}).get("response")
        if not pointer or (line.get("status") or 0) >= 400:
            return None
        self.stats["pages"] += 1
        try:
            response, body, content_type = self._stored_response(pointer)
        except (LookupError, OSError, ValueError) as exc:
            self.stats["skipped"] += 1
            line["extraction_error"] = f"archived response not readable: {exc}"
            return None
        url = line.get("final_url") or line["url"]
        extraction = await pool.extract(body, url, content_type)
        if extraction.get("text"):
            self.stats["extracted"] += 1
        return response, extraction

    def _stored_response(self, pointer: dict[str, Any]) -> tuple[WrittenRecord, bytes, str | None]:
        """The response record (a revisit's original), its decoded payload and Content-Type."""
        record_pointer = RecordPointer(**pointer)
        stored = read_record(self.layout.warc, record_pointer)
        if stored.rec_type == "revisit":
            refers = stored.header("WARC-Refers-To")
            original = self.responses.get(refers or "")
            if original is None:
                raise LookupError(f"original of revisit {pointer['record_id']} not in the JSONL")
            record_pointer = RecordPointer(**original)
            stored = read_record(self.layout.warc, record_pointer)
        headers = {name.lower(): value for name, value in stored.http_headers}
        target, date = stored.header("WARC-Target-URI"), stored.header("WARC-Date")
        response = WrittenRecord(record_pointer, "response", target or "", date or "")
        body = decode_content(stored.payload, headers.get("content-encoding", ""))
        return response, body, headers.get("content-type")

    def _line(
        self, line: dict[str, Any], response: WrittenRecord, extraction: dict[str, Any], writer
    ) -> dict[str, Any]:
        new = dict(line)
        new["run_id"] = self.run_id
        new["reextracted_from"] = {"run_id": line.get("run_id"), "text": line["warc"].get("text")}
        new.update(extracted_fields(extraction))
        new["text_digest"] = extraction.get("text_digest")
        text_pointer = self._write_records(writer, response, extraction) if new["text"] else None
        new["warc"] = {"response": line["warc"]["response"], "text": text_pointer}
        return new

    def _write_records(
        self, writer: WarcFileWriter, response: WrittenRecord, extraction: dict[str, Any]
    ) -> dict[str, Any]:
        refers = [
            ("WARC-Refers-To", response.pointer.record_id),
            ("WARC-Refers-To-Target-URI", response.target_uri),
            ("WARC-Refers-To-Date", response.date),
        ]
        conversion = writer.write_record(writer.make_record(
            "conversion", f"urn:text:{response.target_uri}",
            extraction["text"].encode("utf-8"),
            content_type="text/plain; charset=utf-8", warc_headers=refers,
        ))  # fmt: skip
        extractor = f"newsarchive/{__version__} trafilatura (reextract)"
        metadata = metadata_document(extraction, extractor)
        record = writer.write_record(writer.make_record(
            "metadata", f"urn:pageinfo:{response.target_uri}",
            json.dumps(metadata, ensure_ascii=False).encode("utf-8"),
            content_type="application/json", warc_headers=refers,
        ))  # fmt: skip
        for written in (conversion, record):
            index_line = cdxj_line(written)
            if index_line:
                self.index_lines.append(index_line)
        return conversion.pointer.as_dict()

    def _warcinfo(self) -> dict[str, str]:
        sources = ", ".join(path.stem for path in self.sources)
        return warcinfo_fields(
            self.run_id,
            "reextract: warcio, trafilatura",
            description=f"re-extraction of archived responses: {sources}",
        )

    def _write_manifest(self, files: list[str]) -> None:
        self.layout.runs.mkdir(parents=True, exist_ok=True)
        manifest = {
            "run_id": self.run_id,
            "kind": "reextract",
            "source_runs": [path.stem for path in self.sources],
            "started": _iso(self.started),
            "finished": _iso(datetime.now(UTC)),
            "versions": package_versions(),
            "stats": self.stats,
            "files": {"warc": files, "articles": f"{self.run_id}.jsonl"},
        }
        path = self.layout.runs / f"{self.run_id}.json"
        path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
