"""Tests of newsarchive.crawl.seeds."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from newsarchive.base.urls import normalize_url
from newsarchive.crawl import seeds as seeds_module
from newsarchive.crawl.seeds import (
    MAX_LINE_CHARS,
    MAX_WARNINGS_PER_SOURCE,
    Seed,
    SeedError,
    SeedKind,
    SeedWarning,
    classify_seed_file,
    classify_seed_lines,
    load_seeds,
    parse_seed_text,
    read_seed_file,
    related_titles_by_file,
)

BASE = "https://www.example-news.com"
WRAPPED_HEAD = f"{BASE}/2019/06/04/some-long-article-slug-that-runs-past-the"
WRAPPED_URL = f"{WRAPPED_HEAD}-line-end-a65861"

DESIGN_EXAMPLE = f"""The minister said on Tuesday that the plan would go ahead.

Related article: Minister\u2019s plan \u2014 what we know
Related article: Opposition reacts

More article text follows here, with a URL in prose: {BASE}/2020/01/01/ignored.

Original url:
{WRAPPED_HEAD}
-line-end-a65861

{BASE}/2024/04/28/another-article
"""


def urls_of(seeds: list[Seed]) -> list[str]:
    return [seed.url for seed in seeds]


def messages(warnings: list[SeedWarning]) -> list[str]:
    return [str(warning) for warning in warnings]


# --- seed documents --------------------------------------------------------------------------


def test_design_example() -> None:
    seeds, warnings = parse_seed_text(DESIGN_EXAMPLE, "doc.txt")
    assert warnings == []
    assert urls_of(seeds) == [WRAPPED_URL, f"{BASE}/2024/04/28/another-article"]
    assert [seed.source for seed in seeds] == ["doc.txt:9", "doc.txt:12"]
    titles = ("Minister\u2019s plan \u2014 what we know", "Opposition reacts")
    assert all(seed.related_titles == titles for seed in seeds)


def test_wrapped_url_is_joined_before_slug_tail() -> None:
    text = (
        "Original url:\n"
        "https://news.example.org/politics/2023/11/02/parliament-votes-on-the-long-awaited\n"
        "-budget-reform-a12345\n"
    )
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [
        "https://news.example.org/politics/2023/11/02/parliament-votes-on-the-long-awaited"
        "-budget-reform-a12345"
    ]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (f"{BASE}/2019/06/04/some-long-article-slug-that-runs-pa", "st-the-line-end-a65861"),
        (f"{BASE}/2019/06/04/some-long-article-slug-that-runs-past-the-", "line-end-a65861"),
        (f"{BASE}/2019/06/04/some-long-article-slug-that-runs-past-the-line-", "end"),
        (f"{BASE}/2019/06/04/some-long-article-slug-that-runs-past-the-line-en", "d"),
        (f"{BASE}/2019/06/04/", "some-long-article-slug-that-runs-past-the-line-end-a65861"),
        (f"{BASE}/2019/06/04/some-long-article-slug-that-runs-past-the-line-end-a6", "5861"),
        (f"{BASE}/search?q=a", "&page=2"),
    ],
)
def test_wrap_points(first: str, second: str) -> None:
    seeds, warnings = parse_seed_text(f"Original url:\n{first}\n{second}\n", "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [normalize_url(first + second)]


def test_url_wrapped_over_three_lines() -> None:
    text = (
        "Original url:\n"
        f"{BASE}/2019/06/04/some-long-article-slug-that\n"
        "-runs-past-the-line-end-twice-and-then-some-more-text-until-the\n"
        "-end-a65861\n"
    )
    seeds, _ = parse_seed_text(text, "s.txt")
    expected = (
        f"{BASE}/2019/06/04/some-long-article-slug-that"
        "-runs-past-the-line-end-twice-and-then-some-more-text-until-the-end-a65861"
    )
    assert urls_of(seeds) == [expected]


def test_second_line_is_a_new_url_not_a_continuation() -> None:
    text = f"Original url:\n{WRAPPED_HEAD}\n{BASE}/2024/04/28/another-article\n"
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [WRAPPED_HEAD, f"{BASE}/2024/04/28/another-article"]


def test_several_urls_separated_by_blank_lines() -> None:
    text = (
        "Original url:\n\n"
        f"{BASE}/2024/04/28/one\n\n\n"
        f"   {BASE}/2024/04/28/two\n"
        "\t\n"
        f"\t{BASE}/2024/04/28/three\n"
        "\n"
        "The end of the block is this sentence.\n"
        f"{BASE}/2024/04/28/not-a-seed\n"
    )
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/{slug}" for slug in ("one", "two", "three")]
    assert [seed.source for seed in seeds] == ["s.txt:3", "s.txt:6", "s.txt:8"]


def test_continuation_after_blank_line_is_not_joined() -> None:
    text = f"Original url:\n{WRAPPED_HEAD}\n\n-line-end-a65861\n"
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert urls_of(seeds) == [WRAPPED_HEAD]
    assert messages(warnings) == [
        "s.txt:4: '-line-end-a65861': looks like part of a URL but follows no URL line"
    ]


@pytest.mark.parametrize(
    "prose", ["Advertisement", "Photo: Reuters", "Text.", "(AP)", "Ends!", "---", "***", "..."]
)
def test_prose_after_url_ends_the_block(prose: str) -> None:
    text = f"Original url:\n{WRAPPED_HEAD}\n{prose}\n{BASE}/2024/04/28/after-prose\n"
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [WRAPPED_HEAD]


def test_related_article_ends_the_block_and_titles_come_from_anywhere() -> None:
    text = (
        "Related article: First\n"
        "Original url:\n"
        f"{BASE}/2024/04/28/one\n"
        "Related article: Second\n"
        f"{BASE}/2024/04/28/outside-block\n"
        "related ARTICLE:   first  \n"
        "Related article: \u201cThird\u201d\n"
    )
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/one"]
    assert seeds[0].related_titles == ("First", "Second", "\u201cThird\u201d")


def test_urls_on_the_original_url_line() -> None:
    text = f"ORIGINAL URL: {BASE}/2024/04/28/one  {BASE}/2024/04/28/two\n{BASE}/2024/04/28/three\n"
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/{slug}" for slug in ("one", "two", "three")]


def test_url_on_original_url_line_can_wrap() -> None:
    text = f"Original url: {WRAPPED_HEAD}\n-line-end-a65861\n"
    seeds, _ = parse_seed_text(text, "s.txt")
    assert urls_of(seeds) == [WRAPPED_URL]


def test_several_blocks() -> None:
    text = f"Original url:\n{BASE}/2024/04/28/one\nText.\nOriginal url:\n{BASE}/2024/04/28/two\n"
    seeds, _ = parse_seed_text(text, "s.txt")
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/one", f"{BASE}/2024/04/28/two"]


def test_crlf_bom_tabs_and_leading_spaces() -> None:
    text = "\ufeff" + DESIGN_EXAMPLE.replace("\n", "\r\n").replace(
        "Original url:", " \tOriginal url:"
    )
    seeds, warnings = parse_seed_text(text, "doc.txt")
    assert warnings == []
    assert urls_of(seeds) == [WRAPPED_URL, f"{BASE}/2024/04/28/another-article"]
    assert seeds[0].related_titles[1] == "Opposition reacts"


def test_bom_before_original_url_on_the_first_line() -> None:
    seeds, _ = parse_seed_text(f"\ufeffOriginal URLs:\r\n{BASE}/2024/04/28/one\r\n", "s.txt")
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/one"]


def test_old_mac_line_endings() -> None:
    seeds, _ = parse_seed_text(DESIGN_EXAMPLE.replace("\n", "\r"), "doc.txt")
    assert urls_of(seeds) == [WRAPPED_URL, f"{BASE}/2024/04/28/another-article"]


@pytest.mark.parametrize(
    "line",
    [
        f"<{BASE}/2024/04/28/one>",
        f"({BASE}/2024/04/28/one)",
        f"{BASE}/2024/04/28/one.",
        f"{BASE}/2024/04/28/one,",
        f"{BASE}/2024/04/28/one);",
        f"\u201c{BASE}/2024/04/28/one\u201d",
        f'"{BASE}/2024/04/28/one"',
        f"{BASE}/2024/04/28/one#comments",
    ],
)
def test_url_punctuation_is_stripped(line: str) -> None:
    seeds, warnings = parse_seed_text(f"Original url:\n{line}\n", "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/one"]


def test_balanced_parentheses_are_kept() -> None:
    seeds, _ = parse_seed_text("Original url:\nhttps://en.example.org/wiki/Foo_(bar)\n", "s")
    assert urls_of(seeds) == ["https://en.example.org/wiki/Foo_(bar)"]


def test_wrapped_url_in_angle_brackets() -> None:
    text = f"Original url:\n<{WRAPPED_HEAD}\n-line-end-a65861>\n"
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [WRAPPED_URL]


def test_markdown_links() -> None:
    """Seed documents exported as Markdown: the link's URL is the seed, its text the title."""
    text = (
        f"Original url: [{BASE}/2024/04/28/one]({BASE}/2024/04/28/one)\n"
        f"[the second]({BASE}/2024/04/28/two).\n\n"
        f"Related article: [Harbour vote delayed]({BASE}/2024/04/28/three)\n"
    )
    seeds, warnings = parse_seed_text(text, "s.md")
    assert warnings == []
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/one", f"{BASE}/2024/04/28/two"]
    assert seeds[0].related_titles == ("Harbour vote delayed",)


