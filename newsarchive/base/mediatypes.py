"""What a Content-Type means to newsarchive: the one definition of an HTML page.

Used by the spider (which pages go to the extraction workers), the pipelines (which pages are
extracted), the requisites middleware (which pages load requisites) and replay (which captures
are rewritten).
"""

from __future__ import annotations

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
CSS_TYPES = frozenset({"text/css"})
# Types that say nothing about the body: it is sniffed instead, as Scrapy does to pick
# HtmlResponse (a server that sends an article as octet-stream still sent an article).
SNIFF_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}
)
SNIFFED_BYTES = 1024
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<title", b"<meta")


def mime_type(content_type: str | bytes | None) -> str:
    """The lower-case ``type/subtype`` of a Content-Type value; "" when there is none."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_html(content_type: str | bytes | None, body: bytes) -> bool:
    """An HTML type, or no telling type and a body that starts like HTML."""
    mime = mime_type(content_type)
    if mime in HTML_TYPES:
        return True
    if mime not in SNIFF_TYPES:
        return False
    head = body[:SNIFFED_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and any(marker in head for marker in _HTML_MARKERS)
