"""Tests of newsarchive.base.urls."""

from __future__ import annotations

import socket

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from w3lib.url import safe_url_string

from newsarchive.base import urls
from newsarchive.base.urls import (
    MAX_URL_LENGTH,
    InvalidURL,
    in_scope,
    looks_like_article,
    normalize_host,
    normalize_title,
    normalize_url,
    registered_domain,
    url_host,
)

# --- normalize_url ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com", "http://example.com/"),
        ("HTTP://Example.COM/Path", "http://example.com/Path"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("http://example.com:/a", "http://example.com/a"),
        ("http://example.com/a#section-2", "http://example.com/a"),
        ("http://example.com/a?b=2&a=1&b=1", "http://example.com/a?b=2&a=1&b=1"),
        ("http://example.com?x=1", "http://example.com/?x=1"),
        ("http://example.com/a?", "http://example.com/a"),
        ("http://example.com/a%2fb%3F", "http://example.com/a%2Fb%3F"),
        ("http://example.com/%7Euser/%41%2D%5F%2E", "http://example.com/~user/A-_."),
        ("http://example.com/?q=%e2%82%ac&r=a%26b", "http://example.com/?q=%E2%82%AC&r=a%26b"),
        ("http://example.com/caf\u00e9", "http://example.com/caf%C3%A9"),
        ("http://example.com/a b".replace(" ", "%20"), "http://example.com/a%20b"),
        ("http://example.com/100%", "http://example.com/100%"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/a/%2e%2E/b", "http://example.com/b"),
        ("http://example.com/../a", "http://example.com/a"),
        ("http://example.com//double//slash", "http://example.com//double//slash"),
        ("http://example.com/a\\b", "http://example.com/a/b"),
        ("https://B\u00fccher.de/", "https://xn--bcher-kva.de/"),
        ("https://fa\u00df.de/", "https://xn--fa-hia.de/"),  # IDNA 2008, not "fass.de"
        ("https://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/", "https://example.com/"),
        ("http://\u2603.net/", "http://xn--n3h.net/"),  # refused by IDNA 2008, IDNA 2003 ok
        ("http://xn--bcher-kva.de/", "http://xn--bcher-kva.de/"),
        ("http://example.com./a", "http://example.com/a"),
        ("http://my_host.example.com/", "http://my_host.example.com/"),
        ("http://localhost:8000/x", "http://localhost:8000/x"),
        ("http://127.0.0.1/", "http://127.0.0.1/"),
        ("http://[::0:1]:8080/x", "http://[::1]:8080/x"),
        ("http://[2001:DB8::1]/", "http://[2001:db8::1]/"),
        ("  https://example.com/a\n", "https://example.com/a"),
        ("https://example.com/a'b?c='d'", "https://example.com/a'b?c=%27d%27"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected
    assert normalize_url(expected) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("example.com/a", "no scheme"),
        ("//example.com/a", "no scheme"),
        ("localhost:8000/a", "no scheme"),
        ("www.example.com:8080/a", "no scheme"),
        ("file:///etc/passwd", "unsupported scheme 'file'"),
        ("javascript:alert(1)", "unsupported scheme 'javascript'"),
        ("data:text/html,<b>x</b>", "unsupported scheme 'data'"),
        ("mailto:editor@example.com", "unsupported scheme 'mailto'"),
        ("ftp://example.com/file", "unsupported scheme 'ftp'"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://user@example.com/", "credentials"),
        ("http://@example.com/", "credentials"),
        ("http:///path", "no host"),
        ("http:example.com", "no host"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com/a b", "whitespace"),
        ("http://example.com/a\tb", "whitespace"),
        ("http://example.com/a\u00a0b", "whitespace"),
        ("http://example.com/a\x00b", "control character"),
        ("http://example.com/\ud800", "control character"),
        ("http://-bad-.example.com/", "invalid host name label"),
        ("http://a..b.com/", "invalid host name label"),
        ("http://ex%61mple.com/", "invalid host name label"),
        ("http://exa!mple.com/", "invalid host name label"),
        ("http://" + "a" * 64 + ".com/", "invalid host name label"),
        ("http://1.2.3/", "not an IPv4 address"),
        ("http://999.1.1.1/", "not an IPv4 address"),
        ("http://example.123/", "not an IPv4 address"),
        ("http://[::g]/", "IPv6"),
        ("http://[::1/", "cannot parse"),
        ("http://xn--zz.com/", "punycode"),
        ("http://xn--a.com/", "punycode"),  # decodes to a control character
        ("http://xn--abc-.com/", "invalid host name label"),
        ("http://example.com:0/", "invalid port"),
        ("http://example.com:65536/", "invalid port"),
        ("http://example.com:8o/", "invalid port"),
        ("http://example.com:+80/", "invalid port"),
        ("http://example.com/" + "a" * MAX_URL_LENGTH, "longer than 2048"),
        ("http://example.com/" + "\u00e9" * 1000, "once normalised"),
    ],
)
def test_normalize_url_rejects_with_reason(url: str, reason: str) -> None:
    with pytest.raises(InvalidURL, match=reason):
        normalize_url(url)


def test_invalid_url_is_a_value_error() -> None:
    assert issubclass(InvalidURL, ValueError)


def test_url_at_the_length_limit_is_accepted() -> None:
    url = "http://example.com/" + "a" * (MAX_URL_LENGTH - len("http://example.com/"))
    assert normalize_url(url) == url


def test_normalize_url_output_is_what_scrapy_would_request() -> None:
    # Scrapy passes request URLs through safe_url_string: ours must come out unchanged.
    url = normalize_url('http://example.com/a b|c^d`e{f}?q="x"<y>'.replace(" ", "%20"))
    assert safe_url_string(url) == url


# --- hosts, registered_domain, in_scope ------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("b\u00fccher.de", "xn--bcher-kva.de"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("010.1.1.1", None),
    ],
)
def test_normalize_host(host: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidURL):
            normalize_host(host)
    else:
        assert normalize_host(host) == expected


def test_url_host() -> None:
    assert url_host("https://WWW.Example.com:8443/a") == "www.example.com"
    assert url_host("http://[::1]:80/") == "::1"
    with pytest.raises(InvalidURL):
        url_host("ftp://example.com/")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://www.bbc.co.uk/news/world-12345678", "bbc.co.uk"),
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("news.example.com:8080", "example.com"),
        ("https://a.b.c.example.com.au/", "example.com.au"),
        ("https://B\u00fccher.de/", "xn--bcher-kva.de"),
        ("example.com", "example.com"),
        ("someone.github.io", "someone.github.io"),  # private suffix: one site per blog
        ("localhost", "localhost"),
        ("http://localhost:8000/x", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("http://127.0.0.1:8080/a", "127.0.0.1"),
        ("http://[::1]:8080/", "::1"),
        ("::1", "::1"),
        ("intranet", "intranet"),
        ("wiki.corp.internal", "wiki.corp.internal"),
        ("co.uk", "co.uk"),
    ],
)
def test_registered_domain(value: str, expected: str) -> None:
    assert registered_domain(value) == expected


