"""``make demo``: serve the bundled demo news site on 127.0.0.1 and crawl it from a seed document.

Offline: the site, the seed document and the crawl all stay on this machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from newsarchive.cli import main as cli_main
from newsarchive.demo.server import SiteServer

DEMO_DIR = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newsarchive.demo")
    parser.add_argument("-o", "--output", default="output", help="archive root (default output)")
    args = parser.parse_args(argv)
    with SiteServer(DEMO_DIR / "site") as server, tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.txt"
        seed.write_text((DEMO_DIR / "seed.txt").read_text().replace("{base}", server.base_url))
        print(f"Demo site at {server.base_url}; crawling from this seed document:", file=sys.stderr)
        print(seed.read_text(), file=sys.stderr)
        started = time.monotonic()
        code = cli_main(["crawl", str(seed), "-o", args.output, "--depth", "2"])
        elapsed = time.monotonic() - started
        pages = len(server.requests)
    print(f"\nDemo crawl took {elapsed:.1f}s for {pages} requests served "
          f"({pages / elapsed:.1f} pages/s).", file=sys.stderr)
    print(f"Browse the archive: .venv/bin/newsarchive replay -o {args.output}  "
          "(then open http://127.0.0.1:8080/)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
