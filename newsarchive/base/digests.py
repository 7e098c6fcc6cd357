"""Digest formatting: the one place newsarchive spells a digest.

Digests are written as ``sha1:<BASE32>``, the form warcio uses for ``WARC-Block-Digest`` and
``WARC-Payload-Digest``, so JSONL ``payload_digest``/``text_digest`` compare directly with WARC
headers and CDXJ ``digest`` fields.
"""

import base64
import hashlib


def sha1_digest(data: bytes) -> str:
    """Return ``"sha1:" + BASE32(SHA-1(data))``."""
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")