def test_registered_domain_rejects_garbage() -> None:
    with pytest.raises(InvalidURL):
        registered_domain("not a host")
    with pytest.raises(InvalidURL):
        registered_domain("javascript://x")


def test_registered_domain_never_goes_online(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    # Force the suffix list to be loaded again, now, with the network unavailable.
    monkeypatch.setattr(urls.OFFLINE_TLD_EXTRACT, "_extractor", None, raising=False)
    urls._registered_domain_of_host.cache_clear()
    assert urls.OFFLINE_TLD_EXTRACT.suffix_list_urls == ()
    assert registered_domain("https://www.example.co.uk/") == "example.co.uk"
    assert registered_domain("x.unknown-tld-zz") == "x.unknown-tld-zz"


@pytest.mark.parametrize(
    ("url", "allowed", "expected"),
    [
        ("https://example.com/a", ["example.com"], True),
        ("https://www.example.com/a", ["example.com"], True),
        ("https://a.b.example.com/a", ["example.com"], True),
        ("https://EXAMPLE.com:8443/a", ["Example.Com."], True),
        ("https://example.com/a", ["www.example.com"], False),
        ("https://notexample.com/a", ["example.com"], False),
        ("https://example.com.evil.net/a", ["example.com"], False),
        ("https://other.org/a", ["example.com", "other.org"], True),
        ("https://news.example.com/a", ["https://example.com/"], True),
        ("https://news.example.com/a", ["*.example.com"], True),
        ("https://xn--bcher-kva.de/a", ["b\u00fccher.de"], True),
        ("http://127.0.0.1:8000/a", ["127.0.0.1"], True),
        ("http://127.0.0.1/a", ["0.0.1"], False),  # invalid allowed domain: matches nothing
        ("https://example.com/a", ["not a domain", "example.com"], True),
        ("https://example.com/a", [], False),
        ("ftp://example.com/a", ["example.com"], False),
        ("not a url", ["example.com"], False),
    ],
)
def test_in_scope(url: str, allowed: list[str], expected: bool) -> None:
    assert in_scope(url, allowed) is expected


def test_in_scope_accepts_any_iterable() -> None:
    assert in_scope("https://www.example.com/", (d for d in ["example.com"]))


# --- looks_like_article ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://www.example-news.com/2019/06/04/some-long-article-slug-a65861",
        "https://example.com/2024/05/01/the-story",
        "https://example.com/2024/5/1/the-story/",
        "https://example.com/news/2024/05/the-story.html",
        "https://example.com/world/europe/2024/05/01/a-story/",
        "https://example.com/politics/the-story-a10001",
        "https://example.com/12345678",
        "https://example.com/sport/football/68912345",
        "https://example.com/news/story_98765.html",
        "https://example.com/a/123456/the-slug",
        "https://example.com/politics/slug-20240501",
        "https://example.com/2024-05-01-the-story",
        "https://example.com/2024/05/01/the-tag-team-wins",
        "https://example.com/2024/05/01/price-tag",
        "https://example.com/2024/05/01/slug/amp",
        "https://example.com/2024/05/01/slug?page=2",
    ],
)
def test_looks_like_article(url: str) -> None:
    assert looks_like_article(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "https://example.com/politics/",
        "https://example.com/politics/europe",
        "https://example.com/a-long-slug-without-id-or-date.html",
        "https://example.com/2024/",
        "https://example.com/2024/05/",
        "https://example.com/2024/05/01/",
        "https://example.com/news/2024/05/01",
        "https://example.com/2024/13/01/not-a-month",
        "https://example.com/1234/the-slug",
        "https://example.com/tag/elections-2024",
        "https://example.com/tags/12345",
        "https://example.com/topic/climate/12345",
        "https://example.com/section/world/12345",
        "https://example.com/category/news/2024/05/01/x",
        "https://example.com/author/jane-doe-12345",
        "https://example.com/login?next=/2024/05/01/x",
        "https://example.com/signin/12345",
        "https://example.com/sign_in/12345",
        "https://example.com/register/12345",
        "https://example.com/subscribe/offer-12345",
        "https://example.com/share/12345678",
        "https://example.com/2024/05/01/slug/print",
        "https://example.com/email/12345678",
        "https://example.com/2024/05/01/slug/feed",
        "https://example.com/rss/12345",
        "https://example.com/atom.xml",
        "https://example.com/search?q=2024/05/01/x",
        "https://example.com/search.php/12345",
        "https://example.com/news/page/12345",
        "https://example.com/news/page-23456",
        "https://example.com/2024/05/01/slug/comments",
        "https://example.com/static/app.12345.css",
        "https://example.com/static/app-12345.js",
        "https://example.com/img/2024/05/01/photo-123456.jpg",
        "https://example.com/img/logo-12345.PNG",
        "https://example.com/i/12345.gif",
        "https://example.com/i/12345.svg",
        "https://example.com/favicon-12345.ico",
        "https://example.com/fonts/f-12345.woff2",
        "https://example.com/v/2024/05/01/clip-12345.mp4",
        "https://example.com/2024/05/01/report-12345.pdf",
        "https://example.com/2024/05/01/slug?share=facebook",
        "https://example.com/wp-admin/post-12345",
        "mailto:desk@example.com",
        "not a url",
    ],
)
def test_does_not_look_like_article(url: str) -> None:
    assert not looks_like_article(url)


