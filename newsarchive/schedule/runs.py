"""Starting a crawl run from the command line: its id, the output lock, and ``--resume``.

A run holds ``state/run.lock`` from before Scrapy starts until its manifest is written. Its
Scrapy JOBDIR is ``state/jobs/<run_id>``: a run stopped gracefully (SIGTERM, Ctrl-C) leaves its
queue there for ``crawl --resume``; a run killed outright (SIGKILL, power loss) leaves a queue
Scrapy never closed, which cannot be trusted and is dropped: the resumed run starts again from
its seeds, and everything the killed run archived is answered from the WARC files instead of
being fetched again (WarcCaptureMiddleware), so its links are still followed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.store.layout import Layout, new_run_id
from newsarchive.store.runlock import RunLock, RunLocked

__all__ = ["PreparedRun", "RunLocked", "prepare_run", "resumable_run"]

RESUMABLE_REASONS = (None, "shutdown")  # killed (no reason recorded) or stopped by a signal


@dataclass
class PreparedRun:
    run_id: str
    jobdir: Path
    lock: RunLock
    resumed: bool = False
    seeds: list[str] = field(default_factory=list)  # the resumed run's seed arguments

    @property
    def settings(self) -> dict[str, object]:
        return {
            "NEWSARCHIVE_RUN_ID": self.run_id,
            "NEWSARCHIVE_RESUME": self.resumed,
            "JOBDIR": str(self.jobdir),
        }

    def finished(self, reason: str | None) -> None:
        """A run that ran to its end needs no job state any more."""
        if reason == "finished":
            shutil.rmtree(self.jobdir, ignore_errors=True)

    def release(self) -> None:
        self.lock.release()


def prepare_run(output: Path, resume: bool, wait_lock: bool) -> PreparedRun:
    """Lock the output for a new run (or the one to resume); LookupError if there is none."""
    layout = Layout(output)
    lock = RunLock.acquire(layout.state, "(starting)", wait=wait_lock)
    try:
        if not resume:
            run_id = new_run_id()
            lock.set_holder(run_id)
            return PreparedRun(run_id, jobdir_of(layout, run_id), lock)
        manifest = resumable_run(layout)
        if manifest is None:
            raise LookupError(f"--resume: no interrupted run to resume in {output}")
        run_id = manifest["run_id"]
        lock.set_holder(run_id)
        jobdir = jobdir_of(layout, run_id)
        _drop_unclosed_queue(jobdir)
        seeds = list(manifest.get("settings", {}).get("NEWSARCHIVE_SEEDS") or manifest["seeds"])
        return PreparedRun(run_id, jobdir, lock, resumed=True, seeds=seeds)
    except BaseException:
        lock.release()
        raise


def jobdir_of(layout: Layout, run_id: str) -> Path:
    return layout.state / "jobs" / run_id


def resumable_run(layout: Layout) -> dict | None:
    """The manifest of the latest crawl that did not run to its end, if any."""
    manifests = []
    for path in layout.runs.glob("*.json") if layout.runs.is_dir() else ():
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if manifest.get("kind", "crawl") == "crawl":  # re-extractions are not resumable crawls
            manifests.append(manifest)
    manifests.sort(key=lambda manifest: manifest.get("started") or "")
    if manifests and manifests[-1].get("finish_reason") in RESUMABLE_REASONS:
        return manifests[-1]
    return None


def _drop_unclosed_queue(jobdir: Path) -> None:
    """Scrapy saves its disk queue's state only when it closes: without that, what is on disk
    is unreadable, and the seen-requests file may list requests that were never fetched."""
    queue = jobdir / "requests.queue"
    if queue.is_dir() and not (queue / "active.json").exists():
        shutil.rmtree(queue)
        (jobdir / "requests.seen").unlink(missing_ok=True)
