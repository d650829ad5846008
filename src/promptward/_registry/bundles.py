"""Checks for moving a prompt's whole history between stores (YAML in git <-> SQLite or PostgreSQL)."""

from __future__ import annotations

from .._exceptions import ConfigError, VersionConflict
from .eval_store import check_evals
from .models import PromptBundle, content_hash


def check_bundle(bundle: PromptBundle) -> PromptBundle:
    """A bundle must be self-consistent: versions 1..n of its slug, hashes that match, labels on real versions."""
    slug = bundle.slug
    for position, version in enumerate(bundle.versions, start=1):
        where = f"prompt '{slug}' version {version.version}"
        if version.slug != slug or version.version != position:
            raise ConfigError(f"{where}: versions must be numbered 1..n in order and belong to '{slug}'")
        if content_hash(version.template, version.contract, version.config) != version.sha256:
            raise ConfigError(f"{where}: sha256 does not match its content; versions are immutable, add a new one")
    if not bundle.versions:
        raise ConfigError(f"prompt '{slug}' has no versions")
    count = len(bundle.versions)
    for label in bundle.labels:
        if label.slug != slug or any(target.version > count for target in label.targets):
            raise ConfigError(f"prompt '{slug}' label '{label.name}' points at a version that does not exist")
    others = {event.slug for event in bundle.label_events} | {entry.slug for entry in bundle.audit}
    if others - {slug}:
        raise ConfigError(f"prompt '{slug}' history mentions other prompts {sorted(others - {slug})}")
    check_evals(slug, bundle.evals, count)
    return bundle


def needs_import(bundle: PromptBundle, current: PromptBundle) -> bool:
    """False when the target already holds exactly this; VersionConflict when the two histories diverged."""
    ours = [(version.version, version.sha256) for version in current.versions]
    theirs = [(version.version, version.sha256) for version in bundle.versions]
    if theirs[: len(ours)] != ours:
        raise VersionConflict(
            f"prompt '{bundle.slug}' has different versions in the target; the histories diverged, "
            "so import into an empty store or rename one of the prompts"
        )
    return current != bundle
