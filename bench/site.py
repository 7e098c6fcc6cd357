"""A deterministic synthetic news site, written as static files (plus pre-gzipped copies).

``generate(root, n)`` writes N article pages of roughly 100 KB (about 30 KB gzipped) with the
boilerplate of a real news site: inline CSS and JavaScript, JSON-LD, a navigation bar, a byline,
tags, share buttons, a related-articles block, "more in section", "most read" and "latest"
sidebars and a fat footer, about 107 links per page, half of them to other articles (most of
which a crawler has already seen). Also: a home page, section, tag, author and footer pages,
``feed.xml``, ``sitemap.xml`` and ``robots.txt``. Every ``.html`` and ``.xml`` file gets a
``.gz`` sibling for nginx's ``gzip_static``.

Article URLs look like ``/politics/2024/05/12/some-words-slug-100042.html``: dated, with a
numeric id, as newsarchive's article heuristics expect. Every article is reachable from the
home page (previous/next links chain them all).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

GENERATOR_VERSION = 1  # bump when the output changes: cached sites are keyed by it
FIRST_ID = 100_000
SECTIONS = (
    "politics world business technology science health sport culture opinion climate travel food"
).split()
FOOTER_PAGES = "about contact privacy terms newsletters jobs advertise corrections archive help"
FOOTER = FOOTER_PAGES.split()
SHARE = (
    "https://twitter.com/intent/tweet?url={u}",
    "https://www.facebook.com/sharer/sharer.php?u={u}",
    "https://api.whatsapp.com/send?text={u}",
    "mailto:?subject=Read%20this&body={u}",
)
START = datetime(2023, 1, 2, 6, 0, tzinfo=UTC)

_SYLLABLES = (
    "ka lo mi ra te su na pe vo li da go ri an el or un is et ar en ul om ti be ce fa ho ju"
).split()


@dataclass(frozen=True)
class Article:
    index: int
    id: int
    section: str
    published: datetime
    title: str
    author: int
    tags: tuple[int, ...]

    @property
    def path(self) -> str:
        slug = "-".join(self.title.lower().split()[:7])
        return f"/{self.section}/{self.published:%Y/%m/%d}/{slug}-{self.id}.html"


class Vocabulary:
    """Pseudo-words with a Zipf-like frequency: text that compresses like prose."""

    def __init__(self, rng: random.Random, size: int = 3000):
        words = {"".join(rng.choices(_SYLLABLES, k=rng.randint(1, 4))) for _ in range(size * 2)}
        self.words = sorted(words)[:size]
        rng.shuffle(self.words)
        self.weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(self.words))]

    def sentence(self, rng: random.Random, low: int = 8, high: int = 24) -> str:
        words = rng.choices(self.words, self.weights, k=rng.randint(low, high))
        return " ".join(words).capitalize() + rng.choice(".....?!")

    def title(self, rng: random.Random) -> str:
        words = rng.choices(self.words, self.weights, k=rng.randint(6, 11))
        return " ".join(word.capitalize() if i == 0 else word for i, word in enumerate(words))


class Site:
    """The articles of an N-page site and the deterministic choices that link them."""

    def __init__(self, n: int, seed: int = 20261127):
        self.n = n
        self.rng = random.Random(seed)
        self.vocab = Vocabulary(self.rng)
        self.tags = [self.vocab.title(self.rng).split()[0].lower() + f"-{i}" for i in range(30)]
        self.authors = [self._person(i) for i in range(20)]
        self.articles = [self._article(i) for i in range(n)]
        self.by_section: dict[str, list[int]] = {s: [] for s in SECTIONS}
        for article in self.articles:
            self.by_section[article.section].append(article.index)
        self.latest = list(range(n - 1, max(-1, n - 21), -1))
        self.script = _inline_script(random.Random(seed + 1), 52_000)
        self.style = _inline_style(random.Random(seed + 2), 15_000)

    def _person(self, i: int) -> str:
        first, last = self.vocab.words[40 + 2 * i], self.vocab.words[41 + 2 * i]
        return f"{first.capitalize()} {last.capitalize()}"

    def _article(self, i: int) -> Article:
        rng = random.Random(i * 7919 + self.n)
        published = START + timedelta(minutes=37 * i)
        tags = tuple(sorted(rng.sample(range(len(self.tags)), 4)))
        return Article(
            index=i,
            id=FIRST_ID + i,
            section=SECTIONS[rng.randrange(len(SECTIONS))],
            published=published,
            title=self.vocab.title(rng),
            author=rng.randrange(len(self.authors)),
            tags=tags,
        )

    def related(self, article: Article, rng: random.Random, k: int) -> list[Article]:
        return [self.articles[rng.randrange(self.n)] for _ in range(k)]

    def bucket_picks(self, article: Article, salt: int, k: int) -> list[Article]:
        """The same k articles for every page of a 50-page bucket ("most read", "picks")."""
        rng = random.Random((article.index // 50) * 131 + salt)
        return [self.articles[rng.randrange(self.n)] for _ in range(k)]

    def same_section(self, article: Article, k: int) -> list[Article]:
        members = self.by_section[article.section]
        pos = members.index(article.index) if k else 0
        return [self.articles[members[(pos + d) % len(members)]] for d in range(1, k + 1)]


# --- HTML ------------------------------------------------------------------------------------


def _inline_script(rng: random.Random, size: int) -> str:
    """A minified-looking analytics/ads bundle: identifiers and hex, compresses about 3x."""
    names = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
             for _ in range(400)]
    parts: list[str] = []
    total = 0
    while total < size:
        a, b, c = rng.sample(names, 3)
        hexs = f"{rng.getrandbits(128):032x}"
        part = rng.choice((
            f'function {a}({b},{c}){{return {b}.{c}?{b}[{c}]("{hexs[:12]}"):void 0}}',
            f'var {a}={{"{b}":"{hexs}","{c}":{rng.randint(0, 99999)}}};',
            f'window.{a}=window.{a}||[];{a}.push(["{b}","{c}",{rng.random():.6f}]);',
            f'if({a}&&{a}.{b}){{{c}.{b}=({a}.{b}|0)+{rng.randint(1, 9)}}}',
        ))
        parts.append(part)
        total += len(part)
    return "".join(parts)


def _inline_style(rng: random.Random, size: int) -> str:
    props = "margin padding color background font-size line-height border display width".split()
    parts: list[str] = []
    total = 0
    while total < size:
        selector = f".c-{rng.randrange(4000):x}-{rng.choice(SECTIONS)}"
        body = ";".join(
            f"{rng.choice(props)}:{rng.randint(0, 48)}px" for _ in range(rng.randint(2, 6))
        )
        parts.append(f"{selector}{{{body}}}")
        total += len(parts[-1])
    return "\n".join(parts)


def _link(href: str, text: str, cls: str = "c-link") -> str:
    return f'<a class="{cls} u-clickable" href="{href}" data-track="{cls}">{text}</a>'


def _teaser_list(title: str, items: list[Article], cls: str) -> str:
    lis = "".join(
        f'<li class="{cls}__item">{_link(a.path, a.title, cls + "__link")}'
        f'<time datetime="{a.published:%Y-%m-%d}">{a.published:%d %b %Y}</time></li>'
        for a in items
    )
    return f'<section class="{cls}"><h2 class="{cls}__title">{title}</h2><ul>{lis}</ul></section>'


def _header(site: Site) -> str:
    nav = "".join(f"<li>{_link(f'/{s}/', s.capitalize(), 'nav__link')}</li>" for s in SECTIONS)
    return (
        '<header class="site-header"><div class="site-header__top">'
        f'{_link("/", "The Daily Synthetic", "site-header__logo")}'
        f'{_link("/newsletters/", "Subscribe", "site-header__cta")}'
        f'{_link("/help/", "Log in", "site-header__login")}'
        f'{_link("/archive/", "Search", "site-header__search")}'
        f'</div><nav class="nav" aria-label="Sections"><ul>{nav}</ul></nav></header>'
    )


def _footer(site: Site) -> str:
    pages = "".join(f"<li>{_link(f'/{p}/', p.capitalize(), 'footer__link')}</li>" for p in FOOTER)
    sections = "".join(
        f"<li>{_link(f'/{s}/', s.capitalize(), 'footer__section')}</li>" for s in SECTIONS
    )
    social = "".join(
        f"<li>{_link(f'https://{net}.example.org/dailysynthetic', net, 'footer__social')}</li>"
        for net in ("twitter", "facebook", "instagram", "youtube")
    )
    legal = site.vocab.sentence(random.Random(5), 30, 40)
    return (
        f'<footer class="site-footer"><div class="site-footer__cols"><ul>{sections}</ul>'
        f"<ul>{pages}</ul><ul>{social}</ul></div>"
        f'<p class="site-footer__legal">{legal} &copy; 2026 The Daily Synthetic</p></footer>'
    )


def _page(site: Site, title: str, head_extra: str, main: str, description: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} | The Daily Synthetic</title>"
        f'<meta name="description" content="{description}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'{head_extra}<link rel="stylesheet" href="/static/site.css">'
        f"<style>{site.style}</style><script>{site.script}</script></head>"
        f'<body class="page">{_header(site)}<div class="layout">{main}</div>'
        f'{_footer(site)}<script src="/static/site.js" defer></script></body></html>\n'
    )


def article_html(site: Site, article: Article) -> str:
    rng = random.Random(article.id)
    vocab = site.vocab
    author = site.authors[article.author]
    url = article.path
    paragraphs = []
    inline_links = site.related(article, rng, 3)
    for p in range(rng.randint(10, 14)):
        text = " ".join(vocab.sentence(rng) for _ in range(rng.randint(3, 6)))
        if p < len(inline_links):
            other = inline_links[p]
            text += f" See also {_link(other.path, other.title, 'inline-link')}."
        paragraphs.append(f"<p>{text}</p>")
        if p % 4 == 3:
            paragraphs.append(f"<h2>{vocab.title(rng)}</h2>")
    paragraphs.insert(5, f"<blockquote><p>{vocab.sentence(rng, 15, 25)}</p></blockquote>")
    standfirst = vocab.sentence(rng, 18, 28)
    tags = "".join(
        f"<li>{_link(f'/tag/{site.tags[t]}/', site.tags[t], 'tags__link')}</li>"
        for t in article.tags
    )
    share = "".join(
        f"<li>{_link(s.format(u=url), 'Share', 'share__link')}</li>" for s in SHARE
    )
    prev_next = [site.articles[(article.index + d) % site.n] for d in (-1, 1)]
    date = f"{article.published:%Y-%m-%dT%H:%M:%SZ}"
    json_ld = json.dumps({
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": article.title,
        "datePublished": date, "author": {"@type": "Person", "name": author},
        "publisher": {"@type": "Organization", "name": "The Daily Synthetic"},
        "articleSection": article.section, "url": url,
    })
    head = (
        f'<link rel="canonical" href="{url}">'
        f'<meta property="og:title" content="{article.title}">'
        f'<meta property="og:type" content="article"><meta property="og:url" content="{url}">'
        f'<meta property="article:published_time" content="{date}">'
        f'<meta name="author" content="{author}">'
        f'<script type="application/ld+json">{json_ld}</script>'
    )
    body = "".join(paragraphs)
    main = (
        '<main class="main"><nav class="breadcrumb">'
        f'{_link("/", "Home", "breadcrumb__link")} / '
        f'{_link(f"/{article.section}/", article.section.capitalize(), "breadcrumb__link")}</nav>'
        f'<article class="article"><h1 class="article__headline">{article.title}</h1>'
        f'<p class="article__standfirst">{standfirst}</p><div class="article__byline">By '
        f'{_link(f"/author/{article.author}/", author, "byline__author")} '
        f'<time datetime="{date}">{article.published:%d %B %Y, %H:%M}</time></div>'
        f'<div class="article__body">{body}</div>'
        f'<ul class="tags">{tags}</ul><ul class="share">{share}</ul>'
        f'<div class="ad-slot" id="ad-{article.id}" data-ad-unit="mid-article"></div></article>'
        f'<nav class="prev-next">{_link(prev_next[0].path, "Previous", "prev-next__prev")}'
        f'{_link(prev_next[1].path, "Next", "prev-next__next")}</nav>'
        + _teaser_list("Related articles", site.related(article, rng, 6), "related-articles")
        + _teaser_list(
            f"More in {article.section}", site.same_section(article, 8), "more-section"
        )
        + "</main><aside class=\"sidebar\">"
        + _teaser_list("Most read", site.bucket_picks(article, 1, 10), "most-read")
        + _teaser_list("Editor's picks", site.bucket_picks(article, 2, 5), "picks")
        + _teaser_list("Latest", [site.articles[i] for i in site.latest], "latest")
        + "</aside>"
    )
    return _page(site, article.title, head, main, standfirst)


def listing_html(site: Site, title: str, items: list[Article]) -> str:
    main = f'<main class="main"><h1>{title}</h1>{_teaser_list(title, items, "listing")}</main>'
    return _page(site, title, "", main, f"{title}: the latest from The Daily Synthetic")


# --- files -----------------------------------------------------------------------------------


def _write(root: Path, path: str, text: str, compress: bool = True) -> int:
    target = root / path.lstrip("/")
    if path.endswith("/"):
        target = target / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    target.write_bytes(data)
    if compress:
        target.with_name(target.name + ".gz").write_bytes(gzip.compress(data, 6, mtime=0))
    return len(data)


def _feed(site: Site, base: str) -> str:
    items = "".join(
        f"<item><title>{a.title}</title><link>{base}{a.path}</link>"
        f"<guid>{base}{a.path}</guid><pubDate>{a.published:%a, %d %b %Y %H:%M:%S} +0000"
        "</pubDate></item>"
        for a in (site.articles[i] for i in range(site.n - 1, max(-1, site.n - 51), -1))
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>The Daily Synthetic</title><link>{base}/</link>{items}</channel></rss>\n"
    )


def _sitemap(site: Site, base: str) -> str:
    urls = "".join(
        f"<url><loc>{base}{a.path}</loc><lastmod>{a.published:%Y-%m-%d}</lastmod></url>"
        for a in site.articles
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
    )


def generate(root: Path, n: int, workers: int = 0) -> dict[str, int]:
    """Write the site for N articles under root (replacing it); return counts and sizes.

    Page links are root-relative, so the same files serve on any port; the feed and the
    sitemap, which need absolute URLs, are written by :func:`write_feeds` once the port is known.
    """
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    site = Site(n)
    workers = workers or os.cpu_count() or 1
    step = -(-n // workers)
    chunks = [(root, n, start, min(n, start + step)) for start in range(0, n, step)]
    with ProcessPoolExecutor(workers) as pool:
        html_bytes = sum(pool.map(_write_articles, *zip(*chunks, strict=True)))
    extra = _write_listings(root, site)
    _write(root, "/static/site.css", site.style, False)
    _write(root, "/static/site.js", site.script, False)
    (root / ".complete").write_text(f"{GENERATOR_VERSION} {n}\n")
    return {"articles": n, "other_pages": extra, "article_html_bytes": html_bytes}


def _write_articles(root: Path, n: int, start: int, stop: int) -> int:
    site = Site(n)
    return sum(_write(root, a.path, article_html(site, a)) for a in site.articles[start:stop])


def write_feeds(root: Path, n: int, base: str) -> None:
    """robots.txt, feed.xml and sitemap.xml with absolute URLs under ``base``."""
    site = Site(n)
    _write(root, "/feed.xml", _feed(site, base))
    _write(root, "/sitemap.xml", _sitemap(site, base))
    _write(root, "/robots.txt", f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n", False)


def cached_site(cache: Path, n: int) -> tuple[Path, bool]:
    """The generated site for N articles under ``cache``, generated unless already there.

    Returns ``(root, generated_now)``.
    """
    root = cache / f"site-{n}-v{GENERATOR_VERSION}"
    marker = root / ".complete"
    if marker.exists() and marker.read_text().split() == [str(GENERATOR_VERSION), str(n)]:
        return root, False
    generate(root, n)
    return root, True


def _write_listings(root: Path, site: Site) -> int:
    newest = [site.articles[i] for i in range(site.n - 1, max(-1, site.n - 61), -1)]
    _write(root, "/", listing_html(site, "Front page", newest))
    count = 1
    for section, members in site.by_section.items():
        items = [site.articles[i] for i in members[-30:]]
        _write(root, f"/{section}/", listing_html(site, section.capitalize(), items))
        count += 1
    for i, tag in enumerate(site.tags):
        items = [a for a in site.articles[-400:] if i in a.tags][-30:]
        _write(root, f"/tag/{tag}/", listing_html(site, f"Tag: {tag}", items))
        count += 1
    for i, author in enumerate(site.authors):
        items = [a for a in site.articles[-400:] if a.author == i][-30:]
        _write(root, f"/author/{i}/", listing_html(site, author, items))
        count += 1
    for page in FOOTER:
        _write(root, f"/{page}/", listing_html(site, page.capitalize(), newest[:10]))
        count += 1
    return count