# --- normalize_title -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Don\u2019t Panic", "don't panic"),
        ("\u201cQuoted\u201d Title", '"Quoted" title'),
        ("Biden\u2013Trump debate", "Biden-Trump Debate"),
        ("Biden \u2014 Trump", "Biden - Trump"),
        ("  Spacing\t and\n lines  ", "spacing and lines"),
        ("Title\u2026", "Title..."),
        ("Stra\u00dfe", "STRASSE"),
        ("\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48", "fullwidth"),
        ("soft\u00adhyphen and zero\u200bwidth", "softhyphen and zerowidth"),
        ("Title: a story (part 2)!", "title a story part 2"),
        ("Caf\u00e9 news", "cafe\u0301 news"),
    ],
)
def test_normalize_title_matches_variants(a: str, b: str) -> None:
    assert normalize_title(a) == normalize_title(b)


def test_normalize_title_output() -> None:
    assert normalize_title("  \u201cThe Big\u2019s\u201d \u2014 Story, Part\u00a02!  ") == (
        "the bigs story part 2"
    )
    assert normalize_title("?!\u2026 \u2014 ") == ""
    assert normalize_title("Price: $5 & \u00a35") == "price $5 \u00a35"


@pytest.mark.parametrize(
    "variant",
    [
        "three-year plan",
        "three\u2013year plan",  # en dash
        "three\u2014year plan",  # em dash
        "three\u2011year plan",  # non-breaking hyphen
        "three\u2010year plan",  # hyphen
        "three\u2212year plan",  # minus sign
        "three \u2013 year plan",
    ],
)
def test_normalize_title_hyphens_and_dashes_are_spaces(variant: str) -> None:
    assert normalize_title(variant) == normalize_title("THREE YEAR PLAN") == "three year plan"


