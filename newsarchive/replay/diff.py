"""Readable diffs of two captures' cleaned text: paragraphs aligned, changed words marked.

Output is escaped HTML (``Markup``): archived text never reaches the page unescaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest

from markupsafe import Markup, escape

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class DiffRow:
    """One aligned paragraph pair: ``kind`` is equal, changed, removed or added."""

    kind: str
    left: Markup
    right: Markup
    inline: Markup


@dataclass(frozen=True)
class TextDiff:
    rows: list[DiffRow]
    words_removed: int
    words_added: int

    @property
    def identical(self) -> bool:
        return all(row.kind == "equal" for row in self.rows)


def diff_texts(old: str, new: str) -> TextDiff:
    old_paragraphs, new_paragraphs = _paragraphs(old), _paragraphs(new)
    matcher = SequenceMatcher(None, old_paragraphs, new_paragraphs, autojunk=False)
    rows: list[DiffRow] = []
    removed = added = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(_same(p) for p in old_paragraphs[i1:i2])
            continue
        pairs = zip_longest(old_paragraphs[i1:i2], new_paragraphs[j1:j2])
        for left, right in pairs:
            row, minus, plus = _changed(left, right)
            rows.append(row)
            removed += minus
            added += plus
    return TextDiff(rows, removed, added)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.splitlines() if p.strip()]


def _same(paragraph: str) -> DiffRow:
    text = escape(paragraph)
    return DiffRow("equal", text, text, text)


def _changed(left: str | None, right: str | None) -> tuple[DiffRow, int, int]:
    if right is None:
        assert left is not None
        marked = Markup("<del>{}</del>").format(left)
        return DiffRow("removed", marked, Markup(""), marked), _words(left), 0
    if left is None:
        marked = Markup("<ins>{}</ins>").format(right)
        return DiffRow("added", Markup(""), marked, marked), 0, _words(right)
    old_tokens, new_tokens = _TOKEN.findall(left), _TOKEN.findall(right)
    matcher = SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    old_out, new_out, inline = [], [], []
    removed = added = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        before, after = "".join(old_tokens[i1:i2]), "".join(new_tokens[j1:j2])
        if op == "equal":
            old_out.append(escape(before))
            new_out.append(escape(before))
            inline.append(escape(before))
            continue
        if before:
            old_out.append(Markup("<del>{}</del>").format(before))
            inline.append(Markup("<del>{}</del>").format(before))
            removed += _words(before)
        if after:
            new_out.append(Markup("<ins>{}</ins>").format(after))
            inline.append(Markup("<ins>{}</ins>").format(after))
            added += _words(after)
    row = DiffRow("changed", Markup("").join(old_out), Markup("").join(new_out),
                  Markup("").join(inline))
    return row, removed, added


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))
