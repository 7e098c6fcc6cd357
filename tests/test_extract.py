"""Tests of newsarchive.extract.analysis: decoding, trafilatura extraction, and the worker pool."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from newsarchive.base.digests import sha1_digest
from newsarchive.extract.analysis import checked_language, extract_page
from newsarchive.extract.decoding import decode_html
from newsarchive.extract.workers import ExtractionPool

URL = "https://www.example-news.com/2024/04/28/harbour-bridge-reopens?utm_source=feed"
KEYS = {
    "title", "author", "published", "language", "sitename", "description", "categories",
    "tags", "canonical_url", "text", "extraction_error", "text_digest", "encoding",
    "modified", "markdown", "word_count", "images", "access", "page_type", "extraction_warning",
}  # fmt: skip

PARAGRAPHS = [
    "The old harbour bridge reopened to traffic on Sunday morning after two years of repairs "
    "that cost the city more than forty million euros.",
    "Engineers replaced the rusted steel cables and rebuilt the deck, which had been closed to "
    "heavy lorries since a routine inspection found deep cracks in 2021.",
    "Residents on both banks welcomed the reopening, saying the detour through the industrial "
    "district had added half an hour to every journey.",
    "The mayor said the bridge would be inspected every six months from now on, and that a "
    "second crossing further upstream was still being planned.",
]
BOILERPLATE = [
    "We use cookies to improve your experience",
    "Politics section",
    "Sport section",
    "Copyright 2024 Example News Ltd",
    "Imprint and privacy policy",
]

ARTICLE = f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8">
<title>Harbour bridge reopens after repairs | Example News</title>
<meta name="author" content="Jane Doe">
<meta name="description" content="The old harbour bridge is open again after two years.">
<meta property="article:published_time" content="2024-04-28T09:30:00Z">
<meta property="og:site_name" content="Example News">
<meta name="keywords" content="bridges, harbour, city">
<meta property="article:section" content="Local">
<link rel="canonical" href="/2024/04/28/harbour-bridge-reopens">
</head><body>
<div id="cookie-banner" class="cookie-consent">{BOILERPLATE[0]}. Accept all cookies?</div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/politics">{BOILERPLATE[1]}</a></li>
<li><a href="/sport">{BOILERPLATE[2]}</a></li></ul></nav></header>
<main><article><h1>Harbour bridge reopens after repairs</h1>
{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
</article></main>
<footer><p>{BOILERPLATE[3]}. All rights reserved.</p>
<a href="/imprint">{BOILERPLATE[4]}</a></footer>
</body></html>"""

RUSSIAN = (
    "Городской совет утвердил бюджет на следующий год. Депутаты долго спорили о расходах на "
    "транспорт, школы и больницы, но в итоге большинство проголосовало за проект мэрии."
)


def cyrillic_page(meta_charset: str) -> str:
    return (
        f'<html><head><meta http-equiv="Content-Type" content="text/html; charset={meta_charset}">'
        f"<title>Новости города</title></head><body><article><p>{RUSSIAN}</p><p>{RUSSIAN}</p>"
        "</article></body></html>"
    )


def big_page(paragraphs: int = 20_000) -> bytes:
    """A page trafilatura needs seconds for (about 5 s for 20 000 blocks)."""
    blocks = "".join(
        f"<div class='c{i}'><p>Paragraph {i} with some words about the news of the day.</p>"
        f"<a href='/l{i}'>link {i}</a></div>"
        for i in range(paragraphs)
    )
    page = f"<html><head><title>Big</title></head><body><article>{blocks}</article></body></html>"
    return page.encode()


# --- digests ---------------------------------------------------------------------------------


def test_sha1_digest_format() -> None:
    assert sha1_digest(b"") == "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"
    assert re.fullmatch(r"sha1:[A-Z2-7]{32}", sha1_digest("é".encode()))


# --- decoding --------------------------------------------------------------------------------


def test_windows_1251_declared_only_in_meta() -> None:
    body = cyrillic_page("windows-1251").encode("cp1251")
    text, encoding = decode_html(body, "text/html")
    assert encoding == "cp1251"
    assert RUSSIAN in text and "Новости города" in text


