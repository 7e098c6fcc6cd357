"""Seed input: URLs given on the command line, URL lists and seed documents.

A seed argument is an http(s) URL or a path to a file. What a file holds is decided by its
content (classify_seed_file / classify_seed_lines), and each kind has a parser in _PARSERS:
a later issue adds feeds and sitemaps there. Nothing here raises on bad input: every unusable
line or file becomes a SeedWarning naming where it is and why, and the other seeds go on.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, TextIO, TypeVar

from newsarchive.base.urls import InvalidURL, normalize_title, normalize_url, redact_credentials
from newsarchive.crawl.feeds import DocKind, discover, sniff

MAX_LINE_CHARS = 65_536  # longer lines are skipped (and read no further into memory)
MAX_WARNINGS_PER_SOURCE = 100  # then one summary warning, so a junk file cannot flood the log
SNIFF_BYTES = 8192  # head of a file read to tell text from binary
MIN_WRAP_WIDTH = 60  # a line at least this long may have been hard-wrapped
MAX_PIPE_BYTES = 64 * 1024 * 1024  # a pipe (not a regular file) is read into memory, up to this

# What every list of invalid seeds ends with (the summary, the "no usable seed" message).
SEED_FORMS = (
    "a seed is an http(s) URL such as https://example.com/news/story.html, a file of such URLs "
    "(one a line), a seed document, or a feed, sitemap or robots.txt file"
)

T = TypeVar("T")
_Opener = Callable[[], BinaryIO]

__all__ = [
    "SEED_FORMS",
    "Seed",
    "SeedError",
    "SeedKind",
    "SeedWarning",
    "classify_seed_file",
    "classify_seed_lines",
    "load_seeds",
    "parse_seed_text",
    "read_seed_file",
    "related_titles_by_file",
]


@dataclass(frozen=True)
class Seed:
    url: str  # normalised
    source: str  # "argv" or "path/to/file:LINE"
    related_titles: tuple[str, ...] = ()  # from the seed document the URL came from
    via: str = "seed"  # "feed" / "sitemap" for an entry of a feed or sitemap file
    lastmod: datetime | None = None  # the date that file gives the entry


@dataclass(frozen=True)
class SeedWarning:
    where: str  # "file:line", "file" or "argv"
    message: str  # "'the text': why", with any password in it replaced by ***
    invalid: bool = True  # a seed that cannot be used (the run is partial); False: a note

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SeedError(Exception):
    """A seed file that cannot be used at all (missing, a directory, unreadable, binary)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class SeedKind(enum.Enum):
    EMPTY = "empty file"
    BINARY = "binary file"
    URL_LIST = "URL list"
    SEED_DOCUMENT = "seed document"
    DISCOVERY = "feed or sitemap"  # RSS/Atom, sitemap (index), robots.txt: newsarchive.crawl.feeds


# --- entry points ----------------------------------------------------------------------------


def load_seeds(args: Sequence[str]) -> tuple[list[Seed], list[SeedWarning]]:
    """Seeds from command-line arguments, each an http(s) URL or a path to a seed file.

    A URL seen twice keeps its first Seed, with the related titles of both merged. File-level
    problems (missing, directory, unreadable, binary, empty) are warnings too: the caller
    decides what an empty result means.
    """
    seeds: list[Seed] = []
    warnings: list[SeedWarning] = []
    for arg in args:
        found, problems = _load_arg(arg)
        seeds.extend(found)
        warnings.extend(problems)
    return _merge_duplicates(seeds), warnings


def parse_seed_text(text: str, source: str) -> tuple[list[Seed], list[SeedWarning]]:
    """Seeds from the text of a URL list or seed document; source names it in Seed.source
    and in warnings ("source:LINE")."""
    kind = classify_seed_lines(line.text for line in _text_lines(text))
    parser = _PARSERS.get(kind)
    if parser is None:
        return [], []
    seeds, warnings = parser(_text_lines(text), source)
    return _merge_duplicates(seeds), warnings


