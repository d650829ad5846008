"""`promptward decisions ...`: read decision records back from a sink."""

from __future__ import annotations

from typing import Any

import click

from ._cli_common import EXIT_OK, emit_json, percent, print_table
from ._exceptions import ConfigError


@click.group()
def decisions() -> None:
    """Read the decision records a Guard wrote to a sink."""


@decisions.command()
@click.option(
    "--sink", "sink", required=True, metavar="SPEC", help="jsonl:PATH, sqlite:PATH or postgresql://user@host/db."
)
@click.option("--table", default=None, help="Table of a SQL sink (default promptward_decisions).")
@click.option("--since", default=None, metavar="WHEN", help="Only records since WHEN: 7d, 12h, 30m or an ISO time.")
@click.option("--prompt", "prompt", default=None, metavar="SLUG", help="Only records of this prompt slug.")
@click.option("--top", default=5, show_default=True, help="Top rules shown per group.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def stats(sink: str, table: str | None, since: str | None, prompt: str | None, top: int, as_json: bool) -> int:
    """Checks, block/redact/flag rates, top rules and latency per prompt version and per pack version.

    \b
    Examples:
      promptward decisions stats --sink jsonl:decisions.jsonl --since 7d
      promptward decisions stats --sink sqlite:decisions.db --prompt support-answer --json
      promptward decisions stats --sink postgresql://app@db/prod --table promptward_decisions
    """
    from ._stats import decision_stats, parse_since, read_sink

    start = parse_since(since) if since else None
    try:
        result = decision_stats(read_sink(sink, since=start, table=table), since=start, prompt=prompt, top=top)
    except OSError as exc:
        raise ConfigError(f"cannot read sink {sink!r}: {exc}") from None
    except ImportError:
        raise
    except Exception as exc:  # a database that refuses the connection, a table of another shape
        if type(exc).__module__.startswith("psycopg"):
            raise ConfigError(f"cannot read sink {sink!r}: {exc}".strip()) from None
        raise
    if as_json:
        emit_json(result)
        return EXIT_OK
    if not result["checks"]:
        click.echo("no decisions recorded" + (f" since {since}" if since else "") + ".")
        return EXIT_OK
    columns = ["checks", "block", "redact", "flag", "p50 ms", "p95 ms", "p99 ms", "top rules"]
    print_table(
        f"{result['checks']} decisions per prompt version",
        ["prompt", "version", "variant", *columns],
        [[g["slug"], _dash(g["version"]), _dash(g["variant"]), *_cells(g)] for g in result["prompts"]],
    )
    click.echo()
    print_table(
        "per rule-pack version",
        ["pack", "version", *columns],
        [[g["pack"], _dash(g["version"]), *_cells(g)] for g in result["packs"]],
    )
    return EXIT_OK


def _dash(value: Any) -> str:
    return "-" if value is None else str(value)


def _cells(group: dict[str, Any]) -> list[Any]:
    latency = group["latency_ms"]
    rules = ", ".join(f"{r['rule_id']} ({r['checks']})" for r in group["top_rules"]) or "-"
    return [
        group["checks"],
        percent(group["block_rate"]),
        percent(group["redact_rate"]),
        percent(group["flag_rate"]),
        *(_ms(latency[q]) for q in ("p50", "p95", "p99")),
        rules,
    ]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
