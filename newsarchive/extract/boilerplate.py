"""Boilerplate lines that trafilatura keeps: cross-links into other articles, and the
notices that trail a news article (subscription pitches, copyright, photo credits, sharing).

Two generic rules (their effect on the development set: docs/quality.md):

1. A *cross-link line* starts with a "read also" marker in one of the common news languages
   ("Read more:", "Lesen Sie auch:", "Lea también:", "Czytaj też:"...): it names another article,
   so it goes, wherever it is. A line that is only such a marker ("Related articles",
   "Weitere Artikel zum Thema") is a heading over a list of other articles: in the last third of
   the text, or in the second half with only headlines after it, it goes with what follows.
2. *Trailing notices*: from the end of the text backwards, lines that carry a notice marker
   (©, "subscribe", "newsletter", "Foto:", "Quelle:", "Kommentar"...) go while they keep
   coming; the first other line stops the trimming.
3. Anywhere, a short line pitching a subscription or crediting a photo goes, and so do an ad
   slot's label ("Werbung", "Advertisement") and a line disclosing advertising or affiliate
   links ("This post contains references to products from our advertisers..."); among the
   first lines, a dateline ("23.10.2018", "24. März 2004, 19:49 | Genesis") goes.
"""

from __future__ import annotations

import re

_READ_ALSO = (
    r"read (?:more|also)|see also|also read|related(?: articles?| stories| content| posts?)?|"
    r"more on|more from|recommended|"
    r"(?:lesen sie|lies) (?:auch|hier|mehr)|auch lesen|auch interessant|mehr zum thema|"
    r"mehr (?:themen|dazu|aus)|weitere (?:artikel|beiträge|nachrichten|meldungen)|"
    r"schon gelesen|zum weiterlesen|empfohlene (?:artikel|beiträge)|"
    r"das (?:thema )?könnte (?:dich|sie) auch interessieren|top-themen|"
    r"(?:lea|lee) (?:también|más)|vea también|puedes ver|le puede interesar|mira|mire|"
    r"notas relacionadas|contenido relacionado|noticias relacionadas|más sobre|"
    r"(?:à )?lire aussi|voir aussi|sur le même sujet|"
    r"czytaj (?:też|także|również)|zobacz (?:też|także|również)|dowiedz się więcej|"
    r"leggi anche|leia (?:também|mais)|veja também|"
    r"more (?:stories|news|articles)|top stories|you (?:may|might) also like|most read|"
    r"recommended for you|meistgelesen|ähnliche (?:artikel|beiträge)|verwandte (?:artikel|themen)|"
    r"weitere (?:aktuelle |interessante )?themen|(?:también )?te puede interesar|lo más leído|"
    r"artículos relacionados|articles similaires|articoli correlati|powiązane|"
    r"tags|schlagwörter|stichwörter|themen|temas|sujets|tematy|weitere informationen|"
    r"vorschau auf"
)
# a marker followed by a colon, », > or a dash, then the other article's title
CROSS_LINK = re.compile(rf"^\W{{0,3}}(?:{_READ_ALSO})\s*(?::|»|>>|\||–|—)\s*\S", re.IGNORECASE)
# a marker alone on its line (a heading), at most a few more words
MARKER_HEADING = re.compile(
    rf"^\W{{0,3}}(?!mir[ae]\b)(?:{_READ_ALSO})(?=\s|:|\?|$)[^.!?]{{0,30}}[:?]?\s*$", re.IGNORECASE
)  # ("Mira"/"Mire" only with a colon: alone they are names too)
# Markers of a trailing notice: strong ones at any length, weak ones on short lines only.
STRONG_NOTICE = re.compile(
    r"©|\bcopyright\b|all rights reserved|alle rechte|derechos reservados|droits réservés|"
    r"newsletter|\b(?:foto|photo|bild|titelbild|beitragsbild|image|credit|crédits?|quelle|"
    r"source|fot)\s*:|^\W*(?:[ck]ategor(?:y|ie|ía)|tags?)\s*:|letzte (?:änderung|aktualisierung)|"
    r"aktualisiert am|last (?:modified|updated)|creative commons|\bcc-by\b|prawem autorskim|"
    r"\b(?:follow|folge|folgen sie|síguenos|siguenos|suivez|find) [^.]{0,60}"
    r"\b(?:on|auf|en|sur) (?:twitter|facebook|instagram|telegram|youtube)\b|"
    r"download .{0,40}\bapps?\b|\bapps? (?:for|für) (?:ios|android)",
    re.IGNORECASE,
)
WEAK_NOTICE = re.compile(
    r"subscri|abonn|sign up|log in|eingeloggt|registrier|suscr|follow (?:us|the)|folgen sie|"
    r"síguenos|siguenos|\bteilen\b|\bshare\b|kommentar|comment|werbung|anzeige|affiliate|"
    r"donat|spende|support(?:ing)? (?:us|our)|unterstütz|whatsapp|telegram|youtube|telefon|"
    r"phone|e-mail",
    re.IGNORECASE,
)
WEAK_NOTICE_LINE = 100  # characters: longer lines with only a weak marker are prose

