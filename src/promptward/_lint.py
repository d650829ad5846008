"""`promptward rules lint`: audit rule packs like code. Each finding has a code, a severity and a fix."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import re2
import yaml

from ._exceptions import RulePackError
from ._lint_unicode import always_folded_letters, ascii_only_word_syntax
from ._matcher import _compile, _flagged
from ._normalize import canonicalize
from ._packs import AnyRule, KeywordsRule, RegexRule, RulePack, load_pack
from ._prefilter import literal_requirement
from ._re2util import compile_re2
from ._samples import ORDINARY_PROSE

BROAD_THRESHOLD = 0.3
ID_CONVENTION = re.compile(r"^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9_-]*){2,}$")
_WIDE_REPEAT = re.compile(r"(?:\.|\\[SWDswd]|\[\^[^\]]*\])\{(\d+)(?:,(\d*))?\}")
WIDE_REPEAT_LIMIT = 250
# RE2 instructions of one compiled rule. Wide bounded repeats and Unicode classes (\p{L} costs about
# 1,200 on its own) grow programs that slow every Set they join.
PROGRAM_LIMIT = 6000


@dataclass(frozen=True, slots=True)
class LintFinding:
    code: str
    severity: str  # error | warning | info
    path: str
    line: int | None
    rule_id: str | None
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "rule_id": self.rule_id,
            "message": self.message,
            "fix": self.fix,
        }


CODES: dict[str, str] = {
    "PW001": "the pack does not load (schema or YAML error)",
    "PW002": "engine: regex is not needed, RE2 can run the pattern",
    "PW010": "ReDoS risk in a regex-engine rule (nested or overlapping quantifiers)",
    "PW011": "DFA blow-up risk in an RE2 rule (wide bounded repeat over a broad class, or a huge program)",
    "PW012": "\\b or \\w against a non-ASCII letter in an RE2 rule (RE2 reads them as ASCII only)",
    "PW013": "a letter canonicalization always replaces (Turkish ı, Thai ำ) spelled outside a class: never matches",
    "PW014": "no literal for the prefilter: the rule runs on every text",
    "PW020": "the rule matches the empty string",
    "PW021": "the rule matches much ordinary prose",
    "PW030": "duplicate pattern",
    "PW031": "shadowed: another rule of the same category matches all of this rule's examples",
    "PW040": "too few examples",
    "PW050": "rule id breaks the naming convention <pack>.<family>.<name>",
}


def rule_lines(path: Path) -> dict[str, int]:
    """Line of each rule id in a pack file, for located findings."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, value in node.value:
        if getattr(key, "value", None) == "rules" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                if isinstance(item, yaml.MappingNode):
                    for k, v in item.value:
                        if getattr(k, "value", None) == "id":
                            lines[str(v.value)] = item.start_mark.line + 1
    return lines


def pack_files(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(path.glob("*.y*ml")) if path.is_dir() else [path])
    return files


def lint_paths(paths: Iterable[str | Path]) -> list[LintFinding]:
    findings: list[LintFinding] = []
    loaded: list[tuple[Path, RulePack]] = []
    for path in pack_files(paths):
        try:
            loaded.append((path, load_pack(path)))
        except RulePackError as exc:
            findings.append(LintFinding("PW001", "error", str(path), exc.line, exc.rule_id, exc.reason, exc.fix or ""))
    for path, pack in loaded:
        findings.extend(lint_pack(pack, path, rule_lines(path)))
    findings.extend(_duplicates(loaded))
    return findings


def lint_pack(pack: RulePack, path: Path, lines: dict[str, int]) -> list[LintFinding]:
    out: list[LintFinding] = []

    def add(code: str, severity: str, rule: AnyRule, message: str, fix: str) -> None:
        out.append(LintFinding(code, severity, str(path), lines.get(rule.id), rule.id, message, fix))

    prefix = pack.pack.split("-")[0]
    for rule in pack.rules:
        pattern = _pattern_of(rule)
        if not ID_CONVENTION.match(rule.id) or rule.id.split(".")[0] != prefix:
            add(
                "PW050",
                "warning",
                rule,
                f"id {rule.id!r} is not {prefix}.<family>.<name>",
                f"rename to {prefix}.x.y",
            )
        if len(rule.examples.match) < 2 or len(rule.examples.no_match) < 2:
            add(
                "PW040",
                "warning",
                rule,
                f"{len(rule.examples.match)} match and {len(rule.examples.no_match)} no_match examples",
                "add at least 2 of each; no_match examples should be benign near misses",
            )
        if isinstance(rule, RegexRule) and rule.engine == "regex":
            if _re2_accepts(rule.pattern, rule.case_sensitive):
                add(
                    "PW002",
                    "warning",
                    rule,
                    "RE2 compiles this pattern",
                    "remove engine: regex (RE2 is linear)",
                )
            risk = redos_risk(rule.pattern)
            if risk:
                add("PW010", "error", rule, risk, "remove nested quantifiers or make alternatives disjoint")
        else:
            wide = _wide_repeat(pattern)
            if wide:
                add(
                    "PW011",
                    "warning",
                    rule,
                    wide,
                    f"keep bounded repeats of broad classes under {WIDE_REPEAT_LIMIT}",
                )
            ascii_only = ascii_only_word_syntax(pattern)
            if ascii_only:
                add(
                    "PW012",
                    "warning",
                    rule,
                    ascii_only,
                    "bound the word with a class such as (?:^|[^a-zà-ÿ]); match its letters with a range ([а-яё])",
                )
            folded = always_folded_letters(pattern)
            if folded:
                fix = "write what replaces it (ı as i, ำ as ํา), or a class such as [ıi]"
                add("PW013", "warning", rule, folded, fix)
            size = compile_re2(_flagged(pattern, rule.case_sensitive)).programsize
            if size > PROGRAM_LIMIT:
                add(
                    "PW011",
                    "warning",
                    rule,
                    f"compiles to {size} RE2 instructions (limit {PROGRAM_LIMIT})",
                    "use \\S or [^\\s...] instead of \\p{L} classes, and shorter bounded repeats",
                )
        compiled = _compile(pack, rule) if not hasattr(rule, "entity_type") else None
        matcher: Any = compiled.compiled if compiled else compile_re2(_flagged(pattern, rule.case_sensitive))
        if (
            compiled is not None
            and compiled.engine == "re2"
            and compiled.rule.scope == "all"
            and literal_requirement(compiled.pattern) is None
        ):
            add(
                "PW014",
                "info",
                rule,
                "no word or mark that every match must contain, so the literal prefilter cannot skip the rule: "
                "it runs on every text",
                "make every branch of a top-level alternation need some fixed text: a word, or marks such as '<|'",
            )
        if matcher.search("") is not None:
            add(
                "PW020",
                "error",
                rule,
                "matches the empty string, so it fires on every text",
                "require at least one character",
            )
        else:
            hits = sum(matcher.search(text) is not None for text in ORDINARY_PROSE)
            if hits / len(ORDINARY_PROSE) >= BROAD_THRESHOLD:
                add(
                    "PW021",
                    "error",
                    rule,
                    f"fires on {hits} of {len(ORDINARY_PROSE)} sentences of ordinary prose",
                    "anchor it on the attack's distinctive words",
                )
    return out


