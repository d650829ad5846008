"""What crafted input costs check(): text stitched from fragments of the prefilter's own literals.

Prose visits few of the literal Set's DFA states; text made of pieces of its 19,000 words and phrases keeps
thousands of them half-matched at every byte, so RE2 builds states almost byte by byte. This prints the
time of check() on such texts (each one new) beside prose of the same size, and how the process grows.

    python benchmarks/crafted_input.py [--corpora DIR] [--texts 3] [--sizes 200000 1000000]
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from pathlib import Path

from promptward import Guard
from promptward._prefilter import SEP, literal_requirement
from speed import benign_window, cut, load_benign, resolve_corpora


def literals(guard: Guard) -> list[str]:
    """Every literal the prefilter looks for, its words joined by a space."""
    found: set[str] = set()
    for rule in guard.matcher.rules:
        for branch in literal_requirement(rule.pattern) or ():
            for condition in branch:
                found.update(literal.replace(SEP, " ") for literal in condition)
    return sorted(found)


def crafted(words: list[str], seed: int, nbytes: int) -> str:
    """Whole literals and their prefixes, one after the other, cut to `nbytes` of UTF-8."""
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    while size < nbytes:
        word = rng.choice(words)
        piece = word if rng.random() < 0.5 else word[: rng.randint(1, len(word))]
        parts.append(piece)
        size += len(piece.encode()) + 1
    return cut(" ".join(parts), nbytes)


def prose(corpora: Path, nbytes: int) -> str:
    """The corpus's benign items joined by blank lines, as long as needed."""
    return cut(benign_window(load_benign(corpora), 0, nbytes), nbytes)


def rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", default="../shared/corpora", help="relative to the repo root")
    parser.add_argument("--texts", type=int, default=3, help="crafted texts per size, each new")
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    args = parser.parse_args()
    guard = Guard()
    words = literals(guard)
    print(f"{len(words)} literals; peak RSS after Guard(): {rss_mb()} MB")
    print("| text | bytes | check() ms | peak RSS MB |")
    print("| --- | ---: | ---: | ---: |")
    for nbytes in args.sizes:
        texts = [("prose", prose(resolve_corpora(args.corpora), nbytes))]
        texts += [(f"crafted #{seed + 1}", crafted(words, seed, nbytes)) for seed in range(args.texts)]
        for label, text in texts:
            started = time.perf_counter()
            guard.check(text)
            elapsed = (time.perf_counter() - started) * 1000
            print(f"| {label} | {len(text.encode()):,} | {elapsed:,.0f} | {rss_mb():,} |", flush=True)


if __name__ == "__main__":
    main()