def read_seed_file(path: str | os.PathLike[str]) -> tuple[list[Seed], list[SeedWarning]]:
    """Seeds from one file, streamed line by line. Raises SeedError when the file cannot be
    used at all; load_seeds turns that into a warning."""
    name = os.fspath(path)
    opener = _opener(name)
    kind = _classify(name, opener)
    if kind is SeedKind.EMPTY:
        return [], [SeedWarning(name, "empty file, no seeds")]
    if kind is SeedKind.DISCOVERY:
        seeds, warnings = _parse_discovery(name, opener)
        return _merge_duplicates(seeds), warnings
    parser = _PARSERS.get(kind)
    if parser is None:
        raise SeedError(name, f"not a seed file ({kind.value})")
    seeds, warnings = _with_lines(name, opener, lambda lines: parser(lines, name))
    if not seeds:
        warnings.append(SeedWarning(name, f"no seed URLs found in this {kind.value}"))
    return _merge_duplicates(seeds), warnings


# --- classification: the extension point for feeds and sitemaps -----------------------------

_ORIGINAL_URL_RE = re.compile(r"[\s>*\u2022-]*original[\s_-]*urls?\s*:(.*)", re.IGNORECASE)
_RELATED_RE = re.compile(r"[\s>*\u2022-]*related[\s_-]*articles?\s*:(.*)", re.IGNORECASE)


def classify_seed_file(path: str | os.PathLike[str]) -> SeedKind:
    """What kind of seed file path is, judged by its content, never by its name.

    Raises SeedError if it cannot be read. A pipe is consumed: use read_seed_file for those.
    """
    name = os.fspath(path)
    return _classify(name, _opener(name))


def _classify(name: str, opener: _Opener) -> SeedKind:
    """New kinds recognised from raw bytes (a gzipped sitemap) go here; kinds recognised
    from text (feeds, sitemaps) in classify_seed_lines."""
    head = _with_stream(name, opener, lambda stream: stream.read(SNIFF_BYTES))
    if not head.strip(b" \t\r\n\x0b\x0c") or head.strip() == b"\xef\xbb\xbf":
        return SeedKind.EMPTY
    if _is_discovery(name, opener, head):
        return SeedKind.DISCOVERY
    if _is_binary(head):
        return SeedKind.BINARY
    return _with_lines(name, opener, lambda lines: classify_seed_lines(x.text for x in lines))


def classify_seed_lines(lines: Iterable[str]) -> SeedKind:
    """URL_LIST unless some line starts with "Original url:", which makes a SEED_DOCUMENT."""
    for line in lines:
        if _ORIGINAL_URL_RE.match(_strip(line)):
            return SeedKind.SEED_DOCUMENT
    return SeedKind.URL_LIST


def _is_discovery(name: str, opener: _Opener, head: bytes) -> bool:
    if head[:2] == b"\x1f\x8b":  # a gzipped sitemap: only its whole content can be sniffed
        head = _with_stream(name, opener, lambda stream: stream.read(MAX_PIPE_BYTES))
    return sniff(head) is not DocKind.OTHER


def _parse_discovery(name: str, opener: _Opener) -> tuple[list[Seed], list[SeedWarning]]:
    """A feed, sitemap (index) or robots.txt file: its entries become seeds (with their date,
    for the revisit policy); the sitemaps it lists are seeds to be read in turn."""
    body = _with_stream(name, opener, lambda stream: stream.read(MAX_PIPE_BYTES))
    found = discover(body, base_url="")
    out = _Collector(name)
    for url in found.sitemaps:
        out.add_url(0, url)
    for entry in found.entries:
        before = len(out.seeds)
        out.add_url(0, entry.url)
        if len(out.seeds) > before:
            seed = out.seeds[-1]
            out.seeds[-1] = dataclasses.replace(seed, via=entry.via, lastmod=entry.lastmod)
    seeds, warnings = out.result()
    if not seeds:
        warnings.append(SeedWarning(name, f"no entries in this {found.kind.value}"))
    return seeds, warnings


