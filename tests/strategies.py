"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

ZERO_WIDTH = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u202e",
    "\u202c",
    "\u2066",
    "\u2069",
]
CONFUSABLE = {
    "a": "а",
    "c": "с",
    "e": "е",
    "i": "і",
    "o": "о",
    "p": "р",
    "x": "х",
    "y": "у",
    "A": "А",
    "B": "В",
    "E": "Е",
    "H": "Н",
    "I": "І",
    "K": "К",
    "M": "М",
    "O": "О",
    "P": "Р",
    "T": "Т",
}
TAG_CHARS = [chr(0xE0000 + c) for c in (0x01, 0x20, 0x41, 0x61, 0x7A, 0x7F)]

# Any code point at all, lone surrogates and NUL included.
any_text = st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF, categories=None))

# Text built from the pieces canonicalization cares about, so its passes meet each other.
tricky_text = st.lists(
    st.one_of(
        st.sampled_from(["ignore", "all", "previous", "a", "b", "I", "x", "0", "1", "3", "@", "$", "."]),
        st.sampled_from([" ", "  ", "   ", "\n", "\n\n", "\t", "-", "_"]),
        st.sampled_from(ZERO_WIDTH + TAG_CHARS + list(CONFUSABLE.values()) + ["ı", "ｉ", "ﬁ", "é", "e\u0301", "¨"]),
        st.text(max_size=4),
    ),
    max_size=40,
).map("".join)


@st.composite
def disguised(draw: st.DrawFn, text: str) -> str:
    """`text` with zero-width or tag characters inserted and letters swapped for look-alikes."""
    chars = list(text)
    for index in sorted(draw(st.lists(st.integers(0, len(chars)), max_size=6)), reverse=True):
        chars.insert(index, draw(st.sampled_from(ZERO_WIDTH + TAG_CHARS)))
    swap = draw(st.floats(0, 1))
    out = []
    for ch in chars:
        out.append(CONFUSABLE[ch] if ch in CONFUSABLE and draw(st.floats(0, 1)) < swap else ch)
    return "".join(out)
