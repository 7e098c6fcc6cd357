"""The revisit policy: when a recurring run fetches an article it has archived before.

- never archived: fetched;
- a feed or sitemap says it was modified (lastmod, updated, pubDate, news:publication_date) after
  its last capture: fetched;
- otherwise fetched once ``revisit_after`` has passed since the last capture, backing off for
  articles that keep not changing: after N unchanged captures in a row the interval is
  ``revisit_after * backoff ** (N - 1)``, at most ``revisit_max`` (docs/scheduling.md).

Seeds themselves (a front page, a feed) are always fetched; conditional requests keep that cheap.
A known listing page (a tag or section page a link led to) follows the same policy, but is not
counted among the known articles not due.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from newsarchive.config import Config
from newsarchive.schedule.changes import is_article
from newsarchive.store.state import ArticleState, FetchState, StateStore


class Verdict(enum.Enum):
    DUE = "due"
    NOT_DUE = "not due"  # a known article, captured too recently
    LISTING_NOT_DUE = "listing not due"  # a known listing or other page: not a known article
    # met again (in a second feed, a sitemap, a link): a duplicate, not a known article
    FETCHED_IN_THIS_RUN = "fetched in this run"


@dataclass(frozen=True)
class RevisitPolicy:
    after: float  # seconds
    backoff: float
    maximum: float
    resume_run: str | None = None  # a resumed run replays what it fetched itself
    run_id: str | None = None  # the run deciding

    @classmethod
    def from_config(cls, config: Config, run_id: str) -> RevisitPolicy:
        return cls(
            config.revisit_after,
            config.revisit_backoff,
            max(config.revisit_max, config.revisit_after),
            run_id if config.resume else None,
            run_id,
        )

    def interval(self, article: ArticleState | None) -> float:
        unchanged = article.unchanged_runs if article else 0
        return min(self.after * self.backoff ** max(0, unchanged - 1), self.maximum)

    def is_due(
        self,
        state: StateStore | None,
        url: str,
        lastmod: datetime | None = None,
        now: datetime | None = None,
    ) -> bool:
        return self.verdict(state, url, lastmod, now) is Verdict.DUE

    def verdict(
        self,
        state: StateStore | None,
        url: str,
        lastmod: datetime | None = None,
        now: datetime | None = None,
    ) -> Verdict:
        fetch = state.get_fetch(url) if state is not None else None
        if fetch is None or fetch.run_id == self.resume_run:
            return Verdict.DUE
        if fetch.run_id == self.run_id:
            return Verdict.FETCHED_IN_THIS_RUN
        last = _captured_at(fetch)
        now = now or datetime.now(UTC)
        # a date in the future (a wrong clock) says nothing yet: else it would be newer than
        # every capture, and the entry fetched on every run until that date
        if lastmod is not None and last < lastmod <= now:
            return Verdict.DUE
        article = state.get_article(url) if state is not None else None
        if (now - last).total_seconds() >= self.interval(article):
            return Verdict.DUE
        listing = article is not None and not is_article(article.page_type)
        return Verdict.LISTING_NOT_DUE if listing else Verdict.NOT_DUE


def _captured_at(fetch: FetchState) -> datetime:
    moment = datetime.fromisoformat(fetch.fetched_at.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
