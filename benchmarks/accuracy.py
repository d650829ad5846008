"""Accuracy of the built-in packs on injection-dev: recall per category and language, false alarms.

    python benchmarks/accuracy.py --corpora ../shared/corpora [--out reports]

An item counts as detected when the guard returns any finding from the screening packs
(injection, injection-i18n, jailbreak, exfiltration, obfuscation); low-severity flags on benign
text count as false alarms too. Misses and false alarms go to <out>/injection-misses.jsonl and
<out>/injection-false-alarms.jsonl. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _report import print_verdicts, write_jsonl
from promptward import Guard
from promptward._evaluate import Evaluation, evaluate, read_corpus

SCREENING_PACKS = {"injection", "injection-i18n", "jailbreak", "exfiltration", "obfuscation"}
TARGETS = {"recall": 0.85, "category_recall": 0.70, "fpr_benign": 0.01, "fpr_hard_negative": 0.03}
ROOT = Path(__file__).resolve().parents[1]


def report(result: Evaluation, elapsed: float, n: int) -> None:
    print(f"injection-dev: {n} items in {elapsed:.1f} s")
    print(f"\n{'attack category':<24}{'n':>6}{'recall':>9}")
    for key in sorted(result.keys("category:")):
        print(f"{key.removeprefix('category:'):<24}{result.counts[key]['n']:>6}{result.rate(key):>9.1%}")
    print(f"{'all attacks':<24}{result.counts['all']['n']:>6}{result.rate('all'):>9.1%}")
    print(f"\n{'language':<24}{'n':>6}{'recall':>9}")
    for key in result.keys("lang:"):
        print(f"{key.removeprefix('lang:'):<24}{result.counts[key]['n']:>6}{result.rate(key):>9.1%}")
    print(f"\n{'benign set':<24}{'n':>6}{'FPR':>9}")
    for key in ("benign:benign", "benign:hard_negative"):
        print(f"{key.removeprefix('benign:'):<24}{result.counts[key]['n']:>6}{result.rate(key):>9.1%}")
    print(f"\n{'rule':<56}{'tp':>6}{'fp':>6}")
    for rule, counts in sorted(result.per_rule.items(), key=lambda kv: (-kv[1]["fp"], -kv[1]["tp"])):
        print(f"{rule:<56}{counts['tp']:>6}{counts['fp']:>6}")


def write_reports(result: Evaluation, out: Path) -> None:
    misses = ({"id": i.id, "category": i.category, "lang": i.lang, "text": i.text} for i in result.misses)
    alarms = ({"id": i.id, "category": i.category, "rules": list(r), "text": i.text} for i, r in result.false_alarms)
    write_jsonl(out / "injection-misses.jsonl", misses)
    write_jsonl(out / "injection-false-alarms.jsonl", alarms)
    print(f"\nmisses and false alarms written to {out}/")


def verdicts(result: Evaluation) -> dict[str, bool]:
    categories = result.keys("category:")
    return {
        f"recall >= {TARGETS['recall']:.0%}": result.rate("all") >= TARGETS["recall"],
        f"every category >= {TARGETS['category_recall']:.0%}": all(
            result.rate(k) >= TARGETS["category_recall"] for k in categories
        ),
        f"FPR benign <= {TARGETS['fpr_benign']:.0%}": result.rate("benign:benign") <= TARGETS["fpr_benign"],
        f"FPR hard negatives <= {TARGETS['fpr_hard_negative']:.0%}": result.rate("benign:hard_negative")
        <= TARGETS["fpr_hard_negative"],
    }


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--corpora", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    parser.add_argument("--packs", nargs="*", help="pack files or folders (default: the built-in packs)")
    args = parser.parse_args()
    corpus = args.corpora / "injection-dev.jsonl"
    if not corpus.is_file():
        print(f"corpus not found: {corpus}; pass --corpora DIR", file=sys.stderr)
        return 2
    items, problems = read_corpus(corpus)
    for problem in problems:
        print(problem, file=sys.stderr)
    guard = Guard(args.packs or None)
    started = time.perf_counter()
    result = evaluate(guard, items, packs=SCREENING_PACKS)
    report(result, time.perf_counter() - started, len(items))
    write_reports(result, args.out)
    return print_verdicts(verdicts(result))


if __name__ == "__main__":
    raise SystemExit(main())
