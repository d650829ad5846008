from __future__ import annotations

import pytest

from promptward._prefilter import required_literals


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        (r"(?i)\bignore\s+(?:all\s+)?previous", {"previous"}),
        (r"(?i)(?:ignore|forget)\s+it", {"ignore", "forget"}),
        (r"(?i)(?:ignore|ignoring) them", {"ignor"}),
        (r"[Ii]gnore", {"gnore"}),
        (r"(?:abc)+x", {"abc"}),
    ],
)
def test_required_literals(pattern: str, literals: set[str]) -> None:
    assert required_literals(pattern) == literals


@pytest.mark.parametrize(
    "pattern",
    [
        r"a*bc",  # too short to be worth a literal
        r"x(?:abcdef)?y",  # optional
        r"(?:abcdef|)",  # an empty alternative
        r"[[:alpha:]]abcdef",  # RE2 syntax Python's parser reads differently
        r"\pL+abcdef",
        r"abc\x{41}def",
    ],
)
def test_patterns_without_a_safe_literal_set_always_run(pattern: str) -> None:
    assert required_literals(pattern) is None
