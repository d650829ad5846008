"""PostgreSQL store (psycopg 3, extra `postgres`): several server replicas share one registry.

Every write locks the prompt's row with SELECT ... FOR UPDATE, so concurrent writers to one prompt queue up
and the revision check always sees the latest committed label.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .._exceptions import ConfigError, RegistryUnavailable
from .sql_store import SCHEMA, SqlStore

try:
    import psycopg
    from psycopg import sql
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("PostgresStore needs psycopg 3; install it with: pip install 'promptward[postgres]'") from exc

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
NOTIFY_CHANNEL = "promptward"  # payload: {"schema", "slug", and "label" + "revision" or "version" or "imported"}
SCHEMA_LOCK_KEY = 0x70770001  # advisory lock serializing table creation between replicas starting together


class PostgresStore(SqlStore):
    """Thread-safe: each thread gets its own autocommit connection; writes run in explicit transactions."""

    def __init__(self, dsn: str, *, schema: str = "promptward", connect_timeout: float = 5.0) -> None:
        if not IDENTIFIER.fullmatch(schema):
            raise ConfigError(f"schema {schema!r} must be a plain identifier (letters, digits, underscores)")
        self.dsn = dsn
        self.schema = schema
        self.connect_timeout = connect_timeout
        self._local = threading.local()
        self._connections: list[psycopg.Connection[tuple[Any, ...]]] = []
        self._guard = threading.Lock()
        self._create_schema()

    def _create_schema(self) -> None:
        db = self._connect(search_path=False)
        try:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
                db.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema)))
                ddl = SCHEMA.format(boolean="BOOLEAN", serial="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
                for statement in filter(str.strip, ddl.split(";")):
                    db.execute(statement.encode())
        except psycopg.Error as exc:
            raise RegistryUnavailable(f"cannot create registry tables in schema {self.schema!r}: {exc}") from exc
        finally:
            db.close()

    def _connect(self, *, search_path: bool = True) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            db = psycopg.connect(self.dsn, autocommit=True, connect_timeout=max(1, int(self.connect_timeout)))
            if search_path:
                db.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        except psycopg.Error as exc:
            raise RegistryUnavailable(f"cannot reach the PostgreSQL registry: {exc}") from exc
        return db

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        db: psycopg.Connection[tuple[Any, ...]] | None = getattr(self._local, "db", None)
        if db is None or db.closed or db.broken:
            db = self._connect()
            self._local.db = db
            with self._guard:
                self._connections.append(db)
        return db

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        db = self._connection()
        try:
            with db.transaction():
                yield db
        except psycopg.OperationalError as exc:
            raise RegistryUnavailable(f"the PostgreSQL registry failed: {exc}") from exc

    def _rows(self, db: Any, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = db.execute(query.replace("?", "%s").encode(), tuple(params))
        return list(cursor.fetchall()) if cursor.description is not None else []

    def _lock_prompt(self, db: Any, slug: str) -> bool:
        return bool(self._rows(db, "SELECT 1 FROM prompts WHERE slug = ? FOR UPDATE", (slug,)))

    def _announce(self, db: Any, change: dict[str, Any]) -> None:
        # Delivered on commit only, so listeners never hear about a write that rolled back.
        payload = json.dumps({"schema": self.schema, **change})
        self._rows(db, "SELECT pg_notify(?, ?)", (NOTIFY_CHANNEL, payload))

    def close(self) -> None:
        with self._guard:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self.schema!r})"
