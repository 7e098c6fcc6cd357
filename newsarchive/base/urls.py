"""URL utilities: normalisation, registered domains, crawl scope, article heuristics, titles.

This is the one place the project normalises URLs and decides what looks like an article;
spiders, seeds, the index and replay all go through it so they agree on what "the same URL" is.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote, urlsplit, urlunsplit

import idna
import tldextract
from w3lib.url import safe_url_string

MAX_URL_LENGTH = 2048
SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

__all__ = [
    "MAX_URL_LENGTH",
    "InvalidURL",
    "in_scope",
    "looks_like_article",
    "normalize_host",
    "normalize_title",
    "normalize_url",
    "redact_credentials",
    "redact_url",
    "registered_domain",
    "url_host",
]


class InvalidURL(ValueError):
    """A URL (or host) the project will not crawl; the message says why."""


# --- normalize_url ---------------------------------------------------------------------------

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_HOST_PORT_RE = re.compile(r"[A-Za-z0-9.-]+:[0-9]")  # "example.com:8080/...": no scheme at all
_PORT_RE = re.compile(r"[0-9]{1,5}")
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_PERCENT_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# C0 controls and space, which the URL standard strips from both ends of a URL.
_EDGE_CHARS = "".join(map(chr, range(0x21)))


def normalize_url(url: str) -> str:
    """Return the canonical form of an http(s) URL, or raise InvalidURL saying why not.

    Lowercases scheme and host, converts an IDN host to punycode, drops the default port and
    the fragment, sets an empty path to "/", resolves "." and ".." segments, percent-encodes
    what needs it (as Scrapy's requests do, via w3lib), upper-cases percent escapes and decodes
    escaped unreserved characters. The query is kept as is, in order: unlike
    `w3lib.url.canonicalize_url` nothing is sorted or dropped, since servers may care.
    Rejected: other schemes, missing or invalid hosts and ports, credentials
    (user:password@), whitespace or control characters inside the URL, and URLs longer than
    MAX_URL_LENGTH. Idempotent: normalize_url(normalize_url(u)) == normalize_url(u).
    """
    text = url.strip(_EDGE_CHARS)
    _check_characters(text)
    scheme = _scheme_of(text)
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise InvalidURL(f"cannot parse URL: {exc}") from None
    if not parts.netloc:
        raise InvalidURL("no host")
    if "@" in parts.netloc:
        raise InvalidURL("contains credentials (user:password@); remove them from the URL")
    netloc = _netloc(parts.netloc, scheme)
    try:
        safe = urlsplit(safe_url_string(f"{scheme}://{netloc}{parts.path}?{parts.query}"))
    except (UnicodeError, ValueError) as exc:
        raise InvalidURL(f"cannot encode URL: {exc}") from None
    path = _remove_dot_segments(_normalize_escapes(safe.path) or "/")
    query = _normalize_escapes(safe.query)
    result = f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")
    if len(result) > MAX_URL_LENGTH:
        raise InvalidURL(f"longer than {MAX_URL_LENGTH} characters once normalised")
    return result


def _check_characters(text: str) -> None:
    if not text:
        raise InvalidURL("empty URL")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidURL(f"longer than {MAX_URL_LENGTH} characters")
    for char in text:
        if char.isspace():
            raise InvalidURL("contains whitespace")
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise InvalidURL(f"contains control character {char!r}")


def _scheme_of(text: str) -> str:
    match = _SCHEME_RE.match(text)
    if not match or _HOST_PORT_RE.match(text):
        raise InvalidURL("no scheme: only http:// and https:// URLs are accepted")
    scheme = match.group(1).lower()
    if scheme not in SCHEMES:
        raise InvalidURL(f"unsupported scheme {scheme!r}: only http and https are accepted")
    return scheme


def _split_netloc(netloc: str) -> tuple[str, str]:
    """(host, port text) of a netloc without userinfo; port text "" when there is none."""
    host_end = netloc.rfind("]")
    colon = netloc.find(":", host_end + 1)
    if colon < 0:
        return netloc, ""
    return netloc[:colon], netloc[colon + 1 :]


def _netloc(netloc: str, scheme: str) -> str:
    host_text, port_text = _split_netloc(netloc)
    host = normalize_host(host_text)
    if ":" in host:
        host = f"[{host}]"
    if not port_text:
        return host
    if not _PORT_RE.fullmatch(port_text) or not 0 < int(port_text) < 65536:
        raise InvalidURL(f"invalid port {port_text!r}")
    port = int(port_text)
    return host if port == DEFAULT_PORTS[scheme] else f"{host}:{port}"


def _normalize_escapes(part: str) -> str:
    """Upper-case percent escapes; decode those of unreserved characters (RFC 3986, 6.2.2)."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else match.group(0).upper()

    return _PERCENT_RE.sub(fix, part)


def _remove_dot_segments(path: str) -> str:
    """Resolve "." and ".." segments of an absolute path (RFC 3986, 5.2.4), as browsers do."""
    if "/." not in path:
        return path
    segments = path.split("/")[1:]
    output: list[str] = []
    for segment in segments[:-1]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    last = segments[-1]
    if last == ".." and output:
        output.pop()
    output.append("" if last in (".", "..") else last)
    return "/" + "/".join(output)


# --- hosts -----------------------------------------------------------------------------------


def normalize_host(host: str) -> str:
    """Return host lower-cased, as punycode and without a trailing dot; raise InvalidURL if it
    is neither a valid host name nor an IP address. IPv6 addresses come back compressed and
    without brackets."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        return _ipv6(text[1:-1])
    if ":" in text:
        return _ipv6(text)
    text = text.removesuffix(".")
    if not text:
        raise InvalidURL("no host")
    if not text.isascii():
        text = _idna_encode(text)
    text = text.lower()
    if len(text) > 253:
        raise InvalidURL("host name longer than 253 characters")
    labels = text.split(".")
    if labels[-1].isdigit() or _looks_like_ipv4(text):
        return _ipv4(text)
    for label in labels:
        _check_label(label)
    return text


def _ipv6(text: str) -> str:
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        raise InvalidURL(f"invalid IPv6 address {text!r}") from None


def _looks_like_ipv4(text: str) -> bool:
    return all(part.isdigit() for part in text.split("."))


def _ipv4(text: str) -> str:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise InvalidURL(f"invalid host {text!r}: numeric but not an IPv4 address") from None


def _idna_encode(text: str) -> str:
    """IDNA 2008 with UTS 46 mapping, as browsers do; IDNA 2003 (stdlib) for what it refuses,
    such as symbols in names that still resolve."""
    try:
        return idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidURL(f"invalid internationalised host {text!r}") from None


def _check_label(label: str) -> None:
    if not _LABEL_RE.fullmatch(label):
        raise InvalidURL(f"invalid host name label {label!r}")
    if label.startswith("xn--") and not _is_punycode(label[4:]):
        raise InvalidURL(f"invalid punycode label {label!r}")


def _is_punycode(text: str) -> bool:
    try:
        decoded = text.encode("ascii").decode("punycode")
    except UnicodeError:
        return False
    return not decoded.isascii() and all(
        unicodedata.category(char) not in ("Cc", "Cs", "Cn") for char in decoded
    )


def host_and_address(url: str) -> tuple[str, str]:
    """A URL's host (lower case) and its ``host:port`` (the scheme's default port if none)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    return host, (f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


def url_host(url: str) -> str:
    """The normalised host of a URL (no port, IPv6 without brackets); InvalidURL if invalid."""
    host = urlsplit(normalize_url(url)).hostname
    assert host is not None  # normalize_url guarantees a host
    return host


# --- registered_domain / in_scope ------------------------------------------------------------

# Offline on purpose: no suffix list URLs (never fetched) and no cache directory (never
# written), so tldextract uses the snapshot of the Public Suffix List it ships with.
# Private suffixes (blogspot.com, github.io, ...) count as suffixes, so that two blogs on one
# hosting service are two sites, not one.
OFFLINE_TLD_EXTRACT = tldextract.TLDExtract(
    cache_dir=None,
    suffix_list_urls=(),
    fallback_to_snapshot=True,
    include_psl_private_domains=True,
)


def registered_domain(url_or_host: str) -> str:
    """The registrable domain ("eTLD+1") of a URL or host name, e.g. "bbc.co.uk" for
    "https://www.bbc.co.uk/news". IP addresses, "localhost", and hosts under no known public
    suffix (or that are a public suffix themselves) return the whole host. Never goes online.
    Raises InvalidURL when the input is neither a valid URL nor a valid host."""
    host = url_host(url_or_host) if "://" in url_or_host else _host_of(url_or_host)
    return _registered_domain_of_host(host)


def _host_of(text: str) -> str:
    """Host of a bare "host" or "host:port" (port ignored)."""
    text = text.strip()
    if text.count(":") > 1 and not text.startswith("["):
        return normalize_host(text)  # bare IPv6 address
    return normalize_host(_split_netloc(text)[0])


@lru_cache(maxsize=65536)
def _registered_domain_of_host(host: str) -> str:
    if ":" in host or _looks_like_ipv4(host):
        return host
    return OFFLINE_TLD_EXTRACT.extract_str(host).top_domain_under_public_suffix or host


def in_scope(url: str, allowed_domains: Iterable[str]) -> bool:
    """Whether url's host is one of allowed_domains or a subdomain of one. Ports are ignored
    and an invalid url is out of scope. Allowed domains may be hosts, "*.host" or URLs; an
    invalid one matches nothing (validate user input up front with normalize_host)."""
    try:
        host = url_host(url)
    except InvalidURL:
        return False
    for domain in allowed_domains:
        allowed = _allowed_host(domain)
        if allowed and (host == allowed or host.endswith("." + allowed)):
            return True
    return False


@lru_cache(maxsize=4096)
def _allowed_host(domain: str) -> str | None:
    try:
        if "://" in domain:
            return url_host(domain)
        return _host_of(domain.strip().removeprefix("*.").removeprefix("."))
    except InvalidURL:
        return None


# --- looks_like_article ----------------------------------------------------------------------

_NON_ARTICLE_SEGMENTS = frozenset(
    """
    tag tags topic topics section sections category categories kategorie
    author authors byline contributor contributors writer writers user users profile
    login logout signin sign-in signup sign-up register registration account my-account
    subscribe subscription subscriptions unsubscribe paywall
    share sharer print email e-mail mailto
    feed feeds rss atom
    search suche recherche
    page comments comment
    wp-admin wp-login wp-json wp-content wp-includes xmlrpc cdn-cgi
    """.split()
)
_NON_ARTICLE_QUERY_KEYS = frozenset({"share", "print", "replytocom"})
_ASSET_EXTENSIONS = frozenset(
    """
    css js mjs map json xml rss atom txt csv
    jpg jpeg png gif svg webp avif ico bmp tif tiff heic
    woff woff2 ttf otf eot
    mp4 m4v webm mov avi mkv flv mp3 m4a aac ogg oga wav flac
    pdf zip gz tgz bz2 xz rar 7z exe dmg apk msi swf
    """.split()
)
_PAGINATION_RE = re.compile(r"page[-_]?\d+")
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
_MONTH_RE = re.compile(r"0?[1-9]|1[0-2]")
_DAY_RE = re.compile(r"0?[1-9]|[12]\d|3[01]")
_INLINE_DATE_RE = re.compile(
    r"(?<!\d)(?:19|20)\d\d([-_]?)(?:0[1-9]|1[0-2])\1(?:0[1-9]|[12]\d|3[01])(?!\d)"
)
_NUMERIC_ID_RE = re.compile(r"(?<!\d)\d{5,}(?!\d)")


def looks_like_article(url: str) -> bool:
    """Guess from its URL alone whether a page is an article (not a listing or utility page).

    True when the path carries
      - a date as segments, /YYYY/MM/ or /YYYY/MM/DD/, followed by at least one more segment
        (the slug; a bare date path is a date archive), or a date inside a segment
        (20240501, 2024-05-01) that holds something else too or is followed by a segment; or
      - a numeric id: a run of 5 or more digits in a segment (/12345678, -a10001,
        story_98765.html);
    and nothing marks it as something else:
      - a segment naming a listing or utility page: tag, topic, section, category, author,
        login/signin/register/subscribe, share/print/email, feed/rss/atom, search, page
        (page/2, page-2), comments, CMS internals (file extensions ignored: login.php);
      - a static asset or non-HTML file extension (.css .js .jpg .png .svg .woff .mp4 .pdf ...);
      - a share/print/replytocom query parameter.
    A path that is only a section (/politics/) carries neither date nor id and is not an
    article. Whether the link is on the same site is for in_scope(); the query is not
    searched for ids. Invalid URLs are not articles.
    """
    try:
        parts = urlsplit(normalize_url(url))
    except InvalidURL:
        return False
    segments = [unquote(s).lower() for s in parts.path.split("/") if s]
    if not segments or _is_excluded(segments, parts.query):
        return False
    return _has_date(segments) or any(_NUMERIC_ID_RE.search(s) for s in segments)


def _is_excluded(segments: list[str], query: str) -> bool:
    _, dot, extension = segments[-1].rpartition(".")
    if dot and extension in _ASSET_EXTENSIONS:
        return True
    for segment in segments:
        name = segment.split(".", 1)[0].replace("_", "-")
        if name in _NON_ARTICLE_SEGMENTS or _PAGINATION_RE.fullmatch(name):
            return True
    keys = {pair.split("=", 1)[0].lower() for pair in query.split("&")}
    return not keys.isdisjoint(_NON_ARTICLE_QUERY_KEYS)


def _has_date(segments: list[str]) -> bool:
    for i, segment in enumerate(segments):
        followed = i + 1 < len(segments)
        match = _INLINE_DATE_RE.search(segment)
        if match and (followed or match.group(0) != segment):
            return True
        if _YEAR_RE.fullmatch(segment) and _date_run_followed(segments[i + 1 :]):
            return True
    return False


def _date_run_followed(rest: list[str]) -> bool:
    """After a year segment: a month, an optional day, then at least one more segment."""
    if not rest or not _MONTH_RE.fullmatch(rest[0]):
        return False
    if len(rest) > 1 and _DAY_RE.fullmatch(rest[1]):
        return len(rest) > 2
    return len(rest) > 1


# --- normalize_title -------------------------------------------------------------------------

_TITLE_CHARS = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u2035`\u00b4", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb", '"'),
        # hyphens and dashes separate words: "three-year" and "THREE YEAR" are one title
        **dict.fromkeys("-\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\u2e3a\u2e3b"
                        "\ufe58\ufe63\uff0d", " "),
    }
)


def normalize_title(text: str) -> str:
    """Key for matching a "Related article:" title against link anchor text: NFKC, casefold,
    typographic quotes made plain, hyphens and dashes made spaces ("three-year", "three–year"
    and "THREE YEAR" all give "three year"), other punctuation and invisible format characters
    removed (so "don’t" and "don't" both give "dont"), whitespace collapsed to one space."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_TITLE_CHARS)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace():
            kept.append(" ")
        elif category[0] != "P" and category not in ("Cc", "Cf"):
            kept.append(char)
    return " ".join("".join(kept).split())


# "//user:password@" in a URL, or in text that merely looks like one (a bad seed line)
_PASSWORD_RE = re.compile(r"((?:^|(?<=//)|(?<=\s))[^/?#@\s:]*:)[^/?#@\s]*@")


def redact_credentials(text: str) -> str:
    """text with the password of every URL in it (user:password@) replaced by ***, whether or
    not the URL is valid: for seed arguments and messages quoting what the user gave."""
    return _PASSWORD_RE.sub(r"\1***@", text)


def redact_url(url: str) -> str:
    """The URL without its password (for manifests, warcinfo records and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.hostname or ""
    netloc = f"{user}{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
