"""URL rewriting of archived HTML and CSS, so that every URL a page loads points into the archive.

Replay URLs have the pywb form ``/web/<timestamp><mode>/<original URL>``: ``mode`` is "" for a
page shown on its own (with the archive banner) and ``if_`` for anything loaded by a page
(requisites, frames, and pages shown inside the app's frame): no banner.

Rewriting keeps the document's bytes: HTML is tokenised as latin-1 (every byte is one
character, so any ASCII-compatible charset survives the round trip) and only the values of
URL-bearing attributes, ``<style>`` blocks and ``style`` attributes are changed.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from newsarchive.base.srcset import parse_srcset

REPLAY_PREFIX = "/web/"
FRAME_MODE = "if_"
PAGE_MODE = ""
MODES = (PAGE_MODE, FRAME_MODE)
REPLAY_PATH = re.compile(r"^/web/(?P<ts>\d{1,14})(?P<mode>[a-z]{2}_)?/(?P<url>.*)$", re.DOTALL)
_KEEP_SCHEMES = ("data:", "javascript:", "mailto:", "tel:", "about:", "blob:", "#")

# attributes that hold one URL, per tag ("*" for any tag)
_URL_ATTRIBUTES: dict[str, frozenset[str]] = {
    "*": frozenset({"background"}),
    "a": frozenset({"href"}),
    "area": frozenset({"href"}),
    "form": frozenset({"action"}),
    "button": frozenset({"formaction"}),
    "input": frozenset({"src", "formaction"}),
    "img": frozenset({"src", "longdesc"}),
    "image": frozenset({"href", "xlink:href"}),
    "use": frozenset({"href", "xlink:href"}),
    "feimage": frozenset({"href", "xlink:href"}),
    "script": frozenset({"src"}),
    "link": frozenset({"href"}),
    "iframe": frozenset({"src"}),
    "frame": frozenset({"src"}),
    "embed": frozenset({"src"}),
    "object": frozenset({"data"}),
    "source": frozenset({"src"}),
    "track": frozenset({"src"}),
    "audio": frozenset({"src"}),
    "video": frozenset({"src", "poster"}),
    "base": frozenset({"href"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "body": frozenset({"background"}),
    "table": frozenset({"background"}),
    "td": frozenset({"background"}),
}
_SRCSET_ATTRIBUTES = frozenset({"srcset", "imagesrcset"})
_NAVIGATION_TAGS = frozenset({"a", "area", "form", "button"})
# in the app's sandboxed frame, a link to a new or the top window is blocked (no popups, no
# top navigation): in frame mode such targets are dropped so that the link opens in the frame
_ESCAPING_TARGETS = frozenset({"_blank", "_top", "_parent", "_new"})
_TARGET_TAGS = _NAVIGATION_TAGS | {"base"}
_ATTRIBUTE = re.compile(
    r"""(?P<pre>[\s/]+)(?P<name>[^\s"'>/=]+)"""
    r"""(?:(?P<eq>\s*=\s*)(?P<value>"[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
)
_CSS_URL = re.compile(r"""url\(\s*(?P<q>['"]?)(?P<url>[^'")]*?)(?P=q)\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?P<q>['"])(?P<url>[^'"]*)(?P=q)""", re.IGNORECASE)
_REFRESH_URL = re.compile(r"""(?P<pre>url\s*=\s*)(?P<q>['"]?)(?P<url>[^'"]+)(?P=q)""", re.I)


@dataclass(frozen=True)
class UrlRewriter:
    """Turns URLs found in a capture of ``base_url`` into replay URLs at ``timestamp``."""

    base_url: str
    timestamp: str
    mode: str = PAGE_MODE

    def replay_url(self, absolute_url: str, mode: str | None = None) -> str:
        chosen = self.mode if mode is None else mode
        return f"{REPLAY_PREFIX}{self.timestamp}{chosen}/{absolute_url}"

    def absolute(self, value: str, base: str | None = None) -> str | None:
        """The absolute http(s) URL ``value`` stands for, or None if it is not one to rewrite."""
        value = value.strip()
        if not value or value.lower().startswith(_KEEP_SCHEMES) or value.startswith(REPLAY_PREFIX):
            return None
        absolute = urljoin(base or self.base_url, value)
        if urlsplit(absolute).scheme not in ("http", "https"):
            return None
        return absolute

    def rewrite(self, value: str, mode: str | None = None, base: str | None = None) -> str:
        absolute = self.absolute(value, base)
        return value if absolute is None else self.replay_url(absolute, mode)

    def rewrite_srcset(self, value: str, base: str | None = None) -> str:
        return ", ".join(
            " ".join(filter(None, (self.rewrite(url, FRAME_MODE, base), descriptor)))
            for url, descriptor in parse_srcset(value)
        )

    def rewrite_css_text(self, css: str, base: str | None = None) -> str:
        def url(match: re.Match[str]) -> str:
            quote = match["q"]
            return f"url({quote}{self.rewrite(match['url'], FRAME_MODE, base)}{quote})"

        def imported(match: re.Match[str]) -> str:
            quote = match["q"]
            return f"@import {quote}{self.rewrite(match['url'], FRAME_MODE, base)}{quote}"

        return _CSS_IMPORT.sub(imported, _CSS_URL.sub(url, css))


def rewrite_css(body: bytes, rewriter: UrlRewriter) -> bytes:
    return rewriter.rewrite_css_text(body.decode("latin-1")).encode("latin-1")


def rewrite_html(body: bytes, rewriter: UrlRewriter, banner: str | None = None) -> bytes:
    """The page with its URLs rewritten and, if given, ``banner`` (ASCII HTML) after <body>."""
    parser = _HtmlRewriter(rewriter, banner)
    parser.feed(body.decode("latin-1"))
    parser.close()
    return parser.output().encode("latin-1")


class _HtmlRewriter(HTMLParser):
    def __init__(self, rewriter: UrlRewriter, banner: str | None):
        super().__init__(convert_charrefs=False)
        self.rewriter = rewriter
        self.banner = banner
        self.base: str | None = None
        self._out: list[str] = []
        self._in_style = False

    def output(self) -> str:
        if self.banner:  # no <body> seen: the banner goes last
            self._out.append(self.banner)
            self.banner = None
        return "".join(self._out)

    # -- tags ------------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or ""
        if tag == "base":
            href = dict(attrs).get("href")
            if href:
                self.base = urljoin(self.rewriter.base_url, href.strip())
        self._out.append(self._rewrite_tag(tag, raw, attrs))
        if tag == "style":
            self._in_style = True
        if tag == "body" and self.banner:
            self._out.append(self.banner)
            self.banner = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False
        self._out.append(f"</{tag}>")

    def _rewrite_tag(self, tag: str, raw: str, attrs: list[tuple[str, str | None]]) -> str:
        names = {name for name, _ in attrs}
        interesting = _URL_ATTRIBUTES.get(tag, frozenset()) | _URL_ATTRIBUTES["*"]
        if not names & (
            interesting | _SRCSET_ATTRIBUTES | {"style", "integrity", "content", "target"}
        ):
            return raw
        is_refresh = tag == "meta" and any(
            n == "http-equiv" and (v or "").lower() == "refresh" for n, v in attrs
        )
        head_end = len(tag) + 1  # "<" + tag name: attributes start after it

        def attribute(match: re.Match[str]) -> str:
            name = match["name"].lower()
            value = match["value"]
            if name == "integrity":
                return ""  # rewritten bodies no longer match subresource-integrity hashes
            if name == "target" and self._escapes(tag, match["value"]):
                return ""
            if value is None:
                return match.group(0)
            old = html.unescape(value.strip("\"'"))
            new = self._new_value(tag, name, old, is_refresh)
            if new is None or new == old:
                return match.group(0)
            return f'{match["pre"]}{match["name"]}{match["eq"]}"{html.escape(new, quote=True)}"'

        closing = ">" if not raw.endswith("/>") else "/>"
        body = raw[head_end : len(raw) - len(closing)]
        return raw[:head_end] + _ATTRIBUTE.sub(attribute, body) + closing

    def _escapes(self, tag: str, value: str | None) -> bool:
        """A ``target`` that would leave the app's frame (frame mode only)."""
        if self.rewriter.mode != FRAME_MODE or tag not in _TARGET_TAGS or value is None:
            return False
        return html.unescape(value.strip("\"'")).strip().lower() in _ESCAPING_TARGETS

    def _new_value(self, tag: str, name: str, value: str, is_refresh: bool) -> str | None:
        rewriter, base = self.rewriter, self.base
        if name in _SRCSET_ATTRIBUTES:
            return rewriter.rewrite_srcset(value, base)
        if name == "style":
            return rewriter.rewrite_css_text(value, base)
        if name == "content" and is_refresh:
            return _REFRESH_URL.sub(
                lambda m: m["pre"] + m["q"] + rewriter.rewrite(m["url"], None, base) + m["q"],
                value,
            )
        if name in _URL_ATTRIBUTES.get(tag, frozenset()) | _URL_ATTRIBUTES["*"]:
            mode = None if tag in _NAVIGATION_TAGS else FRAME_MODE
            if tag == "base":
                return rewriter.rewrite(value, None)
            return rewriter.rewrite(value, mode, base)
        return None

    # -- everything else passes through ---------------------------------------------------------
    def handle_data(self, data: str) -> None:
        if self._in_style:
            data = self.rewriter.rewrite_css_text(data, self.base)
        self._out.append(data)

    def handle_entityref(self, name: str) -> None:
        self._out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self._out.append(f"&#{name};")

    def handle_comment(self, data: str) -> None:
        self._out.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self._out.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self._out.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self._out.append(f"<![{data}]>")


def parse_replay_path(path: str, query: str = "") -> tuple[str, str, str] | None:
    """``/web/<ts><mode>/<url>`` (plus the request's query) as (timestamp, mode, url)."""
    match = REPLAY_PATH.match(path)
    if not match:
        return None
    url = match["url"]
    url = re.sub(r"^(https?):/+", r"\1://", url)  # some clients fold "//" in paths
    if not url.startswith(("http://", "https://")):
        return None
    if query:
        url = f"{url}?{query}"
    mode = match["mode"] or PAGE_MODE
    if mode not in MODES:
        mode = FRAME_MODE
    return match["ts"], mode, url
