"""The output directory's layout (README, "Output") and run ids.

``warc/`` WARC files, ``articles/<run_id>.jsonl`` the JSONL of each run, ``index/index.cdxj``,
``runs/<run_id>.json`` manifests, ``state/`` cross-run state, the run lock and job directories.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RUN_ID_PATTERN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]+")  # what new_run_id makes


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


@dataclass
class Layout:
    root: Path

    @property
    def warc(self) -> Path:
        return self.root / "warc"

    @property
    def articles(self) -> Path:
        return self.root / "articles"

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def create(self) -> None:
        for path in (self.warc, self.articles, self.index, self.runs, self.state):
            path.mkdir(parents=True, exist_ok=True)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable (its entry, not only the file)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
