"""What SQLite and PostgreSQL share: the schema, the queries and every write as one transaction.

Every write first locks the prompt's row (BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE on PostgreSQL),
so the revision check and the writes after it see no concurrent writer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from .._exceptions import PromptNotFound
from .._templates import TemplateSource, VariableSpec
from .bundles import check_bundle, needs_import
from .eval_store import EVALS_DDL, SqlEvals
from .labels import check_revision, label_change, normalize_targets, rollback_targets, version_audit
from .models import (
    AuditEntry,
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
from .sql_rows import (
    AUDIT_COLUMNS,
    EVENT_COLUMNS,
    LABEL_COLUMNS,
    VERSION_COLUMNS,
    audit_of,
    audit_row,
    event_of,
    event_row,
    label_of,
    label_row,
    marks,
    page,
    version_of,
    version_row,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS prompts (slug TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    slug TEXT NOT NULL REFERENCES prompts (slug), version INTEGER NOT NULL, template TEXT NOT NULL,
    contract TEXT NOT NULL, config TEXT NOT NULL, author TEXT NOT NULL, message TEXT NOT NULL, parent INTEGER,
    created_at TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (slug, version));
CREATE TABLE IF NOT EXISTS labels (
    slug TEXT NOT NULL REFERENCES prompts (slug), name TEXT NOT NULL, targets TEXT NOT NULL,
    revision INTEGER NOT NULL, protected {boolean} NOT NULL, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (slug, name));
CREATE TABLE IF NOT EXISTS label_events (
    id {serial}, slug TEXT NOT NULL REFERENCES prompts (slug), label TEXT NOT NULL, from_targets TEXT NOT NULL,
    to_targets TEXT NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL, action TEXT NOT NULL, revision INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS label_events_by_label ON label_events (slug, label, id);
CREATE TABLE IF NOT EXISTS audit (
    id {serial}, slug TEXT NOT NULL REFERENCES prompts (slug), actor TEXT NOT NULL, at TEXT NOT NULL,
    action TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_slug ON audit (slug, id);
"""
SCHEMA += EVALS_DDL


