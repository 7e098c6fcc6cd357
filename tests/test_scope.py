"""Scope safety: no listening socket unless asked, no non-http(s) scheme, no other domains, and
no private address reached through a link or redirect when the policy says so."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsarchive.base.urls import normalize_url
from newsarchive.capture.addresses import AddressPolicy, is_private_host, is_public_address
from newsarchive.cli import build_parser
from newsarchive.crawl.seeds import load_seeds
from tests.conftest import NEWSARCHIVE, ROOT, CrawlRun, run_newsarchive
from tests.hostile_server import HostileServer, article, fixed, redirect

ARTICLE_PATH = "/2024/05/01/{}-a10001.html"


# -- listening sockets -----------------------------------------------------------------------
def listening() -> dict[int, tuple[str, int]]:
    """Socket inode -> (address, port) of every listening TCP socket on this host."""
    found = {}
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            address, port = fields[1].split(":")
            raw = bytes.fromhex(address)
            if width == 4:
                host = str(ipaddress.IPv4Address(raw[::-1]))
            else:  # four little-endian 32-bit words
                host = str(ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1]
                                                          for i in range(0, 16, 4))))
            found[int(fields[9])] = (host, int(port, 16))
    return found


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                pids.append(int(entry))
    return pids


def listening_sockets_of(pids: list[int]) -> set[tuple[str, int]]:
    table = listening()
    return {table[inode] for pid in pids for inode in socket_inodes(pid) if inode in table}


def watch_crawl(*args: str) -> tuple[set[tuple[str, int]], subprocess.Popen]:
    """Run a crawl in its own process group and collect the sockets it listens on."""
    process = subprocess.Popen(
        [*NEWSARCHIVE, "crawl", *args], cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen: set[tuple[str, int]] = set()
    deadline = time.monotonic() + 60
    try:
        while process.poll() is None and time.monotonic() < deadline:
            seen |= listening_sockets_of(group_pids(process.pid))
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return seen, process


@pytest.fixture(scope="module")
def server():
    with HostileServer() as hostile:
        yield hostile


def test_socket_watch_sees_a_listening_socket(server):
    assert ("127.0.0.1", server.port) in listening_sockets_of([os.getpid()])


def test_crawl_opens_no_listening_socket(server, tmp_path):
    seen, process = watch_crawl(
        server.url("/trickle"), server.url("/ok"), "-o", str(tmp_path / "out"),
        "--ignore-robots", "-s", "DOWNLOAD_TIMEOUT=3",
    )
    assert process.returncode == 0, process.stderr.read()
    assert seen == set()


def test_consoles_when_asked_are_local_and_need_credentials(server, tmp_path):
    process = subprocess.Popen(
        [*NEWSARCHIVE, "crawl", server.url("/trickle"), "-o", str(tmp_path / "out"),
         "--ignore-robots", "-s", "DOWNLOAD_TIMEOUT=6", "-s", "TELNETCONSOLE_ENABLED=True",
         "-s", "TELNETCONSOLE_PORT=6090,6099", "-s", "REMOTE_CONTROL_ENABLED=True"],
        cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    # Scrapy < 2.19 has no remote-control console: the telnet console alone listens there
    consoles = 2 if importlib.util.find_spec("scrapy.extensions.remote_control") else 1
    try:
        seen: set[tuple[str, int]] = set()
        deadline = time.monotonic() + 30
        while len(seen) < consoles and process.poll() is None and time.monotonic() < deadline:
            seen = listening_sockets_of(group_pids(process.pid))
            time.sleep(0.05)
        assert len(seen) == consoles, (seen, process.poll())
        assert {host for host, _ in seen} == {"127.0.0.1"}
        telnet = next(port for _, port in seen if 6090 <= port <= 6099)
        reply = telnet_login(telnet, b"scrapy", b"not-the-password")
        assert b"Username:" in reply and b"Password:" in reply and b">>>" not in reply
        for remote in (port for _, port in seen if port != telnet):
            with socket.create_connection(("127.0.0.1", remote), timeout=3) as connection:
                connection.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert _read_some(connection).startswith(b"HTTP/1.1 401")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert build_parser().parse_args(["replay"]).host == "127.0.0.1"  # replay: local by default


def telnet_login(port: int, user: bytes, password: bytes) -> bytes:
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as connection:
        for answer in (user, password, b"print(1+1)"):
            received += _read_some(connection)
            connection.sendall(answer + b"\r\n")
        received += _read_some(connection)
    return received


def _read_some(connection: socket.socket) -> bytes:
    data = b""
    connection.settimeout(0.5)
    try:
        while chunk := connection.recv(4096):
            data += chunk
    except (TimeoutError, OSError):
        pass
    return data


# -- schemes, domains, private addresses -------------------------------------------------------
@pytest.fixture(scope="module")
def private_server():
    """A server on 127.0.0.2: a crawl must reach it only when the address policy allows."""
    with HostileServer("127.0.0.2") as inner:
        inner.routes[ARTICLE_PATH.format("inside")] = fixed(
            "200 OK", article("Inside the network"), "Content-Type: text/html"
        )
        yield inner


@pytest.fixture(scope="module")
def scoped_site(server, private_server) -> HostileServer:
    inner = private_server.url(ARTICLE_PATH.format("inside"))
    via_localhost = f"http://localhost:{server.port}" + ARTICLE_PATH.format("via-localhost")
    links = [
        inner, via_localhost,
        "file:///etc/passwd", "javascript:alert(1)//2024/05/01/x-a10001",
        "data:text/html,<b>2024/05/01/x-a10001</b>", "ftp://127.0.0.1/2024/05/01/ftp-a10001",
        "mailto:desk@example.org", "http://other.example.org" + ARTICLE_PATH.format("elsewhere"),
        "http://user:secret@127.0.0.1/2024/05/01/credentials-a10001.html",
    ]
    body = "".join(f'<p><a href="{link}">Read more</a></p>' for link in links)
    page = article("Scope start").replace(b"</article>", body.encode() + b"</article>")
    server.routes["/scope/start"] = fixed("200 OK", page, "Content-Type: text/html")
    server.routes["/scope/redirect"] = redirect(private_server.url(ARTICLE_PATH.format("inside")))
    server.routes["/scope/offsite"] = redirect(
        "http://other.example.org" + ARTICLE_PATH.format("redirected")
    )
    server.routes[ARTICLE_PATH.format("via-localhost")] = fixed(
        "200 OK", article("Via localhost"), "Content-Type: text/html"
    )
    return server


def scope_crawl(server, tmp_path: Path, *settings: str, robots: bool = False) -> CrawlRun:
    return run_newsarchive(
        "crawl", server.url("/scope/start"), server.url("/scope/redirect"),
        server.url("/scope/offsite"), "-o", str(tmp_path / "out"),
        *(() if robots else ("--ignore-robots",)),
        "--allow-domain", "127.0.0.2", "--allow-domain", "localhost", *settings,
    )


def test_private_addresses_blocked_through_links_and_redirects(scoped_site, private_server,
                                                               tmp_path):
    before = sum(private_server.hits.values())
    robots_before = scoped_site.hits["/robots.txt"]
    run = scope_crawl(
        scoped_site, tmp_path, "-s", "NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=True", robots=True
    )
    assert "Traceback" not in run.stderr
    assert scoped_site.hits["/robots.txt"] > robots_before  # the seed host's own robots.txt
    assert sum(private_server.hits.values()) == before  # never connected to 127.0.0.2
    assert scoped_site.hits[ARTICLE_PATH.format("via-localhost")] == 0
    lines = {line["url"]: line for line in run.jsonl_lines()}
    assert lines[scoped_site.url("/scope/start")]["status"] == 200  # a private seed is fetched
    blocked = [line for line in lines.values() if line["error"] and "non-public" in line["error"]]
    assert {urlpath(line["url"]) for line in blocked} >= {
        ARTICLE_PATH.format("inside"), "/scope/redirect", ARTICLE_PATH.format("via-localhost")
    }


def test_same_crawl_reaches_private_addresses_when_seeds_are_private(scoped_site,
                                                                      private_server, tmp_path):
    before = private_server.hits[ARTICLE_PATH.format("inside")]
    run = scope_crawl(scoped_site, tmp_path)  # default: private seeds switch the block off
    assert private_server.hits[ARTICLE_PATH.format("inside")] > before, run.stderr[-2000:]


def test_non_http_schemes_and_other_domains_never_fetched(scoped_site, tmp_path):
    run = scope_crawl(scoped_site, tmp_path, "-s", "NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=False")
    urls = {line["url"] for line in run.jsonl_lines()}
    assert not any(url.split(":")[0] not in ("http", "https") for url in urls)
    assert not any("other.example.org" in url or "@" in url for url in urls)
    assert not any(path.startswith(("/2024/05/01/credentials", "/2024/05/01/x-"))
                   for path, _ in scoped_site.requests)
    line = next(x for x in run.jsonl_lines() if x["url"].endswith("/scope/offsite"))
    assert line["status"] == 302 and "leaves the allowed domains" in line["error"]
    assert line["warc"]["response"] is not None  # the redirect itself is archived


def urlpath(url: str) -> str:
    return "/" + url.split("/", 3)[3]


# -- the policy itself --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "127.0.0.2", "0.0.0.0",
     "100.64.0.1", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3"],
)
def test_non_public_addresses(address):
    assert not is_public_address(ipaddress.ip_address(address))
    assert is_private_host(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses(address):
    assert is_public_address(ipaddress.ip_address(address))
    assert not is_private_host(address)


@pytest.mark.parametrize(
    ("host", "private"),
    [("localhost", True), ("intranet", True), ("printer.local", True), ("db.internal", True),
     ("app.localhost", True), ("router.home.arpa", True), ("[::1]", True),
     ("www.example.com", False), ("news.example.co.uk", False)],
)
def test_private_host_names(host, private):
    assert is_private_host(host) is private


class _Spider:
    def __init__(self, *hosts: str):
        self.seed_hosts = set(hosts)


class _Crawler:
    def __init__(self, *hosts: str):
        self.spider = _Spider(*hosts)


def _request(via: str | None, redirects: int = 0):
    from scrapy import Request

    meta = {"redirect_times": redirects} if redirects else {}
    if via:
        meta["newsarchive_via"] = via
    return Request("http://example.com/2024/05/01/a-a10001.html", meta=meta)


def test_policy_decisions():
    private = ipaddress.ip_address("10.0.0.7")
    public = ipaddress.ip_address("93.184.216.34")
    auto_public = AddressPolicy(_Crawler("www.example.com"))
    assert auto_public.refusal(private, _request("related-link")) is not None
    assert auto_public.refusal(private, _request("seed", redirects=1)) is not None
    assert auto_public.refusal(private, _request(None)) is not None  # robots.txt, requisites
    assert auto_public.refusal(private, _request("seed")) is None  # the seed as given
    assert auto_public.refusal(public, _request("related-link")) is None
    auto_private = AddressPolicy(_Crawler("127.0.0.1"))
    assert auto_private.refusal(private, _request("related-link")) is None
    forced = AddressPolicy(_Crawler("127.0.0.1"), block_private=True)
    assert forced.refusal(private, _request("related-link")) is not None
    off = AddressPolicy(_Crawler("www.example.com"), block_private=False)
    assert off.refusal(private, _request("related-link")) is None


# -- bad input ------------------------------------------------------------------------------
BAD_LINES = [
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:text/html,<b>x</b>",
    "http://user:secret@127.0.0.1/2024/05/01/a-a10001.html",
    "http://exa mple.com/",
    "http://xn--zz.com/",
    "http://[::1/",
    "ftp://example.org/file",
    "http://127.0.0.1:99999/port-out-of-range",
]


def test_bad_seed_files_warn_with_file_and_line_never_a_traceback(server, tmp_path):
    invalid = tmp_path / "invalid.txt"
    invalid.write_text("\n".join([*BAD_LINES, server.url("/ok")]) + "\n")
    binary = tmp_path / "photo.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    huge = tmp_path / "huge.txt"
    with open(huge, "w") as stream:  # ~6 MB of junk lines, then one good URL
        for number in range(150_000):
            stream.write(f"not a url {number} javascript:void(0) file:///x\n")
        stream.write(server.url("/no-reason") + "\n")
    started = time.monotonic()
    run = run_newsarchive(
        "crawl", str(invalid), str(binary), str(empty), str(huge), str(tmp_path / "missing.txt"),
        "-o", str(tmp_path / "out"), "--depth", "0", "--ignore-robots",
    )
    assert time.monotonic() - started < 120
    assert run.returncode == 3, run.stderr[-3000:]  # invalid seeds: a partial run
    assert "Traceback" not in run.stderr
    for number in range(1, len(BAD_LINES) + 1):
        assert f"invalid.txt:{number}:" in run.stderr, number
    for expected in ("unsupported scheme 'file'", "unsupported scheme 'javascript'",
                     "unsupported scheme 'data'", "credentials"):
        assert expected in run.stderr
    assert "photo.txt: not a seed file (binary file)" in run.stderr
    assert "empty.txt: empty file, no seeds" in run.stderr
    assert "missing.txt: no such file" in run.stderr
    assert "huge.txt:1:" in run.stderr and "more" in run.stderr  # warnings capped, not 150 000
    assert "user:***@127.0.0.1" in run.stderr and "user:secret@" not in run.stderr
    assert {line["url"] for line in run.jsonl_lines()} == {
        server.url("/ok"), server.url("/no-reason")
    }


def test_only_bad_seeds_is_a_clear_fatal_error(tmp_path):
    invalid = tmp_path / "invalid.txt"
    invalid.write_text("\n".join(BAD_LINES) + "\n")
    run = run_newsarchive("crawl", str(invalid), "-o", str(tmp_path / "out"))
    assert run.returncode == 1 and "no usable seed" in run.stderr
    assert "Traceback" not in run.stderr and "invalid.txt:1:" in run.stderr


_seed_lines = st.lists(
    st.one_of(st.sampled_from([*BAD_LINES, "http://bücher.example/ä%7e?q=ü#x",
                               "https://EXAMPLE.com:443/%7Efoo/../a%2fb", "Original url:",
                               "Related article: x", "http://example.com/ok-12345"]),
              st.text(max_size=40)),
    max_size=30,
)


@given(_seed_lines, st.sampled_from(["\n", "\r\n"]))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_seed_files_fuzzed_warn_by_line(tmp_path_factory, lines, newline):
    path = tmp_path_factory.mktemp("seeds") / "fuzz.txt"
    text = newline.join(lines)
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    seeds, warnings = load_seeds([str(path)])
    for seed in seeds:
        assert normalize_url(seed.url) == seed.url
    for warning in warnings:
        where = warning.where.removeprefix(str(path))
        assert where == "" or where.startswith(":")
        if where[1:].isdigit():
            assert 1 <= int(where[1:]) <= len(text.splitlines()) + 1
