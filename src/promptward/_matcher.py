"""Compiled rule packs: a literal prefilter and RE2 Sets tell which rules fire, then only those run again
for spans. The prefilter (see _prefilter.py) skips rules whose required literals are absent; the full
Sets (`Matcher._sets`) are what it must agree with, and what the benchmarks call the floor.

Rules RE2 cannot express (engine: regex) run on the `regex` module with a per-call timeout; a timeout
or engine error is reported as an EngineFault and never skipped silently.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import re2
import regex

from ._exceptions import RulePackError
from ._packs import AnyRule, DataRule, KeywordsRule, PiiRule, RegexRule, RulePack, SecretRule
from ._prefilter import SEP, Condition, literal_requirement
from ._re2util import char_spans, compile_re2, options

MAX_SPANS_PER_RULE = 16
# RE2 runs a Set as one DFA; patterns combined past a few thousand instructions multiply its states and
# push it onto the slow path, so rules are spread over Sets of bounded total program size.
SET_PROGRAM_BUDGET = 3000
# Candidates per Set from which running the Sets that hold them beats running them one by one.
SETS_PAY_OFF = 1.25


def _flagged(pattern: str, case_sensitive: bool) -> str:
    return pattern if case_sensitive else f"(?i){pattern}"


def check_pattern(pattern: str, engine: str, case_sensitive: bool) -> None:
    """Raise ValueError (shown with the rule's location) when a pattern cannot compile on its engine."""
    if engine == "re2":
        try:
            compile_re2(_flagged(pattern, case_sensitive))
        except re2.error as exc:
            try:
                regex.compile(pattern)
            except regex.error:
                raise ValueError(f"pattern does not compile: {exc}") from None
            raise ValueError(
                "RE2 cannot compile this pattern (look-around or back-references?); "
                "rewrite it without them or set engine: regex"
            ) from None
    else:
        try:
            regex.compile(pattern, 0 if case_sensitive else regex.IGNORECASE)
        except regex.error as exc:
            raise ValueError(f"pattern does not compile on the regex engine: {exc}") from None


def _keyword_pattern(rule: KeywordsRule) -> str:
    parts = []
    for keyword in rule.keywords:
        body = r"\s+".join(re2.escape(word) for word in keyword.split())
        if rule.word_boundary and keyword[0].isascii() and keyword[0].isalnum():
            body = r"\b" + body
        if rule.word_boundary and keyword[-1].isascii() and keyword[-1].isalnum():
            body += r"\b"
        parts.append(body)
    return "(?:" + "|".join(parts) + ")"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: RegexRule | KeywordsRule
    pack: str
    pattern: str
    engine: str
    compiled: Any

    @property
    def id(self) -> str:
        return self.rule.id

    def spans(self, text: str, timeout: float, data: bytes | None = None) -> list[tuple[int, int]]:
        """Character spans of the rule's non-empty matches; `data` is `text` in UTF-8, when at hand."""
        if self.engine == "regex":
            return _nonempty(self.compiled.finditer(text, timeout=timeout))
        data = text.encode() if data is None else data
        return char_spans(data, _nonempty(self.compiled.finditer(data)))


def _nonempty(matches: Iterable[Any]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for match in matches:
        start, end = match.span()
        if end == start:
            continue
        found.append((start, end))
        if len(found) >= MAX_SPANS_PER_RULE:
            break
    return found


@dataclass(frozen=True, slots=True)
class Hit:
    rule: CompiledRule
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class EngineFault:
    rule_id: str
    pack: str
    reason: str


def effective_rules(packs: Sequence[RulePack]) -> list[tuple[RulePack, AnyRule]]:
    """Layer packs in order: a later rule with the same id replaces the earlier one; then apply each
    pack's `overrides` and `disable` lists, which may name rules of any pack."""
    by_id: dict[str, tuple[RulePack, AnyRule]] = {}
    for pack in packs:
        for rule in pack.rules:
            by_id.pop(rule.id, None)
            by_id[rule.id] = (pack, rule)
        for override in pack.overrides:
            if override.id not in by_id:
                raise RulePackError(
                    f"override names unknown rule {override.id!r}",
                    path=pack.source,
                    rule_id=override.id,
                    fix="list the pack that defines the rule before this one, or correct the id",
                )
            owner, rule = by_id[override.id]
            if override.scope is not None and isinstance(rule, (PiiRule, SecretRule)):
                raise RulePackError(
                    f"override gives a scope to {override.id!r}, a {rule.kind} rule",
                    path=pack.source,
                    rule_id=override.id,
                    fix="remove scope: only regex and keywords rules have one",
                )
            changes = override.model_dump(exclude={"id"}, exclude_none=True)
            by_id[override.id] = (owner, rule.model_copy(update=changes))
        for rule_id in pack.disable:
            if by_id.pop(rule_id, None) is None:
                raise RulePackError(
                    f"disable names unknown rule {rule_id!r}",
                    path=pack.source,
                    rule_id=rule_id,
                    fix="list the pack that defines the rule before this one, or correct the id",
                )
    return [(pack, rule) for pack, rule in by_id.values() if rule.enabled]


class Matcher:
    """Every enabled rule of a pack list, compiled once; safe to share between threads."""

    def __init__(self, packs: Sequence[RulePack], *, allow: Iterable[str] = (), regex_timeout: float = 0.05) -> None:
        self.regex_timeout = regex_timeout
        self.rules: list[CompiledRule] = []
        self._fallback_rules: list[CompiledRule] = []
        # Rules that look only at decoded payloads; they run on their own, as payloads are short.
        self._decoded_rules: list[CompiledRule] = []
        self.data_rules: list[tuple[RulePack, DataRule]] = []
        for pack, rule in effective_rules(packs):
            if isinstance(rule, (PiiRule, SecretRule)):
                self.data_rules.append((pack, rule))
                continue
            compiled = _compile(pack, rule)
            self.rules.append(compiled)
            if rule.scope == "decoded":
                self._decoded_rules.append(compiled)
            elif compiled.engine == "regex":
                self._fallback_rules.append(compiled)
        self._prefilter = _Prefilter(self._text_re2_rules)
        # What runs one by one on a decoded payload: the regex-engine rules, then those of scope "decoded".
        self._payload_rules = self._fallback_rules + self._decoded_rules
        self.allow_phrases = tuple(phrase for pack in packs for phrase in pack.allow) + tuple(allow)
        self._allow = _compile_allow(self.allow_phrases)

    @property
    def _text_re2_rules(self) -> list[CompiledRule]:
        """The RE2 rules that screen the caller's text (scope "all"), the ones the prefilter serves."""
        return [r for r in self.rules if r.engine == "re2" and r.rule.scope == "all"]

    @functools.cached_property
    def _sets(self) -> list[_RuleSet]:
        """Every RE2 rule of the caller's text in Sets, without the prefilter: what it must agree with, built
        only when asked for."""
        return [_RuleSet(group) for group in _groups(self._text_re2_rules)]

    @property
    def runs_always(self) -> bool:
        """Whether some rule runs on every text (no literal it needs, or the regex engine's): then scan()
        does work even where candidates() finds none."""
        return bool(self._fallback_rules) or self._prefilter.runs_always

    def candidates(self, data: bytes) -> list[int]:
        """The prefilter's candidates in the UTF-8 text `data` (numbers of rules), for scan(candidates=)."""
        return self._prefilter.candidates(data)

    def fired(self, text: str) -> list[CompiledRule]:
        """RE2 rules that match somewhere in `text`, read as the caller's text (not a decoded payload)."""
        return self._prefilter.fired(text.encode("utf-8"))

    def scan(
        self, text: str, *, decoded: bool = False, data: bytes | None = None, candidates: list[int] | None = None
    ) -> tuple[list[Hit], list[EngineFault]]:
        """Hits of every rule in `text`; `decoded` says the text was decoded from a payload, which adds the
        rules of scope "decoded". `data` (the text in UTF-8) and `candidates` (candidates() of it) save
        asking again when the caller has them."""
        hits: list[Hit] = []
        faults: list[EngineFault] = []
        if data is None:
            data = text.encode("utf-8")
        for rule, spans in self._prefilter.matches(text, data, self.regex_timeout, candidates):
            hits.extend(Hit(rule, s, e) for s, e in spans)
        for rule in self._payload_rules if decoded else self._fallback_rules:
            try:
                hits.extend(Hit(rule, s, e) for s, e in rule.spans(text, self.regex_timeout))
            except TimeoutError:
                faults.append(EngineFault(rule.id, rule.pack, "timeout"))
            except Exception as exc:  # the regex engine's own failures must not escape as crashes
                faults.append(EngineFault(rule.id, rule.pack, f"engine error: {type(exc).__name__}"))
        if hits and self._allow is not None:
            hits = _drop_allowed(hits, text, self._allow)
        return hits, faults


class _RuleSet:
    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self._set = re2.Set.SearchSet(options())
        for rule in rules:
            self._set.Add(rule.pattern)
        self._set.Compile()

    def fired(self, data: bytes) -> list[CompiledRule]:
        return [self.rules[i] for i in self._set.Match(data) or ()]


class _Prefilter:
    """Rules run only when their literal conditions hold; rules without any always run, as Sets.

    The rules that pass the literal test run on their own, or, when many of them share Sets (a long text
    holds most common words), as the Sets that hold them. A Set costs more than one of its rules, as its
    DFA is larger, so it pays only when it stands for several candidates.
    """

    def __init__(self, rules: list[CompiledRule]) -> None:
        literals: dict[str, int] = {}
        conditions: dict[Condition, int] = {}
        self._rules: list[CompiledRule] = []
        # Per branch of every rule: the rule's number and the numbers of the conditions that must all hold.
        branches: list[tuple[int, frozenset[int]]] = []
        keyed: dict[int, set[int]] = {}
        rest: list[CompiledRule] = []
        for rule in rules:
            requirement = literal_requirement(rule.pattern)
            if requirement is None:
                rest.append(rule)
                continue
            number = len(self._rules)
            self._rules.append(rule)
            for branch in requirement:
                # A branch is looked at when a literal of its strongest condition is present.
                for literal in branch[0]:
                    keyed.setdefault(literals.setdefault(literal, len(literals)), set()).add(len(branches))
                branches.append((number, frozenset(conditions.setdefault(c, len(conditions)) for c in branch)))
        holds: dict[int, set[int]] = {}
        for condition, number in conditions.items():
            for literal in condition:
                holds.setdefault(literals.setdefault(literal, len(literals)), set()).add(number)
        # Per literal: the branches to look at, and the conditions it satisfies; per branch: its rule and the
        # conditions it needs. Small tuples and sets, not bit sets over every branch: a text holds about a
        # hundred literals, and a check should touch little memory beyond theirs.
        self._keyed = [tuple(sorted(keyed.get(i, ()))) for i in range(len(literals))]
        self._holds = [tuple(sorted(holds.get(i, ()))) for i in range(len(literals))]
        self._branch_rule = [number for number, _ in branches]
        self._branch_needs = [needed for _, needed in branches]
        patterns = ["(?i)" + r"\s+".join(re2.escape(word) for word in literal.split(SEP)) for literal in literals]
        self._literal_sets = literal_sets(patterns, options())
        self._rest = [_RuleSet(group) for group in _groups(rest)]
        self._guarded = [_RuleSet(group) for group in _groups(self._rules)]
        index = {id(rule): number for number, rule in enumerate(self._rules)}
        self._set_of = [0] * len(self._rules)
        for set_number, rule_set in enumerate(self._guarded):
            for rule in rule_set.rules:
                self._set_of[index[id(rule)]] = set_number

    @property
    def runs_always(self) -> bool:
        return bool(self._rest)

    def candidates(self, data: bytes) -> list[int]:
        """Numbers of the rules whose literal conditions all hold in `data`, in one of the rule's branches."""
        if not self._rules:
            return []
        if len(self._literal_sets) == 1:
            present = self._literal_sets[0][1].Match(data)
        else:
            present = [first + i for first, part in self._literal_sets for i in part.Match(data) or ()]
        if not present:
            return []
        keyed = self._keyed
        looked_at: set[int] = set().union(*[keyed[index] for index in present])
        if not looked_at:
            return []
        holds = self._holds
        held: set[int] = set().union(*[holds[index] for index in present])
        rules, needs = self._branch_rule, self._branch_needs
        return sorted({rules[branch] for branch in looked_at if needs[branch] <= held})

    def _chosen(self, data: bytes, numbers: list[int] | None = None) -> tuple[list[CompiledRule], list[CompiledRule]]:
        """The rules that a Set says fire, and the candidates still to be run on their own."""
        if numbers is None:
            numbers = self.candidates(data)
        sets = sorted({self._set_of[number] for number in numbers})
        fire = [rule for rule_set in self._rest for rule in rule_set.fired(data)]
        if sets and len(numbers) >= SETS_PAY_OFF * len(sets):
            return [rule for number in sets for rule in self._guarded[number].fired(data)] + fire, []
        return fire, [self._rules[number] for number in numbers]

    def fired(self, data: bytes) -> list[CompiledRule]:
        fire, candidates = self._chosen(data)
        return [rule for rule in candidates if rule.compiled.search(data) is not None] + fire

    def matches(
        self, text: str, data: bytes, timeout: float, numbers: list[int] | None = None
    ) -> list[tuple[CompiledRule, list[tuple[int, int]]]]:
        """The spans of every rule that fires in `text` (`data`, in UTF-8); a candidate is looked for spans
        at once rather than searched first, so a rule that fires scans the text once, not twice. `numbers`:
        candidates(data), when the caller has asked already."""
        fire, candidates = self._chosen(data, numbers)
        found = []
        for rule in (*candidates, *fire):
            spans = rule.spans(text, timeout, data)
            if spans:
                found.append((rule, spans))
        return found


def literal_sets(patterns: list[str], set_options: Any) -> list[tuple[int, Any]]:
    """The literal patterns in compiled Sets, each with the index of its first pattern: one Set, unless RE2's
    memory budget cannot hold it (many large packs), then halves of it, and so on."""
    if not patterns:
        return []
    literal_set = re2.Set.SearchSet(set_options)
    for pattern in patterns:
        literal_set.Add(pattern)
    try:
        literal_set.Compile()
    except re2.error:
        if len(patterns) == 1:
            raise
        half = len(patterns) // 2
        return literal_sets(patterns[:half], set_options) + [
            (half + first, part) for first, part in literal_sets(patterns[half:], set_options)
        ]
    return [(0, literal_set)]


def _groups(rules: list[CompiledRule]) -> list[list[CompiledRule]]:
    groups: list[list[CompiledRule]] = []
    size = 0
    for rule in sorted(rules, key=lambda r: r.compiled.programsize):
        cost = rule.compiled.programsize
        if not groups or size + cost > SET_PROGRAM_BUDGET:
            groups.append([])
            size = 0
        groups[-1].append(rule)
        size += cost
    return groups


def _compile(pack: RulePack, rule: RegexRule | KeywordsRule) -> CompiledRule:
    if isinstance(rule, KeywordsRule):
        pattern, engine = _keyword_pattern(rule), "re2"
    else:
        pattern, engine = rule.pattern, rule.engine
    if engine == "regex":
        flags = regex.V0 | (0 if rule.case_sensitive else regex.IGNORECASE)
        return CompiledRule(rule, pack.pack, pattern, engine, regex.compile(pattern, flags))
    pattern = _flagged(pattern, rule.case_sensitive)
    return CompiledRule(rule, pack.pack, pattern, engine, compile_re2(pattern))


def _compile_allow(phrases: Iterable[str]) -> Any:
    parts = [r"\s+".join(re2.escape(w) for w in phrase.split()) for phrase in phrases if phrase.strip()]
    return compile_re2("(?i)(?:" + "|".join(parts) + ")") if parts else None


def _drop_allowed(hits: list[Hit], text: str, allow: Any) -> list[Hit]:
    regions = [m.span() for m in allow.finditer(text)]
    if not regions:
        return hits
    kept = []
    for hit in hits:
        # Rules consume a boundary character before or after the words they match; it does not count.
        start, end = hit.start, hit.end
        while start < end and not text[start].isalnum():
            start += 1
        while end > start and not text[end - 1].isalnum():
            end -= 1
        if not any(s <= start and end <= e for s, e in regions):
            kept.append(hit)
    return kept
