"""Literals a pattern cannot match without: a cheap first pass that tells which rules can fire at all.

For each rule the analysis finds conditions, each a set of literals one of which every match must contain
(like RE2's FilteredRE2 atoms): `ignore\\s+(?:all\\s+)?(?:previous|prior)\\s+instructions` needs "ignore",
one of "previous"/"prior", and "instructions". A literal may be a phrase of words that the pattern joins
with `\\s+` ("as an ai"), held as the words joined by SEP. A pattern that is an alternation at the top gets
one list of conditions per branch. One RE2 Set of every literal runs over the text; a rule runs on its own
only when all conditions of one of its branches have a literal present. A rule with a branch that gives
no condition always runs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

# A literal must weigh this much to be worth a condition: an ASCII letter or digit weighs 1, whitespace
# nothing, any other character 2 (see _char_weight).
MIN_WEIGHT = 3
# A lighter condition of marks ("<", "##") cannot pick the rules to look at, but it can rule one out.
MIN_HELD_WEIGHT = 2
MAX_LITERALS = 200
# ... and a rule that would otherwise always run takes one of up to this many.
MAX_FALLBACK_LITERALS = 2000
# A set of at most MAX_CLASS plain characters inside a literal branches it, up to MAX_SPELLINGS spellings.
MAX_CLASS = 4
MAX_SPELLINGS = 32
# Words of a phrase literal; the Set pattern joins them with \s+.
SEP = "\x00"
# Syntax Python's parser would read differently from RE2: leave those rules to the full scan. RE2 reads
# "{,n}" as literal text, Python as a repeat of at most n.
_RE2_ONLY = re.compile(r"\[:\^?[a-z]+:\]|\\[QCz]|\{,")
# RE2 syntax with a Python spelling: code points \x{...}, and Unicode classes \pL, \p{Greek}, which hold
# no literal, so any two classes stand for them (two, so that a one-class set never reads as a literal).
_CODE_POINT = re.compile(r"(?<!\\)((?:\\\\)*)\\x\{([0-9A-Fa-f]{1,6})\}")
_UNICODE_CLASS = re.compile(r"(?<!\\)((?:\\\\)*)\\[pP](?:\{\^?\w+\}|\w)")

Condition = frozenset[str]
_SEP_RUN = re.compile(SEP + "+")


@functools.lru_cache(maxsize=4096)
def literal_requirement(pattern: str) -> tuple[tuple[Condition, ...], ...] | None:
    """Branches one of which every match of `pattern` meets, each the conditions that must all hold
    (strongest first); None when some branch has no condition, so the rule must always run. Cached: each
    Guard of a process asks again for the same patterns."""
    tree = _parse(pattern)
    if tree is None:
        return None
    items = _strip_zero_width(list(tree))
    # A pattern that is one alternation at the top ("A|B|C", or one group around it) is judged branch
    # by branch, so that each branch keeps all of its own conditions.
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN":
        items = _strip_zero_width(list(items[0][1][-1]))
    if len(items) == 1 and str(items[0][0]) == "BRANCH":
        branches = [list(branch) for branch in items[0][1][1]]
    else:
        branches = [items]
    requirement = []
    for branch in branches:
        conditions = _strong(_conditions(branch))
        if not conditions:
            return None
        requirement.append(tuple(conditions))
    return tuple(requirement)


def weight(literals: set[str] | frozenset[str]) -> int:
    """How telling a set of alternatives is: the weight of its lightest literal."""
    return min(map(_literal_weight, literals), default=0)


@functools.lru_cache(maxsize=65536)
def _literal_weight(literal: str) -> int:
    # Cached: building the prefilter weighs the same literals tens of thousands of times.
    return sum(map(_char_weight, literal))


def _char_weight(char: str) -> int:
    # Letters of large alphabets and ASCII punctuation ("![", "<|") are rarer in prose than ASCII letters.
    if char == SEP or char.isspace():
        return 0
    return 1 if char.isascii() and char.isalnum() else 2


def _parse(pattern: str) -> Any:
    if _RE2_ONLY.search(pattern):
        return None
    pattern = _CODE_POINT.sub(lambda m: f"{m.group(1)}\\U{int(m.group(2), 16):08x}", pattern)
    pattern = _UNICODE_CLASS.sub(lambda m: f"{m.group(1)}\\w\\W", pattern)
    try:
        from re import _parser  # type: ignore[attr-defined]

        return _parser.parse(pattern)
    except Exception:
        return None


def _strip_zero_width(items: list[Any]) -> list[Any]:
    while items and str(items[0][0]) == "AT":
        items = items[1:]
    while items and str(items[-1][0]) == "AT":
        items = items[:-1]
    return items


def _strong(conditions: list[set[str]]) -> list[Condition]:
    kept = _pick(conditions, MAX_LITERALS, strict=True)
    if kept:
        return kept
    # Without a telling condition the rule would run on every text; lighter or larger conditions still
    # spare it the texts that lack them ("=" and "+" both present, one of a few hundred phrases).
    return _pick(conditions, MAX_FALLBACK_LITERALS, strict=False)


def _pick(conditions: list[set[str]], max_literals: int, *, strict: bool) -> list[Condition]:
    found = {_minimal(c) for c in conditions if len(c) <= max_literals and _worth_holding(c, strict=strict)}
    if strict and all(weight(c) < MIN_WEIGHT for c in found):
        return []
    kept: list[Condition] = []
    for condition in sorted(found, key=lambda c: (-weight(c), sorted(c))):
        # A condition that a stronger one implies adds nothing but literals to look for.
        if not any(_implies(stronger, condition) for stronger in kept):
            kept.append(condition)
    return kept


def _minimal(literals: set[str]) -> Condition:
    """The literals of a condition without those that hold another one ("instructions" holds "instruction"):
    the condition is met exactly when one of those left is present. The pass is quadratic, so the large
    conditions a rule may fall back on keep all their literals."""
    if len(literals) > MAX_LITERALS:
        return frozenset(literals)
    ordered = sorted(literals, key=len)
    kept: list[str] = []
    for literal in ordered:
        if not any(shorter in literal for shorter in kept):
            kept.append(literal)
    return frozenset(kept)


def _worth_holding(condition: set[str], *, strict: bool = True) -> bool:
    # Short words ("in", "me") are in nearly every text; a mark such as "<" or "##" is rare in prose.
    if weight(condition) >= MIN_WEIGHT:
        return True
    marked = all(any(not char.isalnum() and char != SEP for char in literal) for literal in condition)
    return (marked or not strict) and weight(condition) >= MIN_HELD_WEIGHT


def _implies(stronger: Condition, weaker: Condition) -> bool:
    """Whether text holding a literal of `stronger` always holds one of `weaker`: each literal of
    `stronger` has a literal of `weaker` inside one of its words."""
    return all(any(SEP not in w and w in word for w in weaker for word in literal.split(SEP)) for literal in stronger)


def _is_whitespace_run(op: Any, arg: Any) -> bool:
    """`\\s+`: one or more whitespace characters, which a phrase literal spans."""
    if str(op) != "MAX_REPEAT" or arg[0] < 1:
        return False
    inner = list(arg[2])
    if len(inner) != 1 or str(inner[0][0]) != "IN":
        return False
    return [str(x) for item in inner[0][1] for x in item] == ["CATEGORY", "CATEGORY_SPACE"]


def _small_class(op: Any, arg: Any) -> list[str] | None:
    """The characters of a set of a few plain characters (`[iİ]`), which a literal can branch on."""
    if str(op) != "IN" or not 1 < len(arg) <= MAX_CLASS:
        return None
    if any(str(kind) != "LITERAL" or code == 0 for kind, code in arg):
        return None
    return [chr(code) for _, code in arg]


def _spellings(op: Any, arg: Any, limit: int) -> list[str] | None:
    """Every text one pattern item can match, when it is spelled out (literals, small sets, whitespace
    runs as SEP, alternations and optional parts of those) in at most `limit` spellings; else None."""
    name = str(op)
    if name == "LITERAL":
        return None if arg == 0 else [chr(arg)]  # a NUL would read as SEP
    if name == "AT":
        return [""]
    if _is_whitespace_run(op, arg):
        return [SEP]
    chars = _small_class(op, arg)
    if chars is not None:
        return chars if len(chars) <= limit else None
    if name == "SUBPATTERN":
        return _sequence_spellings(arg[-1], limit)
    if name == "BRANCH":
        spelled: list[str] = []
        for alternative in arg[1]:
            found = _sequence_spellings(alternative, limit - len(spelled))
            if found is None:
                return None
            spelled.extend(found)
        return spelled
    if name in ("MAX_REPEAT", "MIN_REPEAT") and arg[0] == 0 and arg[1] == 1 and limit > 1:
        found = _sequence_spellings(arg[2], limit - 1)
        return None if found is None else [*found, ""]
    return None


def _sequence_spellings(items: Sequence[Any], limit: int) -> list[str] | None:
    spelled = [""]
    for op, arg in items:
        tails = _spellings(op, arg, limit // len(spelled))
        if tails is None:
            return None
        spelled = [head + tail for head in spelled for tail in tails]
    return spelled if 0 < len(spelled) <= limit else None


def _conditions(items: Sequence[Any]) -> list[set[str]]:
    """Every condition of one concatenation: its literal runs and phrases, and what its groups and
    branches require."""
    found: list[set[str]] = []
    # The run of literal text being read, as its spellings (a small set such as [iİ] multiplies them).
    run: list[str] = [""]

    def close() -> None:
        spellings = {_SEP_RUN.sub(SEP, spelling).strip(SEP) for spelling in run}
        if all(spellings):
            found.append(spellings)
            # Each word of a phrase is required too; the strongest condition is picked later.
            words = [spelling.split(SEP) for spelling in spellings]
            if len({len(w) for w in words}) == 1 and len(words[0]) > 1:
                found.extend({w[i] for w in words} for i in range(len(words[0])))
        run[:] = [""]

    for op, arg in items:
        name = str(op)
        # A literal, a small set, a whitespace run or a short alternation of spelled-out words
        # ("l(?:33|ee)t", "ignorier(?:e|en)?") goes on with the run in each of its spellings.
        tails = _spellings(op, arg, MAX_SPELLINGS // len(run))
        if tails is not None:
            run[:] = [spelling + tail for spelling in run for tail in tails]
            continue
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] >= 1:
            # ... and its first `min` copies follow what came before.
            heads = _sequence_spellings(list(arg[2]) * arg[0], MAX_SPELLINGS // len(run))
            if heads is not None:
                run[:] = [spelling + head for spelling in run for head in heads]
        close()
        if name == "SUBPATTERN":
            found.extend(_conditions(arg[-1]))
        elif name == "BRANCH":
            best = [max(_conditions(alternative), key=weight, default=None) for alternative in arg[1]]
            if all(b is not None for b in best):
                found.append(set().union(*best))  # type: ignore[arg-type]
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] >= 1:
            found.extend(_conditions(arg[2]))
            # The last `min` copies of a spelled-out repeat ("#{2,}") run on into what follows.
            copies = _sequence_spellings(list(arg[2]) * arg[0], MAX_SPELLINGS)
            if copies is not None:
                run[:] = copies
    close()
    return found
