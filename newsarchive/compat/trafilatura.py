"""trafilatura: four changes to how it runs inside newsarchive's extraction, made only within
:func:`tuned`: calls to trafilatura elsewhere in the process (the eval's "trafilatura alone"
reference) are left alone. docs/quality.md has what each one measured.

Verified range (:data:`VERIFIED`): trafilatura 2.3 (2.3.0 and 2.3.1 have the same internals;
2.2 has no ``_extract_and_compare``). With any other version installed, one warning is logged
and trafilatura runs as it ships. Within the range, each change also checks that the internal
it needs is still there as expected, and is left out (with one warning) where it is not.

**Speed, same output** (``Tuning.speed``, ``NEWSARCHIVE_TRAFILATURA_TUNING``):

- *XPaths that libxml2 answers faster.* Each XPath constant of ``trafilatura.xpaths`` and
  ``trafilatura.settings`` is rewritten once, two ways. ``.//*[self::div or self::section][P]``
  becomes ``(.//div|.//section)[P]`` (:func:`named_steps`): libxml2 finds elements by name
  faster than it tests every element's name in a predicate. And regex tests run only on
  attributes that exist (:func:`guarded_path`): lxml answers EXSLT ``re:test`` by calling back
  into Python for every element, with or without the attribute; on an absent attribute the
  test sees "" and, for a pattern that cannot match "", is false, so
  ``re:test(@class, 'p')`` becomes ``(@class and re:test(@class, 'p'))``, which libxml2
  decides without the call. Patterns that can match "" are left as they are. Where the XPath
  selects elements only, attribute values reach re:test as plain strings.
- *Elements without a Python class lookup.* ``trafilatura.utils.HTML_PARSER`` is an
  ``lxml.html.HTMLParser``, whose element class lookup runs Python code each time an element
  is first touched, to give forms and inputs classes that neither trafilatura nor newsarchive
  use. A copy of it with lxml's C-level lookup (every element an ``HtmlElement``) parses.
- *No copy of a tree the caller is done with.* ``bare_extraction`` copies the tree it is
  given (``trafilatura.core.copy``) before pruning it. Inside :func:`handed_over`, that one
  copy of that one tree is the tree itself. Every other copy trafilatura makes is made.

**Readability for short texts only** (``Tuning.readability = "short-texts"``,
``NEWSARCHIVE_READABILITY``): an extraction policy, not a speed change: it changes some texts.
Unless ``fast`` is set, trafilatura runs its port of readability on every page after its own
extraction (``trafilatura.core._extract_and_compare``) and takes readability's text when that
is over twice as long, or its own has no paragraphs or is mostly tables. With "short-texts",
when its own text already runs to :data:`READABILITY_BELOW` characters, the comparison gets
an empty page instead of a copy of the real one; everything after it runs as before.
"always" is trafilatura's own behaviour.
"""

from __future__ import annotations

import inspect
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import copy
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

from lxml.etree import ElementDefaultClassLookup, XPath
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction

from newsarchive.compat.versions import VerifiedRange

logger = logging.getLogger(__name__)

VERIFIED = VerifiedRange("trafilatura", (2, 3), (2, 4))
READABILITY_BELOW = 1000  # characters of trafilatura's own text from which readability is skipped
SHORT_TEXTS, ALWAYS = "short-texts", "always"  # the readability policies


@dataclass(frozen=True)
class Tuning:
    """Which changes :func:`tuned` makes: the speed changes (same output), and the readability
    policy ("short-texts" or "always")."""

    speed: bool = True
    readability: str = SHORT_TEXTS


DEFAULT_TUNING = Tuning()

EXSLT_REGEXP = "http://exslt.org/regular-expressions"
# re:test(@a, 'pattern') or re:test(@a|@b, 'pattern', 'flags'), as trafilatura writes them
_RE_TEST = re.compile(
    r"re:test\(\s*(@[\w:-]+(?:\s*\|\s*@[\w:-]+)*)\s*,\s*'([^']*)'\s*(?:,\s*'([a-z]*)'\s*)?\)"
)
# .//*[self::a or self::b ...] followed by predicates only
_SELF_NAMES = re.compile(r"^\s*\.//\*\[\s*(self::[\w-]+(?:\s+or\s+self::[\w-]+)*)\s*\](.*)$", re.S)
_POSITIONAL = re.compile(r"position\(|last\(|\[\s*\d")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_PREDICATE = re.compile(r"\[[^\[\]]*\]")
# trafilatura.core functions the readability gate calls or replaces, with their parameters
_HOOKED = {
    "_extract_and_compare": ("cleaned_tree", "cleaned_tree_backup", "tree", "options"),
    "extract_content": ("cleaned_tree", "options"),
    "compare_extraction": ("cleaned_tree", "raw_tree", "body", "text", "options"),
}

_handed_over: ContextVar[object | None] = ContextVar("newsarchive_handed_over", default=None)


