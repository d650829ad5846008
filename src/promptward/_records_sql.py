"""SQL sinks for decision records: SQLite (stdlib) and PostgreSQL (psycopg 3, extra `postgres`).

Both keep the whole record as JSON plus the columns a query filters on (time, prompt, action). They are
written from the RecordWriter's thread; a database that is down makes writes fail (counted by the writer),
and reconnection is attempted at most once per `retry_after` seconds.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError
from ._normalize import scrub_surrogates

Record = dict[str, Any]
_COLUMNS = "decision_id, time, prompt_slug, prompt_version, action, record"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")


def _row(record: Record) -> tuple[Any, ...]:
    prompt = record.get("prompt") or {}
    return (
        record.get("decision_id"),
        record.get("time"),
        prompt.get("slug"),
        prompt.get("version"),
        record.get("action"),
        # A lone surrogate (a JSON key of a request can decode to one, and name a field) becomes U+FFFD:
        # neither SQLite's UTF-8 nor PostgreSQL's JSONB can hold it, and it would fail its whole batch.
        scrub_surrogates(json.dumps(record, ensure_ascii=False, separators=(",", ":"))),
    )


class SqliteSink:
    """Records in a SQLite table `promptward_decisions` (WAL mode, one transaction per batch)."""

    def __init__(self, path: str | Path, *, table: str = "promptward_decisions") -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
            raise ConfigError(f"invalid table name {table!r}: use letters, digits and underscores")
        self.path = Path(path)
        self.table = table
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (decision_id TEXT, time REAL, prompt_slug TEXT,"
                " prompt_version INTEGER, action TEXT, record TEXT NOT NULL)"
            )
            conn.execute(f"CREATE INDEX IF NOT EXISTS {self.table}_time ON {self.table} (time)")
            conn.commit()
            self._conn = conn
        return self._conn

    def write(self, records: Sequence[Record]) -> None:
        conn = self._connect()
        try:
            with conn:
                conn.executemany(f"INSERT INTO {self.table} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", map(_row, records))
        except sqlite3.Error:
            self.close()
            raise

    def read(self, *, since: float | None = None) -> Iterator[Record]:
        if not self.path.exists():
            return
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
            try:
                rows = conn.execute(
                    f"SELECT record FROM {self.table} WHERE time >= ? ORDER BY time", (since or 0.0,)
                ).fetchall()
            except sqlite3.OperationalError:
                return  # no table yet: nothing recorded
        for (text,) in rows:
            yield json.loads(text)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ImportError("the PostgreSQL sink needs psycopg 3: pip install 'promptward[postgres]'") from None
    return psycopg


class PostgresSink:
    """Records in a PostgreSQL table (JSONB), created when missing. `table` may be `schema.table`."""

    def __init__(
        self,
        dsn: str,
        *,
        table: str = "promptward_decisions",
        connect_timeout: float = 3.0,
        retry_after: float = 1.0,
    ) -> None:
        if not _IDENTIFIER.fullmatch(table):
            raise ConfigError(f"invalid table name {table!r}: use [schema.]name with letters, digits, underscores")
        self.dsn = dsn
        self.table = table
        self.connect_timeout = connect_timeout
        self.retry_after = retry_after
        self._conn: Any = None
        self._failed_at = float("-inf")
        self._lock = threading.Lock()

    def _identifier(self) -> Any:
        from psycopg import sql

        return sql.Identifier(*self.table.split("."))

    def _connect(self) -> Any:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        if time.monotonic() - self._failed_at < self.retry_after:
            raise ConnectionError(f"PostgreSQL sink: last connection failed under {self.retry_after}s ago")
        psycopg = _psycopg()
        from psycopg import sql

        try:
            conn = psycopg.connect(self.dsn, connect_timeout=max(1, round(self.connect_timeout)), autocommit=False)
            with conn.transaction():
                conn.execute(
                    sql.SQL(
                        "CREATE TABLE IF NOT EXISTS {} (decision_id TEXT, time DOUBLE PRECISION, prompt_slug TEXT,"
                        " prompt_version INTEGER, action TEXT, record JSONB NOT NULL)"
                    ).format(self._identifier())
                )
        except Exception:
            self._failed_at = time.monotonic()
            raise
        self._conn = conn
        return conn

    def write(self, records: Sequence[Record]) -> None:
        from psycopg import sql

        with self._lock:
            conn = self._connect()
            query = sql.SQL("INSERT INTO {} (" + _COLUMNS + ") VALUES (%s, %s, %s, %s, %s, %s::jsonb)").format(
                self._identifier()
            )
            try:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany(query, [_row(r) for r in records])
            except Exception:
                self._drop()
                raise

    def read(self, *, since: float | None = None) -> Iterator[Record]:
        psycopg = _psycopg()
        from psycopg import sql

        query = sql.SQL("SELECT record FROM {} WHERE time >= %s ORDER BY time").format(self._identifier())
        with psycopg.connect(self.dsn, connect_timeout=max(1, round(self.connect_timeout))) as conn:
            try:
                rows = conn.execute(query, (since or 0.0,)).fetchall()
            except psycopg.errors.UndefinedTable:
                return
        for (record,) in rows:
            yield record if isinstance(record, dict) else json.loads(record)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._drop()
