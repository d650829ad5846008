"""Accuracy of the built-in packs on the dev corpora: recall per category and language, false alarms.

    python benchmarks/accuracy.py --corpora ../shared/corpora [--out reports]

An item counts as detected when the guard returns any finding from the screening packs
(injection, injection-i18n, jailbreak, exfiltration, obfuscation); low-severity flags on benign
text count as false alarms too.
Misses and false alarms go to <out>/injection-misses.jsonl and <out>/injection-false-alarms.jsonl.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from promptward import Guard

SCREENING_PACKS = {"injection", "injection-i18n", "jailbreak", "exfiltration", "obfuscation"}
TARGETS = {"recall": 0.85, "category_recall": 0.70, "fpr_benign": 0.01, "fpr_hard_negative": 0.03}


def load_jsonl(path: Path) -> list[dict[str, object]]:
    items = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    print(f"{path}:{number}: skipped, not JSON ({exc.msg})", file=sys.stderr)
    return items


def evaluate_injection(guard: Guard, items: list[dict[str, object]], out: Path) -> bool:
    hits: dict[str, Counter[str]] = defaultdict(Counter)
    per_rule: dict[str, Counter[str]] = defaultdict(Counter)
    misses, false_alarms = [], []
    started = time.perf_counter()
    for item in items:
        text = str(item["text"])
        decision = guard.check(text)
        rules = sorted({f.rule_id for f in decision.findings if f.pack in SCREENING_PACKS})
        detected = bool(rules)
        category, lang = str(item["category"]), str(item["lang"])
        attack = item["label"] == "attack"
        for rule in rules:
            per_rule[rule]["tp" if attack else "fp"] += 1
        if attack:
            for key in (f"category:{category}", f"lang:{lang}", "all"):
                hits[key]["n"] += 1
                hits[key]["hit"] += detected
            if not detected:
                misses.append({"id": item["id"], "category": category, "lang": lang, "text": text})
        else:
            hits[f"benign:{category}"]["n"] += 1
            hits[f"benign:{category}"]["hit"] += detected
            if detected:
                false_alarms.append({"id": item["id"], "category": category, "rules": rules, "text": text})
    elapsed = time.perf_counter() - started

    def rate(key: str) -> float:
        return hits[key]["hit"] / hits[key]["n"] if hits[key]["n"] else 0.0

    print(f"injection-dev: {len(items)} items in {elapsed:.1f} s")
    print(f"\n{'attack category':<24}{'n':>6}{'recall':>9}")
    for key in sorted(k for k in hits if k.startswith("category:")):
        print(f"{key.removeprefix('category:'):<24}{hits[key]['n']:>6}{rate(key):>9.1%}")
    print(f"{'all attacks':<24}{hits['all']['n']:>6}{rate('all'):>9.1%}")
    print(f"\n{'language':<24}{'n':>6}{'recall':>9}")
    for key in sorted((k for k in hits if k.startswith("lang:")), key=lambda k: -hits[k]["n"]):
        print(f"{key.removeprefix('lang:'):<24}{hits[key]['n']:>6}{rate(key):>9.1%}")
    print(f"\n{'benign set':<24}{'n':>6}{'FPR':>9}")
    for key in ("benign:benign", "benign:hard_negative"):
        print(f"{key.removeprefix('benign:'):<24}{hits[key]['n']:>6}{rate(key):>9.1%}")
    print(f"\n{'rule':<56}{'tp':>6}{'fp':>6}")
    for rule, counts in sorted(per_rule.items(), key=lambda kv: (-kv[1]["fp"], -kv[1]["tp"])):
        print(f"{rule:<56}{counts['tp']:>6}{counts['fp']:>6}")

    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("injection-misses", misses), ("injection-false-alarms", false_alarms)):
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"\nmisses and false alarms written to {out}/")

    categories = [k for k in hits if k.startswith("category:")]
    checks = {
        f"recall >= {TARGETS['recall']:.0%}": rate("all") >= TARGETS["recall"],
        f"every category >= {TARGETS['category_recall']:.0%}": all(
            rate(k) >= TARGETS["category_recall"] for k in categories
        ),
        f"FPR benign <= {TARGETS['fpr_benign']:.0%}": rate("benign:benign") <= TARGETS["fpr_benign"],
        f"FPR hard negatives <= {TARGETS['fpr_hard_negative']:.0%}": rate("benign:hard_negative")
        <= TARGETS["fpr_hard_negative"],
    }
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'MISS'}  {name}")
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--packs", nargs="*", help="pack files or folders (default: the built-in packs)")
    args = parser.parse_args()
    corpus = args.corpora / "injection-dev.jsonl"
    if not corpus.is_file():
        print(f"corpus not found: {corpus}; pass --corpora DIR", file=sys.stderr)
        return 2
    guard = Guard(args.packs or None)
    ok = evaluate_injection(guard, load_jsonl(corpus), args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