def test_normalize_title_keeps_different_titles_apart() -> None:
    assert normalize_title("Election results 2024") != normalize_title("Election results 2020")


# --- properties ------------------------------------------------------------------------------

_hosts = st.one_of(
    st.sampled_from(
        ["example.com", "WWW.Example.COM", "b\u00fccher.de", "127.0.0.1", "[::1]", "localhost"]
    ),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.text(min_size=1, max_size=15),
)
_url_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from("%/?#&=.-_~:@!$'()*+,;[]\\ 0123456789abcdefABCDEF"),
    max_size=40,
)


@st.composite
def _urlish(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "ftp", "javascript", ""]))
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":0", ":x"]))
    return f"{scheme}://{draw(_hosts)}{port}/{draw(_url_text)}"


@given(st.one_of(st.text(max_size=60), _urlish()))
@example("http://example.com/%2e%2E/%2")
@example("http://example.com/a/%2e%2e%2f..")
@example("http://\u00e9.com/\u00e9?\u00e9#\u00e9")
def test_normalize_url_properties(url: str) -> None:
    try:
        result = normalize_url(url)
    except InvalidURL:
        return
    assert result.startswith(("http://", "https://"))
    assert len(result) <= MAX_URL_LENGTH
    assert "#" not in result
    assert result.isascii()
    assert normalize_url(result) == result
    assert safe_url_string(result) == result


@given(st.text(max_size=80))
def test_normalize_title_properties(text: str) -> None:
    key = normalize_title(text)
    assert normalize_title(key) == key
    assert key == key.strip()
    assert "  " not in key


@given(_urlish())
def test_predicates_never_raise_on_bad_urls(url: str) -> None:
    assert isinstance(looks_like_article(url), bool)
    assert isinstance(in_scope(url, ["example.com"]), bool)
