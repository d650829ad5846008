"""Output habits shared by every command: aligned tables with colour on a terminal, JSON on request."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right" if _numeric(rows, index) else "left")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    Console(highlight=False, width=max(100, _terminal_width())).print(table)


def _numeric(rows: Sequence[Sequence[Any]], index: int) -> bool:
    return bool(rows) and all(isinstance(row[index], (int, float)) or _percent(row[index]) for row in rows)


def _percent(value: Any) -> bool:
    return isinstance(value, str) and value.endswith("%") and value[:-1].replace(".", "", 1).isdigit()


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


@contextmanager
def progress(total: int, description: str, *, enabled: bool = True) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal; a no-op callback otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield lambda advance=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda advance=1: bar.advance(task, advance)


def percent(value: float) -> str:
    return f"{value:.1%}"
