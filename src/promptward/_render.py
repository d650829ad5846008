"""guard.render(): fetch a prompt version, validate the variables, screen the untrusted ones, render.

Only variables whose contract says `trusted: false` are screened, all in one check_fields() (one Decision,
one record per render, each finding naming its variable); the template's own text is the team's and is
never screened. The decision's prompt names slug, version, label and variant. A blocked input raises
nothing: the result says blocked, carries no text, and raise_for_block() is there. A variable the policy
redacts is rendered redacted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._decision import Decision, PromptRef
from ._exceptions import ConfigError
from ._templates import validate_variables

if TYPE_CHECKING:
    from ._guard import Guard
    from ._registry.cache import ResolvedPrompt
    from ._registry.client import PromptRegistry


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered prompt: `text` (or `messages` for a chat template), which version it is, and the decision."""

    text: str | None
    messages: list[dict[str, str]] | None
    prompt: PromptRef
    decision: Decision
    config: Mapping[str, Any]
    # Variable values as the guard redacted them (field -> text), e.g. for rewriting the request that carried them.
    redactions: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def blocked(self) -> bool:
        return self.decision.blocked

    def raise_for_block(self) -> Rendered:
        """Raise PromptBlocked when an untrusted variable was blocked; return self otherwise."""
        self.decision.raise_for_block()
        return self


def registry_of(guard: Guard) -> PromptRegistry:
    registry: PromptRegistry | None = getattr(guard, "registry", None)
    if registry is None:
        raise ConfigError(
            "Guard.render() needs a registry: Guard(registry=PromptRegistry(url)) or "
            "Guard(registry=PromptRegistry.local('sqlite:///registry.db'))"
        )
    return registry


def screened_values(
    resolved: ResolvedPrompt, variables: Mapping[str, object]
) -> tuple[dict[str, object], dict[str, str]]:
    """The checked values (TemplateError on bad input) and the texts to screen, by field name."""
    checked = validate_variables(resolved.contract, variables)
    texts: dict[str, str] = {}
    for name, spec in resolved.contract.items():
        value = checked.get(name)
        if spec.trusted or value is None:
            continue
        if isinstance(value, str):
            texts[name] = value
        elif isinstance(value, list):
            texts.update((f"{name}[{i}]", item) for i, item in enumerate(value) if isinstance(item, str))
    return checked, texts


def finish(resolved: ResolvedPrompt, checked: dict[str, object], decision: Decision) -> Rendered:
    text: str | None = None
    messages: list[dict[str, str]] | None = None
    redactions = dict(decision.redactions)
    if not decision.blocked:
        values = dict(checked)
        for name, redacted in redactions.items():
            _substitute(values, name, redacted)
        output = resolved.template.render({name: values.get(name) for name in resolved.template.variables()})
        if isinstance(output, str):
            text = output
        else:
            messages = output
    return Rendered(text, messages, resolved.ref, decision, resolved.config, redactions)


def _substitute(values: dict[str, object], field: str, redacted: str) -> None:
    name, _, index = field.partition("[")
    if not index:
        values[name] = redacted
        return
    items = list(values[name])  # type: ignore[call-overload]
    items[int(index.rstrip("]"))] = redacted
    values[name] = items


def render(guard: Guard, slug: str, variables: Mapping[str, object], label: str, unit_id: str | None) -> Rendered:
    resolved = registry_of(guard).get(slug, label=label, unit_id=unit_id)
    checked, texts = screened_values(resolved, variables)
    return finish(resolved, checked, guard.check_fields(texts, prompt=resolved.ref))


async def arender(
    guard: Guard, slug: str, variables: Mapping[str, object], label: str, unit_id: str | None
) -> Rendered:
    resolved = await registry_of(guard).aget(slug, label=label, unit_id=unit_id)
    checked, texts = screened_values(resolved, variables)
    return finish(resolved, checked, await guard.acheck_fields(texts, prompt=resolved.ref))
