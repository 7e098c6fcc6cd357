"""The responses that a selection of WARC files needs from outside it: the originals its
revisit records refer to (an unchanged page or image of a recurring run names the earlier run's
response instead of storing its payload again).

A package of some runs (``export --run``) carries copies of these records, byte for byte (each
is one gzip member), in one extra WARC file, so that every page of those runs replays on its
own. They are found through the archive's index: a revisit's ``WARC-Refers-To-Target-URI`` and
payload digest name the response; when several responses match, the one captured at
``WARC-Refers-To-Date`` (else the nearest) is taken. The selection's files are read once for
their revisit records (a 304's revisit has no index line), the index once; memory grows with
the selection's revisits, not with the archive.
"""

from __future__ import annotations

import errno
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsarchive.capture.warc_writer import WARC_VERSION
from newsarchive.store.cdxj import IndexEntry, read_index, timestamp14, url_key


@dataclass(frozen=True)
class Original:
    """A response outside the selection, and where its copy starts in the extra WARC file."""

    entry: IndexEntry
    copy_offset: int

    @property
    def length(self) -> int:
        return int(self.entry.fields["length"])


@dataclass
class Originals:
    """What :func:`find_originals` found: the copies to make, in index order, how many
    revisits name a response that is in no WARC file of the archive, and the selected files
    that could not be read to the end. The file of copies starts with ``head``, its warcinfo
    record (:meth:`start_file`)."""

    copies: dict[tuple[str, int], Original]
    missing: int = 0
    head: bytes = b""
    damaged: list[str] = field(default_factory=list)  # files whose revisits could not all be read

    @property
    def size(self) -> int:
        return len(self.head) + sum(original.length for original in self.copies.values())

    def start_file(self, filename: str, info: dict[str, str]) -> None:
        """Open the file of copies with a warcinfo record: ``info`` and the files copied from."""
        sources = sorted({source for source, _ in self.copies})
        fields = {**info, "description": "responses copied byte for byte, with their own "
                  "record ids and dates, from: " + ", ".join(sources)}
        out = io.BytesIO()
        writer = WARCWriter(out, gzip=True, warc_version=WARC_VERSION)
        writer.write_record(writer.create_warcinfo_record(filename, fields))
        self.head = out.getvalue()

    def copied_line(self, original: Original, filename: str) -> str:
        """The original's index line, pointing at its copy."""
        offset = len(self.head) + original.copy_offset
        fields = {**original.entry.fields, "filename": filename, "offset": str(offset)}
        entry = original.entry
        return f"{entry.key} {entry.timestamp} {json.dumps(fields, ensure_ascii=False)}\n"


def find_originals(index: Path, warcs: list[Path]) -> Originals:
    """The responses that revisits in the files ``warcs`` refer to and that are in other files
    (none when the selection holds a response of that URL and digest)."""
    names = {path.name for path in warcs}
    damaged: list[str] = []
    wanted = _referred(warcs, damaged)
    best: dict[tuple[str, str, str], tuple[int, int, IndexEntry]] = {}
    inside: set[tuple[str, str]] = set()
    for ordinal, entry in enumerate(read_index(index)):
        digest = entry.fields.get("digest")
        dates = wanted.get((entry.key, digest)) if digest else None
        if dates is None or entry.is_revisit or not entry.filename:
            continue
        length = str(entry.fields.get("length", ""))
        if Path(entry.filename).name != entry.filename or entry.place[1] < 0 or (
                not length.isdigit()):
            continue  # not a record of a file of warc/: not copied
        if entry.filename in names:
            inside.add((entry.key, digest))
            continue
        for date in dates:
            distance = abs(_number(entry.timestamp) - _number(date or entry.timestamp))
            found = best.get((entry.key, digest, date))
            if found is None or distance < found[0]:
                best[(entry.key, digest, date)] = (distance, ordinal, entry)
    chosen = {ordinal: entry for (key, digest, _), (_, ordinal, entry) in best.items()
              if (key, digest) not in inside}
    result = Originals({}, damaged=damaged)
    offset = 0
    for _, entry in sorted(chosen.items()):
        result.copies[entry.place] = Original(entry, offset)
        offset += int(entry.fields["length"])
    found = inside | {(key, digest) for key, digest, _ in best}
    result.missing = sum(len(dates) for want, dates in wanted.items() if want not in found)
    return result


def copied_chunks(warc_dir: Path, originals: Originals, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The file of copies: its warcinfo record, then the originals' gzip members as stored,
    one after another in index order. Raises OSError for a file shorter than its index says."""
    yield originals.head
    for (filename, offset), original in originals.copies.items():
        path = warc_dir / filename
        with open(path, "rb") as stream:
            stream.seek(offset)
            remaining = original.length
            while remaining > 0:
                data = stream.read(min(chunk, remaining))
                if not data:
                    raise OSError(errno.EIO, f"shorter than the index says (record at {offset})",
                                  str(path))
                remaining -= len(data)
                yield data


def _referred(warcs: list[Path], damaged: list[str]) -> dict[tuple[str, str], set[str]]:
    """(URL key, payload digest) -> the dates referred to, for the revisits in ``warcs``: those
    of identical payloads and those of 304 answers (which the index leaves out: design.md).
    The names of files that stop reading are added to ``damaged``."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for path in warcs:
        with open(path, "rb") as stream:
            try:
                for record in ArchiveIterator(stream):
                    if record.rec_type == "revisit":
                        _want(record.rec_headers, wanted)
            except Exception:  # whatever warcio makes of a damaged member
                damaged.append(path.name)
    return wanted


def _want(headers: StatusAndHeaders, wanted: dict[tuple[str, str], set[str]]) -> None:
    target = headers.get_header("WARC-Refers-To-Target-URI") or headers.get_header(
        "WARC-Target-URI")
    digest = headers.get_header("WARC-Payload-Digest")
    if target and digest:
        date = headers.get_header("WARC-Refers-To-Date")
        wanted.setdefault((url_key(target), digest), set()).add(timestamp14(date) if date else "")


def _number(timestamp: str) -> int:
    digits = "".join(ch for ch in timestamp if ch.isdigit())
    return int(digits.ljust(14, "0")) if digits else 0
