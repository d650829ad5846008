"""Find encoded payloads inside a text and decode them, within a budget, so they are screened too.

Blob scanners (base64, hex, URL encoding, Morse code, binary octets, decimal character codes, Braille)
decode each candidate span on its own; ROT13 and reversed text are recognized by common words in that
form and decode the whole text. One RE2 Set of gates tells which scanners can find anything at all.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

from ._re2util import char_spans, compile_re2, options


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


def _printable(data: bytes) -> str | None:
    """Decoded bytes count as text only when they are UTF-8 and mostly printable."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return _texty(text)


def _texty(text: str) -> str | None:
    """Text that is mostly printable and mostly letters, else None."""
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
    digits = blob.replace("\\x", "").replace("0x", "").replace("0X", "").replace(",", "").replace(" ", "")
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


_MORSE = {
    ".-": "a", "-...": "b", "-.-.": "c", "-..": "d", ".": "e", "..-.": "f", "--.": "g", "....": "h",
    "..": "i", ".---": "j", "-.-": "k", ".-..": "l", "--": "m", "-.": "n", "---": "o", ".--.": "p",
    "--.-": "q", ".-.": "r", "...": "s", "-": "t", "..-": "u", "...-": "v", ".--": "w", "-..-": "x",
    "-.--": "y", "--..": "z", "-----": "0", ".----": "1", "..---": "2", "...--": "3", "....-": "4",
    ".....": "5", "-....": "6", "--...": "7", "---..": "8", "----.": "9", ".-.-.-": ".", "--..--": ",",
    "..--..": "?", "-.-.--": "!", ".----.": "'", "-..-.": "/", "---...": ":", "-...-": "=",
}  # fmt: skip
# Dot and dash look-alikes: middle dot, bullet, Devanagari danda; minus sign, en and em dash, low line.
_MORSE_SYMBOLS = str.maketrans("·•।−–—_", "...----")
_MORSE_WORDS = compile_re2(r"\s*[/|]\s*|\s{3,}")
_BINARY_GROUP = compile_re2(r"[01]+")
_NUMBER = compile_re2(r"\d+")


def _from_morse(blob: str) -> str | None:
    words = []
    for word in _MORSE_WORDS.split(blob.translate(_MORSE_SYMBOLS).strip()):
        codes = word.split()
        if not all(code in _MORSE for code in codes):
            return None
        words.append("".join(_MORSE[code] for code in codes))
    text = " ".join(w for w in words if w)
    # Real words: at least four letters and more than one letter of the alphabet ("- - - -" is a ruler).
    if sum(ch.isalpha() for ch in text) < 4 or len(set(text) - {" "}) < 3:
        return None
    return _texty(text)


def _from_binary(blob: str) -> str | None:
    groups = _BINARY_GROUP.findall(blob)
    if len(groups) == 1:  # one unbroken run of bits
        groups = [blob[i : i + 8] for i in range(0, len(blob) - len(blob) % 8, 8)]
    # Copied or machine-translated payloads lose a bit here and there: skip groups that are not octets.
    octets = [group for group in groups if len(group) == 8]
    if len(octets) < 4 or len(octets) < 0.7 * len(groups):
        return None
    return _printable(bytes(int(octet, 2) for octet in octets))


def _from_char_codes(blob: str) -> str | None:
    codes = [int(number) for number in _NUMBER.findall(blob)]
    # Instructions have words: without a space (32) the numbers are more likely a list of amounts.
    if 32 not in codes or not all(32 <= code <= 126 or code in (9, 10, 13) for code in codes):
        return None
    return _texty("".join(map(chr, codes)))


# Six-dot Braille cells of the Latin letters, as bit masks of dots 1-6 (U+2800 + mask).
_BRAILLE = dict(
    zip(
        (0x01, 0x03, 0x09, 0x19, 0x11, 0x0B, 0x1B, 0x13, 0x0A, 0x1A, 0x05, 0x07, 0x0D,
         0x1D, 0x15, 0x0F, 0x1F, 0x17, 0x0E, 0x1E, 0x25, 0x27, 0x3A, 0x2D, 0x3D, 0x35),
        "abcdefghijklmnopqrstuvwxyz",
        strict=True,
    )
)  # fmt: skip


def _from_braille(blob: str) -> str | None:
    out = []
    digits = False  # after the number sign, cells a-j are the digits 1-9, 0 up to the next space
    for ch in blob:
        cell = ord(ch) - 0x2800
        if cell == 0 or ch.isspace():
            out.append(" ")
            digits = False
        elif cell == 0x3C:
            digits = True
        elif (letter := _BRAILLE.get(cell)) is not None:
            out.append(str((ord(letter) - ord("a") + 1) % 10) if digits and letter <= "j" else letter)
        elif cell != 0x20:  # the capital sign carries no letter
            return None
    return _texty(" ".join("".join(out).split()))


