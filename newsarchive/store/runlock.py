"""One run at a time per output directory: an exclusive ``flock`` on ``state/run.lock``.

The kernel drops the lock when the process dies, however it dies, so a SIGKILLed run never
leaves a stale lock behind. The lock file names the holder (pid, run id, start time) so the
refusal message can say who is writing. Within one process the lock is shared: the CLI takes
it before starting Scrapy and the archive takes it again when the spider opens (``scrapy crawl``
and scrapyd runs reach only the second).

Distributed workers (``crawl --redis``, docs/distributed.md) share one output directory: they
take the lock *shared* (``LOCK_SH``), so any number of them run side by side, while an embedded
run or ``repair`` (exclusive) waits for, or refuses beside, every one of them, and the reverse.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

LOCK_NAME = "run.lock"
WAIT_POLL = 0.5  # seconds between tries while waiting


class RunLocked(Exception):
    """Another process is running a crawl on the same output directory."""


class RunLock:
    _held: ClassVar[dict[Path, RunLock]] = {}

    def __init__(self, path: Path, fd: int, shared: bool = False):
        self.path = path
        self._fd = fd
        self._users = 1
        self.shared = shared

    @classmethod
    def acquire(
        cls,
        state_dir: Path,
        run_id: str,
        wait: bool = False,
        timeout: float | None = None,
        shared: bool = False,
        on_wait: Callable[[str], None] | None = None,
    ) -> RunLock:
        """Take the lock (or share the one this process holds); RunLocked if another has it.
        ``shared``: a distributed worker's lock, compatible with other workers' only.
        ``on_wait(holder)``: called once when ``wait`` has to wait, with who holds the lock."""
        path = (state_dir / LOCK_NAME).resolve()
        held = cls._held.get(path)
        if held is not None:
            held._users += 1
            return held
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait or (deadline is not None and time.monotonic() > deadline):
                    holder = _describe_holder(path)
                    os.close(fd)
                    raise RunLocked(
                        f"another newsarchive run is writing to {state_dir.parent} ({holder}); "
                        "not starting. Use --wait-lock to wait for it to finish."
                    ) from None
                if on_wait is not None:
                    on_wait(_describe_holder(path))
                    on_wait = None
                time.sleep(WAIT_POLL)
        if not shared:  # shared holders are many: the file names none of them
            _write_holder(fd, run_id)
        lock = cls(path, fd, shared)
        cls._held[path] = lock
        return lock

    def set_holder(self, run_id: str) -> None:
        _write_holder(self._fd, run_id)

    def release(self) -> None:
        self._users -= 1
        if self._users > 0 or self._fd < 0:
            return
        self._held.pop(self.path, None)
        if not self.shared:
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1


def _write_holder(fd: int, run_id: str) -> None:
    holder = {
        "pid": os.getpid(),
        "run_id": run_id,
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode() + b"\n", 0)


def _describe_holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "distributed workers (crawl --redis) or holder unknown"
    return f"run {holder.get('run_id')}, pid {holder.get('pid')}, since {holder.get('started')}"
