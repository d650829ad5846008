"""Accuracy of the secrets pack on secrets-dev: item-level precision and recall, beside detect-secrets.

    python benchmarks/accuracy_secrets.py --corpora ../shared/corpora [--out reports]

An item is predicted positive when the default guard with the secrets pack reports any finding of
category `secret`; gold is label `secret`. Precision and recall are given per detector family (the
corpus `category`) and overall. The baseline, Yelp detect-secrets with all its default plugins, runs in
its own virtualenv (.venv-peers, made by `make peers`) through benchmarks/peers/detect_secrets_scan.py.

Misses and false alarms go to <out>/secrets-misses.jsonl and <out>/secrets-false-alarms.jsonl (reports/
is not committed). Exits 1 when a target is missed, 2 when the corpus or the peers' venv is missing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _report import print_verdicts, write_jsonl
from promptward import Guard, _pii
from promptward._packs import BUILTIN_PACKS

ROOT = Path(__file__).resolve().parents[1]
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
PEER_SCRIPT = ROOT / "benchmarks" / "peers" / "detect_secrets_scan.py"
TARGETS = {"precision": 0.95, "recall": 0.90}


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    gold: bool
    family: str


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, gold: bool, predicted: bool) -> None:
        if gold and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p and r else None


def read_items(path: Path) -> list[Item]:
    items = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                items.append(Item(row["id"], row["text"], row["label"] == "secret", row["category"]))
    return items


def default_guard() -> Guard:
    """The default guard; until the secrets pack is built in, the built-ins plus rules/secrets.yaml."""
    if "secrets" in BUILTIN_PACKS:
        return Guard()
    return Guard(["builtin", str(ROOT / "rules" / "secrets.yaml")])


def secret_rules(guard: Guard, text: str) -> list[str]:
    return sorted({f.rule_id for f in guard.check(text).findings if f.category == "secret"})


@contextmanager
def placeholder_filter_off() -> Iterator[None]:
    """Diagnostic only: how many misses the scanner's placeholder filter causes."""
    original: Callable[[str], bool] = _pii.looks_like_placeholder
    setattr(_pii, "looks_like_placeholder", lambda value: False)  # noqa: B010
    try:
        yield
    finally:
        setattr(_pii, "looks_like_placeholder", original)  # noqa: B010


def run_detect_secrets(items: list[Item]) -> dict[str, bool]:
    payload = "".join(json.dumps({"id": item.id, "text": item.text}) + "\n" for item in items)
    done = subprocess.run(
        [str(PEERS_PYTHON), str(PEER_SCRIPT)],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"detect-secrets baseline failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    predictions = {}
    for line in done.stdout.splitlines():
        row = json.loads(line)
        predictions[row["id"]] = bool(row["positive"])
    missing = [item.id for item in items if item.id not in predictions]
    if missing:
        raise RuntimeError(f"detect-secrets baseline returned no prediction for {len(missing)} items")
    return predictions


def fmt(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.2f}"


def report(ours: dict[str, Counts], peer: dict[str, Counts]) -> None:
    header = f"{'family':<20}{'n':>5}{'pos':>5}  {'ours P':>6}{'ours R':>7}  {'d-s P':>6}{'d-s R':>7}"
    print(header)
    print("-" * len(header))
    for family in sorted(k for k in ours if k != "all"):
        o, p = ours[family], peer[family]
        print(
            f"{family:<20}{o.n:>5}{o.tp + o.fn:>5}  {fmt(o.precision):>6}{fmt(o.recall):>7}"
            f"  {fmt(p.precision):>6}{fmt(p.recall):>7}"
        )
    print("-" * len(header))
    print(f"\n{'overall':<16}{'n':>5}{'tp':>5}{'fp':>5}{'fn':>5}{'P':>7}{'R':>7}{'F1':>7}")
    for name, counts in (("promptward", ours["all"]), ("detect-secrets", peer["all"])):
        c = counts
        print(f"{name:<16}{c.n:>5}{c.tp:>5}{c.fp:>5}{c.fn:>5}{fmt(c.precision):>7}{fmt(c.recall):>7}{fmt(c.f1):>7}")


def write_reports(rows: list[dict[str, Any]], out: Path) -> None:
    misses = [r for r in rows if r["gold"] and not r["ours"]]
    alarms = [r for r in rows if not r["gold"] and r["ours"]]
    write_jsonl(out / "secrets-misses.jsonl", misses)
    write_jsonl(out / "secrets-false-alarms.jsonl", alarms)
    print(f"\n{len(misses)} misses and {len(alarms)} false alarms written to {out}/secrets-*.jsonl")


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora"))
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args()
    corpora = args.corpora if args.corpora.is_absolute() else ROOT / args.corpora
    out = args.out if args.out.is_absolute() else ROOT / args.out
    corpus = corpora / "secrets-dev.jsonl"
    if not corpus.is_file():
        print(f"corpus not found: {corpus}; pass --corpora DIR", file=sys.stderr)
        return 2
    if not PEERS_PYTHON.is_file():
        print(
            "the detect-secrets baseline needs its own virtualenv .venv-peers, which is missing; "
            "run `make peers` first",
            file=sys.stderr,
        )
        return 2

    items = read_items(corpus)
    guard = default_guard()
    started = time.perf_counter()
    fired = {item.id: secret_rules(guard, item.text) for item in items}
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    peer_positive = run_detect_secrets(items)
    peer_elapsed = time.perf_counter() - started
    print(f"secrets-dev: {len(items)} items; promptward {elapsed:.2f} s, detect-secrets {peer_elapsed:.2f} s\n")

    ours: dict[str, Counts] = defaultdict(Counts)
    peer: dict[str, Counts] = defaultdict(Counts)
    rows = []
    for item in items:
        predicted = bool(fired[item.id])
        for key in (item.family, "all"):
            ours[key].add(item.gold, predicted)
            peer[key].add(item.gold, peer_positive[item.id])
        rows.append(
            {
                "id": item.id,
                "family": item.family,
                "gold": item.gold,
                "ours": predicted,
                "rules": fired[item.id],
                "detect_secrets": peer_positive[item.id],
                "text": item.text,
            }
        )
    report(ours, peer)

    missed = [item for item in items if item.gold and not fired[item.id]]
    with placeholder_filter_off():
        unfiltered = sum(1 for item in missed if secret_rules(guard, item.text))
    print(
        f"\n{unfiltered} of the {len(missed)} misses are values the placeholder filter drops "
        "(xxxx, EXAMPLE, runs of one character, ...)"
    )
    write_reports(rows, out)

    o, p = ours["all"], peer["all"]
    checks = {
        f"precision >= {TARGETS['precision']:.2f}": (o.precision or 0.0) >= TARGETS["precision"],
        f"recall >= {TARGETS['recall']:.2f}": (o.recall or 0.0) >= TARGETS["recall"],
        "precision above detect-secrets": (o.precision or 0.0) > (p.precision or 0.0),
        "recall above detect-secrets": (o.recall or 0.0) > (p.recall or 0.0),
    }
    return print_verdicts(checks)


if __name__ == "__main__":
    raise SystemExit(main())
