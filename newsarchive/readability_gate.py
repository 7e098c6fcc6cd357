"""Run trafilatura's readability comparison only where it can pay off.

Unless ``fast`` is set, trafilatura runs its port of readability on every page, after its own
extraction, and takes readability's text instead only when that text is over twice as long as
its own, or its own has no paragraph text or is mostly tables (``external._prefer_readability``).
That comparison is about 3 ms a page, 15% of newsarchive's extraction. When trafilatura's own
text already runs to :data:`READABILITY_BELOW` characters, it hardly ever changes anything: on
the development set it changed 12 of the 882 texts that long, and skipping it there raised F1
from 0.9401 to 0.9408 (docs/quality.md). So, inside :func:`gated`, the comparison gets an empty
page instead of a copy of the real one when the own text is that long; everything after it
(jusText's rescue of an unclean text, the recall escalation) runs as before. ``fast`` and calls
to trafilatura outside :func:`gated` are left alone.

The hook replaces ``trafilatura.core._extract_and_compare``, an internal of trafilatura 2.3:
if a later trafilatura no longer has it, :func:`install` logs a warning once and extraction
runs unchanged, only slower.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import copy
from typing import Any

logger = logging.getLogger(__name__)

READABILITY_BELOW = 1000  # characters of trafilatura's own text from which readability is skipped

_HOOKED = ("_extract_and_compare", "extract_content", "compare_extraction")
_active: ContextVar[bool] = ContextVar("newsarchive_readability_gate", default=False)
_original: Callable[..., Any] | None = None
_install_failed = False


@contextmanager
def gated() -> Iterator[None]:
    """Within this block, trafilatura extractions skip readability for long own texts."""
    token = _active.set(install())
    try:
        yield
    finally:
        _active.reset(token)


def install() -> bool:
    """Hook trafilatura (once per process); False if its internals are not the expected ones."""
    global _original, _install_failed
    if _original is not None:
        return True
    if _install_failed:
        return False
    import trafilatura.core as core

    if not all(callable(getattr(core, name, None)) for name in _HOOKED):
        _install_failed = True
        logger.warning(
            "trafilatura %s has no trafilatura.core.%s: readability runs on every page",
            getattr(__import__("trafilatura"), "__version__", "?"),
            "/".join(_HOOKED),
        )
        return False
    _original = core._extract_and_compare
    core._extract_and_compare = _extract_and_compare
    return True


def _extract_and_compare(
    cleaned_tree: Any, cleaned_tree_backup: Any, tree: Any, options: Any
) -> tuple[Any, str]:
    """trafilatura's stages 1-2 (own extraction, then the comparison), gated."""
    assert _original is not None
    if not _active.get() or options.fast:
        return _original(cleaned_tree, cleaned_tree_backup, tree, options)
    import trafilatura.core as core

    body, text = core.extract_content(cleaned_tree, options)
    page = copy(tree) if len(text) < READABILITY_BELOW else _blank_page()
    return core.compare_extraction(cleaned_tree_backup, page, body, text, options)


def _blank_page() -> Any:
    from lxml.html import document_fromstring

    return document_fromstring("<html><body></body></html>")
