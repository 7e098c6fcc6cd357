"""What an HTML page loads to display (stylesheets, images, scripts, icons) and what a stylesheet
names: the URLs :class:`newsarchive.crawl.spidermiddlewares.requisites.RequisitesMiddleware`
asks for. Works on a parsed lxml tree, so that the extraction workers can find them in the
tree they parse anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from newsarchive.base.srcset import parse_srcset

_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+?)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])([^'"]+)\1""", re.IGNORECASE)
_REL_TOKENS = "translate(@rel, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
_PAGE_URL_XPATHS = (
    f"//link[contains(concat(' ', normalize-space({_REL_TOKENS}), ' '), ' stylesheet ')]/@href",
    f"//link[contains(concat(' ', normalize-space({_REL_TOKENS}), ' '), ' icon ')]/@href",
    "//link[@rel='preload' or @rel='modulepreload'][@as!='fetch' or not(@as)]/@href",
    "//script/@src",
    "//img/@src",
    "//input[@type='image']/@src",
    "//video/@poster",
)
_SRCSET_XPATHS = ("//img/@srcset", "//picture/source/@srcset")


def requisites_in_tree(root: Any, base: str) -> list[str]:
    """Absolute http(s) URLs of what the parsed page `root` loads to display, in document
    order; relative URLs resolve against `base` (the page's URL or its ``<base href>``)."""
    found: list[str] = []
    for xpath in _PAGE_URL_XPATHS:
        found.extend(str(value) for value in root.xpath(xpath))
    for xpath in _SRCSET_XPATHS:
        for srcset in root.xpath(xpath):
            found.extend(url for url, _ in parse_srcset(str(srcset)))
    for css in root.xpath("//style/text()") + root.xpath("//@style"):
        found.extend(css_urls(str(css)))
    return absolute_urls(base, found)


def css_urls(css: str) -> list[str]:
    """URLs a stylesheet names (``url(...)`` and ``@import``), as written."""
    return [m.group(2) for m in _CSS_IMPORT.finditer(css)] + [
        m.group(2) for m in _CSS_URL.finditer(css)
    ]


def absolute_urls(base: str, urls: Iterable[str]) -> list[str]:
    """The http(s) URLs among `urls` resolved against `base`, without fragments, each once."""
    seen: dict[str, None] = {}
    for url in urls:
        url = url.strip()
        if not url or url.startswith(("data:", "#", "javascript:", "blob:")):
            continue
        absolute = urldefrag(urljoin(base, url))[0]
        if urlsplit(absolute).scheme in ("http", "https"):
            seen.setdefault(absolute)
    return list(seen)
