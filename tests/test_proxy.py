"""Proxies (docs/proxies.md) against real proxy servers started here.

tinyproxy (Debian's; .ci/run installs it): plain HTTP in absolute form and HTTPS in CONNECT
tunnels, with and without Basic authentication. mitmproxy's ``mitmdump`` (NEWSARCHIVE_TEST_MITMDUMP,
set by .ci/run, which installs mitmproxy into a venv of its own; else on PATH): a proxy that
intercepts TLS with a CA of its own. Each is skipped only when it is not installed.
Origins: the fixture site over HTTP, and the same site over HTTPS behind a TLS front with a
self-signed certificate made here.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import gzip
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler
from warcio.archiveiterator import ArchiveIterator

from newsarchive.base.exitcodes import EXIT_PARTIAL
from newsarchive.base.meta import EXCHANGE_META_KEY, VIA_META_KEY
from newsarchive.capture.http_handler import (
    BlockedAddressError,
    ProxyRefusedError,
    RawCaptureDownloadHandler,
)
from newsarchive.capture.proxies import ProxySelector
from newsarchive.demo.server import SiteServer
from tests.components.support import build_crawler
from tests.conftest import SITE, CrawlRun, run_newsarchive

TINYPROXY = "/usr/bin/tinyproxy"
PAGE = "/2024/05/01/harbour-expansion-approved-a10001.html"
CHUNKED = "/2024/04/29/ferry-operators-welcome-new-berths-a10003.html"
COOKIES = "/2024/04/30/fishermen-fear-loss-of-moorings-a10004.html"
USER, PASSWORD = "archivist", "s3cret-pw"
NO_PROXY_ENV = {name: "" for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
NO_PROXY_ENV.update({name.upper(): "" for name in NO_PROXY_ENV})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


# --- servers ----------------------------------------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "origin.pem", directory / "origin.key"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


class TlsFront:
    """HTTPS on a port of its own in front of a plain-HTTP server: TLS ends here and the bytes
    go on unchanged, so the server's request log is the HTTPS origin's."""

    def __init__(self, backend_port: int, certfile: Path, keyfile: Path) -> None:
        self.backend_port = backend_port
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certfile, keyfile)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.base_url = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(client, server_side=True)
            backend = socket.create_connection(("127.0.0.1", self.backend_port))
        except OSError:
            client.close()
            return
        threading.Thread(target=_pump, args=(backend, tls), daemon=True).start()
        _pump(tls, backend)

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    for sock in (source, target):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Tinyproxy:
    """tinyproxy in the foreground on a free port, logging every request to ``log``."""

    def __init__(self, directory: Path, auth: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.log = directory / "tinyproxy.log"
        lines = [
            f"Port {self.port}", "Listen 127.0.0.1", "Allow 127.0.0.1", "Timeout 30",
            f'LogFile "{self.log}"', "LogLevel Connect", "MaxClients 50",
        ]
        if auth:
            lines.append(f"BasicAuth {auth[0]} {auth[1]}")
        config = directory / "tinyproxy.conf"
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            [TINYPROXY, "-d", "-c", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, "tinyproxy")
        self.url = f"http://127.0.0.1:{self.port}"

    def requests(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_tinyproxy(directory: Path, auth: tuple[str, str] | None = None) -> Tinyproxy:
    if not Path(TINYPROXY).exists():
        pytest.skip("tinyproxy is not installed (apt-get install tinyproxy)")
    return Tinyproxy(directory, auth)


@pytest.fixture(scope="module")
def https_site(site: SiteServer, tmp_path_factory) -> Iterator[TlsFront]:
    front = TlsFront(site.port, *self_signed(tmp_path_factory.mktemp("tls")))
    yield front
    front.close()


@pytest.fixture(scope="module")
def open_proxy(tmp_path_factory) -> Iterator[Tinyproxy]:
    proxy = start_tinyproxy(tmp_path_factory.mktemp("tinyproxy"))
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory) -> Iterator[Tinyproxy]:
    proxy = start_tinyproxy(tmp_path_factory.mktemp("tinyproxy-auth"), (USER, PASSWORD))
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def direct_site() -> Iterator[SiteServer]:
    """A second origin, named in no_proxy."""
    with SiteServer(SITE) as server:
        yield server


# --- crawls through the CLI -------------------------------------------------------------------


def crawl(work: Path, seeds: list[str], *options: str, env: dict[str, str]) -> CrawlRun:
    seed_file = work / "seeds.txt"
    seed_file.write_text("".join(f"{seed}\n" for seed in seeds))
    return run_newsarchive(
        "crawl", str(seed_file), "-o", str(work / "out"), "--depth", "0", *options,
        env={**NO_PROXY_ENV, **env},
    )


def warc_records(run: CrawlRun) -> list:
    found = []
    for path in run.warc_files():
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                found.append((record, record.content_stream().read()))
    return found


def records_of(run: CrawlRun, url: str, rec_type: str) -> list:
    return [
        (record, payload) for record, payload in warc_records(run)
        if record.rec_type == rec_type and record.rec_headers.get_header("WARC-Target-URI") == url
    ]


def site_headers(site: SiteServer, path: str) -> list[dict[str, str]]:
    return [dict(headers) for _, target, headers in site.requests if target == path]


@pytest.fixture(scope="module")
def env_crawl(site, https_site, direct_site, open_proxy, tmp_path_factory) -> CrawlRun:
    """http_proxy/https_proxy/no_proxy from the environment, as wget or Scrapy read them."""
    site.clear()
    seeds = [site.base_url + PAGE, https_site.base_url + CHUNKED, direct_site.base_url + COOKIES]
    return crawl(
        tmp_path_factory.mktemp("env-crawl"), seeds,
        env={
            "http_proxy": open_proxy.url,
            "https_proxy": open_proxy.url,
            "no_proxy": f"localhost,127.0.0.1:{direct_site.port}",
        },
    )


def test_environment_proxy_carries_http_and_tunnels_https(
    env_crawl, site, https_site, direct_site, open_proxy
):
    assert env_crawl.returncode == 0, env_crawl.stderr[-3000:]
    lines = {line["url"]: line for line in env_crawl.jsonl_lines()}
    assert {line["status"] for line in lines.values()} == {200}
    # plain HTTP: the proxy forwarded it (tinyproxy adds its Via) and logged the absolute URL
    [via_proxy] = site_headers(site, PAGE)
    assert "tinyproxy" in via_proxy.get("Via", "")
    log = open_proxy.requests()
    assert f"GET {site.base_url}{PAGE} HTTP/1.1" in log
    # HTTPS: a CONNECT tunnel, the request inside it not seen (nor changed) by the proxy
    assert f"CONNECT 127.0.0.1:{https_site.port} HTTP/1.1" in log
    [tunnelled] = site_headers(site, CHUNKED)
    assert "Via" not in tunnelled and tunnelled["Host"] == f"127.0.0.1:{https_site.port}"
    # no_proxy: the named host:port went direct
    [direct] = site_headers(direct_site, COOKIES)
    assert "Via" not in direct and f":{direct_site.port}" not in log


def test_warc_request_records_are_origin_form_without_the_proxy(
    env_crawl, site, https_site, direct_site
):
    for url, path, origin in (
        (site.base_url + PAGE, PAGE, site),
        (https_site.base_url + CHUNKED, CHUNKED, site),
        (direct_site.base_url + COOKIES, COOKIES, direct_site),
    ):
        [(request, _)] = records_of(env_crawl, url, "request")
        headers = request.http_headers  # warcio: protocol "GET", statusline "/path HTTP/1.1"
        assert f"{headers.protocol} {headers.statusline}" == f"GET {path} HTTP/1.1"
        assert headers.get_header("Proxy-Authorization") is None
        [(_, payload)] = records_of(env_crawl, url, "response")
        assert payload == origin.sent[path]
    # the proxy's address is not the origin's: WARC-IP-Address only for the direct fetch
    for url in (site.base_url + PAGE, https_site.base_url + CHUNKED):
        [(response, _)] = records_of(env_crawl, url, "response")
        assert response.rec_headers.get_header("WARC-IP-Address") is None
    [(direct, _)] = records_of(env_crawl, direct_site.base_url + COOKIES, "response")
    assert direct.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"


def test_proxied_archive_verifies(env_crawl):
    run = run_newsarchive("verify", "-o", str(env_crawl.output))
    assert run.returncode == 0, run.stdout[-2000:]


def test_proxy_recorded_in_warcinfo_and_manifest(env_crawl, open_proxy, direct_site):
    [warcinfo] = [body for r, body in warc_records(env_crawl) if r.rec_type == "warcinfo"]
    fields = dict(line.split(": ", 1) for line in warcinfo.decode().splitlines())
    assert fields["http-proxy"] == fields["https-proxy"] == open_proxy.url
    assert fields["no-proxy"] == f"localhost,127.0.0.1:{direct_site.port}"
    proxies = env_crawl.manifests()[0]["proxies"]
    assert proxies["used"] == [open_proxy.url] and proxies["http_proxy"] == open_proxy.url


@pytest.fixture(scope="module")
def auth_crawl(site, https_site, auth_proxy, tmp_path_factory) -> CrawlRun:
    """--proxy with credentials, debug logging on: they must show up nowhere."""
    seeds = [site.base_url + PAGE, https_site.base_url + COOKIES, site.base_url + "/r/old-url"]
    proxy = f"http://{USER}:{PASSWORD}@127.0.0.1:{auth_proxy.port}"
    return crawl(
        tmp_path_factory.mktemp("auth-crawl"), seeds, "--proxy", proxy, "-s", "LOG_LEVEL=DEBUG",
        env={},
    )


def test_credentials_reach_the_proxy_and_nothing_else(auth_crawl, site, https_site, auth_proxy):
    assert auth_crawl.returncode == 0, auth_crawl.stderr[-3000:]
    lines = {line["url"]: line for line in auth_crawl.jsonl_lines()}
    assert lines[site.base_url + PAGE]["status"] == lines[https_site.base_url + COOKIES]["status"]
    assert lines[https_site.base_url + COOKIES]["status"] == 200
    assert lines[site.base_url + "/r/old-url"]["final_url"] != site.base_url + "/r/old-url"
    log = auth_proxy.requests()
    assert f"CONNECT 127.0.0.1:{https_site.port}" in log and f"GET {site.base_url}{PAGE}" in log
    secrets = [
        PASSWORD.encode(),
        base64.b64encode(f"{USER}:{PASSWORD}".encode()),
        f"{USER}:{PASSWORD}".encode(),
    ]
    files = [path for path in auth_crawl.output.rglob("*") if path.is_file()]
    assert any(path.suffix == ".gz" for path in files)
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data += gzip.decompress(data)
        for secret in secrets:
            assert secret not in data, path
    for secret in secrets:
        assert secret.decode() not in auth_crawl.stderr + auth_crawl.stdout
    manifest = auth_crawl.manifests()[0]
    assert manifest["proxies"]["used"] == [f"http://{USER}:***@127.0.0.1:{auth_proxy.port}"]


def test_bad_proxy_option_is_a_usage_error(tmp_path):
    run = run_newsarchive(
        "crawl", "http://127.0.0.1:9/", "-o", str(tmp_path / "out"),
        "--proxy", "socks5://127.0.0.1:1080",
    )
    assert run.returncode == 2 and "--proxy" in run.stderr and "only http://" in run.stderr


# --- the download handler ---------------------------------------------------------------------


def download(crawler: Crawler, *requests: Request) -> list[Response | BaseException]:
    """Download ``requests`` in turn with one handler; an exception is returned, not raised."""

    async def scenario() -> list[Response | BaseException]:
        handler = build_from_crawler(RawCaptureDownloadHandler, crawler)
        results: list[Response | BaseException] = []
        try:
            for request in requests:
                try:
                    results.append(await handler.download_request(request))
                except Exception as exc:  # noqa: BLE001 - the test looks at it
                    results.append(exc)
        finally:
            await handler.close()
        return results

    return asyncio.run(scenario())


@pytest.fixture
def crawler(tmp_path: Path) -> Crawler:
    return build_crawler(tmp_path, NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=False)


def test_proxy_authentication_required_is_said_plainly(crawler, site, https_site, auth_proxy):
    plain = Request(site.base_url + PAGE, meta={"proxy": auth_proxy.url})
    tunnel = Request(https_site.base_url + PAGE, meta={"proxy": auth_proxy.url})
    wrong = Request(  # tinyproxy answers 401 to wrong credentials
        https_site.base_url + PAGE,
        meta={"proxy": f"http://{USER}:wrong@127.0.0.1:{auth_proxy.port}"},
    )
    errors = download(crawler, plain, tunnel, wrong)
    assert all(isinstance(error, ProxyRefusedError) for error in errors), errors
    assert str(errors[0]) == (
        f"the proxy {auth_proxy.url} refused the request: 407 Proxy Authentication "
        "Required (proxy authentication required: give them in the proxy URL, "
        "http://USER:PASSWORD@HOST:PORT)"
    )
    assert str(errors[1]).startswith(
        f"the proxy {auth_proxy.url} refused the tunnel to "
        f"127.0.0.1:{https_site.port}: 407"
    )
    assert str(errors[2]).startswith(
        f"the proxy http://{USER}:***@127.0.0.1:{auth_proxy.port} refused the tunnel "
        f"to 127.0.0.1:{https_site.port}: 401"
    )
    for request in (plain, tunnel, wrong):
        assert EXCHANGE_META_KEY not in request.meta  # the proxy's 407 is no page to archive


def test_a_refusing_proxy_is_not_asked_again(site, auth_proxy, tmp_path):
    """A 407 (no or wrong credentials) fails the page at once: retrying with the same
    credentials cannot help, so it is not retried (RETRY_TIMES notwithstanding)."""
    page = site.base_url + PAGE
    run = crawl(tmp_path, [page], "--proxy", auth_proxy.url, "--no-requisites", "-v",
                "-s", "RETRY_TIMES=3", env={})
    assert run.returncode == EXIT_PARTIAL, run.stderr
    (line,) = [line for line in run.jsonl_lines() if line["url"] == page]
    assert "407" in line["error"] and "proxy authentication required" in line["error"]
    assert "Retrying" not in run.stderr and "Gave up retrying" not in run.stderr
    assert "Traceback" not in run.stderr


def test_credentials_stay_out_of_the_request(crawler, site, auth_proxy):
    request = Request(
        site.base_url + PAGE, meta={"proxy": f"http://{USER}:{PASSWORD}@127.0.0.1:{auth_proxy.port}"}
    )
    [response] = download(crawler, request)
    assert isinstance(response, Response) and response.status == 200
    assert b"Proxy-Authorization" not in request.headers  # redirects and retries copy headers
    exchange = request.meta[EXCHANGE_META_KEY]
    assert exchange.request_head.startswith(f"GET {PAGE} HTTP/1.1\r\n".encode())
    assert b"Proxy-Authorization" not in exchange.request_head
    assert exchange.proxy == f"http://{USER}:***@127.0.0.1:{auth_proxy.port}"


def test_tunnelled_exchange_is_the_direct_one(crawler, site, https_site, open_proxy):
    direct = Request(https_site.base_url + PAGE)
    tunnelled = Request(https_site.base_url + PAGE, meta={"proxy": open_proxy.url})
    responses = download(crawler, direct, tunnelled)
    assert [r.status for r in responses] == [200, 200]  # type: ignore[union-attr]
    first, second = (request.meta[EXCHANGE_META_KEY] for request in (direct, tunnelled))
    assert first.request_head == second.request_head and first.body == second.body
    assert first.response_headers[1:] == second.response_headers[1:]  # all but the Date
    assert (first.ip_address, second.ip_address) == ("127.0.0.1", None)
    assert (first.proxy, second.proxy) == (None, open_proxy.url)


def test_meta_proxy_none_goes_direct(site, open_proxy, tmp_path):
    crawler = build_crawler(
        tmp_path, NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=False, NEWSARCHIVE_PROXY=open_proxy.url
    )
    site.clear()
    proxied, direct = Request(site.base_url + PAGE), Request(site.base_url + COOKIES)
    direct.meta["proxy"] = None  # Scrapy's convention
    download(crawler, proxied, direct)
    assert "Via" in site_headers(site, PAGE)[0] and "Via" not in site_headers(site, COOKIES)[0]


def test_environment_ignored_when_httpproxy_disabled(site, open_proxy, tmp_path, monkeypatch):
    monkeypatch.setenv("http_proxy", open_proxy.url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    site.clear()
    for enabled in (True, False):
        crawler = build_crawler(
            tmp_path / str(enabled), NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=False,
            HTTPPROXY_ENABLED=enabled,
        )
        download(crawler, Request(f"{site.base_url}{PAGE}?enabled={enabled}"))
    proxied, direct = (site_headers(site, f"{PAGE}?enabled={flag}")[0] for flag in (True, False))
    assert "tinyproxy" in proxied.get("Via", "") and "Via" not in direct


def test_no_proxy_entries():
    proxy = "http://proxy.example.net:3128"
    selector = ProxySelector({"http": proxy, "https": proxy}, "example.org, 10.0.0.1,host:8080")
    for url in ("http://www.example.org/", "https://example.org/", "http://10.0.0.1/a",
                "http://host:8080/"):
        assert selector.for_request(Request(url)) is None, url
    for url in ("http://host:8081/", "https://example.com/", "http://notexample.org/"):
        chosen = selector.for_request(Request(url))
        assert chosen is not None and (chosen.host, chosen.port) == ("proxy.example.net", 3128)
    assert ProxySelector({"http": proxy}, "*").for_request(Request("http://a.b/")) is None


def test_private_address_guard_through_a_proxy(site, open_proxy, tmp_path):
    crawler = build_crawler(
        tmp_path, NEWSARCHIVE_BLOCK_PRIVATE_ADDRESSES=True, NEWSARCHIVE_PROXY=open_proxy.url
    )
    site.clear()
    seed = Request(site.base_url + PAGE, meta={VIA_META_KEY: "seed"})
    linked = Request(site.base_url + COOKIES, meta={VIA_META_KEY: "related-link"})
    named = Request("http://intranet.internal/", meta={VIA_META_KEY: "related-link"})
    seed_response, *refusals = download(crawler, seed, linked, named)
    assert isinstance(seed_response, Response) and seed_response.status == 200
    assert all(isinstance(error, BlockedAddressError) for error in refusals), refusals
    assert "intranet.internal is a non-public address" in str(refusals[1])
    assert site.paths == [PAGE]  # the link never reached the proxy, nor the site behind it
    assert "intranet" not in open_proxy.requests()


# --- a proxy that intercepts TLS --------------------------------------------------------------


@pytest.fixture(scope="module")
def mitmdump(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    executable = os.environ.get("NEWSARCHIVE_TEST_MITMDUMP") or shutil.which("mitmdump")
    if not executable or not Path(executable).exists():
        pytest.skip("mitmdump is not installed (pip install mitmproxy; .ci/run does it)")
    port = free_port()
    directory = tmp_path_factory.mktemp("mitmproxy")
    output = directory / "flows.log"
    with open(output, "wb") as stream:
        process = subprocess.Popen(
            [
                executable, "--listen-host", "127.0.0.1", "--listen-port", str(port),
                "--set", f"confdir={directory}", "--ssl-insecure",  # the origin is self-signed
            ],
            stdout=stream, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, process, "mitmdump")
            yield f"http://127.0.0.1:{port}", output
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_tls_intercepting_proxy(crawler, site, https_site, mitmdump):
    proxy, flows = mitmdump
    request = Request(https_site.base_url + PAGE, meta={"proxy": proxy})
    [response] = download(crawler, request)
    assert isinstance(response, Response), response
    assert response.status == 200 and response.body == site.sent[PAGE]
    exchange = request.meta[EXCHANGE_META_KEY]
    assert exchange.request_head.startswith(f"GET {PAGE} HTTP/1.1\r\n".encode())
    deadline = time.monotonic() + 5
    while PAGE not in flows.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    # mitmproxy decrypted the exchange (it saw the path) and re-encrypted it to the origin
    assert f"GET {https_site.base_url}/2024/05/01/harbour" in flows.read_text()  # (cut there)
