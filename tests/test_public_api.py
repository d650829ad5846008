"""The public surface is exactly what DESIGN.md section 2 names, and importing it stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import promptward

EXPECTED = [
    "Action",
    "ConfigError",
    "Decision",
    "Finding",
    "Guard",
    "InvalidVariable",
    "MissingVariable",
    "PromptBlocked",
    "PromptNotFound",
    "PromptRegistry",
    "PromptwardError",
    "RegistryError",
    "RegistryUnavailable",
    "RulePackError",
    "ScanError",
    "ScanTimeout",
    "ScannerUnavailable",
    "Span",
    "TemplateError",
    "UnexpectedVariable",
    "VersionConflict",
]


def test_all_is_sorted_and_pinned() -> None:
    assert promptward.__all__ == sorted(promptward.__all__)
    assert promptward.__all__ == EXPECTED
    for name in promptward.__all__:
        assert getattr(promptward, name).__module__.startswith("promptward")


def test_error_tree() -> None:
    from promptward import (
        ConfigError,
        PromptBlocked,
        PromptNotFound,
        PromptwardError,
        RulePackError,
        ScanError,
        ScannerUnavailable,
        ScanTimeout,
        TemplateError,
    )

    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, PromptwardError)
    assert issubclass(RulePackError, ConfigError)
    assert issubclass(ScanTimeout, ScanError) and issubclass(ScanTimeout, TimeoutError)
    assert issubclass(ScannerUnavailable, ImportError)
    assert issubclass(PromptNotFound, LookupError)
    assert issubclass(TemplateError, ValueError)
    assert issubclass(PromptBlocked, PromptwardError)


IMPORT_PROBE = """
import json, sys, time
started = time.perf_counter()
import promptward
elapsed = time.perf_counter() - started
heavy = sorted(m for m in ("presidio_analyzer", "spacy", "uvicorn", "httpx", "starlette") if m in sys.modules)
print(json.dumps({"ms": elapsed * 1000, "heavy": heavy}))
"""


def test_import_is_light_and_fast() -> None:
    # Best of three fresh interpreters, so a busy machine does not fail the test on one slow start.
    runs = [
        json.loads(
            subprocess.run([sys.executable, "-c", IMPORT_PROBE], check=True, capture_output=True, text=True).stdout
        )
        for _ in range(3)
    ]
    assert all(run["heavy"] == [] for run in runs), runs
    assert min(run["ms"] for run in runs) < 100, runs
