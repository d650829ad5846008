"""Eval results stored with prompt versions: the record and audit entry every store writes, and the SQL part.

An eval result is immutable once recorded; `evals(slug, version)` lists them oldest first, so the last one
is the latest. The promotion gate (`prompts promote --require-eval`) reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._exceptions import ConfigError, PromptNotFound
from .models import AuditEntry, EvalRecord, EvalResult, PromptVersion, utc_now

EVALS_DDL = """
CREATE TABLE IF NOT EXISTS evals (
    id {serial}, slug TEXT NOT NULL REFERENCES prompts (slug), version INTEGER NOT NULL, at TEXT NOT NULL,
    record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS evals_by_version ON evals (slug, version, id);
"""


def as_result(result: EvalResult | Mapping[str, Any]) -> EvalResult:
    """Accept the model or its JSON form (ConfigError naming the field at fault)."""
    if isinstance(result, EvalResult):
        return EvalResult.model_validate(result.model_dump(include=set(EvalResult.model_fields)))
    try:
        return EvalResult.model_validate(dict(result))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "result"
        raise ConfigError(f"eval result field '{where}': {first['msg']}") from None


def eval_record(
    version: PromptVersion, result: EvalResult | Mapping[str, Any], *, actor: str, at: datetime | None = None
) -> tuple[EvalRecord, AuditEntry]:
    """The record to store and its audit entry (action `eval.record`, shown in `history`)."""
    clean = as_result(result)
    at = at or utc_now()
    record = EvalRecord(
        **clean.model_dump(), slug=version.slug, version=version.version, sha256=version.sha256, actor=actor, at=at
    )
    detail = {
        "version": version.version,
        "threshold": clean.threshold,
        "passed": all(score.passed for score in clean.scores),
        "models": {score.model: round(score.pass_rate, 4) for score in clean.scores},
    }
    return record, AuditEntry(slug=version.slug, actor=actor, at=at, action="eval.record", detail=detail)


def pick(records: Sequence[EvalRecord], version: int | None) -> list[EvalRecord]:
    return [record for record in records if version is None or record.version == version]


def check_evals(slug: str, records: Sequence[EvalRecord], count: int) -> None:
    for record in records:
        if record.slug != slug or not 1 <= record.version <= count:
            raise ConfigError(f"prompt '{slug}' has an eval of version {record.version} that does not exist")


class SqlEvals:
    """record_eval() and evals() for SqlStore (SQLite and PostgreSQL share them)."""

    if TYPE_CHECKING:

        def _transaction(self, *, write: bool) -> AbstractContextManager[Any]: ...

        def _rows(self, db: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

        def _lock_prompt(self, db: Any, slug: str) -> bool: ...

        def _write_audit(self, db: Any, entry: AuditEntry) -> None: ...

        def _require_prompt(self, db: Any, slug: str) -> None: ...

        def get_version(self, slug: str, version: int) -> PromptVersion: ...

    def record_eval(
        self, slug: str, version: int, result: EvalResult | Mapping[str, Any], *, actor: str = ""
    ) -> EvalRecord:
        found = self.get_version(slug, version)  # PromptNotFound for an unknown prompt or version
        record, audit = eval_record(found, result, actor=actor)
        with self._transaction(write=True) as db:
            if not self._lock_prompt(db, slug):
                raise PromptNotFound(f"no prompt '{slug}'; create a version first")
            self._write_evals(db, [record])
            self._write_audit(db, audit)
        return record

    def evals(self, slug: str, version: int | None = None) -> list[EvalRecord]:
        with self._transaction(write=False) as db:
            self._require_prompt(db, slug)
            return pick(self._bundle_evals(db, slug), version)

    def _bundle_evals(self, db: Any, slug: str) -> list[EvalRecord]:
        rows = self._rows(db, "SELECT record FROM evals WHERE slug = ? ORDER BY id", (slug,))
        return [EvalRecord.model_validate(json.loads(row[0])) for row in rows]

    def _write_evals(self, db: Any, records: Sequence[EvalRecord]) -> None:
        for record in records:
            values = (record.slug, record.version, record.at.isoformat(), record.model_dump_json())
            self._rows(db, "INSERT INTO evals (slug, version, at, record) VALUES (?, ?, ?, ?)", values)
