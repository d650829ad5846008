"""The client's memory cache: labels with their resolved versions, built once so a hit is a dict lookup.

A LabelEntry is replaced whole (never patched) once every version its targets name is at hand, so a reader
always sees a label and versions that belong together: never a half-updated prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._decision import PromptRef
from .._templates import Template, TemplateSource, VariableSpec, parse_contract, render_version
from .models import Label, PromptVersion
from .rollout import resolve, variant_name


@dataclass(frozen=True, slots=True)
class ResolvedPrompt:
    """A prompt version ready to render, and which one it is (`ref`: slug, version, label, variant).

    `origin` says where it came from: "registry" (or the store), "snapshot" (read from disk at start and not
    yet revalidated) or "fallback" (the caller's template; the registry never answered for this prompt).
    """

    ref: PromptRef
    template: Template
    contract: Mapping[str, VariableSpec]
    config: Mapping[str, Any]
    sha256: str | None
    origin: str

    @property
    def slug(self) -> str:
        return self.ref.slug

    @property
    def version(self) -> int | None:
        return self.ref.version

    def render(self, variables: Mapping[str, object]) -> str | list[dict[str, str]]:
        """Validate against the contract and render (MissingVariable, UnexpectedVariable, InvalidVariable)."""
        return render_version(self.template, self.contract, variables)


def resolved_of(
    version: PromptVersion, template: Template, label: str | None, variant: str, origin: str
) -> ResolvedPrompt:
    ref = PromptRef(version.slug, version.version, label, variant)
    return ResolvedPrompt(ref, template, version.contract, version.config, version.sha256, origin)


@dataclass(slots=True)
class VersionEntry:
    version: PromptVersion
    template: Template


@dataclass(slots=True, eq=False)
class LabelEntry:
    """One (slug, label): the label, its ETag, a ResolvedPrompt per target version, when to revalidate."""

    slug: str
    name: str
    label: Label | None  # None for a fallback
    etag: str | None
    by_version: dict[int, ResolvedPrompt]
    default: ResolvedPrompt
    expires: float
    salt: str = ""
    refreshing: bool = False
    failures: int = 0
    single: bool = field(init=False)

    def __post_init__(self) -> None:
        self.single = self.label is None or len([t for t in self.label.targets if t.weight > 0]) <= 1

    @property
    def origin(self) -> str:
        return self.default.origin

    def pick(self, unit_id: str) -> ResolvedPrompt:
        assert self.label is not None
        number, _ = resolve(self.label, unit_id, salt=self.salt)
        return self.by_version[number]


def build_entry(
    label: Label, etag: str | None, versions: Mapping[int, VersionEntry], *, expires: float, salt: str, origin: str
) -> LabelEntry:
    """KeyError if a target version is missing from `versions` (the caller fetches them first)."""
    by_version: dict[int, ResolvedPrompt] = {}
    for target in label.targets:
        held = versions[target.version] if target.weight > 0 else versions.get(target.version)
        if held is not None:
            by_version[target.version] = resolved_of(
                held.version, held.template, label.name, variant_name(target.version), origin
            )
    number, _ = resolve(label, None, salt=salt)
    return LabelEntry(label.slug, label.name, label, etag, by_version, by_version[number], expires, salt)


def fallback_entry(slug: str, label: str | None, source: object, *, expires: float) -> LabelEntry:
    """An entry for a prompt the registry never answered for, from the caller's `fallback=`.

    `source` is a template (text or chat messages): every variable it uses is then a required, untrusted str;
    or a mapping {"template": ..., "contract": {...}, "config": {...}} with a contract of its own.
    """
    if isinstance(source, Mapping) and "template" in source:
        template = Template.parse(source["template"])
        contract = parse_contract(source.get("contract") or {})
        config: Mapping[str, Any] = dict(source.get("config") or {})
    else:
        template = Template.parse(_template_source(source))
        contract = {name: VariableSpec(type="str", trusted=False) for name in template.variables()}
        config = {}
    resolved = ResolvedPrompt(PromptRef(slug, None, label, "fallback"), template, contract, config, None, "fallback")
    return LabelEntry(slug, label or "", None, None, {}, resolved, expires)


def _template_source(source: object) -> TemplateSource:
    if isinstance(source, str):
        return source
    if isinstance(source, list):
        return [dict(item) for item in source]
    raise TypeError("fallback= takes a template (str or chat messages) or {'template': ..., 'contract': ...}")
