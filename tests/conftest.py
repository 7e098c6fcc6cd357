"""Shared fixtures: the fixture news site on a real local HTTP server, and crawl runners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsarchive.demo.server import SiteServer

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent / "site"
NEWSARCHIVE = [sys.executable, "-m", "newsarchive.cli"]

# Crawls honour proxy variables (docs/proxies.md): the tests' crawls of 127.0.0.1 must not go
# through a developer's proxy; tests of proxies set them explicitly.
for _name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
    os.environ.pop(_name, None)
    os.environ.pop(_name.upper(), None)


@pytest.fixture(scope="session")
def expected() -> dict:
    return json.loads((SITE / "expected.json").read_text())


@pytest.fixture(scope="module")
def site() -> Iterator[SiteServer]:
    with SiteServer(SITE) as server:
        yield server


@dataclass
class CrawlRun:
    returncode: int
    stdout: str
    stderr: str
    output: Path

    def jsonl_lines(self) -> list[dict]:
        lines = []
        for path in sorted((self.output / "articles").glob("*.jsonl")):
            lines.extend(json.loads(line) for line in path.read_text().splitlines() if line)
        return lines

    def warc_files(self) -> list[Path]:
        return sorted((self.output / "warc").glob("*.warc.gz"))

    def manifests(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((self.output / "runs").glob("*.json"))]


def run_newsarchive(*args: str, timeout: float = 180, env: dict | None = None) -> CrawlRun:
    """Run the real CLI in a subprocess (as a user would) and capture what it prints."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run(
        [*NEWSARCHIVE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=full_env,
    )
    output = Path(args[args.index("-o") + 1]) if "-o" in args else ROOT / "output"
    return CrawlRun(proc.returncode, proc.stdout, proc.stderr, output)


def write_seed_document(server: SiteServer, directory: Path) -> Path:
    path = directory / "seed.txt"
    path.write_text((SITE / "seed.txt").read_text().replace("{base}", server.base_url))
    return path


@pytest.fixture
def readability_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of the page text each run of trafilatura's readability port was given."""
    import trafilatura.external

    seen: list[int] = []
    original = trafilatura.external.try_readability

    def recording(tree):  # type: ignore[no-untyped-def]
        seen.append(len(tree.text_content().strip()))
        return original(tree)

    monkeypatch.setattr(trafilatura.external, "try_readability", recording)
    return seen
