"""The readability gate: trafilatura's readability comparison sees the real page only when
trafilatura's own text is short, only inside newsarchive's extraction, and never breaks
extraction when trafilatura's internals are not the expected ones."""

from __future__ import annotations

import logging

import pytest
import trafilatura
import trafilatura.core
import trafilatura.external

from newsarchive import readability_gate
from newsarchive.extract import extract_page
from newsarchive.readability_gate import READABILITY_BELOW

URL = "https://news.example.org/2024/05/02/harbour-report"
SENTENCE = (
    "The harbour authority reported that container traffic rose for the third quarter in a "
    "row, driven by new routes to the north and by longer opening hours at the eastern quay. "
)


def article(paragraphs: int) -> bytes:
    body = "".join(f"<p>{SENTENCE} Paragraph {i}.</p>" for i in range(paragraphs))
    return (
        "<html lang='en'><head><meta charset='utf-8'><title>Harbour report</title></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>Harbour report</h1>{body}"
        "</article><footer>Contact us</footer></body></html>"
    ).encode()


@pytest.fixture
def readability_pages(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of the page text each readability run was given."""
    seen: list[int] = []
    original = trafilatura.external.try_readability

    def recording(tree):  # type: ignore[no-untyped-def]
        seen.append(len(tree.text_content().strip()))
        return original(tree)

    monkeypatch.setattr(trafilatura.external, "try_readability", recording)
    return seen


def test_long_own_text_skips_readability(readability_pages: list[int]) -> None:
    result = extract_page(article(12), URL, "text/html")
    assert len(result["text"]) >= READABILITY_BELOW
    assert "Paragraph 11." in result["text"]
    assert readability_pages == [0]  # it ran on the blank page only


def test_short_own_text_gets_readability_on_the_real_page(readability_pages: list[int]) -> None:
    result = extract_page(article(2), URL, "text/html")
    assert 0 < len(result["text"]) < READABILITY_BELOW
    assert readability_pages and all(length > 0 for length in readability_pages)


def test_trafilatura_outside_newsarchive_is_left_alone(readability_pages: list[int]) -> None:
    extract_page(article(12), URL, "text/html")  # the hook is installed by now
    readability_pages.clear()
    text = trafilatura.extract(article(12).decode(), include_comments=False)
    assert text and len(text) >= READABILITY_BELOW
    assert readability_pages and all(length > 0 for length in readability_pages)


def test_fast_mode_is_left_alone(readability_pages: list[int]) -> None:
    with readability_gate.gated():
        trafilatura.bare_extraction(article(2).decode(), fast=True)
    assert readability_pages == []


def test_unexpected_trafilatura_internals_leave_extraction_unchanged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(readability_gate, "_original", None)
    monkeypatch.setattr(readability_gate, "_install_failed", False)
    hooked = trafilatura.core._extract_and_compare
    monkeypatch.setattr(trafilatura.core, "_extract_and_compare", hooked)
    monkeypatch.delattr(trafilatura.core, "compare_extraction")
    with caplog.at_level(logging.WARNING, logger="newsarchive.readability_gate"):
        assert readability_gate.install() is False
        assert readability_gate.install() is False
    warnings = [r for r in caplog.records if "readability runs on every page" in r.message]
    assert len(warnings) == 1
    monkeypatch.undo()
    assert "Paragraph 11." in extract_page(article(12), URL, "text/html")["text"]


def test_gated_and_plain_agree_on_short_pages() -> None:
    html = article(2).decode()
    plain = trafilatura.bare_extraction(html, include_comments=False)
    with readability_gate.gated():
        gated = trafilatura.bare_extraction(html, include_comments=False)
    assert plain is not None and gated is not None
    assert gated.text == plain.text