def _pattern_of(rule: AnyRule) -> str:
    if isinstance(rule, KeywordsRule):
        from ._matcher import _keyword_pattern

        return _keyword_pattern(rule)
    return rule.pattern


def _re2_accepts(pattern: str, case_sensitive: bool) -> bool:
    try:
        compile_re2(_flagged(pattern, case_sensitive))
    except re2.error:
        return False
    return True


def _wide_repeat(pattern: str) -> str | None:
    for match in _WIDE_REPEAT.finditer(pattern):
        low, high = int(match.group(1)), match.group(2)
        top = int(high) if high else low if high is None else None
        if top is not None and top >= WIDE_REPEAT_LIMIT:
            return f"{match.group()} repeats a broad class up to {top} times"
    return None


def redos_risk(pattern: str) -> str | None:
    """Nested unbounded quantifiers, or an unbounded repeat over alternatives of different lengths."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        tree = _parser.parse(pattern)
    except Exception:
        return None
    return _walk(list(tree), inside_repeat=False)


def _walk(items: Sequence[Any], *, inside_repeat: bool) -> str | None:
    from re import _constants  # type: ignore[attr-defined]

    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _low, high, body = arg
            unbounded = high == _constants.MAXREPEAT or high > 32
            if unbounded and inside_repeat:
                return "nested unbounded quantifiers, e.g. (a+)+"
            if unbounded and _has_optional_branch(body):
                return "an unbounded repeat over alternatives that overlap, e.g. (a|aa)+"
            found = _walk(body, inside_repeat=inside_repeat or unbounded)
            if found:
                return found
        elif name == "SUBPATTERN":
            found = _walk(arg[-1], inside_repeat=inside_repeat)
            if found:
                return found
        elif name == "BRANCH":
            for alternative in arg[1]:
                found = _walk(alternative, inside_repeat=inside_repeat)
                if found:
                    return found
    return None


def _has_optional_branch(items: Sequence[Any]) -> bool:
    for op, arg in items:
        name = str(op)
        if name == "BRANCH" and any(len(alt) == 0 for alt in arg[1]):
            return True
        if name == "SUBPATTERN" and _has_optional_branch(arg[-1]):
            return True
    return False


def _searcher(pack: RulePack, rule: AnyRule, pattern: str) -> Any:
    if isinstance(rule, (RegexRule, KeywordsRule)):
        return _compile(pack, rule).compiled
    return compile_re2(pattern)


def _duplicates(loaded: Sequence[tuple[Path, RulePack]]) -> list[LintFinding]:
    out: list[LintFinding] = []
    seen: dict[str, tuple[str, Path]] = {}
    entries: list[tuple[Path, RulePack, AnyRule, Any]] = []
    for path, pack in loaded:
        lines = rule_lines(path)
        for rule in pack.rules:
            pattern = _flagged(_pattern_of(rule), rule.case_sensitive)
            if pattern in seen:
                first_id, _ = seen[pattern]
                out.append(
                    LintFinding(
                        "PW030", "error", str(path), lines.get(rule.id), rule.id,
                        f"same pattern as {first_id}", "delete one of them or merge their examples",
                    )
                )  # fmt: skip
            else:
                seen[pattern] = (rule.id, path)
            entries.append((path, pack, rule, _searcher(pack, rule, pattern)))
    for path, _pack, rule, _compiled in entries:
        # Data rules are judged with validators and context scores, which a bare pattern does not show.
        if not rule.examples.match or rule.kind in ("pii", "secret"):
            continue
        examples = [canonicalize(example).text for example in rule.examples.match]
        for _other_path, _other_pack, other, other_compiled in entries:
            if other.id == rule.id or other.category != rule.category or other.kind in ("pii", "secret"):
                continue
            if getattr(other, "scope", "all") != getattr(rule, "scope", "all"):
                continue  # a rule of decoded payloads never screens plain text, so it shadows nothing there
            if all(other_compiled.search(example) is not None for example in examples):
                out.append(
                    LintFinding(
                        "PW031", "info", str(path), rule_lines(path).get(rule.id), rule.id,
                        f"{other.id} matches every match example of this rule",
                        "make the examples show what only this rule catches, or merge the rules",
                    )
                )  # fmt: skip
                break
    return out
