"""Canonical text for matching, with a map from canonical offsets back to the caller's text.

Each pass rewrites only the places it needs and records those edits; offsets are mapped back through
the recorded edits only for findings, so text that needs no change costs one regex scan per pass.
ASCII text skips the Unicode passes entirely.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import re2

from ._re2util import char_spans, compile_re2, options

# (new_start, new_end, old_start, old_end) for every replaced region of one pass, in order.
Edit = tuple[int, int, int, int]
Pass = Callable[[str], tuple[str, list[Edit]]]


@dataclass(frozen=True, slots=True)
class Canonical:
    """Canonical text plus what it took to get there from the original."""

    text: str
    original: str
    applied: tuple[str, ...] = ()
    _layers: tuple[list[Edit], ...] = field(default=(), repr=False)
    # The text after the first round's Unicode passes and how many layers led there, see unmasked().
    _unmasked: tuple[str, int] | None = field(default=None, repr=False)

    def unmasked(self) -> Canonical:
        """Only the Unicode passes (hidden characters, NFKC, stacked marks, look-alike letters), for data
        rules: values keep their digits, spacing and symbols, while disguises a reader cannot see are undone."""
        if self._unmasked is None:
            if self.text is self.original and not self._layers:
                return self  # nothing was undone: the common case, asked for twice a check
            return Canonical(self.original, self.original)
        text, depth = self._unmasked
        return Canonical(text, self.original, self.applied, self._layers[:depth])

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the canonical text to the smallest covering span of the original."""
        for edits in reversed(self._layers):
            start, end = _start_back(edits, start), _end_back(edits, end)
        return start, max(start, end)


def _start_back(edits: list[Edit], pos: int) -> int:
    i = bisect.bisect_right(edits, pos, key=lambda e: e[0]) - 1
    if i < 0:
        return pos
    _, new_end, old_start, old_end = edits[i]
    if pos < new_end:
        return old_start
    return pos + old_end - new_end


def _end_back(edits: list[Edit], pos: int) -> int:
    i = bisect.bisect_left(edits, pos, key=lambda e: e[0]) - 1
    if i < 0:
        return pos
    _, new_end, _, old_end = edits[i]
    if pos <= new_end:
        return old_end
    return pos + old_end - new_end


def _rewrite(pattern: Any, text: str, replace: Callable[[str], str]) -> tuple[str, list[Edit]]:
    """Replace each match of `pattern` by `replace(match)`, recording only the regions that changed."""
    pieces: list[str] = []
    edits: list[Edit] = []
    last = 0
    shift = 0
    for start, end in _spans(pattern, text):
        old = text[start:end]
        new = replace(old)
        if new == old:
            continue
        pieces.append(text[last:start])
        pieces.append(new)
        head, tail = _common_ends(old, new)
        edits.append((start + shift + head, start + shift + len(new) - tail, start + head, end - tail))
        shift += len(new) - len(old)
        last = end
    if not edits:
        return text, edits
    pieces.append(text[last:])
    return "".join(pieces), edits


def _spans(pattern: Any, text: str) -> list[tuple[int, int]]:
    """Character spans of the matches of a `re` or RE2 pattern."""
    if isinstance(pattern, re.Pattern):
        return [m.span() for m in pattern.finditer(text)]
    data = text.encode()
    return char_spans(data, [m.span() for m in pattern.finditer(data)])


def _common_ends(old: str, new: str) -> tuple[int, int]:
    """Lengths of the shared prefix and suffix, so an edit covers only what changed."""
    limit = min(len(old), len(new))
    head = 0
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return head, tail


# Unicode tag characters U+E0020..U+E007E mirror printable ASCII; attackers hide instructions in them.
# The canonical text drops them (so a tag character inside a word cannot split it) and the guard
# screens the ASCII they spell as a payload of its own, see tag_payloads().
_TAG_CHARS = "[\U000e0000-\U000e007f]"
_TAGS = re.compile(_TAG_CHARS + "+")


def tag_payloads(text: str) -> list[tuple[int, int, str]]:
    """(start, end, ASCII text) for each run of tag characters that spells something."""
    found = []
    for match in _TAGS.finditer(text):
        visible = "".join(chr(ord(c) - 0xE0000) for c in match.group() if 0xE0020 <= ord(c) <= 0xE007E)
        if visible.strip():
            found.append((match.start(), match.end(), visible))
    return found