# Encoded blobs long enough to carry an instruction.
_BASE64 = r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_-]{24,}={0,2}"
_HEX = (
    r"(?:[0-9a-fA-F]{2}){10,}|(?:\\x[0-9a-fA-F]{2}){6,}|(?:[0-9a-fA-F]{2} ){6,}[0-9a-fA-F]{2}"
    r"|(?:0[xX][0-9a-fA-F]{2}[, ]{0,2}){6,}"
)
_URL = r"(?:[^\s%]{0,8}%[0-9a-fA-F]{2}){3,}[^\s%]*"
# Morse: six or more dot-dash groups split by spaces, slashes or bars.
_MORSE_CHAR = r"[.·•।\-−–—_]"
_MORSE_SEP = r"(?: {1,3}| ?[/|] ?)"
_MORSE_RUN = rf"{_MORSE_CHAR}{{1,6}}(?:{_MORSE_SEP}{_MORSE_CHAR}{{1,6}}){{5,}}"
_BINARY = r"\b[01]{8}(?:(?:, ?| )[01]{1,16}){3,}\b|\b(?:[01]{8}){4,}\b"
_CHAR_CODES = r"\b(?:\d{2,3}(?:, ?| )){5,}\d{2,3}\b"
_BRAILLE_RUN = r"[\x{2801}-\x{283f}][\x{2800}-\x{283f} ]{3,}"
# ROT13 and reversed text are recognized by common English words in that form: "the", "and", "you",
# "ignore", "instructions", "previous", "system", "prompt", "password".
_ROT13_WORDS = r"\b(?:gur|naq|lbh|vtaber|vafgehpgvbaf|cerivbhf|flfgrz|cebzcg|cnffjbeq)\b"
_REVERSED_WORDS = r"\b(?:eht|dna|uoy|erongi|snoitcurtsni|suoiverp|metsys|tpmorp|drowssap)\b"

Scanner = tuple[str, Any, Callable[[str], str | None]]
# Each scanner with the gate pattern that every text it finds something in matches (the same pattern, or a
# weaker one: "%41" for URL escapes, one encoded word for a whole text).
_SCANNERS: tuple[tuple[Scanner, str], ...] = (
    (("base64", compile_re2(_BASE64), _from_base64), _BASE64),
    (("hex", compile_re2(_HEX), _from_hex), _HEX),
    (("url", compile_re2(_URL), _from_url), r"%[0-9a-fA-F]{2}"),
    (("morse", compile_re2(_MORSE_RUN), _from_morse), _MORSE_RUN),
    (("binary", compile_re2(_BINARY), _from_binary), _BINARY),
    (("char_codes", compile_re2(_CHAR_CODES), _from_char_codes), _CHAR_CODES),
    (("braille", compile_re2(_BRAILLE_RUN), _from_braille), _BRAILLE_RUN),
)
_WHOLE_TEXT: tuple[tuple[Scanner, str], ...] = (
    (("rot13", compile_re2(r"(?i)" + _ROT13_WORDS + r".*" + _ROT13_WORDS), _from_rot13), "(?i)" + _ROT13_WORDS),
    (
        ("reversed", compile_re2(r"(?i)" + _REVERSED_WORDS + r".*" + _REVERSED_WORDS), _from_reversed),
        "(?i)" + _REVERSED_WORDS,
    ),
)
# One RE2 Set of the gates tells which scanners can find anything: a text without a candidate costs one
# pass, and a text with a long word (a base64 candidate) does not run the other six scanners.
_GATES = re2.Set.SearchSet(options())
for _scanner, _gate in (*_SCANNERS, *_WHOLE_TEXT):
    _GATES.Add(_gate)
_GATES.Compile()


def payload_gates(data: bytes) -> list[int]:
    """The scanners whose gate the UTF-8 text `data` opens: find_payloads() finds nothing without one."""
    return _GATES.Match(data) or []


def find_payloads(
    text: str, *, limit_chars: int, limit_count: int, data: bytes | None = None, gates: list[int] | None = None
) -> list[Payload]:
    """Decoded payloads found in `text`, spans in `text`'s own offsets. `data` (the text in UTF-8) and
    `gates` (payload_gates() of it) save asking again when the caller has them."""
    if data is None:
        data = text.encode()
    open_gates = payload_gates(data) if gates is None else gates
    if not open_gates:
        return []
    payloads: list[Payload] = []
    used = 0
    for index, ((encoding, pattern, decode), _) in enumerate(_SCANNERS):
        if index not in open_gates:
            continue
        for start, end in char_spans(data, [match.span() for match in pattern.finditer(data)]):
            decoded = decode(text[start:end])
            if decoded is None:
                continue
            if used + len(decoded) > limit_chars or len(payloads) >= limit_count:
                return payloads
            used += len(decoded)
            payloads.append(Payload(decoded, start, end, encoding))
    for index, ((encoding, pattern, decode), _) in enumerate(_WHOLE_TEXT, start=len(_SCANNERS)):
        if index not in open_gates or len(text) > limit_chars - used or len(payloads) >= limit_count:
            continue
        if pattern.search(data):
            decoded = decode(text)
            if decoded is not None:
                used += len(decoded)
                payloads.append(Payload(decoded, 0, len(text), encoding))
    return payloads
