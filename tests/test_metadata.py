"""Page metadata chosen by evidence (newsarchive.extract.metadata.page_metadata), each rule on a
small hand-made page: every JSON-LD shape real sites use, the checks each field's value must
pass before it is taken, and the visible page (bylines, <title>/<h1>, header dates) as the
tie-breaker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from newsarchive.extract.analysis import parse_html
from newsarchive.extract.metadata import Metadata, page_metadata

URL = "https://news.example.org/2024/05/02/council-budget"
TITLE = "Council passes budget after seven hours"
CAPTURED = datetime(2024, 5, 10, tzinfo=UTC)
ARTICLE = {
    "@type": "NewsArticle",
    "headline": TITLE,
    "author": {"@type": "Person", "name": "Ada Jones"},
    "datePublished": "2024-05-02T21:15:00+02:00",
    "publisher": {"@type": "Organization", "name": "City Times"},
}
CONTEXT = "https://schema.org"


def json_ld(data: object) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def metadata(head: str = "", header: str = "", title: str = TITLE, url: str = URL) -> Metadata:
    html = (
        f"<html><head><title>{title} | City Times</title>{head}</head><body><article>"
        f"<header><h1>{title}</h1>{header}</header><p>{'The council met. ' * 20}</p>"
        "</article></body></html>"
    )
    tree = parse_html(html)
    assert tree is not None
    return page_metadata(tree, url, CAPTURED)


def assert_article(meta: Metadata, sitename: str | None = "City Times") -> None:
    assert (meta.title, meta.author, meta.published) == (
        TITLE, "Ada Jones", "2024-05-02T21:15:00+02:00"
    )  # fmt: skip
    assert meta.sitename == sitename


# --- JSON-LD shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "context",
    [
        CONTEXT,
        "http://schema.org/",
        {"@vocab": "https://schema.org/", "@language": "en"},
        [CONTEXT, {"@language": "en"}],
    ],
    ids=["string", "http-string", "object", "array"],
)
def test_context_as_string_object_or_array(context: object) -> None:
    assert_article(metadata(json_ld({"@context": context, **ARTICLE})))


def test_context_object_naming_a_prefix() -> None:
    prefixed = {
        "@context": {"schema": "https://schema.org/"},
        "@type": "schema:NewsArticle",
        "schema:headline": TITLE,
        "schema:author": {"@type": "schema:Person", "schema:name": "Ada Jones"},
        "schema:datePublished": "2024-05-02T21:15:00+02:00",
        "schema:publisher": {"@type": "schema:Organization", "schema:name": "City Times"},
    }
    assert_article(metadata(json_ld(prefixed)))


def test_graph_with_website_organization_article_and_breadcrumbs() -> None:
    graph = {"@context": CONTEXT, "@graph": [
        {"@type": "WebSite", "@id": "https://news.example.org/#website", "name": "City Times"},
        {"@type": "Organization", "@id": "https://news.example.org/#org", "name": "City Times"},
        {"@type": "BreadcrumbList", "itemListElement": [
            {"@type": "ListItem", "position": 1, "name": "Politics"}]},
        {**ARTICLE, "publisher": {"@id": "https://news.example.org/#org"},
         "author": "Ada Jones; City Times"},
    ]}  # fmt: skip
    # a publisher named by reference is the company more often than the site: not the sitename,
    # but the author that bears its name is still dropped
    assert_article(metadata(json_ld(graph)), sitename=None)


def test_top_level_array() -> None:
    blocks = [{"@context": CONTEXT, "@type": "WebSite", "name": "City Times"}, ARTICLE]
    assert_article(metadata(json_ld(blocks)))


def test_article_as_a_web_pages_main_entity() -> None:
    page = {"@context": CONTEXT, "@type": "WebPage", "name": "City Times", "mainEntity": ARTICLE}
    assert_article(metadata(json_ld(page)))


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("Ada Jones", "Ada Jones"),
        ({"@type": "Person", "name": "Ada Jones"}, "Ada Jones"),
        ({"@type": "Person", "givenName": "Ada", "familyName": "Jones"}, "Ada Jones"),
        ([{"@type": "Person", "name": "Ada Jones"}, {"@type": "Person", "name": "B. Li"}],
         "Ada Jones; B. Li"),  # as trafilatura normalises names, initials kept
        (["Ada Jones", "https://news.example.org/authors/ada"], "Ada Jones"),
        ({"@type": "Person", "name": "Caf&eacute; Owner"}, "Café Owner"),
    ],
    ids=["string", "object", "given-family", "array", "array-with-address", "entity"],
)  # fmt: skip
def test_author_shapes(author: object, expected: str) -> None:
    assert metadata(json_ld({"@context": CONTEXT, **ARTICLE, "author": author})).author == expected


def test_author_referenced_by_id_in_the_graph() -> None:
    person = "https://news.example.org/#/schema/person/1"
    graph = {"@context": CONTEXT, "@graph": [
        {**ARTICLE, "author": [{"@id": person}]},
        {"@type": "Person", "@id": person, "name": "Ada Jones"},
    ]}  # fmt: skip
    assert metadata(json_ld(graph)).author == "Ada Jones"


def test_author_of_the_web_page_when_there_is_no_article() -> None:
    person = "https://news.example.org/#/schema/person/1"
    graph = {"@context": CONTEXT, "@graph": [
        {"@type": "WebPage", "@id": URL + "#webpage", "url": URL, "name": TITLE,
         "author": {"@id": person}},
        {"@type": "Person", "@id": person, "name": "Ada Jones"},
        {"@type": "Person", "@id": "https://news.example.org/#owner", "name": "Site Owner"},
    ]}  # fmt: skip
    assert metadata(json_ld(graph)).author == "Ada Jones"


def test_of_several_articles_the_one_naming_the_page_url() -> None:
    related = {**ARTICLE, "headline": TITLE, "url": "https://news.example.org/other",
               "author": "Ben Other", "datePublished": "2024-05-08"}  # fmt: skip
    own = {**ARTICLE, "mainEntityOfPage": {"@type": "WebPage", "@id": URL + "/"}}
    assert_article(metadata(json_ld({"@context": CONTEXT, "@graph": [related, own]})))


def test_of_several_articles_the_one_whose_headline_the_page_shows() -> None:
    teaser = {**ARTICLE, "headline": "Weather: rain all weekend", "author": "Ben Other",
              "datePublished": "2024-05-08", "articleBody": "Rain. " * 200}  # fmt: skip
    assert_article(metadata(json_ld([teaser, ARTICLE])))


def test_listing_page_json_ld_does_not_give_the_title() -> None:
    listing = {"@context": CONTEXT, "@graph": [
        {"@type": "CollectionPage", "url": "https://news.example.org/politics",
         "name": "Politics"},
        {"@type": "ItemList", "itemListElement": [
            {"@type": "ListItem", "position": 1, "item": ARTICLE}]},
        {**ARTICLE, "headline": "Weather: rain all weekend", "author": "Ben Other"},
    ]}  # fmt: skip
    meta = metadata(json_ld(listing), title="Politics", url="https://news.example.org/politics")
    assert meta.title == "Politics"
    assert meta.author is None


def test_headline_the_page_does_not_show_yields_to_the_name_it_shows() -> None:
    # an encyclopedia's JSON-LD: headline is the subject's description, name the page's title
    article = {"@context": CONTEXT, "@type": "Article", "name": TITLE,
               "headline": "Wikimedia list article"}  # fmt: skip
    assert metadata(json_ld(article)).title == TITLE


# --- checks: a value that fails falls through to the next source -------------------------------


def test_author_that_is_the_site_falls_through_to_the_byline() -> None:
    for author in (
        "City Times",
        {"@type": "Organization", "name": "City Times"},
        "news.example.org",
    ):
        meta = metadata(
            json_ld({**ARTICLE, "author": author})
            + '<meta name="author" content="news.example.org">',
            header='<p class="byline">By <a rel="author" href="/ada">Ada Jones</a></p>',
        )
        assert meta.author == "Ada Jones", author


def test_organization_author_is_no_author() -> None:
    agency = {"@type": "NewsMediaOrganization", "name": "Press Agency"}
    assert metadata(json_ld({**ARTICLE, "author": agency})).author is None


def test_person_named_like_the_site_is_kept_on_a_one_person_site() -> None:
    # a one-person blog: the site bears its author's name, its publisher is that Person
    person = {"@type": "Person", "@id": "https://news.example.org/#/schema/person/1"}
    blog = {
        **ARTICLE,
        "author": {**person, "name": "City Times"},
        "publisher": {"@id": person["@id"]},
    }
    assert metadata(json_ld(blog)).author == "City Times"


def test_person_named_like_the_site_of_an_organization_is_the_site() -> None:
    site = {**ARTICLE, "author": {"@type": "Person", "name": "City Times"}}
    assert metadata(json_ld(site)).author is None


@pytest.mark.parametrize(
    "author",
    ["Por Ada Jones", "Auteur Ada Jones", "Text; Interview Ada Jones", "Beitrag von Ada Jones"],
)
def test_byline_labels_before_names_are_cut(author: str) -> None:
    assert metadata(f'<meta name="author" content="{author}">').author == "Ada Jones"


@pytest.mark.parametrize(
    "author", ["Unknown", "Web Commerce GmbH", "Verein Historische Wehranlage", "Www Example De"]
)
def test_placeholders_companies_and_addresses_are_not_authors(author: str) -> None:
    assert metadata(f'<meta name="author" content="{author}">').author is None


@pytest.mark.parametrize("declared", ["2024-06-01T10:00:00+00:00", "1970-01-01"])
def test_date_after_the_capture_or_before_1990_falls_through(declared: str) -> None:
    meta = metadata(
        json_ld({**ARTICLE, "datePublished": declared})
        + '<meta property="article:published_time" content="2024-05-02T21:15:00+02:00">'
    )
    assert meta.published == "2024-05-02T21:15:00+02:00"


def test_headline_that_is_the_site_name_falls_through() -> None:
    meta = metadata(json_ld({**ARTICLE, "headline": "City Times", "name": "City Times"}))
    assert meta.title == TITLE


def test_title_the_page_does_not_show_yields_to_its_heading() -> None:
    stale = '<meta property="og:title" content="Weather: rain all weekend">'
    assert metadata(stale).title == TITLE


@pytest.mark.parametrize(
    "declared",
    [
        f"{TITLE} - City Times",  # the site's name appended (og:title, JSON-LD)
        f"City Times | {TITLE}",  # prepended
        f"Politics: {TITLE}",  # a section as kicker
        f"{TITLE} - news.example.org",  # the host
    ],
)
def test_title_with_the_site_or_a_section_around_the_heading_is_the_heading(
    declared: str,
) -> None:
    assert metadata(json_ld({**ARTICLE, "headline": declared})).title == TITLE


def test_title_longer_than_the_heading_around_it_is_kept() -> None:
    declared = f"Budget - {TITLE} after a long night"  # the heading is the section's
    html = (
        f'<html><head><title>{declared}</title><meta property="og:title" content="{declared}">'
        "</head><body><h1>Budget</h1></body></html>"
    )
    tree = parse_html(html)
    assert tree is not None
    assert page_metadata(tree, URL, CAPTURED).title == declared


def test_title_cut_short_is_the_heading() -> None:
    heading = TITLE + " of debates on schools, roads, parks, libraries and the harbour works"
    cut = heading[:60].rsplit(" ", 1)[0] + "..."
    meta = metadata(json_ld({**ARTICLE, "headline": cut}), title=heading)
    assert meta.title == heading


def test_html_entities_in_json_ld_strings_are_decoded() -> None:
    meta = metadata(json_ld({**ARTICLE, "author": {"@type": "Person", "name": "Ada O&#039;Neil"}}))
    assert meta.author == "Ada O'Neil"


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("Thu, 02 May 2024 19:15:00 GMT", "2024-05-02T19:15:00+00:00"),  # RFC 2822
        ("02.05.2024, 21:15:00", "2024-05-02T21:15:00"),  # day first, dotted
        ("2024/05/02 21:15:00", "2024-05-02T21:15:00"),  # year first, slashes
    ],
)
def test_dates_in_other_forms_than_iso(declared: str, expected: str) -> None:
    meta = metadata(f'<meta property="article:published_time" content="{declared}">')
    assert meta.published == expected


def test_utc_date_is_given_as_the_page_writes_the_same_instant() -> None:
    meta = metadata(
        '<meta property="article:published_time" content="2024-05-03T03:37:00+00:00">',
        header='<time datetime="2024-05-02T23:37:00-04:00">2 May 2024, 11:37 pm</time>',
    )
    assert meta.published == "2024-05-02T23:37:00-04:00"


def test_date_after_a_publication_label_when_none_is_declared() -> None:
    html = (
        "<html><body><article><p class='print'>Wydrukowano: <time>2021-05-11 22:22</time></p>"
        "<p>Opublikowano: 2021-04-29 17:13:04</p><h1>Jest zgoda</h1>"
        f"<p>{'Tekst. ' * 40}</p></article></body></html>"
    )
    tree = parse_html(html)
    assert tree is not None
    assert page_metadata(tree, URL, CAPTURED).published == "2021-04-29T17:13:04"


def test_initials_keep_their_periods() -> None:
    person = {"@type": "Person", "name": "Gustavo E. Méndez"}
    assert metadata(json_ld({**ARTICLE, "author": person})).author == "Gustavo E. Méndez"


def test_user_name_yields_to_the_name_written_with_spaces() -> None:
    user = {"@id": "https://news.example.org/#/schema/person/1", "name": "adajones"}
    meta = metadata(json_ld({**ARTICLE, "author": user}), header='<p class="byline">Ada Jones</p>')
    assert meta.author == "Ada Jones"


def test_author_that_is_part_of_the_site_name_is_the_site() -> None:
    slogan = {"@type": "Person", "name": "City Times - Informed with the truth"}
    site = {"@type": "WebSite", "name": "City Times - Informed with the truth"}
    byline = '<p class="byline">Ada Jones</p>'
    meta = metadata(json_ld([{**ARTICLE, "author": slogan}, site]), header=byline)
    assert meta.author == "Ada Jones"


def test_header_time_when_no_date_is_declared_but_not_a_comments() -> None:
    comment = '<div class="comment"><time datetime="2024-05-04T10:00:00+02:00">4.5.</time></div>'
    header = '<time datetime="2024-05-02T21:15:00+02:00">2 May 2024</time>'
    meta = metadata(header=comment + header)
    assert meta.published == "2024-05-02T21:15:00+02:00"


@pytest.mark.parametrize(
    ("line", "expected"),
    [("01. November 2021 | Naturschutz", "2021-11-01"), ("4.\u20092.\u20092022.", "2022-02-04"),
     ("24. März 2004, 19:49 |", "2004-03-24")],
)  # fmt: skip
def test_date_line_written_as_text_after_the_headline(line: str, expected: str) -> None:
    html = (
        f"<html><body><h1>Das Hermelin</h1><p>{line}</p><p>{'Text. ' * 40}</p>"
        "<p>Am 12.12.2021 geht es weiter.</p></body></html>"
    )
    tree = parse_html(html)
    assert tree is not None
    page = "https://news.example.org/natur/hermelin"  # no date in the URL for htmldate
    assert page_metadata(tree, page, datetime(2023, 1, 1, tzinfo=UTC)).published == expected


# --- the visible page as evidence ---------------------------------------------------------------


def test_header_time_decides_between_disagreeing_dates() -> None:
    meta = metadata(
        json_ld({**ARTICLE, "datePublished": "2024-05-06T08:00:00+02:00"})
        + '<meta property="article:published_time" content="2024-05-02T21:15:00+02:00">',
        header='<time datetime="2024-05-02T21:15:00+02:00">2 May 2024</time>',
    )
    assert meta.published == "2024-05-02T21:15:00+02:00"


@pytest.mark.parametrize(
    "byline",
    [
        '<a rel="author" href="/authors/ada">Ada Jones</a>',
        '<span itemprop="author name">Ada Jones</span>',
        '<div class="author-name">Ada Jones</div>',
        '<p class="byline">By Ada Jones</p>',  # trafilatura's generic patterns
        '<span class="post-autor">Von Ada Jones</span>',
    ],
    ids=["rel-author", "itemprop", "author-name", "byline", "autor"],
)
def test_bylines_in_the_article_header(byline: str) -> None:
    assert metadata(header=byline).author == "Ada Jones"


def test_comment_form_and_commenters_are_not_bylines() -> None:
    comments = (
        '<div class="comment-author vcard">Troll says:</div>'
        '<form><p class="comment-form-author"><label>Name *</label></p></form>'
    )
    assert metadata(header=comments).author is None


def test_author_names_that_are_the_site_or_an_address_are_dropped_from_a_list() -> None:
    meta = metadata(
        '<meta property="og:site_name" content="City Times">'
        '<meta name="author" content="facebook.com; City Times; Ada Jones">'
    )
    assert meta.author == "Ada Jones"


def test_author_that_starts_with_the_site_is_its_address() -> None:
    meta = metadata(
        '<meta property="og:site_name" content="City Times">'
        '<meta name="author" content="City Times, Hamburg, Germany">',
        header='<p class="byline">By Ada Jones</p>',
    )
    assert meta.author == "Ada Jones"


@pytest.mark.parametrize(
    "label", ["Stand: 2. Mai 2024", "Posted", "Follow", "Autor", "Quelle: dpa"]
)
def test_byline_labels_are_not_names(label: str) -> None:
    meta = metadata(header=f'<span class="author">{label}</span><p class="byline">Ada Jones</p>')
    assert meta.author == "Ada Jones"


def site_footer_page(byline: str = "", page_class: str = "") -> Metadata:
    html = (
        f"<html><head><title>{TITLE} | City Times</title></head><body><div class='{page_class}'>"
        f"<article><header><h1>{TITLE}</h1>{byline}</header><p>{'The council met. ' * 20}</p>"
        "</article></div><footer><div class='copyright'>Copyright 2024 City Times</div>"
        "<div class='powered'><span class='theme-name'>Theme: Catch Evolution by </span>"
        "<span class='theme-author'><a href='https://catchthemes.com/'>Catch Themes</a></span>"
        "</div></footer></body></html>"
    )
    tree = parse_html(html)
    assert tree is not None
    return page_metadata(tree, URL, CAPTURED)


def test_a_themes_author_in_the_site_credits_is_no_byline() -> None:
    assert site_footer_page().author is None
    byline = '<p class="byline">By <a rel="author" href="/ada">Ada Jones</a></p>'
    assert site_footer_page(byline).author == "Ada Jones"
    # "powered" inside a longer class name of the page's container is no credits line
    assert site_footer_page(byline, "layout-builder-powered-page").author == "Ada Jones"


def titled(title: str, url: str) -> str | None:
    html = (
        f"<html><head><title>{title}</title><meta property='og:title' content='{title}'>"
        f"</head><body><article><p>{'The council met. ' * 20}</p></article></body></html>"
    )
    tree = parse_html(html)
    assert tree is not None
    return page_metadata(tree, url, CAPTURED).title


@pytest.mark.parametrize(
    ("title", "url", "expected"),
    [
        ("Perturbazione polare al Sud - La Stampa", "https://www.lastampa.it/cronaca/a",
         "Perturbazione polare al Sud"),
        ("BMAS - Änderung der Anforderungen an Nachweise", "https://www.bmas.de/DE/a",
         "Änderung der Anforderungen an Nachweise"),
        ("Netzpolitik als Wahlkampfthema - Netz Für Alle", "https://netzfueralle.de/a",
         "Netzpolitik als Wahlkampfthema"),
        ("Unser wahres Ich · brand eins online", "https://www.brandeins.de/a", "Unser wahres Ich"),
        # the registered domain's name under a section's host, the host's on a hosted site
        ("Historia dezubekizacji - Dziennik.pl", "https://wiadomosci.dziennik.pl/a",
         "Historia dezubekizacji"),
        ("Salsa-Figuren - Rueda in Berlin", "http://rueda.wikidot.com/a", "Salsa-Figuren"),
        # a longer segment that starts with the site's name is a product or a heading
        ("Run Windows on Mac - Parallels Desktop 15 Virtual Machine for Mac",
         "https://www.parallels.com/a", "Run Windows on Mac - Parallels Desktop 15 Virtual "
         "Machine for Mac"),
        # no segment spells the host: nothing is cut
        ("Kücknitz - So lief der Abend im Stadtteil", "https://www.ln-online.de/a",
         "Kücknitz - So lief der Abend im Stadtteil"),
    ],
)
def test_the_sites_name_as_a_title_segment_goes(title: str, url: str, expected: str) -> None:
    assert titled(title, url) == expected
