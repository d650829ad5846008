"""The result of an eval: versions x models cells, each with its cases, pass rate, failures, latency, tokens."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, ConfigDict

from .._registry.models import EvalResult, EvalScore


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Failure(_Value):
    kind: str
    reason: str


class CaseOutcome(_Value):
    case: str
    weight: float
    tags: list[str] = []
    passed: bool
    failures: list[Failure] = []
    error: str | None = None
    answer: str | None = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: bool = False
    attempts: int = 0


class Cell(_Value):
    """One version on one model. It passes when its weighted pass rate reaches the threshold and nothing errored."""

    version: int
    model: str
    threshold: float
    cases_sha256: str
    outcomes: list[CaseOutcome]
    pass_rate: float
    passed: bool
    failures: dict[str, int]
    errors: dict[str, int]
    latency_p50_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: int = 0

    @classmethod
    def build(cls, version: int, model: str, threshold: float, sha: str, outcomes: list[CaseOutcome]) -> Cell:
        total = sum(item.weight for item in outcomes)
        rate = sum(item.weight for item in outcomes if item.passed) / total if total else 0.0
        errors = Counter(item.error for item in outcomes if item.error)
        latencies = sorted(item.latency_ms for item in outcomes if item.latency_ms is not None)
        return cls(
            version=version,
            model=model,
            threshold=threshold,
            cases_sha256=sha,
            outcomes=outcomes,
            pass_rate=rate,
            passed=rate >= threshold - 1e-9 and not errors,
            failures=dict(Counter(failure.kind for item in outcomes for failure in item.failures)),
            errors=dict(errors),
            latency_p50_ms=_median(latencies),
            prompt_tokens=_total([item.prompt_tokens for item in outcomes]),
            completion_tokens=_total([item.completion_tokens for item in outcomes]),
            cached=sum(item.cached for item in outcomes),
        )

    def score(self) -> EvalScore:
        return EvalScore(
            model=self.model,
            pass_rate=self.pass_rate,
            threshold=self.threshold,
            passed=self.passed,
            cases=len(self.outcomes),
            errors=sum(self.errors.values()),
            failures=self.failures,
            latency_p50_ms=self.latency_p50_ms,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
        )


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _total(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


class EvalMatrix(_Value):
    slug: str
    versions: list[int]
    models: list[str]
    cells: list[Cell]

    def cell(self, version: int, model: str) -> Cell:
        for cell in self.cells:
            if (cell.version, cell.model) == (version, model):
                return cell
        raise KeyError(f"no cell for v{version} on {model}")

    @property
    def passed(self) -> bool:
        return all(cell.passed for cell in self.cells)

    def result(self, version: int) -> EvalResult:
        """What record_eval() stores for `version`: one score per model."""
        cells = [cell for cell in self.cells if cell.version == version]
        threshold = max((cell.threshold for cell in cells), default=1.0)
        sha = cells[0].cases_sha256 if cells else ""
        return EvalResult(cases_sha256=sha, threshold=threshold, scores=[cell.score() for cell in cells])

    def summary(self) -> list[str]:
        """One line per cell that did not pass: why."""
        lines = []
        for cell in self.cells:
            if cell.passed:
                continue
            why = [f"pass rate {cell.pass_rate:.0%} < {cell.threshold:.0%}"] if cell.pass_rate < cell.threshold else []
            why += [f"{count}x {kind}" for kind, count in sorted(cell.failures.items())]
            why += [f"{count}x error: {message}" for message, count in sorted(cell.errors.items())]
            lines.append(f"v{cell.version} on {cell.model}: " + "; ".join(why))
        return lines
