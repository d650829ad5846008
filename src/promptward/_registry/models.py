"""Registry values: immutable prompt versions, movable labels with weighted targets, their history and audit."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .._exceptions import ConfigError
from .._templates import Template, TemplateSource, VariableSpec, check_contract, parse_contract, render_version

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,127}$"
_SLUG = re.compile(SLUG_PATTERN)
WEIGHT_TOLERANCE = 1e-6


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptVersion(_Record):
    """One immutable version of a prompt; `sha256` identifies its content (template, contract, config)."""

    slug: str = Field(pattern=SLUG_PATTERN)
    version: int = Field(ge=1)
    template: TemplateSource
    contract: dict[str, VariableSpec] = {}
    config: dict[str, Any] = {}
    author: str = ""
    message: str = ""
    parent: int | None = None
    created_at: datetime
    sha256: str

    def render(self, values: Mapping[str, object]) -> str | list[dict[str, str]]:
        """Validate values against the contract and render (MissingVariable, UnexpectedVariable, InvalidVariable)."""
        return render_version(Template.parse(self.template), self.contract, values)


class LabelTarget(_Record):
    version: int = Field(ge=1)
    weight: float = Field(default=100.0, ge=0, le=100)


class Label(_Record):
    """A movable pointer; `revision` increments on every move and is the optimistic-concurrency token."""

    slug: str
    name: str
    targets: list[LabelTarget]
    revision: int = Field(ge=1)
    protected: bool = False
    updated_by: str = ""
    updated_at: datetime


class LabelEvent(_Record):
    slug: str
    label: str
    from_targets: list[LabelTarget]
    to_targets: list[LabelTarget]
    actor: str
    at: datetime
    action: Literal["create", "move", "rollback"]
    revision: int = Field(ge=1)


class AuditEntry(_Record):
    slug: str
    actor: str
    at: datetime
    action: str
    detail: dict[str, Any] = {}


class EvalScore(_Record):
    """How one version did on one model: weighted pass rate against the threshold, failures, latency, tokens."""

    model: str
    pass_rate: float = Field(ge=0, le=1)
    threshold: float = Field(ge=0, le=1)
    passed: bool
    cases: int = Field(ge=0)
    errors: int = Field(default=0, ge=0)
    failures: dict[str, int] = {}
    latency_p50_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class EvalResult(_Record):
    """What an eval run reports for one version; record_eval() stores it with the version."""

    cases_sha256: str = ""
    threshold: float = Field(ge=0, le=1)
    scores: list[EvalScore]


class EvalRecord(EvalResult):
    """A stored eval result: which version (and its content hash), who ran it and when."""

    slug: str
    version: int = Field(ge=1)
    sha256: str
    actor: str = ""
    at: datetime


class PromptBundle(_Record):
    """Everything a store holds about one prompt; what export_prompt() gives and import_prompt() takes."""

    slug: str = Field(pattern=SLUG_PATTERN)
    versions: list[PromptVersion]
    labels: list[Label] = []
    label_events: list[LabelEvent] = []
    audit: list[AuditEntry] = []
    evals: list[EvalRecord] = []


class Content(_Record):
    """Validated content of a version to be written, with its hash and the contract's warnings."""

    template: TemplateSource
    contract: dict[str, VariableSpec]
    config: dict[str, Any]
    sha256: str
    warnings: list[str] = []


def next_version(
    slug: str, latest: PromptVersion | None, content: Content, *, author: str, message: str, at: datetime
) -> PromptVersion:
    """The version that follows `latest` (or version 1) with `content`."""
    return PromptVersion(
        slug=slug,
        version=latest.version + 1 if latest is not None else 1,
        template=content.template,
        contract=content.contract,
        config=content.config,
        author=author,
        message=message,
        parent=latest.version if latest is not None else None,
        created_at=at,
        sha256=content.sha256,
    )


def check_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise ConfigError(
            f"{kind} {value!r} is invalid; use 1-128 lowercase letters, digits, '.', '_' or '-', starting alphanumeric"
        )
    return value


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def contract_as_json(contract: Mapping[str, VariableSpec]) -> dict[str, Any]:
    return {name: spec.model_dump(mode="json", exclude_defaults=True) for name, spec in contract.items()}


def content_hash(template: TemplateSource, contract: Mapping[str, VariableSpec], config: Mapping[str, Any]) -> str:
    payload = {"template": template, "contract": contract_as_json(contract), "config": dict(config)}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def prepare_content(template: TemplateSource, contract: Mapping[str, Any], config: Mapping[str, Any]) -> Content:
    """Parse and cross-check template and contract (TemplateError), check config is JSON (ConfigError)."""
    parsed = Template.parse(template)
    specs = parse_contract(contract)
    warnings = check_contract(parsed, specs)
    if not isinstance(config, Mapping):
        raise ConfigError("config must be a JSON object (provider, model, parameters)")
    try:
        config_copy = json.loads(canonical_json(dict(config)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config must be plain JSON: {exc}") from None
    return Content(
        template=parsed.source,
        contract=specs,
        config=config_copy,
        sha256=content_hash(parsed.source, specs, config_copy),
        warnings=warnings,
    )