def _is_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return False  # UTF-16 or UTF-32 text with a byte order mark
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 0x20 and byte not in b"\t\n\r\x0c") + head.count(
        b"\x7f"
    )
    return controls * 10 > len(head)


# --- reading lines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    number: int
    text: str  # without the line terminator
    too_long: bool = False  # the line exceeded MAX_LINE_CHARS; text is empty


def _text_lines(text: str) -> Iterator[_Line]:
    return _read_lines(io.StringIO(text, newline=None))


def _read_lines(stream: TextIO) -> Iterator[_Line]:
    """Lines of stream (universal newlines), at most MAX_LINE_CHARS in memory at a time."""
    number = 0
    while chunk := stream.readline(MAX_LINE_CHARS):
        number += 1
        if chunk.endswith("\n") or len(chunk) < MAX_LINE_CHARS:
            yield _Line(number, chunk.removesuffix("\n"))
            continue
        while chunk and not chunk.endswith("\n"):
            chunk = stream.readline(MAX_LINE_CHARS)
        yield _Line(number, "", too_long=True)


def _opener(path: str) -> _Opener:
    """A function opening path afresh for each pass over it; SeedError if it cannot be used.
    A regular file is streamed; anything else (a pipe such as <(command)) can be read only
    once, so it is read into memory."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode):
            return lambda: open(path, "rb")  # closed by _with_stream
        if stat.S_ISDIR(mode):
            raise SeedError(path, "is a directory, not a seed file")
        with open(path, "rb") as stream:
            data = stream.read(MAX_PIPE_BYTES + 1)
    except FileNotFoundError:
        raise SeedError(path, "no such file" + _url_hint(path)) from None
    except OSError as exc:
        raise SeedError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_PIPE_BYTES:
        raise SeedError(path, f"more than {MAX_PIPE_BYTES} bytes from a pipe")
    return lambda: io.BytesIO(data)


def _with_stream(path: str, opener: _Opener, use: Callable[[BinaryIO], T]) -> T:
    try:
        with opener() as stream:
            return use(stream)
    except OSError as exc:
        raise SeedError(path, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeError as exc:
        raise SeedError(path, f"cannot decode: {exc}") from None


def _with_lines(path: str, opener: _Opener, use: Callable[[Iterator[_Line]], T]) -> T:
    """Call use() with the decoded lines of path. Text is UTF-8 unless a byte order mark says
    otherwise; a line that is not valid UTF-8 is read as Windows-1252 (old article text)."""

    def read(stream: BinaryIO) -> T:
        encoding = _encoding_of(stream.read(4))
        stream.seek(0)
        text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline=None)
        return use(_fix_encoding(_read_lines(text)))

    return _with_stream(path, opener, read)


def _encoding_of(head: bytes) -> str:
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    return "utf-8-sig"


def _fix_encoding(lines: Iterator[_Line]) -> Iterator[_Line]:
    for line in lines:
        if any("\udc80" <= char <= "\udcff" for char in line.text):
            raw = line.text.encode("utf-8", "surrogateescape")
            line = dataclasses.replace(line, text=raw.decode("cp1252", "replace"))
        yield line


# --- parsing ---------------------------------------------------------------------------------

_Parser = Callable[[Iterable[_Line], str], tuple[list[Seed], list[SeedWarning]]]

# Schemes the URL line test recognises, so that "mailto:..." is reported as a bad scheme
# rather than silently taken for prose.
_URL_START_RE = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|(?:mailto|javascript|data|tel|file|about|blob|news|sms):|www\.)",
    re.IGNORECASE,
)
_URL_CHARS_RE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_OPENERS = "<([{\"'\u00ab\u201c\u2018"
_CLOSERS = ">)]}\"'.,;:!?\u00bb\u201d\u2019\u2026"
_PAIRS = {")": "(", "]": "[", "}": "{"}
# characters a wrapped URL piece typically starts or ends with (a soft hyphen: where a text
# tool broke the line; it is dropped from the URL)
_WRAP_MARKS = "-_/.?&=%#~+\u00ad"
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060\u200e\u200f"
_NEVER_IN_URLS = dict.fromkeys(map(ord, _INVISIBLE + "\u00ad"))  # invisible, soft hyphen
# a Markdown link, "[text](url)" (text may itself be the URL): the URL goes, or the title
_MARKDOWN_LINK = re.compile(r"\[(?P<text>[^\[\]]*)\]\((?P<url>[^()\s]+)\)")


def _strip(text: str) -> str:
    return text.strip().strip(_INVISIBLE).strip()


def _is_url_start(token: str) -> bool:
    return bool(_URL_START_RE.match(token.lstrip(_OPENERS)))


def _clean_token(token: str) -> str:
    """Token without the brackets, quotes and sentence punctuation around a URL in text."""
    token = token.translate(_NEVER_IN_URLS).lstrip(_OPENERS)  # left by text tools, never typed
    while token and token[-1] in _CLOSERS:
        opener = _PAIRS.get(token[-1])
        if opener and token.count(opener) >= token.count(token[-1]):
            break  # balanced, part of the URL: /wiki/Foo_(bar)
        token = token[:-1]
    return token


class _Collector:
    """Seeds and warnings of one source, warnings capped at MAX_WARNINGS_PER_SOURCE."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.seeds: list[Seed] = []
        self.warnings: list[SeedWarning] = []
        self.suppressed = 0

    def warn(self, line: int, message: str, invalid: bool = True) -> None:
        if len(self.warnings) < MAX_WARNINGS_PER_SOURCE:
            self.warnings.append(SeedWarning(f"{self.source}:{line}", message, invalid))
        else:
            self.suppressed += 1

    def add_url(self, line: int, token: str) -> None:
        """Add the URL in token as a seed, or warn why it cannot be one."""
        text = _clean_token(token)
        if text.lower().startswith("www."):
            self.warn(line, f"no scheme in {_shorten(text)}: add https:// (or http://)")
            return
        try:
            url = normalize_url(text)
        except InvalidURL as exc:
            self.warn(line, f"{_shorten(text)}: {exc}")
            return
        self.seeds.append(Seed(url, f"{self.source}:{line}"))

    def result(self) -> tuple[list[Seed], list[SeedWarning]]:
        if self.suppressed:
            where = self.source
            self.warnings.append(SeedWarning(where, f"{self.suppressed} more problems not shown"))
        return self.seeds, self.warnings


