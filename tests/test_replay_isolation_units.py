"""Unit checks of replay isolation and Memento helpers (no server, no browser)."""

from __future__ import annotations

import pytest

from newsarchive.replay.isolation import framed_view, is_top_level_navigation
from newsarchive.replay.lookup import Capture
from newsarchive.replay.memento import Mementos, parse_accept_datetime
from newsarchive.replay.rewrite import FRAME_MODE, PAGE_MODE, UrlRewriter, rewrite_html
from newsarchive.replay.server import canonical_app_host, check_replay_host
from tests.conftest import run_newsarchive


@pytest.mark.parametrize(("headers", "top"), [
    ({b"sec-fetch-dest": b"document", b"sec-fetch-mode": b"navigate"}, True),
    ({b"sec-fetch-dest": b"iframe", b"sec-fetch-mode": b"navigate"}, False),
    ({b"sec-fetch-dest": b"image", b"sec-fetch-mode": b"no-cors"}, False),
    ({b"sec-fetch-mode": b"navigate"}, True),  # browsers that sent Mode before Dest
    ({b"sec-fetch-mode": b"nested-navigate"}, False),
    ({}, False),  # curl, Memento clients: the memento itself
])
def test_top_level_navigation(headers, top):
    assert is_top_level_navigation(headers) is top


def test_framed_view_of_a_replay_path():
    app = "http://127.0.0.1:8080"
    assert framed_view(app, "/web/2024if_/https://example.org/a", "x=1") == (
        "http://127.0.0.1:8080/replay/2024/https://example.org/a?x=1"
    )
    assert framed_view(app, "/static/app.js", "") is None


def test_replay_host_must_be_a_name_of_its_own():
    assert check_replay_host("replay.localhost", "127.0.0.1") is None
    assert check_replay_host("archive.example.lan", "192.168.1.5") is None
    for taken in ("127.0.0.1", "localhost", "LOCALHOST", "[::1]", "127.0.0.2", "192.168.1.5"):
        assert check_replay_host(taken, "192.168.1.5"), taken
    assert check_replay_host("replay.localhost; script-src *", "127.0.0.1")
    assert canonical_app_host("localhost") == "127.0.0.1"
    assert canonical_app_host("127.0.0.1") == "127.0.0.1"


def test_escaping_link_targets_dropped_in_frame_mode_only():
    page = (b'<base target="_blank"><a href="/x" target="_blank">x</a>'
            b"<a href=/y target=_TOP>y</a><form action=/f target='_parent'></form>"
            b'<a href="/z" target="side">z</a>')
    framed = rewrite_html(page, UrlRewriter("https://example.org/", "2024", FRAME_MODE))
    assert b"_blank" not in framed and b"_TOP" not in framed and b"_parent" not in framed
    assert b'target="side"' in framed and b'href="/web/2024if_/https://example.org/x"' in framed
    unframed = rewrite_html(page, UrlRewriter("https://example.org/", "2024", PAGE_MODE))
    assert unframed.count(b"_blank") == 2 and b"_TOP" in unframed


def test_accept_datetime_is_an_http_date():
    assert parse_accept_datetime("Tue, 14 May 2024 08:00:00 GMT") == "20240514080000"
    assert parse_accept_datetime("Tue, 14 May 2024 10:00:00 +0200") == "20240514080000"
    for bad in ("yesterday", "", "2024-05-14"):
        with pytest.raises(ValueError):
            parse_accept_datetime(bad)


def _capture(timestamp: str) -> Capture:
    return Capture("k", timestamp, "https://example.org/a", "text/html", 200, None, "f", 0, 1)


def test_a_single_memento_is_first_and_last():
    found = Mementos("https://example.org/a", [_capture("20240101000000")], "http://r:1")
    header = found.link_header(found.captures[0])
    assert '<http://r:1/web/20240101000000/https://example.org/a>; rel="first last memento"; ' \
        'datetime="Mon, 01 Jan 2024 00:00:00 GMT"' in header
    assert header.count("memento") == 1
    assert '<http://r:1/web/https://example.org/a>; rel="timegate"' in header
    timemap = found.timemap()
    assert timemap.count('rel="first last memento"') == 1 and 'rel="self"' in timemap


def test_link_uris_cannot_break_the_header():
    odd = Mementos('https://example.org/a?b=<c>"d', [_capture("20240101000000")], "http://r:1")
    original = odd.heads()[0]
    assert original.startswith("<https://example.org/a?b=%3Cc%3E%22d>")


def test_replay_refuses_to_serve_archived_pages_under_a_shared_name(tmp_path):
    (tmp_path / "index").mkdir()
    run = run_newsarchive("replay", "-o", str(tmp_path), "--port", "0", "--replay-host",
                          "localhost")
    assert run.returncode != 0 and "a host name of their own" in run.stderr
