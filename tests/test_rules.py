"""Every built-in rule fires on each of its `match` examples and stays quiet on its `no_match` ones.

Examples go through the whole guard (canonicalization and decoding included), with only the rule's own
pack loaded, so a rule is judged on what it claims and not rescued by a neighbour.
"""

from __future__ import annotations

import functools

import pytest

from promptward import Guard
from promptward._packs import BUILTIN_PACKS, builtin_pack

RULES = [(name, rule) for name in BUILTIN_PACKS for rule in builtin_pack(name).rules]


@functools.cache
def guard_for(pack: str) -> Guard:
    return Guard([builtin_pack(pack)])


def fired(pack: str, text: str) -> set[str]:
    return {f.rule_id for f in guard_for(pack).check(text).findings}


@pytest.mark.parametrize(("pack", "rule"), RULES, ids=[rule.id for _, rule in RULES])
def test_rule_examples(pack: str, rule) -> None:  # type: ignore[no-untyped-def]
    assert len(rule.examples.match) >= 2, "every rule needs at least 2 match examples"
    assert len(rule.examples.no_match) >= 2, "every rule needs at least 2 no_match examples"
    for example in rule.examples.match:
        assert rule.id in fired(pack, example), f"should fire on: {example!r}"
    for example in rule.examples.no_match:
        assert rule.id not in fired(pack, example), f"should not fire on: {example!r}"


def test_builtin_rule_ids_are_unique_across_packs() -> None:
    ids = [rule.id for _, rule in RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("pack", BUILTIN_PACKS)
def test_rule_ids_start_with_their_pack(pack: str) -> None:
    prefix = pack.split("-")[0] + "."
    assert all(rule.id.startswith(prefix) for rule in builtin_pack(pack).rules)
