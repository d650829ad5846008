"""Redaction operators: mask, replace (typed tag with a per-request counter), hash (keyed HMAC), drop."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Literal

from ._decision import Finding

Operator = Literal["mask", "replace", "hash", "drop"]
OPERATORS: tuple[str, ...] = ("mask", "replace", "hash", "drop")
_TRIM = ("_ADDRESS", "_NUMBER", "_CODE")


def tag_name(entity_type: str) -> str:
    """EMAIL_ADDRESS -> EMAIL, PHONE_NUMBER -> PHONE, IBAN_CODE -> IBAN; others stay as they are."""
    for suffix in _TRIM:
        if entity_type.endswith(suffix) and len(entity_type) > len(suffix):
            return entity_type.removesuffix(suffix)
    return entity_type


def redact(
    text: str,
    findings: Iterable[Finding],
    operators: Mapping[str, Operator],
    *,
    default: Operator = "replace",
    hash_key: bytes | None = None,
) -> str:
    """Rewrite each finding's span with its entity type's operator; everything else stays byte-for-byte."""
    chosen: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.span.start, -len(f.span))):
        if chosen and finding.span.start < chosen[-1].span.end:
            continue  # overlaps a span already redacted
        chosen.append(finding)
    tags: dict[tuple[str, str], str] = {}
    counters: dict[str, int] = {}
    pieces: list[str] = []
    last = 0
    for finding in chosen:
        value = text[finding.span.start : finding.span.end]
        kind = finding.entity_type or finding.category.upper()
        operator = operators.get(kind, default)
        pieces.append(text[last : finding.span.start])
        if operator == "mask":
            pieces.append("".join(ch if ch.isspace() else "*" for ch in value))
        elif operator == "replace":
            key = (tag_name(kind), value)
            if key not in tags:
                counters[key[0]] = counters.get(key[0], 0) + 1
                tags[key] = f"<{key[0]}_{counters[key[0]]}>"
            pieces.append(tags[key])
        elif operator == "hash":
            if hash_key is None:
                raise ValueError("the hash operator needs a key: set policy.hash_key")
            digest = hmac.new(hash_key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
            pieces.append(f"<{tag_name(kind)}:{digest[:12]}>")
        last = finding.span.end
    pieces.append(text[last:])
    return "".join(pieces)
