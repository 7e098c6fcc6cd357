"""Recovering what a killed run left: its ``.open`` WARC cut back to the last whole record.

The writer flushes every record as one gzip member, so a SIGKILL leaves whole members plus at
most one torn tail. :func:`recover_open_warc` finds the end of the last member that holds a whole
WARC record (see :mod:`newsarchive.store.warcscan`), cuts the rest, fsyncs and renames the file to
its
final name. ``newsarchive repair`` and the start of a crawl on the same output both use it.
A file still being written by a live process on this host is never touched.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from newsarchive.capture.warc_writer import OPEN_SUFFIX
from newsarchive.store.layout import fsync_directory
from newsarchive.store.warcscan import Damage, ScannedRecord, scan_with_damage

# ...-<host>-<pid>.warc.gz.open (warc_writer's naming)
_OWNER = re.compile(r"-(?P<host>[^-]+)-(?P<pid>\d+)\.warc\.gz" + re.escape(OPEN_SUFFIX) + "$")


@dataclass(frozen=True)
class RecoveryResult:
    open_path: Path
    final_path: Path | None  # None when nothing whole was left and the file was removed
    records_kept: int
    bytes_cut: int
    reason: str | None  # why the tail was cut, None when the file ended cleanly
    damaged: tuple[Damage, ...] = ()  # unreadable records between whole ones: kept as they are

    def describe(self) -> str:
        name = self.open_path.name
        if self.final_path is None:
            return f"{name}: no whole record, removed ({self.bytes_cut} bytes)"
        cut = f", cut {self.bytes_cut} torn bytes ({self.reason})" if self.bytes_cut else ""
        return f"{name}: closed as {self.final_path.name}, {self.records_kept} records kept{cut}"


def writer_is_alive(path: Path) -> bool:
    """True if the ``.open`` file belongs to a newsarchive process still running on this host."""
    match = _OWNER.search(path.name)
    if not match or match["host"] != (socket.gethostname().split(".")[0] or "localhost"):
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True  # no /proc: the pid exists, assume it is the writer
    return b"newsarchive" in cmdline or b"scrapy" in cmdline


def last_complete_end(path: Path) -> tuple[int, int, str | None, list[Damage]]:
    """(end offset of the last whole record, number of whole records, why the tail after it
    is not one (None: the file ends there), the unreadable records between whole ones)."""
    end = 0
    count = 0
    damaged: list[Damage] = []
    with open(path, "rb") as stream:
        for found in scan_with_damage(stream):
            if isinstance(found, ScannedRecord):
                end = found.offset + found.length
                count += 1
            else:
                damaged.append(found)
    tail = damaged.pop() if damaged and damaged[-1].at_end else None
    return end, count, tail.message if tail else None, damaged


def recover_open_warc(path: Path) -> RecoveryResult:
    """Cut a dead writer's ``.open`` WARC back to its last whole record and close it."""
    path = Path(path)
    if not path.name.endswith(OPEN_SUFFIX):
        raise ValueError(f"{path} is not an .open WARC file")
    size = path.stat().st_size
    end, count, reason, damaged = last_complete_end(path)
    if count == 0:
        path.unlink()
        return RecoveryResult(path, None, 0, size, reason)
    final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
    if final.exists():
        raise FileExistsError(f"{final} already exists: not overwriting a closed WARC")
    with open(path, "r+b") as stream:
        stream.truncate(end)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(path, final)
    fsync_directory(path.parent)
    return RecoveryResult(path, final, count, size - end, reason, tuple(damaged))


