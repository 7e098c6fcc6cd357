"""The fixture HTTP server speaks real HTTP/1.1 with exact, declared framing."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsarchive.demo.server import SiteServer

SITE = Path(__file__).parent / "site"
DEMO = Path(__file__).parent.parent / "newsarchive" / "demo"
EXPECTED = json.loads((SITE / "expected.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def server() -> Iterator[SiteServer]:
    with SiteServer(SITE) as srv:
        yield srv


def get(srv: SiteServer, path: str, method: str = "GET",
        headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        conn.close()


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw request bytes and read everything until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def split_head(data: bytes) -> tuple[bytes, bytes]:
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, "no end of headers"
    return head + sep, body


def dechunk(body: bytes) -> tuple[bytes, int]:
    """Decode chunked framing strictly; return (payload, number of data chunks)."""
    out, count = b"", 0
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n", "bad chunked terminator"
            return out, count
        out += body[:size]
        assert body[size : size + 2] == b"\r\n"
        body = body[size + 2 :]
        count += 1


def close_request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


# --- the test fixture site ----------------------------------------------------------


def test_gzip_body_is_really_gzip_and_recorded(server: SiteServer) -> None:
    path = EXPECTED["gzip_path"]
    resp, body = get(server, path, headers={"Accept-Encoding": "gzip"})
    assert resp.status == 200
    assert resp.getheader("Content-Encoding") == "gzip"
    assert int(resp.getheader("Content-Length")) == len(body)
    assert body[:2] == b"\x1f\x8b"
    assert server.sent[path] == body
    text = gzip.decompress(body).decode("utf-8")
    assert EXPECTED["body_sentences"][path] in text
    assert server.base_url in text  # {base} substituted before compression


def test_chunked_framing_is_on_the_wire(server: SiteServer) -> None:
    path = EXPECTED["chunked_path"]
    head, body = split_head(raw_exchange(server.port, close_request(path)))
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nTransfer-Encoding: chunked\r\n" in head
    assert b"Content-Length" not in head
    payload, chunks = dechunk(body)
    assert chunks >= 2
    assert payload == server.sent[path]
    assert server.sent_head[path] == head
    assert EXPECTED["body_sentences"][path] in payload.decode("utf-8")


def test_two_set_cookie_headers_arrive_as_two(server: SiteServer) -> None:
    cookie = EXPECTED["cookie"]
    resp, _ = get(server, cookie["path"])
    assert resp.msg.get_all("Set-Cookie") == cookie["set_cookie"]
    head = server.sent_head[cookie["path"]]
    assert head.count(b"\r\nSet-Cookie: ") == 2


def test_redirect_chain(server: SiteServer) -> None:
    hops = EXPECTED["redirect"]["hops"]
    for path, status, location in hops:
        resp, _ = get(server, path)
        assert resp.status == status
        assert resp.getheader("Location") == location.replace("{base}", server.base_url)
    resp, body = get(server, EXPECTED["redirect"]["final"])
    assert resp.status == 200
    assert EXPECTED["body_sentences"][EXPECTED["redirect"]["final"]] in body.decode()


def test_unknown_path_is_404_with_html(server: SiteServer) -> None:
    resp, body = get(server, EXPECTED["not_found_path"])
    assert resp.status == 404
    assert resp.reason == "Not Found"
    assert resp.getheader("Content-Type").startswith("text/html")
    assert b"404" in body
    assert get(server, "/_site.json")[0].status == 404


def test_cp1251_page_bytes_are_cp1251(server: SiteServer) -> None:
    info = EXPECTED["cp1251"]
    resp, body = get(server, info["path"])
    assert resp.getheader("Content-Type") == "text/html"
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("cp1251")
    assert info["sentence"] in text
    assert info["sentence"].encode("cp1251") in body
    assert 'content="text/html; charset=windows-1251"' in text
    assert "<meta charset" not in text


def test_keep_alive_serves_two_requests_on_one_connection(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text("<p>first</p>")
    (tmp_path / "b.html").write_text("<p>second, longer</p>")
    with SiteServer(tmp_path) as srv, socket.create_connection(
        ("127.0.0.1", srv.port), timeout=10
    ) as sock:
        rfile = sock.makefile("rb")
        bodies = []
        for name in ("a", "b"):
            sock.sendall(f"GET /{name}.html HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status = rfile.readline()
            assert status == b"HTTP/1.1 200 OK\r\n"
            headers = {}
            while (line := rfile.readline()) != b"\r\n":
                key, _, value = line.decode().partition(":")
                headers[key.lower()] = value.strip()
            assert "connection" not in headers
            bodies.append(rfile.read(int(headers["content-length"])))
        assert bodies == [b"<p>first</p>", b"<p>second, longer</p>"]
        assert srv.connections == 1
        assert srv.paths == ["/a.html", "/b.html"]


def test_connection_close_is_honoured(server: SiteServer) -> None:
    data = raw_exchange(server.port, close_request("/robots.txt"))
    head, body = split_head(data)  # raw_exchange returned, so the server closed
    assert b"\r\nConnection: close\r\n" in head
    assert body.startswith(b"User-agent: *")


def test_requests_log_query_string_and_headers(server: SiteServer) -> None:
    share = EXPECTED["seed_links"]["share"]
    get(server, share, headers={"X-Fixture-Probe": "yes"})
    method, target, headers = server.requests[-1]
    assert (method, target) == ("GET", share)
    assert "?u=" in target and "&via=fixture" in target
    assert ("X-Fixture-Probe", "yes") in headers
    assert share in server.paths


def test_base_placeholder_is_substituted(server: SiteServer) -> None:
    resp, body = get(server, EXPECTED["seed_path"])
    assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    text = body.decode()
    assert "{base}" not in text
    assert f'content="{server.base_url}{EXPECTED["seed_path"]}"' in text
    resp, body = get(server, "/robots.txt")
    assert f"Sitemap: {server.base_url}/sitemap.xml" in body.decode()


def test_head_sends_headers_only(server: SiteServer) -> None:
    resp, body = get(server, EXPECTED["seed_path"], method="HEAD")
    assert resp.status == 200 and body == b""
    assert int(resp.getheader("Content-Length")) > 1000
    assert server.sent[EXPECTED["seed_path"]] == b""


def test_pdf_and_directory_handling(server: SiteServer) -> None:
    resp, body = get(server, EXPECTED["pdf_path"])
    assert resp.getheader("Content-Type") == "application/pdf"
    assert body.startswith(b"%PDF-1.") and body.rstrip().endswith(b"%%EOF")
    resp, _ = get(server, "/world")
    assert (resp.status, resp.getheader("Location")) == (301, "/world/")
    resp, body = get(server, "/world/")
    assert resp.status == 200 and b"<h1>World</h1>" in body


# --- options declared in _site.json -------------------------------------------------


def test_site_json_options(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<p>hello {base}</p>" * 50)
    (tmp_path / "_site.json").write_text(json.dumps({
        "/odd": {"status": 200, "reason": "", "body": "odd", "content_type": "text/plain"},
        "/down": {"status": 503, "body": "try later",
                  "headers": [["Retry-After", "120"], ["X-A", "1"], ["X-A", "2"]]},
        "/both": {"file": "page.html", "gzip": True, "chunked": True, "chunks": 4},
        "/tagged": {"file": "page.html", "etag": '"v1"'},
        "/go?x=1": {"redirect": "{base}/page.html", "status": 307},
    }))
    with SiteServer(tmp_path) as srv:
        head, body = split_head(raw_exchange(srv.port, close_request("/odd")))
        assert head.startswith(b"HTTP/1.1 200 \r\n") and body == b"odd"

        resp, body = get(srv, "/down")
        assert (resp.status, resp.reason, body) == (503, "Service Unavailable", b"try later")
        assert resp.msg.get_all("X-A") == ["1", "2"]
        head = srv.sent_head["/down"].decode()
        assert head.index("Retry-After") < head.index("X-A: 1") < head.index("X-A: 2")

        head, body = split_head(raw_exchange(srv.port, close_request("/both")))
        payload, chunks = dechunk(body)
        assert chunks == 4 and b"Content-Encoding: gzip" in head
        assert payload == srv.sent["/both"]
        assert gzip.decompress(payload).decode().startswith(f"<p>hello {srv.base_url}</p>")

        resp, _ = get(srv, "/tagged")
        assert resp.getheader("ETag") == '"v1"'
        resp, body = get(srv, "/tagged", headers={"If-None-Match": '"v1"'})
        assert (resp.status, body) == (304, b"")

        resp, _ = get(srv, "/go?x=1")
        assert (resp.status, resp.getheader("Location")) == (307, f"{srv.base_url}/page.html")
        assert get(srv, "/go")[0].status == 404


def test_restart_keeps_port_and_logs(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("home")
    srv = SiteServer(tmp_path).start()
    port = srv.port
    assert srv.base_url == f"http://127.0.0.1:{port}"
    get(srv, "/")
    srv.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    srv.start()
    try:
        assert srv.port == port
        assert get(srv, "/")[1] == b"home"
        assert srv.paths == ["/", "/"]
    finally:
        srv.stop()


# --- fixture data consistency ---------------------------------------------------------


def norm(title: str) -> str:
    title = title.translate(str.maketrans("“”‘’", "\"\"''"))
    return " ".join(re.sub(r"[^\w\s]", " ", title.lower()).split())


def test_expected_json_matches_the_site() -> None:
    for path, info in EXPECTED["articles"].items():
        raw = (SITE / path.lstrip("/")).read_bytes()
        enc = "cp1251" if path == EXPECTED["cp1251"]["path"] else "utf-8"
        text = raw.decode(enc)
        assert info["sentence"] in text and "<h1 class=\"headline\">" in text
        for boiler in EXPECTED["boilerplate"]:
            assert boiler in re.sub(r"<[^>]+>", "", text)
    seed_page = (SITE / EXPECTED["seed_path"].lstrip("/")).read_text("utf-8")
    anchors = {h: norm(t) for h, t in re.findall(r'<a href="([^"]+)">([^<]+)</a>', seed_page)}
    for rel in EXPECTED["related"]:
        assert anchors[rel["path"]] == norm(rel["title"]) == norm(rel["seed_title"])
    assert norm(EXPECTED["unmatched_title"]) not in anchors.values()
    for link in EXPECTED["seed_links"].values():
        assert f'href="{link.replace("&", "&amp;")}"' in seed_page
    assert not (SITE / EXPECTED["not_found_path"].lstrip("/")).exists()
    robots = (SITE / "robots.txt").read_text()
    assert f"Disallow: {EXPECTED['robots_disallow']}" in robots
    assert EXPECTED["private_path"].startswith(EXPECTED["robots_disallow"])


def test_seed_documents() -> None:
    seed = (SITE / "seed.txt").read_text("utf-8")
    lines = seed.splitlines()
    related = [ln.removeprefix("Related article: ") for ln in lines
               if ln.startswith("Related article: ")]
    assert related == [r["seed_title"] for r in EXPECTED["related"]] + [
        EXPECTED["unmatched_title"]]
    block = lines[lines.index("Original url:") + 1 :]
    assert block[0] == "{base}" + EXPECTED["seed_path"]
    tail = EXPECTED["long_wrap_tail"]
    assert tail.startswith("-slug-") and tail in lines
    wrapped = lines[lines.index(tail) - 1] + tail
    assert wrapped == "{base}" + EXPECTED["long_path"]

    demo_seed = (DEMO / "seed.txt").read_text("utf-8")
    demo_lines = demo_seed.splitlines()
    urls = [ln for ln in demo_lines if ln.startswith("{base}/")]
    titles = [ln.removeprefix("Related article: ") for ln in demo_lines
              if ln.startswith("Related article: ")]
    assert len(urls) == 2 and len(titles) == 3
    first = (DEMO / "site" / urls[0].removeprefix("{base}/")).read_text("utf-8")
    anchors = [norm(t) for t in re.findall(r'<a href="[^"]+">([^<]+)</a>', first)]
    assert all(norm(t) in anchors for t in titles)


def test_demo_site_serves(tmp_path: Path) -> None:
    options = json.loads((DEMO / "site" / "_site.json").read_text("utf-8"))
    gz = next(p for p, o in options.items() if o.get("gzip"))
    redirect = next(p for p, o in options.items() if "redirect" in o)
    with SiteServer(DEMO / "site") as srv:
        resp, body = get(srv, gz)
        assert resp.getheader("Content-Encoding") == "gzip"
        assert b"Harbour Town Herald" in gzip.decompress(body)
        resp, _ = get(srv, redirect)
        assert resp.status == 301
        assert get(srv, resp.getheader("Location"))[0].status == 200
        articles = re.findall(r'href="(/2024/[^"]+)"', get(srv, "/")[1].decode())
        assert len(set(articles)) == 12
