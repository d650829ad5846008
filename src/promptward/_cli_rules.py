"""`promptward rules lint|test|eval|diff|bench|new`: audit rule packs like code."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import click

from ._cli_common import EXIT_FINDINGS, EXIT_OK, emit_json, percent, print_table, progress
from ._exceptions import ConfigError

PACKS = click.argument("packs", nargs=-1, required=True, type=click.Path(exists=True))


@click.group()
def rules() -> None:
    """Audit rule packs: lint, test, eval, diff, bench, and scaffold new rules.

    \b
    Exit codes: 0 clean, 1 findings or failures, 2 usage or configuration error.
    """


def _version() -> str:
    from . import __version__

    return __version__


@rules.command()
@PACKS
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
@click.option("--sarif", type=click.Path(dir_okay=False, writable=True), help="Also write SARIF 2.1.0 to FILE.")
def lint(packs: tuple[str, ...], as_json: bool, sarif: str | None) -> int:
    """Check packs for schema errors, risky or too broad patterns, duplicates and missing examples.

    Errors and warnings fail (exit 1); info findings are advice.

    \b
    Examples:
      promptward rules lint rules/
      promptward rules lint my-pack.yaml --sarif lint.sarif
    """
    from ._lint import CODES, lint_paths

    findings = lint_paths(packs)
    if sarif:
        from ._sarif import sarif as build

        Path(sarif).write_text(json.dumps(build([f.to_dict() for f in findings], CODES, version=_version()), indent=2))
    failing = [f for f in findings if f.severity in ("error", "warning")]
    if as_json:
        emit_json({"findings": [f.to_dict() for f in findings], "failed": bool(failing)})
    elif findings:
        # One compiler-style line per finding reads well on a terminal and in CI logs alike.
        colours = {"error": "red", "warning": "yellow", "info": "cyan"}
        for f in findings:
            where = f"{f.path}:{f.line}" if f.line else f.path
            rule = f" [{f.rule_id}]" if f.rule_id else ""
            severity = click.style(f.severity, fg=colours[f.severity], bold=f.severity == "error")
            click.echo(f"{where}: {f.code} {severity}{rule} {f.message}; fix: {f.fix}")
        click.echo(f"{len(failing)} errors and warnings, {len(findings) - len(failing)} info")
    else:
        click.echo(click.style("no lint findings", fg="green"))
    return EXIT_FINDINGS if failing else EXIT_OK


def _load(packs: tuple[str, ...]) -> list[Any]:
    from ._lint import pack_files
    from ._packs import load_pack

    return [load_pack(path) for path in pack_files(packs)]


@rules.command("test")
@PACKS
@click.option("--json", "as_json", is_flag=True, help="Print failures as JSON.")
@click.option("--sarif", type=click.Path(dir_okay=False, writable=True), help="Also write SARIF 2.1.0 to FILE.")
def test_command(packs: tuple[str, ...], as_json: bool, sarif: str | None) -> int:
    """Run every rule's match/no_match examples through canonicalization and the matcher.

    \b
    Examples:
      promptward rules test rules/
      promptward rules test my-pack.yaml --json
    """
    from ._examples import example_failures

    count, failures = example_failures(_load(packs))
    if sarif:
        from ._sarif import sarif as build

        results = [
            {
                "code": "PW100",
                "severity": "error",
                "path": f.path,
                "rule_id": f.rule_id,
                "message": f.describe(),
            }
            for f in failures
        ]
        codes = {"PW100": "a rule example does not behave as declared"}
        Path(sarif).write_text(json.dumps(build(results, codes, version=_version()), indent=2))
    if as_json:
        emit_json({"examples": count, "failures": [f.to_dict() for f in failures]})
    else:
        if failures:
            rows = [(f.rule_id, f.kind, f.example[:70], ", ".join(f.fired) or "-") for f in failures]
            print_table(None, ("rule", "expected", "example", "fired"), rows)
        status = click.style("ok", fg="green") if not failures else click.style("FAILED", fg="red")
        click.echo(f"{count} examples, {len(failures)} failures: {status}")
    return EXIT_FINDINGS if failures else EXIT_OK


def _read_corpus(corpus: str) -> list[Any]:
    from ._evaluate import read_corpus

    try:
        items, problems = read_corpus(corpus)
    except OSError as exc:
        raise ConfigError(f"{corpus}: cannot read the corpus ({exc.strerror})") from None
    for problem in problems:
        click.echo(problem, err=True)
    if not items:
        raise ConfigError(f"{corpus}: no usable JSONL items (each line needs a 'text' string)")
    return items


def _run_eval(pack_paths: tuple[str, ...], items: list[Any], quiet: bool, label: str) -> tuple[Any, Any]:
    from ._evaluate import evaluate
    from ._guard import Guard

    guard = Guard(list(pack_paths))
    with progress(len(items), label, enabled=not quiet) as advance:
        return guard, evaluate(guard, items, progress=advance)


@rules.command("eval")
@PACKS
@click.option("--corpus", required=True, type=click.Path(exists=True, dir_okay=False), help="Labelled JSONL corpus.")
@click.option("--misses", type=click.Path(dir_okay=False), help="Write misses and false alarms to FILE (JSONL).")
@click.option("--json", "as_json", is_flag=True)
def eval_command(packs: tuple[str, ...], corpus: str, misses: str | None, as_json: bool) -> int:
    """Recall per category and language, false-positive rates, per-rule hits, dead and noisy rules.

    \b
    Examples:
      promptward rules eval rules/ --corpus ../shared/corpora/injection-dev.jsonl
      promptward rules eval my-pack.yaml --corpus corpus.jsonl --misses misses.jsonl --json
    """
    items = _read_corpus(corpus)
    guard, result = _run_eval(packs, items, as_json, "evaluating")
    rule_ids = [rule.id for rule in guard.matcher.rules] + [rule.id for _, rule in guard.matcher.data_rules]
    dead, noisy = result.dead_rules(rule_ids), result.noisy_rules()
    misses_path = Path(misses) if misses else Path(Path(corpus).stem + ".misses.jsonl")
    with misses_path.open("w", encoding="utf-8") as handle:
        for item in result.misses:
            handle.write(
                json.dumps({"id": item.id, "kind": "miss", "category": item.category, "text": item.text}) + "\n"
            )
        for item, fired in result.false_alarms:
            row = {
                "id": item.id,
                "kind": "false_alarm",
                "category": item.category,
                "rules": fired,
                "text": item.text,
            }
            handle.write(json.dumps(row) + "\n")
    if as_json:
        emit_json({**result.to_dict(), "dead_rules": dead, "noisy_rules": noisy, "misses_file": str(misses_path)})
        return EXIT_OK
    rows = [
        (k.removeprefix("category:"), result.counts[k]["n"], percent(result.rate(k))) for k in result.keys("category:")
    ]
    rows.append(("all attacks", result.counts["all"]["n"], percent(result.rate("all"))))
    print_table("recall per attack category", ("category", "n", "recall"), rows)
    langs = [(k.removeprefix("lang:"), result.counts[k]["n"], percent(result.rate(k))) for k in result.keys("lang:")]
    print_table("recall per language", ("language", "n", "recall"), langs)
    fpr = [(k.removeprefix("benign:"), result.counts[k]["n"], percent(result.rate(k))) for k in result.keys("benign:")]
    print_table("false-positive rate", ("benign set", "n", "FPR"), fpr)
    per_rule = sorted(result.per_rule.items(), key=lambda kv: (-kv[1]["tp"], kv[1]["fp"]))
    print_table("per rule", ("rule", "true pos.", "false pos."), [(r, c["tp"], c["fp"]) for r, c in per_rule])
    click.echo(f"dead rules ({len(dead)}): {', '.join(dead) or 'none'}")
    click.echo(f"noisy rules ({len(noisy)}): {', '.join(noisy) or 'none'}")
    click.echo(f"{len(result.misses)} misses and {len(result.false_alarms)} false alarms written to {misses_path}")
    return EXIT_OK


@rules.command()
@click.argument("old", type=click.Path(exists=True))
@click.argument("new", type=click.Path(exists=True))
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False), help="Labelled JSONL corpus to compare on.")
@click.option("--json", "as_json", is_flag=True)
def diff(old: str, new: str, corpus: str | None, as_json: bool) -> int:
    """Rules added, removed or changed between two pack versions, and corpus items that change decision.

    \b
    Examples:
      promptward rules diff rules-v1/ rules/ --corpus ../shared/corpora/injection-dev.jsonl
    """
    before = {rule.id: rule for pack in _load((old,)) for rule in pack.rules}
    after = {rule.id: rule for pack in _load((new,)) for rule in pack.rules}
    added, removed = sorted(after.keys() - before.keys()), sorted(before.keys() - after.keys())
    changed = sorted(r for r in before.keys() & after.keys() if before[r].model_dump() != after[r].model_dump())
    report: dict[str, Any] = {"added": added, "removed": removed, "changed": changed}
    if corpus:
        items = _read_corpus(corpus)
        _, old_result = _run_eval((old,), items, as_json, "old packs")
        _, new_result = _run_eval((new,), items, as_json, "new packs")
        flips = []
        for item in items:
            was, now = bool(old_result.fired[item.id]), bool(new_result.fired[item.id])
            if was != now:
                effect = ("caught" if now else "lost") if item.attack else ("new false alarm" if now else "fixed")
                fired = list(new_result.fired[item.id] or old_result.fired[item.id])
                flips.append(
                    {
                        "id": item.id,
                        "label": item.label,
                        "category": item.category,
                        "effect": effect,
                        "rules": fired,
                    }
                )
        report["changed_decisions"] = flips
        report["recall"] = {"old": old_result.rate("all"), "new": new_result.rate("all")}
    if as_json:
        emit_json(report)
        return EXIT_OK
    for name, colour in (("added", "green"), ("removed", "red"), ("changed", "yellow")):
        click.echo(click.style(f"{name} ({len(report[name])}): ", fg=colour) + (", ".join(report[name]) or "none"))
    if corpus:
        rows = [
            (f["id"], f["label"], f["category"], f["effect"], ", ".join(f["rules"]))
            for f in report["changed_decisions"]
        ]
        print_table("items whose decision changes", ("id", "label", "category", "effect", "rules"), rows)
        recall = report["recall"]
        click.echo(f"recall {percent(recall['old'])} -> {percent(recall['new'])}")
    return EXIT_OK


@rules.command()
@PACKS
@click.option(
    "--corpus",
    type=click.Path(exists=True, dir_okay=False),
    help="JSONL corpus to time on (default: built-in prose).",
)
@click.option("--top", default=20, show_default=True, help="How many of the slowest rules to show.")
@click.option("--json", "as_json", is_flag=True)
def bench(packs: tuple[str, ...], corpus: str | None, top: int, as_json: bool) -> int:
    """Per-rule cost on a corpus, slowest rules first, and the whole pack's cost per KB.

    \b
    Examples:
      promptward rules bench rules/ --corpus ../shared/corpora/injection-dev.jsonl --top 10
    """
    from ._guard import Guard
    from ._normalize import canonicalize
    from ._samples import ORDINARY_PROSE

    texts = [item.text for item in _read_corpus(corpus)] if corpus else [" ".join(ORDINARY_PROSE)] * 50
    kilobytes = sum(len(t.encode("utf-8")) for t in texts) / 1024
    guard = Guard(list(packs))
    canonical = [canonicalize(t).text for t in texts]
    costs = []
    with progress(len(guard.matcher.rules), "timing rules", enabled=not as_json) as advance:
        for rule in guard.matcher.rules:
            started = time.perf_counter()
            for text in canonical:
                with contextlib.suppress(TimeoutError):
                    rule.spans(text, guard.matcher.regex_timeout)
            costs.append((time.perf_counter() - started, rule.id, rule.engine))
            advance()
    started = time.perf_counter()
    for text in texts:
        guard.check(text)
    whole = time.perf_counter() - started
    costs.sort(reverse=True)
    per_rule = [{"rule_id": r, "engine": e, "us_per_kb": round(s / kilobytes * 1e6, 3)} for s, r, e in costs]
    report: dict[str, Any] = {
        "texts": len(texts),
        "kilobytes": round(kilobytes, 1),
        "check_us_per_kb": round(whole / kilobytes * 1e6, 2),
        "rules": per_rule,
    }
    if as_json:
        emit_json(report)
        return EXIT_OK
    rows = [(r["rule_id"], r["engine"], r["us_per_kb"]) for r in per_rule[:top]]
    print_table(f"slowest {min(top, len(costs))} rules (alone, µs per KB)", ("rule", "engine", "µs/KB"), rows)
    click.echo(f"whole check(): {report['check_us_per_kb']} µs per KB over {report['kilobytes']} KB")
    return EXIT_OK


SCAFFOLD = """\
  - id: {id}
    kind: regex
    category: {category}
    severity: high
    description: TODO one line naming the technique this rule describes
    pattern: 'TODO'
    examples:
      match:
        - TODO an attack this rule must catch
        - TODO another wording of it
      no_match:
        - TODO a benign text with the same words
        - TODO another benign near miss
"""


@rules.command()
@click.argument("rule_id")
@click.option("--category", default="instruction_override", show_default=True)
def new(rule_id: str, category: str) -> int:
    """Print a rule scaffold with example slots, ready to paste under a pack's `rules:`.

    \b
    Examples:
      promptward rules new injection.override.new-task >> rules/injection.yaml
    """
    import re

    from ._packs import RULE_ID_PATTERN

    if not re.match(RULE_ID_PATTERN, rule_id):
        raise click.BadParameter("use lowercase <pack>.<family>.<name>, e.g. injection.override.new-task")
    click.echo(SCAFFOLD.format(id=rule_id, category=category), nl=False)
    return EXIT_OK
