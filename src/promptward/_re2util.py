"""RE2 as every screening pattern uses it: the compile settings, and byte offsets mapped to characters."""

from __future__ import annotations

from typing import Any

import re2

# RE2 keeps the DFA states it builds, within max_mem. Its 8 MB default is too small for patterns with
# Unicode classes on long texts that mix scripts: the state cache is flushed over and over and a
# 200 KB scan gets about ten times slower.
MAX_MEM = 64 << 20


def options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_MEM
    return options


def compile_re2(pattern: str) -> Any:
    return re2.compile(pattern, options())


def char_spans(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Character offsets of byte spans of the UTF-8 `data`, given in order and not overlapping.

    RE2 reports byte offsets. Its wrapper can give character offsets for a str, but it encodes the
    whole text again for each match. A character's index is the number of characters that start before
    it, so an offset inside a character (`\\C`, or an empty match the wrapper stepped into) still maps.
    """
    if not spans or data.isascii():
        return spans
    mapped = []
    chars = done = 0
    for start, end in spans:
        first = chars + _starts(data[done:start])
        chars = first + _starts(data[start:end])
        done = end
        mapped.append((first, chars))
    return mapped


# Every byte but the UTF-8 continuation bytes 0x80..0xBF, each of which starts a character.
_NOT_CONTINUATION = bytes(b for b in range(256) if not 0x80 <= b < 0xC0)


def _starts(chunk: bytes) -> int:
    """How many characters start in `chunk`: its bytes that are not continuation bytes."""
    return len(chunk) - len(chunk.translate(None, _NOT_CONTINUATION))
