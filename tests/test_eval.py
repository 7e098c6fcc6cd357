"""The extraction evaluation: its metric, and the pipeline's score on 50 pages of the dev set."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from newsarchive.commands.evaluate import (
    DEFAULT_DATA,
    Counts,
    EvalPage,
    count,
    evaluate,
    extract_all,
    load_pages,
    score,
    site_paths,
    trafilatura_text,
    unpacked,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "eval" / "trafilatura-evalset.tar.gz"
SUBSET = 50
needs_data = pytest.mark.skipif(
    not DATA.is_file(), reason=f"dev set not found at {DATA} (shared/ beside the checkout)"
)


def page(tmp_path: Path, html: bytes, with_: tuple[str, ...] = (), without=()) -> EvalPage:
    path = tmp_path / "page.html"
    path.write_bytes(html)
    return EvalPage("https://example.com/a", path, with_, without)


def test_counts_and_metric(tmp_path: Path) -> None:
    item = page(tmp_path, b"", ("main text", "second  part"), ("Imprint", "Share"))
    counts = count("The main text.\nsecond\n part. Share this", item)
    assert counts == Counts(tp=2, fn=0, fp=1, tn=1)
    assert count("The main text.\nsecond\n part.", item, normalised=False).fn == 1
    assert (counts.precision, counts.recall, counts.accuracy) == (2 / 3, 1.0, 0.75)
    assert counts.f1 == pytest.approx(0.8)
    assert Counts().f1 == 0.0


def test_content_type_carries_the_declared_charset(tmp_path: Path) -> None:
    html = '<html><head><meta charset="windows-1251"></head><body>Новости</body></html>'
    assert page(tmp_path, html.encode("cp1251")).content_type() == (
        "text/html; charset=windows-1251"
    )
    assert page(tmp_path, b"<html><body>plain</body></html>").content_type() == "text/html"


@needs_data
def test_pipeline_not_below_trafilatura_alone_on_50_pages() -> None:
    """`newsarchive eval` (as `make eval` runs it) on 50 pages, with a floor computed here:
    plain trafilatura.extract(include_comments=False) on the same decoded HTML."""
    with unpacked(DATA) as root:
        pages = load_pages(root, SUBSET)
        urls = {key: f"http://127.0.0.1{path}" for key, path in site_paths(pages).items()}
        texts, _ = extract_all(pages, trafilatura_text, urls)
    floor = score(pages, texts).normalised.f1
    assert floor > 0.8  # the reference itself works
    minimum = f"{math.floor(floor * 1e6) / 1e6:.6f}"  # never rounded above the floor
    command = [sys.executable, "-m", "newsarchive.cli", "eval", "--data", str(DATA),
               "--limit", str(SUBSET), "--min-f1", minimum]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"pages: {SUBSET}; crawled with {SUBSET} JSONL lines" in proc.stdout


@needs_data
def test_evaluate_scores_the_crawled_text() -> None:
    evaluation = evaluate(DATA, limit=5, reference=False)
    assert evaluation.crawl.returncode == 0
    assert len(evaluation.crawl.texts) == 5
    # the crawl's JSONL text scores as extract_page on the same bytes does
    assert evaluation.pipeline.normalised == evaluation.direct.normalised
    assert evaluation.pipeline.normalised.tp > 0


def test_default_dev_set_is_beside_the_checkout() -> None:
    assert DEFAULT_DATA == DATA
