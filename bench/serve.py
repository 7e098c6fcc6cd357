"""Serve a generated site on 127.0.0.1: nginx when installed, else a threaded Python server.

Either way the server runs in its own process (outside the measured process trees) and serves
the pre-gzipped ``.gz`` copies to clients that accept gzip, like nginx's ``gzip_static``.
``python -m bench.serve ROOT [--port P]`` runs the Python fallback in the foreground.
"""

from __future__ import annotations

import argparse
import email.utils
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

NGINX = "/usr/sbin/nginx"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html;
        gzip_static on;
        gzip_vary on;
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server not listening on port {port} after {timeout:g}s")


class SiteServer:
    """Serve ``root`` on a 127.0.0.1 port (``port``, else a free one) in a child process
    (``with`` or start/stop)."""

    def __init__(self, root: Path, prefer_nginx: bool = True, port: int = 0):
        self.root = root.resolve()
        self.use_nginx = prefer_nginx and os.access(NGINX, os.X_OK)
        self.wanted_port = port
        self.port = 0
        self.kind = ""
        self.process: subprocess.Popen | None = None
        self._tmp: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SiteServer:
        self.port = self.wanted_port or free_port()
        if self.use_nginx:
            self._start_nginx()
        else:
            self._start_python()
        assert self.process is not None
        _wait_listening(self.port, self.process)
        return self

    def _start_nginx(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="bench-nginx-")
        conf = Path(self._tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=self._tmp, port=self.port, root=self.root))
        version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
        self.kind = f"nginx ({version.split(':', 1)[-1].strip()}, gzip_static, 1 process)"
        self.process = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", self._tmp, "-e", f"{self._tmp}/error.log"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _start_python(self) -> None:
        self.kind = "threaded Python server (bench.serve; nginx not installed)"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", str(self.root), "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parent.parent,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- the Python fallback ---------------------------------------------------------------------


class StaticHandler(BaseHTTPRequestHandler):
    """GET/HEAD of static files, keep-alive, ``.gz`` siblings for gzip-accepting clients."""

    protocol_version = "HTTP/1.1"
    server_version = "bench-static/1"
    root: Path = Path(".")

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve(head_only=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head_only=True)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: no access log."""

    def _serve(self, head_only: bool) -> None:
        path = self._resolve(unquote(urlsplit(self.path).path))
        if path is None:
            self._send(404, b"not found\n", "text/plain", None, head_only)
            return
        content_type = _TYPES.get(path.suffix, "application/octet-stream")
        gz = path.with_name(path.name + ".gz")
        accepts = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if accepts and gz.is_file():
            self._send(200, gz.read_bytes(), content_type, "gzip", head_only, path)
        else:
            self._send(200, path.read_bytes(), content_type, None, head_only, path)

    def _resolve(self, url_path: str) -> Path | None:
        target = (self.root / url_path.lstrip("/")).resolve()
        if not target.is_relative_to(self.root):
            return None
        if target.is_dir():
            target = target / "index.html"
        return target if target.is_file() else None

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        encoding: str | None,
        head_only: bool,
        path: Path | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if path is not None:
            modified = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
            self.send_header("Last-Modified", modified)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        if not head_only:
            self.wfile.write(body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("root", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    StaticHandler.root = args.root.resolve()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), StaticHandler)
    server.daemon_threads = True
    print(f"serving {args.root} on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
