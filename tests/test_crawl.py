"""End to end: a real crawl of the fixture site through the CLI, checked with real WARC readers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.demo.server import SiteServer
from tests.conftest import CrawlRun, run_newsarchive, write_seed_document


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """A trap for anything that tries to leave: every proxy variable points at this server."""
    with SiteServer(tmp_path_factory.mktemp("trap")) as trap:
        yield trap


@pytest.fixture(scope="module")
def crawl(site, outside, tmp_path_factory) -> CrawlRun:
    work = tmp_path_factory.mktemp("crawl")
    home = tmp_path_factory.mktemp("home")  # no caches from earlier runs (e.g. a suffix list)
    proxy_env = {
        name: outside.base_url
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
    }
    # the crawl honours them too (docs/proxies.md): the fixture site is the one exception
    proxy_env.update({name: "127.0.0.1" for name in ("no_proxy", "NO_PROXY")})
    seed_doc = write_seed_document(site, work)
    url_list = work / "urls.txt"
    url_list.write_text(
        "# extra seeds\n"
        f"{site.base_url}/2024/05/03/annual-report-a10009.pdf\n"
        f"{site.base_url}/r/old-url  # a moved article\n"
        "not a url at all\n"
        "ftp://example.org/file\n"
    )
    return run_newsarchive(
        "crawl", str(seed_doc), str(url_list), "-o", str(work / "out"),
        env={"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), **proxy_env},
    )


def records(path: Path):
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, check_digests=True):
            yield record, record.raw_stream.read()  # the payload as stored, still encoded


def all_records(run: CrawlRun) -> list:
    found = []
    for path in run.warc_files():
        for record, payload in records(path):
            found.append((path.name, record, payload))
    return found


def responses_by_path(run: CrawlRun) -> dict[str, list]:
    by_path: dict[str, list] = {}
    for _, record, payload in all_records(run):
        if record.rec_type == "response":
            parts = urlsplit(record.rec_headers.get_header("WARC-Target-URI"))
            key = parts.path + (f"?{parts.query}" if parts.query else "")
            by_path.setdefault(key, []).append((record, payload))
    return by_path


def test_run_succeeds_and_reports(crawl: CrawlRun, expected):
    assert crawl.returncode == 3, crawl.stderr  # two invalid lines in urls.txt: partial
    assert "newsarchive run" in crawl.stderr
    assert "4/4 archived, 2 invalid (not crawled)" in crawl.stderr
    assert expected["unmatched_title"] in crawl.stderr
    manifest = crawl.manifests()[0]
    assert manifest["stats"]["seeds_archived"] == manifest["stats"]["seeds_total"] == 4
    assert manifest["extraction_unavailable"] is None  # the warm-up passed
    assert manifest["stats"]["same_extraction_error"] is None
    assert any(f.startswith("warc/") for f in manifest["files"])
    assert manifest["versions"]["scrapy"]
    assert [t["title"] for t in manifest["stats"]["unmatched_related_titles"]] == [
        expected["unmatched_title"]
    ]


def test_nothing_leaves_the_machine(crawl: CrawlRun, outside):
    # Libraries that download on first use (suffix lists, models) would go through the proxy.
    assert outside.requests == []
    assert "Traceback" not in crawl.stderr


def test_bad_seed_lines_warn_with_file_and_line(crawl: CrawlRun):
    assert "urls.txt:5" in crawl.stderr
    assert "urls.txt:4" in crawl.stderr
    invalid = crawl.manifests()[0]["stats"]["seeds_invalid"]
    assert [line.split(": ", 1)[0].rsplit("/", 1)[1] for line in invalid] == [
        "urls.txt:4", "urls.txt:5"
    ]


def test_warc_digests_and_structure(crawl: CrawlRun):
    files = crawl.warc_files()
    assert files and not list((crawl.output / "warc").glob("*.open"))
    for path in files:
        types = [record.rec_type for record, _ in records(path)]  # check_digests raises on error
        assert types[0] == "warcinfo"
        for record, _ in records(path):
            assert record.rec_headers.protocol == "WARC/1.1"
            if record.rec_type in ("response", "request"):
                assert record.rec_headers.get_header("WARC-Block-Digest").startswith("sha1:")
                assert record.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
                assert record.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"


def test_second_reader_fastwarc_agrees(crawl: CrawlRun):
    from fastwarc.warc import ArchiveIterator as FastIterator
    from fastwarc.warc import WarcRecordType

    for path in crawl.warc_files():
        ours = [(r.rec_headers.get_header("WARC-Record-ID"), r.rec_type) for r, _ in records(path)]
        with open(path, "rb") as stream:  # block digests: FastWARC checks them unparsed
            fast = []
            for record in FastIterator(
                stream, record_types=WarcRecordType.any_type, parse_http=False
            ):
                assert record.verify_block_digest(), record.record_id
                fast.append((record.record_id, record.headers["WARC-Type"]))
        assert fast == ours
        with open(path, "rb") as stream:
            for record in FastIterator(stream, record_types=WarcRecordType.response):
                assert record.verify_payload_digest(), record.record_id


def test_payloads_equal_bytes_sent(crawl: CrawlRun, site):
    by_path = responses_by_path(crawl)
    assert by_path
    for path, captures in by_path.items():
        record, payload = captures[-1]
        assert payload == site.sent[path], path


def test_requests_pair_with_responses(crawl: CrawlRun):
    found = all_records(crawl)
    # a URL fetched twice (a redirect target also linked) is stored once, then as a revisit
    response_ids = {r.rec_headers.get_header("WARC-Record-ID") for _, r, _ in found
                    if r.rec_type in ("response", "revisit")}
    requests = [r for _, r, _ in found if r.rec_type == "request"]
    assert len(requests) == len(response_ids)
    for request in requests:
        assert request.rec_headers.get_header("WARC-Concurrent-To") in response_ids
        assert request.http_headers.get_header("Host", "").startswith("127.0.0.1:")
        assert "newsarchive" in request.http_headers.get_header("User-Agent")


def test_request_record_keeps_query(crawl: CrawlRun, site):
    # robots.txt is fetched without query; the request line of every record is what was sent
    sent_targets = {target for _, target, _ in site.requests}
    for _, record, _ in all_records(crawl):
        if record.rec_type == "request":
            assert record.http_headers.statusline.split(" ")[0] in sent_targets


def test_gzip_body_stays_compressed(crawl: CrawlRun, expected):
    record, payload = responses_by_path(crawl)[expected["gzip_path"]][0]
    assert record.http_headers.get_header("Content-Encoding") == "gzip"
    assert payload[:2] == b"\x1f\x8b"
    assert expected["body_sentences"][expected["gzip_path"]].encode() in gzip.decompress(payload)
    assert record.http_headers.get_header("Content-Length") == str(len(payload))


def test_chunked_body_stored_dechunked_with_honest_headers(crawl: CrawlRun, expected):
    record, payload = responses_by_path(crawl)[expected["chunked_path"]][0]
    assert record.http_headers.get_header("Transfer-Encoding") is None
    assert record.http_headers.get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert b"</html>" in payload


def test_repeated_headers_kept_in_order(crawl: CrawlRun, expected):
    record, _ = responses_by_path(crawl)[expected["cookie"]["path"]][0]
    cookies = [v for k, v in record.http_headers.headers if k.lower() == "set-cookie"]
    assert cookies == expected["cookie"]["set_cookie"]
    assert record.http_headers.protocol == "HTTP/1.1"
    assert record.http_headers.statusline == "200 OK"


def test_every_redirect_hop_archived(crawl: CrawlRun, expected):
    by_path = responses_by_path(crawl)
    for path, status, location in expected["redirect"]["hops"]:
        record, _ = by_path[path][0]
        assert record.http_headers.get_statuscode() == str(status)
        assert record.http_headers.get_header("Location").endswith(location.split("}")[-1])
    lines = {line["url"]: line for line in crawl.jsonl_lines()}
    start = next(u for u in lines if u.endswith(expected["redirect"]["start"]))
    assert lines[start]["final_url"].endswith(expected["redirect"]["final"])


def test_404_and_robots_archived(crawl: CrawlRun, expected):
    by_path = responses_by_path(crawl)
    record, _ = by_path[expected["not_found_path"]][0]
    assert record.http_headers.get_statuscode() == "404"
    assert "/robots.txt" in by_path
    line = next(x for x in crawl.jsonl_lines() if x["url"].endswith(expected["not_found_path"]))
    assert line["status"] == 404 and line["error"] and line["text"] == ""


def test_disallowed_and_out_of_scope_never_fetched(crawl: CrawlRun, site, expected):
    assert not any(path.startswith(expected["robots_disallow"]) for path in site.paths)
    urls = [line["url"] for line in crawl.jsonl_lines()]
    assert not any("other.example.org" in url for url in urls)
    for path in ("/tag/harbour/", "/author/jane-doe/", "/login", "/world/"):
        assert path not in site.paths


def test_wrapped_url_joined_and_fetched(crawl: CrawlRun, expected):
    lines = [x for x in crawl.jsonl_lines() if x["url"].endswith(expected["long_path"])]
    assert lines and lines[0]["via"] == "seed" and lines[0]["status"] == 200


def test_related_titles_followed(crawl: CrawlRun, expected):
    lines = {urlsplit(x["url"]).path: x for x in crawl.jsonl_lines()}
    for related in expected["related"]:
        line = lines[related["path"]]
        assert line["via"] == "related-title", related
        assert line["depth"] == 1
        assert line["referrer"].endswith(expected["seed_path"])
        assert line["seed"].endswith(expected["seed_path"])
    assert lines[expected["seed_links"]["article"]]["via"] == "related-link"


def test_text_is_clean_article_body(crawl: CrawlRun, expected):
    # by the URL fetched; else by where a redirect led: the seed /r/old-url leads to an article
    # a seed also links to, and whichever request comes first archives it (the other is a dupe)
    lines = {urlsplit(x["final_url"]).path: x for x in crawl.jsonl_lines() if x["final_url"]}
    lines.update({urlsplit(x["url"]).path: x for x in crawl.jsonl_lines()})
    for path, sentence in expected["body_sentences"].items():
        if path.startswith("/private/"):
            continue
        line = lines[path]
        assert sentence in line["text"], path
        for boilerplate in expected["boilerplate"]:
            assert boilerplate not in line["text"], (path, boilerplate)
        assert line["title"] == expected["articles"][path]["title"]
        assert line["text_digest"].startswith("sha1:")
        assert line["change"] == "new"


def test_cp1251_meta_charset_decoded(crawl: CrawlRun, expected):
    line = next(x for x in crawl.jsonl_lines() if x["url"].endswith(expected["cp1251"]["path"]))
    assert expected["cp1251"]["sentence"] in line["text"]
    assert line["language"] == "ru"


def test_pdf_archived_without_text(crawl: CrawlRun, expected):
    line = next(x for x in crawl.jsonl_lines() if x["url"].endswith(expected["pdf_path"]))
    assert line["status"] == 200 and line["text"] == ""
    assert "not HTML" in line["extraction_error"]
    assert line["warc"]["response"] is not None and line["warc"]["text"] is None


def test_jsonl_pointers_resolve(crawl: CrawlRun):
    for line in crawl.jsonl_lines():
        for kind, pointer in line["warc"].items():
            if pointer is None:
                continue
            path = crawl.output / "warc" / pointer["file"]
            with open(path, "rb") as stream:
                stream.seek(pointer["offset"])
                member = stream.read(pointer["length"])
            record = next(iter(ArchiveIterator(__import__("io").BytesIO(member))))
            assert record.rec_headers.get_header("WARC-Record-ID") == pointer["record_id"]
            if kind == "text":
                assert record.rec_type == "conversion"
                assert record.content_stream().read().decode("utf-8") == line["text"]
                assert record.rec_headers.get_header("WARC-Refers-To") == (
                    line["warc"]["response"]["record_id"]
                )
                assert record.rec_headers.get_header("WARC-Target-URI").startswith("urn:text:")
            else:
                assert record.rec_type in ("response", "revisit")
                assert record.rec_headers.get_header("WARC-Payload-Digest") == (
                    line["payload_digest"]
                )


def test_cdxj_index_points_at_records(crawl: CrawlRun):
    index = (crawl.output / "index" / "index.cdxj").read_text().splitlines()
    assert index == sorted(index) and index
    for entry in index:
        key, stamp, payload = entry.split(" ", 2)
        fields = json.loads(payload)
        with open(crawl.output / "warc" / fields["filename"], "rb") as stream:
            stream.seek(int(fields["offset"]))
            member = stream.read(int(fields["length"]))
        record = next(iter(ArchiveIterator(__import__("io").BytesIO(member))))
        assert record.rec_headers.get_header("WARC-Target-URI") == fields["url"]
        assert len(stamp) == 14


def test_cdxj_indexer_reads_archive(crawl: CrawlRun):
    import io

    from cdxj_indexer.main import CDXJIndexer

    out = io.StringIO()
    CDXJIndexer(output=out, inputs=[str(p) for p in crawl.warc_files()]).process_all()
    theirs = [line for line in out.getvalue().splitlines() if line and not line.startswith("!")]
    ours = (crawl.output / "index" / "index.cdxj").read_text().splitlines()
    their_responses = {json.loads(x.split(" ", 2)[2])["url"] for x in theirs
                       if '"warc/revisit"' not in x}
    our_urls = {json.loads(x.split(" ", 2)[2])["url"] for x in ours}
    assert their_responses <= our_urls | {u for u in their_responses if u.startswith("urn:")}


def test_rotation_and_no_usable_seed(site, tmp_path):
    seed_doc = write_seed_document(site, tmp_path)
    run = run_newsarchive(
        "crawl", str(seed_doc), "-o", str(tmp_path / "out"), "--warc-max-size", "10000",
        "--no-extract",
    )
    assert run.returncode == 0, run.stderr
    files = run.warc_files()
    assert len(files) >= 2
    for path in files:
        assert next(iter(records(path)))[0].rec_type == "warcinfo"
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing here\n")
    bad = run_newsarchive("crawl", str(empty), "-o", str(tmp_path / "out2"))
    assert bad.returncode == 1
    assert "no usable seed" in bad.stderr


def test_plain_scrapy_crawl_writes_same_layout(site, expected, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    url = site.base_url + expected["seed_path"]
    proc = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "articles", "-a", f"seeds={url}",
         "-s", f"NEWSARCHIVE_OUTPUT_DIR={tmp_path}", "-s", "NEWSARCHIVE_DEPTH=0",
         "-s", "LOG_LEVEL=WARNING"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    run = CrawlRun(proc.returncode, proc.stdout, proc.stderr, tmp_path)
    lines = run.jsonl_lines()
    assert [line["url"] for line in lines] == [url]
    assert expected["body_sentences"][expected["seed_path"]] in lines[0]["text"]
    assert (tmp_path / "index" / "index.cdxj").exists() and run.warc_files()
