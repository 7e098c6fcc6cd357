"""Scheduled runs: three consecutive crawls of a fixture site that changes between runs.

The site is a copy of tests/site served by the real fixture server; between runs the test edits
one article's body, rotates an ad/CSRF token/timestamp in another, lets a third answer 304 to
its ETag and adds a new article to the feed and the sitemap. Seeds are the feed, and robots.txt
(whose Sitemap: line leads to the sitemap), so discovery by content is exercised too.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.capture.warc_writer import IDENTICAL_PAYLOAD_DIGEST, SERVER_NOT_MODIFIED
from newsarchive.demo.server import SiteServer
from tests.conftest import (
    NEWSARCHIVE,
    ROOT,
    SITE,
    CrawlRun,
    run_newsarchive,
    write_seed_document,
)

EDITED = "/2024/05/01/harbour-expansion-approved-a10001.html"
ROTATING = "/2024/04/28/port-authority-budget-a10005.html"
ETAGGED = "/2024/05/02/harbour-master-retires-a10006.html"
ADDED = "/2024/05/06/lighthouse-museum-opens-a10011.html"
STATIC = "/2024/05/02/dredging-contract-awarded-a10002.html"  # never changes, no validators

EDIT_OLD = "The harbour commission voted seven to two in favour"
EDIT_NEW = "The harbour commission voted seven to three in favour"
ADDED_PARAGRAPH = (
    "Correction: an earlier version of this article misstated the length of the debate."
)


class ChangingSite:
    """A copy of tests/site whose files the test edits between runs."""

    def __init__(self, root: Path):
        shutil.copytree(SITE, root)
        self.root = root
        self.rotating_template = (root / ROTATING.lstrip("/")).read_text()
        options = json.loads((root / "_site.json").read_text())
        options[ETAGGED] = {"etag": '"c-v1"'}
        (root / "_site.json").write_text(json.dumps(options, indent=2))
        self.rotate()

    def path(self, url_path: str) -> Path:
        return self.root / url_path.lstrip("/")

    def rotate(self) -> None:
        """New ad, CSRF token and generation time: a new payload, the same article text."""
        token = secrets.token_hex(8)
        html = self.rotating_template.replace(
            "</article>",
            f'<div class="ad-slot"><p>Advertisement: Ferry Co summer offer, code {token}, '
            "book now and save on island trips.</p></div></article>",
        ).replace(
            '<footer class="site-footer">',
            '<footer class="site-footer"><form action="/subscribe" method="post">'
            f'<input type="hidden" name="csrf_token" value="{token}"><button>Subscribe</button>'
            f'</form><p class="generated">Page generated {datetime.now(UTC).isoformat()}</p>',
        )
        self.path(ROTATING).write_text(html)

    def edit_article(self) -> None:
        page = self.path(EDITED)
        html = page.read_text()
        assert EDIT_OLD in html
        html = html.replace(EDIT_OLD, EDIT_NEW).replace(
            "</div>\n  </article>", f"  <p>{ADDED_PARAGRAPH}</p>\n    </div>\n  </article>", 1
        )
        page.write_text(html)

    def add_article(self, lastmod: str) -> None:
        template = self.path(STATIC).read_text()
        page = self.path(ADDED)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            template.replace("Dredging contract awarded to Nordic consortium",
                             "Lighthouse museum opens its doors")
            .replace("dredging-contract-awarded-a10002", "lighthouse-museum-opens-a10011")
            .replace("Nordvik", "Lighthouse keepers")
        )
        feed = self.path("/feed.xml")
        item = (
            "<item><title>Lighthouse museum opens its doors</title>"
            f"<link>{{base}}{ADDED}</link><guid>{{base}}{ADDED}</guid>"
            "<pubDate>Mon, 06 May 2024 09:00:00 GMT</pubDate></item>\n</channel>"
        )
        feed.write_text(feed.read_text().replace("</channel>", item))
        self.bump_sitemap(ADDED, lastmod, add=True)

    def bump_sitemap(self, url_path: str, lastmod: str, add: bool = False) -> None:
        sitemap = self.path("/sitemap.xml")
        text = sitemap.read_text()
        entry = f"<url><loc>{{base}}{url_path}</loc><lastmod>{lastmod}</lastmod></url>"
        if add:
            text = text.replace("</urlset>", f"  {entry}\n</urlset>")
        else:
            start = text.index(f"<url><loc>{{base}}{url_path}</loc>")
            end = text.index("</url>", start) + len("</url>")
            text = text[:start] + entry + text[end:]
        sitemap.write_text(text)


def crawl(server: SiteServer, output: Path, *extra: str) -> CrawlRun:
    return run_newsarchive(
        "crawl", f"{server.base_url}/feed.xml", f"{server.base_url}/robots.txt",
        "-o", str(output), *extra,
    )


@pytest.fixture(scope="module")
def changing(tmp_path_factory):
    work = tmp_path_factory.mktemp("scheduled")
    site = ChangingSite(work / "site")
    output = work / "out"
    runs: list[CrawlRun] = []
    with SiteServer(site.root) as server:
        runs.append(crawl(server, output, "--revisit-after", "0"))
        site.edit_article()
        site.rotate()
        site.add_article(lastmod="2024-05-06")
        runs.append(crawl(server, output, "--revisit-after", "0"))
        site.rotate()
        runs.append(crawl(server, output, "--revisit-after", "0"))
        # A fourth run with the default policy (6h): only what the sitemap says was modified
        # after its last capture is fetched again, besides the seeds themselves. The lastmod has
        # whole seconds: wait past the second of the last capture so it is strictly newer.
        time.sleep(1.1)
        site.bump_sitemap(EDITED, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"))
        server.clear()
        runs.append(crawl(server, output))
        fourth_paths = list(server.paths)
    return {"runs": runs, "output": output, "fourth_paths": fourth_paths, "site": site}


def run_lines(output: Path) -> list[list[dict]]:
    """JSONL lines of each run, in run order."""
    manifests = sorted(
        (json.loads(p.read_text()) for p in (output / "runs").glob("*.json")),
        key=lambda m: m["started"],
    )
    paths = [output / "articles" / f"{m['run_id']}.jsonl" for m in manifests]
    return [[json.loads(x) for x in path.read_text().splitlines()] for path in paths]


def by_path(lines: list[dict]) -> dict[str, dict]:
    return {urlsplit(line["url"]).path: line for line in lines}


def warc_records(output: Path) -> list[tuple[str, object, bytes]]:
    found = []
    for path in sorted((output / "warc").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, check_digests=True):
                found.append((path.name, record, record.raw_stream.read()))
    return found


def read_pointer(output: Path, pointer: dict):
    with open(output / "warc" / pointer["file"], "rb") as stream:
        stream.seek(pointer["offset"])
        member = stream.read(pointer["length"])
    return next(iter(ArchiveIterator(io.BytesIO(member))))


def test_runs_succeed(changing):
    for run in changing["runs"]:
        assert run.returncode == 0, run.stderr
        assert "newsarchive run" in run.stderr
    assert len(run_lines(changing["output"])) == 4


def test_feed_and_sitemap_entries_discovered(changing):
    first = by_path(run_lines(changing["output"])[0])
    assert first[EDITED]["via"] in ("feed", "sitemap")
    assert first["/2024/04/29/ferry-operators-welcome-new-berths-a10003.html"]["via"] == "sitemap"
    assert first["/2024/05/02/dredging-contract-awarded-a10002.html"]["depth"] >= 1
    assert first["/feed.xml"]["via"] == "seed" and first["/robots.txt"]["via"] == "seed"
    assert ADDED not in first
    second = by_path(run_lines(changing["output"])[1])
    assert second[ADDED]["change"] == "new" and second[ADDED]["previous"] is None
    assert second[ADDED]["via"] in ("feed", "sitemap")


def test_change_marks_over_three_runs(changing):
    first, second, third = (by_path(lines) for lines in run_lines(changing["output"])[:3])
    assert {line["change"] for line in first.values()} == {"new"}
    assert second[EDITED]["change"] == "changed"
    assert second[ROTATING]["change"] == "unchanged"
    assert second[ETAGGED]["change"] == "unchanged"
    assert second[STATIC]["change"] == "unchanged"
    assert second["/feed.xml"]["change"] == "changed"  # it lists the new article
    for path in (EDITED, ROTATING, ETAGGED, STATIC, ADDED, "/feed.xml"):
        assert third[path]["change"] == "unchanged", path
    assert EDIT_NEW in second[EDITED]["text"] and EDIT_OLD not in second[EDITED]["text"]


def test_diff_counts_for_edited_article(changing):
    second = by_path(run_lines(changing["output"])[1])
    assert second[EDITED]["diff"] == {"added": 2, "removed": 1}
    edited_url = second[EDITED]["url"]
    assert f"edited:     {edited_url} (+2 -1 lines)" in changing["runs"][1].stderr
    manifest = sorted(changing["runs"][1].manifests(), key=lambda m: m["started"])[1]
    assert manifest["stats"]["edited"] == [{"url": edited_url, "added": 2, "removed": 1}]
    assert manifest["stats"]["changes"]["changed"] >= 1
    for path, line in second.items():
        assert ("diff" in line) == (line["change"] == "changed" and bool(line["text"])), path


def test_previous_points_at_last_capture(changing):
    output = changing["output"]
    first, second, third = (by_path(lines) for lines in run_lines(output)[:3])
    previous = second[EDITED]["previous"]
    assert previous["run_id"] == first[EDITED]["run_id"]
    assert previous["fetched_at"] == first[EDITED]["fetched_at"]
    pointer_keys = ("file", "offset", "length", "record_id")
    assert {key: previous[key] for key in pointer_keys} == first[EDITED]["warc"]["response"]
    assert previous["text"] == first[EDITED]["warc"]["text"]
    assert previous["text_digest"] == first[EDITED]["text_digest"]
    assert third[EDITED]["previous"]["record_id"] == second[EDITED]["warc"]["response"]["record_id"]
    assert read_pointer(output, previous).rec_headers.get_header("WARC-Type") == "response"
    text = read_pointer(output, previous["text"]).content_stream().read().decode()
    assert EDIT_OLD in text
    # an unchanged article points at the text already stored instead of storing it again
    assert third[STATIC]["warc"]["text"] == first[STATIC]["warc"]["text"]


def test_revisit_records_of_both_profiles_resolve(changing):
    records = warc_records(changing["output"])
    responses = {
        r.rec_headers.get_header("WARC-Record-ID"): r
        for _, r, _ in records
        if r.rec_type == "response"
    }
    revisits = [r for _, r, _ in records if r.rec_type == "revisit"]
    profiles = {r.rec_headers.get_header("WARC-Profile") for r in revisits}
    assert profiles == {IDENTICAL_PAYLOAD_DIGEST, SERVER_NOT_MODIFIED}
    for revisit in revisits:
        headers = revisit.rec_headers
        original = responses[headers.get_header("WARC-Refers-To")]
        assert headers.get_header("WARC-Refers-To-Target-URI") == original.rec_headers.get_header(
            "WARC-Target-URI"
        )
        assert headers.get_header("WARC-Refers-To-Date") == original.rec_headers.get_header(
            "WARC-Date"
        )
        assert headers.get_header("WARC-Payload-Digest") == original.rec_headers.get_header(
            "WARC-Payload-Digest"
        )
    not_modified = [
        r for r in revisits if r.rec_headers.get_header("WARC-Profile") == SERVER_NOT_MODIFIED
    ]
    assert all(r.http_headers.get_statuscode() == "304" for r in not_modified)
    assert {r.rec_headers.get_header("WARC-Target-URI").split("/", 3)[3] for r in not_modified} == {
        ETAGGED.lstrip("/")
    }


def test_conditional_request_sent_and_recorded(changing):
    records = warc_records(changing["output"])
    requests = [
        r for _, r, _ in records
        if r.rec_type == "request" and r.rec_headers.get_header("WARC-Target-URI").endswith(ETAGGED)
    ]
    assert requests[0].http_headers.get_header("If-None-Match") is None
    assert all(r.http_headers.get_header("If-None-Match") == '"c-v1"' for r in requests[1:])


def test_no_payload_stored_twice_across_runs(changing):
    runs_of_payload: dict[tuple[str, str], set[str]] = {}
    run_of_file = {}
    for manifest in (json.loads(p.read_text()) for p in (changing["output"] / "runs").glob("*")):
        for name in manifest["files"]:
            run_of_file[Path(name).name] = manifest["run_id"]
    for name, record, _ in warc_records(changing["output"]):
        if record.rec_type == "response":
            key = (
                record.rec_headers.get_header("WARC-Target-URI"),
                record.rec_headers.get_header("WARC-Payload-Digest"),
            )
            runs_of_payload.setdefault(key, set()).add(run_of_file[name])
    duplicated = {key: runs for key, runs in runs_of_payload.items() if len(runs) > 1}
    assert not duplicated


def test_index_covers_revisits_but_not_304s(changing):
    index = (changing["output"] / "index" / "index.cdxj").read_text().splitlines()
    assert index == sorted(index)
    revisit_lines = [json.loads(x.split(" ", 2)[2]) for x in index if '"warc/revisit"' in x]
    assert revisit_lines
    for fields in revisit_lines:
        record = read_pointer(
            changing["output"],
            {"file": fields["filename"], "offset": int(fields["offset"]),
             "length": int(fields["length"])},
        )
        assert record.rec_headers.get_header("WARC-Profile") == IDENTICAL_PAYLOAD_DIGEST
    assert not list((changing["output"] / "index").glob(".pending-*"))


def test_revisit_policy_skips_known_articles_not_due(changing):
    fourth = by_path(run_lines(changing["output"])[3])
    paths = changing["fourth_paths"]
    assert "/feed.xml" in paths and "/sitemap.xml" in paths  # seeds and their sitemaps: always
    assert EDITED in paths  # the sitemap's lastmod is newer than its last capture
    for skipped in (STATIC, ROTATING, ETAGGED, ADDED):
        assert skipped not in paths, skipped
    assert set(fourth) == {"/feed.xml", "/robots.txt", EDITED}
    assert fourth[EDITED]["change"] == "unchanged"
    manifest = max(
        (json.loads(p.read_text()) for p in (changing["output"] / "runs").glob("*.json")),
        key=lambda m: m["started"],
    )
    assert manifest["stats"]["not_due"] >= 8
    assert "known articles not due" in changing["runs"][3].stderr


def test_archive_of_four_runs_verifies(changing):
    verify = run_newsarchive("verify", "-o", str(changing["output"]))
    assert verify.returncode == 0, verify.stdout + verify.stderr


# -- safety of recurring runs: SIGKILL and resume, two runs at once ----------------------------

SLOW = ("--concurrency", "1", "-s", "DOWNLOAD_DELAY=0.4", "-s", "AUTOTHROTTLE_ENABLED=False")


def start_crawl(seed: Path, output: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*NEWSARCHIVE, "crawl", str(seed), "-o", str(output), *SLOW, *extra],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def jsonl_count(output: Path) -> int:
    return sum(
        path.read_text().count("\n") for path in (output / "articles").glob("*.jsonl")
    ) if (output / "articles").is_dir() else 0


@pytest.fixture(scope="module", params=[signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def killed_and_resumed(request, site, tmp_path_factory):
    """A run killed outright (SIGKILL) or stopped gracefully (SIGTERM, as systemd stops a
    unit) mid-crawl, then continued with crawl --resume."""
    work = tmp_path_factory.mktemp("killed")
    seed = write_seed_document(site, work)
    reference = run_newsarchive("crawl", str(seed), "-o", str(work / "reference"))
    output = work / "out"
    victim = start_crawl(seed, output)
    wait_for(lambda: jsonl_count(output) >= 4)
    victim.send_signal(request.param)
    victim.wait(timeout=60)
    open_files = sorted(p.name for p in (output / "warc").glob("*.open"))
    saved_queues = list((output / "state" / "jobs").glob("*/requests.queue/active.json"))
    archived_before = {
        urlsplit(json.loads(line)["url"]).path
        for path in (output / "articles").glob("*.jsonl")
        for line in path.read_text().splitlines()
        if line.endswith("}")
    }
    site.clear()
    resumed = run_newsarchive("crawl", "--resume", "-o", str(output))
    return {
        "reference": reference,
        "output": output,
        "open_files": open_files,
        "archived_before": archived_before,
        "resumed": resumed,
        "requests_after": list(site.paths),
        "victim_rc": victim.returncode,
        "signal": request.param,
        "saved_queues": saved_queues,
    }


def test_interrupted_run_left_what_its_signal_allows(killed_and_resumed):
    if killed_and_resumed["signal"] == signal.SIGKILL:
        assert killed_and_resumed["victim_rc"] == -signal.SIGKILL
        assert killed_and_resumed["open_files"]  # recovered by the resumed run
        assert not killed_and_resumed["saved_queues"]  # Scrapy never closed its queue
    else:
        assert killed_and_resumed["victim_rc"] == 4  # a graceful stop: EXIT_INTERRUPTED
        assert not killed_and_resumed["open_files"]
        assert killed_and_resumed["saved_queues"]  # Scrapy's JOBDIR queue, for --resume


def test_resume_completes_the_killed_run(killed_and_resumed):
    resumed = killed_and_resumed["resumed"]
    assert resumed.returncode == 0, resumed.stderr
    output = killed_and_resumed["output"]
    assert not list((output / "warc").glob("*.open"))
    manifests = resumed.manifests()
    assert len(manifests) == 1  # the same run, continued
    manifest = manifests[0]
    assert manifest["finish_reason"] == "finished" and len(manifest["resumed_at"]) == 1
    if killed_and_resumed["signal"] == signal.SIGKILL:  # the .open file, closed at the start
        assert any(".open: closed as" in x for x in manifest["stats"]["recovered_at_start"])
        assert "recovered:" in resumed.stderr
    names = {Path(name).name for name in manifest["files"] if name.startswith("warc/")}
    assert names == {path.name for path in resumed.warc_files()}
    urls = [line["url"] for line in resumed.jsonl_lines()]
    assert len(urls) == len(set(urls))
    assert set(urls) == {line["url"] for line in killed_and_resumed["reference"].jsonl_lines()}
    assert not (output / "state" / "jobs" / manifest["run_id"]).exists()


def test_resume_does_not_refetch_what_was_archived(killed_and_resumed):
    again = set(killed_and_resumed["requests_after"]) & killed_and_resumed["archived_before"]
    assert killed_and_resumed["archived_before"]
    assert not again
    assert killed_and_resumed["requests_after"]  # it did fetch what the killed run had not
    assert not any(p.startswith("/private/") for p in killed_and_resumed["requests_after"])


def test_resumed_archive_verifies(killed_and_resumed):
    verify = run_newsarchive("verify", "-o", str(killed_and_resumed["output"]))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_bad_revisit_after_is_a_usage_error(tmp_path):
    bad = run_newsarchive(
        "crawl", "http://127.0.0.1:9/", "-o", str(tmp_path), "--revisit-after", "soon"
    )
    assert bad.returncode == 2
    assert "--revisit-after" in bad.stderr


def test_resume_without_interrupted_run_is_refused(tmp_path):
    refused = run_newsarchive("crawl", "--resume", "-o", str(tmp_path / "nothing"))
    assert refused.returncode == 1
    assert "no interrupted run" in refused.stderr


def test_second_concurrent_run_is_refused_or_waits(site, tmp_path):
    seed = write_seed_document(site, tmp_path)
    output = tmp_path / "out"
    first = start_crawl(seed, output)
    try:
        wait_for(lambda: list((output / "runs").glob("*.json")) if (output / "runs").is_dir()
                 else False)
        started = time.monotonic()
        second = run_newsarchive("crawl", str(seed), "-o", str(output))
        assert first.poll() is None, "the first run ended before the second started"
        assert second.returncode == 1
        assert "another newsarchive run is writing" in second.stderr
        assert "--wait-lock" in second.stderr
        assert time.monotonic() - started < 20
        assert len(list((output / "runs").glob("*.json"))) == 1  # the refused run wrote nothing
        holder = json.loads(next(iter((output / "runs").glob("*.json"))).read_text())["run_id"]
        waiting = run_newsarchive("crawl", str(seed), "-o", str(output), "--wait-lock")
        assert first.wait(timeout=5) == 0
        assert waiting.stderr.count("waiting for run") == 1
        assert f"waiting for run {holder}, pid {first.pid}, since " in waiting.stderr
        assert f"to finish with {output}..." in waiting.stderr
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert waiting.returncode == 0, waiting.stderr
    manifests = sorted(waiting.manifests(), key=lambda m: m["started"])
    assert len(manifests) == 2
    assert manifests[1]["started"] >= manifests[0]["finished"]


# -- what recurring runs cost on disk ----------------------------------------------------------


@pytest.fixture(scope="module")
def unchanged_site_runs(site, tmp_path_factory):
    """Three runs over the unchanged fixture site (every article fetched again each time)."""
    work = tmp_path_factory.mktemp("unchanged")
    seed = write_seed_document(site, work)
    output = work / "out"
    sizes = []
    for _ in range(3):
        before = {p: p.stat().st_size for p in (output / "warc").glob("*.warc.gz")} if sizes else {}
        run = run_newsarchive(
            "crawl", str(seed), f"{site.base_url}/feed.xml", "-o", str(output),
            "--revisit-after", "0",
        )
        assert run.returncode == 0, run.stderr
        after = {p: p.stat().st_size for p in (output / "warc").glob("*.warc.gz")}
        sizes.append(sum(size for path, size in after.items() if path not in before))
    manifests = sorted(run.manifests(), key=lambda m: m["started"])
    return {"sizes": sizes, "manifests": manifests, "output": output}


def test_unchanged_site_costs_little_after_the_first_run(unchanged_site_runs):
    sizes = unchanged_site_runs["sizes"]
    manifests = unchanged_site_runs["manifests"]
    full_copies = 3 * sizes[0]
    stored = sum(sizes)
    print(
        f"\nWARC bytes for three runs of an unchanged site: {sizes} = {stored:,} "
        f"vs {full_copies:,} for three full copies ({stored / full_copies:.0%})"
    )
    assert [m["stats"]["bytes_stored"] for m in manifests[1:]] == [0, 0]
    assert all(m["stats"]["changes"].get("unchanged") for m in manifests[1:])
    assert not any(m["stats"]["changes"].get("changed") for m in manifests[1:])
    assert sizes[1] < 0.4 * sizes[0] and sizes[2] < 0.4 * sizes[0]


def test_feed_and_sitemap_files_as_seeds(site, tmp_path):
    """Local feed, gzipped sitemap and robots.txt files, recognised by content (odd names)."""
    feed = tmp_path / "latest.dat"
    feed.write_text((SITE / "feed.xml").read_text().replace("{base}", site.base_url))
    sitemap = tmp_path / "entries.bin"
    sitemap.write_bytes(
        gzip.compress((SITE / "sitemap.xml").read_text().replace("{base}", site.base_url).encode())
    )
    robots = tmp_path / "robots"
    robots.write_text(f"User-agent: *\nSitemap: {site.base_url}/sitemap.xml\n")
    output = tmp_path / "out"
    first = run_newsarchive("crawl", str(feed), str(sitemap), str(robots), "-o", str(output))
    assert first.returncode == 0, first.stderr
    lines = first.jsonl_lines()
    vias = {urlsplit(x["url"]).path: x["via"] for x in lines}
    assert vias[EDITED] in ("feed", "sitemap")
    assert vias["/2024/04/29/ferry-operators-welcome-new-berths-a10003.html"] == "sitemap"
    assert vias["/sitemap.xml"] == "seed"  # from the robots.txt file
    assert all(x["change"] == "new" for x in lines)
    second = run_newsarchive("crawl", str(feed), str(sitemap), str(robots), "-o", str(output))
    assert second.returncode == 0, second.stderr
    latest = max(second.manifests(), key=lambda m: m["started"])
    assert latest["stats"]["not_due"] >= 8
    assert latest["stats"]["seeds_archived"] == latest["stats"]["seeds_total"]
    again = [x for x in second.jsonl_lines() if x["run_id"] == latest["run_id"]]
    assert [urlsplit(x["url"]).path for x in again] == ["/sitemap.xml"]


def test_revisits_replay_as_their_original_pages(changing):
    """The replay app resolves each indexed revisit to the response holding its payload, and a
    page last answered with 304 still replays (the earlier response, never an empty 304)."""
    lookup = pytest.importorskip("newsarchive.replay.lookup")
    archive = lookup.ArchiveReader(changing["output"])
    site = changing["site"]
    resolved_revisits = 0
    for path in (STATIC, EDITED, ETAGGED, ROTATING):
        url = next(
            x["url"] for x in run_lines(changing["output"])[0] if x["url"].endswith(path)
        )
        for capture in archive.captures(url):
            resolved = archive.resolve(capture)
            try:
                assert resolved.body.rec_type == "response"
                assert resolved.body.status == 200
                if capture.is_revisit:
                    resolved_revisits += 1
                    assert resolved.body.header("WARC-Payload-Digest") == capture.digest
                if path == STATIC:
                    assert resolved.body.payload() == site.path(STATIC).read_bytes().replace(
                        b"{base}", url.split("/2024/")[0].encode()
                    )
            finally:
                resolved.close()
    assert resolved_revisits >= 2
    etag_captures = archive.captures(
        next(x["url"] for x in run_lines(changing["output"])[0] if x["url"].endswith(ETAGGED))
    )
    assert [c.is_revisit for c in etag_captures] == [False]  # 304s are not replay captures


def test_robots_obeyed_by_seeds_waiting_for_it_together(site, tmp_path):
    """Several seeds on one host wait for its robots.txt at once: each must obey it."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(
        f"{site.base_url}/2024/05/01/harbour-expansion-approved-a10001.html\n"
        f"{site.base_url}/2024/04/28/port-authority-budget-a10005.html\n"
        f"{site.base_url}/private/2024/05/01/internal-briefing-a10010.html\n"
        f"{site.base_url}/2024/05/02/dredging-contract-awarded-a10002.html\n"
    )
    site.clear()
    run = run_newsarchive("crawl", str(seeds), "-o", str(tmp_path / "out"), "--depth", "0")
    assert run.returncode == 3, run.stderr  # the disallowed seed could not be archived
    assert not any(path.startswith("/private/") for path in site.paths)
    line = next(x for x in run.jsonl_lines() if "/private/" in x["url"])
    assert line["error"] == "forbidden by robots.txt"


