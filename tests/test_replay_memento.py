"""Memento (RFC 7089) on a real replay server, spoken to in raw HTTP.

One page crawled three times (three mementos), then its TimeMap, its TimeGate (datetime
negotiation with Accept-Datetime) and the Link headers of each memento are checked against the
index; a URL never archived is 404 everywhere, the app's captures view included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from newsarchive.demo.server import SiteServer
from tests.conftest import run_newsarchive
from tests.hostile_server import article
from tests.replay_support import ReplayServer, get, replay_server

PAGE = "/2024/07/01/harbour-timeline-a30001.html"
LINK = re.compile(r'<(?P<uri>[^>]*)>(?P<params>(?:\s*;\s*[\w-]+="[^"]*")*)')
PARAM = re.compile(r'([\w-]+)="([^"]*)"')


@dataclass
class Link:
    uri: str
    rel: set[str]
    params: dict[str, str]


def parse_links(text: str) -> list[Link]:
    """Links of a Link header or a link-format TimeMap (RFC 8288 / RFC 6690)."""
    links = []
    for match in LINK.finditer(text):
        params = dict(PARAM.findall(match["params"]))
        links.append(Link(match["uri"], set(params.pop("rel", "").split()), params))
    return links


def with_rel(links: list[Link], *rels: str) -> list[Link]:
    return [link for link in links if set(rels) <= link.rel]


@dataclass
class Archive:
    server: ReplayServer
    url: str
    stamps: list[str]  # the page's capture times, oldest first

    def moment(self, index: int) -> datetime:
        return datetime.strptime(self.stamps[index], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Iterator[Archive]:
    work = tmp_path_factory.mktemp("memento")
    site, output = work / "site", work / "out"
    (site / PAGE.lstrip("/")).parent.mkdir(parents=True)
    with SiteServer(site) as origin:
        url = origin.base_url + PAGE
        for number in range(3):
            (site / PAGE.lstrip("/")).write_bytes(
                article("Harbour timeline", f"Edition number {number} of the page.")
            )
            run = run_newsarchive("crawl", url, "-o", str(output), "--depth", "0",
                                  "--no-requisites", "--revisit-after", "0s")
            assert run.returncode == 0, run.stderr
    stamps = sorted({
        line.split(" ", 2)[1] for line in (output / "index" / "index.cdxj").read_text()
        .splitlines() if f'"url": "{url}"' in line
    })
    assert len(stamps) == 3
    with replay_server(output, work / "cache") as server:
        yield Archive(server, url, stamps)


def _uri_m(archive: Archive, stamp: str) -> str:
    return f"{archive.server.replay}/web/{stamp}/{archive.url}"


def test_timemap_lists_every_memento(archive: Archive):
    answer = get(f"{archive.server.replay}/web/timemap/link/{archive.url}")
    assert answer.status == 200
    assert answer.header("Content-Type").split(";")[0] == "application/link-format"
    links = parse_links(answer.body.decode())
    assert [link.uri for link in with_rel(links, "original")] == [archive.url]
    assert [link.uri for link in with_rel(links, "timegate")] == [
        f"{archive.server.replay}/web/{archive.url}"
    ]
    (own,) = with_rel(links, "self")
    assert own.uri == f"{archive.server.replay}/web/timemap/link/{archive.url}"
    assert own.params["type"] == "application/link-format"
    assert parsedate_to_datetime(own.params["from"]) == archive.moment(0)
    assert parsedate_to_datetime(own.params["until"]) == archive.moment(2)
    mementos = with_rel(links, "memento")
    assert [m.uri for m in mementos] == [_uri_m(archive, stamp) for stamp in archive.stamps]
    assert [parsedate_to_datetime(m.params["datetime"]) for m in mementos] == [
        archive.moment(i) for i in range(3)
    ]
    assert all(m.params["datetime"].endswith(" GMT") for m in mementos)
    assert with_rel(links, "first", "memento")[0].uri == mementos[0].uri
    assert with_rel(links, "last", "memento")[0].uri == mementos[-1].uri


def test_timegate_negotiates_accept_datetime(archive: Archive):
    gate = f"{archive.server.replay}/web/{archive.url}"
    before_all = archive.moment(0) - timedelta(days=400)
    near_second = archive.moment(1) + timedelta(milliseconds=400)  # rounds to the second's
    after_all = archive.moment(2) + timedelta(days=400)
    for wanted, index in ((before_all, 0), (near_second, 1), (after_all, 2), (None, 2)):
        headers = {"Accept-Datetime": format_datetime(wanted, usegmt=True)} if wanted else {}
        answer = get(gate, headers)
        assert answer.status == 302, wanted
        assert answer.header("Location") == _uri_m(archive, archive.stamps[index]), wanted
        assert "accept-datetime" in answer.header("Vary").lower()
        links = parse_links(answer.header("Link"))
        assert [link.uri for link in with_rel(links, "original")] == [archive.url]
        (timemap,) = with_rel(links, "timemap")
        assert timemap.params["type"] == "application/link-format"
        assert answer.header("Memento-Datetime") is None  # a TimeGate is no memento
    assert get(gate, {"Accept-Datetime": "yesterday at noon"}).status == 400
    assert get(gate, method="HEAD").status == 302


def test_each_memento_links_to_its_timegate_timemap_and_neighbours(archive: Archive):
    for index, stamp in enumerate(archive.stamps):
        answer = get(_uri_m(archive, stamp))
        assert answer.status == 200
        assert parsedate_to_datetime(answer.header("Memento-Datetime")) == archive.moment(index)
        links = parse_links(answer.header("Link"))
        assert [link.uri for link in with_rel(links, "original")] == [archive.url]
        assert [link.uri for link in with_rel(links, "timegate")] == [
            f"{archive.server.replay}/web/{archive.url}"
        ]
        assert with_rel(links, "timemap")[0].params["type"] == "application/link-format"
        (itself,) = [link for link in with_rel(links, "memento") if link.uri == _uri_m(
            archive, stamp)]
        assert parsedate_to_datetime(itself.params["datetime"]) == archive.moment(index)
        assert with_rel(links, "first", "memento")[0].uri == _uri_m(archive, archive.stamps[0])
        assert with_rel(links, "last", "memento")[0].uri == _uri_m(archive, archive.stamps[-1])
        assert ("first" in itself.rel) == (index == 0)
        assert ("last" in itself.rel) == (index == 2)
    middle = parse_links(get(_uri_m(archive, archive.stamps[1])).header("Link"))
    assert with_rel(middle, "prev", "memento")[0].uri == _uri_m(archive, archive.stamps[0])
    assert with_rel(middle, "next", "memento")[0].uri == _uri_m(archive, archive.stamps[2])


def test_a_url_never_archived_is_404_everywhere(archive: Archive):
    never = archive.url.replace("a30001", "a99999")
    replay = archive.server.replay
    assert get(f"{replay}/web/timemap/link/{never}").status == 404
    assert get(f"{replay}/web/{never}").status == 404
    assert get(f"{replay}/web/{never}", {"Accept-Datetime": "Sun, 06 Nov 1994 08:49:37 GMT"}
               ).status == 404
    assert get(f"{replay}/web/{archive.stamps[0]}/{never}").status == 404
    listing = get(f"{archive.server.app}/captures?url={never}")
    assert listing.status == 404 and b"no capture" in listing.body
    assert get(f"{archive.server.app}/captures?url={archive.url}").status == 200

