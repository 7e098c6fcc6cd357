"""Decoding an HTML body to text: BOM, HTTP charset, meta charset, then detection (w3lib's order,
as Scrapy's), overriding declarations that cannot be right."""


from __future__ import annotations

import codecs
import logging
from typing import TYPE_CHECKING

import charset_normalizer
from w3lib.encoding import html_to_unicode, http_content_type_encoding, read_bom, to_unicode

if TYPE_CHECKING:

    pass

logger = logging.getLogger(__name__)
def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode an HTML body; return ``(text, encoding)``. Never raises on bad bytes.

    Order (w3lib's, as Scrapy uses it): BOM, then the Content-Type header's charset, then
    ``<meta charset>`` / ``<meta http-equiv="Content-Type">`` (or an XML declaration), then
    detection (strict UTF-8, else charset-normalizer). Unknown charset names are skipped.
    A declaration that cannot be right is overridden: a legacy 8-bit label on a body that is
    valid non-ASCII UTF-8, "UTF-8" on a body mostly not UTF-8, UTF-16/32 named by a meta tag.
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
        # WHATWG: a meta tag naming UTF-16/32 is read as UTF-8 (the tag itself is ASCII).
        return "utf-8" if http_content_type_encoding(content_type) is None else None
    if encoding == "utf-8":
        return _detect_if_garbled(body, text)
    if not body.isascii() and _is_utf8(body):
        return "utf-8"  # legacy label on real UTF-8: multi-byte runs do not happen by chance
    return None


def _detect_if_garbled(body: bytes, text: str) -> str | None:
    """For a body declared UTF-8: detect its charset if most non-ASCII bytes are invalid."""
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if bad < 3 or bad * 4 < non_ascii:
        return None  # a few stray bytes in a UTF-8 page: keep UTF-8 with replacement chars
    return _detect_encoding(body)