_INVISIBLE_CHARS = (
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U0001d173-\U0001d17a\U000e0100-\U000e01ef]"
)
_INVISIBLE = re.compile(_INVISIBLE_CHARS + "+")
# Tokens with a non-ASCII character (ASCII is NFKC-stable; the look-behind starts the scan at word
# starts), and runs of non-ASCII spaces, which NFKC turns into plain ones.
_TOKEN = re.compile(r"(?<!\S)\S*?[^\x00-\x7f\s]\S*|[^\S\x00-\x7f]+")


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _nfkc(text: str) -> tuple[str, list[Edit]]:
    if unicodedata.is_normalized("NFKC", text):
        return text, []
    # NFKC never composes across whitespace, so normalizing token by token is exact; only the lines
    # that are not normalized already need the token-level pass. Lines end at "\n" only: no token and
    # no run of non-ASCII spaces holds one, while U+2028 or U+0085 can sit inside such a run.
    pieces: list[str] = []
    edits: list[Edit] = []
    old_at = new_at = 0
    for line in _lines(text):
        if unicodedata.is_normalized("NFKC", line):
            pieces.append(line)
        else:
            new, line_edits = _rewrite(_TOKEN, line, lambda token: unicodedata.normalize("NFKC", token))
            pieces.append(new)
            edits.extend((a + new_at, b + new_at, c + old_at, d + old_at) for a, b, c, d in line_edits)
        old_at += len(line)
        new_at += len(pieces[-1])
    return "".join(pieces), edits


# Cyrillic and Greek letters that look like Latin ones, folded only inside words that mix scripts,
# so that genuine Russian or Greek text keeps its letters.
_CONFUSABLES = str.maketrans(
    "АВЕЅІЈКМНОРСТХУаеіјорсхуѕԁԛԝһӏΑΒΕΖΗΙΚΜΝΟΡΤΥΧαβειικνορτυχγ",
    "ABESIJKMHOPCTXYaeijopcxysdqwhlABEZHIKMNOPTYXaBeiiKvoptuxy",
)
# Letters folded wherever they stand: RE2's case folding does not join Turkish İ/ı with I/i.
_ALWAYS_CHARS = "ıȷℓİ"
# Canonical text never holds these letters, only what replaces them: patterns must spell the replacement.
ALWAYS_FOLDED: dict[str, str] = dict(zip(_ALWAYS_CHARS, "ijlI", strict=True))
_GREEK_CYRILLIC = "\u0370-\u03ff\u0400-\u052f"
_SCRIPTS_GATE = re.compile(f"[{_GREEK_CYRILLIC}]")
_LATIN_LETTERS = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"
# A Greek or Cyrillic letter next to a Latin letter or an ASCII digit (digits, @, $ or _ between): words of
# real Greek or Russian text hold neither, while disguised ids and keywords ("5с87", "ignоre") do.
_SCRIPT_SWITCH_PATTERN = (
    f"[{_LATIN_LETTERS}0-9][@$_]*[{_GREEK_CYRILLIC}]|[{_GREEK_CYRILLIC}][@$_]*[{_LATIN_LETTERS}0-9]"
)


# Words (runs of [\w@$], which is exactly what _is_word_char accepts) made of look-alike letters, digits,
# "_", "@" and "$" only, with at least one look-alike letter.
# RE2 finds the longest runs of those characters that hold a look-alike letter; a run is a whole word
# when no other word character touches it (RE2 has no look-around, so the ends are checked in Python).
_CONFUSABLE_CLASS = "".join(f"\\x{{{k:x}}}" for k in sorted(_CONFUSABLES))
_LOOK_ALIKE_RUN_PATTERN = f"[\\p{{Nd}}_@$]*[{_CONFUSABLE_CLASS}][{_CONFUSABLE_CLASS}\\p{{Nd}}_@$]*"


