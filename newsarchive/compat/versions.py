"""The version ranges the reaches into other libraries were verified with, and the check made
before each reach: outside its range a reach is not made, and one warning says so."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


def release(version: str) -> tuple[int, int]:
    """(major, minor) of a version string such as "2.19.0" or "2.3.1.dev0"; (0, 0) if none."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:2]]
    while len(numbers) < 2:
        numbers.append(0)
    return numbers[0], numbers[1]


@dataclass
class VerifiedRange:
    """Versions ``low`` (inclusive) to ``high`` (exclusive) of `library`, by (major, minor)."""

    library: str
    low: tuple[int, int]
    high: tuple[int, int]
    _warned: set[str] = field(default_factory=set, repr=False)

    def covers(self, version: str) -> bool:
        return self.low <= release(version) < self.high

    def allows(self, version: str, reach: str) -> bool:
        """Whether `reach` may be made with `version` installed; warns once per reach if not."""
        if self.covers(version):
            return True
        if reach not in self._warned:
            self._warned.add(reach)
            logger.warning(
                "%s %s is outside the versions newsarchive's %s was verified with (%s): "
                "running without it, as plain %s does",
                self.library, version, reach, self, self.library,
            )
        return False

    def __str__(self) -> str:
        low, high = self.low, self.high
        return f">={low[0]}.{low[1]},<{high[0]}.{high[1]}"
