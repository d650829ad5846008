"""Rows of the SQL stores as tuples, and back to registry models. JSON columns are TEXT in both dialects."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .._exceptions import ConfigError
from .models import AuditEntry, Label, LabelEvent, LabelTarget, PromptVersion, contract_as_json

VERSION_COLUMNS = "slug, version, template, contract, config, author, message, parent, created_at, sha256"
LABEL_COLUMNS = "slug, name, targets, revision, protected, updated_by, updated_at"
EVENT_COLUMNS = "slug, label, from_targets, to_targets, actor, at, action, revision"
AUDIT_COLUMNS = "slug, actor, at, action, detail"


def marks(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


def targets_json(targets: Sequence[LabelTarget]) -> str:
    return json.dumps([target.model_dump() for target in targets])


def version_row(version: PromptVersion) -> tuple[Any, ...]:
    return (
        version.slug,
        version.version,
        json.dumps(version.template),
        json.dumps(contract_as_json(version.contract)),
        json.dumps(version.config),
        version.author,
        version.message,
        version.parent,
        version.created_at.isoformat(),
        version.sha256,
    )


def version_of(row: Sequence[Any]) -> PromptVersion:
    keys = [column.strip() for column in VERSION_COLUMNS.split(",")]
    data = dict(zip(keys, row, strict=True))
    for key in ("template", "contract", "config"):
        data[key] = json.loads(data[key])
    return PromptVersion.model_validate(data)


def label_of(row: Sequence[Any]) -> Label:
    slug, name, targets, revision, protected, updated_by, updated_at = row
    return Label(
        slug=slug,
        name=name,
        targets=json.loads(targets),
        revision=revision,
        protected=bool(protected),
        updated_by=updated_by,
        updated_at=updated_at,
    )


def event_of(row: Sequence[Any]) -> LabelEvent:
    slug, label, from_targets, to_targets, actor, at, action, revision = row
    return LabelEvent(
        slug=slug,
        label=label,
        from_targets=json.loads(from_targets),
        to_targets=json.loads(to_targets),
        actor=actor,
        at=at,
        action=action,
        revision=revision,
    )


def audit_of(row: Sequence[Any]) -> AuditEntry:
    slug, actor, at, action, detail = row
    return AuditEntry(slug=slug, actor=actor, at=at, action=action, detail=json.loads(detail))


def page(offset: int, limit: int) -> tuple[int, int]:
    if offset < 0 or limit < 0:
        raise ConfigError(f"offset and limit must not be negative, got offset={offset}, limit={limit}")
    return limit, offset


def label_row(label: Label) -> tuple[Any, ...]:
    values = (label.slug, label.name, targets_json(label.targets), label.revision, label.protected)
    return (*values, label.updated_by, label.updated_at.isoformat())


def event_row(event: LabelEvent) -> tuple[Any, ...]:
    values = (event.slug, event.label, targets_json(event.from_targets), targets_json(event.to_targets))
    return (*values, event.actor, event.at.isoformat(), event.action, event.revision)


def audit_row(entry: AuditEntry) -> tuple[Any, ...]:
    return (entry.slug, entry.actor, entry.at.isoformat(), entry.action, json.dumps(entry.detail))
