"""Metadata accuracy for ``newsarchive eval``: title, authors, date and language against labels.

``eval/metadata-labels.json`` holds hand-made labels for pages of the dev set (what a reader
sees on each page: headline, byline, date line, language of the text; docs/quality.md says how
they were made). Each field is compared after a light normalisation, for newsarchive's JSONL
(``title``, ``author``, ``published``, ``language``) and for trafilatura alone
(``bare_extraction(with_metadata=True)`` on the same decoded HTML and URL), side by side.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import trafilatura

from newsarchive.extract.decoding import decode_html

REPO = Path(__file__).resolve().parents[2]  # newsarchive/commands/ -> the checkout
DEFAULT_LABELS = REPO / "eval" / "metadata-labels.json"
FIELDS = ("title", "authors", "date", "time", "language")

# an author string holds several names separated by ; , & or a joining word
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:[;,&/]|\s(?:and|und|et|y|e|i)\s)\s*", re.I)
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}))?")
# the UTC offsets in use: a time written in UTC is right if it is the shown time in one of them
_OFFSETS = (timedelta(hours=-12), timedelta(hours=14))


@dataclass(frozen=True)
class Label:
    """What a reader sees on one page; None/[] where the page shows none."""

    key: str  # the page's key in evaldata.json (its original URL)
    file: str
    title: str | None
    authors: tuple[str, ...]
    date: str | None  # YYYY-MM-DD as shown
    time: str | None  # HH:MM as shown
    language: str | None  # ISO 639-1 of the main text
    kind: str = "article"
    uncertain: frozenset[str] = frozenset()  # fields left out of the scores

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Label:
        return cls(
            key=entry["id"],
            file=entry["file"],
            title=entry.get("title"),
            authors=tuple(entry.get("authors") or ()),
            date=entry.get("date"),
            time=entry.get("time"),
            language=entry.get("language"),
            kind=entry.get("kind") or "article",
            uncertain=frozenset(entry.get("uncertain") or ()),
        )


def load_labels(path: Path = DEFAULT_LABELS) -> dict[str, Label]:
    """The labels by page key."""
    entries = json.loads(path.read_text("utf-8"))
    return {entry["id"]: Label.from_json(entry) for entry in entries}


# --- normalisation --------------------------------------------------------------------------


def normalise_title(title: str | None) -> str:
    """Compatibility-folded, case-folded, punctuation and invisible characters dropped,
    whitespace collapsed: quotes, dashes and case do not decide whether a title is right."""
    if not title:
        return ""
    folded = unicodedata.normalize("NFKC", title).casefold()
    kept = (
        " " if unicodedata.category(char)[0] in "PZ" else char
        for char in folded
        if unicodedata.category(char) != "Cf"  # soft hyphens, zero-width spaces
    )
    return " ".join("".join(kept).split())


def author_names(value: str | Iterable[str] | None) -> frozenset[str]:
    """The set of names in an author string (``A; B``, ``A, B``, ``A and B``) or list, each
    normalised as a title (``R.C. Baker`` = ``R C Baker``); accents are kept."""
    if not value:
        return frozenset()
    parts = _AUTHOR_SEPARATORS.split(value) if isinstance(value, str) else list(value)
    names = (normalise_title(part) for part in parts)
    return frozenset(name for name in names if name)


def day_of(value: str | None) -> str | None:
    """YYYY-MM-DD of an ISO 8601 date or date-time (as written, no time-zone shift)."""
    found = _ISO_DATE.match(value.strip()) if value else None
    return found.group(1) if found else None


def same_time(shown_day: str, shown_clock: str, value: str | None) -> bool:
    """Whether an ISO 8601 date-time is the shown day and HH:MM: as written, or, when it
    carries an offset (often UTC), the same instant in some whole-hour time zone."""
    found = _ISO_DATE.match(value.strip()) if value else None
    if not found or not found.group(2):
        return False
    shown = datetime.fromisoformat(f"{shown_day}T{shown_clock}")
    if found.group(1) == shown_day and found.group(2) == shown_clock:
        return True
    try:
        written = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    offset = written.utcoffset()
    if offset is None:
        return False
    gap = shown - (written.replace(tzinfo=None, second=0, microsecond=0) - offset)
    return _OFFSETS[0] <= gap <= _OFFSETS[1] and gap % timedelta(hours=1) == timedelta(0)


def language_of(value: str | None) -> str | None:
    """The primary subtag of a language tag: ``de-DE`` and ``de_DE`` -> ``de``."""
    if not value:
        return None
    return re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower() or None


# --- the comparison -------------------------------------------------------------------------


@dataclass(frozen=True)
class Extracted:
    """One extractor's metadata of one page, as strings."""

    title: str | None = None
    author: str | None = None
    published: str | None = None
    language: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Extracted:
        """From a newsarchive JSONL line (docs/jsonl.md)."""
        return cls(record.get("title"), record.get("author"), record.get("published"),
                   record.get("language"))  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One line of the table: which labels it scores and how one page is judged right."""

    name: str
    applies: Callable[[Label], bool]
    right: Callable[[Label, Extracted], bool]


def _sure(label: Label, name: str) -> bool:
    return name not in label.uncertain


ROWS = (
    Row("title", lambda lb: _sure(lb, "title"),
        lambda lb, ex: normalise_title(lb.title) == normalise_title(ex.title)),
    Row("author (byline shown)", lambda lb: _sure(lb, "author") and bool(lb.authors),
        lambda lb, ex: author_names(lb.authors) == author_names(ex.author)),
    Row("author (none shown)", lambda lb: _sure(lb, "author") and not lb.authors,
        lambda lb, ex: not author_names(ex.author)),
    Row("date (shown)", lambda lb: _sure(lb, "date") and lb.date is not None,
        lambda lb, ex: day_of(ex.published) == lb.date),
    Row("date (none shown)", lambda lb: _sure(lb, "date") and lb.date is None,
        lambda lb, ex: day_of(ex.published) is None),
    Row("time (shown)", lambda lb: _sure(lb, "date") and lb.time is not None,
        lambda lb, ex: same_time(lb.date or "", lb.time or "", ex.published)),
    Row("language", lambda lb: _sure(lb, "language") and lb.language is not None,
        lambda lb, ex: language_of(ex.language) == lb.language),
)  # fmt: skip


@dataclass
class FieldScore:
    labelled: int = 0
    right: int = 0
    misses: list[str] = field(default_factory=list)  # page keys

    @property
    def share(self) -> float:
        return self.right / self.labelled if self.labelled else 0.0


def score_metadata(
    labels: Iterable[Label], extracted: Mapping[str, Extracted]
) -> dict[str, FieldScore]:
    """Per row: pages labelled, pages right, and the keys of the pages missed. A page the
    extractor returned nothing for counts as extracted with every field empty."""
    scores = {row.name: FieldScore() for row in ROWS}
    for label in labels:
        found = extracted.get(label.key, Extracted())
        for row in ROWS:
            if not row.applies(label):
                continue
            score = scores[row.name]
            score.labelled += 1
            if row.right(label, found):
                score.right += 1
            else:
                score.misses.append(label.key)
    return scores


# --- trafilatura alone ----------------------------------------------------------------------


def trafilatura_metadata(body: bytes, url: str, content_type: str) -> Extracted:
    """trafilatura alone: ``bare_extraction(with_metadata=True)`` on the same decoded HTML
    and URL. It has no language detector: ``language`` is whatever it returns (None)."""
    html, _ = decode_html(body, content_type)
    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False
    )
    if document is None:
        return Extracted()
    get = document.get if isinstance(document, dict) else lambda name: getattr(document, name)
    return Extracted(get("title"), get("author"), get("date"), get("language"))


# --- report ---------------------------------------------------------------------------------


@dataclass
class MetadataEvaluation:
    labels: list[Label]  # the labelled pages among those evaluated
    newsarchive: dict[str, FieldScore]
    reference: dict[str, FieldScore]  # trafilatura alone
    extracted: dict[str, Extracted]  # newsarchive's, by key (for the misses)


def metadata_report(evaluation: MetadataEvaluation, misses: bool = False) -> str:
    """The per-field table (markdown, as docs/quality.md shows it), and newsarchive's misses."""
    sites = {label.key.split("/")[2] if "://" in label.key else label.key
             for label in evaluation.labels}  # fmt: skip
    lines = [
        f"metadata: {len(evaluation.labels)} labelled pages ({len(sites)} sites); "
        "right / pages labelled",
        "| field | labelled | newsarchive | trafilatura alone |",
        "| --- | --- | --- | --- |",
    ]
    for row in ROWS:
        ours, theirs = evaluation.newsarchive[row.name], evaluation.reference[row.name]
        lines.append(
            f"| {row.name} | {ours.labelled} | {ours.right} ({ours.share:.0%}) | "
            f"{theirs.right} ({theirs.share:.0%}) |"
        )
    if misses:
        lines += _misses(evaluation)
    return "\n".join(lines)


def _misses(evaluation: MetadataEvaluation) -> list[str]:
    by_key = {label.key: label for label in evaluation.labels}
    shown = {
        "title": lambda lb, ex: (lb.title, ex.title),
        "author": lambda lb, ex: ("; ".join(lb.authors), ex.author),
        "date": lambda lb, ex: (lb.date, ex.published),
        "time": lambda lb, ex: (f"{lb.date} {lb.time}", ex.published),
        "language": lambda lb, ex: (lb.language, ex.language),
    }
    lines = ["newsarchive's misses (label / extracted):"]
    for row in ROWS:
        keys = evaluation.newsarchive[row.name].misses
        if not keys:
            continue
        lines.append(f"  {row.name}: {len(keys)}")
        pick = shown[row.name.split()[0]]
        for key in keys:
            want, got = pick(by_key[key], evaluation.extracted.get(key, Extracted()))
            lines.append(f"    {by_key[key].file}: {want!r} / {got!r}")
    return lines
