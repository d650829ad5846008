"""The matrix as a rich table, JSON, or one self-contained HTML file (inline CSS, no external assets)."""

from __future__ import annotations

import html
import json
from typing import Any

from .matrix import Cell, EvalMatrix


def _tokens(cell: Cell) -> str:
    if cell.prompt_tokens is None and cell.completion_tokens is None:
        return "-"
    return f"{cell.prompt_tokens or 0}+{cell.completion_tokens or 0}"


def _latency(cell: Cell) -> str:
    return "-" if cell.latency_p50_ms is None else f"{cell.latency_p50_ms:.0f} ms"


def _failures(cell: Cell) -> str:
    parts = [f"{kind} x{count}" for kind, count in sorted(cell.failures.items())]
    return ", ".join(parts) or "-"


def _errors(cell: Cell) -> str:
    return "; ".join(f"{message} (x{count})" for message, count in sorted(cell.errors.items())) or "-"


def rows(matrix: EvalMatrix) -> list[list[str]]:
    return [
        [
            f"v{cell.version}",
            cell.model,
            f"{cell.pass_rate:.0%}",
            f"{cell.threshold:.0%}",
            "PASS" if cell.passed else "FAIL",
            _failures(cell),
            _errors(cell),
            _latency(cell),
            _tokens(cell),
        ]
        for cell in matrix.cells
    ]


COLUMNS = ["version", "model", "pass", "needs", "verdict", "failed assertions", "errors", "p50", "tokens in+out"]


def print_matrix(matrix: EvalMatrix, *, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{matrix.slug}: versions x models", title_justify="left")
    for column in COLUMNS:
        table.add_column(column, overflow="fold", justify="right" if column in ("pass", "needs", "p50") else "left")
    for row in rows(matrix):
        style = "green" if row[4] == "PASS" else "red"
        table.add_row(*row[:4], f"[{style}]{row[4]}[/]", *row[5:])
    (console or Console(highlight=False, width=160)).print(table)


def to_json(matrix: EvalMatrix) -> dict[str, Any]:
    data = matrix.model_dump(mode="json")
    data["passed"] = matrix.passed
    data["summary"] = matrix.summary()
    return data


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1d2330;background:#fafbfc}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0 1rem}
td,th{border:1px solid #d6dae1;padding:.35rem .6rem;vertical-align:top;text-align:left}th{background:#eef1f5}
.pass{background:#e3f6e8;color:#15602b;font-weight:600}.fail{background:#fde7e7;color:#8a1c1c;font-weight:600}
.cell small{display:block;color:#5b6472;font-weight:400}details{margin:.3rem 0}code,pre{font-size:12px}
pre{white-space:pre-wrap;max-width:60rem;background:#f1f3f6;padding:.4rem;margin:.2rem 0}
"""


def _matrix_table(matrix: EvalMatrix) -> str:
    head = "".join(f"<th>{html.escape(model)}</th>" for model in matrix.models)
    body = []
    for version in matrix.versions:
        cells = []
        for model in matrix.models:
            cell = matrix.cell(version, model)
            verdict = "pass" if cell.passed else "fail"
            detail = f"needs {cell.threshold:.0%} · p50 {_latency(cell)} · tokens {_tokens(cell)}"
            if cell.failures:
                detail += f" · {_failures(cell)}"
            if cell.errors:
                detail += f" · {sum(cell.errors.values())} errors"
            text = f"{cell.pass_rate:.0%} {verdict.upper()}<small>{html.escape(detail)}</small>"
            cells.append(f'<td class="cell {verdict}">{text}</td>')
        body.append(f"<tr><th>v{version}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>version</th>{head}</tr>{''.join(body)}</table>"


def _cases_table(cell: Cell) -> str:
    lines = []
    for item in cell.outcomes:
        verdict = "pass" if item.passed else "fail"
        why = [f"{failure.kind}: {failure.reason}" for failure in item.failures]
        if item.error:
            why.append(f"error: {item.error}")
        answer = f"<pre>{html.escape(item.answer)}</pre>" if item.answer is not None else ""
        tags = ", ".join(item.tags)
        lines.append(
            f'<tr><td>{html.escape(item.case)}</td><td class="{verdict}">{verdict.upper()}</td><td>{item.weight:g}</td>'
            f"<td>{html.escape(tags)}</td><td>{html.escape('; '.join(why)) or '-'}</td><td>{answer}</td></tr>"
        )
    head = "<tr><th>case</th><th>verdict</th><th>weight</th><th>tags</th><th>why</th><th>answer</th></tr>"
    return f"<table>{head}{''.join(lines)}</table>"


def to_html(matrix: EvalMatrix) -> str:
    """One HTML page: the matrix, then every cell's cases with the answers and why each failed."""
    title = f"promptward eval: {html.escape(matrix.slug)}"
    verdict = "every cell passed" if matrix.passed else f"{len(matrix.summary())} cell(s) failed"
    details = []
    for cell in matrix.cells:
        name = f"v{cell.version} on {html.escape(cell.model)}: {cell.pass_rate:.0%}"
        details.append(f"<details><summary>{name}</summary>{_cases_table(cell)}</details>")
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in matrix.summary())
    data = json.dumps(to_json(matrix)).replace("</", "<\\/")  # safe inside <script>
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body><h1>{title}</h1><p>{verdict}</p>"
        f"{_matrix_table(matrix)}<ul>{summary}</ul><h2>Cases</h2>{''.join(details)}"
        f'<script type="application/json" id="matrix">{data}</script>'
        "</body></html>\n"
    )