def _confusables(text: str) -> tuple[str, list[Edit]]:
    # Every fold here maps one character to one character, so edits never shift positions.
    edits: list[Edit] = []
    present = [char for char in _ALWAYS_CHARS if char in text]
    if present:
        edits = [(i, i + 1, i, i + 1) for i in sorted(i for char in present for i in _positions(text, char))]
        for char in present:
            text = text.replace(char, ALWAYS_FOLDED[char])
    if not _SCRIPTS_GATE.search(text):
        return text, edits
    # Words that mix scripts hold a Latin letter next to a Greek or Cyrillic one (digits, @, $ between).
    text = _fold(text, {_word_around(text, m.start()) for m in _SCRIPT_SWITCH.finditer(text)}, edits)
    # In text that is mostly Latin once those are undone, a word spelled only with look-alike letters is
    # folded too (a disguise that swaps most letters must not tip the balance). Digits, @ and $ count as
    # Latin so that folding leetspeak later cannot change this verdict.
    if _mostly_latin(text.encode()):
        text = _fold(text, set(_look_alike_words(text)), edits)
    else:
        # Greek or Cyrillic look-alikes in a text with no other letter of that script ("致АІ助手", Han around
        # a Cyrillic "AI"; a Cyrillic "АІ" in Greek prose): real Greek or Russian has letters of its own, so
        # these are a disguise; their runs are folded.
        for genuine, runs in _SCRIPT_DISGUISES:
            if not genuine.search(text):
                text = _fold(text, set(_spans(runs, text)), edits)
    return text, sorted(set(edits))


def _positions(text: str, char: str) -> list[int]:
    found = []
    index = text.find(char)
    while index >= 0:
        found.append(index)
        index = text.find(char, index + 1)
    return found


def _look_alike_words(text: str) -> list[tuple[int, int]]:
    return [
        (start, end)
        for start, end in _spans(_LOOK_ALIKE_RUN, text)
        if not (start > 0 and _is_word_char(text[start - 1])) and not (end < len(text) and _is_word_char(text[end]))
    ]


def _fold(text: str, words: set[tuple[int, int]], edits: list[Edit]) -> str:
    """Fold the look-alike letters of `words` ([start, end) spans), recording one edit per letter."""
    if not words:
        return text
    pieces: list[str] = []
    last = 0
    for start, end in sorted(words):
        start = max(start, last)  # a word around a non-word letter (a combining mark) can overlap another
        if start >= end:
            continue
        word = text[start:end]
        folded = word.translate(_CONFUSABLES)
        pieces += (text[last:start], folded)
        last = end
        edits.extend(
            (start + i, start + i + 1, start + i, start + i + 1)
            for i, (a, b) in enumerate(zip(word, folded, strict=True))
            if a != b
        )
    pieces.append(text[last:])
    return "".join(pieces)


def _word_around(text: str, index: int) -> tuple[int, int]:
    """The [start, end) of the word ([\\w@$] characters) holding text[index]."""
    start = index
    while start > 0 and _is_word_char(text[start - 1]):
        start -= 1
    end = index + 1
    while end < len(text) and _is_word_char(text[end]):
        end += 1
    return start, end


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char in "_@$"


def _merge(edits: list[Edit], same_length: list[Edit]) -> list[Edit]:
    """Join edit lists of one-to-one folds, whose positions agree."""
    return sorted(set(edits + same_length)) if same_length else edits


_SCRIPT_SWITCH = compile_re2(_SCRIPT_SWITCH_PATTERN)


# Per script (Greek, Cyrillic): its letters that look like no Latin letter, and runs of its look-alikes.
def _script_disguise(first: int, last: int) -> tuple[re.Pattern[str], Any]:
    letters = [chr(code) for code in range(first, last) if chr(code).isalpha()]
    genuine = "".join(re.escape(char) for char in letters if ord(char) not in _CONFUSABLES)
    look_alike = "".join(f"\\x{{{ord(char):x}}}" for char in letters if ord(char) in _CONFUSABLES)
    return re.compile(f"[{genuine}]"), compile_re2(f"[{look_alike}]+")


_SCRIPT_DISGUISES = (_script_disguise(0x370, 0x400), _script_disguise(0x400, 0x530))
_LOOK_ALIKE_RUN = compile_re2(_LOOK_ALIKE_RUN_PATTERN)
_ASCII_LATIN = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@$"
_RARE_GREEK = re.compile(b"\xcd[\xb0-\xbf]")  # U+0370..U+037F
_RARE_CYRILLIC = re.compile(b"\xd4[\x80-\xaf]")  # U+0500..U+052F
_RARE_LATIN = re.compile(b"\xc9[\x80-\x8f]")  # U+0240..U+024F