@dataclass
class _Hooks:
    """What :func:`_install` found and prepared (once per process)."""

    original_extract_and_compare: Callable[..., Any] | None = None
    # (list, its original XPaths, the rewritten ones), swapped in place on entering tuned()
    lists: list[tuple[list[XPath], list[XPath], list[XPath]]] = field(default_factory=list)
    # (module, attribute, original, replacement): rewritten XPaths, the parser
    attributes: list[tuple[ModuleType, str, Any, Any]] = field(default_factory=list)
    bare_extraction_code: object = None  # whose own copy of a handed-over tree is skipped
    depth: int = 0  # tuned() blocks with the speed changes entered and not left
    gating: int = 0  # tuned() blocks with readability for short texts entered and not left


_hooks: _Hooks | None = None


@contextmanager
def tuned(tuning: Tuning = DEFAULT_TUNING) -> Iterator[None]:
    """Within this block, trafilatura runs with the changes `tuning` asks for."""
    hooks = _install()
    gate = tuning.readability == SHORT_TEXTS and hooks.original_extract_and_compare is not None
    if tuning.speed:
        _swap_in(hooks)
    hooks.gating += gate
    try:
        yield
    finally:
        hooks.gating -= gate
        if tuning.speed:
            _swap_out(hooks)


@contextmanager
def handed_over(tree: object) -> Iterator[None]:
    """Within :func:`tuned` and this block, ``bare_extraction`` prunes `tree` itself instead of
    a copy of it: the caller must not use `tree` afterwards."""
    token = _handed_over.set(tree)
    try:
        yield
    finally:
        _handed_over.reset(token)


def tuned_path(path: str) -> str:
    """`path` with its element names as steps (:func:`named_steps`) and its attribute regex
    tests guarded (:func:`guarded_path`)."""
    return guarded_path(named_steps(path))


def named_steps(path: str) -> str:
    """``.//*[self::a or self::b][P]...`` as ``(.//a|.//b)[P]...``: the same elements, and
    libxml2 finds them by name in half the time. Only where the other predicates cannot
    depend on position (no position(), last() or number), which a union would change."""
    match = _SELF_NAMES.match(path)
    if match is None:
        return path
    rest = match.group(2)
    if not _only_predicates(rest) or _POSITIONAL.search(_QUOTED.sub("''", rest)):
        return path
    names = re.findall(r"self::([\w-]+)", match.group(1))
    return "(" + "|".join(f".//{name}" for name in names) + ")" + rest


def _only_predicates(rest: str) -> bool:
    return rest.strip().startswith("[") and _outside_predicates(rest).strip() == ""


def _outside_predicates(path: str) -> str:
    """`path` without its predicates (and with its string literals emptied first)."""
    steps = _QUOTED.sub("''", path)
    while (shorter := _PREDICATE.sub("", steps)) != steps:
        steps = shorter
    return steps


def guarded_path(path: str) -> str:
    """`path` with each ``re:test`` on attributes preceded by a test that one exists, where the
    pattern cannot match "" (the value an absent attribute is tested as)."""

    def guard(match: re.Match[str]) -> str:
        attributes, pattern, flags = match.group(1), match.group(2), match.group(3) or ""
        try:
            matches_empty = re.search(pattern, "", re.IGNORECASE if "i" in flags else 0)
        except re.error:
            return match.group(0)
        if matches_empty is not None:
            return match.group(0)
        exists = " or ".join(name.strip() for name in attributes.split("|"))
        return f"(({exists}) and {match.group(0)})"

    return _RE_TEST.sub(guard, path)


# --- installing -------------------------------------------------------------------------------


def installed_version() -> str:
    import trafilatura  # loaded where pages are extracted, not where this module is imported

    return str(getattr(trafilatura, "__version__", "0"))


def _install(version: str | None = None) -> _Hooks:
    """The hooks, prepared once per process; none outside the verified versions."""
    global _hooks
    if _hooks is None:
        _hooks = _Hooks()
        if VERIFIED.allows(version or installed_version(), "tuning of trafilatura"):
            _hook_readability(_hooks)
            _prepare_xpaths(_hooks)
            _prepare_parser(_hooks)
            _prepare_copy(_hooks)
    return _hooks


def _hook_readability(hooks: _Hooks) -> None:
    import trafilatura.core as core

    if not all(_has_signature(core, name, params) for name, params in _HOOKED.items()):
        expected = "/".join(_HOOKED)
        _warn(f"trafilatura.core has no {expected} as expected: readability runs on every page")
        return
    original = core._extract_and_compare
    hooks.original_extract_and_compare = original
    core._extract_and_compare = partial(_extract_and_compare, original)


def _has_signature(module: ModuleType, name: str, params: tuple[str, ...]) -> bool:
    """`module.name` takes `params` first, and nothing else without a default."""
    try:
        signature = inspect.signature(getattr(module, name))
    except (AttributeError, TypeError, ValueError):
        return False
    found = list(signature.parameters.values())
    names = tuple(parameter.name for parameter in found[: len(params)])
    rest = found[len(params) :]
    return names == params and all(p.default is not inspect.Parameter.empty for p in rest)


