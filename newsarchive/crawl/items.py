"""The item the articles spider yields for every candidate article page, fetched or failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from newsarchive.capture.warc_writer import WrittenRecord


@dataclass
class PageItem:
    url: str  # as requested
    via: str  # seed | related-title | related-link | feed | sitemap
    seed: str
    depth: int
    fetched_at: str
    referrer: str | None = None
    final_url: str | None = None
    status: int | None = None
    error: str | None = None
    content_type: str | None = None
    body: bytes = b""  # raw payload as stored (content-encoding removed by Scrapy)
    response_record: WrittenRecord | None = None
    truncated: str | None = None
    revisit_profile: str | None = None  # the response record is a revisit of this profile
    extraction: dict[str, Any] = field(default_factory=dict)

    @property
    def page_url(self) -> str:
        return self.final_url or self.url
