"""Latency of PII detection: the fast path beside Presidio's pattern recognizers, in the same run.

    python benchmarks/speed_pii.py [--rounds N] [--quick]

Texts (built in, about 2 KB of UTF-8 each): a PII-dense one (an e-mail address, phone numbers, a
card, an IBAN, an SSN, dates, an IP address about every 150 characters) and plain English prose.

Variants, timed in interleaved rounds in a rotating order so that machine noise hits them alike:
  pii pack      Guard([pii pack]).check(text): the whole check() with only the pii pack loaded
  guard + pii   Guard(["builtin", pii pack]).check(text): the attack packs as well (for reference)
  Presidio      AnalyzerEngine.analyze(text) with Presidio's default recognizers on a blank spaCy
                pipeline (no NER model): the cheapest way Presidio runs
Prints median and p99 (µs) and the ratio Presidio / pii pack on medians.
Target: the pii pack at least 10x faster than Presidio on both texts. Exits 1 on a MISS.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from promptward import Guard
from promptward._packs import BUILTIN_PACKS, builtin_pack, load_pack

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 10.0
SIZE = 2000

_DENSE = [
    "Hi team, please update the record for our new customer before Friday.",
    "Her e-mail is maria.lopez@mail.example.com and her mobile: +44 20 7946 0958.",
    "She paid with card 4111 1111 1111 1111, expiry 09/29, and asked for a receipt.",
    "The refund goes to IBAN DE89 3704 0044 0532 0130 00 at her bank in Berlin.",
    "Her SSN: 536-22-8172 was verified; date of birth 03/14/1985.",
    "Login attempts came from 203.0.113.7 and from 2001:db8::8a2e:370:7334 last night.",
    "Call me at (415) 555-2671 ext. 12 if the transfer fails, or fax 12 34 56 78.",
    "Driver's license number D1234567, issued 2019-05-02 in Sacramento.",
]
_PROSE = (
    "The river ran slow and brown past the old mill, where the wheel had not turned for years. "
    "In the mornings the light came low across the water and caught the dust above the stones. "
    "People from the village walked their dogs along the path and talked about the weather, the "
    "harvest and the new bakery that had opened near the square. Nobody hurried; the town kept its "
    "own time, and the church clock, which was always four minutes late, agreed with everyone. "
)


def build(sentences: list[str] | str) -> str:
    parts = [sentences] if isinstance(sentences, str) else sentences
    text = ""
    index = 0
    while len(text.encode()) < SIZE:
        text += parts[index % len(parts)] + " "
        index += 1
    return text.encode()[:SIZE].decode(errors="ignore")


def pii_pack() -> object:
    return builtin_pack("pii") if "pii" in BUILTIN_PACKS else load_pack(ROOT / "rules" / "pii.yaml")


def timed(func: Callable[[], object], samples: list[float]) -> None:
    started = time.perf_counter_ns()
    func()
    samples.append((time.perf_counter_ns() - started) / 1000)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="a few seconds, indicative figures only")
    args = parser.parse_args()
    rounds = 40 if args.quick else args.rounds

    try:
        from promptward._presidio import build_analyzer

        analyzer = build_analyzer("en", ner=False)
    except ImportError as exc:
        print(f"Presidio is not available ({exc}); pip install 'promptward[presidio]'", file=sys.stderr)
        return 2
    pack = pii_pack()
    only_pii = Guard([pack])  # type: ignore[list-item]
    with_attacks = Guard(["builtin", pack])  # type: ignore[list-item]

    texts = {"PII-dense 2 KB": build(_DENSE), "plain prose 2 KB": build(_PROSE)}
    ok = True
    print(f"{'text':<18}{'variant':<14}{'median µs':>12}{'p99 µs':>12}{'findings':>10}")
    for name, text in texts.items():
        variants: dict[str, Callable[[], object]] = {
            "pii pack": lambda t=text: only_pii.check(t),
            "guard + pii": lambda t=text: with_attacks.check(t),
            "Presidio": lambda t=text: analyzer.analyze(text=t, language="en"),
        }
        found = {
            "pii pack": len(only_pii.check(text).findings),
            "guard + pii": len([f for f in with_attacks.check(text).findings if f.entity_type]),
            "Presidio": len([r for r in analyzer.analyze(text=text, language="en") if r.score >= 0.5]),
        }
        samples: dict[str, list[float]] = {key: [] for key in variants}
        for func in variants.values():  # warm up
            for _ in range(5):
                func()
        order = list(variants)
        gc.disable()
        try:
            for index in range(rounds):
                shift = index % len(order)
                for key in order[shift:] + order[:shift]:
                    timed(variants[key], samples[key])
        finally:
            gc.enable()
        medians = {key: statistics.median(values) for key, values in samples.items()}
        for key, values in samples.items():
            print(f"{name:<18}{key:<14}{medians[key]:>12.1f}{p99(values):>12.1f}{found[key]:>10}")
        ratio = medians["Presidio"] / medians["pii pack"]
        passed = ratio >= TARGET_RATIO
        ok &= passed
        verdict = "PASS" if passed else "MISS"
        print(f"{'':<18}Presidio / pii pack = {ratio:.1f}x  {verdict} (target >= {TARGET_RATIO:.0f}x)")
    print("(findings: Presidio counted at score >= 0.5; guard + pii counts data findings only)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
