"""The default store: one SQLite file in WAL mode; writers take the write lock up front (BEGIN IMMEDIATE)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._exceptions import RegistryUnavailable
from .sql_store import SCHEMA, SqlStore

BUSY_TIMEOUT_MS = 10_000


class SQLiteStore(SqlStore):
    """Thread-safe: each thread gets its own connection to the same file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._guard = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ddl = SCHEMA.format(boolean="INTEGER", serial="INTEGER PRIMARY KEY")
        try:
            self._connection().executescript(f"BEGIN IMMEDIATE; {ddl} COMMIT;")
        except sqlite3.Error as exc:
            raise RegistryUnavailable(f"cannot create the registry tables in {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                db.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error as exc:
                raise RegistryUnavailable(f"cannot open SQLite registry {self.path}: {exc}") from exc
            self._local.db = db
            with self._guard:
                self._connections.append(db)
        return db

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise RegistryUnavailable(f"SQLite registry {self.path} is busy or unreadable: {exc}") from exc
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _rows(self, db: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            rows: list[tuple[Any, ...]] = db.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as exc:
            raise RegistryUnavailable(f"SQLite registry {self.path} failed: {exc}") from exc
        return rows

    def _lock_prompt(self, db: Any, slug: str) -> bool:
        # BEGIN IMMEDIATE already holds the database's single write lock.
        return bool(self._rows(db, "SELECT 1 FROM prompts WHERE slug = ?", (slug,)))

    def close(self) -> None:
        with self._guard:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
