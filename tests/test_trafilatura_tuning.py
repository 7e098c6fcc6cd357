"""newsarchive.compat.trafilatura: trafilatura's readability comparison sees the real page
only
when trafilatura's own text is short; its re:test XPaths, guarded, select exactly what they did;
both only inside newsarchive's extraction, and neither breaks extraction when trafilatura's
internals are not the expected ones."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import trafilatura
import trafilatura.core
import trafilatura.external
import trafilatura.utils
from lxml.etree import XPath

from newsarchive.compat import trafilatura as trafilatura_tuning
from newsarchive.compat.trafilatura import READABILITY_BELOW
from newsarchive.extract.analysis import extract_page
from tests.conftest import SITE

URL = "https://news.example.org/2024/05/02/harbour-report"
SENTENCE = (
    "The harbour authority reported that container traffic rose for the third quarter in a "
    "row, driven by new routes to the north and by longer opening hours at the eastern quay. "
)


def article(paragraphs: int) -> bytes:
    body = "".join(f"<p>{SENTENCE} Paragraph {i}.</p>" for i in range(paragraphs))
    return (
        "<html lang='en'><head><meta charset='utf-8'><title>Harbour report</title></head>"
        f"<body><nav><a href='/'>Home</a></nav><article><h1>Harbour report</h1>{body}"
        "</article><footer>Contact us</footer></body></html>"
    ).encode()


def test_long_own_text_skips_readability(readability_runs: list[int]) -> None:
    result = extract_page(article(12), URL, "text/html")
    assert len(result["text"]) >= READABILITY_BELOW
    assert "Paragraph 11." in result["text"]
    assert readability_runs == [0]  # it ran on the blank page only


def test_short_own_text_gets_readability_on_the_real_page(readability_runs: list[int]) -> None:
    result = extract_page(article(2), URL, "text/html")
    assert 0 < len(result["text"]) < READABILITY_BELOW
    assert readability_runs and all(length > 0 for length in readability_runs)


def test_trafilatura_outside_newsarchive_is_left_alone(readability_runs: list[int]) -> None:
    extract_page(article(12), URL, "text/html")  # the hook is installed by now
    readability_runs.clear()
    text = trafilatura.extract(article(12).decode(), include_comments=False)
    assert text and len(text) >= READABILITY_BELOW
    assert readability_runs and all(length > 0 for length in readability_runs)


def test_fast_mode_is_left_alone(readability_runs: list[int]) -> None:
    with trafilatura_tuning.tuned():
        trafilatura.bare_extraction(article(2).decode(), fast=True)
    assert readability_runs == []


def changed_extract_content(tree, options, focus):  # type: ignore[no-untyped-def]
    raise AssertionError("a trafilatura whose internals changed must not be called into")


@pytest.mark.parametrize(
    "change",
    [
        lambda core: delattr(core, "compare_extraction"),
        lambda core: setattr(core, "extract_content", changed_extract_content),
    ],
    ids=["a hooked function is gone", "a hooked function takes other parameters"],
)
def test_unexpected_trafilatura_internals_leave_extraction_unchanged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, change: Callable
) -> None:
    monkeypatch.setattr(trafilatura_tuning, "_hooks", None)
    monkeypatch.setattr(trafilatura_tuning, "_warned", set())
    for name in ("_extract_and_compare", "extract_content", "compare_extraction"):
        monkeypatch.setattr(trafilatura.core, name, getattr(trafilatura.core, name))
    change(trafilatura.core)
    with caplog.at_level(logging.WARNING, logger="newsarchive.compat.trafilatura"):
        hooks = trafilatura_tuning._install()
        with trafilatura_tuning.tuned():
            pass
    assert hooks.original_extract_and_compare is None
    assert hooks.lists  # the XPaths are still rewritten
    warnings = [r for r in caplog.records if "readability runs on every page" in r.message]
    assert len(warnings) == 1
    monkeypatch.undo()
    assert "Paragraph 11." in extract_page(article(12), URL, "text/html")["text"]


def test_tuned_and_plain_agree_on_short_pages() -> None:
    html = article(2).decode()
    plain = trafilatura.bare_extraction(html, include_comments=False)
    with trafilatura_tuning.tuned():
        gated = trafilatura.bare_extraction(html, include_comments=False)
    assert plain is not None and gated is not None
    assert gated.text == plain.text


# --- guarded XPaths -----------------------------------------------------------------------------

EDGE_PAGE = """<html><head><title>t</title></head><body>
<div id="comments" class="x"><p>one</p></div><div class=""><p>empty class</p></div>
<div><p>no attributes</p></div><section class="post-comments"><p>c</p></section>
<div class="Cookie-Banner"><p>cookies</p></div><div id="cookie_notice"><p>n</p></div>
<aside class="sidebar"><p>side</p></aside><div class="share-buttons hidden"><p>s</p></div>
<div style="display:none" id="x-hidden"><p>h</p></div><footer><p>f</p></footer>
<span class="author-name">Ada Jones</span><list class="comment-list"><item>i</item></list>
</body></html>"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("re:test(@class, 'a|b')", "((@class) and re:test(@class, 'a|b'))"),
        ("re:test(@id|@class, 'x')", "((@id or @class) and re:test(@id|@class, 'x'))"),
        ("re:test(@class, 'Cookie', 'i')", "((@class) and re:test(@class, 'Cookie', 'i'))"),
        ("re:test(@class, '^$|x')", "re:test(@class, '^$|x')"),  # matches "": unguarded
        ("re:test(@class, 'x?')", "re:test(@class, 'x?')"),
        ("re:test(., 'x')", "re:test(., 'x')"),  # not an attribute test
    ],
)
def test_guarded_path(path: str, expected: str) -> None:
    assert trafilatura_tuning.guarded_path(path) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".//*[self::div or self::p][@id='x']", "(.//div|.//p)[@id='x']"),
        (" .//*[self::div][@a][not(.//h1)] ", "(.//div)[@a][not(.//h1)] "),
        (".//*[self::div or self::p][1]", None),  # positional: a union would change it
        (".//*[self::div][position() < 3]", None),
        (".//*[self::div or self::p][@id='x']/span", None),  # a further step
        (".//*[self::div][@id='x']|.//aside", None),  # a union already
        (".//*[self::div or @id='x'][@class]", None),  # not names only
        (".//*[self::div][contains(@class, '[1]')]", "(.//div)[contains(@class, '[1]')]"),
    ],
)
def test_named_steps(path: str, expected: str | None) -> None:
    assert trafilatura_tuning.named_steps(path) == (path if expected is None else expected)


