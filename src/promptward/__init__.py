"""promptward: versioned prompts and a guard that screens what flows into them."""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ._guard import Guard
    from ._registry.client import PromptRegistry

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
    "PromptRegistry",
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


def __getattr__(name: str) -> Any:
    # Guard pulls in RE2, pydantic and the rule packs; loading them on first use keeps the import fast.
    if name == "Guard":
        from ._guard import Guard

        globals()["Guard"] = Guard
        return Guard
    if name == "PromptRegistry":  # httpx loads on first use of a registry URL, not here
        from ._registry.client import PromptRegistry

        globals()["PromptRegistry"] = PromptRegistry
        return PromptRegistry
    raise AttributeError(f"module 'promptward' has no attribute {name!r}")
