from __future__ import annotations

from typing import Any

import pytest
import re2

from promptward._matcher import literal_sets
from promptward._prefilter import SEP, literal_requirement


def conditions(pattern: str) -> list[set[str]] | None:
    """The conditions of a pattern that has one branch."""
    requirement = literal_requirement(pattern)
    if requirement is None:
        return None
    assert len(requirement) == 1
    return [set(condition) for condition in requirement[0]]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # An optional word or a short alternation is spelled out, so the phrase goes on through it.
        (r"(?i)\bignore\s+(?:all\s+)?previous", [{f"ignore{SEP}previous", f"ignore{SEP}all{SEP}previous"}]),
        (r"(?i)(?:ignore|forget)\s+it", [{f"ignore{SEP}it", f"forget{SEP}it"}]),
        (r"(?i)l(?:33|ee)t\s*speak", [{"speak"}, {"l33t", "leet"}]),  # strongest first
        (r"[Ii]gnore", [{"Ignore", "ignore"}]),  # a small set branches the literal
        (r"s[iİ]stem\s+kural", [{f"sistem{SEP}kural", f"sİstem{SEP}kural"}]),
        (r"!\[[^\]]*\]\(", [{"!["}, {"]("}]),  # punctuation pairs are rare in prose: worth a condition
        (r"(?:abc)+x", [{"abcx"}]),  # the last copy of a repeat runs on into what follows
        (r"x(?:abc)+", [{"xabc"}]),  # and its first copy follows what came before
        # Words joined by \s+ make a phrase, which must appear as a whole (its words add nothing).
        (r"as\s+an\s+ai\b", [{f"as{SEP}an{SEP}ai"}]),
        (r"(?:tell|give)\s+me\s+secrets", [{f"tell{SEP}me{SEP}secrets", f"give{SEP}me{SEP}secrets"}]),
        # Marks too light to pick a rule ("##", "<") still rule it out when a word picks it.
        (r"(?i)^\s*#{2,}\s*system\b", [{"system"}, {"##"}]),
        (r"(?i)</?\s*admin\s*>", [{"admin"}, {"<"}, {">"}]),  # "</" holds "<": looking for "<" is enough
        # A literal that holds another of its condition adds nothing: "instructions" holds "instruction".
        (
            r"(?i)ignore\s+(?:the\s+)?(?:instructions?|rules)",
            [
                {
                    f"ignore{SEP}instruction",
                    f"ignore{SEP}rules",
                    f"ignore{SEP}the{SEP}instruction",
                    f"ignore{SEP}the{SEP}rules",
                }
            ],
        ),
    ],
)
def test_conditions_of_one_branch(pattern: str, expected: list[set[str]]) -> None:
    assert conditions(pattern) == expected


def test_an_alternation_at_the_top_keeps_each_branch_s_conditions() -> None:
    requirement = literal_requirement(r"(?i)\bignore\s+the\s+rules|\breveal\s+(?:your|the)\s+prompt")
    assert requirement is not None
    assert [[set(c) for c in branch] for branch in requirement] == [
        [{f"ignore{SEP}the{SEP}rules"}],
        [{f"reveal{SEP}your{SEP}prompt", f"reveal{SEP}the{SEP}prompt"}],
    ]


@pytest.mark.parametrize(
    "pattern",
    [
        r"a*b",  # one letter is no condition at all
        r"x(?:[abc]|de){9}y",  # more spellings than are worth a literal
        r"x(?:abcdef)?",  # optional
        r"(?:abcdef|)",  # an empty alternative
        r"abcdef|\d+",  # one branch without a literal
        r"[[:alpha:]]abcdef",  # RE2 syntax Python's parser reads differently
    ],
)
def test_patterns_without_a_safe_condition_always_run(pattern: str) -> None:
    assert literal_requirement(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"a*bc", [{"bc"}]),  # too short to pick a rule among others, but better than running always
        (r"<\s*/?\s*>", [{"<"}, {">"}]),  # marks alone too
        (r"x(?:abcdef)?y", [{"xy", "xabcdefy"}]),  # an optional part is spelled out: "xy" is light
        (r"[a-z]\s*=\s*[a-z]\s*\+\s*[a-z]", [{"+"}, {"="}]),
    ],
)
def test_a_pattern_with_only_light_conditions_is_still_guarded_by_them(pattern: str, expected: list[set[str]]) -> None:
    assert conditions(pattern) == expected


def test_a_pattern_whose_only_telling_condition_is_large_takes_it_rather_than_always_running() -> None:
    # 300 words of four letters with no common start (Python's parser would factor one out).
    words = [f"{chr(97 + index % 26)}{chr(97 + index // 26)}kw" for index in range(300)]
    requirement = conditions(r"(?:" + "|".join(words) + r")\s*:")
    assert requirement == [set(words), {":"}]
    # With a telling condition of its own, a rule ignores conditions of that size.
    assert conditions(r"(?:" + "|".join(words) + r")\s*:\s*secret") == [{"secret"}, {":"}]


def test_re2_code_points_and_unicode_classes_are_read_in_python_spelling() -> None:
    assert conditions(r"(?i)caf\x{e9}\s+noir") == [{f"café{SEP}noir"}]
    # A Unicode class holds no literal, even alone in a set (which Python would read as one character).
    assert conditions(r"[\pL]abc\p{Greek}+def") == [{"abc"}, {"def"}]
    assert conditions(r"\pL+abcdef") == [{"abcdef"}]
    assert conditions(r"abc\x{41}def") == [{"abcAdef"}]
    assert conditions(r"\\pLxyz") == [{"\\pLxyz"}]  # an escaped backslash, then plain text


@pytest.mark.parametrize("pattern", [r"foo\x00bar", r"abc\0def", r"(?i)abc[\x00x]def", r"ab\x{0}\x{0}cd"])
def test_a_nul_in_a_pattern_ends_a_literal_instead_of_reading_as_a_phrase_break(pattern: str) -> None:
    requirement = literal_requirement(pattern)
    literals = {lit for branch in requirement or [] for condition in branch for lit in condition}
    assert not any("\x00" in literal for literal in literals)


def test_re2_literal_brace_comma_leaves_the_rule_to_the_full_scan() -> None:
    # RE2 reads "{,1}" as text; Python's parser would read an optional group and spell it into a literal.
    assert literal_requirement(r"xyz(?:abc){,1}def") is None
    assert literal_requirement(r"xyz\{,1}def") is None


def test_literals_beyond_re2_s_memory_budget_are_split_over_sets_that_find_the_same() -> None:
    patterns = [f"(?i)w{index}x{index * 7}q" for index in range(3000)]
    text = b"... W12X84Q and w2999x20993q, not w5x0q ..."
    whole = literal_sets(patterns, _options(64 << 20))
    split = literal_sets(patterns, _options(1 << 18))
    assert len(whole) == 1 and len(split) > 1
    assert [first for first, _ in split] == sorted({first for first, _ in split})

    def found(sets: list[tuple[int, Any]]) -> set[int]:
        return {first + index for first, part in sets for index in part.Match(text) or ()}

    assert found(split) == found(whole) == {12, 2999}


def _options(max_mem: int) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = max_mem
    return options
