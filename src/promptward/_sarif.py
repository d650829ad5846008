"""SARIF 2.1.0 for code-scanning tools (GitHub code scanning and others)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def sarif(results: Iterable[Mapping[str, Any]], rules: Mapping[str, str], *, version: str) -> dict[str, Any]:
    """Results carry code, severity, message, path, line (optional), rule_id (optional)."""
    out = []
    for result in results:
        location: dict[str, Any] = {"artifactLocation": {"uri": str(result.get("path") or "")}}
        if result.get("line"):
            location["region"] = {"startLine": int(result["line"])}
        message = result["message"]
        if result.get("rule_id"):
            message = f"{result['rule_id']}: {message}"
        if result.get("fix"):
            message += f" Fix: {result['fix']}"
        out.append(
            {
                "ruleId": result["code"],
                "level": _LEVEL.get(str(result.get("severity")), "warning"),
                "message": {"text": message},
                "locations": [{"physicalLocation": location}],
            }
        )
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "promptward",
                        "version": version,
                        "informationUri": "https://pypi.org/project/promptward/",
                        "rules": [{"id": code, "shortDescription": {"text": text}} for code, text in rules.items()],
                    }
                },
                "results": out,
            }
        ],
    }
