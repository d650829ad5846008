"""What the registry server checks before it writes, and how store errors become problems.

Every check here runs before the store is called, so a refused request leaves nothing behind.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from ._apikeys import ApiKey
from ._exceptions import (
    ConfigError,
    PromptNotFound,
    RegistryError,
    RegistryUnavailable,
    TemplateError,
    VersionConflict,
)
from ._registry.models import SLUG_PATTERN
from ._server_http import Problem, revision_from_if_match
from ._templates import NAME_PATTERN, Template, VariableSpec, check_contract

if TYPE_CHECKING:
    from ._registry.models import Label
    from ._registry.store import PromptStore

NAME = re.compile(SLUG_PATTERN)
RETRIES = 20
T = TypeVar("T")
_log = logging.getLogger("promptward.server")


class CreateVersion(BaseModel):
    """A new version: the template (text, or chat messages), its variable contract and the model config."""

    model_config = ConfigDict(extra="forbid")
    template: str | list[dict[str, str]]
    contract: dict[str, VariableSpec] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    message: str = ""


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    version: int = Field(ge=1)
    weight: float = Field(ge=0, le=100)


class MoveLabel(BaseModel):
    """Point a label at one version, or at weighted versions for a rollout (weights sum to 100)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    version: int | None = Field(default=None, ge=1)
    targets: list[Target] | None = Field(default=None, min_length=1)
    protected: bool | None = None


class Render(BaseModel):
    """Render a version (?version, ?label with a unit id for rollouts, or the latest) with these variables."""

    model_config = ConfigDict(extra="forbid")
    variables: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1)
    label: str | None = None
    unit_id: str | None = None


def retrying(request: Request, write: Callable[[], T]) -> T:
    """Run a label write; without If-Match the client asked for "move regardless", so a race is retried."""
    for _ in range(RETRIES):
        try:
            return write()
        except VersionConflict:
            if "if-match" in request.headers:
                raise
    return write()


def label_etag(label: Label) -> str:
    return f'"r{label.revision}"'


def expected_revision(request: Request, current: Label | None) -> int | None:
    """The revision the writer last saw (If-Match), checked now; without If-Match, the current one."""
    header = request.headers.get("if-match")
    wanted = revision_from_if_match(header)
    if header is not None and current is None:
        raise Problem(
            412,
            "If-Match was sent but the label does not exist yet; send no If-Match to create it",
            errors=[("header.If-Match", header)],
        )
    if wanted is not None and current is not None and wanted != current.revision:
        raise Problem(
            412,
            f"the label is at revision {current.revision}, not the one in If-Match; fetch it, then retry",
            errors=[("header.If-Match", f'current ETag is "r{current.revision}"')],
            headers={"ETag": label_etag(current)},
        )
    return current.revision if current is not None else None


def require_admin_for(protected: bool, key: ApiKey, name: str) -> None:
    if protected and not key.allows("admin"):
        raise Problem(403, f"label '{name}' is protected: only the admin role may move it or change its protection")


def check_targets(store: PromptStore, slug: str, targets: list[Target]) -> None:
    errors = []
    seen: set[int] = set()
    for index, target in enumerate(targets):
        if target.version in seen:
            errors.append((f"body.targets[{index}].version", f"version {target.version} is listed twice"))
        seen.add(target.version)
        try:
            store.get_version(slug, target.version)
        except PromptNotFound:
            errors.append((f"body.targets[{index}].version", f"{slug!r} has no version {target.version}"))
    total = sum(target.weight for target in targets)
    if abs(total - 100.0) > 1e-6:
        errors.append(("body.targets", f"weights sum to {total:g}; they must sum to 100"))
    if errors:
        raise Problem(422, f"the label cannot point there: {errors[0][1]}", errors=errors)


def checked_name(value: str, field: str) -> str:
    if not NAME.match(value):
        rule = "1-128 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
        raise Problem(422, f"{value!r} is not a valid name: use {rule}", errors=[(field, rule)])
    return value


def check_template(body: CreateVersion) -> list[str]:
    """Parse the template and match it with the contract; 422 locating the fault, warnings otherwise."""
    bad_names = [name for name in body.contract if not NAME_PATTERN.fullmatch(name)]
    if bad_names:
        raise Problem(
            422,
            f"contract: {bad_names[0]!r} is not a variable name",
            errors=[(f"body.contract.{name}", "letters, digits, underscores") for name in bad_names],
        )
    try:
        template = Template.parse(body.template)
    except TemplateError as exc:
        message = re.match(r"message (\d+)", str(exc))
        field = f"body.template[{message.group(1)}]" if message and isinstance(body.template, list) else "body.template"
        raise Problem(422, f"the template does not parse: {exc}", errors=[(field, str(exc))]) from None
    undeclared = sorted(set(template.variables()) - set(body.contract))
    if undeclared:
        raise Problem(
            422,
            f"the template uses undeclared variables {undeclared}; declare them in the contract",
            errors=[(f"body.contract.{name}", "used by the template, not declared") for name in undeclared],
        )
    return check_contract(template, body.contract)


def translate(exc: Exception, request: Request) -> Problem:
    """The problem a store or template error means for the client."""
    if isinstance(exc, PromptNotFound):
        return Problem(404, str(exc))
    if isinstance(exc, VersionConflict):
        if "if-match" in request.headers:
            return Problem(412, f"{exc}; fetch the label again, then retry", errors=[("header.If-Match", "stale")])
        return Problem(409, f"{exc}; someone wrote at the same time, retry")
    if isinstance(exc, RegistryUnavailable):
        return Problem(503, str(exc))
    if isinstance(exc, RegistryError):
        return Problem(409, str(exc))
    if isinstance(exc, ConfigError | TemplateError):
        return Problem(422, str(exc), errors=[("body", str(exc))])
    _log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return Problem(500, f"the server failed ({type(exc).__name__}); the server log has the details")


BODIES: dict[str, type[BaseModel]] = {"CreateVersion": CreateVersion, "MoveLabel": MoveLabel, "Render": Render}