def _prepare_xpaths(hooks: _Hooks) -> None:
    try:
        import trafilatura.core  # noqa: F401  (loads every module that imports the XPaths)
        import trafilatura.settings as settings
        import trafilatura.xpaths as xpaths
    except ImportError:
        _warn("trafilatura.xpaths is missing: its XPaths run unguarded")
        return
    for module in (xpaths, settings):
        for value in list(vars(module).values()):
            if isinstance(value, list) and value and all(isinstance(x, XPath) for x in value):
                guarded = [_guarded(x) for x in value]
                if any(new is not old for new, old in zip(guarded, value, strict=True)):
                    hooks.lists.append((value, list(value), guarded))
            elif isinstance(value, XPath) and (new := _guarded(value)) is not value:
                holders = _holders_of(value)
                hooks.attributes += [(holder, attr, value, new) for holder, attr in holders]
    if not hooks.lists:
        _warn("no XPath lists found in trafilatura.xpaths: its XPaths run unguarded")


def _guarded(xpath: XPath) -> XPath:
    path = tuned_path(xpath.path)
    if path == xpath.path:
        return xpath
    try:
        # Plain strings for the attribute values handed to re:test, not ones that know their
        # element (lxml's "smart strings", 13% of these XPaths' time); only where the results
        # are elements, so no caller can miss a smart string's getparent().
        smart = not selects_elements_only(path)
        return XPath(path, namespaces={"re": EXSLT_REGEXP}, smart_strings=smart)
    except Exception:  # an expression this rewrite does not understand: keep the original
        return xpath


def selects_elements_only(path: str) -> bool:
    """True when `path`, outside its predicates, steps only to elements (no attributes, text
    nodes or function results)."""
    steps = _outside_predicates(path)
    return not any(sign in steps for sign in ("@", "(", "::"))


def _prepare_parser(hooks: _Hooks) -> None:
    import trafilatura.utils as utils

    parser = getattr(utils, "HTML_PARSER", None)
    if parser is None or not callable(getattr(parser, "copy", None)):
        _warn("no trafilatura.utils.HTML_PARSER: elements keep lxml.html's Python lookup")
        return
    plain = parser.copy()
    plain.set_element_class_lookup(
        ElementDefaultClassLookup(
            element=HtmlElement,
            comment=HtmlComment,
            pi=HtmlProcessingInstruction,
            entity=HtmlEntity,
        )
    )
    hooks.attributes += [(module, attr, parser, plain) for module, attr in _holders_of(parser)]


def _prepare_copy(hooks: _Hooks) -> None:
    import trafilatura.core as core

    bare_extraction = getattr(core, "bare_extraction", None)
    if getattr(core, "copy", None) is not copy or not hasattr(bare_extraction, "__code__"):
        _warn("trafilatura.core does not copy with copy.copy: trees handed over are copied")
        return
    hooks.bare_extraction_code = bare_extraction.__code__
    hooks.attributes.append((core, "copy", copy, _copy_unless_handed_over))


def _copy_unless_handed_over(value: Any) -> Any:
    """copy.copy, except for the tree handed over, when bare_extraction itself copies it."""
    assert _hooks is not None
    if value is _handed_over.get() and sys._getframe(1).f_code is _hooks.bare_extraction_code:
        _handed_over.set(None)  # once: a later copy of the same tree is a real one
        return value
    return copy(value)


def _holders_of(value: object) -> list[tuple[ModuleType, str]]:
    """Every (trafilatura module, attribute) bound to `value` (``from x import NAME`` copies)."""
    return [
        (module, attr)
        for name, module in list(sys.modules.items())
        if name.partition(".")[0] == "trafilatura" and isinstance(module, ModuleType)
        for attr, bound in list(vars(module).items())
        if bound is value
    ]


def _swap_in(hooks: _Hooks) -> None:
    hooks.depth += 1
    if hooks.depth == 1:
        for target, _, guarded in hooks.lists:
            target[:] = guarded
        for module, attr, _, new in hooks.attributes:
            setattr(module, attr, new)


def _swap_out(hooks: _Hooks) -> None:
    hooks.depth -= 1
    if hooks.depth == 0:
        for target, originals, _ in hooks.lists:
            target[:] = originals
        for module, attr, old, _ in hooks.attributes:
            setattr(module, attr, old)


_warned: set[str] = set()


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        import trafilatura

        logger.warning("trafilatura %s: %s", getattr(trafilatura, "__version__", "?"), message)


# --- the readability gate -----------------------------------------------------------------------


def _extract_and_compare(
    original: Callable[..., Any],
    cleaned_tree: Any,
    cleaned_tree_backup: Any,
    tree: Any,
    options: Any,
) -> tuple[Any, str]:
    """trafilatura's stages 1-2 (own extraction, then the comparison), gated."""
    if _hooks is None or _hooks.gating == 0 or options.fast:  # "always", or trafilatura's fast
        return original(cleaned_tree, cleaned_tree_backup, tree, options)
    import trafilatura.core as core

    body, text = core.extract_content(cleaned_tree, options)
    page = copy(tree) if len(text) < READABILITY_BELOW else _blank_page()
    return core.compare_extraction(cleaned_tree_backup, page, body, text, options)


def _blank_page() -> Any:
    from lxml.html import document_fromstring

    return document_fromstring("<html><body></body></html>")
