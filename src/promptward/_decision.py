"""Frozen result values: Action, Span, Finding, Decision."""

from __future__ import annotations

import dataclasses
import enum
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._exceptions import PromptBlocked


class Action(enum.StrEnum):
    """What the guard does with a text, from least to most severe."""

    ALLOW = "allow"
    FLAG = "flag"
    REDACT = "redact"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return _ACTION_RANK[self]


_ACTION_RANK = {Action.ALLOW: 0, Action.FLAG: 1, Action.REDACT: 2, Action.BLOCK: 3}


@dataclass(frozen=True, slots=True)
class Span:
    """Half-open character offsets [start, end) into the caller's original text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"invalid span [{self.start}, {self.end}): need 0 <= start <= end")

    def __len__(self) -> int:
        return self.end - self.start

    def of(self, text: str) -> str:
        """The part of `text` this span covers."""
        return text[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired. Holds offsets, never the matched text."""

    rule_id: str
    pack: str
    category: str
    severity: str
    span: Span
    score: float = 1.0
    decoded_from: str | None = None
    entity_type: str | None = None
    field: str | None = None
    detail: str | None = None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "rule_id": self.rule_id,
            "pack": self.pack,
            "category": self.category,
            "severity": self.severity,
            "start": self.span.start,
            "end": self.span.end,
            "score": self.score,
        }
        for key in ("decoded_from", "entity_type", "field", "detail"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        return record


@dataclass(frozen=True, slots=True)
class PackIdentity:
    """What names a rule pack in every record: id, version and sha256 of its canonical content."""

    id: str
    version: str
    sha256: str

    def to_record(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class PromptRef:
    """The prompt version a decision was made for."""

    slug: str
    version: int | None = None
    label: str | None = None
    variant: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {"slug": self.slug, "version": self.version, "label": self.label, "variant": self.variant}


@dataclass(frozen=True, slots=True)
class Decision:
    """The guard's verdict on one text, or on the fields of one check_fields(). Blocking is a value;
    `raise_for_block()` makes it an error."""

    id: str
    action: Action
    findings: tuple[Finding, ...]
    packs: tuple[PackIdentity, ...]
    mode: str = "enforce"
    would_action: Action | None = None
    redacted_text: str | None = None
    prompt: PromptRef | None = None
    field: str | None = None
    normalizations: tuple[str, ...] = ()
    latency_ms: float = 0.0
    created_at: float = 0.0
    # Of a check of several fields (Guard.check_fields): the redacted value of each field the policy redacted.
    # A plain dict (a read-only view would not pickle); not part of equality or the hash.
    redactions: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False, hash=False)

    @property
    def allowed(self) -> bool:
        """True unless the decision blocks."""
        return self.action is not Action.BLOCK

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK

    def raise_for_block(self) -> Decision:
        """Raise PromptBlocked when this decision blocks; return the decision otherwise."""
        if self.action is Action.BLOCK:
            raise PromptBlocked(self)
        return self

    def to_record(self) -> dict[str, Any]:
        """The decision record: ids, versions, offsets and rule ids; never the raw text."""
        return {
            "decision_id": self.id,
            "time": self.created_at,
            "prompt": self.prompt.to_record() if self.prompt else None,
            "packs": [p.to_record() for p in self.packs],
            "action": self.action.value,
            "would_action": (self.would_action or self.action).value,
            "mode": self.mode,
            "field": self.field,
            "findings": [f.to_record() for f in self.findings],
            "normalizations": list(self.normalizations),
            "latency_ms": round(self.latency_ms, 4),
        }


class _DecisionIds:
    """Decision ids: 16 hex digits from the operating system's random source, as secrets.token_hex(8) gives,
    read 4 KB at a time (a read per id costs a system call on every check). A forked child starts afresh,
    so that two workers never hand out the same ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._digits = ""
        self._at = 0
        if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere there is no fork to guard against
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._lock = threading.Lock()
        self._digits, self._at = "", 0

    def __call__(self) -> str:
        with self._lock:
            at = self._at
            if at >= len(self._digits):
                self._digits, at = os.urandom(4096).hex(), 0
            self._at = at + 16
            return self._digits[at : at + 16]


new_decision_id = _DecisionIds()
