"""Article change tracking: is this capture new, changed or unchanged since the last one?

Judged on the extracted text, so what changes on every request without being an edit (a rotated
ad, a CSRF token, a timestamp, a "most read" box) does not count; pages without text (a PDF, a
run with --no-extract) are judged on their payload digest instead. A ``changed`` capture also
says how many lines of text were added and removed (docs/jsonl.md).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from newsarchive.extract.pagetype import ARTICLE
from newsarchive.store.state import ArticleState

NEW = "new"
CHANGED = "changed"
UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Judgement:
    change: str
    by_text: bool  # judged on the text (else on the payload digest)


def judge(
    previous: ArticleState | None,
    text: str,
    text_digest: str | None,
    payload_digest: str | None,
) -> Judgement:
    if previous is None:
        return Judgement(NEW, bool(text))
    if payload_digest is not None and payload_digest == previous.payload_digest:
        # the same bytes: nothing was edited, whatever a newer extractor makes of them
        return Judgement(UNCHANGED, False)
    if text or previous.text is not None:
        same = text_digest is not None and text_digest == previous.text_digest
        return Judgement(UNCHANGED if same else CHANGED, True)
    same = payload_digest is not None and payload_digest == previous.payload_digest
    return Judgement(UNCHANGED if same else CHANGED, False)


def is_article(page_type: str | None) -> bool:
    """Whether a page's changes are edits of an article: an article, or a page not extracted (a
    PDF, a failure). A listing or other page (a front page, a tag page) changes on every run
    without anything being edited: its changes are counted apart (docs/jsonl.md)."""
    return page_type in (None, ARTICLE)


def line_diff(before: str, after: str) -> dict[str, int]:
    """Lines added and removed from ``before`` to ``after`` (a replaced line counts as both)."""
    old, new = before.splitlines(), after.splitlines()
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed += i2 - i1
        if tag in ("replace", "insert"):
            added += j2 - j1
    return {"added": added, "removed": removed}