def test_meta_charset_attribute() -> None:
    body = f'<html><head><meta charset="windows-1251"></head><body>{RUSSIAN}</body></html>'
    text, encoding = decode_html(body.encode("cp1251"), None)
    assert (encoding, RUSSIAN in text) == ("cp1251", True)


def test_header_charset_beats_meta() -> None:
    body = cyrillic_page("windows-1251").encode("koi8-r")
    text, encoding = decode_html(body, "text/html; charset=KOI8-R")
    assert encoding == "koi8-r"
    assert RUSSIAN in text


def test_bom_beats_header() -> None:
    body = "\ufeff<p>café</p>".encode()
    assert decode_html(body, "text/html; charset=windows-1251") == ("<p>café</p>", "utf-8")


def test_unknown_header_charset_falls_back_to_meta() -> None:
    body = cyrillic_page("windows-1251").encode("cp1251")
    text, encoding = decode_html(body, "text/html; charset=x-no-such-charset")
    assert encoding == "cp1251" and RUSSIAN in text


def test_undeclared_charset_is_detected() -> None:
    body = f"<html><body><p>{RUSSIAN}</p></body></html>".encode("cp1251")
    text, _ = decode_html(body, None)
    assert RUSSIAN in text


def test_invalid_utf8_does_not_crash() -> None:
    body = '<meta charset="utf-8"><p>Grüße aus Köln, stray byte: \xff here</p>'.encode(
        "utf-8", "surrogateescape"
    ).replace("\xff".encode(), b"\xff")
    text, encoding = decode_html(body, "text/html; charset=utf-8")
    assert encoding == "utf-8"
    assert "Grüße aus Köln" in text and "\ufffd" in text
    result = extract_page(body, URL, "text/html; charset=utf-8")
    assert set(result) == KEYS


def test_utf8_label_on_legacy_bytes_is_corrected() -> None:
    body = '<meta charset="utf-8"><p>Grüße aus Köln, schöne Straße, Übermut</p>'.encode("cp1252")
    text, encoding = decode_html(body, None)
    assert encoding != "utf-8"
    assert "Grüße aus Köln, schöne Straße, Übermut" in text


def test_legacy_label_on_utf8_bytes_is_corrected() -> None:
    body = '<meta charset="iso-8859-1"><p>Grüße aus Köln</p>'.encode()
    assert decode_html(body, None) == ('<meta charset="iso-8859-1"><p>Grüße aus Köln</p>', "utf-8")


@pytest.mark.parametrize("declared", ["utf-16", "utf-16le", "utf-16be", "utf-32"])
def test_ascii_served_as_utf16_is_detected(declared: str) -> None:
    body = b"<html><body><p>Plain ASCII article text, declared wrongly.</p></body></html>"
    text, encoding = decode_html(body, f"text/html; charset={declared}")
    assert (text, encoding) == (body.decode(), "utf-8")


