"""Crash safety, proven: SIGKILL a real crawl at random moments, then `repair` and `verify`.

Before repairing, the records that were whole at the moment of the kill are listed by an
independent reader (zlib + warcio, member by member); after repair every one of them must still
be there, the complete JSONL lines unchanged, closed WARC files untouched, and `verify` clean.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from newsarchive.store.runlock import RunLock
from newsarchive.store.warcscan import scan_warc
from tests.conftest import NEWSARCHIVE, ROOT, run_newsarchive, write_seed_document
from tests.hostile_server import HostileServer

STARTUP_LIMIT = 120.0  # generous: CI machines are busy


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


def whole_records(path: Path) -> list[str]:
    """Record ids of the whole gzip members at the start of ``path`` (torn tail ignored)."""
    data = path.read_bytes()
    ids, offset = [], 0
    while offset < len(data):
        decompressor = zlib.decompressobj(31)
        try:
            member = decompressor.decompress(data[offset:])
        except zlib.error:
            break
        if not decompressor.eof:
            break
        record = next(iter(ArchiveIterator(io.BytesIO(member))))
        record.content_stream().read()
        ids.append(record.rec_headers.get_header("WARC-Record-ID"))
        offset = len(data) - len(decompressor.unused_data)
    return ids


def complete_lines(output: Path) -> dict[str, list[bytes]]:
    found = {}
    for path in (output / "articles").glob("*.jsonl"):
        data = path.read_bytes()
        found[path.name] = data[: data.rfind(b"\n") + 1].splitlines(keepends=True)
    return found


def start_crawl(seeds: list[str], output: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [*NEWSARCHIVE, "crawl", *seeds, "-o", str(output), "--warc-max-size", "20000",
         "-s", "AUTOTHROTTLE_START_DELAY=0.2"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the extraction workers too
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def warc_bytes(output: Path) -> int:
    total = 0
    for path in (output / "warc").glob("*"):
        try:
            total += path.stat().st_size
        except FileNotFoundError:  # renamed between listing and stat
            continue
    return total


def kill_at(process: subprocess.Popen, output: Path, size: int) -> None:
    """SIGKILL the crawl as soon as its WARC files hold ``size`` bytes (or when it ends)."""
    deadline = time.monotonic() + STARTUP_LIMIT
    while process.poll() is None and (not (output / "warc").is_dir() or warc_bytes(output) < size):
        assert time.monotonic() < deadline, "the crawl never wrote that much"
        time.sleep(0.002)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it finished first: the property must hold all the same
    process.wait()


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(size=st.integers(min_value=0, max_value=9_000_000))
def test_sigkill_at_random_moments_then_repair_and_verify(site, hostile, tmp_path_factory, size):
    work = tmp_path_factory.mktemp("crash")
    output = work / "out"
    # the fixture site, and an 8 MB record that takes long enough to write to be torn
    seeds = [str(write_seed_document(site, work)), hostile.url("/random")]
    crawl = start_crawl(seeds, output)
    kill_at(crawl, output, size)

    warc_dir = output / "warc"
    before = {p.name: whole_records(p) for p in warc_dir.iterdir()}
    closed = {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in warc_dir.glob("*.gz")}
    lines_before = complete_lines(output)

    repaired = run_newsarchive("repair", "-o", str(output))
    assert repaired.returncode == 0, repaired.stderr
    checked = run_newsarchive("verify", "-o", str(output))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    after = {p.name: whole_records(p) for p in warc_dir.iterdir()}
    assert not any(name.endswith(".open") for name in after)
    for name, ids in before.items():
        final = name.removesuffix(".open")
        if ids:
            assert after[final] == ids, f"{name}: whole records lost or changed by repair"
        else:
            assert final not in after  # an .open file without a whole record is removed
    for name, digest in closed.items():
        assert hashlib.sha1((warc_dir / name).read_bytes()).hexdigest() == digest, name
    assert complete_lines(output) == lines_before
    again = run_newsarchive("repair", "-o", str(output))
    assert again.returncode == 0 and "nothing to repair" in again.stderr


def test_repair_refuses_while_a_crawl_holds_the_lock(tmp_path):
    output = tmp_path / "out"
    (output / "warc").mkdir(parents=True)
    lock = RunLock.acquire(output / "state", "20260101T000000Z-beef")
    try:
        run = run_newsarchive("repair", "-o", str(output))
    finally:
        lock.release()
    assert run.returncode == 1 and "another newsarchive run" in run.stderr


# -- full disk and read-only output -------------------------------------------------------------
@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs of our own at ``path`` (needs root, as in CI); skips where not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True, text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True)


def file_digests(output: Path) -> dict[str, str]:
    return {
        str(p.relative_to(output)): hashlib.sha1(p.read_bytes()).hexdigest()
        for sub in ("warc", "articles", "index")
        for p in (output / sub).glob("*")
        if p.is_file()
    }


def test_full_disk_stops_cleanly_and_damages_nothing(site, hostile, tmp_path):
    with tmpfs(tmp_path / "disk", "3m") as disk:
        output = disk / "out"
        seed_doc = str(write_seed_document(site, tmp_path))
        first = run_newsarchive("crawl", seed_doc, "-o", str(output))
        assert first.returncode == 0, first.stderr
        earlier = file_digests(output)

        full = run_newsarchive("crawl", seed_doc, hostile.url("/random"), "-o", str(output),
                               "-s", "AUTOTHROTTLE_ENABLED=False")
        assert full.returncode == 1, full.stderr[-3000:]
        message = full.stderr.strip().splitlines()[-1]
        assert message.startswith("newsarchive crawl: cannot write the archive: No space left")
        assert "Traceback" not in full.stderr
        after = file_digests(output)
        assert {name: after.get(name) for name in earlier} == earlier  # the first run untouched
        for path in (output / "warc").glob("*.warc.gz*"):
            assert whole_records(path), path  # no torn record, no .open left behind
            assert not path.name.endswith(".open")
            with open(path, "rb") as stream:
                list(scan_warc(stream))  # raises on anything but whole records
        for path in (output / "articles").glob("*.jsonl"):
            data = path.read_bytes()
            assert data == b"" or data.endswith(b"\n")  # whole lines only (maybe none)
            for line in data.splitlines():
                json.loads(line)

        remount(disk, "size=64m")  # space freed: repair finishes what the run could not
        assert run_newsarchive("repair", "-o", str(output)).returncode == 0
        checked = run_newsarchive("verify", "-o", str(output))
        assert checked.returncode == 0, checked.stdout[-3000:]


def test_read_only_output_is_refused_in_one_line(site, tmp_path):
    with tmpfs(tmp_path / "ro", "2m") as disk:
        output = disk / "out"
        seed_doc = str(write_seed_document(site, tmp_path))
        assert run_newsarchive("crawl", seed_doc, "-o", str(output)).returncode == 0
        earlier = file_digests(output)
        remount(disk, "ro")
        try:
            for target in (output, disk / "new"):
                run = run_newsarchive("crawl", seed_doc, "-o", str(target))
                assert run.returncode == 1
                assert len(run.stderr.strip().splitlines()) == 1, run.stderr
                assert "not writable" in run.stderr or "Read-only file system" in run.stderr
            repaired = run_newsarchive("repair", "-o", str(output))
            assert repaired.returncode == 1 and "Read-only file system" in repaired.stderr
            assert run_newsarchive("verify", "-o", str(output)).returncode == 0
            assert file_digests(output) == earlier
        finally:
            remount(disk, "rw")