def _mostly_latin(data: bytes) -> bool:
    """More than three Latin letters, ASCII digits, @ or $ for each Greek or Cyrillic letter, counted on the
    UTF-8 bytes (a lead byte never occurs inside another character), which is much faster than a scan."""
    non_latin = sum(data.count(lead) for lead in (b"\xce", b"\xcf", b"\xd0", b"\xd1", b"\xd2", b"\xd3"))
    if b"\xcd" in data:
        non_latin += len(_RARE_GREEK.findall(data))
    if b"\xd4" in data:
        non_latin += len(_RARE_CYRILLIC.findall(data))
    latin = len(data) - len(data.translate(None, _ASCII_LATIN))
    if latin > 3 * non_latin:  # what follows only adds Latin letters
        return True
    # U+00C0..U+00FF without the signs U+00D7 and U+00F7, U+0100..U+023F, and U+1E00..U+1EFF.
    latin += data.count(b"\xc3") - data.count(b"\xc3\x97") - data.count(b"\xc3\xb7")
    latin += sum(data.count(lead) for lead in (b"\xc4", b"\xc5", b"\xc6", b"\xc7", b"\xc8"))
    latin += sum(data.count(lead) for lead in (b"\xe1\xb8", b"\xe1\xb9", b"\xe1\xba", b"\xe1\xbb"))
    if b"\xc9" in data:
        latin += len(_RARE_LATIN.findall(data))
    return latin > 3 * non_latin


# Leetspeak: only tokens that mix letters with digits or @/$ are folded, so numbers stay numbers.
# RE2's leftmost match starts at the token's first character and the greedy tail runs to its end.
# A trailing ".domain" joins the token so that e-mail addresses can be recognized and left alone.
_LEET_TOKEN = compile_re2(r"[\w@$]*(?:[A-Za-z][\w@$]*[013457@$]|[013457@$][\w@$]*[A-Za-z])[\w@$]*(?:\.[A-Za-z][\w-]*)*")
# E-mail addresses, shell or template variables ($HOME, $SECRET_KEY) and names with a version or size
# suffix (base64, utf8, gpt4) are not leetspeak.
_NOT_LEET = re.compile(r"^[\w.+-]*@[\w-]+\.|^\$[A-Z_][A-Z0-9_]*(?:\.|$)|^[A-Za-z]+\d+(?:\.|$)")
_DIGIT_RUN = re.compile(r"\d{3}")
_LEET = str.maketrans("013457@$", "oieastas")


def _leet(text: str) -> tuple[str, list[Edit]]:
    def fold(token: str) -> str:
        if _NOT_LEET.match(token):
            return token
        head, dot, tail = token.partition(".")
        # Leet words are mostly letters; ids, amounts and account numbers are mostly digits.
        letters = sum(c.isalpha() for c in head)
        if not 3 <= len(head) <= 24 or letters * 2 < len(head) or _DIGIT_RUN.search(head):
            return token
        return head.translate(_LEET) + dot + tail

    return _rewrite(_LEET_TOKEN, text, fold)


# "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e": three or more letters, one separator character each.
# RE2's \b knows only ASCII words, so the run takes the neighbouring non-letter (or an end) with it.
_EDGE = r"[^\pL\pN\pM@$]"
_SPACED = compile_re2(
    "|".join(rf"(?:^|{_EDGE})\pL(?:{sep}\pL){{2,}}(?:{_EDGE}|$)" for sep in (" ", r"\.", "-", "_", r"\*", r"\|", r"\+"))
)


def _join_letters(run: str) -> str:
    lead = run[0] if not run[0].isalpha() else ""
    trail = run[-1] if not run[-1].isalpha() else ""
    return lead + run[len(lead) : len(run) - len(trail)][::2] + trail


def _spaced(text: str) -> tuple[str, list[Edit]]:
    return _rewrite(_SPACED, text, _join_letters)


# Runs of three or more whitespace characters, doubled horizontal spaces and tabs; a paragraph break
# ("\n\n") or a CRLF stays as it is, so ordinary prose needs no edit.
_WHITESPACE = compile_re2(r"[\t\n\v\f\r ]{3,}|[\t\v\f ]{2,}|[\t\v\f]")


def _whitespace(text: str) -> tuple[str, list[Edit]]:
    return _rewrite(_WHITESPACE, text, lambda run: "\n" if "\n" in run else " ")


# Combining marks stacked on Latin letters ("zalgo" text, i̷g̸n̵o̶r̴e). NFKC has already composed real
# accents (é), and the marks of Indic, Thai or Arabic scripts follow their own letters, so they stay.
_MARK_BASE = "[A-Za-z\u00c0-\u024f]"
_MARKS = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
_STACKED_MARKS = re.compile(f"(?<={_MARK_BASE}){_MARKS}+")


