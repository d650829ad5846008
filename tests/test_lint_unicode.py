from __future__ import annotations

import pytest
import re2

from promptward._lint_unicode import ascii_only_word_syntax


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"\bécris\b", "écris le mot"),  # \b before é: no boundary between a space and é in RE2
        (r"(?:tell|\bépelle)\s", "épelle le mot"),
        (r"\bcafé\b", "un café noir"),  # \b after é
        (r"прежн\w*\s+правил", "прежним правилам"),  # \w after н stops at the next Cyrillic letter
    ],
)
def test_word_syntax_against_non_ascii_letters_is_reported_and_really_fails_on_re2(pattern: str, text: str) -> None:
    assert ascii_only_word_syntax(pattern) is not None
    assert re2.search(pattern, text) is None


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bignore\b",
        r"(?:^|[^\p{L}])не\s+следуй",
        r"caf\w+",  # \w after an ASCII letter
        r"\bmot\s+de\s+passe\b",
        r"über\s+\w+",  # \w after whitespace, not after the letter
        r"é\ba",  # an ASCII letter on the other side: RE2 sees a boundary there
    ],
)
def test_ascii_word_syntax_is_not_reported(pattern: str) -> None:
    assert ascii_only_word_syntax(pattern) is None