@pytest.mark.parametrize("real", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_in_either_byte_order(real: str) -> None:
    page = f"<html><body><p>{RUSSIAN}</p></body></html>"
    text, encoding = decode_html(page.encode(real), "text/html; charset=utf-16")
    assert (text, encoding) == (page, real)


def test_cp1251_served_as_utf16_is_detected() -> None:
    body = f"<html><body><p>{RUSSIAN}</p></body></html>".encode("cp1251")
    text, _ = decode_html(body, "text/html; charset=utf-16")
    assert RUSSIAN in text


def test_utf8_served_as_shift_jis_is_detected() -> None:
    body = f"<html><body><p>{RUSSIAN}</p></body></html>".encode()
    assert decode_html(body, "text/html; charset=shift_jis")[1] == "utf-8"


# --- extraction ------------------------------------------------------------------------------


def test_article_body_without_boilerplate() -> None:
    result = extract_page(ARTICLE.encode(), URL, "text/html; charset=utf-8")
    assert result["extraction_error"] is None
    for paragraph in PARAGRAPHS:
        assert paragraph in result["text"]
    for noise in BOILERPLATE:
        assert noise not in result["text"]


GERMAN = (
    "Die Bootsführerausbildung in der Feuerwehr ist sehr praxisorientiert und schließt mit der "
    "Prüfung zum Sportbootführerschein ab. Wir üben jede Woche auf dem Wasser und im Hafen. "
) * 10


def test_declared_language_yields_to_a_sure_detection_on_long_text() -> None:
    assert checked_language("en-US", GERMAN) == "de"  # a theme's default lang="en"
    assert checked_language("de-AT", GERMAN) == "de-AT"  # agreeing: the declared tag kept
    assert checked_language("en", GERMAN[:300]) == "en"  # too short to overrule
    assert checked_language(None, GERMAN) == "de"


def test_metadata_from_meta_tags() -> None:
    result = extract_page(ARTICLE.encode(), URL, "text/html")
    assert set(result) == KEYS
    assert result["title"] == "Harbour bridge reopens after repairs"
    assert result["author"] == "Jane Doe"
    assert result["published"] == "2024-04-28T09:30:00+00:00"
    assert result["description"] == "The old harbour bridge is open again after two years."
    assert result["canonical_url"] == (
        "https://www.example-news.com/2024/04/28/harbour-bridge-reopens"
    )
    assert result["language"] == "en-GB"
    assert result["sitename"] == "Example News"
    assert result["tags"] == ["bridges", "harbour", "city"]
    assert result["categories"] == ["Local"]
    assert result["encoding"] == "utf-8"
    assert result["text_digest"] == sha1_digest(result["text"].encode())


def test_no_canonical_declared_gives_none() -> None:
    page = ARTICLE.replace('<link rel="canonical" href="/2024/04/28/harbour-bridge-reopens">', "")
    assert extract_page(page.encode(), URL, "text/html")["canonical_url"] is None


def test_cyrillic_page_extracts_cyrillic_text() -> None:
    result = extract_page(cyrillic_page("windows-1251").encode("cp1251"), URL, "text/html")
    assert RUSSIAN in result["text"]
    assert result["encoding"] == "cp1251"


def test_include_html() -> None:
    body = cyrillic_page("windows-1251").encode("cp1251")
    assert "html" not in extract_page(body, URL, "text/html")
    result = extract_page(body, URL, "text/html", include_html=True)
    assert set(result) == KEYS | {"html"}
    assert result["html"] == cyrillic_page("windows-1251")


@pytest.mark.parametrize(
    ("content_type", "reason"),
    [
        ("application/pdf", "not HTML (application/pdf)"),
        ("image/png; foo=bar", "not HTML (image/png)"),
        (None, "not HTML (no content type)"),
    ],
)
def test_non_html_is_not_parsed(content_type: str | None, reason: str) -> None:
    result = extract_page(b"%PDF-1.7\n\x89\x00binary", URL, content_type, include_html=True)
    assert result["extraction_error"] == reason
    assert result["text"] == "" and result["encoding"] is None and result["html"] is None
    assert result["text_digest"] == sha1_digest(b"")


def test_missing_content_type_is_sniffed() -> None:
    result = extract_page(ARTICLE.encode(), URL, None)
    assert PARAGRAPHS[0] in result["text"]


@pytest.mark.parametrize("body", [b"", b"<html></html>", b"\x00\xff" * 50, b"<p>" * 10_000])
def test_never_raises(body: bytes) -> None:
    result = extract_page(body, URL, "text/html")
    assert set(result) == KEYS
    assert isinstance(result["text"], str)


def test_page_without_text_keeps_metadata() -> None:
    page = "<html><head><title>Only a title here</title></head><body></body></html>"
    result = extract_page(page.encode(), URL, "text/html")
    assert result["text"] == ""
    assert result["extraction_error"]
    assert result["title"] == "Only a title here"


def test_time_limit_in_process() -> None:
    before = signal.getsignal(signal.SIGALRM)
    result = extract_page(big_page(5_000), URL, "text/html", time_limit=0.001)
    assert result["extraction_error"] == "timed out after 0.001s"
    assert result["text"] == ""
    assert signal.getsignal(signal.SIGALRM) == before
    assert PARAGRAPHS[0] in extract_page(ARTICLE.encode(), URL, "text/html")["text"]


# --- the pool --------------------------------------------------------------------------------


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_pool_extracts_in_other_processes() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], list[int], int]:
        with ExtractionPool(workers=2, timeout=30) as pool:
            tasks = [
                asyncio.create_task(pool.extract(ARTICLE.encode(), URL, "text/html"))
                for _ in range(6)
            ]
            await asyncio.sleep(0)
            pending = pool.pending
            results = await asyncio.gather(*tasks)
            assert pool.pending == 0
            return results, pool.worker_pids, pending

    results, pids, pending = run(scenario())
    assert pending == 6
    assert pids and os.getpid() not in pids
    for result in results:
        assert set(result) == KEYS
        assert PARAGRAPHS[0] in result["text"]