def _stacked_marks(text: str) -> tuple[str, list[Edit]]:
    return _rewrite(_STACKED_MARKS, text, lambda _: "")


def _tags(text: str) -> tuple[str, list[Edit]]:
    return _rewrite(_TAGS, text, lambda _: "")


def _invisible(text: str) -> tuple[str, list[Edit]]:
    return _rewrite(_INVISIBLE, text, lambda _: "")


# Each pass with the gate that tells, from one RE2 Set scan of the UTF-8 text, whether it can change
# anything; None runs it always. A pass that finds nothing returns its input, so skipping it is exact.
_GATES = (
    _TAG_CHARS,
    _INVISIBLE_CHARS,
    _MARK_BASE + _MARKS,
    f"[{_ALWAYS_CHARS}{_GREEK_CYRILLIC}]",
    _LEET_TOKEN.pattern,
    _SPACED.pattern,
    _WHITESPACE.pattern,
)
_TAGS_GATE, _INVISIBLE_GATE, _MARKS_GATE, _CONFUSABLES_GATE, _LEET_GATE, _SPACED_GATE, _WHITESPACE_GATE = range(7)
_GATE_SET = re2.Set.SearchSet(options())
for _gate_pattern in _GATES:
    _GATE_SET.Add(_gate_pattern)
_GATE_SET.Compile()

Step = tuple[str, Pass, int | None]
_UNICODE_PASSES: tuple[Step, ...] = (
    ("tag_characters", _tags, _TAGS_GATE),
    ("invisible", _invisible, _INVISIBLE_GATE),
    ("nfkc", _nfkc, None),
    ("combining_marks", _stacked_marks, _MARKS_GATE),
    ("confusables", _confusables, _CONFUSABLES_GATE),
)
_COMMON_PASSES: tuple[Step, ...] = (
    ("leetspeak", _leet, _LEET_GATE),
    ("spaced_letters", _spaced, _SPACED_GATE),
    ("whitespace", _whitespace, _WHITESPACE_GATE),
    # Collapsing whitespace can line single letters up anew ("a  b c"); join them too.
    ("spaced_letters", _spaced, _SPACED_GATE),
)
# Later passes only emit ASCII letters and spaces, so from the second round on only these can apply.
_REPEAT_PASSES = (_UNICODE_PASSES[3], _UNICODE_PASSES[4], *_COMMON_PASSES)


_MAX_ROUNDS = 4


def open_gates(data: bytes) -> list[int]:
    """The passes whose gate the UTF-8 text `data` opens (canonicalize() runs only those)."""
    return _GATE_SET.Match(data) or []


def _open_gates(text: str) -> frozenset[int]:
    return frozenset(open_gates(text.encode()))


def canonicalize(text: str, *, gates: Iterable[int] | None = None) -> Canonical:
    """Canonical form used for matching. Idempotent: canonicalize(c.text).text == c.text.

    One pass can set up work for an earlier one (joined letters that now mix scripts, collapsed
    spaces that line letters up), so the passes repeat until a round changes nothing. `gates`, when
    given, is open_gates() of the text (without lone surrogates), already asked for.
    """
    original = text
    current = text if text.isascii() else scrub_surrogates(text)
    opened = _open_gates(current) if gates is None else frozenset(gates)
    if not opened and current.isascii():
        return Canonical(text, text)
    applied: list[str] = []
    layers: list[list[Edit]] = []
    unmasked = (current, 0)
    passes = _COMMON_PASSES if current.isascii() else _UNICODE_PASSES + _COMMON_PASSES
    for _ in range(_MAX_ROUNDS):
        changed = False
        for name, run, gate in passes:
            if gate is None or gate in opened:
                current, edits = run(current)
                if edits:
                    changed = True
                    if name not in applied:
                        applied.append(name)
                    layers.append(edits)
                    opened = _open_gates(current)
            if run is _confusables and passes is not _REPEAT_PASSES:
                unmasked = (current, len(layers))
        if not changed:
            break
        passes = _COMMON_PASSES if current.isascii() else _REPEAT_PASSES
    return Canonical(current, original, tuple(applied), tuple(layers), unmasked)


def scrub_surrogates(text: str) -> str:
    """Lone surrogates cannot be encoded for RE2; U+FFFD keeps every offset where it was."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text
