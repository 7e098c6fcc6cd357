"""``newsarchive eval``: score the cleaned copy on the development set, through the real pipeline.

The pages of ``../shared/eval/trafilatura-evalset.tar.gz`` (unpacked to a temporary folder) are
served on 127.0.0.1, each with the charset its HTML declares in the Content-Type header, crawled
by ``newsarchive crawl`` in a subprocess, and the JSONL ``text`` of each page is scored against
the page's must-contain (``with``) and must-not-contain (``without``) snippets (docs/quality.md).
Its ``title``, ``author``, ``published`` and ``language`` are scored against the hand-made labels
of ``eval/metadata-labels.json`` (:mod:`newsarchive.commands.evaluate_metadata`).

The same bodies are also extracted in this process, one page after another, to time extraction
alone (pages per CPU-second: per core), and run through plain ``trafilatura.extract`` as the
reference the pipeline must never fall below.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import trafilatura

from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_OK, EXIT_USAGE
from newsarchive.commands.evaluate_metadata import (
    DEFAULT_LABELS,
    Extracted,
    Label,
    MetadataEvaluation,
    load_labels,
    metadata_report,
    score_metadata,
    trafilatura_metadata,
)
from newsarchive.demo.server import SiteServer
from newsarchive.extract.analysis import detect_language, extract_page
from newsarchive.extract.decoding import decode_html
from newsarchive.extract.workers import WARMUP_PAGE, WARMUP_URL
from newsarchive.store.jsonl import read_jsonl

REPO = Path(__file__).resolve().parents[2]  # newsarchive/commands/evaluate.py -> the checkout
DEFAULT_DATA = REPO.parent / "shared" / "eval" / "trafilatura-evalset.tar.gz"
EVALSET_DIR = "trafilatura-eval"
WORST_SHOWN = 10
# <meta charset=X> or <meta http-equiv="Content-Type" content="...; charset=X">, label as written
_DECLARED_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_.:+-]+)", re.I)

Extractor = Callable[[bytes, str, str], str]  # (body, url, content type) -> text


# --- the data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalPage:
    key: str  # the page's original URL (the key in evaldata.json)
    path: Path
    with_: tuple[str, ...]
    without: tuple[str, ...]

    def content_type(self) -> str:
        """text/html with the charset the page declares (none if it declares none)."""
        found = _DECLARED_CHARSET.search(self.path.read_bytes()[:8192])
        charset = found.group(1).decode("ascii") if found else None
        return f"text/html; charset={charset}" if charset else "text/html"


@contextmanager
def unpacked(data: Path) -> Iterator[Path]:
    """The unpacked evalset folder: `data` itself, or the tarball unpacked to a temp folder."""
    if data.is_dir():
        yield data / EVALSET_DIR if (data / EVALSET_DIR).is_dir() else data
        return
    with tempfile.TemporaryDirectory(prefix="newsarchive-eval-") as tmp:
        with tarfile.open(data) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / EVALSET_DIR


def load_pages(root: Path, limit: int | None = None) -> list[EvalPage]:
    """The pages of evaldata.json in file order (the first `limit` of them)."""
    entries = json.loads((root / "evaldata.json").read_text("utf-8"))
    pages = []
    for key, entry in entries.items():
        path = root / "eval" / entry["file"]
        if not path.is_file():
            path = root / "cache" / entry["file"]
        snippets = (tuple(s for s in entry.get(kind) or () if s) for kind in ("with", "without"))
        pages.append(EvalPage(key, path, *snippets))
    return pages[:limit] if limit else pages


# --- the metric ----------------------------------------------------------------------------


@dataclass
class Counts:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.tn += other.tn
        return self

    @property
    def errors(self) -> int:
        return self.fn + self.fp

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy(self) -> float:
        total = self.tp + self.fn + self.fp + self.tn
        return (self.tp + self.tn) / total if total else 0.0


def normalise(text: str) -> str:
    """Whitespace runs as one space, as trafilatura's own evaluation compares."""
    return " ".join(text.split())


def count(text: str, page: EvalPage, normalised: bool = True) -> Counts:
    """Snippet counts of one page's extracted text."""
    prepare = normalise if normalised else (lambda value: value)
    text = prepare(text)
    found_with = sum(prepare(snippet) in text for snippet in page.with_)
    found_without = sum(prepare(snippet) in text for snippet in page.without)
    return Counts(
        tp=found_with,
        fn=len(page.with_) - found_with,
        fp=found_without,
        tn=len(page.without) - found_without,
    )


@dataclass
class Score:
    """Counts over a set of pages, exact and whitespace-normalised, and per page (normalised)."""

    exact: Counts = field(default_factory=Counts)
    normalised: Counts = field(default_factory=Counts)
    pages: dict[str, Counts] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def add(self, page: EvalPage, text: str) -> None:
        self.exact += count(text, page, normalised=False)
        page_counts = count(text, page)
        self.normalised += page_counts
        self.pages[page.key] = page_counts
        self.texts[page.key] = text


def score(pages: Iterable[EvalPage], texts: dict[str, str]) -> Score:
    result = Score()
    for page in pages:
        result.add(page, texts.get(page.key, ""))
    return result