def test_soft_hyphens_and_invisible_characters_leave_urls() -> None:
    """Text tools insert soft hyphens where they would break a long word, and zero-width
    spaces; neither is ever part of a URL as written."""
    text = f"Original url:\n{WRAPPED_HEAD}\u00ad\n-line-\u200bend-a65861\n"
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert warnings == []
    assert urls_of(seeds) == [WRAPPED_URL]
    seeds, _ = parse_seed_text(f"Original url: {BASE}/some\u00adthing\n", "s.txt")
    assert urls_of(seeds) == [f"{BASE}/something"]
    text = f"Original url: {BASE}/2024/04/28/some\u00ad\nthing\nRelated article: T\n"
    seeds, warnings = parse_seed_text(text, "s.txt")  # broken at the soft hyphen
    assert warnings == [] and urls_of(seeds) == [f"{BASE}/2024/04/28/something"]


def test_bad_lines_give_warnings_with_file_and_line() -> None:
    text = (
        "Intro text.\n"  # 1
        "Original url:\n"  # 2
        "ftp://files.example.com/2024/04/28/one\n"  # 3
        "\n"  # 4
        "https://user:pass@example.com/2024/04/28/two\n"  # 5
        "https://exa_mple-.com/x\n"  # 6
        "www.example.com/2024/04/28/three\n"  # 7
        "javascript:alert(1)\n"  # 8
        f"{BASE}/2024/04/28/good (paywalled)\n"  # 9
        "Related article:\n"  # 10
        "Original url:\n"  # 11
        "not available\n"  # 12
    )
    seeds, warnings = parse_seed_text(text, "doc.txt")
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/good"]
    wheres = [warning.where for warning in warnings]
    assert wheres == [f"doc.txt:{n}" for n in (3, 5, 6, 7, 8, 9, 10, 11)]
    text_of = dict(zip(wheres, [warning.message for warning in warnings], strict=True))
    assert "unsupported scheme 'ftp'" in text_of["doc.txt:3"]
    assert "credentials" in text_of["doc.txt:5"]
    assert "invalid host name label" in text_of["doc.txt:6"]
    assert "no scheme" in text_of["doc.txt:7"]
    assert "unsupported scheme 'javascript'" in text_of["doc.txt:8"]
    assert "text after the URL ignored" in text_of["doc.txt:9"]
    assert "without a title" in text_of["doc.txt:10"]
    assert "no usable URL after 'Original url:'" in text_of["doc.txt:11"]
    assert str(warnings[0]).startswith("doc.txt:3: ")


