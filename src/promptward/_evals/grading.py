"""Grade one answer against a case's assertions: each failing assertion gives a short reason."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .cases import (
    Assertion,
    Contains,
    Equals,
    GuardAllows,
    JsonSchema,
    Length,
    NotContains,
    Number,
    Regex,
)
from .jsonschema_lite import errors

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?")

GuardFactory = Callable[[list[str] | None], Any]  # packs -> a Guard (cached by the caller)


def extract_json(answer: str) -> Any:
    """The answer as JSON: the whole text, else its first ```json fenced block (ValueError when neither parses)."""
    text = answer.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    fenced = _FENCE.search(answer)
    if fenced is None:
        raise ValueError("the answer is not JSON")
    return json.loads(fenced.group(1))


def _fold(text: str, ignore_case: bool) -> str:
    return text.casefold() if ignore_case else text


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            raise LookupError(f"no field '{path}' in the JSON answer")
    return data


def _number(assertion: Number, answer: str) -> str | None:
    if assertion.path is not None:
        try:
            found = _at(extract_json(answer), assertion.path)
        except (ValueError, LookupError) as exc:
            return str(exc)
        if isinstance(found, bool) or not isinstance(found, int | float | str):
            return f"'{assertion.path}' is not a number"
        text = str(found)
    else:
        match = _NUMBER.search(answer)
        if match is None:
            return "no number in the answer"
        text = match.group(0)
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return f"{text!r} is not a number"
    if abs(value - assertion.value) > assertion.tolerance:
        return f"{value:g} is not within {assertion.tolerance:g} of {assertion.value:g}"
    return None


def _json_schema(assertion: JsonSchema, answer: str) -> str | None:
    try:
        data = extract_json(answer)
    except ValueError as exc:
        return f"not JSON: {exc}"
    problems = errors(data, assertion.schema_)
    return "; ".join(problems[:3]) if problems else None


def _guard(assertion: GuardAllows, answer: str, guards: GuardFactory) -> str | None:
    decision = guards(assertion.packs).check(answer, field="answer")
    if decision.action.value == "allow":
        return None
    rules = sorted({finding.rule_id for finding in decision.findings})
    return f"guard says {decision.action.value}: {', '.join(rules[:3]) or 'no rule named'}"


def check(assertion: Assertion, answer: str, guards: GuardFactory) -> str | None:
    """None when the answer passes; else why it failed."""
    if isinstance(assertion, Equals):
        ok = _fold(answer.strip(), assertion.ignore_case) == _fold(assertion.value.strip(), assertion.ignore_case)
        return None if ok else f"expected {assertion.value!r}, got {answer[:60]!r}"
    if isinstance(assertion, Contains):
        ok = _fold(assertion.value, assertion.ignore_case) in _fold(answer, assertion.ignore_case)
        return None if ok else f"does not contain {assertion.value!r}"
    if isinstance(assertion, NotContains):
        ok = _fold(assertion.value, assertion.ignore_case) not in _fold(answer, assertion.ignore_case)
        return None if ok else f"contains {assertion.value!r}"
    if isinstance(assertion, Regex):
        import re2

        return None if re2.search(assertion.pattern, answer) else f"no match for /{assertion.pattern}/"
    if isinstance(assertion, JsonSchema):
        return _json_schema(assertion, answer)
    if isinstance(assertion, Number):
        return _number(assertion, answer)
    if isinstance(assertion, Length):
        size = len(answer)
        if assertion.min is not None and size < assertion.min:
            return f"{size} characters, fewer than {assertion.min}"
        if assertion.max is not None and size > assertion.max:
            return f"{size} characters, more than {assertion.max}"
        return None
    return _guard(assertion, answer, guards)


def grade(assertions: list[Assertion], answer: str, guards: GuardFactory) -> list[tuple[str, str]]:
    """(assertion kind, reason) for each failing assertion; empty when the case passes."""
    failed: list[tuple[str, str]] = []
    for assertion in assertions:
        reason = check(assertion, answer, guards)
        if reason is not None:
            failed.append((assertion.kind, reason))
    return failed
