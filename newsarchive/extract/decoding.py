"""Decoding an HTML body to text: BOM, HTTP charset, meta charset, then detection (w3lib's order,
as Scrapy's), overriding declarations that cannot be right."""


from __future__ import annotations

import codecs
import logging

import charset_normalizer
from w3lib.encoding import html_to_unicode, http_content_type_encoding, read_bom, to_unicode

logger = logging.getLogger(__name__)


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode an HTML body; return ``(text, encoding)``. Never raises on bad bytes.

    Order (w3lib's, as Scrapy uses it): BOM, then the Content-Type header's charset, then
    ``<meta charset>`` / ``<meta http-equiv="Content-Type">`` (or an XML declaration), then
    detection (strict UTF-8, else charset-normalizer). Unknown charset names are skipped.
    A declaration that cannot be right is overridden: a legacy 8-bit label on a body that is
    valid non-ASCII UTF-8, a charset in which most of the body's non-ASCII bytes are invalid
    ("UTF-8" over cp1251), UTF-16/32 named by a meta tag, UTF-16/32 named by the HTTP header
    over a body that is not (ASCII served as ``charset=utf-16``: the other byte order, else
    detection).
    Stray invalid bytes in a page otherwise in its charset become U+FFFD.
    """
    encoding, text = html_to_unicode(
        content_type, body, default_encoding="utf-8", auto_detect_fun=_detect_encoding
    )
    if read_bom(body)[0] is None:
        better = _correct_declared(body, content_type, encoding, text)
        if better is not None and better != encoding:
            encoding, text = better, to_unicode(body, better)
    return text, encoding


def _detect_encoding(body: bytes) -> str | None:
    if _is_utf8(body):
        return "utf-8"
    best = charset_normalizer.from_bytes(body).best()
    if best is None:
        return None
    try:
        return codecs.lookup(best.encoding).name
    except LookupError:
        return None


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _correct_declared(
    body: bytes, content_type: str | None, encoding: str, text: str
) -> str | None:
    """Return the encoding to use instead of a declared one that cannot be right, or None."""
    if encoding.startswith(("utf-16", "utf-32")):
        if http_content_type_encoding(content_type) is None:
            # WHATWG: a meta tag naming UTF-16/32 is read as UTF-8 (the tag itself is ASCII).
            return "utf-8"
        return _wide_encoding(body, encoding, text)
    if encoding != "utf-8" and not body.isascii() and _is_utf8(body):
        return "utf-8"  # legacy label on real UTF-8: multi-byte runs do not happen by chance
    return _detect_if_garbled(body, text)


def _wide_encoding(body: bytes, encoding: str, text: str) -> str | None:
    """For a body the HTTP header says is UTF-16/32 (no byte order mark): the byte order that
    gives an HTML page, else detection. ASCII or UTF-8 served as ``charset=utf-16`` decodes to
    CJK-looking pairs without a single "<": its text would be lost."""
    if _plausible_html(text):
        return None
    family = encoding[:6]  # "utf-16" or "utf-32"
    for candidate in (f"{family}-le", f"{family}-be"):
        if candidate != encoding and _plausible_html(to_unicode(body, candidate)):
            return candidate
    return _detect_encoding(body)


def _plausible_html(text: str) -> bool:
    """Whether text can be the decoded page: it has markup, and few replacement characters."""
    return "<" in text and text.count("\ufffd") * 100 <= len(text)


def _detect_if_garbled(body: bytes, text: str) -> str | None:
    """Detect the charset of a body if most of its non-ASCII bytes are invalid in the declared
    one (UTF-8 over cp1251 bytes, Shift_JIS over UTF-8 bytes)."""
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if bad < 3 or bad * 4 < non_ascii:
        return None  # a few stray bytes in a UTF-8 page: keep UTF-8 with replacement chars
    return _detect_encoding(body)
