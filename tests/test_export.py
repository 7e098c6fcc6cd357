"""``newsarchive export --wacz``: a WACZ package of a real archive of the fixture site, checked
by the ``wacz`` package's validator, read back with warcio, and opened in ReplayWeb.page itself
in headless Chromium with the site's origin stopped (a recording server on its port must hear
nothing). Screenshots go to test-artifacts/export/.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from newsarchive.demo.server import SiteServer
from newsarchive.store.cdxj import url_key
from newsarchive.store.layout import Layout
from newsarchive.store.wacz import ORIGINALS_NAME, export_wacz
from tests.conftest import ROOT, SITE, CrawlRun, run_newsarchive, write_seed_document
from tests.replay_support import chromium, require_chromium

ARTIFACTS = ROOT / "test-artifacts" / "export"
# ui.js and sw.js of the replaywebpage npm package (.ci/run fetches the pinned tarball)
REPLAYWEBPAGE = Path(os.environ.get("NEWSARCHIVE_TEST_REPLAYWEBPAGE", "/nonexistent"))
SEED_SENTENCE = "The harbour commission voted seven to two in favour of the northern"


@dataclass
class Archive:
    output: Path
    runs: list[CrawlRun]
    base_url: str
    origin_port: int
    work: Path

    def run_ids(self) -> list[str]:
        return [manifest["run_id"] for manifest in self.runs[-1].manifests()]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Iterator[Archive]:
    """Two crawls of the fixture site (the second revisits the first's pages)."""
    work = tmp_path_factory.mktemp("export")
    output = work / "out"
    with SiteServer(SITE) as origin:
        seed = write_seed_document(origin, work)
        runs = [run_newsarchive("crawl", str(seed), "-o", str(output)) for _ in range(2)]
        for run in runs:
            assert run.returncode == 0, run.stderr
    yield Archive(output, runs, origin.base_url, origin.port, work)


def _export(archive: Archive, name: str, *options: str) -> tuple[CrawlRun, Path]:
    target = archive.work / name
    result = run_newsarchive("export", "-o", str(archive.output), "--wacz", str(target), *options)
    return result, target


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file of the archive: size, mtime and digest, to prove export only reads."""
    return {
        str(path.relative_to(root)): (
            path.stat().st_size, path.stat().st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        for path in sorted(root.rglob("*")) if path.is_file()
    }


def _entries(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as wacz:
        return {info.filename: wacz.read(info) for info in wacz.infolist()}


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8").splitlines()


@pytest.fixture(scope="module")
def full_export(archive: Archive) -> Path:
    before = _snapshot(archive.output)
    result, target = _export(archive, "all.wacz")
    assert result.returncode == 0, result.stderr
    assert "pages" in result.stderr and str(target) in result.stderr
    assert _snapshot(archive.output) == before  # the archive was only read
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # a new file's mode, not mkstemp's
    return target


@pytest.fixture(scope="module")
def run_export(archive: Archive) -> Path:
    """The second run alone: every page of it is a revisit of the first run's."""
    result, target = _export(archive, "second.wacz", "--run", archive.run_ids()[1])
    assert result.returncode == 0, result.stderr
    return target


@pytest.fixture(scope="module")
def zipnum_export(archive: Archive) -> Path:
    """The same archive with a ZipNum index (``--index zipnum``), in blocks of 7 lines so that
    the fixture site's index makes several."""
    target = archive.work / "zipnum.wacz"
    result = export_wacz(Layout(archive.output), target, index_format="zipnum", zipnum_lines=7)
    assert result.index_lines > 21
    return target


# -- the package ------------------------------------------------------------------------------
@pytest.mark.parametrize("package", ["full_export", "zipnum_export", "run_export"])
def test_the_wacz_validator_accepts_it(package: str, request):
    path = request.getfixturevalue(package)
    validator = Path(sys.executable).with_name("wacz")  # the test environment's own
    if not validator.exists():
        if os.environ.get("CI"):
            raise RuntimeError("CI needs the wacz package (pyproject.toml test extras)")
        pytest.skip("the wacz package is not installed (pip install -e '.[test]')")
    check = subprocess.run(
        [validator, "validate", "-f", str(path)], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "valid" in check.stdout and "invalid" not in check.stdout


def test_resources_are_listed_with_their_digests(full_export: Path):
    entries = _entries(full_export)
    package = json.loads(entries["datapackage.json"])
    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    listed = {resource["path"]: resource for resource in package["resources"]}
    assert set(listed) == set(entries) - {"datapackage.json", "datapackage-digest.json"}
    for path, resource in listed.items():
        assert resource["bytes"] == len(entries[path]), path
        assert resource["hash"] == "sha256:" + hashlib.sha256(entries[path]).hexdigest(), path
    digest = json.loads(entries["datapackage-digest.json"])
    assert digest == {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(entries["datapackage.json"]).hexdigest(),
    }


def test_warcs_are_stored_whole_and_read_back(archive: Archive, full_export: Path):
    warcs = archive.runs[-1].warc_files()
    types = set()
    with zipfile.ZipFile(full_export) as wacz:
        stored = {i.filename: i for i in wacz.infolist() if i.filename.startswith("archive/")}
        assert set(stored) == {f"archive/{path.name}" for path in warcs}
        for path in warcs:
            info = stored[f"archive/{path.name}"]
            assert info.compress_type == zipfile.ZIP_STORED  # read by offset, as the spec asks
            assert wacz.read(info) == path.read_bytes()
            with wacz.open(info) as stream:
                packaged = [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID"))
                            for r in ArchiveIterator(stream)]
            with open(path, "rb") as stream:
                original = [(r.rec_type, r.rec_headers.get_header("WARC-Record-ID"))
                            for r in ArchiveIterator(stream)]
            assert packaged == original
            types.update(kind for kind, _ in packaged)
    assert {"warcinfo", "request", "response", "revisit", "conversion"} <= types


def test_index_and_pages(archive: Archive, full_export: Path, expected):
    entries = _entries(full_export)
    index = _lines(entries["indexes/index.cdxj"])
    assert index == (archive.output / "index" / "index.cdxj").read_text().splitlines()
    assert index == sorted(index)
    header, *pages = [json.loads(line) for line in _lines(entries["pages/pages.jsonl"])]
    assert header["format"] == "json-pages-1.0" and header["hasText"] is True
    archived = [
        line for line in archive.runs[-1].jsonl_lines()
        if line["warc"]["response"] and line["status"] < 400
    ]
    assert len(pages) == len(archived) and len({page["id"] for page in pages}) == len(pages)
    seed = [page for page in pages if page["url"].endswith(expected["seed_path"])]
    assert len(seed) == 2  # one page per capture: both runs
    assert all(page["title"] == expected["seed_title"] for page in seed)
    assert all(SEED_SENTENCE in page["text"] for page in seed)
    assert all(page["ts"].endswith("Z") for page in pages)


def test_zipnum_index(archive: Archive, zipnum_export: Path):
    entries = _entries(zipnum_export)
    assert "indexes/index.cdxj" not in entries
    meta, *blocks = _lines(entries["indexes/index.idx"])
    assert json.loads(meta.split(" ", 2)[2]) == {
        "format": "cdxj-gzip-1.0", "filename": "index.cdx.gz"
    }
    data = entries["indexes/index.cdx.gz"]
    lines = []
    for block in blocks:
        key, fields = block.split(" {", 1)
        fields = json.loads("{" + fields)
        member = data[fields["offset"]:fields["offset"] + fields["length"]]
        assert fields["digest"] == "sha256:" + hashlib.sha256(member).hexdigest()
        text = gzip.decompress(member).decode()  # each block a gzip member of its own
        assert text.startswith(key + " {") and len(text.splitlines()) <= 7
        lines.extend(text.splitlines())
    assert len(blocks) > 3
    assert lines == (archive.output / "index" / "index.cdxj").read_text().splitlines()
    with zipfile.ZipFile(zipnum_export) as wacz:
        assert wacz.getinfo("indexes/index.cdx.gz").compress_type == zipfile.ZIP_STORED


def test_one_run_only(archive: Archive, run_export: Path):
    second = archive.run_ids()[1]
    manifest = json.loads((archive.output / "runs" / f"{second}.json").read_text())
    names = {name.removeprefix("warc/") for name in manifest["files"] if name.startswith("warc/")}
    entries = _entries(run_export)
    assert {name for name in entries if name.startswith("archive/")} == {
        f"archive/{name}" for name in names | {ORIGINALS_NAME}
    }
    index = _lines(entries["indexes/index.cdxj"])
    filenames = {json.loads(line.split(" ", 2)[2])["filename"] for line in index}
    assert filenames == names | {ORIGINALS_NAME}
    pages = [json.loads(line) for line in _lines(entries["pages/pages.jsonl"])[1:]]
    second_lines = [
        json.loads(line)
        for line in (archive.output / "articles" / f"{second}.jsonl").read_text().splitlines()
    ]
    assert pages and {page["ts"] for page in pages} <= {line["fetched_at"] for line in second_lines}
    assert json.loads(entries["datapackage.json"])["newsarchive"]["runs"] == [second]
    first = archive.run_ids()[0]
    both, target = _export(archive, "both.wacz", "--run", first, "--run", second)
    assert both.returncode == 0, both.stderr
    assert "revisited-originals" not in both.stderr  # the originals are in the first run's files
    index = (archive.output / "index" / "index.cdxj").read_bytes()
    assert _entries(target)["indexes/index.cdxj"] == index  # the two runs: the whole archive


def test_one_run_carries_the_responses_its_revisits_refer_to(archive: Archive, run_export: Path):
    """The second run stored revisits only; the package copies the first run's responses they
    name, byte for byte, into one more WARC file, and indexes the copies there."""
    entries = _entries(run_export)
    index = [_parsed(line) for line in _lines(entries["indexes/index.cdxj"])]
    revisits = [line for line in index if line[2].get("mime") == "warc/revisit"]
    responses = {(key, fields.get("digest")) for key, _, fields in index
                 if fields.get("mime") != "warc/revisit"}
    assert revisits and all((key, fields["digest"]) in responses for key, _, fields in revisits)
    archived = {(key, ts, fields.get("digest")): fields for key, ts, fields in
                map(_parsed, (archive.output / "index" / "index.cdxj").read_text().splitlines())}
    copies = entries[f"archive/{ORIGINALS_NAME}"]
    copied = [line for line in index if line[2]["filename"] == ORIGINALS_NAME]
    warcinfo = next(iter(ArchiveIterator(io.BytesIO(copies))))
    assert warcinfo.rec_type == "warcinfo"
    head = warcinfo.raw_stream.read().decode()
    assert "newsarchive" in head and "copied byte for byte" in head
    first_offset = min(int(fields["offset"]) for *_, fields in copied)
    assert copied and first_offset + sum(int(f["length"]) for *_, f in copied) == len(copies)
    manifest = archive.output / "runs" / f"{archive.run_ids()[0]}.json"
    first_files = {name.removeprefix("warc/") for name in json.loads(manifest.read_text())["files"]}
    for key, ts, fields in copied:
        source = archived[(key, ts, fields["digest"])]  # the same capture in the archive...
        assert source["filename"] in first_files  # ...of the first run
        start, length = int(fields["offset"]), int(fields["length"])
        with open(archive.output / "warc" / source["filename"], "rb") as stream:
            stream.seek(int(source["offset"]))
            assert copies[start:start + length] == stream.read(length)  # byte for byte
        record = next(iter(ArchiveIterator(io.BytesIO(copies[start:start + length]))))
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Payload-Digest") == fields["digest"]
    with zipfile.ZipFile(run_export) as wacz, wacz.open(f"archive/{ORIGINALS_NAME}") as stream:
        assert [r.rec_type for r in ArchiveIterator(stream)] == (
            ["warcinfo"] + ["response"] * len(copied))


def test_a_run_of_304_answers_replays_on_its_own(tmp_path: Path, expected):
    """A server that answers conditional requests with 304 (http.server does, by date): the
    second run's revisits have no index line (design.md); the package still holds a response
    for every page it lists, copied from the first run."""
    handler = partial(_QuietFiles, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    output, base = tmp_path / "out", f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for _ in range(2):
            crawl = run_newsarchive("crawl", base + expected["seed_path"], "-o", str(output),
                                    "--depth", "0", "--revisit-after", "0")
            assert crawl.returncode == 0, crawl.stderr
    finally:
        server.shutdown()
        server.server_close()
    second = sorted(path.stem for path in (output / "runs").glob("*.json"))[-1]
    assert '"status": 304' in (output / "articles" / f"{second}.jsonl").read_text()
    target = tmp_path / "second.wacz"
    result = run_newsarchive("export", "-o", str(output), "--wacz", str(target), "--run", second)
    assert result.returncode == 0, result.stderr
    assert "copied into archive/revisited-originals.warc.gz" in result.stderr
    assert "no line in the index" not in result.stderr  # 304 revisits are not indexed
    entries = _entries(target)
    index = [_parsed(line) for line in _lines(entries["indexes/index.cdxj"])]
    responses = {key for key, _, fields in index if fields.get("mime") != "warc/revisit"
                 and fields["filename"] == ORIGINALS_NAME}
    pages = [json.loads(line) for line in _lines(entries["pages/pages.jsonl"])[1:]]
    assert pages and all(url_key(page["url"]) in responses for page in pages)
    images = [key for key, _, fields in index if fields.get("mime", "").startswith("image/")]
    assert images and set(images) <= responses  # the page's requisites were 304s too
    first = sorted(path.stem for path in (output / "runs").glob("*.json"))[0]
    manifest = json.loads((output / "runs" / f"{first}.json").read_text())
    lost = next(name for name in manifest["files"] if name.startswith("warc/"))
    index = output / "index" / "index.cdxj"
    index.write_text("".join(line for line in index.read_text().splitlines(keepends=True)
                             if lost.removeprefix("warc/") not in line))
    unindexed = run_newsarchive("export", "-o", str(output), "--wacz", str(tmp_path / "a.wacz"))
    assert f"{lost} has no line in the index" in unindexed.stderr  # a response not indexed
    manifest = json.loads((output / "runs" / f"{second}.json").read_text())
    warc = output / next(name for name in manifest["files"] if name.startswith("warc/"))
    data = bytearray(warc.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte: the package is still made, with a warning
    warc.write_bytes(bytes(data))
    damaged = run_newsarchive("export", "-o", str(output), "--wacz", str(target), "--run", second)
    assert damaged.returncode == 0, damaged.stderr
    assert f"{warc.name} could not be read to the end" in damaged.stderr


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _parsed(line: str) -> tuple[str, str, dict]:
    key, ts, fields = line.split(" ", 2)
    return key, ts, json.loads(fields)


def test_a_run_in_progress_is_left_out(archive: Archive, tmp_path: Path):
    """A WARC file still being written (``.open``) and a torn last JSONL line, as a crawl that
    is running or was killed leaves them: packaged without them, and said."""
    copy = tmp_path / "out"
    shutil.copytree(archive.output, copy)
    first = archive.run_ids()[0]
    manifest = json.loads((copy / "runs" / f"{first}.json").read_text())
    warc = copy / next(name for name in manifest["files"] if name.startswith("warc/"))
    warc.rename(warc.with_name(warc.name + ".open"))
    with open(copy / "articles" / f"{first}.jsonl", "a", encoding="utf-8") as jsonl:
        jsonl.write('{"schema": 1, "url": "http://torn')
    result = run_newsarchive(
        "export", "-o", str(copy), "--wacz", str(tmp_path / "p.wacz"), "--run", first
    )
    assert result.returncode == 1 and "no closed WARC file" in result.stderr
    assert "still being written" in result.stderr
    result = run_newsarchive("export", "-o", str(copy), "--wacz", str(tmp_path / "p.wacz"))
    assert result.returncode == 0, result.stderr
    entries = _entries(tmp_path / "p.wacz")
    assert not [name for name in entries if name.endswith(".open")]
    assert f"archive/{warc.name}" not in entries
    assert not [line for line in _lines(entries["indexes/index.cdxj"]) if warc.name in line]
    assert "page(s) whose response is in a WARC file not packaged" in result.stderr


# -- errors: one line, exit 1, nothing left behind ------------------------------------------
def test_unknown_run_missing_archive_unwritable_target(archive: Archive, tmp_path: Path):
    before = _snapshot(archive.output)
    target = tmp_path / "keep.wacz"
    target.write_bytes(b"an earlier package")
    unknown = run_newsarchive(
        "export", "-o", str(archive.output), "--wacz", str(target), "--run", "20990101T000000Z-0000"
    )
    assert unknown.returncode == 1
    assert "unknown run '20990101T000000Z-0000'" in unknown.stderr
    assert archive.run_ids()[0] in unknown.stderr  # the known runs are named
    assert target.read_bytes() == b"an earlier package"  # an old package is left as it was
    missing = run_newsarchive("export", "-o", str(tmp_path / "nothing"), "--wacz", str(target))
    assert missing.returncode == 1 and "no archive at" in missing.stderr
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    unwritable = _export(archive, str(blocked / "x.wacz"))[0]
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr + unwritable.stderr
    inside = _export(archive, str(archive.output / "warc" / "x.wacz"))[0]
    assert inside.returncode == 1 and "inside the archive" in inside.stderr
    not_wacz = _export(archive, str(tmp_path / "x.zip"))[0]
    assert not_wacz.returncode == 1 and ".wacz" in not_wacz.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "keep.wacz"]  # no temp file
    assert _snapshot(archive.output) == before


def test_a_full_disk_leaves_no_package(archive: Archive, tmp_path: Path):
    """A write that fails midway (a small tmpfs-like limit: RLIMIT_FSIZE) leaves neither the
    package nor its temporary file."""
    script = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000));"
        "from newsarchive.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    target = tmp_path / "big.wacz"
    result = subprocess.run(
        [sys.executable, "-c", script, "export", "-o", str(archive.output), "--wacz", str(target)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


# -- ReplayWeb.page --------------------------------------------------------------------------
class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges (ReplayWeb.page reads a WACZ by range), logging off."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "application/javascript", ".wacz": "application/wacz"}

    def send_head(self):
        spec = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not spec or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start_text, _, end_text = spec.removeprefix("bytes=").partition("-")
        if start_text:
            start, end = int(start_text), int(end_text) if end_text else size - 1
        else:
            start, end = max(0, size - int(end_text)), size - 1  # a suffix longer than the file
        end = min(end, size - 1)
        stream = open(path, "rb")  # noqa: SIM115 (copyfile closes it)
        stream.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return _Limited(stream, end - start + 1)

    def end_headers(self) -> None:
        if "Range" not in self.headers:
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


class _Limited:
    def __init__(self, stream, remaining: int):
        self.stream, self.remaining = stream, remaining

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.stream.read(size)
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.stream.close()


@dataclass
class ReplaySite:
    base: str  # the static site serving ReplayWeb.page and the package
    folder: Path  # its files
    article_url: str  # the seed article's original URL
    recorder: SiteServer  # on the stopped origin's port: must hear nothing


@pytest.fixture(scope="module")
def replay_site(
    archive: Archive, full_export: Path, zipnum_export: Path, run_export: Path, expected
) -> Iterator[ReplaySite]:
    """ui.js, replay/sw.js and the package on 127.0.0.1, and a recording server where the
    fixture site was."""
    if not ((REPLAYWEBPAGE / "ui.js").is_file() and (REPLAYWEBPAGE / "sw.js").is_file()):
        if os.environ.get("CI"):
            raise RuntimeError("CI needs ReplayWeb.page (.ci/run fetches it)")
        pytest.skip("ReplayWeb.page files absent: set NEWSARCHIVE_TEST_REPLAYWEBPAGE to the "
                    "unpacked replaywebpage npm package (.ci/run shows how)")
    require_chromium()
    folder = archive.work / "replaywebpage"
    (folder / "replay").mkdir(parents=True)
    shutil.copy(REPLAYWEBPAGE / "ui.js", folder / "ui.js")
    shutil.copy(REPLAYWEBPAGE / "sw.js", folder / "replay" / "sw.js")
    shutil.copy(full_export, folder / "archive.wacz")
    shutil.copy(zipnum_export, folder / "zipnum.wacz")
    shutil.copy(run_export, folder / "second.wacz")
    handler = partial(_RangeHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder = SiteServer(SITE, port=archive.origin_port).start()
    try:
        yield ReplaySite(f"http://127.0.0.1:{server.server_address[1]}", folder,
                         archive.base_url + expected["seed_path"], recorder)
    finally:
        recorder.stop()
        server.shutdown()
        server.server_close()


def _embed(site: ReplaySite, name: str, attributes: str, source: str = "archive.wacz") -> str:
    """A page of the static site embedding a package with these attributes; its URL."""
    (site.folder / name).write_text(
        '<!doctype html><html><head><meta charset="utf-8"><script src="ui.js"></script></head>'
        f'<body><replay-web-page source="{source}" replayBase="./replay/" '
        f'{attributes} style="display:block;height:900px"></replay-web-page></body></html>'
    )
    return f"{site.base}/{name}"


@pytest.fixture(scope="module")
def browser(archive: Archive, replay_site: ReplaySite, expected) -> Iterator:
    """A Chromium that has opened the package once, its service worker installed, before any
    test: in a fresh profile the embed may frame the static site's own page instead of the
    worker's, retrying only 3 times 100 ms apart (replayweb.page #412), which a slow machine
    hits. A user reloads then; the warm-up does too, once, and the tests never do."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(archive.work / "chromium-profile")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        driver.get(_embed(replay_site, "warm-up.html", 'view="pages"'))
        for attempt, seconds in enumerate((30, 60)):
            try:
                WebDriverWait(driver, seconds, poll_frequency=0.5).until(
                    lambda d: expected["seed_title"] in d.execute_script(DEEP_TEXT)["text"]
                )
                break
            except TimeoutException:
                if attempt:
                    raise
                driver.refresh()
        yield driver
    finally:
        driver.quit()


# the text (and the logo images' widths) of a page with its open shadow roots and same-origin
# frames (replay-web-page renders the replayed page in an iframe inside shadow roots, inside an
# iframe)
DEEP_TEXT = """
function deep(root) {
  var out = [], logos = [];
  var walk = function (node) {
    if (node.tagName === 'IMG' && node.classList.contains('logo-mark'))
      logos.push(node.complete ? node.naturalWidth : 0);
    if (node.shadowRoot) walk(node.shadowRoot);
    if (node.tagName === 'IFRAME') {
      try { if (node.contentDocument) walk(node.contentDocument); } catch (e) {}
    }
    if (node.nodeType === 3) out.push(node.textContent);
    for (var c = node.firstChild; c; c = c.nextSibling) walk(c);
  };
  walk(root);
  return {text: out.join(' '), logos: logos};
}
return deep(document);
"""


def _wait_for_page(driver, url: str, shot: str, condition) -> dict:
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    try:
        WebDriverWait(driver, 60, poll_frequency=0.5).until(
            lambda d: condition(d.execute_script(DEEP_TEXT))
        )
    except TimeoutException:
        page = driver.execute_script(DEEP_TEXT)
        try:
            console = [entry["message"] for entry in driver.get_log("browser")]
        except WebDriverException as error:  # a driver without the log
            console = [str(error)]
        pytest.fail(f"{url} never showed what was expected in 60 s; it showed "
                    f"{' '.join(page['text'].split())[:1500]!r}, logos {page['logos']}; "
                    f"browser console: {console[-20:]}")
    finally:
        driver.save_screenshot(str(ARTIFACTS / f"{shot}.png"))
    return driver.execute_script(DEEP_TEXT)


@pytest.mark.parametrize("source", ["archive.wacz", "zipnum.wacz", "second.wacz"])
def test_replaywebpage_replays_the_article_offline(
    replay_site: ReplaySite, browser, source, archive: Archive, expected
):
    """second.wacz: the second run alone, whose capture of the article is a revisit; its
    response comes from the copies of the first run's records."""
    attributes = f'embed="replayonly" url="{replay_site.article_url}"'
    if source == "second.wacz":
        second = archive.output / "articles" / f"{archive.run_ids()[1]}.jsonl"
        capture = next(line for line in map(json.loads, second.read_text().splitlines())
                       if line["url"].endswith(expected["seed_path"]))
        assert capture["change"] == "unchanged"
        attributes += f' ts="{"".join(ch for ch in capture["fetched_at"] if ch.isdigit())[:14]}"'
    name = source.removesuffix(".wacz")
    url = _embed(replay_site, f"replay-{name}.html", attributes, source)
    page = _wait_for_page(
        browser, url, f"01-replaywebpage-article-{name}",
        lambda page: SEED_SENTENCE in page["text"] and any(page["logos"]),
    )
    assert SEED_SENTENCE in page["text"]
    assert page["logos"] and all(page["logos"])  # its image too, from the package
    assert replay_site.recorder.requests == []  # nothing was asked of the live origin


def test_replaywebpage_searches_the_article_text(replay_site: ReplaySite, browser, expected):
    """"midnight" is only in the seed article's text, not in any title or URL: ReplayWeb.page
    finds it because pages.jsonl carries the text."""
    other = expected["related"][0]["title"]
    url = _embed(replay_site, "search.html", 'view="pages" query="midnight"')
    page = _wait_for_page(
        browser, url, "02-replaywebpage-search",
        lambda page: expected["seed_title"] in page["text"] and other not in page["text"],
    )
    assert expected["seed_title"] in page["text"] and other not in page["text"]
    assert replay_site.recorder.requests == []
