"""PII span accuracy on pii-dev: the fast path (rule pack `pii`) beside Presidio's pattern recognizers.

    python benchmarks/accuracy_pii.py --corpora ../shared/corpora [--out reports]

Per entity type: precision, recall and F1 over spans. A predicted span is a true positive when it
overlaps a gold span of the same type; a gold span is found when a predicted span of its type overlaps
it. The same figures with exact boundaries are printed beside them.

Systems, measured in the same run on the same texts:
  fast path   Guard() with the `pii` pack (the built-in packs plus rules/pii.yaml until `pii` is built in);
              only findings that carry an entity type count.
  Presidio    presidio-analyzer's AnalyzerEngine with every recognizer it enables by default, on a
              blank spaCy pipeline (no NER model, no network). Presidio reports scores from 0.01 up, so
              it is scored at several thresholds and, per entity type, at its best one.

Each system is scored only on the types it can produce that the corpus labels (the corpus uses some
names Presidio has no recognizer for: STREET_ADDRESS, ZIP_CODE, DOMAIN_NAME, AGE, TITLE, NRP, GPE).
Targets, on every type both systems cover: fast-path F1 >= Presidio's best F1 and >= 0.90.
Writes the fast path's missed gold spans and false positives to <out>/pii-misses.jsonl and
<out>/pii-false-positives.jsonl. Exits 1 on a MISS, 2 when the corpus or Presidio is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from _report import write_jsonl
from promptward import Guard
from promptward._packs import BUILTIN_PACKS, load_pack

ROOT = Path(__file__).resolve().parents[1]
F1_FLOOR = 0.90
PRESIDIO_THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6)

Span = tuple[int, int, str]  # start, end, entity type


@dataclass
class Item:
    id: str
    text: str
    gold: list[Span]


@dataclass
class Counts:
    pred: int = 0
    pred_hit: int = 0
    pred_exact: int = 0
    gold: int = 0
    gold_hit: int = 0
    gold_exact: int = 0

    def scores(self, exact: bool = False) -> tuple[float, float, float]:
        tp_pred = self.pred_exact if exact else self.pred_hit
        tp_gold = self.gold_exact if exact else self.gold_hit
        precision = tp_pred / self.pred if self.pred else (1.0 if not self.gold else 0.0)
        recall = tp_gold / self.gold if self.gold else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1


@dataclass
class Result:
    counts: dict[str, Counts] = field(default_factory=lambda: defaultdict(Counts))
    misses: list[dict[str, object]] = field(default_factory=list)
    false_positives: list[dict[str, object]] = field(default_factory=list)


def read_items(path: Path) -> list[Item]:
    items = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            gold = [(s["start"], s["end"], s["entity_type"]) for s in row["spans"]]
            items.append(Item(row["id"], row["text"], gold))
    return items


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(items: Sequence[Item], predictions: Sequence[Iterable[Span]], types: set[str]) -> Result:
    result = Result()
    for item, predicted in zip(items, predictions, strict=True):
        pred = [p for p in predicted if p[2] in types]
        gold = [g for g in item.gold if g[2] in types]
        for p in pred:
            counts = result.counts[p[2]]
            counts.pred += 1
            same = [g for g in gold if g[2] == p[2]]
            if any(_overlaps(p, g) for g in same):
                counts.pred_hit += 1
            else:
                result.false_positives.append(_row(item, p))
            counts.pred_exact += any(p[:2] == g[:2] for g in same)
        for g in gold:
            counts = result.counts[g[2]]
            counts.gold += 1
            same = [p for p in pred if p[2] == g[2]]
            if any(_overlaps(p, g) for p in same):
                counts.gold_hit += 1
            else:
                result.misses.append(_row(item, g))
            counts.gold_exact += any(p[:2] == g[:2] for p in same)
    return result


def _row(item: Item, span: Span) -> dict[str, object]:
    start, end, kind = span
    return {"id": item.id, "entity_type": kind, "start": start, "end": end, "value": item.text[start:end],
            "text": item.text}  # fmt: skip


def fast_path() -> tuple[Guard, set[str]]:
    if "pii" in BUILTIN_PACKS:
        guard = Guard()
        from promptward._packs import builtin_pack

        pack = builtin_pack("pii")
    else:
        pack = load_pack(ROOT / "rules" / "pii.yaml")
        guard = Guard(["builtin", pack])
    return guard, {rule.entity_type for rule in pack.rules if rule.enabled}


def fast_predictions(guard: Guard, items: Sequence[Item]) -> list[list[Span]]:
    out = []
    for item in items:
        findings = guard.check(item.text).findings
        out.append([(f.span.start, f.span.end, f.entity_type) for f in findings if f.entity_type])
    return out


def presidio_predictions(items: Sequence[Item]) -> tuple[list[list[tuple[int, int, str, float]]], set[str]]:
    from promptward._presidio import build_analyzer

    analyzer = build_analyzer("en", ner=False)
    recognizers = analyzer.registry.get_recognizers(language="en", all_fields=True)
    types = {str(e) for r in recognizers for e in r.supported_entities}
    out = []
    for item in items:
        results = analyzer.analyze(text=item.text, language="en", score_threshold=0.0)
        out.append([(r.start, r.end, r.entity_type, r.score) for r in results])
    return out, types


def table(title: str, result: Result, types: Iterable[str], thresholds: dict[str, float] | None = None) -> None:
    print(f"\n{title}")
    head = f"{'entity type':<22}{'gold':>6}{'pred':>6}{'P':>8}{'R':>8}{'F1':>8}   {'exact P':>8}{'R':>7}{'F1':>7}"
    print(head + ("  thr" if thresholds else ""))
    for kind in sorted(types):
        c = result.counts[kind]
        p, r, f = c.scores()
        ep, er, ef = c.scores(exact=True)
        line = f"{kind:<22}{c.gold:>6}{c.pred:>6}{p:>8.3f}{r:>8.3f}{f:>8.3f}   {ep:>8.3f}{er:>7.3f}{ef:>7.3f}"
        if thresholds:
            line += f"  {thresholds.get(kind, 0.0):.1f}"
        print(line)


def write_reports(result: Result, out: Path) -> None:
    write_jsonl(out / "pii-misses.jsonl", result.misses)
    write_jsonl(out / "pii-false-positives.jsonl", result.false_positives)
    print(f"\nfast-path misses and false positives written to {out}/pii-*.jsonl")


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    args = parser.parse_args()
    corpora = args.corpora if args.corpora.is_absolute() else ROOT / args.corpora
    corpus = corpora / "pii-dev.jsonl"
    if not corpus.is_file():
        print(f"corpus not found: {corpus}; pass --corpora DIR", file=sys.stderr)
        return 2
    items = read_items(corpus)
    gold_types = {g[2] for item in items for g in item.gold}

    guard, ours = fast_path()
    started = time.perf_counter()
    fast = fast_predictions(guard, items)
    fast_s = time.perf_counter() - started
    try:
        started = time.perf_counter()
        raw, theirs = presidio_predictions(items)
        presidio_s = time.perf_counter() - started
    except ImportError as exc:
        print(f"Presidio is not available ({exc}); pip install 'promptward[presidio]'", file=sys.stderr)
        return 2

    ours_scored = ours & gold_types
    theirs_scored = theirs & gold_types
    both = sorted(ours_scored & theirs_scored)
    print(f"pii-dev: {len(items)} items, {sum(len(i.gold) for i in items)} gold spans")
    print(f"fast path {fast_s:.2f} s, Presidio (pattern recognizers, no NER) {presidio_s:.2f} s")
    print(f"corpus types:         {', '.join(sorted(gold_types))}")
    unlabelled = "types the corpus does not label"
    print(f"fast path can report: {', '.join(sorted(ours_scored))}  (+ {len(ours - gold_types)} {unlabelled})")
    print(f"Presidio can report:  {', '.join(sorted(theirs_scored))}  (+ {len(theirs - gold_types)} {unlabelled})")
    print(f"both cover:           {', '.join(both)}")

    ours_result = score(items, fast, ours_scored)
    table("fast path (pii pack)", ours_result, ours_scored)

    by_threshold = {
        t: score(items, [[(s, e, k) for s, e, k, sc in row if sc >= t] for row in raw], theirs_scored)
        for t in PRESIDIO_THRESHOLDS
    }
    best: dict[str, float] = {}
    best_result = Result()
    for kind in theirs_scored:
        t = max(PRESIDIO_THRESHOLDS, key=lambda t: by_threshold[t].counts[kind].scores()[2])
        best[kind] = t
        best_result.counts[kind] = by_threshold[t].counts[kind]
    table("Presidio, best threshold per type (thr)", best_result, theirs_scored, best)
    table("Presidio at score_threshold 0.5", by_threshold[0.5], theirs_scored)

    unlabeled = defaultdict(int)
    for row in fast:
        for _, _, kind in row:
            if kind not in gold_types:
                unlabeled[kind] += 1
    if unlabeled:
        print("\nfast-path findings of types the corpus does not label (all would be false alarms): "
              + ", ".join(f"{k} {n}" for k, n in sorted(unlabeled.items())))  # fmt: skip

    print("\ntargets (types both cover)")
    ok = True
    for kind in both:
        f_ours = ours_result.counts[kind].scores()[2]
        f_theirs = best_result.counts[kind].scores()[2]
        passed = f_ours >= f_theirs and f_ours >= F1_FLOOR
        ok &= passed
        verdict = "PASS" if passed else "MISS"
        print(f"{verdict}  {kind:<20} F1 {f_ours:.3f}  (Presidio {f_theirs:.3f}, floor {F1_FLOOR:.2f})")
    write_reports(ours_result, args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