def _parse_url_list(lines: Iterable[_Line], source: str) -> tuple[list[Seed], list[SeedWarning]]:
    """One URL per line; blank lines and "#" comments (whole-line or after a space) ignored."""
    out = _Collector(source)
    for line in lines:
        if line.too_long:
            out.warn(line.number, f"line longer than {MAX_LINE_CHARS} characters, skipped")
            continue
        text = _strip(re.sub(r"(?:^|\s)#.*", "", line.text))
        if not text:
            continue
        if len(text.split()) > 1:
            out.warn(line.number, f"{_shorten(text)}: not a URL (one URL per line, no spaces)")
        elif _is_url_start(text):
            out.add_url(line.number, text)
        else:
            out.warn(line.number, f"{_shorten(text)}: not a URL{_url_hint(text)}")
    return out.result()


@dataclass
class _Pending:
    """A URL whose line ended with it, so the next line may continue it."""

    line: int
    text: str
    line_length: int  # of the whole line it ended, for the hard-wrap test


class _SeedDocumentParser:
    """State machine over the lines of a seed document (design.md, "Seed documents").

    "Original url:" opens a block of URLs, which may be separated by blank lines and may be
    hard-wrapped; the first other line (prose, "Related article:", ...) closes it.
    "Related article: <title>" lines anywhere give the titles attached to every seed.
    """

    def __init__(self, source: str) -> None:
        self.out = _Collector(source)
        self.titles: dict[str, str] = {}  # normalize_title key -> title as written
        self.in_block = False
        self.block_start = 0
        self.block_tries = 0  # URLs found in the block, usable or not
        self.pending: _Pending | None = None

    def feed(self, line: _Line) -> None:
        text = _strip(line.text)
        if line.too_long:
            self.close_block(line.number, f"line longer than {MAX_LINE_CHARS} characters")
        elif match := _RELATED_RE.match(text):
            self.close_block()
            self.add_title(line.number, _strip(_MARKDOWN_LINK.sub(r"\g<text>", match.group(1))))
        elif match := _ORIGINAL_URL_RE.match(text):
            self.close_block()
            self.in_block, self.block_start, self.block_tries = True, line.number, 0
            self.url_line(line, _strip(_MARKDOWN_LINK.sub(r"\g<url>", match.group(1))))
        elif self.in_block:
            self.block_line(line, _MARKDOWN_LINK.sub(r"\g<url>", text))

    def block_line(self, line: _Line, text: str) -> None:
        text = text.translate(_NEVER_IN_URLS)
        if not text:
            self.flush()  # a wrapped URL goes on right on the next line, never after a blank
        elif _is_url_start(text):
            self.url_line(line, text)
        elif self.pending and _continues(self.pending, text):
            self.pending.text += text
            self.pending.line_length = len(line.text.rstrip())
        elif " " not in text and _looks_like_url_piece(text):
            self.flush()
            self.out.warn(
                line.number, f"{_shorten(text)}: looks like part of a URL but follows no URL line"
            )
        else:
            self.close_block()

    def url_line(self, line: _Line, text: str) -> None:
        """A line starting with a URL (or the rest of an "Original url:" line)."""
        self.flush()
        tokens = text.split()
        if not tokens:
            return
        prose = [token for token in tokens if not _is_url_start(token)]
        if prose and tokens[0] in prose:
            self.block_tries += 1
            self.out.warn(line.number, f"{_shorten(text)}: not a URL")
            return
        for token in tokens[:-1]:
            if _is_url_start(token):
                self.try_url(line.number, token)
        if prose:
            self.out.warn(
                line.number, f"text after the URL ignored: {_shorten(' '.join(prose))}", False
            )
        last = tokens[-1]
        if _is_url_start(last):
            self.pending = _Pending(line.number, last, len(line.text.rstrip()))

    def try_url(self, line: int, token: str) -> None:
        self.block_tries += 1
        self.out.add_url(line, token)

    def flush(self) -> None:
        if self.pending:
            self.try_url(self.pending.line, self.pending.text)
            self.pending = None

    def close_block(self, line: int = 0, problem: str = "") -> None:
        self.flush()
        if self.in_block and problem:
            self.out.warn(line, f"{problem}, skipped")
        if self.in_block and not self.block_tries:
            self.out.warn(self.block_start, "no usable URL after 'Original url:'")
        self.in_block = False

    def add_title(self, line: int, title: str) -> None:
        key = normalize_title(title)
        if not key:
            self.out.warn(line, "'Related article:' without a title", False)
        else:
            self.titles.setdefault(key, title)

    def result(self) -> tuple[list[Seed], list[SeedWarning]]:
        self.close_block()
        seeds, warnings = self.out.result()
        titles = tuple(self.titles.values())
        return [dataclasses.replace(seed, related_titles=titles) for seed in seeds], warnings