def test_unjoinable_continuation_is_reported() -> None:
    # The joined URL is invalid (a space-free tail can still break the host).
    text = "Original url:\nhttps://example\n.com.-/2024/04/28/x\n"
    seeds, warnings = parse_seed_text(text, "s.txt")
    assert seeds == []
    assert len(warnings) == 1
    assert warnings[0].where == "s.txt:2"
    assert "invalid host name label" in warnings[0].message


def test_duplicates_keep_first_and_merge_titles() -> None:
    text = (
        "Related article: A\n"
        f"Original url:\n{BASE}/2024/04/28/one\n{BASE}/2024/04/28/ONE#x\n"
        f"{BASE}/2024/04/28/one\n"
    )
    seeds, _ = parse_seed_text(text, "s.txt")
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/one", f"{BASE}/2024/04/28/ONE"]
    assert seeds[0].source == "s.txt:3"


def test_document_without_urls() -> None:
    seeds, warnings = parse_seed_text("Original url:\n", "s.txt")
    assert seeds == []
    assert messages(warnings) == ["s.txt:1: no usable URL after 'Original url:'"]
    seeds, warnings = parse_seed_text("Original url:\n\nftp://example.com/x\n", "s.txt")
    assert messages(warnings) == [
        "s.txt:3: 'ftp://example.com/x': unsupported scheme 'ftp': only http and https are accepted"
    ]


