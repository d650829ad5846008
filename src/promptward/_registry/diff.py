"""Differences between two versions: the template as a unified diff, contract and config as changed keys."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, TypedDict

from .._templates import TemplateSource, VariableSpec
from .models import PromptVersion, contract_as_json


class KeyChanges(TypedDict):
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, dict[str, Any]]


class VersionDiff(TypedDict):
    slug: str
    from_version: int
    to_version: int
    template: str
    contract: KeyChanges
    config: KeyChanges


def template_text(template: TemplateSource) -> str:
    if isinstance(template, str):
        return template
    return "\n".join(f"[{message['role']}]\n{message['content']}" for message in template)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def key_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> KeyChanges:
    return KeyChanges(
        added={key: after[key] for key in sorted(after.keys() - before.keys())},
        removed={key: before[key] for key in sorted(before.keys() - after.keys())},
        changed={
            key: {"from": before[key], "to": after[key]}
            for key in sorted(before.keys() & after.keys())
            if before[key] != after[key]
        },
    )


def _contract_changes(a: PromptVersion, b: PromptVersion) -> KeyChanges:
    before, after = contract_as_json(a.contract), contract_as_json(b.contract)
    changes = key_changes(before, after)
    changes["changed"] = {
        name: key_changes(before[name], after[name])["changed"] | _added_removed(before[name], after[name])
        for name in changes["changed"]
    }
    return changes


def _added_removed(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    # A field set on one side only: the other side has the field's default, shown as its value.
    fields = VariableSpec.model_fields
    keys = sorted(before.keys() ^ after.keys())
    return {
        key: {"from": before.get(key, fields[key].default), "to": after.get(key, fields[key].default)} for key in keys
    }


def diff_versions(a: PromptVersion, b: PromptVersion) -> VersionDiff:
    """What changed from a to b; empty text and empty changes when they are the same content."""
    lines = difflib.unified_diff(
        template_text(a.template).splitlines(),
        template_text(b.template).splitlines(),
        fromfile=f"{a.slug}@v{a.version}",
        tofile=f"{b.slug}@v{b.version}",
        lineterm="",
    )
    return VersionDiff(
        slug=b.slug,
        from_version=a.version,
        to_version=b.version,
        template="\n".join(lines),
        contract=_contract_changes(a, b),
        config=key_changes(_flatten(a.config), _flatten(b.config)),
    )
