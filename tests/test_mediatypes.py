"""newsarchive.base.mediatypes: the one rule for what counts as an HTML page."""

from __future__ import annotations

import pytest

from newsarchive.base.mediatypes import is_html, mime_type

PAGE = b"<!DOCTYPE html><html><head><title>t</title></head><body><p>x</p></body></html>"


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html; charset=UTF-8", "text/html"),
        (b"Text/HTML", "text/html"),
        ("  application/xhtml+xml ;q=1", "application/xhtml+xml"),
        (None, ""),
        ("", ""),
    ],
)
def test_mime_type(content_type: str | bytes | None, expected: str) -> None:
    assert mime_type(content_type) == expected


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/html", b"", True),  # declared HTML is HTML, whatever the body
        ("application/xhtml+xml", b"<?xml version='1.0'?><html/>", True),
        (None, PAGE, True),  # no type: sniffed
        (None, b"\xef\xbb\xbf  \n<html><body>x</body></html>", True),  # BOM and blanks first
        ("application/octet-stream", PAGE, True),  # a type that says nothing: sniffed
        ("application/octet-stream", b"%PDF-1.7 <html>", False),
        (None, b"just text that mentions <html> later", False),
        ("image/png", PAGE, False),  # a type that says something else wins
        ("application/json", b'{"html": "<html>"}', False),
    ],
)
def test_is_html(content_type: str | None, body: bytes, expected: bool) -> None:
    assert is_html(content_type, body) is expected
