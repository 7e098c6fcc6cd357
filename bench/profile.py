"""Summarise a py-spy profile in collapsed-stack form (``py-spy record -f raw``).

    python -m bench.profile PROFILE.txt [--top 25] [--under FUNCTION]

Prints the functions with the most self time and the most total (inclusive) time, as a share
of all samples (or of the samples whose stack contains ``--under``).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def frame_key(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``module.py:func`` (lines merged)."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    short = "/".join(path.split("/")[-2:]) if "site-packages" not in path else path.split(
        "site-packages/"
    )[-1]
    return f"{short}:{match.group('name')}"


def summarise(path: Path, under: str | None = None) -> tuple[int, Counter, Counter]:
    own: Counter = Counter()
    total: Counter = Counter()
    samples = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        frames = [frame_key(f) for f in match.group("stack").split(";") if f]
        if under and not any(under in f for f in frames):
            continue
        count = int(match.group("count"))
        samples += count
        if frames:
            own[frames[-1]] += count
        for key in set(frames):
            total[key] += count
    return samples, own, total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--under", help="only stacks through this function")
    args = parser.parse_args(argv)
    samples, own, total = summarise(args.profile, args.under)
    print(f"{samples} samples")
    for title, counter in (("self", own), ("total", total)):
        print(f"\nby {title} time:")
        for key, count in counter.most_common(args.top):
            print(f"  {100 * count / max(samples, 1):5.1f}%  {key}")


if __name__ == "__main__":
    main()
