"""`newsarchive verify` finds each kind of damage; `newsarchive repair` recovers a killed run."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from newsarchive.capture.warc_writer import WarcFileWriter
from newsarchive.store.runlock import RunLock
from newsarchive.store.warcscan import scan_warc
from tests.conftest import CrawlRun, run_newsarchive, write_seed_document

SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


@pytest.fixture(scope="module")
def pristine(site, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("pristine")
    seed_doc = write_seed_document(site, work)
    run = run_newsarchive(
        "crawl", str(seed_doc), "-o", str(work / "out"), "--warc-max-size", "30000"
    )
    assert run.returncode == 0, run.stderr
    assert len(run.warc_files()) >= 2
    return work / "out"


@pytest.fixture
def archive(pristine, tmp_path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(pristine, copy)
    return copy


def verify(output: Path) -> CrawlRun:
    return run_newsarchive("verify", "-o", str(output))


def repair(output: Path) -> CrawlRun:
    return run_newsarchive("repair", "-o", str(output))


def members(path: Path) -> list[tuple[int, int, str]]:
    with open(path, "rb") as stream:
        return [(r.offset, r.length, r.rec_type) for r in scan_warc(stream)]


def warcs(output: Path) -> list[Path]:
    return sorted((output / "warc").glob("*.warc.gz"))


def jsonl(output: Path) -> Path:
    return next((output / "articles").glob("*.jsonl"))


def index_lines(output: Path) -> list[str]:
    return (output / "index" / "index.cdxj").read_text().splitlines()


def digests(output: Path) -> dict[str, str]:
    return {
        str(p.relative_to(output)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in output.rglob("*")
        if p.is_file()
    }


def simulate_kill(output: Path, cut: int) -> str:
    """Make the archive look like its run was killed while writing its last WARC file."""
    last = warcs(output)[-1]
    index = output / "index" / "index.cdxj"
    lines = index.read_text().splitlines()
    run_id = jsonl(output).stem
    pending = [line for line in lines if last.name in line]
    index.write_text("".join(f"{line}\n" for line in lines if last.name not in line))
    (output / "index" / f".pending-{run_id}.cdxj").write_text("\n".join(pending[:-1]) + "\n{")
    data = last.read_bytes()
    last.unlink()
    (last.parent / (last.name + ".open")).write_bytes(data[: len(data) - cut])
    with open(jsonl(output), "a") as stream:
        stream.write('{"schema": 1, "url": "http://127.0.0.1/torn')
    return last.name


# -- verify ---------------------------------------------------------------------------------------
def test_verify_passes_a_clean_archive(pristine):
    run = verify(pristine)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK" in run.stderr and run.stdout == ""


def test_verify_rejects_a_missing_directory(tmp_path):
    run = verify(tmp_path / "nowhere")
    assert run.returncode == 1 and "not a directory" in run.stderr
    assert "Traceback" not in run.stderr


def test_verify_finds_a_changed_payload_with_valid_gzip(archive):
    path = warcs(archive)[0]
    data = path.read_bytes()
    offset, length, _ = next(m for m in members(path) if m[2] == "response")
    record = gzip.decompress(data[offset : offset + length])
    changed = record[:-5] + bytes([record[-5] ^ 0x20]) + record[-4:]  # last payload byte
    member = gzip.compress(changed)
    path.write_bytes(data[:offset] + member + data[offset + length :])
    run = verify(archive)
    assert run.returncode == 1
    assert "block digest mismatch" in run.stdout
    assert "payload digest mismatch" in run.stdout


def test_verify_finds_flipped_bits_and_torn_files(archive):
    first, second = warcs(archive)[:2]
    data = bytearray(first.read_bytes())
    offset, length, _ = members(first)[2]
    data[offset + length // 2] ^= 0xFF
    first.write_bytes(bytes(data))
    cut = members(second)[-1][0]
    second.write_bytes(second.read_bytes()[:-10])
    run = verify(archive)
    assert run.returncode == 1
    problems = run.stdout.splitlines()
    assert len(problems) == 2, run.stdout
    assert problems[0].startswith(f"warc/{first.name}@{offset}: unreadable record")
    assert f"the next record, at offset {offset + length}, and those after it are whole" in (
        problems[0]
    )
    assert problems[1].startswith(f"warc/{second.name}@{cut}: unreadable record (")
    assert "(a torn write)" in problems[1]


def middle_record(path: Path, kind: str = "response") -> tuple[int, int]:
    """A record of ``kind`` with whole records after it, in the middle of the file."""
    found = members(path)
    candidates = [m for m in found[1:-2] if m[2] == kind]
    offset, length, _ = candidates[len(candidates) // 2]
    return offset, length


def damage(archive: Path, how: str) -> tuple[Path, int, int]:
    """Damage one record of the first file: a flipped byte, a zeroed stretch (a torn write
    inside a record, what a lost disk block leaves), or the file cut inside the record."""
    path = warcs(archive)[0]
    offset, length = middle_record(path)
    data = bytearray(path.read_bytes())
    if how == "flipped":
        data[offset + length // 2] ^= 0x01
    elif how == "zeroed":
        start = offset + length // 3
        data[start : start + length // 3] = bytes(length // 3)
    else:
        del data[offset + length // 2 :]
    path.write_bytes(bytes(data))
    return path, offset, length


@pytest.mark.parametrize("how", ["flipped", "zeroed", "cut"])
def test_one_damaged_record_is_one_problem_and_repair_agrees(archive, how):
    path, offset, length = damage(archive, how)
    run = verify(archive)
    assert run.returncode == 1
    problems = run.stdout.splitlines()
    assert len(problems) == 1, run.stdout  # not every record after it, nor every pointer to it
    where = f"warc/{path.name}@{offset}: "
    assert problems[0].startswith(where + "unreadable record (response <urn:uuid:")
    assert "newsarchive verify: 1 problem(s)" in run.stderr
    if how == "cut":
        assert "(a torn write)" in problems[0]
        assert "lead into it" in problems[0]  # the lost records' pointers, counted here
    else:
        assert f"bytes skipped: the next record, at offset {offset + length}," in problems[0]
        assert "; 1 JSONL pointer(s), 1 index line(s) lead into it" in problems[0]

    before = digests(archive)
    fixed = repair(archive)
    assert fixed.returncode == 1, fixed.stderr
    [said] = [line for line in fixed.stderr.splitlines() if "cannot repair" in line]
    assert said.startswith(f"newsarchive repair: cannot repair {where}unreadable record")
    assert problems[0].startswith(said.split("cannot repair ", 1)[1])  # the same words
    assert "1 unreadable record(s) cannot be repaired" in fixed.stderr
    assert "nothing to repair" not in fixed.stderr
    assert digests(archive) == before  # a closed file is never rewritten


def test_repair_keeps_the_records_after_a_damaged_one_in_an_open_file(archive):
    open_name = simulate_kill(archive, cut=100)
    path = archive / "warc" / (open_name + ".open")
    whole = members_of_prefix(path)
    offset, length = whole[len(whole) // 2]
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x01
    path.write_bytes(bytes(data))
    run = repair(archive)
    assert run.returncode == 1, run.stderr
    kept = len(whole) - 1  # all but the damaged one: before, everything from it on was cut
    assert f"recovered {open_name}.open: closed as {open_name}, {kept} records kept" in run.stderr
    assert f"cannot repair warc/{open_name}@{offset}: unreadable record" in run.stderr
    closed = archive / "warc" / open_name
    after = [m[:2] for m in whole if m[0] != offset]
    with open(closed, "rb") as stream:
        from newsarchive.store.warcscan import ScannedRecord, scan_with_damage

        found = list(scan_with_damage(stream))
    assert [(r.offset, r.length) for r in found if isinstance(r, ScannedRecord)] == after
    checked = verify(archive)
    assert [line.split(": ")[0] for line in checked.stdout.splitlines()] == [
        f"warc/{open_name}@{offset}"
    ]


def test_verify_checks_jsonl_lines(archive):
    path = jsonl(archive)
    lines = [line for line in path.read_text().splitlines() if json.loads(line)["warc"]["text"]]
    first = json.loads(lines[0])
    first["warc"]["response"]["offset"] += 1
    second = json.loads(lines[1])
    del second["fetched_at"]
    second["via"] = "teleport"
    third = json.loads(lines[2])
    third["payload_digest"] = "sha1:AAAA"
    path.write_text(
        "\n".join([json.dumps(first), json.dumps(second), json.dumps(third), "{not json"])
        + "\n"
    )
    run = verify(archive)
    assert run.returncode == 1
    name = path.name
    assert f"articles/{name}:1: warc.response points at no record" in run.stdout
    assert f"articles/{name}:2: missing field 'fetched_at'" in run.stdout
    assert f"articles/{name}:2: unknown via 'teleport'" in run.stdout
    assert f"articles/{name}:3: payload_digest differs" in run.stdout
    assert f"articles/{name}:4: not valid JSON" in run.stdout


def test_verify_checks_the_index(archive):
    index = archive / "index" / "index.cdxj"
    lines = index.read_text().splitlines()
    dropped = lines.pop(0)
    key, stamp, fields = lines[0].split(" ", 2)
    moved = json.loads(fields)
    moved["url"] = "http://127.0.0.1/elsewhere"
    moved["length"] = str(int(moved["length"]) + 1)
    lines[0] = f"{key} {stamp} {json.dumps(moved)}"
    lines.append("a" + lines[1])  # out of order, and a duplicate pointer
    index.write_text("\n".join(lines) + "\n")
    run = verify(archive)
    assert run.returncode == 1
    assert json.loads(dropped.split(" ", 2)[2])["url"] + " is not in the index" in run.stdout
    assert "index.cdxj:1: length" in run.stdout
    assert "index.cdxj:1: url http://127.0.0.1/elsewhere differs" in run.stdout
    assert "index is not sorted" in run.stdout


def _extra_warc(archive: Path, build) -> None:
    writer = WarcFileWriter(archive / "warc", {"isPartOf": "test"}, prefix="EXTRA")
    for record in build(writer):
        writer.write_record(record)
    writer.close()


def test_verify_checks_revisit_targets_and_request_pairs(archive):
    pointers = (json.loads(line)["warc"]["response"] for line in jsonl(archive).open())
    response_id = next(p for p in pointers if p)["record_id"]
    head = b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"

    def revisit(writer, refers_to: str):
        return writer.make_record(
            "revisit", "http://127.0.0.1/page", b"",
            content_type="application/http; msgtype=response", http_head=head,
            warc_headers=[("WARC-Profile", SERVER_NOT_MODIFIED), ("WARC-Refers-To", refers_to)],
        )

    def records(writer):
        good = revisit(writer, response_id)
        good_id = good.rec_headers.get_header("WARC-Record-ID")
        return [
            good,
            writer.make_record(
                "request", "http://127.0.0.1/page", b"",
                content_type="application/http; msgtype=request",
                http_head=b"GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                warc_headers=[("WARC-Concurrent-To", good_id)],
            ),
            revisit(writer, "<urn:uuid:00000000-0000-0000-0000-000000000000>"),
            writer.make_record(
                "request", "http://127.0.0.1/lonely", b"",
                content_type="application/http; msgtype=request",
                http_head=b"GET /lonely HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                warc_headers=[("WARC-Concurrent-To", "<urn:uuid:11111111-0000-0000-0000-0>")],
            ),
        ]

    _extra_warc(archive, records)
    run = verify(archive)
    assert run.returncode == 1
    problems = run.stdout.splitlines()
    assert any("revisit refers to missing record <urn:uuid:0000" in p for p in problems)
    assert any("request for http://127.0.0.1/lonely pairs with no response" in p for p in problems)
    assert not any(response_id in p for p in problems)  # the good revisit resolves
    assert not any("http://127.0.0.1/page pairs" in p for p in problems)
    assert not any("not in the index" in p for p in problems)  # 304 revisits are not indexed


# -- repair ---------------------------------------------------------------------------------------
def test_repair_recovers_a_killed_run(archive):
    closed_before = {name: digest for name, digest in digests(archive).items()
                     if name.startswith("warc/")}
    open_name = simulate_kill(archive, cut=100)
    closed_before.pop(f"warc/{open_name}")
    expected_records = members_of_prefix(archive / "warc" / (open_name + ".open"))
    broken = verify(archive)
    assert broken.returncode == 1
    assert "unfinished WARC file" in broken.stdout and "never merged" in broken.stdout

    first = repair(archive)
    assert first.returncode == 0, first.stderr
    assert f"recovered {open_name}.open: closed as {open_name}" in first.stderr
    assert "removed 1 torn line(s)" in first.stderr
    assert [m[:2] for m in members(archive / "warc" / open_name)] == expected_records
    after = digests(archive)
    for name, digest in closed_before.items():
        assert after[name] == digest, f"repair modified the closed file {name}"
    ok = verify(archive)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert not list((archive / "index").glob(".pending-*"))

    second = repair(archive)
    assert second.returncode == 0 and "nothing to repair" in second.stderr
    assert digests(archive) == after


def members_of_prefix(path: Path) -> list[tuple[int, int]]:
    """The whole records at the start of a torn file, found independently of warcscan."""
    data = path.read_bytes()
    found, offset = [], 0
    while offset < len(data):
        decompressor = zlib.decompressobj(31)
        try:
            decompressor.decompress(data[offset:])
        except zlib.error:
            break
        if not decompressor.eof:
            break
        length = len(data) - offset - len(decompressor.unused_data)
        found.append((offset, length))
        offset += length
    return found


def test_repair_removes_an_open_file_without_a_whole_record(archive):
    name = "NEWSARCHIVE-20240101000000000-00009-nohost-1.warc.gz"
    (archive / "warc" / f"{name}.open").write_bytes(gzip.compress(b"WARC/1.1\r\n")[:15])
    run = repair(archive)
    assert run.returncode == 0, run.stderr
    assert "no whole record, removed" in run.stderr
    assert not (archive / "warc" / f"{name}.open").exists()
    assert verify(archive).returncode == 0


def test_repair_leaves_a_live_writers_file_alone(archive):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "newsarchive"])
    try:
        import socket

        host = socket.gethostname().split(".")[0]
        name = f"NEWSARCHIVE-20240101000000000-00009-{host}-{sleeper.pid}.warc.gz.open"
        path = archive / "warc" / name
        path.write_bytes(b"\x1f\x8b partial")
        run = repair(archive)
        assert run.returncode == 0
        assert "its writer is still running" in run.stderr
        assert path.read_bytes() == b"\x1f\x8b partial"
        checked = verify(archive)
        assert checked.returncode == 0 and "being written by a running crawl" in checked.stderr
    finally:
        sleeper.kill()
        sleeper.wait()


def test_repair_adds_unindexed_files_and_reports_errors(archive, tmp_path):
    index = archive / "index" / "index.cdxj"
    index.unlink()
    run = repair(archive)
    assert run.returncode == 0 and "line(s) added" in run.stderr
    assert verify(archive).returncode == 0
    missing = repair(tmp_path / "absent")
    assert missing.returncode == 1 and "not a directory" in missing.stderr


def test_verify_follows_real_revisits_across_runs(archive, site, tmp_path):
    seed_doc = write_seed_document(site, tmp_path)
    second = run_newsarchive("crawl", str(seed_doc), "-o", str(archive), "--revisit-after", "0s")
    assert second.returncode == 0, second.stderr
    revisits = [
        record for path in warcs(archive)
        for record in scan_warc(path.open("rb")) if record.rec_type == "revisit"
    ]
    assert revisits, "the second run stores unchanged pages as revisits"
    assert verify(archive).returncode == 0
    targets = {record.get("WARC-Refers-To") for record in revisits}
    for path in warcs(archive):
        if any(record.record_id in targets for record in scan_warc(path.open("rb"))):
            path.unlink()  # a retention policy gone wrong: the referred-to captures are gone
    run = verify(archive)
    assert run.returncode == 1
    assert "revisit refers to missing record" in run.stdout


def _record(block: bytes, declared: int | None = None, rec_type: str = "resource") -> bytes:
    length = len(block) if declared is None else declared
    return (f"WARC/1.1\r\nWARC-Type: {rec_type}\r\nWARC-Record-ID: <urn:uuid:x>\r\n"
            f"Content-Length: {length}\r\n\r\n").encode() + block + b"\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "message"),
    # ids from the messages: ids from gzip bytes carry the time of compression, and pytest-xdist
    # refuses workers that collected different ids (a second boundary between their imports)
    [
        (gzip.compress(_record(b"abc") + _record(b"def")), "bytes after the record"),
        (gzip.compress(_record(b"abc", declared=10)), "shorter than its Content-Length"),
        (gzip.compress(b"HTTP/1.1 200 OK\r\n\r\nhello"), "not a WARC record"),
        (gzip.compress(b"WARC/1.1\r\nno colon here\r\n\r\n"), "malformed WARC header"),
        (gzip.compress(b"WARC/1.1\r\nContent-Length: x\r\n\r\n"), "bad Content-Length"),
        (gzip.compress(_record(b"abc")) + b"garbage after the last member", "gzip error"),
        (gzip.compress(_record(b"abc"))[:-6], "file ends inside a gzip member"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_strict_scan_names_each_kind_of_damage(tmp_path, data, message):
    from newsarchive.store.warcscan import WarcFormatError

    path = tmp_path / "x.warc.gz"
    path.write_bytes(gzip.compress(_record(b"first")) + data)
    with pytest.raises(WarcFormatError, match=message) as info, open(path, "rb") as stream:
        list(scan_warc(stream))
    whole = gzip.compress(_record(b"first")) + (
        gzip.compress(_record(b"abc")) if data.endswith(b"member") else b""
    )
    assert info.value.offset == len(whole)  # where the damage starts


def test_verify_skips_the_unfinished_files_of_a_running_crawl(archive):
    run_id = "20260101T000000Z-beef"
    (archive / "index" / f".pending-{run_id}.cdxj").write_text("")
    (archive / "articles" / f"{run_id}.jsonl").write_text('{"schema": 1, "url": "http://x/')
    assert verify(archive).returncode == 1  # no crawl running: a killed run's leftovers
    lock = RunLock.acquire(archive / "state", run_id)
    try:
        run = verify(archive)
    finally:
        lock.release()
    assert run.returncode == 0, run.stdout
    assert f"a crawl (run {run_id}) is writing to this archive" in run.stderr
