"""The promptward command. Exit codes: 0 clean, 1 blocked or failed checks, 2 usage or configuration."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ._cli_common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from ._cli_decisions import decisions
from ._cli_evals import eval_command as _eval_command  # noqa: F401  (adds `prompts eval` and `promote`)
from ._cli_prompts import keys, prompts, serve
from ._cli_rules import rules
from ._exceptions import ConfigError


class _Group(click.Group):
    def run(self, args: list[str] | None) -> Any:
        # Configuration errors are the user's to fix: a message and exit 2, never a traceback.
        try:
            return self.main(args=args, prog_name="promptward", standalone_mode=False)
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.ClickException as exc:
            exc.show()
            return EXIT_USAGE
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            return EXIT_USAGE
        except (ConfigError, ImportError) as exc:
            click.echo(f"error: {exc}", err=True)
            return EXIT_USAGE


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="promptward")
def cli() -> None:
    """promptward: screen untrusted text with rule packs, and audit the packs.

    \b
    Examples:
      promptward check "Ignore all previous instructions"
      promptward rules lint rules/ && promptward rules test rules/
      promptward rules eval rules/ --corpus corpus.jsonl
    \b
    Exit codes: 0 clean, 1 blocked or failed checks, 2 usage or configuration error.
    """


def _build_guard(packs: tuple[str, ...], config: str | None, mode: str | None, presidio: bool) -> Any:
    from ._guard import Guard

    if config:
        return Guard.from_config(config)
    return Guard(list(packs) or None, mode=mode or "enforce", presidio=presidio)  # type: ignore[arg-type]


def _texts(text: tuple[str, ...], file: str | None, jsonl: bool) -> list[tuple[str, str]]:
    if text:
        return [("arg", " ".join(text))]
    raw = Path(file).read_bytes() if file and file != "-" else sys.stdin.buffer.read()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.UsageError(f"input is not UTF-8 text (byte {exc.start}); pass a text file") from None
    if not jsonl:
        return [("input", content)]
    items = []
    for number, line in enumerate(content.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            click.echo(f"line {number}: skipped, not JSON ({exc.msg})", err=True)
            continue
        body = value.get("text") if isinstance(value, dict) else value
        if not isinstance(body, str):
            click.echo(f"line {number}: skipped, no 'text' string", err=True)
            continue
        items.append((str(value.get("id", number)) if isinstance(value, dict) else str(number), body))
    return items


@cli.command()
@click.argument("text", nargs=-1)
@click.option(
    "--file", "-f", type=click.Path(dir_okay=False, allow_dash=True), help="Read text from FILE ('-': stdin)."
)
@click.option("--jsonl", is_flag=True, help="Input holds one JSON object per line with a 'text' field.")
@click.option("--pack", "packs", multiple=True, help="Pack file, folder, 'builtin' or 'builtin:NAME' (repeatable).")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), help="Guard configuration YAML.")
@click.option("--mode", type=click.Choice(["enforce", "monitor"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print decision records as JSON lines.")
@click.option("--presidio", is_flag=True, help="Add Presidio's recognizers (extra promptward[presidio]).")
def check(
    text: tuple[str, ...],
    file: str | None,
    jsonl: bool,
    packs: tuple[str, ...],
    config: str | None,
    mode: str | None,
    as_json: bool,
    presidio: bool,
) -> int:
    """Screen TEXT (or --file, or stdin) and print the decision; exit 1 when blocked.

    \b
    Examples:
      promptward check "Ignore all previous instructions"
      echo "hello" | promptward check
      promptward check --file prompts.jsonl --jsonl --json
    """
    guard = _build_guard(packs, config, mode, presidio)
    blocked = False
    for name, body in _texts(text, file, jsonl):
        decision = guard.check(body)
        blocked |= decision.blocked
        if as_json:
            click.echo(json.dumps({"input": name, **decision.to_record()}))
            continue
        colour = {"block": "red", "redact": "yellow", "flag": "yellow"}.get(decision.action.value, "green")
        click.echo(f"{name}: " + click.style(decision.action.value.upper(), fg=colour, bold=True))
        for finding in decision.findings:
            via = f" (decoded from {finding.decoded_from})" if finding.decoded_from else ""
            click.echo(
                f"  {finding.severity:<8} {finding.rule_id:<48} "
                f"[{finding.span.start}:{finding.span.end}] {finding.span.of(body)[:60]!r}{via}"
            )
    return EXIT_FINDINGS if blocked else EXIT_OK


cli.add_command(rules)
cli.add_command(decisions)
cli.add_command(prompts)
cli.add_command(serve)
cli.add_command(keys)


def main(argv: list[str] | None = None) -> int:
    assert isinstance(cli, _Group)
    result = cli.run(argv)
    return result if isinstance(result, int) else EXIT_OK
