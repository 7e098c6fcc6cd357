"""WACZ 1.1.1 packages of the archive (docs/export.md): ``newsarchive export --wacz``.

A WACZ is a ZIP that ReplayWeb.page and pywb open as they are: the WARC files under
``archive/`` (stored, not compressed again: they are gzip members already and are read by
offset), the CDXJ index under ``indexes/``, ``pages/pages.jsonl`` (each article's title and
text, for ReplayWeb.page's search) and ``datapackage.json`` with every file's size and SHA-256,
itself digested in ``datapackage-digest.json``. Everything is streamed in chunks and digested as
it is written, so memory does not grow with the archive; the package is written to a temporary
file beside the target and renamed when complete. The archive is only read.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from newsarchive import __version__
from newsarchive.capture.warc_writer import OPEN_SUFFIX
from newsarchive.store.cdxj import INDEX_NAME, index_warc, read_index
from newsarchive.store.jsonl import read_jsonl
from newsarchive.store.layout import Layout, fsync_directory
from newsarchive.store.originals import Originals, copied_chunks, find_originals

WACZ_VERSION = "1.1.1"
CHUNK = 1 << 20  # bytes copied at a time
# index, pages and JSON are deflated at level 1: on article text about 5 times faster than
# zlib's default 6 for about a fifth more bytes (docs/export.md, "Cost")
DEFLATE_LEVEL = 1
INDEX_PATH = "indexes/index.cdxj"
ZIPNUM_PATH = "indexes/index.cdx.gz"  # --index zipnum: the CDXJ in gzip blocks...
ZIPNUM_IDX_PATH = "indexes/index.idx"  # ...and the first key, offset and length of each block
ZIPNUM_LINES = 3000  # CDXJ lines a block (py-wacz's and browsertrix-crawler's default)
INDEX_FORMATS = ("cdxj", "zipnum")
PAGES_PATH = "pages/pages.jsonl"
# with --run: copies of the responses that the runs' revisits refer to (store/originals.py)
ORIGINALS_NAME = "revisited-originals.warc.gz"
DATAPACKAGE = "datapackage.json"
DATAPACKAGE_DIGEST = "datapackage-digest.json"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "Articles", "hasText": True}


class ExportError(Exception):
    """The package cannot be made: no archive, an unknown run, a target that cannot be
    written. The message is one line for the user; nothing was left behind."""


@dataclass
class Selection:
    """What goes into the package: WARC files, the JSONL of the runs, and notes for the user."""

    warcs: list[Path]
    jsonl: list[Path]
    runs: list[str] | None  # None: every run
    notes: list[str] = field(default_factory=list)


@dataclass
class ExportResult:
    target: Path
    warcs: int = 0
    warc_bytes: int = 0
    index_lines: int = 0
    pages: int = 0
    size: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def select(layout: Layout, run_ids: Iterable[str] = ()) -> Selection:
    """The closed WARC files and JSONL files of the given runs (all runs when none)."""
    if not layout.warc.is_dir():
        raise ExportError(f"no archive at {layout.root}: {layout.warc} is not a directory")
    run_ids = list(dict.fromkeys(run_ids))
    if not run_ids:
        jsonl = sorted(layout.articles.glob("*.jsonl")) if layout.articles.is_dir() else []
        return Selection(sorted(layout.warc.glob("*.warc.gz")), jsonl, None)
    selection = Selection([], [], run_ids)
    for run_id in run_ids:
        _select_run(layout, run_id, selection)
    return selection


def _select_run(layout: Layout, run_id: str, selection: Selection) -> None:
    manifest = layout.runs / f"{run_id}.json"
    if not manifest.is_file():
        known = sorted(path.stem for path in layout.runs.glob("*.json")) if (
            layout.runs.is_dir()) else []
        listed = ", ".join(known[-5:]) if known else "none"
        raise ExportError(f"unknown run {run_id!r} in {layout.root} (latest runs: {listed})")
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files") or []
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read the manifest of run {run_id}: {exc}") from exc
    for name in files:
        path = layout.root / name
        if not (name.startswith("warc/") and name.endswith(".warc.gz")):
            continue
        if path.is_file():
            if path not in selection.warcs:
                selection.warcs.append(path)
        elif path.with_name(path.name + OPEN_SUFFIX).exists():
            selection.notes.append(f"{name} is still being written (or was left by a killed "
                                   "run: `newsarchive repair`): not packaged")
        else:
            selection.notes.append(f"{name} of run {run_id} is missing: not packaged")
    jsonl = layout.articles / f"{run_id}.jsonl"
    if jsonl.is_file():
        selection.jsonl.append(jsonl)


def export_wacz(
    layout: Layout, target: Path, run_ids: Iterable[str] = (), index_format: str = "cdxj",
    zipnum_lines: int = ZIPNUM_LINES,
) -> ExportResult:
    """Write the WACZ of the archive (or of the given runs) to ``target``, atomically.

    ``index_format``: ``cdxj``, one plain index that a reader loads whole; ``zipnum``, the
    index in gzip blocks of ``zipnum_lines`` lines with a small index of the blocks, of which
    ReplayWeb.page loads only the blocks a lookup needs (large archives)."""
    if index_format not in INDEX_FORMATS:
        raise ExportError(f"unknown index format {index_format!r} (one of {INDEX_FORMATS})")
    started = time.monotonic()
    selection = select(layout, run_ids)
    if not selection.warcs:
        which = f"run(s) {', '.join(selection.runs)}" if selection.runs else "the archive"
        why = f" ({'; '.join(selection.notes)})" if selection.notes else ""
        raise ExportError(f"no closed WARC file in {which}: nothing to package{why}")
    index = layout.index / INDEX_NAME
    if not index.is_file():
        raise ExportError(f"no index at {index}: `newsarchive index -o {layout.root}` builds it")
    _check_target(layout, target)
    result = ExportResult(target, notes=list(selection.notes))
    fd, tmp_name = _temporary(target)
    try:
        with os.fdopen(fd, "w+b") as stream:
            with zipfile.ZipFile(
                stream, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=DEFLATE_LEVEL
            ) as package:
                writer = WaczWriter(package, zipnum_lines if index_format == "zipnum" else 0)
                _write_package(writer, layout, selection, result)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp_name, target)
        fsync_directory(target.parent)  # the rename itself survives a crash
    except OSError as exc:
        if exc.filename and str(exc.filename) != tmp_name:  # opening a file of the archive
            raise ExportError(f"cannot read {exc.filename}: {exc.strerror or exc}") from exc
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    result.size = target.stat().st_size
    result.seconds = time.monotonic() - started
    return result


def _check_target(layout: Layout, target: Path) -> None:
    if target.suffix != ".wacz":
        raise ExportError(f"{target}: a WACZ file's name must end in .wacz")
    if target.is_dir():
        raise ExportError(f"cannot write {target}: it is a directory")
    parent = target.resolve().parent
    if not parent.is_dir():
        raise ExportError(f"cannot write {target}: {parent} is not a directory")
    for folder in (layout.warc, layout.articles, layout.index, layout.runs, layout.state):
        if parent.is_relative_to(folder.resolve()):
            raise ExportError(f"cannot write {target}: inside the archive's {folder.name}/")




def _temporary(target: Path) -> tuple[int, str]:
    """A temporary file beside the target, with the mode a new file gets (mkstemp's is 0600)."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from exc
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, name


def _write_package(
    writer: WaczWriter, layout: Layout, selection: Selection, result: ExportResult
) -> None:
    names = {path.name for path in selection.warcs}
    indexed: set[str] = set()
    index = layout.index / INDEX_NAME
    originals = find_originals(index, selection.warcs) if selection.runs else Originals({})
    copies_name = _copies_name(names)
    if originals.copies:
        originals.start_file(copies_name, {"software": f"newsarchive {__version__}",
                                           "format": "WARC File Format 1.1"})
    result.index_lines = writer.add_index(
        _index_lines(index, names, indexed, originals, copies_name), index.stat().st_size
    )
    for name in sorted(name for name in names - indexed if _indexable(layout.warc / name)):
        result.notes.append(f"warc/{name} has no line in the index: its records cannot be "
                            f"replayed (`newsarchive index -o {layout.root}` rebuilds it)")
    pages = _pages(selection, names, result.notes)
    jsonl_size = sum(path.stat().st_size for path in selection.jsonl)
    result.pages = writer.add_lines(PAGES_PATH, pages, jsonl_size, header=PAGES_HEADER)
    for path in selection.warcs:
        result.warc_bytes += writer.add_file(path, f"archive/{path.name}")
        result.warcs += 1
    if originals.copies:
        size = writer.add_stream(f"archive/{copies_name}", copied_chunks(layout.warc, originals),
                                 originals.size)
        result.warc_bytes += size
        result.warcs += 1
        result.notes.append(
            f"{len(originals.copies)} response(s) of other runs that revisits of "
            f"{'this run' if len(selection.runs or ()) == 1 else 'these runs'} refer to: "
            f"copied into archive/{copies_name} ({size:,} bytes)"
        )
    for name in originals.damaged:
        result.notes.append(f"warc/{name} could not be read to the end (`newsarchive verify -o "
                            f"{layout.root}` names the damage): the responses its later revisits "
                            "refer to may be missing")
    if originals.missing:
        result.notes.append(f"{originals.missing} revisit(s) refer to a response that is in no "
                            "WARC file of the archive: they do not replay")
    writer.finish(_metadata(layout, selection))


def _indexable(path: Path) -> bool:
    """Whether the file holds a record the index would list (a run of 304 answers does not)."""
    return next(index_warc(path), None) is not None


def _copies_name(names: set[str]) -> str:
    """The name of the extra WARC file: one no packaged file has."""
    name, number = ORIGINALS_NAME, 1
    while name in names:
        number += 1
        name = ORIGINALS_NAME.replace(".warc.gz", f"-{number}.warc.gz")
    return name


def _index_lines(
    index: Path, names: set[str], seen: set[str], originals: Originals, copies_name: str
) -> Iterator[str]:
    """The archive's index lines (already sorted) whose record is in one of the WARC files, and
    those of the copied originals, pointing at their copies."""
    for entry in read_index(index):
        if entry.filename in names:
            seen.add(entry.filename)
            yield entry.line
        elif (original := originals.copies.get(entry.place)) is not None:
            yield originals.copied_line(original, copies_name)


def _pages(selection: Selection, names: set[str], notes: list[str]) -> Iterator[str]:
    """One page per archived capture (error pages left out): its URL, time, title and text.
    Re-extractions repeat the crawl's captures: they are pages only when their run is named."""
    outside = 0
    for path in selection.jsonl:
        for line in read_jsonl(path):
            if "reextracted_from" in line and selection.runs is None:
                continue
            pointer = (line.get("warc") or {}).get("response")
            if not pointer or not line.get("fetched_at") or (line.get("status") or 0) >= 400:
                continue  # not archived, or an error page: not an article to open
            if pointer.get("file") not in names:
                outside += 1
                continue
            yield json.dumps(_page(line, pointer), ensure_ascii=False) + "\n"
    if outside:
        notes.append(f"{outside} page(s) whose response is in a WARC file not packaged (another "
                     "run's, or one still being written): not listed")


def _page(line: dict[str, Any], pointer: dict[str, Any]) -> dict[str, Any]:
    page = {
        "id": str(pointer.get("record_id", "")).removeprefix("<").removesuffix(">")
        .removeprefix("urn:uuid:"),
        "url": line.get("final_url") or line["url"],
        "ts": line["fetched_at"],
        "title": line.get("title") or "",
        "text": line.get("text") or "",
    }
    if line.get("status") is not None:
        page["status"] = line["status"]
    return page


def _metadata(layout: Layout, selection: Selection) -> dict[str, Any]:
    runs = selection.runs or sorted(path.stem for path in selection.jsonl)
    which = f"run {', '.join(runs)}" if selection.runs else f"{len(runs)} run(s)"
    return {
        "title": f"newsarchive: {layout.root.resolve().name}, {which}",
        "description": (
            f"News articles archived by newsarchive: {which} of {layout.root.resolve().name}. "
            "Each page's `text` is the article's cleaned text."
        ),
        "software": f"newsarchive {__version__}",
        "newsarchive": {"runs": runs},
    }


class WaczWriter:
    """Adds entries to an open ZipFile while counting and hashing their bytes, then writes the
    data package that lists them."""

    def __init__(self, package: zipfile.ZipFile, zipnum_lines: int = 0):
        self.package = package
        self.zipnum_lines = zipnum_lines  # 0: a plain CDXJ index
        self.resources: list[dict[str, Any]] = []

    def add_index(self, lines: Iterable[str], size_bound: int) -> int:
        """The sorted CDXJ lines as ``indexes/index.cdxj``, or as a ZipNum index."""
        if not self.zipnum_lines:
            return self.add_lines(INDEX_PATH, lines, size_bound)
        count, blocks = 0, []
        info = zipfile.ZipInfo(ZIPNUM_PATH, datetime.now(UTC).timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED  # gzip blocks, read by offset
        with self._entry(info, zip64=size_bound > zipfile.ZIP64_LIMIT // 2) as out:
            block: list[str] = []
            for line in lines:
                block.append(line)
                count += 1
                if len(block) == self.zipnum_lines:
                    blocks.append(_zipnum_block(block, out))
                    block = []
            if block:
                blocks.append(_zipnum_block(block, out))
        meta = {"format": "cdxj-gzip-1.0", "filename": Path(ZIPNUM_PATH).name}
        header = f"!meta 0 {json.dumps(meta)}\n"
        self.add_lines(ZIPNUM_IDX_PATH, [header, *blocks], len(blocks) * 200)
        return count

    def add_file(self, source: Path, arcname: str) -> int:
        """A file copied in chunks, stored as it is (WARCs are compressed already)."""
        info = zipfile.ZipInfo.from_file(source, arcname)
        info.compress_type = zipfile.ZIP_STORED
        with open(source, "rb") as stream, self._entry(info) as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)
        return self.resources[-1]["bytes"]

    def add_stream(self, arcname: str, chunks: Iterable[bytes], size_bound: int) -> int:
        """Bytes as they come (gzip members of WARC records), stored as they are."""
        info = zipfile.ZipInfo(arcname, datetime.now(UTC).timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16  # a regular file, as the copied WARCs are
        with self._entry(info, zip64=size_bound > zipfile.ZIP64_LIMIT // 2) as out:
            for chunk in chunks:
                out.write(chunk)
        return self.resources[-1]["bytes"]

    def add_lines(
        self, arcname: str, lines: Iterable[str], size_bound: int,
        header: dict[str, Any] | None = None,
    ) -> int:
        """Text lines (deflated), written as they come; returns how many (header excluded).
        ``size_bound``: at most about that many bytes, to choose ZIP64 ahead."""
        count = 0
        with self._entry(arcname, zip64=size_bound > zipfile.ZIP64_LIMIT // 2) as out:
            if header is not None:
                out.write(json.dumps(header).encode() + b"\n")
            batch: list[str] = []
            pending = 0
            for line in lines:
                batch.append(line)
                count += 1
                pending += len(line)
                if pending >= CHUNK:  # written about a chunk at a time
                    out.write("".join(batch).encode("utf-8"))
                    batch, pending = [], 0
            out.write("".join(batch).encode("utf-8"))
        return count

    def finish(self, metadata: dict[str, Any]) -> None:
        """``datapackage.json`` (every resource, WACZ version, metadata) and its digest."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        package = {
            "profile": "data-package",
            "wacz_version": WACZ_VERSION,
            **metadata,
            "created": now,
            "modified": now,
            "resources": self.resources,
        }
        data = json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
        self.package.writestr(DATAPACKAGE, data)  # deflated, as the package's default
        digest = {"path": DATAPACKAGE, "hash": "sha256:" + hashlib.sha256(data).hexdigest()}
        self.package.writestr(DATAPACKAGE_DIGEST, json.dumps(digest, indent=2))

    def _entry(self, entry: zipfile.ZipInfo | str, zip64: bool = False) -> _DigestingEntry:
        """A ZipInfo as it says, or a name: deflated at DEFLATE_LEVEL (the package's default)."""
        stream = self.package.open(entry, "w", force_zip64=zip64)
        name = entry.filename if isinstance(entry, zipfile.ZipInfo) else entry
        return _DigestingEntry(stream, name, self.resources)


class _DigestingEntry:
    """One entry being written: bytes counted and SHA-256 computed on the way; its resource is
    recorded when it is closed whole."""

    def __init__(self, stream: IO[bytes], path: str, resources: list[dict[str, Any]]):
        self.stream = stream
        self.path = path
        self.resources = resources
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.stream.write(data)
        self.hash.update(data)
        self.size += len(data)

    def __enter__(self) -> _DigestingEntry:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.stream.close()
        if kind is None:
            self.resources.append({
                "name": Path(self.path).name.lower(),
                "path": self.path,
                "hash": "sha256:" + self.hash.hexdigest(),
                "bytes": self.size,
            })


def _zipnum_block(lines: list[str], out: _DigestingEntry) -> str:
    """Write one gzip member of index lines; its line of the block index."""
    offset = out.size
    data = gzip.compress("".join(lines).encode("utf-8"), compresslevel=6, mtime=0)
    out.write(data)
    key = lines[0].split(" {", 1)[0]
    entry = {"offset": offset, "length": len(data),
             "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
             "filename": Path(ZIPNUM_PATH).name}
    return f"{key} {json.dumps(entry)}\n"