@pytest.mark.parametrize(
    ("path", "elements_only"),
    [
        (".//*[re:test(@class, '[a-z]+')]", True),
        (".//aside|.//div[contains(@class, 'footer')]", True),
        (".//a/@href", False),
        (".//p//text()", False),
        ("(.//div)[1]", False),
        ("descendant::div", False),
    ],
)
def test_selects_elements_only(path: str, elements_only: bool) -> None:
    assert trafilatura_tuning.selects_elements_only(path) is elements_only


# Every tag the rewritten XPaths name, with id/class values their tests look for.
EDGE_TAGS = "div section aside list item p span a details ol ul".split()
EDGE_VALUES = (
    "comments comment-list Comments post-comments article-comments respond social-links "
    "disqus_thread teaser Teaser caption bottom link infinite-scroll mvp-post-add-box "
    "elementor-share-buttons sidebar share-buttons author-name hidden nav title date"
).split()
MANY_ELEMENTS_PAGE = "<html><body>{}</body></html>".format(
    "".join(
        f"<{tag} {attr}='{value}'><h1>h</h1>{tag} {value}</{tag}>"
        for tag in EDGE_TAGS
        for value in EDGE_VALUES
        for attr in ("id", "class")
    )
)


def fixture_trees() -> list[object]:
    from lxml.html import fromstring

    site = [path.read_bytes() for path in sorted(SITE.rglob("*.html"))]
    pages = [EDGE_PAGE.encode(), MANY_ELEMENTS_PAGE.encode(), *site]
    return [fromstring(page) for page in pages]


def test_tuned_xpaths_select_what_the_originals_select() -> None:
    hooks = trafilatura_tuning._install()
    pairs = [
        (old, new)
        for _, originals, guarded in hooks.lists
        for old, new in zip(originals, guarded, strict=True)
    ] + [(old, new) for _, _, old, new in hooks.attributes if isinstance(old, XPath)]
    rewritten = [(old, new) for old, new in pairs if old is not new]
    assert len(rewritten) >= 10  # the pruning XPaths of trafilatura 2.3 are among them
    trees = fixture_trees()
    for old, new in rewritten:
        assert new.path != old.path
        for tree in trees:
            assert new(tree) == old(tree), old.path


