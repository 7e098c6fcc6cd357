"""The one parser of HTML ``srcset`` values: the extraction workers find requisites with it,
replay rewrites their URLs with it."""

from __future__ import annotations


def parse_srcset(value: str) -> list[tuple[str, str]]:
    """(URL, descriptor) pairs of a srcset (HTML's rules: a URL runs to whitespace, so data:
    URLs keep their commas; a trailing comma ends a URL with no descriptor)."""
    candidates, position, size = [], 0, len(value)
    while position < size:
        while position < size and (value[position].isspace() or value[position] == ","):
            position += 1
        start = position
        while position < size and not value[position].isspace():
            position += 1
        url, descriptor = value[start:position], ""
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            end = value.find(",", position)
            end = size if end < 0 else end
            descriptor, position = value[position:end].strip(), end
        if url:
            candidates.append((url, descriptor))
    return candidates
