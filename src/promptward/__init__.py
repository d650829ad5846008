"""promptward: versioned prompts and a guard that screens what flows into them."""

from ._decision import Action, Decision, Finding, Span
from ._exceptions import (
    ConfigError,
    InvalidVariable,
    MissingVariable,
    PromptBlocked,
    PromptNotFound,
    PromptwardError,
    RegistryError,
    RegistryUnavailable,
    RulePackError,
    ScanError,
    ScannerUnavailable,
    ScanTimeout,
    TemplateError,
    UnexpectedVariable,
    VersionConflict,
)
from ._guard import Guard

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ConfigError",
    "Decision",
    "Finding",
    "Guard",
    "InvalidVariable",
    "MissingVariable",
    "PromptBlocked",
    "PromptNotFound",
    "PromptwardError",
    "RegistryError",
    "RegistryUnavailable",
    "RulePackError",
    "ScanError",
    "ScanTimeout",
    "ScannerUnavailable",
    "Span",
    "TemplateError",
    "UnexpectedVariable",
    "VersionConflict",
]
