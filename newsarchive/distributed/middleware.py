"""Spider middleware of distributed crawls: requests inherit their page's seed round."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from scrapy.http import Request

from newsarchive.base.meta import ROUND_META_KEY

if TYPE_CHECKING:

    from scrapy.http import Response

class RoundMiddleware:
    """Spider middleware: requests a page leads to (links, requisites, feed entries) belong to
    the page's seed round. Placed near the engine, after RequisitesMiddleware."""

    def process_spider_output(
        self, response: Response, result: Iterable[Any]
    ) -> Iterator[Any]:
        round_id = response.meta.get(ROUND_META_KEY)
        for entry in result:
            yield _with_round(entry, round_id)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        round_id = response.meta.get(ROUND_META_KEY)
        async for entry in result:
            yield _with_round(entry, round_id)


def _with_round(entry: Any, round_id: Any) -> Any:
    if round_id is not None and isinstance(entry, Request):
        entry.meta.setdefault(ROUND_META_KEY, round_id)
    return entry

