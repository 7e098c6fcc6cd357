"""Run one command and measure its whole process tree: wall time, CPU seconds, peak RSS.

The tree is sampled with psutil every ``interval`` seconds: CPU seconds are the sum over every
process seen of its last sampled user+system time (at least the ``wait4`` total of what was
reaped), and peak RSS is the largest sum of the RSS of all processes alive at one sample (so
memory shared between forked processes counts once per process: an upper bound). Peak PSS is
the same with each shared page divided among the processes sharing it (what the tree really
takes from the machine).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SAMPLE_INTERVAL = 0.1


@dataclass
class Measurement:
    name: str
    command: list[str]
    returncode: int
    wall: float  # seconds
    cpu: float  # user + system seconds of the whole tree
    peak_rss: int  # bytes, whole tree
    peak_pss: int = 0  # bytes, whole tree, shared pages divided among their sharers
    cpu_main: float = 0.0  # CPU seconds of the command's own process (the reactor, for Scrapy)
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after
    pages: int = 0
    processes: int = 0
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall if self.wall > 0 else 0.0

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.cpu / self.pages if self.pages else 0.0

    @property
    def main_ms_per_page(self) -> float:
        return 1000 * self.cpu_main / self.pages if self.pages else 0.0

    def projected_rate(self, cores: int) -> float:
        """Pages/s on an otherwise idle machine if CPU were the only limit: the tree's CPU
        spread over every core, but the main process's own CPU on one core at most."""
        bound = max(self.cpu / max(cores, 1), self.cpu_main)
        return self.pages / bound if bound > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "command": self.command,
            "returncode": self.returncode,
            "wall": round(self.wall, 3),
            "cpu": round(self.cpu, 3),
            "peak_rss_mb": round(self.peak_rss / 2**20, 1),
            "peak_pss_mb": round(self.peak_pss / 2**20, 1),
            "pages": self.pages,
            "pages_per_s": round(self.pages_per_s, 1),
            "cpu_ms_per_page": round(self.cpu_ms_per_page, 2),
            "cpu_main": round(self.cpu_main, 3),
            "main_ms_per_page": round(self.main_ms_per_page, 2),
            "load": self.load,
            "processes": self.processes,
            "note": self.note,
            **self.extra,
        }


class TreeSampler:
    """Samples the CPU times and RSS of a process and all its descendants."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.cpu: dict[tuple[int, float], float] = {}  # (pid, create_time) -> cpu seconds
        self.peak_rss = 0
        self.peak_pss = 0

    def sample(self) -> None:
        try:
            processes = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        rss = pss = 0
        for process in processes:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    memory = process.memory_full_info()
                    key = (process.pid, process.create_time())
            except psutil.Error:
                continue
            rss += memory.rss
            pss += getattr(memory, "pss", memory.rss)
            self.cpu[key] = times.user + times.system
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())

    @property
    def cpu_root(self) -> float:
        return next((cpu for (pid, _), cpu in self.cpu.items() if pid == self.root.pid), 0.0)


def run(
    name: str,
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900.0,
    log: Path | None = None,
) -> Measurement:
    """Run ``command`` to completion (killing it after ``timeout``) and measure it."""
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        sampler = TreeSampler(process.pid)
        status, usage = _wait_sampling(process, sampler, started + timeout)
    finally:
        if log:
            out.close()
    wall = time.monotonic() - started
    reaped = usage.ru_utime + usage.ru_stime if usage else 0.0
    return Measurement(
        name=name,
        command=list(command),
        returncode=status,
        wall=wall,
        cpu=max(sampler.cpu_total, reaped),
        peak_rss=sampler.peak_rss,
        peak_pss=sampler.peak_pss,
        cpu_main=sampler.cpu_root,
        load=(round(load_before, 2), round(os.getloadavg()[0], 2)),
        processes=len(sampler.cpu),
        note="timed out" if status == -9 else "",
    )


def _wait_sampling(
    process: subprocess.Popen, sampler: TreeSampler, deadline: float
) -> tuple[int, object]:
    while True:
        sampler.sample()
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage
        if time.monotonic() > deadline:
            _kill_tree(process.pid)
        time.sleep(SAMPLE_INTERVAL)


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        for child in root.children(recursive=True):
            child.kill()
        root.kill()
    except psutil.Error:
        pass
