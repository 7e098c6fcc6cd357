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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from newsarchive.store.layout import Layout, new_run_id
from newsarchive.store.runlock import RunLock, RunLocked

__all__ = ["PreparedRun", "RunLocked", "interrupted_runs", "prepare_run", "resumable_run"]

RESUMABLE_REASONS = (None, "shutdown")  # killed (no reason recorded) or stopped by a signal


@dataclass
class PreparedRun:
    run_id: str
    jobdir: Path
    lock: RunLock
    resumed: bool = False
    seeds: list[str] = field(default_factory=list)  # the resumed run's seed arguments
    # a new run: the manifest of the latest interrupted run it found (the CLI mentions it)
    interrupted: dict | None = None

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


def prepare_run(
    output: Path,
    resume: bool | str,
    wait_lock: bool,
    on_wait: Callable[[str], None] | None = None,
) -> PreparedRun:
    """Lock the output for a new run, or for the interrupted run to resume: ``resume`` is its
    id, or True for the latest one; LookupError (naming the resumable runs) if there is none.
    ``on_wait(holder)`` is called once if ``wait_lock`` has to wait for another run."""
    layout = Layout(output)
    lock = RunLock.acquire(layout.state, "(starting)", wait=wait_lock, on_wait=on_wait)
    try:
        if not resume:
            run_id = new_run_id()
            lock.set_holder(run_id)
            interrupted = interrupted_runs(layout)
            return PreparedRun(run_id, jobdir_of(layout, run_id), lock,
                               interrupted=interrupted[-1] if interrupted else None)
        manifest = resumable_run(layout, None if resume is True else str(resume))
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


def crawl_manifests(layout: Layout) -> list[dict]:
    """The manifests of the crawl runs in the output, oldest first."""
    manifests = []
    for path in layout.runs.glob("*.json") if layout.runs.is_dir() else ():
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if manifest.get("kind", "crawl") == "crawl":  # re-extractions are not resumable crawls
            manifests.append(manifest)
    manifests.sort(key=lambda manifest: manifest.get("started") or "")
    return manifests


def interrupted_runs(layout: Layout) -> list[dict]:
    """Manifests of the runs that did not run to their end and whose job state is still on
    disk (whatever ran since), oldest first."""
    return [
        manifest
        for manifest in crawl_manifests(layout)
        if manifest.get("finish_reason") in RESUMABLE_REASONS
        and jobdir_of(layout, str(manifest.get("run_id"))).is_dir()
    ]


def resumable_run(layout: Layout, run_id: str | None = None) -> dict:
    """The manifest of the interrupted run ``run_id`` (default: the latest); LookupError, with
    the runs that can be resumed, if it is not one."""
    runs = interrupted_runs(layout)
    if run_id is None and runs:
        return runs[-1]
    for manifest in runs:
        if manifest["run_id"] == run_id:
            return manifest
    if run_id is None:
        raise LookupError(f"--resume: no interrupted run to resume in {layout.root}")
    known = {manifest.get("run_id"): manifest for manifest in crawl_manifests(layout)}
    if run_id in known:
        why = f"run {run_id} ended ({known[run_id].get('finish_reason')}): nothing to resume"
    else:
        why = f"no run {run_id} in {layout.root}"
    listed = ", ".join(interrupted_description(manifest) for manifest in runs)
    return_hint = f"interrupted runs: {listed}" if runs else "no interrupted run to resume"
    raise LookupError(f"--resume: {why}; {return_hint}")


def interrupted_description(manifest: dict) -> str:
    """``RUN_ID (interrupted on DATE)``: the stop time, or the start of a killed run."""
    when = manifest.get("finished") or manifest.get("started")
    how = "interrupted on" if manifest.get("finished") else "killed, started"
    return f"{manifest.get('run_id')} ({how} {when})"


def _drop_unclosed_queue(jobdir: Path) -> None:
    """Scrapy saves its disk queue's state only when it closes: without that, what is on disk
    is unreadable, and the seen-requests file may list requests that were never fetched."""
    queue = jobdir / "requests.queue"
    if queue.is_dir() and not (queue / "active.json").exists():
        shutil.rmtree(queue)
        (jobdir / "requests.seen").unlink(missing_ok=True)
