"""The JSONL output (docs/jsonl.md): its schema version, and a line's fields that come from the
extraction (the crawl's archive pipeline and ``reextract`` write them alike)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from newsarchive.extract.analysis import rich_fields

JSONL_SCHEMA = 1
METADATA_FIELDS = (
    "title",
    "author",
    "published",
    "language",
    "sitename",
    "description",
    "categories",
    "tags",
    "canonical_url",
)
LIST_FIELDS = ("categories", "tags")


def extracted_fields(extraction: dict[str, Any]) -> dict[str, Any]:
    """The metadata fields, text, rich fields and extraction_error of a line, in that order."""
    fields: dict[str, Any] = {
        key: extraction.get(key) or ([] if key in LIST_FIELDS else None)
        for key in METADATA_FIELDS
    }
    fields["text"] = extraction.get("text") or ""
    fields.update(rich_fields(extraction))
    fields["extraction_error"] = extraction.get("extraction_error")
    return fields


def metadata_document(extraction: dict[str, Any], extractor: str) -> dict[str, Any]:
    """The JSON body of the ``metadata`` record written beside a page's ``conversion`` record."""
    document: dict[str, Any] = {key: extraction.get(key) for key in METADATA_FIELDS}
    document["extractor"] = extractor
    document["text_digest"] = extraction.get("text_digest")
    document.update(rich_fields(extraction, markdown=False))
    return document


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of a JSONL file, streamed; blank lines and a torn last line (a run still going
    or killed) are skipped."""
    with open(path, encoding="utf-8") as stream:
        for text in stream:
            if text.strip():
                try:
                    line = json.loads(text)
                except ValueError:
                    continue
                if isinstance(line, dict):
                    yield line
