"""Helpers for tests that run ``newsarchive replay`` for real: start it, speak raw HTTP to it,
stand a recording listener in for a live site, drive a headless Chromium."""

from __future__ import annotations

import http.client
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPLAY_HOST = "replay.localhost"


def have_chromium() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def require_chromium(module_level: bool = False) -> None:
    """Skip the test (or module) without chromium and chromedriver; under CI, fail instead."""
    if have_chromium():
        return
    if os.environ.get("CI"):
        raise RuntimeError("CI needs chromium and chromium-driver (.ci/run installs them)")
    pytest.skip("chromium / chromedriver not installed", allow_module_level=module_level)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@dataclass
class ReplayServer:
    app: str  # http://127.0.0.1:PORT
    replay: str  # http://replay.localhost:PORT
    process: subprocess.Popen


@contextmanager
def replay_server(output: Path, cache: Path, *extra: str) -> Iterator[ReplayServer]:
    """``newsarchive replay -o output`` on free ports, stopped on exit."""
    app_port, replay_port = free_ports(2)
    env = {**os.environ, "NEWSARCHIVE_REPLAY_CACHE": str(cache),
           "NEWSARCHIVE_REPLAY_HOST": REPLAY_HOST}
    process = subprocess.Popen(
        [sys.executable, "-m", "newsarchive.cli", "replay", "-o", str(output),
         "--port", str(app_port), "--replay-port", str(replay_port), *extra],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        app = f"http://127.0.0.1:{app_port}"
        wait_for(process, app + "/")
        yield ReplayServer(app, f"http://{REPLAY_HOST}:{replay_port}", process)
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_for(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"replay server exited: {process.stderr.read()}")
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("replay server did not start")


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
    """One raw HTTP request, redirects not followed. ``*.localhost`` names are reached the way
    a client without special resolution does: connect to 127.0.0.1 and send the Host header."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port or 80, timeout=10)
    target = url[len(f"{parts.scheme}://{parts.netloc}"):] or "/"
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": parts.netloc, **(headers or {})}
        for name, value in sent.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


class Listener:
    """Stands in for a live site on its port: logs every connection and every request line,
    answers 200 "live". Replay must leave it silent."""

    def __init__(self, port: int = 0):
        self.connections = 0
        self.requests: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with owner._lock:
                    owner.connections += 1
                self.connection.settimeout(5)
                try:
                    line = self.rfile.readline(65536).decode("latin-1").strip()
                except OSError:
                    return
                if not line:
                    return
                with owner._lock:
                    owner.requests.append(line)
                body = b"live"
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: 4\r\nConnection: close\r\n\r\n" + body)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def chromium(profile: Path, performance_log: bool = False):
    """A headless Chromium (popups not blocked, as a user who allows them); with
    `performance_log`, its network events readable through ``driver.get_log("performance")``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1280,1000", f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    if performance_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    return driver