# --- URL lists -------------------------------------------------------------------------------


def test_url_list() -> None:
    text = (
        "# seeds for the test\n"  # 1
        "\n"  # 2
        f"{BASE}/2024/04/28/one\n"  # 3
        f"  {BASE}/2024/04/28/two   # inline comment\n"  # 4
        f"{BASE}/2024/04/28/three#fragment\n"  # 5
        "   # indented comment\n"  # 6
        "example.com/no-scheme\n"  # 7
        "mailto:x@example.com\n"  # 8
        f"{BASE}/a {BASE}/b\n"  # 9
        "Related article: not special here\n"  # 10
        f"<{BASE}/2024/04/28/four>\r\n"  # 11
        f"{BASE}/2024/04/28/one\n"  # 12 duplicate
    )
    seeds, warnings = parse_seed_text(text, "list.txt")
    assert urls_of(seeds) == [
        f"{BASE}/2024/04/28/one",
        f"{BASE}/2024/04/28/two",
        f"{BASE}/2024/04/28/three",
        f"{BASE}/2024/04/28/four",
    ]
    assert [seed.source for seed in seeds] == [f"list.txt:{n}" for n in (3, 4, 5, 11)]
    assert all(seed.related_titles == () for seed in seeds)
    assert [warning.where for warning in warnings] == [f"list.txt:{n}" for n in (7, 8, 9, 10)]
    assert "http:// or https://" in warnings[0].message
    assert "one URL per line" in warnings[2].message


def test_classify_seed_lines() -> None:
    assert classify_seed_lines(["https://example.com/"]) is SeedKind.URL_LIST
    assert classify_seed_lines([]) is SeedKind.URL_LIST
    assert classify_seed_lines(["text", "  original URL: https://x"]) is SeedKind.SEED_DOCUMENT
    assert classify_seed_lines(["the original url: in prose"]) is SeedKind.URL_LIST


def test_warnings_are_capped() -> None:
    text = "\n".join(f"bad line {n}" for n in range(500))
    seeds, warnings = parse_seed_text(text, "junk.txt")
    assert seeds == []
    assert len(warnings) == MAX_WARNINGS_PER_SOURCE + 1
    assert str(warnings[-1]) == f"junk.txt: {500 - MAX_WARNINGS_PER_SOURCE} more problems not shown"


