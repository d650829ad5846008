"""Label rules every store shares: target validation, the revision check, and where a rollback goes."""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import datetime
from typing import Literal

from .._exceptions import ConfigError, RegistryError, VersionConflict
from .models import WEIGHT_TOLERANCE, AuditEntry, Label, LabelEvent, LabelTarget, check_name


def normalize_targets(targets: Sequence[LabelTarget], existing_versions: Container[int]) -> list[LabelTarget]:
    """Weights sum to 100, versions are distinct and exist; sorted by version so rollout buckets stay stable."""
    if not targets:
        raise ConfigError("a label needs at least one target version")
    versions = [target.version for target in targets]
    if len(set(versions)) != len(versions):
        raise ConfigError(f"target versions must be distinct, got {versions}")
    total = sum(target.weight for target in targets)
    if abs(total - 100.0) > WEIGHT_TOLERANCE:
        raise ConfigError(f"target weights must sum to 100, got {total:g}")
    missing = [version for version in versions if version not in existing_versions]
    if missing:
        raise ConfigError(f"versions {missing} do not exist; create them before pointing a label at them")
    return sorted(targets, key=lambda target: target.version)


def check_revision(slug: str, name: str, current: Label | None, expected_revision: int | None) -> None:
    """None skips the check; 0 means the writer expects the label not to exist yet."""
    if expected_revision is None:
        return
    actual = current.revision if current is not None else 0
    if actual != expected_revision:
        raise VersionConflict(
            f"label '{name}' of '{slug}' is at revision {actual}, not {expected_revision}; "
            "fetch the label again and retry with its current revision"
        )


def rollback_targets(slug: str, name: str, events: Sequence[LabelEvent]) -> list[LabelTarget]:
    """The targets before the last move that is not already undone (rollbacks stack like undo)."""
    undone = 0
    for event in reversed(events):
        if event.action == "rollback":
            undone += 1
        elif undone:
            undone -= 1
        elif event.from_targets:
            return list(event.from_targets)
        else:
            break
    raise RegistryError(f"label '{name}' of '{slug}' has no earlier targets to roll back to")


def label_change(
    slug: str,
    name: str,
    current: Label | None,
    targets: list[LabelTarget],
    *,
    actor: str,
    at: datetime,
    action: Literal["create", "move", "rollback"],
    protected: bool | None,
) -> tuple[Label, LabelEvent, AuditEntry]:
    """The new label, its history event and its audit entry, to be written in one transaction."""
    check_name("label", name)
    revision = (current.revision if current is not None else 0) + 1
    keep_protected = current.protected if current is not None else False
    label = Label(
        slug=slug,
        name=name,
        targets=targets,
        revision=revision,
        protected=keep_protected if protected is None else protected,
        updated_by=actor,
        updated_at=at,
    )
    before = list(current.targets) if current is not None else []
    event = LabelEvent(
        slug=slug,
        label=name,
        from_targets=before,
        to_targets=targets,
        actor=actor,
        at=at,
        action="create" if current is None else action,
        revision=revision,
    )
    detail = {
        "label": name,
        "from": [target.model_dump() for target in before],
        "to": [target.model_dump() for target in targets],
        "revision": revision,
        "protected": label.protected,
    }
    audit = AuditEntry(slug=slug, actor=actor, at=at, action=f"label.{event.action}", detail=detail)
    return label, event, audit


def version_audit(slug: str, version: int, sha256: str, *, actor: str, at: datetime, message: str) -> AuditEntry:
    detail = {"version": version, "sha256": sha256, "message": message}
    return AuditEntry(slug=slug, actor=actor, at=at, action="version.create", detail=detail)
