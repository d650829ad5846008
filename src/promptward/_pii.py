"""The fast path for PII and secrets: one RE2 Set over the caller's text, then validators and context.

Findings carry entity type, offsets, score and the recognizing rule, never the value itself.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import re2

from ._matcher import MAX_SPANS_PER_RULE, _flagged
from ._packs import DataRule, RulePack, SecretRule
from ._re2util import char_spans, compile_re2, options
from ._validators import VALIDATORS, shannon_entropy

CONTEXT_BEFORE = 64
CONTEXT_AFTER = 24

# Documentation examples and template slots, never real credentials.
_PLACEHOLDER = re.compile(
    r"(?i)x{4,}|\*{4,}|\.{3}|<[^>]*>|\{\{|\$\{|your[_-]?|example|sample|dummy|placeholder|changeme|redacted"
    r"|(.)\1{5,}"
)
# Long random values (key blocks) contain such letters by chance, so only their start is judged.
_PLACEHOLDER_WINDOW = 48


@dataclass(frozen=True, slots=True)
class DataHit:
    rule: DataRule
    pack: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: DataRule
    pack: str
    regex: Any
    context: Any
    negative: Any


def _words(words: Sequence[str]) -> Any:
    if not words:
        return None
    # Identifiers join words with "_" (db_password), so only letters and digits extend a word.
    alternatives = "|".join(re2.escape(w) for w in words)
    return compile_re2(rf"(?i)(?:^|[^a-z0-9])(?:{alternatives})(?:[^a-z0-9]|$)")


def looks_like_placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.search(value[:_PLACEHOLDER_WINDOW])) or "EXAMPLE" in value


class DataScanner:
    """Every PII and secret rule of the active packs, compiled into one RE2 Set."""

    def __init__(self, rules: Sequence[tuple[RulePack, DataRule]]) -> None:
        self.rules: list[_Compiled] = []
        self._set = re2.Set.SearchSet(options())
        for pack, rule in rules:
            pattern = _flagged(rule.pattern, rule.case_sensitive)
            self._set.Add(pattern)
            compiled = compile_re2(pattern)
            self.rules.append(_Compiled(rule, pack.pack, compiled, _words(rule.context), _words(rule.negative_context)))
        if self.rules:
            self._set.Compile()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def fired(self, data: bytes) -> list[int]:
        """The rules whose pattern is in the UTF-8 text `data` (numbers, for scan(fired=))."""
        return (self._set.Match(data) or []) if self.rules else []

    def scan(self, text: str, *, data: bytes | None = None, fired: list[int] | None = None) -> list[DataHit]:
        """`data` (the text in UTF-8) and `fired` (fired() of it) save asking again when the caller has them."""
        if not self.rules:
            return []
        hits: list[DataHit] = []
        if data is None:
            data = text.encode()
        if fired is None:
            fired = self.fired(data)
        # The values of one text are bounded (records and redaction stay small on hostile input), and the
        # bound is shared out among the rules that fired, so that a flood of one kind (years, say) cannot
        # use up the room of another (a password further on).
        budget = max(MAX_SPANS_PER_RULE, MAX_SPANS_PER_RULE * len(self.rules) // max(1, len(fired)))
        for index in fired:
            compiled = self.rules[index]
            group = compiled.rule.group
            # Empty values are never reported; dropping them first keeps every span on character bounds.
            found = [(s, e) for s, e in (m.span(group) for m in compiled.regex.finditer(data)) if e > s >= 0]
            taken = 0
            for start, end in char_spans(data, found):
                hit = _judge(compiled, text, start, end)
                if hit is not None:
                    hits.append(hit)
                    taken += 1
                    if taken >= budget:
                        break
        return _drop_overlaps(hits)


def _judge(compiled: _Compiled, text: str, start: int, end: int) -> DataHit | None:
    rule = compiled.rule
    if end <= start:
        return None
    value = text[start:end]
    if rule.validator is not None and not VALIDATORS[rule.validator](value):
        return None
    if isinstance(rule, SecretRule) and looks_like_placeholder(value):
        return None
    if rule.min_entropy is not None and shannon_entropy(value) < rule.min_entropy:
        return None
    score = rule.score
    if compiled.context is not None or compiled.negative is not None:
        window = text[max(0, start - CONTEXT_BEFORE) : end + CONTEXT_AFTER]
        if compiled.context is not None and compiled.context.search(window):
            score = min(1.0, score + rule.context_boost)
        if compiled.negative is not None and compiled.negative.search(window):
            score = max(0.0, score - rule.context_boost)
    if score < rule.min_score:
        return None
    return DataHit(rule, compiled.pack, start, end, round(score, 3))


def _drop_overlaps(hits: list[DataHit]) -> list[DataHit]:
    """Where values overlap, keep one: a secret before personal data (the password in a URL is not an
    e-mail address), then the best-scored, longest one (a card number is not also a phone number)."""
    if len(hits) < 2:
        return hits
    ranked = sorted(hits, key=lambda h: (h.rule.kind != "secret", -h.score, -(h.end - h.start), h.start))
    # The values kept so far never overlap, so ordered by start they are also ordered by end: a new one
    # overlaps none of them when it ends before the next one starts and starts after the previous ends.
    kept: list[DataHit] = []
    starts: list[int] = []
    for hit in ranked:
        at = bisect.bisect_left(starts, hit.start)
        if at < len(kept) and kept[at].start < hit.end:
            continue
        if at > 0 and kept[at - 1].end > hit.start:
            continue
        kept.insert(at, hit)
        starts.insert(at, hit.start)
    return kept
