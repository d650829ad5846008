"""Unicode traps in patterns. RE2's \\b and \\w know only ASCII word characters: next to a letter such as é,
ü or д they never do what the pattern's author meant (found on the parse tree, Python's parser reads RE2's
syntax). And canonicalization replaces some letters everywhere (Turkish dotless ı becomes i, NFKC writes
Thai ำ as ํา): a pattern that spells them outside a character class can never match there."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from ._normalize import ALWAYS_FOLDED
from ._prefilter import _parse

_CHAR_CLASS = re.compile(r"\[(?:\\.|[^\]])*\]")


def always_folded_letters(pattern: str) -> str | None:
    """A description of the letters canonicalization always replaces (its own folds, and NFKC's: Thai ำ
    is written ํา in canonical text), spelled outside a class, or None."""
    outside = _CHAR_CLASS.sub("", pattern)
    found = {char: _folded(char) for char in set(outside)}
    replaced = sorted(char for char, folded in found.items() if folded != char)
    if not replaced:
        return None
    spelled = ", ".join(f"{char} (becomes {found[char]})" for char in replaced)
    return f"spells {spelled}, which canonical text never holds"


def _folded(char: str) -> str:
    if char in ALWAYS_FOLDED:
        return ALWAYS_FOLDED[char]
    if unicodedata.category(char)[0] in "LM":
        return unicodedata.normalize("NFKC", char)
    return char


def ascii_only_word_syntax(pattern: str) -> str | None:
    """A description of the first \\b or \\w placed against a non-ASCII letter, or None."""
    tree = _parse(pattern)
    return None if tree is None else _scan(list(tree))


def _scan(items: Sequence[Any]) -> str | None:
    for index, (op, arg) in enumerate(items):
        name = str(op)
        if name == "AT" and str(arg) == "AT_BOUNDARY":
            after, before = _first_chars(items[index + 1 :]), _last_chars(items[:index])
            # A non-ASCII letter on one side and no ASCII word character on the other: no boundary for RE2.
            letters = "".join(
                _letters(side) for side, other in ((after, before), (before, after)) if not _ascii_word(other)
            )
            if letters:
                return f"\\b next to {letters}: RE2's \\b sees only ASCII letters, so it never matches there"
        if name in ("MAX_REPEAT", "MIN_REPEAT") and _is_word_class(arg[2]) and index > 0:
            letters = _letters(_last_chars(items[:index]))
            if letters:
                return f"\\w after {letters}: RE2's \\w matches only ASCII letters, not the rest of that word"
        for inner in _children(op, arg):
            found = _scan(inner)
            if found:
                return found
    return None


def _children(op: Any, arg: Any) -> list[list[Any]]:
    name = str(op)
    if name == "BRANCH":
        return [list(alternative) for alternative in arg[1]]
    if name == "SUBPATTERN":
        return [list(arg[-1])]
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return [list(arg[2])]
    return []


def _first_chars(items: Sequence[Any]) -> set[str]:
    return _edge_chars(items, 0)


def _last_chars(items: Sequence[Any]) -> set[str]:
    return _edge_chars(items, -1)


def _edge_chars(items: Sequence[Any], edge: int) -> set[str]:
    """The literal characters the sequence can start (edge 0) or end (edge -1) with, as far as known."""
    if not items:
        return set()
    op, arg = items[edge]
    name = str(op)
    if name == "LITERAL":
        return {chr(arg)}
    if name == "IN":
        return {chr(value) for kind, value in arg if str(kind) == "LITERAL"}
    if name in ("BRANCH", "SUBPATTERN") or (name in ("MAX_REPEAT", "MIN_REPEAT") and arg[0] >= 1):
        return set().union(*[_edge_chars(child, edge) for child in _children(op, arg)])
    return set()


def _is_word_class(body: Any) -> bool:
    inner = list(body)
    return (
        len(inner) == 1
        and str(inner[0][0]) == "IN"
        and [str(x) for item in inner[0][1] for x in item] == ["CATEGORY", "CATEGORY_WORD"]
    )


def _ascii_word(chars: set[str]) -> bool:
    return any(c.isascii() and (c.isalnum() or c == "_") for c in chars)


def _letters(chars: set[str]) -> str:
    return "".join(sorted(c for c in chars if not c.isascii() and c.isalpha()))
