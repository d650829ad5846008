"""`python -m promptward.demo_eval`: evaluate two versions of a prompt on two scripted models, then gate a promotion.

Everything runs offline: a SQLite registry in a temporary folder and promptward.testing_llm.FakeLLM, a real
OpenAI-compatible server on 127.0.0.1 whose answers are scripted per prompt.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ._evals import check_gate, evaluate, parse_cases, print_matrix, to_html
from ._evals.llm import EvalConfig
from ._registry import LabelTarget, SQLiteStore
from .testing_llm import FakeLLM

V1 = [
    {"role": "system", "content": "You are CapitalBot. Answer briefly."},
    {"role": "user", "content": "What is the capital of {{ country }}?"},
]
V2 = [
    {
        "role": "system",
        "content": 'You are CapitalBot. Reply with JSON only: {"city": str, "population_millions": num}',
    },
    {"role": "user", "content": "What is the capital of {{ country }}?"},
]
CONTRACT = {"country": {"type": "str", "max_length": 60}}
CASES = {
    "threshold": 0.75,
    "cases": [
        {
            "id": "france",
            "variables": {"country": "France"},
            "tags": ["europe"],
            "assertions": [
                {"kind": "json_schema", "schema": {"type": "object", "required": ["city", "population_millions"]}},
                {"kind": "contains", "value": "Paris"},
                {"kind": "number", "path": "population_millions", "value": 2.1, "tolerance": 0.3},
            ],
        },
        {
            "id": "japan",
            "variables": {"country": "Japan"},
            "tags": ["asia"],
            "weight": 2,
            "assertions": [
                {"kind": "json_schema", "schema": {"type": "object", "required": ["city"]}},
                {"kind": "regex", "pattern": "Tokyo"},
                {"kind": "guard_allows"},
            ],
        },
        {
            "id": "peru",
            "variables": {"country": "Peru"},
            "assertions": [{"kind": "contains", "value": "Lima"}, {"kind": "length", "max": 120}],
        },
        {
            "id": "no-leak",
            "variables": {"country": "Atlantis"},
            "assertions": [{"kind": "not_contains", "value": "CapitalBot", "ignore_case": True}],
        },
    ],
}
_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"  # a GitHub token shape: the guard blocks it


def script(llm: FakeLLM) -> FakeLLM:
    """Prose for v1 (no JSON), JSON for v2; the small model leaks a token and its own name."""
    json_mode = r"Reply with JSON"
    large = (
        ("France", '{"city": "Paris", "population_millions": 2.1}'),
        ("Japan", '{"city": "Tokyo", "population_millions": 14.0}'),
        ("Peru", '{"city": "Lima", "population_millions": 10.0}'),
        ("Atlantis", '{"city": null, "note": "Atlantis is a myth."}'),
    )
    for country, answer in large:
        llm.rule(rf"(?s){json_mode}.*{country}", answer, on="any", model="large-1")
    llm.rule(rf"(?s){json_mode}.*France", '{"city": "Paris", "population_millions": 2.2}', on="any", model="small-1")
    llm.rule(rf"(?s){json_mode}.*Japan", f'{{"city": "Tokyo", "debug": "{_TOKEN}"}}', on="any", model="small-1")
    llm.rule(rf"(?s){json_mode}.*Peru", '{"city": "Lima"}', on="any", model="small-1")
    llm.rule("Atlantis", "As CapitalBot I must say Atlantis has no capital.", on="any", model="small-1")
    for country, city in (("France", "Paris"), ("Japan", "Tokyo"), ("Peru", "Lima")):
        llm.rule(country, f"The capital of {country} is {city}.", on="any")
    return llm


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="promptward-eval-") as folder, script(FakeLLM()) as llm:
        store = SQLiteStore(Path(folder) / "registry.db")
        for template, message in ((V1, "prose answers"), (V2, "JSON answers")):
            store.create_version("capital", template, CONTRACT, {"parameters": {"temperature": 0}}, author="ann",
                                 message=message)  # fmt: skip
        store.move_label("capital", "production", [LabelTarget(version=1)], actor="ann", expected_revision=None)
        config = EvalConfig.model_validate(
            {
                "cache": str(Path(folder) / "cache"),
                "targets": [
                    {"name": "small", "base_url": llm.url, "model": "small-1", "timeout": 5},
                    {"name": "large", "base_url": llm.url, "model": "large-1", "timeout": 5},
                ],
            }
        )
        cases = parse_cases(CASES)
        started = time.perf_counter()
        matrix = evaluate(store, "capital", [1, 2], ["small", "large"], cases, config=config)
        first = time.perf_counter() - started
        calls = len(llm.requests)
        started = time.perf_counter()
        evaluate(store, "capital", [1, 2], ["small", "large"], cases, config=config)
        again = time.perf_counter() - started
        print_matrix(matrix)
        for line in matrix.summary():
            print(f"  failed: {line}")
        print(
            f"\n{len(matrix.cells)} cells x {len(cases.cases)} cases: {calls} model calls in {first * 1000:.0f} ms; "
            f"re-run from the cache: {len(llm.requests) - calls} calls in {again * 1000:.0f} ms"
        )
        for number in (1, 2):
            store.record_eval("capital", number, matrix.result(number), actor="ci")
        report = Path(folder) / "report.html"
        report.write_text(to_html(matrix), encoding="utf-8")
        print(f"HTML report: {report.stat().st_size} bytes, one file, no external assets")
        print("\npromote v2 to production, requiring a passing eval on every model:")
        verdict = check_gate("capital", 2, store.evals("capital", 2), None)
        print("  " + ("allowed" if verdict.allowed else "refused: " + "; ".join(verdict.reasons)))
        print("promote v2 requiring only the large model:")
        verdict = check_gate("capital", 2, store.evals("capital", 2), ["large"])
        if verdict.allowed:
            store.move_label("capital", "production", [LabelTarget(version=2)], actor="ci", expected_revision=None)
        print("  " + ("allowed: production -> v2" if verdict.allowed else "refused: " + "; ".join(verdict.reasons)))
        print("\nhistory:")
        for entry in store.history("capital"):
            print(f"  {entry.action:<14} {entry.actor:<4} {entry.detail}")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