def test_no_revisit_refers_to_a_removed_warc_file(site, tmp_path):
    """Old WARC files removed (a retention policy): the next capture is stored in full."""
    url = f"{site.base_url}{STATIC}"
    output = tmp_path / "out"
    first = run_newsarchive("crawl", url, "-o", str(output), "--depth", "0")
    assert first.returncode == 0, first.stderr
    for path in first.warc_files():
        path.unlink()
    second = run_newsarchive("crawl", url, "-o", str(output), "--depth", "0")
    assert second.returncode == 0, second.stderr
    types = [r.rec_type for _, r, _ in warc_records(output)]
    assert "revisit" not in types and types.count("response") >= 2  # robots.txt and the page
    line = second.jsonl_lines()[-1]
    assert line["change"] == "unchanged"  # the text is still known from the state
    assert line["warc"]["text"]["file"] in {p.name for p in second.warc_files()}


def test_server_error_says_nothing_about_the_article(tmp_path):
    """A 503 on a known article: `unchanged`, no text, and the next capture still compares with
    the last good one."""
    site = ChangingSite(tmp_path / "site")
    output = tmp_path / "out"
    options_path = site.root / "_site.json"
    with SiteServer(site.root) as server:
        url = f"{server.base_url}{STATIC}"

        def crawl_once() -> dict:
            run = run_newsarchive("crawl", url, "-o", str(output), "--depth", "0",
                                  "--revisit-after", "0", "-s", "RETRY_TIMES=0")
            assert run.returncode in (0, 3), run.stderr
            return run.jsonl_lines()[-1]

        good = crawl_once()
        options = json.loads(options_path.read_text())
        options[STATIC] = {"status": 503}
        options_path.write_text(json.dumps(options))
        failed = crawl_once()
        options.pop(STATIC)
        options_path.write_text(json.dumps(options))
        again = crawl_once()
    assert failed["status"] == 503 and failed["change"] == "unchanged"
    assert failed["warc"]["text"] is None and failed["text"] == ""
    assert failed["previous"]["record_id"] == good["warc"]["response"]["record_id"]
    assert again["change"] == "unchanged"
    assert again["previous"]["record_id"] == good["warc"]["response"]["record_id"]