def _parse_seed_document(
    lines: Iterable[_Line], source: str
) -> tuple[list[Seed], list[SeedWarning]]:
    parser = _SeedDocumentParser(source)
    for line in lines:
        parser.feed(line)
    return parser.result()


def _looks_like_url_piece(text: str) -> bool:
    """URL characters only, a letter or digit, and some sign of being a URL rather than a
    word ("Text.", "Advertisement"): a digit or one of the marks URLs are full of, not
    counting sentence punctuation at the end."""
    core = text.rstrip(_CLOSERS)
    return (
        bool(_URL_CHARS_RE.fullmatch(text.rstrip(">")))
        and any(char.isalnum() for char in core)
        and any(char in _WRAP_MARKS or char.isdigit() for char in core)
    )


def _continues(pending: _Pending, text: str) -> bool:
    """Whether text, the line right after pending's, is the hard-wrapped rest of that URL.

    A wrap happens at the end of a line, so the piece must follow immediately (the caller
    checks that), be a single run of URL characters not starting a URL itself, and look like
    a URL tail: either it has digits or URL marks ("-line-end-a65861", "2024/05/x.html"), or
    the URL was cut right after such a mark ("...slug-" + "tail"), or the URL line is as long
    as text is usually wrapped at and the piece goes on in lower case. A capitalised word on
    its own ("Advertisement") is prose and ends the block instead.
    """
    if pending.text.endswith(">") or not _URL_CHARS_RE.fullmatch(text.rstrip(">")):
        return False
    if not any(char.isalnum() for char in text):
        return False  # "---", "..." and the like are rules and ellipses
    if _looks_like_url_piece(text) or pending.text[-1] in _WRAP_MARKS:
        return True
    return pending.line_length >= MIN_WRAP_WIDTH and text[0].islower()


