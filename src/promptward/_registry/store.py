"""The protocol every prompt store implements, and open_store() that picks one from a URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._exceptions import ConfigError
from .._templates import TemplateSource, VariableSpec
from .models import (
    AuditEntry,
    EvalRecord,
    EvalResult,
    Label,
    LabelEvent,
    LabelTarget,
    PromptBundle,
    PromptVersion,
)


@runtime_checkable
class PromptStore(Protocol):
    """Versions are immutable; labels move with optimistic concurrency; every write is audited atomically.

    Errors: PromptNotFound (unknown prompt, version or label), VersionConflict (stale expected_revision),
    TemplateError (bad template or contract), ConfigError (bad targets, slug or config), RegistryError (nothing
    to roll back to), RegistryUnavailable (the backing store cannot be reached).
    """

    def create_version(
        self,
        slug: str,
        template: TemplateSource,
        contract: dict[str, VariableSpec] | dict[str, Any],
        config: dict[str, Any],
        *,
        author: str,
        message: str,
    ) -> tuple[PromptVersion, bool]: ...

    def get_version(self, slug: str, version: int) -> PromptVersion: ...

    def latest(self, slug: str) -> PromptVersion: ...

    def list_prompts(self, *, offset: int = 0, limit: int = 50) -> list[str]: ...

    def list_versions(self, slug: str, *, offset: int = 0, limit: int = 50) -> list[PromptVersion]: ...

    def get_label(self, slug: str, name: str) -> Label: ...

    def list_labels(self, slug: str) -> list[Label]: ...

    def move_label(
        self,
        slug: str,
        name: str,
        targets: list[LabelTarget],
        *,
        actor: str,
        expected_revision: int | None,
        protected: bool | None = None,
    ) -> Label: ...

    def rollback_label(self, slug: str, name: str, *, actor: str, expected_revision: int | None) -> Label: ...

    def label_history(self, slug: str, name: str) -> list[LabelEvent]: ...

    def history(self, slug: str) -> list[AuditEntry]: ...

    def record_eval(
        self, slug: str, version: int, result: EvalResult | Mapping[str, Any], *, actor: str = ""
    ) -> EvalRecord:
        """Store an eval result with the version (PromptNotFound) and audit it as `eval.record`."""
        ...

    def evals(self, slug: str, version: int | None = None) -> list[EvalRecord]:
        """Eval results of the prompt (or of one version), oldest first."""
        ...

    def export_prompt(self, slug: str) -> PromptBundle: ...

    def import_prompt(self, bundle: PromptBundle) -> bool: ...

    def close(self) -> None: ...


def copy_prompts(source: PromptStore, target: PromptStore, *, page: int = 200) -> list[str]:
    """Copy every prompt with its full history; returns the slugs the target changed for."""
    changed: list[str] = []
    offset = 0
    while slugs := source.list_prompts(offset=offset, limit=page):
        for slug in slugs:
            if target.import_prompt(source.export_prompt(slug)):
                changed.append(slug)
        offset += len(slugs)
    return changed


def open_store(url: str) -> PromptStore:
    """`sqlite:///path.db` (or a bare path), `yaml:///path/to/folder`, `postgresql://...[?schema=name]`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", "sqlite"):
        from .sqlite_store import SQLiteStore

        return SQLiteStore(_local_path(parts) if scheme else url)
    if scheme == "yaml":
        from .yaml_store import YamlStore

        return YamlStore(_local_path(parts))
    if scheme in ("postgres", "postgresql"):
        from .postgres_store import PostgresStore

        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", "promptward")
        dsn = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
        return PostgresStore(dsn, schema=schema)
    raise ConfigError(f"unknown store URL {url!r}; use sqlite:///path.db, yaml:///folder or postgresql://...")


def _local_path(parts: Any) -> str:
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(f"store path must be local, got host {parts.netloc!r}; write sqlite:///relative/or/abs")
    path: str = parts.path
    # sqlite:///data.db -> "data.db" (relative); sqlite:////abs/data.db -> "/abs/data.db", as SQLAlchemy does.
    return path[1:] if path.startswith("/") else path