class SqlStore(SqlEvals, ABC):
    """Queries use '?' placeholders; a dialect translates them and supplies connections and transactions."""

    @abstractmethod
    def _transaction(self, *, write: bool) -> AbstractContextManager[Any]:
        """Yield a connection inside a transaction; writes hold the database's write lock or row locks."""

    @abstractmethod
    def _rows(self, db: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _lock_prompt(self, db: Any, slug: str) -> bool:
        """Lock the prompt's row for this transaction; False when the prompt does not exist."""

    @abstractmethod
    def close(self) -> None: ...

    def _announce(self, db: Any, change: dict[str, Any]) -> None:
        """Tell other replicas about a committed change (PostgreSQL: NOTIFY); a no-op by default."""
        return None

    def _insert(self, db: Any, table: str, columns: str, values: Sequence[Any]) -> None:
        self._rows(db, f"INSERT INTO {table} ({columns}) VALUES ({marks(columns)})", values)

    def _create_prompt_row(self, db: Any, slug: str) -> None:
        sql = "INSERT INTO prompts (slug, created_at) VALUES (?, ?) ON CONFLICT (slug) DO NOTHING"
        self._rows(db, sql, (slug, utc_now().isoformat()))

    def _latest(self, db: Any, slug: str) -> PromptVersion | None:
        sql = f"SELECT {VERSION_COLUMNS} FROM versions WHERE slug = ? ORDER BY version DESC LIMIT 1"
        rows = self._rows(db, sql, (slug,))
        return version_of(rows[0]) if rows else None

    def _label(self, db: Any, slug: str, name: str) -> Label | None:
        rows = self._rows(db, f"SELECT {LABEL_COLUMNS} FROM labels WHERE slug = ? AND name = ?", (slug, name))
        return label_of(rows[0]) if rows else None

    def _events(self, db: Any, slug: str, name: str) -> list[LabelEvent]:
        sql = f"SELECT {EVENT_COLUMNS} FROM label_events WHERE slug = ? AND label = ? ORDER BY id"
        return [event_of(row) for row in self._rows(db, sql, (slug, name))]

    def _require_prompt(self, db: Any, slug: str) -> None:
        if not self._rows(db, "SELECT 1 FROM prompts WHERE slug = ?", (slug,)):
            raise PromptNotFound(f"no prompt '{slug}'; create a version first")

    def _write_label(self, db: Any, label: Label, event: LabelEvent, audit: AuditEntry) -> None:
        self._rows(
            db,
            f"INSERT INTO labels ({LABEL_COLUMNS}) VALUES ({marks(LABEL_COLUMNS)}) ON CONFLICT (slug, name) DO "
            "UPDATE SET targets = excluded.targets, revision = excluded.revision, protected = excluded.protected, "
            "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            label_row(label),
        )
        self._write_event(db, event)
        self._write_audit(db, audit)
        self._announce(db, {"slug": label.slug, "label": label.name, "revision": label.revision})

    def _write_event(self, db: Any, event: LabelEvent) -> None:
        self._insert(db, "label_events", EVENT_COLUMNS, event_row(event))

    def _write_audit(self, db: Any, entry: AuditEntry) -> None:
        self._insert(db, "audit", AUDIT_COLUMNS, audit_row(entry))

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
        with self._transaction(write=True) as db:
            self._create_prompt_row(db, slug)
            self._lock_prompt(db, slug)
            latest = self._latest(db, slug)
            if latest is not None and latest.sha256 == content.sha256:
                return latest, False
            at = utc_now()
            version = next_version(slug, latest, content, author=author, message=message, at=at)
            number = version.version
            self._insert(db, "versions", VERSION_COLUMNS, version_row(version))
            self._write_audit(db, version_audit(slug, number, content.sha256, actor=author, at=at, message=message))
            self._announce(db, {"slug": slug, "version": number})
        return version, True

    def get_version(self, slug: str, version: int) -> PromptVersion:
        with self._transaction(write=False) as db:
            sql = f"SELECT {VERSION_COLUMNS} FROM versions WHERE slug = ? AND version = ?"
            rows = self._rows(db, sql, (slug, version))
        if not rows:
            raise PromptNotFound(f"prompt '{slug}' has no version {version}")
        return version_of(rows[0])

    def latest(self, slug: str) -> PromptVersion:
        with self._transaction(write=False) as db:
            found = self._latest(db, slug)
        if found is None:
            raise PromptNotFound(f"no prompt '{slug}'; create a version first")
        return found

    def list_prompts(self, *, offset: int = 0, limit: int = 50) -> list[str]:
        with self._transaction(write=False) as db:
            rows = self._rows(db, "SELECT slug FROM prompts ORDER BY slug LIMIT ? OFFSET ?", page(offset, limit))
        return [row[0] for row in rows]

    def list_versions(self, slug: str, *, offset: int = 0, limit: int = 50) -> list[PromptVersion]:
        with self._transaction(write=False) as db:
            self._require_prompt(db, slug)
            sql = f"SELECT {VERSION_COLUMNS} FROM versions WHERE slug = ? ORDER BY version LIMIT ? OFFSET ?"
            rows = self._rows(db, sql, (slug, *page(offset, limit)))
        return [version_of(row) for row in rows]

    def get_label(self, slug: str, name: str) -> Label:
        with self._transaction(write=False) as db:
            label = self._label(db, slug, name)
        if label is None:
            raise PromptNotFound(f"prompt '{slug}' has no label '{name}'")
        return label

    def list_labels(self, slug: str) -> list[Label]:
        with self._transaction(write=False) as db:
            self._require_prompt(db, slug)
            rows = self._rows(db, f"SELECT {LABEL_COLUMNS} FROM labels WHERE slug = ? ORDER BY name", (slug,))
        return [label_of(row) for row in rows]

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
        with self._transaction(write=True) as db:
            if not self._lock_prompt(db, slug):
                raise PromptNotFound(f"no prompt '{slug}'; create a version first")
            current = self._label(db, slug, name)
            check_revision(slug, name, current, expected_revision)
            latest = self._latest(db, slug)
            existing = range(1, (latest.version if latest else 0) + 1)
            clean = normalize_targets(targets, existing)
            change = label_change(
                slug, name, current, clean, actor=actor, at=utc_now(), action="move", protected=protected
            )
            self._write_label(db, *change)
        return change[0]

    def rollback_label(self, slug: str, name: str, *, actor: str, expected_revision: int | None) -> Label:
        with self._transaction(write=True) as db:
            self._lock_prompt(db, slug)
            current = self._label(db, slug, name)
            if current is None:
                raise PromptNotFound(f"prompt '{slug}' has no label '{name}'")
            check_revision(slug, name, current, expected_revision)
            targets = rollback_targets(slug, name, self._events(db, slug, name))
            change = label_change(
                slug, name, current, targets, actor=actor, at=utc_now(), action="rollback", protected=None
            )
            self._write_label(db, *change)
        return change[0]

    def label_history(self, slug: str, name: str) -> list[LabelEvent]:
        with self._transaction(write=False) as db:
            events = self._events(db, slug, name)
        if not events:
            raise PromptNotFound(f"prompt '{slug}' has no label '{name}'")
        return events

    def history(self, slug: str) -> list[AuditEntry]:
        with self._transaction(write=False) as db:
            self._require_prompt(db, slug)
            rows = self._rows(db, f"SELECT {AUDIT_COLUMNS} FROM audit WHERE slug = ? ORDER BY id", (slug,))
        return [audit_of(row) for row in rows]

    def _bundle(self, db: Any, slug: str) -> PromptBundle:
        versions = self._rows(db, f"SELECT {VERSION_COLUMNS} FROM versions WHERE slug = ? ORDER BY version", (slug,))
        labels = self._rows(db, f"SELECT {LABEL_COLUMNS} FROM labels WHERE slug = ? ORDER BY name", (slug,))
        events = self._rows(db, f"SELECT {EVENT_COLUMNS} FROM label_events WHERE slug = ? ORDER BY id", (slug,))
        audit = self._rows(db, f"SELECT {AUDIT_COLUMNS} FROM audit WHERE slug = ? ORDER BY id", (slug,))
        return PromptBundle(
            slug=slug,
            versions=[version_of(row) for row in versions],
            labels=[label_of(row) for row in labels],
            label_events=[event_of(row) for row in events],
            audit=[audit_of(row) for row in audit],
            evals=self._bundle_evals(db, slug),
        )

    def export_prompt(self, slug: str) -> PromptBundle:
        with self._transaction(write=False) as db:
            self._require_prompt(db, slug)
            return self._bundle(db, slug)

    def import_prompt(self, bundle: PromptBundle) -> bool:
        bundle = check_bundle(bundle)
        with self._transaction(write=True) as db:
            self._create_prompt_row(db, bundle.slug)
            self._lock_prompt(db, bundle.slug)
            if not needs_import(bundle, self._bundle(db, bundle.slug)):
                return False
            for table in ("evals", "audit", "label_events", "labels", "versions"):
                self._rows(db, f"DELETE FROM {table} WHERE slug = ?", (bundle.slug,))
            for version in bundle.versions:
                self._insert(db, "versions", VERSION_COLUMNS, version_row(version))
            for label in bundle.labels:
                self._insert(db, "labels", LABEL_COLUMNS, label_row(label))
            for event in bundle.label_events:
                self._write_event(db, event)
            for entry in bundle.audit:
                self._write_audit(db, entry)
            self._write_evals(db, bundle.evals)
            self._announce(db, {"slug": bundle.slug, "imported": True})
        return True
