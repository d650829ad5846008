"""Evaluating prompt versions across models (issue 9): cases as data, the runner against a real scripted
OpenAI-compatible server (faults included), reports, eval results stored with versions, the promotion gate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from promptward import ConfigError, PromptNotFound
from promptward._evals import check_gate, evaluate, load_cases, parse_cases, to_html, to_json
from promptward._evals.grading import grade
from promptward._evals.llm import EvalConfig
from promptward._registry import PromptStore
from promptward._registry.models import EvalResult, EvalScore
from promptward.cli import main
from promptward.testing_llm import FakeLLM
from tests.test_server import Live, open_test_store, start_live

TEMPLATE = [
    {"role": "system", "content": "You are GeoBot."},
    {"role": "user", "content": "Capital of {{ country }}?"},
]
CONTRACT = {"country": {"type": "str"}}
CASES_YAML = """\
threshold: 0.75
cases:
  - id: france
    variables: {country: France}
    tags: [europe]
    assertions:
      - {kind: contains, value: Paris}
      - {kind: guard_allows}
  - id: japan
    variables: {country: Japan}
    weight: 2
    assertions:
      - {kind: json_schema, schema: {type: object, required: [city], properties: {city: {type: string}}}}
      - {kind: number, path: pop, value: 14, tolerance: 0.5}
