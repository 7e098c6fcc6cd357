"""``newsarchive repair -o DIR``: recover what a killed run left, touching only what is unfinished.

- a dead writer's ``warc/*.warc.gz.open`` is cut back to its last whole record and closed
  (:func:`newsarchive.store.recovery.recover_open_warc`);
- a torn last line of a dead run's ``articles/*.jsonl`` (no final newline) is removed and counted;
- the index gets the records of every WARC file it does not cover yet: files just closed, files of
  runs that died before merging their ``index/.pending-<run_id>.cdxj``, files it never saw; the
  dead runs' pending files are then removed.

Closed WARC files and complete JSONL lines are never modified; ``index.cdxj`` is replaced
atomically. Running it twice changes nothing the second time. With ``check_closed`` (the
``repair`` command) every closed WARC file is read too, and each unreadable record is reported
in the words ``verify`` uses (:meth:`newsarchive.store.warcscan.Damage.describe`): it cannot be
repaired, and the whole records around it are kept. It takes the output's run lock
(``state/run.lock``), so it never runs beside a crawl on the same directory; files of a process
still alive on this host are left alone all the same.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.capture.warc_writer import OPEN_SUFFIX
from newsarchive.store.cdxj import INDEX_NAME, index_warc, merge_into_index, read_index
from newsarchive.store.layout import Layout
from newsarchive.store.recovery import RecoveryResult, recover_open_warc, writer_is_alive
from newsarchive.store.warcscan import Damage, read_warcinfo, scan_with_damage

PENDING_PREFIX = ".pending-"
TAIL_CHUNK = 64 * 1024


@dataclass
class RepairReport:
    recovered: list[RecoveryResult] = field(default_factory=list)
    live_files: list[str] = field(default_factory=list)
    torn_lines: dict[str, int] = field(default_factory=dict)  # JSONL file -> lines removed
    indexed_files: list[str] = field(default_factory=list)
    index_lines_added: int = 0
    pending_removed: list[str] = field(default_factory=list)
    damaged: list[tuple[str, Damage]] = field(default_factory=list)  # (WARC file, damage) kept

    @property
    def changed(self) -> bool:
        return bool(
            self.recovered or self.torn_lines or self.index_lines_added or self.pending_removed
        )

    def lines(self) -> list[str]:
        out = [f"recovered {result.describe()}" for result in self.recovered]
        out += [f"skipped {name}: its writer is still running" for name in self.live_files]
        out += [f"removed {n} torn line(s) at the end of {name}"
                for name, n in self.torn_lines.items()]
        if self.index_lines_added or self.indexed_files:
            out.append(
                f"index: {self.index_lines_added} line(s) added from "
                f"{len(self.indexed_files)} WARC file(s)"
            )
        out += [f"merged and removed {name}" for name in self.pending_removed]
        out += [f"cannot repair warc/{name}@{damage.offset}: {damage.describe()}"
                for name, damage in self.damaged]
        return out


def repair(layout: Layout, check_closed: bool = False) -> RepairReport:
    report = RepairReport()
    live_runs, dead_runs = _recover_warcs(layout, report)
    report.damaged = [
        (result.final_path.name, damage)
        for result in report.recovered
        if result.final_path
        for damage in result.damaged
    ]
    if check_closed:
        _find_damage(layout, report)
    dead_runs |= {run for run in _pending_runs(layout) if run not in live_runs}
    for path in sorted(layout.articles.glob("*.jsonl")) if layout.articles.is_dir() else ():
        if path.stem in live_runs:
            continue
        removed = cut_torn_line(path)
        if removed:
            report.torn_lines[str(path.relative_to(layout.root))] = removed
    closed = {result.final_path.name for result in report.recovered if result.final_path}
    _reindex(layout, report, dead_runs, closed)
    for run_id in sorted(dead_runs):
        pending = layout.index / f"{PENDING_PREFIX}{run_id}.cdxj"
        if pending.exists():
            pending.unlink()
            report.pending_removed.append(str(pending.relative_to(layout.root)))
    return report


def _recover_warcs(layout: Layout, report: RepairReport) -> tuple[set[str], set[str]]:
    live: set[str] = set()
    dead: set[str] = set()
    if not layout.warc.is_dir():
        return live, dead
    for path in sorted(layout.warc.glob(f"*.warc.gz{OPEN_SUFFIX}")):
        run_id = run_of(path)
        if writer_is_alive(path):
            report.live_files.append(path.name)
            live.add(run_id)
            continue
        dead.add(run_id)
        report.recovered.append(recover_open_warc(path))
    dead.discard("")
    live.discard("")
    return live, dead


def _find_damage(layout: Layout, report: RepairReport) -> None:
    """Unreadable records of the closed WARC files (not the ones just closed: already read)."""
    just_closed = {name for name, _ in report.damaged} | {
        result.final_path.name for result in report.recovered if result.final_path
    }
    for path in sorted(layout.warc.glob("*.warc.gz")) if layout.warc.is_dir() else ():
        if path.name in just_closed:
            continue
        with open(path, "rb") as stream:
            report.damaged += [
                (path.name, found)
                for found in scan_with_damage(stream)
                if isinstance(found, Damage)
            ]


def _pending_runs(layout: Layout) -> set[str]:
    if not layout.index.is_dir():
        return set()
    return {
        path.name[len(PENDING_PREFIX) : -len(".cdxj")]
        for path in layout.index.glob(f"{PENDING_PREFIX}*.cdxj")
    }


def _reindex(layout: Layout, report: RepairReport, dead_runs: set[str], closed: set[str]) -> None:
    if not layout.warc.is_dir():
        return
    index_path = layout.index / INDEX_NAME
    covered = files_in_index(index_path)
    todo = [
        path
        for path in sorted(layout.warc.glob("*.warc.gz"))
        if path.name in closed or path.name not in covered or run_of(path) in dead_runs
    ]
    if not todo:
        return
    before = _count_lines(index_path)
    lines = [line for path in todo for line in index_warc(path)]
    merge_into_index(layout.index, lines)
    report.index_lines_added = _count_lines(index_path) - before
    report.indexed_files = [path.name for path in todo]


def run_of(path: Path) -> str:
    """The run id a WARC file's warcinfo names ("" if unreadable)."""
    try:
        with open(path, "rb") as stream:
            return read_warcinfo(stream, limit=256 * 1024).get("isPartOf", "")
    except OSError:
        return ""


def files_in_index(index_path: Path) -> set[str]:
    if not index_path.exists():
        return set()
    return {entry.filename or "" for entry in read_index(index_path)}


def cut_torn_line(path: Path) -> int:
    """Remove a last line without its newline (a write cut by a kill); 1 if one was removed."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "r+b") as stream:
        stream.seek(size - 1)
        if stream.read(1) == b"\n":
            return 0
        keep = _after_last_newline(stream, size)
        stream.truncate(keep)
        stream.flush()
        os.fsync(stream.fileno())
    return 1


def _after_last_newline(stream, size: int) -> int:
    position = size
    while position > 0:
        start = max(0, position - TAIL_CHUNK)
        stream.seek(start)
        chunk = stream.read(position - start)
        found = chunk.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        position = start
    return 0


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as stream:
        return sum(1 for _ in stream)
