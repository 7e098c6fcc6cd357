"""The revisit policy: when a recurring run fetches an article it has archived before.

- never archived: fetched;
- a feed or sitemap says it was modified (lastmod, updated, pubDate, news:publication_date) after
  its last capture: fetched;
- otherwise fetched once ``revisit_after`` has passed since the last capture, backing off for
  articles that keep not changing: after N unchanged captures in a row the interval is
  ``revisit_after * backoff ** (N - 1)``, at most ``revisit_max`` (docs/scheduling.md).

Seeds themselves (a front page, a feed) are always fetched; conditional requests keep that cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from newsarchive.config import Config
from newsarchive.store.state import ArticleState, FetchState, StateStore


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

    def fetched_in_this_run(self, state: StateStore | None, url: str) -> bool:
        """Whether this run (since it last started) fetched url already: met again (in a second
        feed, a sitemap, a link) it is a duplicate to skip, not a known article that is not due."""
        fetch = state.get_fetch(url) if state is not None else None
        return fetch is not None and fetch.run_id == self.run_id != self.resume_run

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
        fetch = state.get_fetch(url) if state is not None else None
        if fetch is None or fetch.run_id == self.resume_run:
            return True
        last = _captured_at(fetch)
        now = now or datetime.now(UTC)
        # a date in the future (a wrong clock) says nothing yet: else it would be newer than
        # every capture, and the entry fetched on every run until that date
        if lastmod is not None and last < lastmod <= now:
            return True
        article = state.get_article(url) if state is not None else None
        return (now - last).total_seconds() >= self.interval(article)


def _captured_at(fetch: FetchState) -> datetime:
    moment = datetime.fromisoformat(fetch.fetched_at.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
