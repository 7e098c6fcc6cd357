"""The extraction ceiling: trafilatura alone over the site's article HTML, no crawling at all.

``python -m bench.extract_alone ROOT --workers K --stats FILE``

Runs ``trafilatura.bare_extraction`` with the options newsarchive uses (metadata on, comments
off) on every article page of the generated site, read from disk, in one process (K=1) or in a
pool of K processes that each read their own files (no page bytes cross a pipe).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
from pathlib import Path

from trafilatura import bare_extraction

from bench.site import SECTIONS


def article_files(root: Path) -> list[Path]:
    """The article pages (dated paths) of the site, not its listing pages."""
    return sorted(
        path
        for section in SECTIONS
        for path in (root / section).glob("[0-9][0-9][0-9][0-9]/*/*/*.html")
    )


def extract_file(path_and_url: tuple[Path, str]) -> int:
    """Extract one page; return the length of its text (0 when nothing was found)."""
    path, url = path_and_url
    doc = bare_extraction(path.read_bytes(), url=url, with_metadata=True, include_comments=False)
    return len(doc.text or "") if doc is not None else 0


def _quiet() -> None:
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def run(root: Path, workers: int) -> dict[str, int]:
    jobs = [(path, f"http://127.0.0.1/{path.relative_to(root)}") for path in article_files(root)]
    _quiet()
    if workers <= 1:
        lengths = [extract_file(job) for job in jobs]
    else:
        context = multiprocessing.get_context("forkserver")
        with context.Pool(workers, initializer=_quiet) as pool:
            lengths = list(pool.imap_unordered(extract_file, jobs, chunksize=8))
    return {"pages": len(lengths), "with_text": sum(1 for n in lengths if n)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.extract_alone")
    parser.add_argument("root", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args(argv)
    args.stats.write_text(json.dumps(run(args.root, args.workers)))


if __name__ == "__main__":
    main()