# --- files and arguments ---------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return str(path)


def test_load_seeds_from_urls_and_files(tmp_path: Path) -> None:
    doc = write(tmp_path, "doc.txt", DESIGN_EXAMPLE.replace("\n", "\r\n"))
    url_list = write(tmp_path, "list.txt", f"{BASE}/2024/04/28/another-article\n{BASE}/x-12345\n")
    seeds, warnings = load_seeds([f"{BASE}/2024/04/28/another-article", doc, url_list])
    assert warnings == []
    assert urls_of(seeds) == [
        f"{BASE}/2024/04/28/another-article",
        WRAPPED_URL,
        f"{BASE}/x-12345",
    ]
    assert seeds[0].source == "argv"
    # the first occurrence is kept, with the related titles of the later ones merged in
    assert seeds[0].related_titles == (
        "Minister\u2019s plan \u2014 what we know",
        "Opposition reacts",
    )
    assert seeds[1].source == f"{doc}:9"
    assert seeds[2].source == f"{url_list}:2"


def test_duplicate_titles_merge_across_documents(tmp_path: Path) -> None:
    url = f"{BASE}/2024/04/28/one"
    a = write(tmp_path, "a.txt", f"Related article: Alpha\nOriginal url:\n{url}\n")
    b = write(
        tmp_path, "b.txt", f"Related article: ALPHA!\nRelated article: Beta\nOriginal url: {url}\n"
    )
    seeds, _ = load_seeds([a, b])
    assert len(seeds) == 1
    assert seeds[0].source == f"{a}:3"
    assert seeds[0].related_titles == ("Alpha", "Beta")


@pytest.mark.parametrize(
    ("arg", "where", "message"),
    [
        ("ftp://example.com/x", "argv", "unsupported scheme 'ftp'"),
        ("mailto:someone@example.com", "argv", "unsupported scheme 'mailto'"),
        ("http://user:pw@example.com/", "argv", "credentials"),
        ("https://exa mple.com/", "argv", "whitespace"),
        ("", "argv", "empty seed argument"),
        ("example.com/article-12345", "argv", "not a URL (a URL needs http://"),
        ("www.example.com", "argv", "not a URL (a URL needs http://"),
        ("127.0.0.1:8765/rss.xml", "argv", "not a URL (a URL needs http://"),
        ("localhost:8080/news", "argv", "no scheme: only http:// and https://"),
        ("missing-seeds.txt", "missing-seeds.txt", "no such file"),
    ],
)
def test_bad_arguments(arg: str, where: str, message: str) -> None:
    seeds, warnings = load_seeds([arg, f"{BASE}/2024/04/28/ok"])
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/ok"]
    assert len(warnings) == 1
    assert warnings[0].where == where
    assert message in warnings[0].message
    if arg.endswith(".txt"):
        assert "URL" not in warnings[0].message


