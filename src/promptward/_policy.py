"""Turn findings into one action: by severity, with per-category and per-entity overrides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._decision import Action, Finding
from ._redact import Operator

Mode = Literal["enforce", "monitor"]
FailMode = Literal["closed", "open"]

# Findings about the engine itself (a timeout, an oversized text) rather than about the text.
ENGINE_CATEGORY = "engine"

Severity = Literal["low", "medium", "high", "critical"]
_DEFAULT_SEVERITY: dict[Severity, Action] = {
    "low": Action.FLAG,
    "medium": Action.FLAG,
    "high": Action.BLOCK,
    "critical": Action.BLOCK,
}


# Data findings: secrets block, personal data is redacted, unless configured otherwise.
_DEFAULT_CATEGORY: dict[str, Action] = {"secret": Action.BLOCK, "pii": Action.REDACT}


class Policy(BaseModel):
    """Which action each finding asks for; the decision takes the most severe one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Mapping[Severity, Action] = Field(default_factory=lambda: dict(_DEFAULT_SEVERITY))
    categories: Mapping[str, Action] = Field(default_factory=dict)
    entity_types: Mapping[str, Action] = Field(default_factory=dict)
    redaction: Mapping[str, Operator] = Field(default_factory=dict)
    default_operator: Operator = "replace"
    hash_key: str | None = None
    # Personal data scored below this is reported and recorded but asks for nothing (a bare year in prose
    # is a DATE_TIME at 0.35; a birth date is not), unless `entity_types` names its type. 0 acts on all.
    # Secrets act whatever their score.
    action_min_score: float = Field(default=0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _hash_needs_key(self) -> Policy:
        uses_hash = self.default_operator == "hash" or "hash" in self.redaction.values()
        if uses_hash and not self.hash_key:
            raise ValueError("the hash redaction operator needs hash_key (a secret from your configuration)")
        return self

    def action_for(self, finding: Finding, fail_mode: FailMode) -> Action:
        if finding.category == ENGINE_CATEGORY:
            return Action.BLOCK if fail_mode == "closed" else Action.ALLOW
        if finding.entity_type is not None and finding.entity_type in self.entity_types:
            return self.entity_types[finding.entity_type]
        if finding.category == "pii" and finding.score < self.action_min_score:
            return Action.ALLOW
        if finding.category in self.categories:
            return self.categories[finding.category]
        if finding.category in _DEFAULT_CATEGORY:
            return _DEFAULT_CATEGORY[finding.category]
        severity: Severity = finding.severity  # type: ignore[assignment]
        return self.severity.get(severity, _DEFAULT_SEVERITY[severity])

    def decide(self, findings: Iterable[Finding], fail_mode: FailMode) -> Action:
        action = Action.ALLOW
        for finding in findings:
            candidate = self.action_for(finding, fail_mode)
            if candidate.rank > action.rank:
                action = candidate
        return action
