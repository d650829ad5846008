"""Literals a pattern cannot match without: a cheap first pass that tells which rules can fire at all.

For each rule the analysis finds a set of literal strings one of which every match must contain (like
RE2's FilteredRE2 atoms). One RE2 Set of those literals runs over a short text; only the rules whose
literals appear run, each on its own. A rule whose pattern gives no such set always runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MIN_LITERAL = 3
MAX_LITERALS = 200
# Syntax Python's parser would read differently from RE2: leave those rules to the full scan.
_RE2_ONLY = ("[:", "\\x{", "\\p", "\\P", "\\Q", "\\C", "\\z")


def required_literals(pattern: str) -> frozenset[str] | None:
    """Literals one of which any match of `pattern` contains, or None when there is no such set."""
    if any(token in pattern for token in _RE2_ONLY):
        return None
    try:
        from re import _parser  # type: ignore[attr-defined]

        tree = _parser.parse(pattern)
    except Exception:
        return None
    found = _required(list(tree))
    if found is None or _quality(found) < MIN_LITERAL or len(found) > MAX_LITERALS:
        return None
    return frozenset(found)


def _quality(literals: set[str] | None) -> int:
    return min((len(s) for s in literals), default=0) if literals else 0


def _required(items: Sequence[Any]) -> set[str] | None:
    """The best required set of one concatenation: a literal run, a group, or an alternation of sets."""
    best: set[str] | None = None
    run: list[str] = []

    def take(candidate: set[str] | None) -> None:
        nonlocal best
        if candidate is not None and _quality(candidate) > _quality(best):
            best = candidate

    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            run.append(chr(arg))
            continue
        if name == "AT":  # \b, ^, $: zero width, the run goes on
            continue
        if run:
            take({"".join(run)})
            run = []
        if name == "SUBPATTERN":
            take(_required(arg[-1]))
        elif name == "BRANCH":
            alternatives = [_required(alternative) for alternative in arg[1]]
            if all(a is not None for a in alternatives):
                take(set().union(*alternatives))  # type: ignore[arg-type]
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] >= 1:
            take(_required(arg[2]))
    if run:
        take({"".join(run)})
    return best