def test_missing_file_directory_binary_empty(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.txt")
    binary = write(
        tmp_path, "image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    )
    empty = write(tmp_path, "empty.txt", b"")
    blank = write(tmp_path, "blank.txt", b"\xef\xbb\xbf\r\n  \n")
    comments = write(tmp_path, "comments.txt", "# nothing yet\n")
    good = write(tmp_path, "good.txt", f"{BASE}/2024/04/28/one\n")
    args = [missing, str(tmp_path), binary, empty, blank, comments, good]
    seeds, warnings = load_seeds(args)
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/one"]
    assert messages(warnings) == [
        f"{missing}: no such file",
        f"{tmp_path}: is a directory, not a seed file",
        f"{binary}: not a seed file (binary file)",
        f"{empty}: empty file, no seeds",
        f"{blank}: empty file, no seeds",
        f"{comments}: no seed URLs found in this URL list",
    ]


def test_read_seed_file_raises_seed_error_naming_the_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.txt")
    with pytest.raises(SeedError, match="missing.txt: no such file") as info:
        read_seed_file(missing)
    assert info.value.path == missing
    with pytest.raises(SeedError, match="is a directory"):
        read_seed_file(tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "secret.txt", f"{BASE}/2024/04/28/one\n")
    os.chmod(path, 0)
    seeds, warnings = load_seeds([path])
    assert seeds == []
    assert messages(warnings) == [f"{path}: cannot read: Permission denied"]


def test_unreadable_file_when_open_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "secret.txt", f"{BASE}/2024/04/28/one\n")

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(seeds_module, "open", denied, raising=False)
    seeds, warnings = load_seeds([path])
    assert seeds == []
    assert messages(warnings) == [f"{path}: cannot read: Permission denied"]


def test_file_encodings(tmp_path: Path) -> None:
    doc = f"Related article: Caf\u00e9 talk\nOriginal url:\n{BASE}/2024/04/28/caf\u00e9\n"
    url = f"{BASE}/2024/04/28/caf%C3%A9"
    for name, data in [
        ("utf8.txt", doc.encode("utf-8")),
        ("bom.txt", doc.encode("utf-8-sig")),
        ("utf16.txt", doc.encode("utf-16")),
        ("cp1252.txt", doc.encode("cp1252")),
    ]:
        seeds, warnings = read_seed_file(write(tmp_path, name, data))
        assert warnings == [], name
        assert urls_of(seeds) == [url], name
        assert seeds[0].related_titles == ("Caf\u00e9 talk",), name


def test_overlong_lines_are_skipped_without_loading_them(tmp_path: Path) -> None:
    huge = "x" * (MAX_LINE_CHARS * 3 + 17)
    text = (
        f"{huge}\n"  # 1
        "Original url:\n"  # 2
        f"{BASE}/2024/04/28/one\n"  # 3
        f"{huge}\n"  # 4
        f"{BASE}/2024/04/28/outside\n"  # 5
        "Original url:\n"  # 6
        f"{BASE}/2024/04/28/two\n"  # 7
    )
    path = write(tmp_path, "huge.txt", text)
    seeds, warnings = read_seed_file(path)
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/one", f"{BASE}/2024/04/28/two"]
    assert messages(warnings) == [
        f"{path}:4: line longer than {MAX_LINE_CHARS} characters, skipped"
    ]
    url_list = write(tmp_path, "list.txt", f"{huge}\n{BASE}/2024/04/28/one\n")
    seeds, warnings = read_seed_file(url_list)
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/one"]
    assert [warning.where for warning in warnings] == [f"{url_list}:1"]


def test_many_lines_are_streamed(tmp_path: Path) -> None:
    lines = [f"{BASE}/2024/04/28/story-{n}" for n in range(20_000)]
    path = write(tmp_path, "big.txt", "\n".join(lines) + "\nOriginal url:\n" + lines[5] + "\n")
    assert classify_seed_file(path) is SeedKind.SEED_DOCUMENT
    seeds, warnings = read_seed_file(path)
    assert warnings == []
    assert urls_of(seeds) == [lines[5]]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_seeds_from_a_pipe(tmp_path: Path) -> None:
    fifo = str(tmp_path / "pipe")
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "w", encoding="utf-8") as stream:
            stream.write(DESIGN_EXAMPLE)

    thread = threading.Thread(target=writer)
    thread.start()
    seeds, warnings = load_seeds([fifo])
    thread.join(timeout=10)
    assert warnings == []
    assert urls_of(seeds) == [WRAPPED_URL, f"{BASE}/2024/04/28/another-article"]


def test_seed_warning_str() -> None:
    assert str(SeedWarning("a.txt:3", "bad")) == "a.txt:3: bad"


