"""`promptward prompts eval` and `promptward prompts promote`: evaluate versions across models, then gate labels.

Both work against the registry server (the `prompts` group's --url/--api-key) or a store URL (--store).
Exit codes: 0 every cell passed / label moved, 1 a cell failed or the gate refused, 2 usage or configuration.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import click

from ._cli_common import EXIT_FINDINGS, EXIT_OK, emit_json
from ._cli_prompts import _api, prompts
from ._exceptions import RegistryError
from ._registry.models import EvalRecord, EvalResult, PromptVersion

__all__ = ["eval_command", "promote"]

STORE_OPTION = click.option(
    "--store", "store_url", help="Work on a store directly (sqlite:///x.db, yaml:///dir, postgresql://...)."
)


class _Server:
    """The calls the eval and the gate need, over the registry's REST API."""

    def __init__(self, as_json: bool) -> None:
        self.api = _api(as_json)

    def get_version(self, slug: str, version: int) -> PromptVersion:
        return PromptVersion.model_validate(self.api.call("GET", f"/prompts/{slug}/versions/{version}").json())

    def record_eval(self, slug: str, version: int, result: EvalResult, *, actor: str = "") -> EvalRecord:
        body = result.model_dump(mode="json")
        answer = self.api.call("POST", f"/prompts/{slug}/versions/{version}/evals", json=body)
        return EvalRecord.model_validate(answer.json())

    def evals(self, slug: str, version: int) -> list[EvalRecord]:
        items = self.api.call("GET", f"/prompts/{slug}/versions/{version}/evals").json()["items"]
        return [EvalRecord.model_validate(item) for item in items]

    def move(self, slug: str, label: str, version: int) -> None:
        from ._cli_prompts import _label_etag

        etag = _label_etag(self.api, slug, label)
        headers = {"If-Match": etag} if etag else {}
        self.api.call("PUT", f"/prompts/{slug}/labels/{label}", json={"version": version}, headers=headers)

    def close(self) -> None:
        self.api.client.close()


class _Store:
    def __init__(self, url: str) -> None:
        from ._registry.store import open_store

        self.store = open_store(url)

    def get_version(self, slug: str, version: int) -> PromptVersion:
        return self.store.get_version(slug, version)

    def record_eval(self, slug: str, version: int, result: EvalResult, *, actor: str = "") -> EvalRecord:
        return self.store.record_eval(slug, version, result, actor=actor)

    def evals(self, slug: str, version: int) -> list[EvalRecord]:
        return self.store.evals(slug, version)

    def move(self, slug: str, label: str, version: int) -> None:
        from ._registry.models import LabelTarget

        self.store.move_label(slug, label, [LabelTarget(version=version)], actor=_actor(), expected_revision=None)

    def close(self) -> None:
        self.store.close()


def _actor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # pragma: no cover - no user name in this environment
        return "cli"


def _source(store_url: str | None, as_json: bool) -> _Server | _Store:
    return _Store(store_url) if store_url else _Server(as_json)


def _numbers(value: str) -> list[int]:
    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: write version numbers separated by commas, e.g. 7,8") from None
    if not numbers or min(numbers) < 1:
        raise click.BadParameter(f"{value!r}: give positive version numbers, e.g. 7,8")
    return numbers


def _names(value: str | None) -> list[str] | None:
    names = [part.strip() for part in (value or "").split(",") if part.strip()]
    return names or None


@prompts.command("eval")
@click.argument("slug")
@click.option("--versions", required=True, help="Versions to evaluate, e.g. 7,8.")
@click.option("--models", help="Target names from the config, e.g. small,large (default: all).")
@click.option("--cases", "cases_file", type=click.Path(dir_okay=False), help="YAML cases (default: config.evals).")
@click.option("--config", "config_file", required=True, type=click.Path(dir_okay=False), help="Model targets YAML.")
@click.option("--tags", help="Run only cases carrying one of these tags, e.g. smoke,geo.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), help="Also write a self-contained HTML report.")
@click.option("--record/--no-record", default=True, show_default=True, help="Store the result with each version.")
@click.option("--json", "as_json", is_flag=True, help="Print the matrix as JSON.")
@STORE_OPTION
def eval_command(
    slug: str,
    versions: str,
    models: str | None,
    cases_file: str | None,
    config_file: str,
    tags: str | None,
    html_file: str | None,
    record: bool,
    as_json: bool,
    store_url: str | None,
) -> int:
    """Evaluate VERSIONS of SLUG on each model and print the versions x models matrix; exit 1 if a cell failed.

    \b
    Example:
      promptward prompts eval greet --versions 7,8 --models small,large --cases cases.yaml --config models.yaml
    """
    from ._evals import evaluate, print_matrix, to_html, to_json

    numbers = _numbers(versions)
    source = _source(store_url, as_json)
    try:
        matrix = evaluate(source, slug, numbers, _names(models), cases_file, config=config_file, tags=_names(tags))
        if record:
            for number in numbers:
                source.record_eval(slug, number, matrix.result(number), actor=_actor())
    except RegistryError as exc:  # PromptNotFound, RegistryUnavailable, ...
        raise click.ClickException(str(exc)) from None
    finally:
        source.close()
    if html_file:
        Path(html_file).write_text(to_html(matrix), encoding="utf-8")
    if as_json:
        emit_json(to_json(matrix))
    else:
        print_matrix(matrix)
    for line in matrix.summary():
        click.echo(f"failed: {line}", err=True)
    if html_file and not as_json:
        click.echo(f"report: {html_file}", err=True)
    return EXIT_OK if matrix.passed else EXIT_FINDINGS


@prompts.command()
@click.argument("slug")
@click.option("--version", "number", type=click.IntRange(1), required=True, help="The version to promote.")
@click.option("--label", "label_name", default="production", show_default=True, help="The label to move.")
@click.option("--require-eval", is_flag=True, help="Refuse unless the latest eval passed on every required model.")
@click.option("--models", help="Models that must have passed (default: those of the latest eval).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@STORE_OPTION
def promote(
    slug: str,
    number: int,
    label_name: str,
    require_eval: bool,
    models: str | None,
    as_json: bool,
    store_url: str | None,
) -> int:
    """Point LABEL of SLUG at VERSION; with --require-eval only if its evals passed.

    \b
    Example:
      promptward prompts promote greet --version 8 --label production --require-eval --models small,large
    """
    from ._evals.gate import check_gate

    source = _source(store_url, as_json)
    try:
        verdict: dict[str, Any] = {"slug": slug, "version": number, "label": label_name, "promoted": False}
        if require_eval:
            gate = check_gate(slug, number, source.evals(slug, number), _names(models))
            verdict.update(gate=gate.checked, reasons=gate.reasons)
            if not gate.allowed:
                if as_json:
                    emit_json(verdict)
                click.echo(f"refused: {slug} v{number} cannot take '{label_name}':", err=True)
                for reason in gate.reasons:
                    click.echo(f"  {reason}", err=True)
                return EXIT_FINDINGS
        source.move(slug, label_name, number)
        verdict["promoted"] = True
    except RegistryError as exc:  # PromptNotFound, RegistryUnavailable, ...
        raise click.ClickException(str(exc)) from None
    finally:
        source.close()
    if as_json:
        emit_json(verdict)
    else:
        click.echo(f"{slug} {label_name} -> v{number}" + (" (eval gate passed)" if require_eval else ""))
    return EXIT_OK
