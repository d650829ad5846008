"""Find encoded payloads inside a text and decode them, within a budget, so they are screened too."""

from __future__ import annotations

import base64
import binascii
import codecs
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2


@dataclass(frozen=True, slots=True)
class DecodeBudget:
    """How deep decoded payloads are decoded again, and how many characters of them are screened."""

    max_depth: int = 2
    max_chars: int = 65_536
    max_payloads: int = 32


@dataclass(frozen=True, slots=True)
class Payload:
    """Decoded text and the span of the original text it came from."""

    text: str
    start: int
    end: int
    encoding: str


def _re2(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def _printable(data: bytes) -> str | None:
    """Decoded bytes count as text only when they are UTF-8 and mostly printable."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    good = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    if good < 0.95 * len(text) or letters < 0.5 * len(text.replace(" ", "")):
        return None
    return text


def _from_base64(blob: str) -> str | None:
    cleaned = blob.rstrip("=")
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        if "-" in padded or "_" in padded:
            data = base64.urlsafe_b64decode(padded)
        else:
            data = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _printable(data)


def _from_hex(blob: str) -> str | None:
    digits = blob.replace("\\x", "").replace(" ", "")
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        return _printable(bytes.fromhex(digits))
    except ValueError:
        return None


def _from_url(blob: str) -> str | None:
    decoded = urllib.parse.unquote(blob, errors="strict") if "%" in blob else None
    if decoded is None or decoded == blob:
        return None
    return decoded


def _from_rot13(text: str) -> str | None:
    return codecs.decode(text, "rot13")


def _from_reversed(text: str) -> str | None:
    return text[::-1]


# Encoded blobs long enough to carry an instruction.
_BASE64 = r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{24,}={0,2}"
_HEX = r"(?:[0-9a-fA-F]{2}){10,}|(?:\\x[0-9a-fA-F]{2}){6,}|(?:[0-9a-fA-F]{2} ){6,}[0-9a-fA-F]{2}"
_URL = r"(?:[^\s%]{0,8}%[0-9a-fA-F]{2}){3,}[^\s%]*"
# ROT13 and reversed text are recognized by common English words in that form: "the", "and", "you",
# "ignore", "instructions", "previous", "system", "prompt", "password".
_ROT13_WORDS = r"\b(?:gur|naq|lbh|vtaber|vafgehpgvbaf|cerivbhf|flfgrz|cebzcg|cnffjbeq)\b"
_REVERSED_WORDS = r"\b(?:eht|dna|uoy|erongi|snoitcurtsni|suoiverp|metsys|tpmorp|drowssap)\b"

_SCANNERS: tuple[tuple[str, Any, Callable[[str], str | None]], ...] = (
    ("base64", _re2(_BASE64), _from_base64),
    ("hex", _re2(_HEX), _from_hex),
    ("url", _re2(_URL), _from_url),
)
_WHOLE_TEXT: tuple[tuple[str, Any, Callable[[str], str | None]], ...] = (
    ("rot13", _re2(r"(?i)" + _ROT13_WORDS + r".*" + _ROT13_WORDS), _from_rot13),
    ("reversed", _re2(r"(?i)" + _REVERSED_WORDS + r".*" + _REVERSED_WORDS), _from_reversed),
)
_GATE = _re2("|".join(f"(?:{p})" for p in (_BASE64, _HEX, r"%[0-9a-fA-F]{2}", "(?i)" + _ROT13_WORDS, _REVERSED_WORDS)))


def find_payloads(text: str, *, limit_chars: int, limit_count: int) -> list[Payload]:
    """Decoded payloads found in `text`, spans in `text`'s own offsets."""
    if not _GATE.search(text):
        return []
    payloads: list[Payload] = []
    used = 0
    for encoding, pattern, decode in _SCANNERS:
        for match in pattern.finditer(text):
            decoded = decode(match.group())
            if decoded is None:
                continue
            if used + len(decoded) > limit_chars or len(payloads) >= limit_count:
                return payloads
            used += len(decoded)
            start, end = match.span()
            payloads.append(Payload(decoded, start, end, encoding))
    for encoding, pattern, decode in _WHOLE_TEXT:
        if len(text) <= limit_chars - used and pattern.search(text):
            decoded = decode(text)
            if decoded is not None:
                used += len(decoded)
                payloads.append(Payload(decoded, 0, len(text), encoding))
    return payloads