def test_invalid_seeds_and_notes_are_told_apart() -> None:
    text = (
        "Related article:\n"  # 1: a note
        "Original url:\n"  # 2
        f"{BASE}/2024/04/28/good (paywalled)\n"  # 3: a note, the URL is used
        "htp://example.com/2024/04/28/bad\n"  # 4: invalid
    )
    seeds, warnings = parse_seed_text(text, "doc.txt")
    assert urls_of(seeds) == [f"{BASE}/2024/04/28/good"]
    assert [(w.where, w.invalid) for w in warnings] == [
        ("doc.txt:1", False), ("doc.txt:3", False), ("doc.txt:4", True)
    ]


@pytest.mark.parametrize(
    "arg",
    [
        "https://bob:hunter2pw@example.com/2024/04/28/x",
        "bob:hunter2pw@example.com/2024/04/28/x",
        "ftp://bob:hunter2pw@example.com/x",
        "https://bob:hunter2pw@exa mple.com/x",
    ],
)
def test_passwords_stay_out_of_warnings(arg: str, tmp_path: Path) -> None:
    listed = write(tmp_path, "urls.txt", f"{arg}\n")
    _, warnings = load_seeds([arg, listed])
    quoting = [str(w) for w in warnings if w.where in ("argv", f"{listed}:1")]
    assert len(quoting) == 2
    assert all("bob:***@" in text for text in quoting)
    assert not any("hunter2pw" in str(warning) for warning in warnings)


def test_related_titles_by_file(tmp_path: Path) -> None:
    document = write(
        tmp_path,
        "doc.txt",
        "Related article: Three-year plan\nRelated article: THREE YEAR PLAN\n"
        f"Related article: Other\nOriginal url:\n{BASE}/2024/04/28/a\n{BASE}/2024/04/28/b\n",
    )
    seeds, _ = load_seeds([document, f"{BASE}/2024/04/28/c"])
    assert related_titles_by_file(seeds) == {document: 2}


# --- properties ------------------------------------------------------------------------------

_pieces = st.sampled_from(
    [
        "Original url:",
        "original URL: https://example.com/2024/01/01/x",
        "Related article: A title",
        "Related article:",
        "https://example.com/2024/01/01/some-long-slug-that-wraps-past-the",
        "-line-end-a12345",
        "line-end",
        "<https://example.com/a>",
        "http://user:pw@example.com/",
        "ftp://example.com/",
        "www.example.com/x",
        "# comment",
        "Advertisement",
        "Prose with several words.",
        "",
        " ",
        "\t",
        "\ufeff",
        "https://b\u00fccher.de/\u00e9",
        "http://[::1]:8080/x",
    ]
)
_lines = st.lists(st.one_of(_pieces, st.text(max_size=30)), max_size=25)
_newlines = st.sampled_from(["\n", "\r\n", "\r"])


@given(_lines, _newlines)
@example(["Original url:", "https://example.com/a", "\x00"], "\n")
@example(["Original url:", "http://e.com/\ud800"], "\n")
def test_parse_seed_text_properties(lines: list[str], newline: str) -> None:
    seeds, warnings = parse_seed_text(newline.join(lines), "fuzz.txt")
    assert len({seed.url for seed in seeds}) == len(seeds)
    for seed in seeds:
        assert seed.url.startswith(("http://", "https://"))
        assert normalize_url(seed.url) == seed.url
        assert seed.source.startswith("fuzz.txt:")
        assert all(title.strip() == title and title for title in seed.related_titles)
    for warning in warnings:
        assert isinstance(warning, SeedWarning)
        assert warning.where.startswith("fuzz.txt")
        assert warning.message


@given(st.binary(max_size=300))
def test_read_seed_file_never_raises_on_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "seed"
    path.write_bytes(data)
    try:
        seeds, warnings = read_seed_file(path)
    except SeedError as exc:
        assert exc.path == str(path)
        return
    for seed in seeds:
        assert normalize_url(seed.url) == seed.url
    assert all(isinstance(warning, SeedWarning) for warning in warnings)