_PARSERS: dict[SeedKind, _Parser] = {
    SeedKind.URL_LIST: _parse_url_list,
    SeedKind.SEED_DOCUMENT: _parse_seed_document,
}


# --- arguments and merging -------------------------------------------------------------------

_ARG_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")  # two letters at least: not C:\...


def related_titles_by_file(seeds: Iterable[Seed]) -> dict[str, int]:
    """How many "Related article:" titles each seed document gave (file name -> titles)."""
    titles: dict[str, set[str]] = {}
    for seed in seeds:
        if seed.related_titles:
            name = seed.source.rpartition(":")[0] or seed.source
            titles.setdefault(name, set()).update(map(normalize_title, seed.related_titles))
    return {name: len(found) for name, found in titles.items()}


def _load_arg(arg: str) -> tuple[list[Seed], list[SeedWarning]]:
    if not arg.strip():
        return [], [SeedWarning("argv", "empty seed argument")]
    if not os.path.lexists(arg) and _ARG_SCHEME_RE.match(arg.strip()):
        try:
            return [Seed(normalize_url(arg), "argv")], []
        except InvalidURL as exc:
            return [], [SeedWarning("argv", f"{_shorten(arg)}: {exc}")]
    if not os.path.lexists(arg) and (hint := _url_hint(arg.strip())):
        return [], [SeedWarning("argv", f"{_shorten(arg)}: not a URL{hint}, nor a file")]
    try:
        return read_seed_file(arg)
    except SeedError as exc:
        return [], [SeedWarning(redact_credentials(exc.path), exc.reason)]


def _merge_duplicates(seeds: Iterable[Seed]) -> list[Seed]:
    """First Seed of each URL, with the related titles of all of them (first spelling kept)."""
    merged: dict[str, Seed] = {}
    for seed in seeds:
        first = merged.get(seed.url)
        if first is None:
            merged[seed.url] = seed
        elif seed.related_titles:
            ordered = _unique_titles(first.related_titles + seed.related_titles)
            merged[seed.url] = dataclasses.replace(first, related_titles=ordered)
    return list(merged.values())


def _unique_titles(titles: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for title in titles:
        seen.setdefault(normalize_title(title), title)
    return tuple(seen.values())


_FILE_EXTENSIONS = frozenset("txt text md csv tsv json jsonl xml html htm list urls log gz".split())


def _url_hint(text: str) -> str:
    """A hint for a missing file or bad line that was probably meant as a URL."""
    match = re.fullmatch(r"([\w-]+(?:\.[\w-]+)+|localhost)(:\d+)?(/\S*)?", text)
    if not match:
        return ""
    host, port, path = match.groups()
    if port or path or host.rpartition(".")[2] not in _FILE_EXTENSIONS:
        return " (a URL needs http:// or https:// in front)"
    return ""


def _shorten(text: str, limit: int = 120) -> str:
    """text quoted for a message, shortened, and without the password of any URL in it."""
    text = repr(redact_credentials(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."
