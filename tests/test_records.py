"""The one WARC record reader (newsarchive.store.records): records written by the project's own
writer, read back by pointer; what is not there is a RecordNotFound; payloads are streamed."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from newsarchive.capture.warc_writer import OPEN_SUFFIX, WarcFileWriter, WrittenRecord
from newsarchive.replay.lookup import NotArchived, WarcStore
from newsarchive.store.records import RecordNotFound, WarcRecords, read_record, read_text

URL = "http://news.test/2024/05/01/story.html"
BODY = b"<p>The harbour plan was approved.</p>"


def _response(writer: WarcFileWriter, body: bytes, head: str = "") -> WrittenRecord:
    http = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n{head}\r\n".encode("latin-1")
    return writer.write_record(writer.make_record(
        "response", URL, body, content_type="application/http; msgtype=response", http_head=http,
    ))  # fmt: skip


def _conversion(writer: WarcFileWriter, text: str) -> WrittenRecord:
    return writer.write_record(writer.make_record(
        "conversion", f"urn:text:{URL}", text.encode("utf-8"),
        content_type="text/plain; charset=utf-8",
    ))  # fmt: skip


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, WrittenRecord, WrittenRecord, WrittenRecord]:
    writer = WarcFileWriter(tmp_path / "warc", {"software": "test"})
    plain = _response(writer, BODY)
    coded = _response(writer, gzip.compress(BODY), "Content-Encoding: gzip\r\n")
    text = _conversion(writer, "The harbour plan — approved.")
    writer.close()
    return tmp_path / "warc", plain, coded, text


def test_reads_a_record_by_its_pointer(written):
    warc, plain, coded, text = written
    with WarcRecords(warc).open_pointer(plain.pointer) as opened:
        assert opened.rec_type == "response" and opened.status == 200
        assert opened.record_id == plain.pointer.record_id
        assert opened.header("WARC-Target-URI") == URL
        assert ("Content-Type", "text/html") in opened.http_headers
        assert opened.payload() == BODY
    stored = read_record(warc, plain.pointer)
    assert (stored.rec_type, stored.status, stored.payload) == ("response", 200, BODY)
    assert stored.header("warc-date") == plain.date
    assert read_text(warc, text.pointer) == "The harbour plan — approved."


def test_stored_payload_keeps_its_content_encoding(written):
    warc, _, coded, _ = written
    with WarcRecords(warc).open_pointer(coded.pointer) as opened:
        assert opened.http_header("Content-Encoding") == "gzip"
        assert b"".join(opened.payload_chunks()) == BODY  # decoded, as a browser sees it
    assert gzip.decompress(read_record(warc, coded.pointer).payload) == BODY  # as stored


def test_raw_member_is_the_stored_gzip_member(written):
    warc, plain, _, _ = written
    member = b"".join(WarcRecords(warc).raw_member(*dataclasses.astuple(plain.pointer)))
    with open(next(warc.iterdir()), "rb") as stream:
        stream.seek(plain.pointer.offset)
        assert member == stream.read(plain.pointer.length)
    assert b"WARC-Type: response" in gzip.decompress(member)


def test_what_is_not_there_is_record_not_found(written):
    warc, plain, _, text = written
    records = WarcRecords(warc)
    wrong = [
        dataclasses.replace(plain.pointer, record_id=text.pointer.record_id),  # another record
        dataclasses.replace(plain.pointer, offset=plain.pointer.offset + 5),  # not a boundary
        dataclasses.replace(plain.pointer, offset=-1),
        dataclasses.replace(plain.pointer, length=10**9),  # past the end
        dataclasses.replace(plain.pointer, file="NEWSARCHIVE-missing.warc.gz"),
    ]
    for pointer in wrong:
        with pytest.raises(RecordNotFound):
            records.open_pointer(pointer)
        with pytest.raises(LookupError):
            read_record(warc, pointer)
        assert read_text(warc, pointer) == ""
    (warc / "dir.warc.gz").mkdir()
    (warc.parent / "outside.warc.gz").write_bytes(b"x")
    names = ["../outside.warc.gz", "..", "/etc/passwd", "a/../../b.warc.gz", "x.txt",
             "dir.warc.gz", f"{plain.pointer.file}{OPEN_SUFFIX}", ""]
    for name in names:
        with pytest.raises(RecordNotFound):
            records.open_record(name, 0, 10)
        assert not records.has_file(name)
    assert records.has_file(plain.pointer.file)


def test_replay_store_raises_not_archived(written):
    warc, plain, _, _ = written
    with pytest.raises(NotArchived):
        WarcStore(warc).open_record("../x.warc.gz", 0, 10)
    with pytest.raises(NotArchived):
        next(WarcStore(warc).raw_member(plain.pointer.file, 3, 10))


def test_open_file_read_while_written_then_closed(tmp_path: Path):
    writer = WarcFileWriter(tmp_path / "warc", {"software": "test"})
    record = _response(writer, BODY)
    assert (tmp_path / "warc" / (record.pointer.file + OPEN_SUFFIX)).is_file()
    records = WarcRecords(tmp_path / "warc")
    assert records.has_file(record.pointer.file)
    assert read_record(tmp_path / "warc", record.pointer).payload == BODY  # the .open file
    writer.close()
    assert not (tmp_path / "warc" / (record.pointer.file + OPEN_SUFFIX)).exists()
    assert read_record(tmp_path / "warc", record.pointer).payload == BODY  # the closed file


def test_a_large_payload_is_streamed_in_bounded_memory(tmp_path: Path):
    size = 24 * 1024 * 1024
    body = os.urandom(size)
    digest = hashlib.sha256(body).hexdigest()
    writer = WarcFileWriter(tmp_path / "warc", {"software": "test"})
    http = f"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {size}\r\n\r\n"
    record = writer.write_record(writer.make_record(
        "response", URL, body, content_type="application/http; msgtype=response",
        http_head=http.encode("latin-1"),
    ))  # fmt: skip
    writer.close()
    del body
    records = WarcRecords(tmp_path / "warc")
    tracemalloc.start()
    try:
        streamed = hashlib.sha256()
        with records.open_pointer(record.pointer) as opened:
            for chunk in opened.payload_chunks():
                streamed.update(chunk)
        member = 0
        for chunk in records.raw_member(*dataclasses.astuple(record.pointer)):
            member += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert streamed.hexdigest() == digest
    assert member == record.pointer.length > size
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes while streaming a {size}-byte payload"
