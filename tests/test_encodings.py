"""Every content coding a server may send replays, re-extracts and verifies.

A local server sends the same page and the same plain-text body under each coding (identity,
gzip, deflate with and without its zlib header, br, zstd, stacked ``gzip, br``); the CLI crawls
it, then the replay server answers each capture decoded, ``reextract`` extracts the same text as
the crawl did, and ``verify`` passes. Then the decoder itself, chunk by chunk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsarchive.base.codings import ContentDecoder, DecodingError, decode_content, encode_content
from newsarchive.demo.server import SiteServer
from tests.conftest import run_newsarchive
from tests.replay_support import get, replay_server

CODINGS = {  # page name -> the codings the server applies (deflate-raw is sent as "deflate")
    "identity": "identity",
    "gzip": "gzip",
    "deflate": "deflate",
    "deflate-raw": "deflate-raw",
    "br": "br",
    "zstd": "zstd",
    "gzip-br": "gzip, br",
}
WORDS = "harbour ferry quay tide berth dredging council mooring lighthouse breakwater".split()


def page(name: str) -> str:
    paragraphs = "".join(
        f"<p>Paragraph {n} of the {name} story: the {WORDS[n % 10]} report was read aloud to the "
        f"council, which noted the {WORDS[(n + 3) % 10]} figures for the year once more.</p>"
        for n in range(12)
    )
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Story sent as {name}"
        f"</title><link rel=stylesheet href=/enc/{name}.css></head><body><article>"
        f"<h1>Story sent as {name}</h1><p>Unique sentence: the {name} edition went to press."
        f"</p>{paragraphs}</article></body></html>"
    )


def text_body(name: str) -> bytes:
    """Big enough to take many chunks, decoded and coded (it compresses to a few percent)."""
    return "".join(f"{name} line {n}: {WORDS[n % 10] * 5}\n" for n in range(20000)).encode()


@dataclass
class Archive:
    base: str
    output: Path
    replay: str  # the replay origin: http://replay.localhost:PORT
    captures: dict[str, str]  # URL -> 14-digit timestamp


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    work = tmp_path_factory.mktemp("encodings")
    site = work / "site" / "enc"
    site.mkdir(parents=True)
    options = {}
    for name, coding in CODINGS.items():
        (site / f"{name}.html").write_text(page(name), "utf-8")
        (site / f"{name}.txt").write_bytes(text_body(name))
        (site / f"{name}.css").write_text(f"body {{ background: url(/enc/{name}.png) }}\n")
        for suffix in ("html", "txt", "css"):
            options[f"/enc/{name}.{suffix}"] = {"encoding": coding}
    (site / "broken.html").write_text(page("broken"), "utf-8")
    options["/enc/broken.html"] = {"headers": [["Content-Encoding", "br"]]}  # not br at all
    (work / "site" / "_site.json").write_text(json.dumps(options))
    output = work / "out"
    with SiteServer(work / "site") as server:
        urls = [f"{server.base_url}/enc/{name}.{suffix}"
                for name in CODINGS for suffix in ("html", "txt")]
        urls.append(f"{server.base_url}/enc/broken.html")
        crawl = run_newsarchive("crawl", *urls, "-o", str(output), "--depth", "0")
        base = server.base_url
    assert crawl.returncode in (0, 3), crawl.stderr
    captures = {}
    for line in (output / "index" / "index.cdxj").read_text().splitlines():
        fields = json.loads(line.split(" ", 2)[2])
        captures[fields["url"]] = line.split(" ")[1]
    with replay_server(output, work / "cache") as server:
        yield Archive(base, output, server.replay, captures)


def fetch(archive: Archive, url: str) -> tuple[int, dict[str, str], bytes]:
    answer = get(
        f"{archive.replay}/web/{archive.captures[url]}if_/{url}",
        headers={"Accept-Encoding": "identity"},
    )
    return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.body


@pytest.mark.parametrize("name", CODINGS)
def test_each_coding_is_archived_as_sent(archive: Archive, name: str) -> None:
    for suffix in ("html", "txt", "css"):
        assert f"{archive.base}/enc/{name}.{suffix}" in archive.captures


@pytest.mark.parametrize("name", CODINGS)
def test_replay_serves_the_decoded_body(archive: Archive, name: str) -> None:
    status, headers, body = fetch(archive, f"{archive.base}/enc/{name}.txt")
    assert status == 200
    assert "content-encoding" not in headers
    assert headers["content-type"].startswith("text/plain")
    assert body == text_body(name)

    status, headers, body = fetch(archive, f"{archive.base}/enc/{name}.html")
    assert status == 200, body[:300]
    assert "content-encoding" not in headers
    html = body.decode("utf-8")
    assert f"Unique sentence: the {name} edition went to press." in html
    assert f"if_/{archive.base}/enc/{name}.css" in html  # rewritten: it was decoded first

    status, headers, body = fetch(archive, f"{archive.base}/enc/{name}.css")
    assert status == 200 and "content-encoding" not in headers
    assert body.startswith(b"body { background: url(/web/")  # decoded, then rewritten


def test_replay_of_a_body_that_does_not_decode_does_not_fail(archive: Archive) -> None:
    status, headers, body = fetch(archive, f"{archive.base}/enc/broken.html")
    assert status == 200 and "content-encoding" not in headers
    assert body == b""  # nothing of it decodes: an empty page, as a browser would show


def test_reextract_extracts_what_the_crawl_did(archive: Archive) -> None:
    crawled = {
        line["url"]: line["text"]
        for path in (archive.output / "articles").glob("*.jsonl")
        for line in map(json.loads, path.read_text().splitlines())
    }
    run = run_newsarchive("reextract", "-o", str(archive.output))
    assert run.returncode == 0, run.stderr
    manifests = [json.loads(p.read_text()) for p in (archive.output / "runs").glob("*.json")]
    [again] = [m["run_id"] for m in manifests if m.get("kind") == "reextract"]
    redone = {
        line["url"]: line
        for line in map(json.loads, (archive.output / "articles" / f"{again}.jsonl").open())
    }
    for name in CODINGS:
        url = f"{archive.base}/enc/{name}.html"
        assert f"the {name} edition went to press" in crawled[url]
        assert redone[url]["text"] == crawled[url], name
    broken = redone.get(f"{archive.base}/enc/broken.html")
    assert broken is None or "br" in (broken["extraction_error"] or "")
    verify = run_newsarchive("verify", "-o", str(archive.output))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_verify_decodes_each_payload(archive: Archive) -> None:
    run = run_newsarchive("verify", "-o", str(archive.output))
    assert run.returncode == 0, run.stdout + run.stderr
    notes = [line for line in run.stderr.splitlines() if "does not decode" in line]
    assert len(notes) == 1, run.stderr
    assert f"response for {archive.base}/enc/broken.html: payload does not decode" in notes[0]
    assert "(br: " in notes[0]


# -- the decoder ---------------------------------------------------------------------------------
BODY = b"".join(b"%d: <p>Gr\xc3\xbc\xc3\x9fe aus dem Hafen</p>\n" % n for n in range(30000))


@pytest.mark.parametrize("coding", [*CODINGS.values(), "br, zstd, gzip", "deflate, gzip"])
@pytest.mark.parametrize("piece", [1, 1000, 1 << 30])
def test_decoder_streams_in_bounded_chunks(coding: str, piece: int) -> None:
    coded = encode_content(BODY, coding)
    if piece == 1:  # byte by byte is slow: a prefix, as a truncated capture
        coded = coded[: min(4000, len(coded) // 2)]
    decoder = ContentDecoder(coding.replace("deflate-raw", "deflate"), chunk_size=4096)
    out = list(decoder.stream(coded[i : i + piece] for i in range(0, len(coded), piece)))
    joined = b"".join(out)
    if piece == 1:
        assert BODY.startswith(joined)
        assert "," in coding or len(joined) >= min(len(coded), 1000)  # stacked: may be less
        assert coding == "identity" or not decoder.complete
        return
    assert joined == BODY and decoder.complete
    if coding != "identity":
        assert max(map(len, out)) <= 64 * 1024  # brotli's output buffer starts at 32 KiB


def test_decoder_keeps_what_it_does_not_know() -> None:
    coded = encode_content(b"abc", "gzip")
    decoder = ContentDecoder("compress, gzip")
    assert decoder.remaining == ["compress"] and decoder.undone == ["gzip"]
    assert b"".join(decoder.stream([coded])) == b"abc"
    assert decode_content(b"abc", "x-unknown") == b"abc"
    assert decode_content(b"abc", "identity") == b"abc"
    assert decode_content(coded + encode_content(b"def", "gzip"), "gzip") == b"abcdef"
    assert decode_content(encode_content(b"abc", "zstd") * 2, "zstd") == b"abcabc"
    assert decode_content(encode_content(BODY, "br"), "br", limit=10) == BODY[:10]


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_decoder_names_a_body_that_is_not_of_its_coding(coding: str) -> None:
    with pytest.raises(DecodingError, match=coding):
        decode_content(b"certainly not compressed data", coding)
