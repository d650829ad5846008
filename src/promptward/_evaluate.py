"""Evaluate packs on a labelled JSONL corpus (the format of the shared corpora).

Shared by `promptward rules eval|diff` and benchmarks/accuracy.py.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._policy import ENGINE_CATEGORY


@dataclass(frozen=True, slots=True)
class CorpusItem:
    id: str
    text: str
    label: str
    category: str
    lang: str
    line: int

    @property
    def attack(self) -> bool:
        return self.label not in ("benign", "none")


def read_corpus(path: str | Path) -> tuple[list[CorpusItem], list[str]]:
    """Items of a JSONL corpus and one message per line that could not be read (the rest still counts)."""
    items: list[CorpusItem] = []
    problems: list[str] = []
    raw = Path(path).read_bytes()
    for number, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            problems.append(f"{path}:{number}: not a JSON line ({getattr(exc, 'msg', exc)}); skipped")
            continue
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            problems.append(f"{path}:{number}: no 'text' string; skipped")
            continue
        items.append(
            CorpusItem(
                id=str(value.get("id", number)),
                text=value["text"],
                label=str(value.get("label", "attack")),
                category=str(value.get("category", "unknown")),
                lang=str(value.get("lang", "und")),
                line=number,
            )
        )
    return items, problems


@dataclass
class Evaluation:
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    per_rule: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    fired: dict[str, tuple[str, ...]] = field(default_factory=dict)
    misses: list[CorpusItem] = field(default_factory=list)
    false_alarms: list[tuple[CorpusItem, tuple[str, ...]]] = field(default_factory=list)

    def rate(self, key: str) -> float:
        counts = self.counts.get(key)
        return counts["hit"] / counts["n"] if counts and counts["n"] else 0.0

    def keys(self, prefix: str) -> list[str]:
        return sorted((k for k in self.counts if k.startswith(prefix)), key=lambda k: (-self.counts[k]["n"], k))

    def dead_rules(self, rule_ids: Iterable[str]) -> list[str]:
        return sorted(r for r in rule_ids if r not in self.per_rule)

    def noisy_rules(self, minimum: int = 2) -> list[str]:
        return sorted(r for r, c in self.per_rule.items() if c["fp"] >= minimum and c["fp"] >= c["tp"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "recall": {k: {"n": v["n"], "recall": self.rate(k)} for k, v in self.counts.items() if v["n"]},
            "per_rule": {k: dict(v) for k, v in self.per_rule.items()},
            "misses": len(self.misses),
            "false_alarms": len(self.false_alarms),
        }


def evaluate(
    guard: Any,
    items: Sequence[CorpusItem],
    *,
    packs: Collection[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Screen every item; an item is detected when any finding (of `packs`, if given) fires."""
    result = Evaluation()
    for item in items:
        decision = guard.check(item.text)
        rules = tuple(
            sorted(
                {
                    f.rule_id
                    for f in decision.findings
                    if f.category != ENGINE_CATEGORY and (packs is None or f.pack in packs)
                }
            )
        )
        result.fired[item.id] = rules
        detected = bool(rules)
        for rule in rules:
            result.per_rule[rule]["tp" if item.attack else "fp"] += 1
        if item.attack:
            for key in (f"category:{item.category}", f"lang:{item.lang}", "all"):
                result.counts[key]["n"] += 1
                result.counts[key]["hit"] += detected
            if not detected:
                result.misses.append(item)
        else:
            key = f"benign:{item.category}"
            result.counts[key]["n"] += 1
            result.counts[key]["hit"] += detected
            if detected:
                result.false_alarms.append((item, rules))
        if progress is not None:
            progress(1)
    return result
