"""Which prompt versions are in use: render counts per (slug, version, label, variant) with the last use.

Kept beside the prompts without changing the store classes: SQLite and PostgreSQL get one extra table,
`prompt_usage`, created on first use (an upsert adds the counts, so replicas sharing a database add up);
a YAML folder gets a hidden `.usage.json` (never a prompt file, so it stays out of review); any other store
keeps the counts in memory.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from .models import SLUG_PATTERN

if TYPE_CHECKING:
    from .store import PromptStore

TABLE = """CREATE TABLE IF NOT EXISTS prompt_usage (
    slug TEXT NOT NULL, version INTEGER NOT NULL, label TEXT NOT NULL, variant TEXT NOT NULL,
    calls BIGINT NOT NULL, last_used TEXT NOT NULL, PRIMARY KEY (slug, version, label, variant))"""
UPSERT = (
    "INSERT INTO prompt_usage (slug, version, label, variant, calls, last_used) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (slug, version, label, variant) DO UPDATE SET calls = prompt_usage.calls + excluded.calls, "
    "last_used = CASE WHEN excluded.last_used > prompt_usage.last_used THEN excluded.last_used "
    "ELSE prompt_usage.last_used END"
)
SELECT = "SELECT version, label, variant, calls, last_used FROM prompt_usage WHERE slug = ? ORDER BY version, label"
USAGE_FILE = ".usage.json"


class UsageRow(BaseModel):
    """One counter as clients report it: `calls` renders of a version, the last at `last_used` (UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slug: str = Field(pattern=SLUG_PATTERN)
    version: int = Field(ge=1)
    label: str | None = Field(default=None, max_length=128)
    variant: str | None = Field(default=None, max_length=128)
    calls: int = Field(ge=1, le=10**12)
    last_used: datetime


class UsageReport(BaseModel):
    """The body of POST /usage: a batch of counters from one client."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[UsageRow] = Field(max_length=1000)


def _utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Key = tuple[str, int, str, str]


def _merge(table: dict[Key, list[Any]], rows: Sequence[UsageRow]) -> None:
    for row in rows:
        key = (row.slug, row.version, row.label or "", row.variant or "")
        stamp = _utc(row.last_used)
        held = table.get(key)
        if held is None:
            table[key] = [row.calls, stamp]
        else:
            held[0] += row.calls
            held[1] = max(held[1], stamp)


class UsageLedger:
    """record() adds a batch in one transaction; usage(slug) answers per version, busiest label first."""

    def __init__(self, store: PromptStore) -> None:
        from .sql_store import SqlStore
        from .yaml_store import YamlStore

        self._lock = threading.Lock()
        self._sql = store if isinstance(store, SqlStore) else None
        self._file = store.folder / USAGE_FILE if isinstance(store, YamlStore) else None
        self._memory: dict[Key, list[Any]] = {}
        self._table_ready = False

    def record(self, rows: Sequence[UsageRow]) -> None:
        if not rows:
            return
        if self._sql is not None:
            self._ensure_table()
            with self._sql._transaction(write=True) as db:
                for row in rows:
                    params = (row.slug, row.version, row.label or "", row.variant or "", row.calls, _utc(row.last_used))
                    self._sql._rows(db, UPSERT, params)
            return
        with self._lock:
            table = self._read_file() if self._file is not None else self._memory
            _merge(table, rows)
            if self._file is not None:
                self._write_file(table)

    def usage(self, slug: str) -> list[dict[str, Any]]:
        """[{version, calls, last_used, labels: [{label, variant, calls, last_used}]}] sorted by version."""
        if self._sql is not None:
            self._ensure_table()
            with self._sql._transaction(write=False) as db:
                found = [
                    (int(v), label, variant, int(c), str(t))
                    for v, label, variant, c, t in self._sql._rows(db, SELECT, (slug,))
                ]
        else:
            with self._lock:
                table = self._read_file() if self._file is not None else dict(self._memory)
            found = sorted((k[1], k[2], k[3], v[0], v[1]) for k, v in table.items() if k[0] == slug)
        versions: dict[int, dict[str, Any]] = {}
        for number, label, variant, calls, last_used in found:
            entry = versions.setdefault(number, {"version": number, "calls": 0, "last_used": last_used, "labels": []})
            entry["calls"] += calls
            entry["last_used"] = max(entry["last_used"], last_used)
            entry["labels"].append(
                {"label": label or None, "variant": variant or None, "calls": calls, "last_used": last_used}
            )
        for entry in versions.values():
            entry["labels"].sort(key=lambda item: -item["calls"])
        return [versions[number] for number in sorted(versions)]

    def _ensure_table(self) -> None:
        if self._table_ready or self._sql is None:
            return
        for attempt in range(3):
            try:
                with self._sql._transaction(write=True) as db:
                    self._sql._rows(db, TABLE)
                break
            except Exception:  # two replicas creating the table at once: one wins, the other retries
                if attempt == 2:
                    raise
        self._table_ready = True

    def _read_file(self) -> dict[Key, list[Any]]:
        assert self._file is not None
        try:
            raw = json.loads(self._file.read_text(encoding="utf-8"))
            return {(r["slug"], r["version"], r["label"], r["variant"]): [r["calls"], r["last_used"]] for r in raw}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def _write_file(self, table: dict[Key, list[Any]]) -> None:
        assert self._file is not None
        rows = [
            {"slug": k[0], "version": k[1], "label": k[2], "variant": k[3], "calls": v[0], "last_used": v[1]}
            for k, v in sorted(table.items())
        ]
        handle, temporary = tempfile.mkstemp(dir=self._file.parent, prefix=".usage.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(rows, stream)
            os.replace(temporary, self._file)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
