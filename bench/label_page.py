"""A labelling aid for eval/metadata-labels.json: every metadata source of a dev-set page.

``python -m bench.label_page [--data DIR] KEY_OR_FILE...``

Prints, per page: ``<title>``, ``<html lang>``, the ``<h1>``/``<h2>`` texts, the meta tags and
JSON-LD fields a title, byline or date can come from, elements whose class/id/itemprop/rel
names an author or byline, ``<time>`` elements, and the visible text around the headline. The
label is then decided by reading that visible text (docs/quality.md, "Metadata"); nothing here
decides it. ``DIR`` is the unpacked evalset (default: the tarball beside the checkout).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html

from newsarchive.commands.evaluate import DEFAULT_DATA, EvalPage, load_pages, unpacked
from newsarchive.extract.decoding import decode_html

BYLINE = re.compile(r"author|byline|autor|writer|verfasser|auteur|redakteur|creator", re.I)
METAS = frozenset({
    "og:title", "author", "article:author", "article:published_time", "date", "dc.date",
    "dc.creator", "pubdate", "datepublished", "og:locale", "content-language", "dcterms.date",
})  # fmt: skip
AROUND = 450  # characters of visible text shown after the headline


def short(text: str | None, size: int = 140) -> str:
    return " ".join((text or "").split())[:size]


def json_ld_articles(doc: lxml.html.HtmlElement) -> Iterator[dict[str, Any]]:
    """The JSON-LD objects with a headline or datePublished, ``@graph`` flattened."""
    for script in doc.xpath('//script[@type="application/ld+json"]'):
        try:
            stack = [json.loads(script.text_content())]
        except ValueError:
            continue
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack += item
            elif isinstance(item, dict):
                graph = item.get("@graph")
                stack += graph if isinstance(graph, list) else [graph] if graph else []
                if "headline" in item or "datePublished" in item:
                    yield item


def describe(page: EvalPage) -> str:
    html, _ = decode_html(page.path.read_bytes(), page.content_type())
    doc = lxml.html.fromstring(html)
    lang, title = doc.xpath("string(//html/@lang)"), short(doc.findtext(".//title"))
    lines = [f"== {page.key} | {page.path.name}", f"lang: {lang!r}  <title>: {title}"]
    metas = {}
    for meta in doc.xpath("//meta[@content]"):
        name = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if name in METAS:
            metas.setdefault(name, short(meta.get("content"), 100))
    lines.append(f"meta: {metas}")
    for item in json_ld_articles(doc):
        author = json.dumps(item.get("author"), ensure_ascii=False)[:160]
        lines.append(f"json-ld {item.get('@type')}: headline={short(item.get('headline'), 100)!r}"
                     f" author={author} datePublished={item.get('datePublished')}")  # fmt: skip
    for bad in doc.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    h1 = [short(h.text_content(), 120) for h in doc.iter("h1")][:4]
    lines.append(f"h1: {h1}  h2: {[short(h.text_content(), 60) for h in doc.iter('h2')][:3]}")
    bylines: list[str] = []
    for element in doc.xpath("//*[@class or @id or @itemprop or @rel]"):
        names = " ".join(element.get(a) or "" for a in ("class", "id", "itemprop", "rel"))
        text = short(element.text_content(), 90)
        if BYLINE.search(names) and text and text not in bylines:
            bylines.append(text)
    lines.append(f"byline-like: {bylines[:5]}")
    times = [(t.get("datetime"), short(t.text_content(), 40)) for t in doc.iter("time")][:3]
    lines.append(f"<time>: {times}")
    body = doc.find("body")
    text = short(" ".join((body if body is not None else doc).itertext()), 10**7)
    start = text.find(h1[0][:30]) if h1 and h1[0] else -1
    lines.append(f"around the headline: {text[max(0, start - 150):max(start, 0) + AROUND]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", metavar="KEY_OR_FILE")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    with unpacked(args.data) as root:
        pages = load_pages(root)
        for wanted in args.pages:
            for page in pages:
                if wanted in (page.key, page.path.name):
                    print(describe(page))


if __name__ == "__main__":
    main()