def test_tuned_xpaths_are_swapped_in_only_inside_tuned() -> None:
    import trafilatura.xpaths

    hooks = trafilatura_tuning._install()
    target, originals, guarded = hooks.lists[0]
    assert target == originals
    discard = trafilatura.xpaths.OVERALL_DISCARD_XPATH
    plain_paths = [x.path for x in discard]
    with trafilatura_tuning.tuned():
        assert target == guarded
        assert [x.path for x in discard] == [trafilatura_tuning.tuned_path(p) for p in plain_paths]
        with trafilatura_tuning.tuned():  # nested: still guarded
            assert target == guarded
        assert target == guarded
    assert target == originals
    for module, attr, old, _ in hooks.attributes:
        assert getattr(module, attr) is old


# --- the parser -------------------------------------------------------------------------------

FORM_PAGE = (
    "<html><head><title>t</title></head><body><form action='/search'><input name='q'>"
    "<select name='s'><option>a</option></select><textarea>t</textarea></form>"
    f"<article>{''.join(f'<p>{SENTENCE}</p>' for _ in range(8))}</article></body></html>"
)


def test_pages_are_parsed_with_the_c_level_lookup_and_give_the_same_tree() -> None:
    from lxml.html import HtmlElement, tostring
    from trafilatura.utils import load_html

    from newsarchive.extract.analysis import parse_html

    tree = parse_html(FORM_PAGE)
    plain = load_html(FORM_PAGE)  # outside tuned(): trafilatura's own parser
    assert tree is not None and plain is not None
    assert {type(element) for element in tree.iter()} == {HtmlElement}
    assert {type(element).__name__ for element in plain.iter()} >= {"FormElement", "InputElement"}
    assert tostring(tree) == tostring(plain)
    assert type(load_html(FORM_PAGE).find(".//form")).__name__ == "FormElement"  # swapped back


def test_extraction_is_the_same_with_either_parser() -> None:
    from trafilatura.utils import load_html

    plain_tree = load_html(FORM_PAGE)
    plain = trafilatura.bare_extraction(plain_tree, include_comments=False)
    with trafilatura_tuning.tuned():
        tuned_tree = load_html(FORM_PAGE)
        assert type(tuned_tree.find(".//form")).__name__ == "HtmlElement"
        tuned = trafilatura.bare_extraction(tuned_tree, include_comments=False)
    assert plain is not None and tuned is not None
    assert tuned.text == plain.text and SENTENCE.strip() in tuned.text


# --- trees handed over --------------------------------------------------------------------------


def test_a_tree_handed_over_is_pruned_in_place_with_the_same_result() -> None:
    from lxml.html import tostring
    from trafilatura.utils import load_html

    comments = "<div id='comments'><p>A reader's comment on the harbour report.</p></div>"
    page = article(12).decode().replace("</article>", f"</article>{comments}")
    plain = trafilatura.bare_extraction(load_html(page), include_comments=False)
    with trafilatura_tuning.tuned():
        kept = load_html(page)
        before = tostring(kept)
        kept_doc = trafilatura.bare_extraction(kept, include_comments=False)
        assert tostring(kept) == before  # not handed over: trafilatura worked on a copy
        given = load_html(page)
        with trafilatura_tuning.handed_over(given):
            given_doc = trafilatura.bare_extraction(given, include_comments=False)
    assert plain is not None and kept_doc is not None and given_doc is not None
    assert given_doc.text == kept_doc.text == plain.text
    assert given.find(".//div[@id='comments']") is None  # pruned in place: no copy was made
    assert kept.find(".//div[@id='comments']") is not None


def test_only_bare_extractions_own_copy_is_skipped() -> None:
    from trafilatura.utils import load_html

    tree = load_html(article(2).decode())
    with trafilatura_tuning.tuned(), trafilatura_tuning.handed_over(tree):
        copied = trafilatura.core.copy(tree)  # called from here, not from bare_extraction
    assert copied is not tree
    assert trafilatura.core.copy is trafilatura_tuning.copy  # swapped back
