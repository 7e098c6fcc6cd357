"""The article's lead, shown outside the body's container, comes back before the text
(newsarchive.extract.lead): found by the page's description or by a lead class, never
duplicated, never taken from navigation, teaser lists or captions."""

from __future__ import annotations

from newsarchive.extract.analysis import extract_page
from tests.test_extract_rules import PROSE as PARAGRAPHS

URL = "https://news.example.org/2024/05/02/city-council-budget"
LEAD = (
    "After seven hours of debate the council passed a budget that raises spending on buses "
    "and schools while keeping road repairs flat."
)
PROSE = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)


def page(header: str, description: str = "", after: str = "") -> bytes:
    meta = f'<meta property="og:description" content="{description}">' if description else ""
    return (
        "<html lang='en'><head><meta charset='utf-8'><title>Council passes budget</title>"
        f"{meta}</head><body><header class='top'><div class='masthead'>City Times</div></header>"
        "<div class='page'><div class='wrap'><div class='column'>"
        f"<main><div class='article-head'><h1>Council passes budget</h1>{header}</div>"
        f"<div class='article-body'>{PROSE}</div>{after}</main>"
        "</div></div></div></body></html>"
    ).encode()


def text_of(body: bytes) -> str:
    return extract_page(body, URL, "text/html; charset=utf-8")["text"]


def test_a_lead_shown_as_the_description_comes_first() -> None:
    text = text_of(page(f"<div class='x-box'>{LEAD}</div>", description=LEAD))
    assert text.startswith(LEAD + "\n")
    assert text.count("seven hours of debate") == 1


def test_a_description_cut_short_still_finds_its_lead() -> None:
    text = text_of(page(f"<p>{LEAD}</p>", description=LEAD[:90] + "…"))
    assert text.startswith(LEAD + "\n")


def test_a_lead_named_by_its_class_comes_first() -> None:
    for name in ("lead", "article-intro", "c-standfirst", "chapo", "teaser-text"):
        assert text_of(page(f"<p class='{name}'>{LEAD}</p>")).startswith(LEAD + "\n"), name


def test_markdown_gets_the_lead_too() -> None:
    result = extract_page(page(f"<p class='lead'>{LEAD}</p>"), URL, "text/html")
    assert LEAD in result["markdown"]


def test_a_lead_the_text_holds_already_is_not_repeated() -> None:
    body = page("", description=LEAD, after="").replace(
        b"<div class='article-body'>", f"<div class='article-body'><p>{LEAD}</p>".encode()
    )
    assert text_of(body).count("seven hours of debate") == 1


def test_no_lead_from_teasers_links_captions_or_navigation() -> None:
    other = "Other news: the harbour reopens after a month of repairs to its northern quay wall."
    for header in (
        f"<p class='lead'><a href='/harbour'>{other}</a></p>",  # a teaser linking elsewhere
        f"<figure><figcaption class='summary'>{other}</figcaption></figure>",  # a caption
        f"<nav><p class='intro'>{other}</p></nav>",  # navigation
        f"<p class='lead'>{other}</p><p class='lead'>{other} Again.</p>",  # several: a list
    ):
        assert "harbour" not in text_of(page(header)), header


def test_a_lead_class_far_from_the_headline_is_not_a_lead() -> None:
    other = "Watch our news channel anytime, anywhere: stream it live or on demand for free."
    sidebar = f"<div class='promo'><p class='dek'>{other}</p></div>"
    body = page("").replace(b"</body>", sidebar.encode() + b"</body>")
    assert "news channel" not in text_of(body)


def test_a_description_that_is_a_notice_is_not_a_lead() -> None:
    notice = "Subscribe to our newsletter and get the most important news of the day by e-mail."
    text = text_of(page(f"<p>{notice}</p>", description=notice))
    assert "newsletter" not in text


def test_the_lead_follows_a_headline_the_text_starts_with() -> None:
    body = (
        "<html><head><meta charset='utf-8'><title>Council passes budget</title>"
        f"<meta name='description' content='{LEAD}'></head><body>"
        f"<div class='article-head'><p>{LEAD}</p></div><article>"
        f"<h1>Council passes budget</h1>{PROSE}</article></body></html>"
    ).encode()
    result = extract_page(body, URL, "text/html")
    assert result["markdown"].split("\n")[:2] == ["# Council passes budget", LEAD]
    assert result["text"].split("\n")[:2] == ["Council passes budget", LEAD]


def test_a_lead_the_text_holds_with_invisible_characters_is_not_repeated() -> None:
    shown = LEAD.replace("council", "coun\u00adcil").replace("budget", "bud\u200bget")
    body = page(f"<p class='lead'>{shown}</p>").replace(
        b"<div class='article-body'>", f"<div class='article-body'><p>{LEAD}</p>".encode()
    )
    assert text_of(body).count("seven hours of debate") == 1
