"""A folder of YAML files, one per prompt with its versions, labels, label history and audit: reviewable in git.

Writers hold an exclusive lock on `<folder>/.promptward.lock`, re-read the prompt's file under it and replace
the file atomically (temporary file, fsync, os.replace), so readers never see half a write.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError, PromptNotFound
from .._templates import TemplateSource, VariableSpec
from .bundles import check_bundle, needs_import
from .eval_store import eval_record, pick
from .labels import check_revision, label_change, normalize_targets, rollback_targets, version_audit
from .models import (
    AuditEntry,
    EvalRecord,
    EvalResult,
    Label,
    LabelEvent,
    LabelTarget,
    PromptBundle,
    PromptVersion,
    check_name,
    next_version,
    prepare_content,
    utc_now,
)
from .store import PromptStore, copy_prompts
from .yaml_format import dump_prompt, load_prompt

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: only threads of this process are serialized
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".promptward.lock"


class YamlStore:
    """One `<slug>.yaml` per prompt in `folder`; import_from()/export_to() copy whole histories both ways."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._cache: dict[str, tuple[tuple[int, int, int], PromptBundle]] = {}
        self._threads = threading.Lock()

    def _path(self, slug: str) -> Path:
        return self.folder / f"{check_name('prompt slug', slug)}.yaml"

    def _load(self, slug: str) -> PromptBundle | None:
        path = self._path(slug)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)  # os.replace gives every write a new inode
        cached = self._cache.get(slug)
        if cached is not None and cached[0] == key:
            return cached[1]
        bundle = load_prompt(path)
        self._cache[slug] = (key, bundle)
        return bundle

    def _require(self, slug: str) -> PromptBundle:
        bundle = self._load(slug)
        if bundle is None:
            raise PromptNotFound(f"no prompt '{slug}'; create a version first")
        return bundle

    def _save(self, bundle: PromptBundle) -> None:
        path = self._path(bundle.slug)
        text = dump_prompt(bundle)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{bundle.slug}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        stat = path.stat()
        self._cache[bundle.slug] = ((stat.st_mtime_ns, stat.st_size, stat.st_ino), bundle)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._threads, (self.folder / LOCK_NAME).open("a") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            yield

    def _update(self, slug: str, change: Callable[[PromptBundle | None], PromptBundle | None]) -> None:
        with self._locked():
            updated = change(self._load(slug))
            if updated is not None:
                self._save(updated)

    def create_version(
        self,
        slug: str,
        template: TemplateSource,
        contract: dict[str, VariableSpec] | dict[str, Any],
        config: dict[str, Any],
        *,
        author: str,
        message: str,
    ) -> tuple[PromptVersion, bool]:
        check_name("prompt slug", slug)
        content = prepare_content(template, contract, config)
        result: list[tuple[PromptVersion, bool]] = []

        def change(current: PromptBundle | None) -> PromptBundle | None:
            latest = current.versions[-1] if current is not None else None
            if latest is not None and latest.sha256 == content.sha256:
                result.append((latest, False))
                return None
            at = utc_now()
            version = next_version(slug, latest, content, author=author, message=message, at=at)
            number = version.version
            result.append((version, True))
            audit = version_audit(slug, number, content.sha256, actor=author, at=at, message=message)
            if current is None:
                return PromptBundle(slug=slug, versions=[version], audit=[audit])
            return current.model_copy(
                update={"versions": [*current.versions, version], "audit": [*current.audit, audit]}
            )

        self._update(slug, change)
        return result[0]

    def get_version(self, slug: str, version: int) -> PromptVersion:
        versions = self._require(slug).versions
        if not 1 <= version <= len(versions):
            raise PromptNotFound(f"prompt '{slug}' has no version {version}")
        return versions[version - 1]

    def latest(self, slug: str) -> PromptVersion:
        return self._require(slug).versions[-1]

    def list_prompts(self, *, offset: int = 0, limit: int = 50) -> list[str]:
        if offset < 0 or limit < 0:
            raise ConfigError(f"offset and limit must not be negative, got offset={offset}, limit={limit}")
        slugs = sorted(path.stem for path in self.folder.glob("*.yaml") if not path.name.startswith("."))
        return slugs[offset : offset + limit]

    def list_versions(self, slug: str, *, offset: int = 0, limit: int = 50) -> list[PromptVersion]:
        if offset < 0 or limit < 0:
            raise ConfigError(f"offset and limit must not be negative, got offset={offset}, limit={limit}")
        return self._require(slug).versions[offset : offset + limit]

    def get_label(self, slug: str, name: str) -> Label:
        for label in self._require(slug).labels:
            if label.name == name:
                return label
        raise PromptNotFound(f"prompt '{slug}' has no label '{name}'")

    def list_labels(self, slug: str) -> list[Label]:
        return sorted(self._require(slug).labels, key=lambda label: label.name)

    def _move(self, slug: str, name: str, expected_revision: int | None, plan: Callable[..., Any]) -> Label:
        moved: list[Label] = []

        def change(current: PromptBundle | None) -> PromptBundle:
            if current is None:
                raise PromptNotFound(f"no prompt '{slug}'; create a version first")
            label = next((label for label in current.labels if label.name == name), None)
            check_revision(slug, name, label, expected_revision)
            new, event, audit = plan(current, label)
            moved.append(new)
            others = [existing for existing in current.labels if existing.name != name]
            return current.model_copy(
                update={
                    "labels": sorted([*others, new], key=lambda item: item.name),
                    "label_events": [*current.label_events, event],
                    "audit": [*current.audit, audit],
                }
            )

        self._update(slug, change)
        return moved[0]

    def move_label(
        self,
        slug: str,
        name: str,
        targets: list[LabelTarget],
        *,
        actor: str,
        expected_revision: int | None,
        protected: bool | None = None,
    ) -> Label:
        def plan(current: PromptBundle, label: Label | None) -> tuple[Label, LabelEvent, AuditEntry]:
            clean = normalize_targets(targets, range(1, len(current.versions) + 1))
            return label_change(slug, name, label, clean, actor=actor, at=utc_now(), action="move", protected=protected)

        return self._move(slug, name, expected_revision, plan)

    def rollback_label(self, slug: str, name: str, *, actor: str, expected_revision: int | None) -> Label:
        def plan(current: PromptBundle, label: Label | None) -> tuple[Label, LabelEvent, AuditEntry]:
            if label is None:
                raise PromptNotFound(f"prompt '{slug}' has no label '{name}'")
            events = [event for event in current.label_events if event.label == name]
            targets = rollback_targets(slug, name, events)
            return label_change(
                slug, name, label, targets, actor=actor, at=utc_now(), action="rollback", protected=None
            )

        return self._move(slug, name, expected_revision, plan)

    def label_history(self, slug: str, name: str) -> list[LabelEvent]:
        events = [event for event in self._require(slug).label_events if event.label == name]
        if not events:
            raise PromptNotFound(f"prompt '{slug}' has no label '{name}'")
        return events

    def history(self, slug: str) -> list[AuditEntry]:
        return list(self._require(slug).audit)

    def record_eval(
        self, slug: str, version: int, result: EvalResult | Mapping[str, Any], *, actor: str = ""
    ) -> EvalRecord:
        recorded: list[EvalRecord] = []

        def change(current: PromptBundle | None) -> PromptBundle:
            if current is None or not 1 <= version <= len(current.versions):
                raise PromptNotFound(f"prompt '{slug}' has no version {version}")
            record, audit = eval_record(current.versions[version - 1], result, actor=actor)
            recorded.append(record)
            return current.model_copy(update={"evals": [*current.evals, record], "audit": [*current.audit, audit]})

        self._update(slug, change)
        return recorded[0]

    def evals(self, slug: str, version: int | None = None) -> list[EvalRecord]:
        return pick(self._require(slug).evals, version)

    def export_prompt(self, slug: str) -> PromptBundle:
        return self._require(slug)

    def import_prompt(self, bundle: PromptBundle) -> bool:
        bundle = check_bundle(bundle)
        changed: list[bool] = []

        def change(current: PromptBundle | None) -> PromptBundle | None:
            changed.append(current is None or needs_import(bundle, current))
            return bundle if changed[0] else None

        self._update(bundle.slug, change)
        return changed[0]

    def import_from(self, source: PromptStore) -> list[str]:
        """Copy every prompt of `source` here; returns the slugs that changed."""
        return copy_prompts(source, self)

    def export_to(self, target: PromptStore) -> list[str]:
        """Copy every prompt here into `target`; returns the slugs that changed there."""
        return copy_prompts(self, target)

    def close(self) -> None:
        self._cache.clear()

    def __repr__(self) -> str:
        return f"YamlStore({str(self.folder)!r})"
