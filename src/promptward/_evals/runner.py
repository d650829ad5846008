"""evaluate(): render each version with each case, ask each model, grade the answers, build the matrix.

Problems of one case or model (an undeclared variable, a missing base_url, a timeout, garbage from the
endpoint) become errors in their cells; the rest of the matrix still runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError, TemplateError
from .._templates import Template, render_version
from .cases import Case, CaseSet, GuardAllows, cases_of_config, load_cases
from .grading import grade
from .llm import CallError, EvalConfig, ResponseCache, Target, complete, load_config
from .matrix import CaseOutcome, Cell, EvalMatrix, Failure

ANSWER_CHARS = 2000  # answers kept in the matrix (reports), per case


class _Version:
    def __init__(self, number: int, template: Any, contract: Any, config: dict[str, Any]) -> None:
        self.number, self.template, self.contract, self.config = number, Template.parse(template), contract, config


def _load(source: Any, slug: str, number: int) -> _Version:
    """A version from a PromptStore (get_version) or a PromptRegistry client (get(version=...))."""
    if hasattr(source, "get_version"):
        found = source.get_version(slug, number)
        return _Version(number, found.template, found.contract, dict(found.config))
    resolved = source.get(slug, version=number)
    return _Version(number, resolved.template.source, resolved.contract, dict(resolved.config))


def _messages(rendered: str | list[dict[str, str]]) -> list[dict[str, str]]:
    if isinstance(rendered, str):
        return [{"role": "user", "content": rendered}]
    return [{"role": message["role"], "content": message["content"]} for message in rendered]


class _Guards:
    def __init__(self) -> None:
        self._made: dict[tuple[str, ...], Any] = {}

    def __call__(self, packs: list[str] | None) -> Any:
        key = tuple(packs or ())
        if key not in self._made:
            from .._guard import Guard

            self._made[key] = Guard(list(packs) if packs else None)
        return self._made[key]


async def _run_case(
    client: Any,
    target: Target,
    version: _Version,
    case: Case,
    *,
    config: EvalConfig,
    cache: ResponseCache | None,
    gate: asyncio.Semaphore,
    guards: _Guards,
) -> CaseOutcome:
    base: dict[str, Any] = {"case": case.id, "weight": case.weight, "tags": case.tags}
    try:
        rendered = render_version(version.template, version.contract, case.variables)
    except TemplateError as exc:
        return CaseOutcome(**base, passed=False, error=f"case '{case.id}': {exc}")
    parameters = {**dict(version.config.get("parameters") or {}), **target.parameters}
    try:
        async with gate:
            answer = await complete(client, target, _messages(rendered), parameters, config=config, cache=cache)
    except CallError as exc:
        return CaseOutcome(**base, passed=False, error=str(exc))
    failures = [Failure(kind=kind, reason=reason) for kind, reason in grade(case.assertions, answer.text, guards)]
    return CaseOutcome(
        **base,
        passed=not failures,
        failures=failures,
        answer=answer.text[:ANSWER_CHARS],
        latency_ms=round(answer.latency_ms, 3),
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        cached=answer.cached,
        attempts=answer.attempts,
    )


async def aevaluate(
    source: Any,
    slug: str,
    versions: Sequence[int],
    models: Sequence[str] | None,
    cases: CaseSet | str | Path | None,
    *,
    config: EvalConfig | str | Path,
    tags: list[str] | None = None,
) -> EvalMatrix:
    """The async form of evaluate()."""
    try:
        import httpx
    except ImportError as exc:
        raise ConfigError(f"evals call models with httpx: pip install 'promptward[client]' ({exc})") from exc
    settings = config if isinstance(config, EvalConfig) else load_config(config)
    targets = settings.pick(list(models) if models else None)
    if not versions:
        raise ConfigError("give at least one version to evaluate")
    shared = load_cases(cases) if isinstance(cases, str | Path) else cases
    loaded = [_load(source, slug, number) for number in versions]
    plans: list[tuple[_Version, CaseSet]] = []
    for version in loaded:
        own = shared or cases_of_config(version.config, source=f"{slug} v{version.number}")
        if own is None:
            raise ConfigError(f"{slug} v{version.number} stores no cases (config.evals); pass a cases file")
        plans.append((version, own.only(tags)))
    cache = ResponseCache(settings.cache) if settings.cache else None
    gate, guards = asyncio.Semaphore(settings.concurrency), _Guards()
    for _, case_set in plans:  # build guards before any request, so grading never stalls answers in flight
        for case in case_set.cases:
            for assertion in case.assertions:
                if isinstance(assertion, GuardAllows):
                    guards(assertion.packs)
    async with httpx.AsyncClient() as client:
        jobs = {
            (version.number, target.name): [
                _run_case(client, target, version, case, config=settings, cache=cache, gate=gate, guards=guards)
                for case in case_set.cases
            ]
            for version, case_set in plans
            for target in targets
        }
        answers = await asyncio.gather(*(asyncio.gather(*group) for group in jobs.values()))
    by_version = {version.number: case_set for version, case_set in plans}
    cells = [
        Cell.build(number, model, by_version[number].threshold, by_version[number].sha256, list(outcomes))
        for (number, model), outcomes in zip(jobs, answers, strict=True)
    ]
    return EvalMatrix(slug=slug, versions=list(versions), models=[t.name for t in targets], cells=cells)


def evaluate(
    source: Any,
    slug: str,
    versions: Sequence[int],
    models: Sequence[str] | None,
    cases: CaseSet | str | Path | None,
    *,
    config: EvalConfig | str | Path,
    tags: list[str] | None = None,
) -> EvalMatrix:
    """Evaluate `versions` of `slug` (from a PromptStore or PromptRegistry) on `models` (target names in `config`,
    None: all) with `cases` (a CaseSet, a YAML path, or None: the cases each version stores in config.evals)."""
    return asyncio.run(aevaluate(source, slug, versions, models, cases, config=config, tags=tags))
