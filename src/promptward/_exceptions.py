"""The error tree. Every message says what was wrong and how to fix it.

    PromptwardError
      ConfigError(ValueError)        bad options, bad YAML
        RulePackError                a rule pack that cannot load; carries path, rule id, line
      ScanError                      a scanner failed
        ScanTimeout(TimeoutError)
        ScannerUnavailable(ImportError)
      RegistryError
        PromptNotFound(LookupError)
        VersionConflict
        RegistryUnavailable
      TemplateError(ValueError)
        MissingVariable
        UnexpectedVariable
        InvalidVariable
      PromptBlocked                  only from Decision.raise_for_block(); carries the decision

Blocking is a result, not an error: Guard.check() returns a Decision and never raises PromptBlocked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._decision import Decision


class PromptwardError(Exception):
    """Base of every error promptward raises on purpose."""


class ConfigError(PromptwardError, ValueError):
    """Options or configuration files that cannot be used as given."""


class RulePackError(ConfigError):
    """A rule pack that cannot be loaded, located as precisely as the loader can."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        rule_id: str | None = None,
        line: int | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.rule_id = rule_id
        self.line = line
        self.fix = fix
        where = self.path or "<pack>"
        if line is not None:
            where += f":{line}"
        if rule_id:
            where += f" (rule {rule_id})"
        text = f"{where}: {message}"
        if fix:
            text += f"; fix: {fix}"
        super().__init__(text)
        self.reason = message


class ScanError(PromptwardError):
    """A scanner failed while screening text."""


class ScanTimeout(ScanError, TimeoutError):
    """A rule ran past its time budget."""


class ScannerUnavailable(ScanError, ImportError):
    """An optional scanner is not installed; the message names the extra to install."""


class RegistryError(PromptwardError):
    """The prompt registry could not answer as asked."""


class PromptNotFound(RegistryError, LookupError):
    """No such prompt, version or label."""


class VersionConflict(RegistryError):
    """A write was based on a version that is no longer current."""


class RegistryUnavailable(RegistryError):
    """The registry cannot be reached and nothing usable is cached."""


class TemplateError(PromptwardError, ValueError):
    """A template or its variables are invalid."""


class MissingVariable(TemplateError):
    """A required variable was not given."""


class UnexpectedVariable(TemplateError):
    """A variable was given that the contract does not declare."""


class InvalidVariable(TemplateError):
    """A variable's value breaks its contract."""


class PromptBlocked(PromptwardError):
    """Raised by Decision.raise_for_block() for a decision that blocks; carries the decision."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        rules = ", ".join(sorted({f.rule_id for f in decision.findings})) or "no rule"
        super().__init__(f"input blocked by promptward (decision {decision.id}; rules: {rules})")
