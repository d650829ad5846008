"""Run every rule's `match`/`no_match` examples through the guard, one pack at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._packs import RulePack


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    pack: str
    path: str | None
    rule_id: str
    kind: str  # "match" (should fire, did not), "no_match" (fired, should not) or "timeout"
    example: str
    fired: tuple[str, ...]

    def describe(self) -> str:
        others = ", ".join(r for r in self.fired if r != self.rule_id) or "nothing"
        if self.kind == "timeout":
            return f"{self.rule_id} ran past its time budget on {self.example!r}"
        if self.kind == "match":
            return f"{self.rule_id} did not fire on {self.example!r} (fired instead: {others})"
        return f"{self.rule_id} fired on its no_match example {self.example!r}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "path": self.path,
            "rule_id": self.rule_id,
            "kind": self.kind,
            "example": self.example,
            "fired": list(self.fired),
        }


def example_failures(packs: Sequence[RulePack]) -> tuple[int, list[ExampleFailure]]:
    """(number of examples run, failures). Each pack is judged alone, through canonicalization."""
    from ._guard import Guard

    failures: list[ExampleFailure] = []
    count = 0
    for pack in packs:
        guard = Guard([pack])
        for rule in pack.rules:
            if not rule.enabled:
                continue
            for kind, examples in (("match", rule.examples.match), ("no_match", rule.examples.no_match)):
                for example in examples:
                    count += 1
                    findings = guard.check(example).findings
                    fired = tuple(sorted({f.rule_id for f in findings}))
                    if any(f.detail and f.detail.endswith(f"rule {rule.id}") for f in findings):
                        failures.append(ExampleFailure(pack.pack, pack.source, rule.id, "timeout", example, fired))
                    elif (rule.id in fired) != (kind == "match"):
                        failures.append(ExampleFailure(pack.pack, pack.source, rule.id, kind, example, fired))
    return count, failures
