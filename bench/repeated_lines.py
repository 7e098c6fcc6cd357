"""Cross-page boilerplate in an archive: text lines repeated on many pages of one site.

    python -m bench.repeated_lines OUTPUT_DIR [--min-pages 3] [--share 0.2] [--top 5]

Reads the JSONL of every run under OUTPUT_DIR (``articles/*.jsonl``), takes each article's
cleaned ``text`` line by line, and for each site (host) with at least ``--min-pages`` articles
counts the lines found on at least that many of its pages and at least ``--share`` of them:
the lines a cross-page filter would remove (docs/quality.md). It reports per site the share of
lines and characters that repeat, and the most repeated lines, so the filter's worth can be
judged on real runs before it is built. Memory: one set of line digests per site.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from newsarchive.store.jsonl import read_jsonl

MIN_LINE = 20  # characters: shorter lines ("Share", "Advertisement") are counted but not shown


@dataclass
class SiteLines:
    pages: int = 0
    lines: int = 0
    characters: int = 0
    seen_on: Counter[bytes] = field(default_factory=Counter)  # line digest -> pages
    length: dict[bytes, int] = field(default_factory=dict)
    example: dict[bytes, str] = field(default_factory=dict)


def articles(root: Path) -> Iterator[dict]:
    for path in sorted((root / "articles").glob("*.jsonl")):
        yield from (line for line in read_jsonl(path) if line.get("text"))


def collect(root: Path) -> dict[str, SiteLines]:
    sites: dict[str, SiteLines] = defaultdict(SiteLines)
    for article in articles(root):
        site = sites[urlsplit(article.get("final_url") or article.get("url") or "").netloc]
        site.pages += 1
        for text in dict.fromkeys(line.strip() for line in article["text"].split("\n")):
            if not text:
                continue
            digest = hashlib.blake2b(text.encode(), digest_size=12).digest()
            site.lines += 1
            site.characters += len(text)
            site.seen_on[digest] += 1
            site.length[digest] = len(text)
            if len(text) >= MIN_LINE:
                site.example.setdefault(digest, text[:100])
    return sites


def report(sites: dict[str, SiteLines], min_pages: int, share: float, top: int) -> str:
    rows = ["| site | pages | lines repeated | characters repeated | most repeated |",
            "| --- | --- | --- | --- | --- |"]  # fmt: skip
    total_lines = total_repeated = 0
    for host, site in sorted(sites.items(), key=lambda item: -item[1].pages):
        if site.pages < min_pages:
            continue
        needed = max(min_pages, share * site.pages)
        repeated = {d: n for d, n in site.seen_on.items() if n >= needed}
        lines = sum(repeated.values())
        characters = sum(site.length[d] * n for d, n in repeated.items())
        shown = [d for d, _ in Counter(repeated).most_common() if d in site.example][:top]
        examples = "; ".join(f"{site.example[d]!r} ×{repeated[d]}" for d in shown)
        rows.append(
            f"| {host} | {site.pages} | {lines / site.lines:.1%} | "
            f"{characters / max(site.characters, 1):.1%} | {examples} |"
        )
        total_lines += site.lines
        total_repeated += lines
    rows.append(f"\nover those sites: {total_repeated} of {total_lines} lines repeated")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--min-pages", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.2)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    print(report(collect(args.output), args.min_pages, args.share, args.top))


if __name__ == "__main__":
    main()