def test_pool_include_html_and_non_html() -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        with ExtractionPool(workers=1) as pool:
            body = cyrillic_page("windows-1251").encode("cp1251")
            page = await pool.extract(body, URL, "text/html", include_html=True)
            pdf = await pool.extract(b"%PDF-1.7", URL, "application/pdf")
            return page, pdf

    page, pdf = run(scenario())
    assert RUSSIAN in page["text"] and page["html"] == cyrillic_page("windows-1251")
    assert pdf["extraction_error"] == "not HTML (application/pdf)"


def test_pool_time_limit_keeps_worker() -> None:
    async def scenario() -> tuple[dict[str, Any], list[int], list[int]]:
        with ExtractionPool(workers=1, timeout=0.001) as pool:
            await pool.extract(b"%PDF", URL, "application/pdf")  # worker is up
            before = pool.worker_pids
            result = await pool.extract(big_page(5_000), URL, "text/html")
            return result, before, pool.worker_pids

    result, before, after = run(scenario())
    assert result["extraction_error"] == "timed out after 0.001s"
    assert before == after  # same worker process, still usable


def test_pool_survives_killed_worker() -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], int, list[int]]:
        with ExtractionPool(workers=1, timeout=60) as pool:
            await pool.extract(ARTICLE.encode(), URL, "text/html")  # worker is up
            [pid] = pool.worker_pids
            slow = asyncio.create_task(pool.extract(big_page(), URL, "text/html"))
            await asyncio.sleep(0.5)
            os.kill(pid, signal.SIGKILL)
            killed = await slow
            after = await pool.extract(ARTICLE.encode(), URL, "text/html")
            return killed, after, pid, pool.worker_pids

    started = time.monotonic()
    killed, after, pid, pids = run(scenario())
    assert time.monotonic() - started < 60
    assert killed["text"] == ""
    assert "worker died" in killed["extraction_error"]
    assert PARAGRAPHS[0] in after["text"] and after["extraction_error"] is None
    assert pid not in pids


class _DoomedPool(ExtractionPool):
    """A pool whose workers exit as soon as they start."""

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=self._context, initializer=sys.exit)


def test_pool_gives_up_when_workers_cannot_start() -> None:
    async def scenario() -> list[dict[str, Any]]:
        with _DoomedPool(workers=1) as pool:
            return [await pool.extract(ARTICLE.encode(), URL, "text/html") for _ in range(8)]

    results = run(scenario())
    assert all(result["text"] == "" for result in results)
    assert "worker died" in results[0]["extraction_error"]
    assert results[-1]["extraction_error"] == "extraction workers keep dying; extraction stopped"


ORPHAN_SCRIPT = """
import asyncio, sys, time
from newsarchive.extract.workers import ExtractionPool

async def main():
    pool = ExtractionPool(workers=2)
    page = b"<html><body><p>hello there</p></body></html>"
    await asyncio.gather(*(pool.extract(page, "https://e.com/", "text/html") for _ in range(4)))
    print(*pool.worker_pids, flush=True)
    time.sleep(120)

if __name__ == "__main__":
    asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_exit_when_the_crawl_process_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "crawl.py"
    script.write_text(ORPHAN_SCRIPT)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root}
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env) as crawl:
        assert crawl.stdout is not None
        pids = [int(pid) for pid in crawl.stdout.readline().split()]
        assert len(pids) == 2
        crawl.kill()
    deadline = time.monotonic() + 15
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftovers = [pid for pid in pids if _alive(pid)]
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert not leftovers, "extraction workers outlived the killed crawl process"