"""


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        server.rule("France", "The capital is Paris.").rule("Japan", '{"city": "Tokyo", "pop": 14.1}')
        yield server


@pytest.fixture
def store(tmp_path: Path) -> Iterator[PromptStore]:
    with open_test_store("sqlite", tmp_path) as opened:
        opened.create_version("geo", TEMPLATE, CONTRACT, {}, author="ann", message="v1")
        yield opened


def config(llm: FakeLLM, *targets: dict[str, Any], **settings: Any) -> EvalConfig:
    default = [{"name": "a", "base_url": llm.url, "model": "m-a", "timeout": 5}]
    return EvalConfig.model_validate({"backoff": 0, "targets": list(targets) or default, **settings})


# -- cases and grading -------------------------------------------------------------------------------------------


def test_cases_load_from_yaml_with_weights_tags_and_threshold(tmp_path: Path) -> None:
    (tmp_path / "cases.yaml").write_text(CASES_YAML)
    cases = load_cases(tmp_path / "cases.yaml")
    assert cases.threshold == 0.75 and [case.weight for case in cases.cases] == [1.0, 2.0]
    assert [case.id for case in cases.only(["europe"]).cases] == ["france"]
    assert len(cases.sha256) == 64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"cases": [{"id": "x", "assertions": [{"kind": "regex", "pattern": "(?<=a)b"}]}]}, "RE2"),
        ({"cases": [{"id": "x", "assertions": [{"kind": "json_schema", "schema": {"format": "email"}}]}]}, "format"),
        ({"cases": [{"id": "x", "assertions": [{"kind": "shout"}]}]}, "shout"),
        ({"cases": [{"id": "x", "assertions": []}]}, "assertions"),
        ({"cases": [{"id": "x", "assertions": [{"kind": "length"}]}]}, "min, max"),
        ({"cases": [{"id": "x", "oops": 1, "assertions": [{"kind": "length", "max": 1}]}]}, "oops"),
        ({"cases": [{"id": "x", "assertions": [{"kind": "length", "max": 1}]}] * 2}, "distinct"),
    ],
)
def test_bad_cases_are_config_errors_naming_the_problem(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_cases(data)


def _guards(packs: list[str] | None) -> Any:
    from promptward._guard import Guard

    return Guard(packs)


@pytest.mark.parametrize(
    ("assertion", "answer", "passes"),
    [
        ({"kind": "equals", "value": "Paris"}, " Paris\n", True),
        ({"kind": "equals", "value": "paris", "ignore_case": True}, "PARIS", True),
        ({"kind": "equals", "value": "Paris"}, "Lyon", False),
        ({"kind": "contains", "value": "Paris"}, "It is Paris.", True),
        ({"kind": "not_contains", "value": "GeoBot", "ignore_case": True}, "I am geobot", False),
        ({"kind": "regex", "pattern": r"^\d{4}$"}, "2024", True),
        ({"kind": "json_schema", "schema": {"type": "object", "required": ["a"]}}, '```json\n{"a": 1}\n```', True),
        ({"kind": "json_schema", "schema": {"type": "array", "items": {"type": "integer"}}}, "[1, 2.5]", False),
        ({"kind": "json_schema", "schema": {"type": "object"}}, "not json", False),
        ({"kind": "number", "value": 3.14, "tolerance": 0.01}, "pi is about 3.141", True),
        ({"kind": "number", "value": 10, "path": "n.0"}, '{"n": [12]}', False),
        ({"kind": "length", "min": 2, "max": 5}, "abc", True),
        ({"kind": "length", "max": 5}, "abcdef", False),
        ({"kind": "guard_allows"}, "Paris.", True),
        ({"kind": "guard_allows"}, "token ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", False),
    ],
)
def test_each_assertion_kind(assertion: dict[str, Any], answer: str, passes: bool) -> None:
    case = parse_cases({"cases": [{"id": "x", "assertions": [assertion]}]}).cases[0]
    assert (not grade(case.assertions, answer, _guards)) is passes


# -- the runner against the scripted server ------------------------------------------------------------------------


def test_matrix_of_versions_by_models_with_weighted_pass_rate(store: PromptStore, tmp_path: Path) -> None:
    store.create_version("geo", [TEMPLATE[1]], CONTRACT, {}, author="ann", message="v2")
    (tmp_path / "cases.yaml").write_text(CASES_YAML)
    with FakeLLM() as llm:  # rules are tried in order: model b answers Japan in prose, failing the weight-2 case
        llm.rule("Japan", "Tokyo, I think.", model="m-b")
        llm.rule("France", "The capital is Paris.").rule("Japan", '{"city": "Tokyo", "pop": 14.1}')
        targets = (
            {"name": "a", "base_url": llm.url, "model": "m-a"},
            {"name": "b", "base_url": llm.url, "model": "m-b"},
        )
        matrix = evaluate(store, "geo", [1, 2], None, tmp_path / "cases.yaml", config=config(llm, *targets))
    assert [(cell.version, cell.model) for cell in matrix.cells] == [(1, "a"), (1, "b"), (2, "a"), (2, "b")]
    assert matrix.cell(1, "a").passed and matrix.cell(1, "a").pass_rate == 1.0
    b = matrix.cell(1, "b")
    assert not b.passed and b.pass_rate == pytest.approx(1 / 3) and b.failures == {"json_schema": 1, "number": 1}
    assert b.latency_p50_ms is not None and b.prompt_tokens and b.completion_tokens
    assert not matrix.passed and [line.split(":")[0] for line in matrix.summary()] == ["v1 on b", "v2 on b"]
    data = json.loads(json.dumps(to_json(matrix)))
    assert data["passed"] is False and len(data["cells"]) == 4
    page = to_html(matrix)
    assert page.startswith("<!doctype html>") and "<style>" in page
    assert "<link" not in page and " src=" not in page and "@import" not in page  # self-contained


def test_faults_are_reported_per_cell_and_the_rest_still_runs(store: PromptStore, tmp_path: Path) -> None:
    cases = parse_cases(
        {
            "threshold": 0.5,
            "cases": [
                {
                    "id": "ok",
                    "variables": {"country": "France"},
                    "assertions": [{"kind": "contains", "value": "Paris"}],
                },
                {"id": "typo", "variables": {"contry": "Peru"}, "assertions": [{"kind": "length", "max": 99}]},
            ],
        }
    )
    with FakeLLM() as llm:
        llm.rule("France", "Paris")
        llm.fail(429, times=2, model="flaky").fail(500, times=1, model="flaky")
        llm.slow(2.0, model="sleepy").garbage(model="broken")
        targets = [
            {"name": "flaky", "base_url": llm.url, "model": "flaky"},
            {"name": "sleepy", "base_url": llm.url, "model": "sleepy", "timeout": 0.3},
            {"name": "broken", "base_url": llm.url, "model": "broken"},
            {"name": "nowhere", "model": "x"},
        ]
        matrix = evaluate(store, "geo", [1], None, cases, config=config(llm, *targets, retries=3))
    assert [cell.model for cell in matrix.cells] == ["flaky", "sleepy", "broken", "nowhere"]
    undeclared = next(iter(matrix.cell(1, "flaky").errors))
    assert "contry" in undeclared and "not declared" in undeclared
    flaky = matrix.cell(1, "flaky")
    ok = next(item for item in flaky.outcomes if item.case == "ok")
    assert ok.passed and ok.attempts == 4  # 429, 429, 500, then the answer
    assert any("timed out after 0.3 s" in error for error in matrix.cell(1, "sleepy").errors)
    assert any("malformed response" in error for error in matrix.cell(1, "broken").errors)
    assert any("has no base_url" in error for error in matrix.cell(1, "nowhere").errors)
    assert not any(cell.passed for cell in matrix.cells)  # every cell carries the undeclared-variable error


def test_retries_give_up_with_the_last_status(store: PromptStore) -> None:
    cases = parse_cases(
        {"cases": [{"id": "x", "variables": {"country": "France"}, "assertions": [{"kind": "length", "max": 9}]}]}
    )
    with FakeLLM() as llm:
        llm.fail(503, times=None)
        matrix = evaluate(store, "geo", [1], None, cases, config=config(llm, retries=2))
        assert len(llm.requests) == 3
    assert matrix.cell(1, "a").errors == {"HTTP 503 after 3 attempts": 1}


def test_the_cache_makes_reruns_free(store: PromptStore, llm: FakeLLM, tmp_path: Path) -> None:
    (tmp_path / "cases.yaml").write_text(CASES_YAML)
    settings = config(llm, cache=str(tmp_path / "cache"))
    first = evaluate(store, "geo", [1], None, tmp_path / "cases.yaml", config=settings)
    calls = len(llm.requests)
    again = evaluate(store, "geo", [1], None, tmp_path / "cases.yaml", config=settings)
    assert calls == 2 and len(llm.requests) == calls
    assert again.cell(1, "a").cached == 2 and again.cell(1, "a").pass_rate == first.cell(1, "a").pass_rate


def test_cases_stored_in_the_version_config(store: PromptStore, llm: FakeLLM) -> None:
    stored = {
        "cases": [
            {"id": "fr", "variables": {"country": "France"}, "assertions": [{"kind": "contains", "value": "Paris"}]}
        ]
    }
    store.create_version("geo", TEMPLATE, CONTRACT, {"evals": stored}, author="ann", message="with cases")
    assert evaluate(store, "geo", [2], None, None, config=config(llm)).passed
    with pytest.raises(ConfigError, match="stores no cases"):
        evaluate(store, "geo", [1], None, None, config=config(llm))


# -- eval results with the version, on every store; the gate ---------------------------------------------------------


def _result(*scores: tuple[str, float, bool]) -> EvalResult:
    return EvalResult(
        threshold=0.8,
        scores=[EvalScore(model=m, pass_rate=r, threshold=0.8, passed=p, cases=5) for m, r, p in scores],
    )


@pytest.mark.parametrize("kind", ["sqlite", "yaml", "postgres"])
def test_stores_keep_eval_results_with_versions_and_audit_them(kind: str, tmp_path: Path) -> None:
    with open_test_store(kind, tmp_path) as store:
        store.create_version("geo", TEMPLATE, CONTRACT, {}, author="ann", message="v1")
        store.create_version("geo", [TEMPLATE[1]], CONTRACT, {}, author="ann", message="v2")
        first = store.record_eval("geo", 2, _result(("a", 0.6, False)), actor="ci")
        store.record_eval("geo", 2, _result(("a", 0.9, True), ("b", 1.0, True)), actor="ci")
        store.record_eval("geo", 1, {"threshold": 0.8, "scores": []}, actor="ci")
        assert first.version == 2 and first.sha256 == store.get_version("geo", 2).sha256 and first.actor == "ci"
        assert [len(record.scores) for record in store.evals("geo", 2)] == [1, 2]
        assert [record.version for record in store.evals("geo")] == [2, 2, 1]
        assert [entry.action for entry in store.history("geo")][-3:] == ["eval.record"] * 3
        with pytest.raises(PromptNotFound):
            store.record_eval("geo", 3, _result(), actor="ci")
        with pytest.raises(ConfigError, match="threshold"):
            store.record_eval("geo", 1, {"scores": []}, actor="ci")
        bundle = store.export_prompt("geo")
        assert len(bundle.evals) == 3
        with open_test_store("yaml", tmp_path / "copy") as copy:
            assert copy.import_prompt(bundle) and copy.evals("geo", 2) == store.evals("geo", 2)
        assert not check_gate("geo", 2, store.evals("geo", 2), ["a", "b", "c"]).allowed
        assert check_gate("geo", 2, store.evals("geo", 2), None).allowed
        assert "no recorded eval" in check_gate("geo", 1, store.evals("geo", 2), None).reasons[0]


def test_gate_uses_the_latest_eval_per_model() -> None:
    from promptward._registry.eval_store import eval_record
    from promptward._registry.models import PromptVersion, content_hash, utc_now

    version = PromptVersion(slug="geo", version=2, template="x", created_at=utc_now(), sha256=content_hash("x", {}, {}))
    older = eval_record(version, _result(("a", 1.0, True), ("b", 1.0, True)), actor="ci")[0]
    newer = eval_record(version, _result(("a", 0.5, False)), actor="ci")[0]
    verdict = check_gate("geo", 2, [older, newer], ["a", "b"])
    assert not verdict.allowed and verdict.reasons == ["a: pass rate 50% below threshold 80%"]
    assert verdict.checked == {"a": 0.5, "b": 1.0}


# -- the commands -----------------------------------------------------------------------------------------------------


def _files(tmp_path: Path, llm: FakeLLM) -> tuple[str, str]:
    (tmp_path / "cases.yaml").write_text(CASES_YAML)
    (tmp_path / "models.yaml").write_text(
        f"backoff: 0\ntargets:\n  - {{name: a, base_url: '{llm.url}', model: m-a}}\n"
        f"  - {{name: b, base_url: '{llm.url}', model: m-b}}\n  - {{name: c, model: m-c}}\n"
    )
    return str(tmp_path / "cases.yaml"), str(tmp_path / "models.yaml")


def test_eval_and_promote_commands_on_a_store(tmp_path: Path, llm: FakeLLM, capsys: pytest.CaptureFixture[str]) -> None:
    with open_test_store("sqlite", tmp_path) as store:
        store.create_version("geo", TEMPLATE, CONTRACT, {}, author="ann", message="v1")
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    cases, models = _files(tmp_path, llm)
    base = ["prompts", "eval", "geo", "--versions", "1", "--cases", cases, "--config", models, "--store", url]
    code = main([*base, "--models", "a,c", "--html", str(tmp_path / "r.html")])
    out, err = capsys.readouterr()
    assert code == 1 and "v1 on c" in err and "has no base_url" in err and "PASS" in out and "FAIL" in out
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")
    promote = ["prompts", "promote", "geo", "--version", "1", "--label", "production", "--store", url]
    assert main([*promote, "--require-eval"]) == 1
    assert "refused" in capsys.readouterr().err
    assert main([*promote, "--require-eval", "--models", "a"]) == 0
    assert "production -> v1 (eval gate passed)" in capsys.readouterr().out
    assert main([*base, "--models", "a,b", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] and [cell["model"] for cell in data["cells"]] == ["a", "b"]
    assert main(["prompts", "promote", "geo", "--version", "9", "--store", url, "--require-eval"]) == 1
    assert main(["prompts", "eval", "geo", "--versions", "x", "--config", models, "--store", url]) == 2
    assert main([*base, "--models", "zzz"]) == 2
    assert "not in the config" in capsys.readouterr().err


def test_eval_and_promote_through_the_server(tmp_path: Path, llm: FakeLLM, capsys: pytest.CaptureFixture[str]) -> None:
    with start_live("sqlite", tmp_path) as live:
        live.store.create_version("geo", TEMPLATE, CONTRACT, {}, author="ann", message="v1")
        cases, models = _files(tmp_path, llm)

        def run(*args: str, role: str = "editor") -> int:
            return main(["prompts", "--url", live.url, "--api-key", live.keys[role], *args])

        assert run("eval", "geo", "--versions", "1", "--models", "a", "--cases", cases, "--config", models) == 0
        assert run("promote", "geo", "--version", "1", "--require-eval", "--models", "a,b") == 1
        assert "b: no eval of v1" in capsys.readouterr().err
        assert run("promote", "geo", "--version", "1", "--require-eval") == 0
        assert live.store.get_label("geo", "production").targets[0].version == 1
        _check_endpoints(live)


def _check_endpoints(live: Live) -> None:
    with live.client("editor") as editor, live.client("reader") as reader:
        listed = reader.get("/prompts/geo/versions/1/evals").json()["items"]
        assert listed[-1]["scores"][0]["model"] == "a" and listed[-1]["actor"] == "editor-key"
        body = _result(("z", 1.0, True)).model_dump(mode="json")
        assert reader.post("/prompts/geo/versions/1/evals", json=body).status_code == 403
        created = editor.post("/prompts/geo/versions/1/evals", json=body)
        assert created.status_code == 201 and created.json()["version"] == 1
        assert editor.post("/prompts/geo/versions/1/evals", json={"scores": 1}).status_code == 422
        assert editor.post("/prompts/geo/versions/7/evals", json=body).status_code == 404
        assert reader.get("/prompts/geo/versions/7/evals").status_code == 404
        history = reader.get("/prompts/geo/history").json()["items"]
        assert [entry["action"] for entry in history].count("eval.record") == 2


def test_fake_llm_speaks_the_openai_shape() -> None:
    with FakeLLM(default="dunno") as llm:
        llm.rule("terse", "Yes.", on="system")
        body = {
            "model": "m",
            "messages": [{"role": "system", "content": "be terse"}, {"role": "user", "content": "ok?"}],
        }
        answer = httpx.post(f"{llm.url}/chat/completions", json=body).json()
        assert answer["choices"][0]["message"]["content"] == "Yes." and answer["usage"]["completion_tokens"] == 1
        body["messages"] = [{"role": "user", "content": "hm"}]
        assert (
            httpx.post(f"{llm.url}/chat/completions", json=body).json()["choices"][0]["message"]["content"] == "dunno"
        )
        llm.garbage(times=1)
        with pytest.raises(ValueError):
            httpx.post(f"{llm.url}/chat/completions", json=body).json()
        assert len(llm.requests) == 3
