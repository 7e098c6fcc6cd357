"""Helpers of the component tests: crawlers with newsarchive's settings, an opened archive, and
WARC records read back with warcio alone (not with newsarchive's own reader).

No Twisted reactor is installed in the test process (as in tests/test_links_in_workers.py): the
components under test are asyncio code, run with ``asyncio.run``. Installing one here would make
every later ``get_crawler(TWISTED_REACTOR_ENABLED=False)`` in the session fail.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from newsarchive import settings as project_settings
from newsarchive.store.archive import Archive

# newsarchive's own extensions take the output's run lock when the crawler is built: off unless
# a test is about them.
WITHOUT_OUR_EXTENSIONS = {
    "newsarchive.crawl.extensions.lifecycle.RunLifecycle": None,
    "newsarchive.crawl.extensions.progress.Progress": None,
}


def build_crawler(
    output: Path,
    spidercls: type[Spider] | None = None,
    *,
    extensions: bool = False,
    **settings: Any,
) -> Crawler:
    """A crawler with the project's settings (newsarchive/settings.py) writing to ``output``."""
    project = {name: value for name, value in vars(project_settings).items() if name.isupper()}
    return get_crawler(
        spidercls,
        {
            **project,
            "NEWSARCHIVE_OUTPUT_DIR": str(output),
            "NEWSARCHIVE_PROGRESS": False,  # its looping call would install a reactor
            "TWISTED_REACTOR_ENABLED": False,
            **({} if extensions else {"EXTENSIONS": WITHOUT_OUR_EXTENSIONS}),
            **settings,
        },
    )


@contextmanager
def opened(archive: Archive) -> Iterator[Archive]:
    """The archive open for writing, as RunLifecycle opens it when the spider opens."""
    archive.open()
    try:
        yield archive
    finally:
        archive.close()
        archive.release()


def sha1_b32(data: bytes) -> str:
    """A WARC payload digest, computed here independently of newsarchive.base.digests."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


@dataclass
class Record:
    """One WARC record as warcio reads it, plus the record's bytes as stored (ungzipped)."""

    rec_type: str
    warc: dict[str, str]  # WARC headers
    http_status: str | None  # status line after the protocol ("200 OK"), None if no HTTP head
    http_headers: list[tuple[str, str]]
    payload: bytes  # as stored (not content-decoded)
    raw: bytes  # the whole record as stored, gunzipped

    def header(self, name: str) -> str | None:
        return self.warc.get(name)


def record_at(warc_dir: Path, pointer: dict[str, Any]) -> Record:
    """The record a JSONL/record pointer names, read alone from its offset."""
    path = warc_dir / pointer["file"]
    if not path.exists():
        path = warc_dir / (pointer["file"] + ".open")
    with open(path, "rb") as stream:
        stream.seek(pointer["offset"])
        member = stream.read(pointer["length"])
    records = _records(member)
    assert len(records) == 1, f"{len(records)} records at {pointer}"
    assert records[0].header("WARC-Record-ID") == pointer["record_id"]
    return records[0]


def all_records(warc_dir: Path) -> list[Record]:
    """Every record of every WARC file in ``warc_dir``, in file and offset order."""
    return [r for path in sorted(warc_dir.glob("*.warc.gz*")) for r in _records(path.read_bytes())]


def _records(data: bytes) -> list[Record]:
    """One Record per gzip member (newsarchive writes one member per record)."""
    found = []
    while data:
        member = zlib.decompressobj(zlib.MAX_WBITS | 16)
        raw = member.decompress(data)
        data = member.unused_data
        for record in ArchiveIterator(io.BytesIO(raw)):
            http = record.http_headers
            found.append(
                Record(
                    rec_type=record.rec_type,
                    warc=dict(record.rec_headers.headers),
                    http_status=http.statusline if http is not None else None,
                    http_headers=list(http.headers) if http is not None else [],
                    payload=record.raw_stream.read(),
                    raw=raw,
                )
            )
    return found