def test_pywb_indexer_finds_an_original_for_every_revisit(changing):
    """pywb resolves a revisit by looking up a response with the same URL key and digest in
    the index: its own indexer (cdxj-indexer) must find one for each revisit it indexes."""
    from cdxj_indexer.main import CDXJIndexer

    out = io.StringIO()
    warcs = sorted((changing["output"] / "warc").glob("*.warc.gz"))
    CDXJIndexer(output=out, inputs=[str(p) for p in warcs]).process_all()
    entries = [
        (line.split(" ", 2)[0], json.loads(line.split(" ", 2)[2]))
        for line in out.getvalue().splitlines()
        if line and not line.startswith("!")
    ]
    originals = {(key, fields.get("digest")) for key, fields in entries
                 if fields.get("mime") != "warc/revisit"}
    revisits = [(key, fields.get("digest")) for key, fields in entries
                if fields.get("mime") == "warc/revisit"]
    assert revisits
    assert all(revisit in originals for revisit in revisits)


def test_a_new_extraction_of_the_same_bytes_is_no_edit(tmp_path):
    """The page's bytes did not change, only what newsarchive extracts from them (a run without
    extraction, then one with; an upgraded extractor alike): `unchanged`, not an edit, and the
    new text gets its own conversion record, which the next run points at."""
    site = ChangingSite(tmp_path / "site")
    output = tmp_path / "out"
    with SiteServer(site.root) as server:
        url = f"{server.base_url}{STATIC}"

        def crawl_once(*extra: str) -> tuple[CrawlRun, dict]:
            run = run_newsarchive("crawl", url, "-o", str(output), "--depth", "0",
                                  "--revisit-after", "0", *extra)
            assert run.returncode == 0, run.stderr
            return run, run.jsonl_lines()[-1]

        crawl_once("--no-extract")
        run, extracted = crawl_once()
        _, again = crawl_once()
    assert extracted["change"] == "unchanged" and "diff" not in extracted
    assert extracted["text"] and extracted["warc"]["text"] is not None
    manifest = max(run.manifests(), key=lambda m: m["started"])
    assert not manifest["stats"]["changes"].get("changed") and not manifest["stats"]["edited"]
    assert again["change"] == "unchanged"
    assert again["warc"]["text"] == extracted["warc"]["text"]  # stored once, pointed at after
    assert again["text"] == extracted["text"]
