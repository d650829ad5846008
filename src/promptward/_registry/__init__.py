"""The prompt registry: versions, labels and rollouts behind one store protocol.

PostgresStore is loaded on first use so that psycopg is only imported when asked for.
"""

from typing import TYPE_CHECKING, Any

from .diff import VersionDiff, diff_versions
from .models import AuditEntry, Label, LabelEvent, LabelTarget, PromptBundle, PromptVersion
from .rollout import bucket, resolve
from .sqlite_store import SQLiteStore
from .store import PromptStore, copy_prompts, open_store
from .yaml_store import YamlStore

if TYPE_CHECKING:
    from .postgres_store import PostgresStore

__all__ = [
    "AuditEntry",
    "Label",
    "LabelEvent",
    "LabelTarget",
    "PostgresStore",
    "PromptBundle",
    "PromptStore",
    "PromptVersion",
    "SQLiteStore",
    "VersionDiff",
    "YamlStore",
    "bucket",
    "copy_prompts",
    "diff_versions",
    "open_store",
    "resolve",
]


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":
        from .postgres_store import PostgresStore

        return PostgresStore
    raise AttributeError(f"module 'promptward._registry' has no attribute {name!r}")
