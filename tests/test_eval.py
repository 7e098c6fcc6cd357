"""The extraction evaluation: its metric, and the pipeline's score on 50 pages of the dev set."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

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
from newsarchive.commands.evaluate_metadata import (
    Extracted,
    Label,
    author_names,
    day_of,
    language_of,
    load_labels,
    normalise_title,
    same_time,
    score_metadata,
    trafilatura_metadata,
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


# --- metadata ----------------------------------------------------------------------------------

LABELS = ROOT / "eval" / "metadata-labels.json"
LABEL_FIELDS = {"id", "file", "title", "authors", "date", "time", "language", "kind",
                "uncertain", "note"}  # fmt: skip


def label(**fields) -> Label:
    values = {"key": "https://example.com/a", "file": "a.html", "title": "T", "authors": (),
              "date": None, "time": None, "language": "en"}  # fmt: skip
    return Label(**{**values, **fields})


def test_titles_compare_without_case_punctuation_and_invisible_characters() -> None:
    assert normalise_title("„Kleiner“ Vorverkauf  – gestartet!") == "kleiner vorverkauf gestartet"
    assert normalise_title("Impf- und Genesenen\xad\xadnachweise") == normalise_title(
        "Impf und Genesenennachweise"
    )
    assert normalise_title("What is Rust?") != normalise_title("What is Rust? - Stack Overflow")
    assert normalise_title(None) == normalise_title("") == ""


def test_author_names_are_a_set_of_folded_names_with_accents_kept() -> None:
    assert author_names("Lars Fischer; Alina Schadwinkel") == author_names(
        ["alina schadwinkel", "Lars  Fischer"]
    )
    assert author_names("Luana Patriolino e Raphael Felice") == {"luana patriolino",
                                                                 "raphael felice"}  # fmt: skip
    assert author_names("R C Baker") == author_names(["R.C. Baker"])
    assert author_names("Gustavo E Mendez") != author_names(["Gustavo E. Méndez"])
    assert author_names("Rob Picheta, CNN") != author_names(["Rob Picheta"])
    assert author_names(None) == author_names([]) == frozenset()


def test_days_times_and_languages() -> None:
    assert day_of("2020-01-24T17:18:44+00:00") == day_of("2020-01-24") == "2020-01-24"
    assert day_of("24.01.2020") is None and day_of(None) is None
    # the shown 18:18 is 17:18 UTC: the same instant in a whole-hour zone
    assert same_time("2020-01-24", "18:18", "2020-01-24T17:18:44+00:00")
    assert same_time("2022-05-03", "23:37", "2022-05-04T03:37:37Z")  # UTC-4, next UTC day
    assert same_time("2011-09-11", "16:20", "2011-09-11T16:20")  # as written, no offset
    assert not same_time("2020-09-28", "19:27", "2020-09-28T12:41:29+00:00")  # other minutes
    assert not same_time("2020-01-13", "08:45", "2020-01-13")  # a date alone has no time
    assert not same_time("2020-01-13", "08:45", "2020-01-14T08:45:00+00:00")  # a day off
    assert language_of("de-DE") == language_of("de_DE") == language_of(" DE ") == "de"
    assert language_of("") is None and language_of(None) is None


def test_score_metadata_per_field() -> None:
    labels = [
        label(key="a", title="Headline", authors=("Ann Lee",), date="2022-01-02", time="10:00"),
        label(key="b", title="Other", authors=(), date=None, language="de"),
        label(key="c", title="Third", authors=("X",), date="2022-01-03",
              uncertain=frozenset({"author", "date"})),  # fmt: skip
    ]
    extracted = {
        "a": Extracted("Headline | Site", "Ann Lee", "2022-01-02T09:00:00+00:00", "en-GB"),
        "b": Extracted("Other", "Example News", "2021-05-05", "de"),
    }  # "c": nothing extracted
    scores = score_metadata(labels, extracted)
    got = {name: (score.labelled, score.right) for name, score in scores.items()}
    assert got == {
        "title": (3, 1),
        "author (byline shown)": (1, 1),
        "author (none shown)": (1, 0),
        "date (shown)": (1, 1),
        "date (none shown)": (1, 0),
        "time (shown)": (1, 1),
        "language": (3, 2),
    }
    assert scores["title"].misses == ["a", "c"]


def test_trafilatura_alone_metadata_has_no_language() -> None:
    html = ("<html lang='en'><head><title>Site | Big news</title>"
            "<meta name='author' content='Ann Lee'>"
            "<meta property='article:published_time' content='2022-01-02T10:00:00Z'></head>"
            "<body><article><h1>Big news</h1><p>" + "Some words of the text. " * 20
            + "</p></article></body></html>")  # fmt: skip
    found = trafilatura_metadata(html.encode(), "https://example.com/a", "text/html")
    assert (found.author, day_of(found.published), found.language) == (
        "Ann Lee", "2022-01-02", None
    )
    assert found.title


def test_metadata_labels_are_well_formed() -> None:
    """The hand-made labels (docs/quality.md): at least 150 pages, one entry per page, each
    field in its documented shape."""
    entries = json.loads(LABELS.read_text("utf-8"))
    assert len(entries) >= 150
    assert len({entry["id"] for entry in entries}) == len(entries)
    for entry in entries:
        assert set(entry) <= LABEL_FIELDS and {"id", "file", "authors", "language"} <= set(entry)
        assert entry["title"] is None or entry["title"].strip() == entry["title"] != ""
        assert isinstance(entry["authors"], list) and all(a.strip() for a in entry["authors"])
        assert entry["date"] is None or re.fullmatch(r"\d{4}-\d\d-\d\d", entry["date"])
        assert entry["time"] is None or re.fullmatch(r"\d\d:\d\d", entry["time"])
        assert entry["time"] is None or entry["date"] is not None
        assert set(entry.get("uncertain", ())) <= {"title", "author", "date", "language"}
        assert entry["kind"] in {"article", "listing", "forum", "other"}
        if "language" not in entry.get("uncertain", ()):
            assert re.fullmatch(r"[a-z]{2}", entry["language"])
    labels = load_labels(LABELS)
    assert len(labels) == len(entries)
    assert len({urlsplit(key).hostname or key for key in labels}) >= 100  # many sites


@needs_data
def test_labels_name_pages_of_the_dev_set() -> None:
    with unpacked(DATA) as root:
        pages = {page.key: page.path.name for page in load_pages(root)}
    labels = load_labels(LABELS)
    assert {key: pages.get(key) for key in labels} == {k: lb.file for k, lb in labels.items()}


@needs_data
def test_eval_metadata_only_prints_the_table(tmp_path: Path) -> None:
    """`newsarchive eval --metadata-only` on three labelled pages: crawled, then scored."""
    entries = json.loads(LABELS.read_text("utf-8"))[:3]
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(entries), "utf-8")
    command = [sys.executable, "-m", "newsarchive.cli", "eval", "--data", str(DATA),
               "--labels", str(labels), "--metadata-only", "--misses"]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "metadata: 3 labelled pages (3 sites)" in proc.stdout
    assert "| field | labelled | newsarchive | trafilatura alone |" in proc.stdout
    assert re.search(r"^\| language \| 3 \| [0-3] \(\d+%\) \| 0 \(0%\) \|$", proc.stdout, re.M)
    assert "pages:" not in proc.stdout  # the text scores are skipped
