"""`newsarchive reextract`: extraction again from the archived responses, with no network."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import brotli
import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.base.codings import decode_content
from newsarchive.demo.server import SiteServer
from tests.conftest import SITE, CrawlRun, run_newsarchive, write_seed_document


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[CrawlRun, CrawlRun]:
    """A crawl of the fixture site, then a re-extraction after the site went away."""
    work = tmp_path_factory.mktemp("reextract")
    with SiteServer(SITE) as server:
        seed = write_seed_document(server, work)
        crawl = run_newsarchive("crawl", str(seed), "-o", str(work / "out"))
    assert crawl.returncode in (0, 3), crawl.stderr
    again = run_newsarchive("reextract", "-o", str(work / "out"))
    return crawl, again


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]


def test_new_run_with_the_same_texts(archived: tuple[CrawlRun, CrawlRun]) -> None:
    crawl, again = archived
    assert again.returncode == 0, again.stderr
    [original_jsonl] = [p for p in (crawl.output / "articles").glob("*.jsonl")
                        if p.stem == crawl.manifests()[0]["run_id"]]  # fmt: skip
    new_jsonl = [p for p in (crawl.output / "articles").glob("*.jsonl") if p != original_jsonl]
    assert len(new_jsonl) == 1
    original = {line["url"]: line for line in lines_of(original_jsonl) if line["text"]}
    new = {line["url"]: line for line in lines_of(new_jsonl[0])}
    assert original and set(original) <= set(new)
    for url, line in original.items():
        redone = new[url]
        assert redone["run_id"] == new_jsonl[0].stem != line["run_id"]
        assert redone["text"] == line["text"]  # same version, same settings, same bytes
        assert redone["warc"]["response"] == line["warc"]["response"]
        assert redone["warc"]["text"] != line["warc"]["text"]
        assert redone["reextracted_from"]["run_id"] == line["run_id"]
        assert redone["word_count"] == len(redone["text"].split())


def test_conversion_records_refer_to_the_original_responses(
    archived: tuple[CrawlRun, CrawlRun],
) -> None:
    crawl, again = archived
    new_lines = [
        line for path in (crawl.output / "articles").glob("*.jsonl") for line in lines_of(path)
        if "reextracted_from" in line and line["text"]
    ]  # fmt: skip
    assert new_lines
    for line in new_lines:
        pointer = line["warc"]["text"]
        with open(crawl.output / "warc" / pointer["file"], "rb") as stream:
            stream.seek(pointer["offset"])
            record = next(iter(ArchiveIterator(stream)))
            assert record.rec_type == "conversion"
            assert record.rec_headers["WARC-Refers-To"] == line["warc"]["response"]["record_id"]
            assert record.content_stream().read().decode() == line["text"]


def test_archive_still_verifies(archived: tuple[CrawlRun, CrawlRun]) -> None:
    crawl, _ = archived
    manifests = [m for m in crawl.manifests() if m.get("kind") == "reextract"]
    assert len(manifests) == 1 and manifests[0]["stats"]["extracted"] > 0
    verified = run_newsarchive("verify", "-o", str(crawl.output))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_second_reextraction_does_not_repeat_the_first(
    archived: tuple[CrawlRun, CrawlRun],
) -> None:
    crawl, _ = archived
    before = {p.stem for p in (crawl.output / "articles").glob("*.jsonl")}
    again = run_newsarchive("reextract", "-o", str(crawl.output))
    assert again.returncode == 0, again.stderr
    [new] = [p for p in (crawl.output / "articles").glob("*.jsonl") if p.stem not in before]
    crawl_run = crawl.manifests()[0]["run_id"]
    assert {line["reextracted_from"]["run_id"] for line in lines_of(new)} == {crawl_run}


def test_unknown_run_is_an_error(tmp_path: Path) -> None:
    result = run_newsarchive("reextract", "-o", str(tmp_path), "--run", "20240101T000000Z-0000")
    assert result.returncode == 1
    assert "no JSONL of run 20240101T000000Z-0000" in result.stderr


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "gzip, br"])
def test_content_decoding(coding: str) -> None:
    body = "<p>Grüße</p>".encode() * 50
    encode = {"gzip": gzip.compress, "deflate": zlib.compress, "br": brotli.compress}
    payload = body
    for name in (c.strip() for c in coding.split(",")):
        payload = encode[name](payload)
    assert decode_content(payload, coding) == body


def test_resume_ignores_reextraction_manifests(tmp_path: Path) -> None:
    import json

    from newsarchive.schedule.runs import resumable_run
    from newsarchive.store.layout import Layout

    layout = Layout(tmp_path)
    layout.runs.mkdir(parents=True)
    killed = {"run_id": "20261127T100000Z-aaaa", "started": "2026-11-27T10:00:00Z",
              "finish_reason": "shutdown"}
    later = {"run_id": "20261127T110000Z-bbbb", "kind": "reextract",
             "started": "2026-11-27T11:00:00Z"}
    for manifest in (killed, later):
        (layout.runs / f"{manifest['run_id']}.json").write_text(json.dumps(manifest))
    (layout.state / "jobs" / killed["run_id"]).mkdir(parents=True)  # its job state is kept
    assert resumable_run(layout)["run_id"] == killed["run_id"]