_MONTHS = (
    r"jan|feb|mär|mar|apr|ma[iy]|jun|jul|aug|sep|o[ck]t|nov|de[cz]|ene|abr|ago|dic|janv|févr|"
    r"avr|juil|août|déc|stycz|lut|kwi|czerw|lip|sierp|wrze|paź|listop|grud"
)
DATELINE = re.compile(
    rf"\b\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}:\d{{2}}\b|"
    rf"\b\d{{1,2}}\.? (?:{_MONTHS})\w*\.? \d{{4}}\b|\b(?:{_MONTHS})\w*\.? \d{{1,2}},? \d{{4}}\b",
    re.IGNORECASE,
)
HEAD_LINES = 3  # date and byline lines are looked for among the first lines only
DATELINE_WORDS = 8  # words besides the date: more is a sentence that mentions a date
# Anywhere in the text, a short line pitching a subscription or crediting a photo. Matched
# against the lower-cased line: it runs on every line, and re.IGNORECASE is much slower.
PROMO = re.compile(
    r"newsletter|subscri|sign(?:ing)? up|abonnier|abonnez|anmelden|registrier|suscr[ií]b|"
    r"hazte miembro|pour (?:lire la suite|accéder)|zaloguj|©|\bcopyright\b|"
    r"\((?:foto|photo|credit|bild|fot)\b[^)]*\)|^(?:foto|photo|credit|bild|fot)\s*[.:]"
)
PROMO_LINE = 200  # characters: longer lines are prose that mentions such words
# Anywhere, a label of an ad slot ("Werbung", "Advertisement") alone on its line, or a line that
# discloses advertising or affiliate links; matched against the lower-cased line.
DISCLOSURE = re.compile(
    r"^\W{0,3}(?:werbung|anzeige|advertisement|sponsored|publicidad|publicité|reklama)\W{0,3}"
    r"(?:$|\. )|"
    r"\b(?:this|dieser|der|ce|este) (?:post|article|beitrag|artikel|text|story|page) "
    r"(?:contains|enthält|may contain|kann|contient|contiene) [^.]{0,40}(?:affiliate|werbung|"
    r"anzeige|advertis|sponsor|references to products|liens? affili|enlaces de afiliado)|"
    r"\bwe (?:may )?(?:receive|earn|get) (?:a )?(?:small )?(?:compensation|commission)|"
    r"advertisers do not influence|"
    r"\b(?:erhalten|bekommen) wir (?:ggf\. |unter umständen )?(?:eine )?(?:kleine )?provision|"
    r"affiliate[- ]links?\b[^.]{0,80}\b(?:commission|provision|compensation|vergütung)"
)
DISCLOSURE_LINE = 400  # characters: longer lines are prose
SHORT_LINE = 40  # characters: a heading-sized line
NOTICE_LINE = 300  # characters: longer trailing lines are prose, whatever words they use
HEADLINE = 120  # characters: longer lines under a related heading are paragraphs
TAIL_SHARE = 3  # marker headings are cut in the last 1/TAIL_SHARE of the lines


def strip_boilerplate(text: str) -> str:
    """`text` without cross-link lines, related-article lists and trailing notices."""
    lines = [line for line in text.split("\n") if not _promo(line.strip())]
    lines = _cut_related_lists(lines)
    return "\n".join(_trim_tail(_trim_head(lines))).strip()


def _trim_head(lines: list[str]) -> list[str]:
    """Date and byline lines among the first lines ("23.10.2018", "24. März 2004, 19:49 |
    Genesis", "Kategorie: News"), often between the headline and the first paragraph."""
    head = [
        line for line in lines[:HEAD_LINES]
        if not _dateline(line.strip()) and not _short_notice(line.strip())
    ]  # fmt: skip
    return head + lines[HEAD_LINES:] if head or len(lines) > HEAD_LINES else lines


def _short_notice(line: str) -> bool:
    return len(line) < SHORT_LINE and _notice(line)


def _dateline(line: str) -> bool:
    if not line:
        return True
    match = DATELINE.search(line)
    if not match:
        return False
    rest = DATELINE.sub(" ", line)
    return len(re.findall(r"\w+", rest)) <= DATELINE_WORDS


def _promo(line: str) -> bool:
    if CROSS_LINK.match(line):
        return True
    lowered = line.lower()
    if len(line) < DISCLOSURE_LINE and DISCLOSURE.search(lowered):
        return True
    return len(line) < PROMO_LINE and bool(PROMO.search(lowered))


def _cut_related_lists(lines: list[str]) -> list[str]:
    """Cut at a "related articles" heading in the last third of the text, or in the second
    half when only headline-sized lines follow it."""
    tail_start = len(lines) - len(lines) // TAIL_SHARE
    for index in range(max(len(lines) // 2, 1), len(lines)):
        if not MARKER_HEADING.match(lines[index].strip()):
            continue
        rest = lines[index + 1 :]
        if index >= tail_start or all(len(line) <= HEADLINE for line in rest):
            return lines[:index]
    return lines


def _trim_tail(lines: list[str]) -> list[str]:
    end = len(lines)
    while end > 1 and _notice(lines[end - 1].strip()):
        end -= 1
    return lines[:end]


def _notice(line: str) -> bool:
    if not line:
        return True
    if len(line) < WEAK_NOTICE_LINE and WEAK_NOTICE.search(line):
        return True
    return len(line) < NOTICE_LINE and bool(STRONG_NOTICE.search(line))
