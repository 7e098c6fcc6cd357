"""One HTTP exchange as it crossed the wire: what the download handler hands to the WARC writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

FRAMING_HEADERS = (b"transfer-encoding", b"content-length")


@dataclass
class Exchange:
    """Raw bytes of one request and its response.

    ``response_headers`` keeps every header line as received: original case, order and repeats.
    ``body`` is the payload after transfer decoding (chunk framing removed) but still
    content-encoded (a gzip body stays gzip).
    """

    url: str
    started: datetime
    request_head: bytes
    request_body: bytes = b""
    ip_address: str | None = None  # the origin's; None through a proxy (docs/proxies.md)
    proxy: str | None = None  # the proxy it went through, without credentials
    http_version: str = "1.1"
    status: int = 0
    reason: str = ""
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    truncated: str | None = None  # WARC-Truncated reason: length | time | disconnect
    error: str | None = None  # why a response that arrived is still not whole, in words
    complete: bool = False  # a full response (status line and headers at least) was received
    latency: float | None = None  # seconds from the start until the response head arrived

    def header(self, name: bytes) -> bytes | None:
        lname = name.lower()
        for key, value in self.response_headers:
            if key.lower() == lname:
                return value
        return None

    def stored_head(self) -> bytes:
        """Status line and headers as they describe the stored body.

        Headers are kept byte for byte, except framing headers that would lie about the stored
        bytes: ``Transfer-Encoding`` (the body is stored de-chunked) and a ``Content-Length`` that
        differs from the stored length (a capped body or a lying server). Those are kept under an
        ``X-Archive-Orig-`` name, the convention replay tools already understand.
        """
        status_line = f"HTTP/{self.http_version} {self.status}"
        if self.reason:
            status_line += f" {self.reason}"
        lines = [status_line.encode("latin-1")]
        for name, value in self.response_headers:
            lines.append(self._stored_header(name, value))
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def _stored_header(self, name: bytes, value: bytes) -> bytes:
        lname = name.lower()
        if lname == b"transfer-encoding" or (
            lname == b"content-length" and value.strip() != str(len(self.body)).encode()
        ):
            return b"X-Archive-Orig-" + name + b": " + value
        return name + b": " + value
