"""guard.render(): fetch a prompt version, validate the variables, screen the untrusted ones, render.

Only variables whose contract says `trusted: false` are screened, each with check(field=<name>); the
template's own text is the team's and is never screened. The per-variable decisions are combined into one
Decision (one record per render) whose prompt names slug, version, label and variant. A blocked input raises
nothing: the result says blocked, carries no text, and raise_for_block() is there. A variable whose decision
is REDACT is rendered redacted.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ._decision import Action, Decision, Finding, PromptRef
from ._exceptions import ConfigError
from ._records import emit
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
) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """The checked values (TemplateError on bad input) and the (field, text) pairs to screen."""
    checked = validate_variables(resolved.contract, variables)
    texts: list[tuple[str, str]] = []
    for name, spec in resolved.contract.items():
        value = checked.get(name)
        if spec.trusted or value is None:
            continue
        if isinstance(value, str):
            texts.append((name, value))
        elif isinstance(value, list):
            texts.extend((f"{name}[{i}]", item) for i, item in enumerate(value) if isinstance(item, str))
    return checked, texts


def screener(guard: Guard) -> Guard:
    """The guard without its recorder: per-variable checks are combined, then recorded once."""
    view = copy.copy(guard)
    view._recording = False
    return view


def finish(
    guard: Guard,
    resolved: ResolvedPrompt,
    checked: dict[str, object],
    decisions: list[tuple[str, Decision]],
    texts: list[tuple[str, str]],
    started: float,
) -> Rendered:
    combined = combine(guard, resolved.ref, decisions, started)
    text: str | None = None
    messages: list[dict[str, str]] | None = None
    redactions = {
        name: decision.redacted_text
        for name, decision in decisions
        if decision.action is Action.REDACT and decision.redacted_text is not None
    }
    if not combined.blocked:
        values = dict(checked)
        for name, redacted in redactions.items():
            _substitute(values, name, redacted)
        output = resolved.template.render({name: values.get(name) for name in resolved.template.variables()})
        if isinstance(output, str):
            text = output
        else:
            messages = output
    if guard._recording:
        emit(guard.records, combined, "\n".join(text for _, text in texts) if texts else None)
    return Rendered(text, messages, resolved.ref, combined, resolved.config, redactions)


def combine(guard: Guard, ref: PromptRef, decisions: list[tuple[str, Decision]], started: float) -> Decision:
    findings: list[Finding] = []
    normalizations: list[str] = []
    action = would = Action.ALLOW
    for field, decision in decisions:
        findings.extend(replace(finding, field=field) for finding in decision.findings)
        normalizations.extend(n for n in decision.normalizations if n not in normalizations)
        action = max(action, decision.action, key=lambda a: a.rank)
        would = max(would, decision.would_action or decision.action, key=lambda a: a.rank)
    fields = [field for field, _ in decisions]
    return Decision(
        id=secrets.token_hex(8),
        action=action,
        would_action=would,
        findings=tuple(findings),
        packs=guard.packs,
        mode=guard.mode,
        prompt=ref,
        field=",".join(fields) if fields else None,
        normalizations=tuple(normalizations),
        latency_ms=(time.perf_counter() - started) * 1000,
        created_at=time.time(),
    )


def _substitute(values: dict[str, object], field: str, redacted: str) -> None:
    name, _, index = field.partition("[")
    if not index:
        values[name] = redacted
        return
    items = list(values[name])  # type: ignore[call-overload]
    items[int(index.rstrip("]"))] = redacted
    values[name] = items


def render(guard: Guard, slug: str, variables: Mapping[str, object], label: str, unit_id: str | None) -> Rendered:
    started = time.perf_counter()
    resolved = registry_of(guard).get(slug, label=label, unit_id=unit_id)
    checked, texts = screened_values(resolved, variables)
    view = screener(guard) if texts else guard
    decisions = [(field, view.check(text, prompt=resolved.ref, field=field)) for field, text in texts]
    return finish(guard, resolved, checked, decisions, texts, started)


async def arender(
    guard: Guard, slug: str, variables: Mapping[str, object], label: str, unit_id: str | None
) -> Rendered:
    started = time.perf_counter()
    resolved = await registry_of(guard).aget(slug, label=label, unit_id=unit_id)
    checked, texts = screened_values(resolved, variables)
    view = screener(guard) if texts else guard
    decisions = [(field, await view.acheck(text, prompt=resolved.ref, field=field)) for field, text in texts]
    return finish(guard, resolved, checked, decisions, texts, started)