# --- extraction in this process (timing and the trafilatura-alone reference) ----------------


def newsarchive_text(body: bytes, url: str, content_type: str) -> str:
    return extract_page(body, url, content_type)["text"]


def trafilatura_text(body: bytes, url: str, content_type: str) -> str:
    """trafilatura alone (include_comments=False) on the same HTML, decoded the same way."""
    html, _ = decode_html(body, content_type)
    return trafilatura.extract(html, include_comments=False) or ""


def extract_all(
    pages: list[EvalPage], extractor: Extractor, urls: dict[str, str]
) -> tuple[dict[str, str], float]:
    """Texts by page key, and the CPU seconds this process spent extracting them, after one
    warm-up page (as each crawl worker extracts before its first page)."""
    _quiet()
    bodies = [(page, page.path.read_bytes(), page.content_type()) for page in pages]
    extractor(WARMUP_PAGE, WARMUP_URL, "text/html")
    detect_language(WARMUP_PAGE.decode())  # py3langid's model: the warm-up page declares "en"
    started = time.process_time()
    texts = {page.key: extractor(body, urls[page.key], ctype) for page, body, ctype in bodies}
    return texts, time.process_time() - started


def _quiet() -> None:
    for name in ("trafilatura", "htmldate", "courlan", "justext", "readability"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


# --- through the real pipeline ---------------------------------------------------------------


def site_paths(pages: list[EvalPage]) -> dict[str, str]:
    """URL path on the local server of each page, by key."""
    return {page.key: f"/page/{index:04d}.html" for index, page in enumerate(pages)}


def build_site(pages: list[EvalPage], paths: dict[str, str], root: Path) -> None:
    """A SiteServer root: the pages' bytes, each served with its declared charset."""
    table: dict[str, dict[str, str]] = {
        "/robots.txt": {"body": "User-agent: *\nAllow: /\n", "content_type": "text/plain"}
    }
    (root / "page").mkdir(parents=True, exist_ok=True)
    for page in pages:
        path = paths[page.key]
        shutil.copyfile(page.path, root / path.lstrip("/"))
        table[path] = {"content_type": page.content_type()}
    (root / "_site.json").write_text(json.dumps(table), "utf-8")


@dataclass
class CrawlResult:
    texts: dict[str, str]  # by URL path
    seconds: float
    returncode: int
    stderr: str
    records: dict[str, dict] = field(default_factory=dict)  # the JSONL lines, by URL path


def crawl(base_url: str, paths: Iterable[str], workdir: Path) -> CrawlResult:
    """`newsarchive crawl` of the URLs in a subprocess; the JSONL text of each page by path."""
    seeds = workdir / "urls.txt"
    seeds.write_text("".join(f"{base_url}{path}\n" for path in paths), "utf-8")
    output = workdir / "archive"
    command = [
        sys.executable, "-m", "newsarchive.cli", "crawl", str(seeds), "-o", str(output),
        "--depth", "0", "--concurrency", "16", "--no-requisites",
        "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "NEWSARCHIVE_STATE=none",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    texts, records = {}, {}
    for jsonl in sorted((output / "articles").glob("*.jsonl")):
        for record in read_jsonl(jsonl):
            texts[_path_of(record["url"])] = record.get("text") or ""
            records[_path_of(record["url"])] = record
    return CrawlResult(texts, seconds, proc.returncode, proc.stderr, records)


def _path_of(url: str) -> str:
    return urlsplit(url).path


@dataclass
class Evaluation:
    pipeline: Score
    crawl: CrawlResult
    direct: Score  # extract_page in this process, same bodies and URLs
    direct_cpu: float
    reference: Score  # trafilatura alone
    reference_cpu: float
    pages: list[EvalPage]
    metadata: MetadataEvaluation | None = None


def evaluate(
    data: Path,
    limit: int | None = None,
    reference: bool = True,
    labels: dict[str, Label] | None = None,
    metadata_only: bool = False,
) -> Evaluation:
    """Serve, crawl and score the first `limit` pages of the evalset at `data`; with `labels`,
    also their metadata. `metadata_only`: only the labelled pages, text left unscored."""
    with unpacked(data) as root, tempfile.TemporaryDirectory(prefix="newsarchive-eval-") as tmp:
        pages = load_pages(root, limit)
        if metadata_only:
            pages = [page for page in pages if page.key in (labels or {})]
        paths = site_paths(pages)
        workdir = Path(tmp)
        build_site(pages, paths, workdir / "site")
        with SiteServer(workdir / "site") as server:
            result = crawl(server.base_url, paths.values(), workdir)
            urls = {key: f"{server.base_url}{path}" for key, path in paths.items()}
        by_key = {key: result.texts.get(path, "") for key, path in paths.items()}
        metadata = None
        if labels:
            records = {key: result.records.get(path, {}) for key, path in paths.items()}
            metadata = evaluate_metadata(pages, labels, records, urls)
        direct_texts, direct_cpu, reference_texts, reference_cpu = {}, 0.0, {}, 0.0
        if not metadata_only:
            direct_texts, direct_cpu = extract_all(pages, newsarchive_text, urls)
        if reference and not metadata_only:
            reference_texts, reference_cpu = extract_all(pages, trafilatura_text, urls)
    return Evaluation(
        pipeline=score(pages, by_key),
        crawl=result,
        direct=score(pages, direct_texts),
        direct_cpu=direct_cpu,
        reference=score(pages, reference_texts),
        reference_cpu=reference_cpu,
        pages=pages,
        metadata=metadata,
    )


def evaluate_metadata(
    pages: list[EvalPage],
    labels: dict[str, Label],
    records: dict[str, dict],
    urls: dict[str, str],
) -> MetadataEvaluation:
    """Score the crawl's JSONL metadata and trafilatura alone (same bytes, same URL) against
    the labels of the pages evaluated."""
    _quiet()
    labelled = [page for page in pages if page.key in labels]
    ours = {page.key: Extracted.from_record(records[page.key]) for page in labelled}
    theirs = {
        page.key: trafilatura_metadata(page.path.read_bytes(), urls[page.key],
                                       page.content_type())
        for page in labelled
    }  # fmt: skip
    chosen = [labels[page.key] for page in labelled]
    return MetadataEvaluation(
        labels=chosen,
        newsarchive=score_metadata(chosen, ours),
        reference=score_metadata(chosen, theirs),
        extracted=ours,
    )


# --- report --------------------------------------------------------------------------------


def _line(name: str, counts: Counts) -> str:
    return (
        f"{name:<28} P {counts.precision:.4f}  R {counts.recall:.4f}  F1 {counts.f1:.4f}  "
        f"accuracy {counts.accuracy:.4f}"
    )


def report(evaluation: Evaluation) -> str:
    n = len(evaluation.pages)
    crawl_result = evaluation.crawl
    lines = [
        f"pages: {n}; crawled with {len(crawl_result.texts)} JSONL lines in "
        f"{crawl_result.seconds:.1f}s ({n / crawl_result.seconds:.1f} pages/s, whole run, "
        f"{os.cpu_count()} cores); crawl exit code {crawl_result.returncode}",
        _line("pipeline (normalised)", evaluation.pipeline.normalised),
        _line("pipeline (exact)", evaluation.pipeline.exact),
        _line("extract_page (normalised)", evaluation.direct.normalised),
        f"extraction alone: {n / evaluation.direct_cpu:.1f} pages per CPU-second "
        f"({1000 * evaluation.direct_cpu / n:.1f} ms/page, one core)",
    ]
    if evaluation.reference.pages:
        lines += [
            _line("trafilatura alone (norm.)", evaluation.reference.normalised),
            _line("trafilatura alone (exact)", evaluation.reference.exact),
            f"trafilatura alone: {n / evaluation.reference_cpu:.1f} pages per CPU-second",
        ]
    lines.append("worst pages (missed with / found without):")
    lines += _worst(evaluation)
    return "\n".join(lines)


def _worst(evaluation: Evaluation) -> list[str]:
    by_key = {page.key: page for page in evaluation.pages}
    ranked = sorted(evaluation.pipeline.pages.items(), key=lambda kv: -kv[1].errors)
    lines = []
    for key, counts in ranked[:WORST_SHOWN]:
        if not counts.errors:
            break
        page = by_key[key]
        text = normalise(evaluation.pipeline.texts[key])
        missed = [s for s in page.with_ if normalise(s) not in text]
        found = [s for s in page.without if normalise(s) in text]
        lines.append(f"  {counts.fn} / {counts.fp}  {key}  ({page.path.name}, {len(text)} chars)")
        lines += [f"      missed: {s[:70]!r}" for s in missed[:3]]
        lines += [f"      found:  {s[:70]!r}" for s in found[:3]]
    return lines


def run(args: argparse.Namespace) -> int:
    data: Path = args.data or DEFAULT_DATA
    if not data.exists():
        print(f"newsarchive eval: no evaluation data at {data}", file=sys.stderr)
        return EXIT_USAGE
    labels_path: Path = args.labels or DEFAULT_LABELS
    metadata_only: bool = args.metadata_only
    if metadata_only and not labels_path.is_file():
        print(f"newsarchive eval: no metadata labels at {labels_path}", file=sys.stderr)
        return EXIT_USAGE
    labels = load_labels(labels_path) if labels_path.is_file() else None
    evaluation = evaluate(data, args.limit, labels=labels, metadata_only=metadata_only)
    if not metadata_only:
        print(report(evaluation))
    if evaluation.metadata is not None:
        print(metadata_report(evaluation.metadata, misses=args.misses))
    f1 = evaluation.pipeline.normalised.f1
    if evaluation.crawl.returncode not in (0, 3):
        print(f"newsarchive eval: the crawl failed:\n{evaluation.crawl.stderr[-2000:]}",
              file=sys.stderr)
        return EXIT_FATAL
    if args.min_f1 is not None and f1 < args.min_f1:
        print(f"newsarchive eval: F1 {f1:.4f} is below --min-f1 {args.min_f1}", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_OK
