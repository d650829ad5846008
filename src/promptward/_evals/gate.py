"""The promotion gate: a version may take a label only if its latest eval passed on every required model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .._registry.models import EvalRecord


@dataclass(frozen=True)
class GateVerdict:
    allowed: bool
    reasons: list[str]  # why not, one line per model (empty when allowed)
    checked: dict[str, float]  # model -> pass rate of its latest eval


def check_gate(slug: str, version: int, records: Sequence[EvalRecord], models: Sequence[str] | None) -> GateVerdict:
    """For each required model (default: those of the version's latest eval), the latest eval scoring that model
    must have passed its threshold (pass rate reached, no errors)."""
    mine = [record for record in records if record.version == version]
    if not mine:
        return GateVerdict(
            False,
            [f"{slug} v{version} has no recorded eval; run `promptward prompts eval {slug} --versions {version} ...`"],
            {},
        )
    required = list(models) if models else [score.model for score in mine[-1].scores]
    reasons: list[str] = []
    checked: dict[str, float] = {}
    for model in required:
        latest = next(
            (score for record in reversed(mine) for score in record.scores if score.model == model),
            None,
        )
        if latest is None:
            reasons.append(f"{model}: no eval of v{version} on this model")
            continue
        checked[model] = latest.pass_rate
        if not latest.passed:
            errors = f", {latest.errors} errors" if latest.errors else ""
            reasons.append(f"{model}: pass rate {latest.pass_rate:.0%} below threshold {latest.threshold:.0%}{errors}")
    return GateVerdict(not reasons, reasons, checked)
