"""The client's disk snapshot: one JSON file per prompt, written atomically, read when a process starts.

A process that starts while the registry is down serves the last versions it (or a previous process) fetched.
Each file carries the sha256 of its payload and every version its content hash, so a truncated or corrupted
file is detected, skipped with a warning, and never crashes the caller or serves half a prompt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .models import SLUG_PATTERN, Label, PromptVersion, canonical_json, content_hash

FORMAT = "promptward-snapshot/1"
log = logging.getLogger("promptward.registry")
_SLUG = re.compile(SLUG_PATTERN)


class SnapshotWarning(UserWarning):
    """A snapshot file could not be used; the client goes on without it."""


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """What the snapshot holds about one prompt: its labels (with ETags) and the versions they point to."""

    slug: str
    labels: tuple[tuple[Label, str | None], ...]
    versions: tuple[PromptVersion, ...]


class Snapshot:
    """A folder of `<slug>.json` files; `load()` skips what it cannot trust, `save()` replaces atomically."""

    def __init__(self, folder: str | os.PathLike[str], *, registry: str = "") -> None:
        self.folder = Path(folder)
        self.registry = registry

    def path(self, slug: str) -> Path:
        return self.folder / f"{slug}.json"

    def load(self) -> list[SnapshotEntry]:
        if not self.folder.is_dir():
            return []
        entries: list[SnapshotEntry] = []
        for path in sorted(self.folder.glob("*.json")):
            if path.name.startswith("."):
                continue
            try:
                entries.append(_read(path))
            except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
                _warn(f"ignoring snapshot file {path}: {_reason(exc)}; it is rewritten on the next successful fetch")
        return entries

    def save(self, entry: SnapshotEntry) -> None:
        """Write one prompt's file: temp file in the same folder, fsync, os.replace (never a partial file)."""
        payload = {
            "format": FORMAT,
            "registry": self.registry,
            "slug": entry.slug,
            "labels": [{"label": label.model_dump(mode="json"), "etag": etag} for label, etag in entry.labels],
            "versions": [version.model_dump(mode="json") for version in entry.versions],
        }
        body = canonical_json(payload)
        text = json.dumps({"sha256": hashlib.sha256(body.encode()).hexdigest(), "payload": payload}, indent=1)
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{entry.slug}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path(entry.slug))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _read(path: Path) -> SnapshotEntry:
    document = json.loads(path.read_text(encoding="utf-8"))
    payload: dict[str, Any] = document["payload"]
    if hashlib.sha256(canonical_json(payload).encode()).hexdigest() != document["sha256"]:
        raise ValueError("its checksum does not match its content (truncated or edited)")
    if payload.get("format") != FORMAT:
        raise ValueError(f"unknown format {payload.get('format')!r}, expected {FORMAT!r}")
    slug = payload["slug"]
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug) or path.stem != slug:
        raise ValueError(f"slug {slug!r} does not match the file name")
    versions = tuple(PromptVersion.model_validate(item) for item in payload["versions"])
    for version in versions:
        if version.slug != slug or content_hash(version.template, version.contract, version.config) != version.sha256:
            raise ValueError(f"version {version.version} does not match its content hash")
    labels = tuple((Label.model_validate(item["label"]), item.get("etag")) for item in payload["labels"])
    held = {version.version for version in versions}
    for label, _ in labels:
        missing = [t.version for t in label.targets if t.weight > 0 and t.version not in held]
        if label.slug != slug or missing:
            raise ValueError(f"label '{label.name}' points to versions {missing} the file does not hold")
    return SnapshotEntry(slug, labels, versions)


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at line {exc.lineno}), probably truncated"
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    if isinstance(exc, ValidationError):
        return f"invalid content ({exc.error_count()} errors)"
    return str(exc)


def _warn(message: str) -> None:
    log.warning(message)
    warnings.warn(message, SnapshotWarning, stacklevel=4)
