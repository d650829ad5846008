"""`promptward prompts ...`: a client of the registry's REST API (httpx). `serve` and `keys` are re-exported.

Exit codes: 0 done, 1 the registry refused (its problem is printed), 2 usage, configuration or no connection.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ._cli_common import EXIT_FINDINGS, EXIT_OK, emit_json, print_table
from ._cli_serve import keys, serve
from ._exceptions import ConfigError

__all__ = ["keys", "prompts", "serve"]

DEFAULT_URL = "http://127.0.0.1:8700"
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print the server's JSON answer.")


# -- prompts: the REST client ------------------------------------------------------------------------------


class _Api:
    def __init__(self, url: str, api_key: str | None) -> None:
        try:
            import httpx
        except ImportError as exc:
            raise ConfigError(f"the prompts commands need httpx: pip install 'promptward[client]' ({exc})") from exc
        if not api_key:
            raise click.UsageError("no API key: pass --api-key or set PROMPTWARD_API_KEY")
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
        self.as_json = False

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer of a request; a refusal prints the server's problem and exits 1."""
        import httpx

        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise click.ClickException(
                f"cannot reach the registry at {self.url} ({exc}); start it with `promptward serve` or pass --url"
            ) from None
        if response.status_code < 400:
            return response
        try:
            problem = response.json()
        except ValueError:
            problem = {"status": response.status_code, "title": response.reason_phrase, "detail": response.text}
        if self.as_json:
            emit_json(problem)
        else:
            click.echo(f"error {problem.get('status')}: {problem.get('detail') or problem.get('title')}", err=True)
            for error in problem.get("errors", []):
                click.echo(f"  {error.get('field')}: {error.get('message')}", err=True)
        raise click.exceptions.Exit(EXIT_FINDINGS)

    def pages(self, path: str) -> Iterator[dict[str, Any]]:
        url: str | None = path
        while url:
            data = self.call("GET", url).json()
            yield from data["items"]
            url = data["next"]


@click.group()
@click.option(
    "--url",
    envvar="PROMPTWARD_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="Registry base URL (env PROMPTWARD_URL).",
)
@click.option("--api-key", envvar="PROMPTWARD_API_KEY", help="API key (env PROMPTWARD_API_KEY).")
@click.pass_context
def prompts(ctx: click.Context, url: str, api_key: str | None) -> None:
    """Work with a prompt registry over its REST API: create, get, label, rollback, diff, history, render.

    \b
    Exit codes: 0 done, 1 the registry refused (its problem is printed), 2 usage, configuration or no connection.
    """
    ctx.obj = (url, api_key)


def _api(as_json: bool) -> _Api:
    url, api_key = click.get_current_context().find_object(tuple) or (DEFAULT_URL, None)
    api = _Api(url, api_key)
    api.as_json = as_json
    return api


def _load(path: str, what: str) -> Any:
    import yaml

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    if what == "template" and not path.endswith((".json", ".yaml", ".yml")):
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise click.UsageError(f"{what} {path} is not valid YAML or JSON: {exc}") from None


@prompts.command("list")
@JSON_OPTION
def list_prompts(as_json: bool) -> int:
    """List prompt slugs."""
    slugs = [item["slug"] for item in _api(as_json).pages("/prompts?limit=200")]
    if as_json:
        emit_json(slugs)
    else:
        click.echo("\n".join(slugs) if slugs else "no prompts yet")
    return EXIT_OK


@prompts.command()
@click.argument("slug")
@click.option(
    "--template",
    "template_file",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Template text, or .json/.yaml with a list of chat messages ('-': stdin).",
)
@click.option(
    "--contract",
    "contract_file",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML or JSON: variable name -> {type, required, default, max_length, pattern, enum, trusted}.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML or JSON model config: provider, model, parameters.",
)
@click.option("--message", "-m", default="", help="What changed and why.")
@JSON_OPTION
def create(
    slug: str, template_file: str, contract_file: str | None, config_file: str | None, message: str, as_json: bool
) -> int:
    """Create a version of SLUG; the same content as the latest version creates nothing.

    \b
    Example:
      promptward prompts create greet --template greet.txt --contract greet.yaml -m "first cut"
    """
    body = {
        "template": _load(template_file, "template"),
        "contract": _load(contract_file, "contract") or {} if contract_file else {},
        "config": _load(config_file, "config") or {} if config_file else {},
        "message": message,
    }
    data = _api(as_json).call("POST", f"/prompts/{slug}/versions", json=body).json()
    if as_json:
        emit_json(data)
        return EXIT_OK
    for warning in data.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)
    if data["created"]:
        parent = f", parent v{data['parent']}" if data["parent"] else ""
        click.echo(f"created {slug} v{data['version']}{parent} (sha256 {data['sha256'][:12]})")
    else:
        click.echo(f"unchanged: {slug} v{data['version']} already has this content")
    return EXIT_OK


@prompts.command()
@click.argument("slug")
@click.option("--version", "number", type=click.IntRange(1), help="A version number.")
@click.option("--label", help="A label, e.g. production.")
@click.option("--unit-id", help="User or session id for a label with a rollout.")
@JSON_OPTION
def get(slug: str, number: int | None, label: str | None, unit_id: str | None, as_json: bool) -> int:
    """Show a version of SLUG: --version N, --label L (with --unit-id for rollouts), or the latest."""
    if number is not None and label is not None:
        raise click.UsageError("pass --version or --label, not both")
    params = {k: v for k, v in {"version": number, "label": label, "unit_id": unit_id}.items() if v is not None}
    data = _api(as_json).call("GET", f"/prompts/{slug}", params=params).json()
    if as_json:
        emit_json(data)
        return EXIT_OK
    via = f" via {label} ({data['variant']})" if label else ""
    click.echo(click.style(f"{slug} v{data['version']}{via}", bold=True) + f"  {data['author']}, {data['created_at']}")
    if data["message"]:
        click.echo(f"  {data['message']}")
    click.echo()
    if isinstance(data["template"], str):
        click.echo(data["template"])
    else:
        for message in data["template"]:
            click.echo(click.style(f"[{message['role']}]", fg="cyan") + f" {message['content']}")
    if data["contract"]:
        rows = [
            [
                name,
                spec["type"],
                "yes" if spec["required"] else "no",
                "yes" if spec["trusted"] else "no",
                spec.get("description", ""),
            ]
            for name, spec in data["contract"].items()
        ]
        click.echo()
        print_table("contract", ["variable", "type", "required", "trusted", "description"], rows)
    return EXIT_OK


def _rollout(value: str) -> tuple[int, float]:
    try:
        version, weight = value.split(":")
        return int(version), float(weight)
    except ValueError:
        raise click.BadParameter(f"{value!r}: write VERSION:PERCENT, e.g. 8:10") from None


def _targets(targets: list[dict[str, Any]]) -> str:
    return ", ".join(f"v{t['version']} {t['weight']:g}%" for t in targets)


def _label_etag(api: _Api, slug: str, name: str) -> str | None:
    import httpx

    try:
        response = api.client.get(f"/prompts/{slug}/labels/{name}")
    except httpx.TransportError:
        return None  # call() reports the connection problem next
    return response.headers.get("etag") if response.status_code == 200 else None


@prompts.command()
@click.argument("slug")
@click.argument("name")
@click.option("--version", "number", type=click.IntRange(1), required=True, help="The version the label points at.")
@click.option("--rollout", "rollouts", multiple=True, help="VERSION:PERCENT also served, e.g. 8:10 (repeatable).")
@click.option("--protect/--unprotect", default=None, help="Only the admin role may move a protected label.")
@JSON_OPTION
def label(slug: str, name: str, number: int, rollouts: tuple[str, ...], protect: bool | None, as_json: bool) -> int:
    """Point label NAME of SLUG at a version, optionally rolling out others to a share of units.

    \b
    Examples:
      promptward prompts label greet production --version 7
      promptward prompts label greet production --version 7 --rollout 8:10   # 90% v7, 10% v8
    """
    extra = [_rollout(value) for value in rollouts]
    rest = 100.0 - sum(weight for _, weight in extra)
    body: dict[str, Any] = {
        "targets": [{"version": number, "weight": rest}]
        + [{"version": version, "weight": weight} for version, weight in extra]
    }
    if protect is not None:
        body["protected"] = protect
    api = _api(as_json)
    etag = _label_etag(api, slug, name)
    headers = {"If-Match": etag} if etag else {}
    data = api.call("PUT", f"/prompts/{slug}/labels/{name}", json=body, headers=headers).json()
    if as_json:
        emit_json(data)
    else:
        lock = " (protected)" if data["protected"] else ""
        click.echo(f"{slug} {name} -> {_targets(data['targets'])}{lock}, revision {data['revision']}")
    return EXIT_OK


@prompts.command()
@click.argument("slug")
@click.argument("name")
@JSON_OPTION
def rollback(slug: str, name: str, as_json: bool) -> int:
    """Move label NAME of SLUG back to where it pointed before its last move."""
    api = _api(as_json)
    etag = _label_etag(api, slug, name)
    data = api.call("POST", f"/prompts/{slug}/labels/{name}/rollback", headers={"If-Match": etag} if etag else {})
    data = data.json()
    if as_json:
        emit_json(data)
    else:
        click.echo(f"{slug} {name} rolled back -> {_targets(data['targets'])}, revision {data['revision']}")
    return EXIT_OK


@prompts.command()
@click.argument("slug")
@click.argument("old", type=click.IntRange(1))
@click.argument("new", type=click.IntRange(1))
@JSON_OPTION
def diff(slug: str, old: int, new: int, as_json: bool) -> int:
    """Show what changed in SLUG from version OLD to NEW: template, contract, config."""
    data = _api(as_json).call("GET", f"/prompts/{slug}/diff", params={"from": old, "to": new}).json()
    if as_json:
        emit_json(data)
        return EXIT_OK
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in data["template"].splitlines() or ["(template unchanged)"]:
        click.echo(click.style(line, fg=colours.get(line[:1])) if not line.startswith(("+++", "---")) else line)
    for part in ("contract", "config"):
        changes = data[part]
        for kind, sign in (("added", "+"), ("removed", "-"), ("changed", "~")):
            for key, value in changes[kind].items():
                click.echo(f"{part} {sign} {key}: {json.dumps(value, sort_keys=True)}")
    return EXIT_OK


@prompts.command()
@click.argument("slug")
@click.option("--label", help="Show the moves of this label instead of the whole audit trail.")
@JSON_OPTION
def history(slug: str, label: str | None, as_json: bool) -> int:
    """Show who wrote what and when for SLUG (or the moves of one --label)."""
    api = _api(as_json)
    path = f"/prompts/{slug}/labels/{label}/history" if label else f"/prompts/{slug}/history"
    items = list(api.pages(path + "?limit=200"))
    if as_json:
        emit_json(items)
    elif label:
        rows = [
            [e["at"][:19], e["actor"], e["action"], _targets(e["from_targets"]) or "-", _targets(e["to_targets"])]
            for e in items
        ]
        print_table(f"{slug} {label}", ["at", "actor", "action", "from", "to"], rows)
    else:
        rows = [[e["at"][:19], e["actor"], e["action"], json.dumps(e["detail"], sort_keys=True)[:70]] for e in items]
        print_table(f"{slug} history", ["at", "actor", "action", "detail"], rows)
    return EXIT_OK


def _coerce(value: str, spec: dict[str, Any] | None) -> Any:
    kind = (spec or {}).get("type", "str")
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            return {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}[value.lower()]
        if kind == "list[str]":
            return json.loads(value) if value.startswith("[") else [item.strip() for item in value.split(",")]
    except (ValueError, KeyError):
        raise click.BadParameter(f"{value!r} is not a {kind}") from None
    return value


@prompts.command()
@click.argument("slug")
@click.option("--var", "variables", multiple=True, help="NAME=VALUE, converted to the contract's type (repeatable).")
@click.option("--version", "number", type=click.IntRange(1), help="A version number.")
@click.option("--label", help="A label, e.g. production.")
@click.option("--unit-id", help="User or session id for a label with a rollout.")
@JSON_OPTION
def render(
    slug: str, variables: tuple[str, ...], number: int | None, label: str | None, unit_id: str | None, as_json: bool
) -> int:
    """Validate variables against SLUG's contract and print the rendered prompt (no model is called).

    \b
    Example:
      promptward prompts render greet --label production --var city=Oslo --var tone=dry
    """
    if number is not None and label is not None:
        raise click.UsageError("pass --version or --label, not both")
    pairs = []
    for item in variables:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r}: write NAME=VALUE", param_hint="--var")
        pairs.append((name, value))
    api = _api(as_json)
    params = {k: v for k, v in {"version": number, "label": label, "unit_id": unit_id}.items() if v is not None}
    version = api.call("GET", f"/prompts/{slug}", params=params).json()
    values = {name: _coerce(value, version["contract"].get(name)) for name, value in pairs}
    body = {"version": version["version"], "variables": values}
    data = api.call("POST", f"/prompts/{slug}/render", json=body).json()
    data.update(label=label, variant=version["variant"])
    if as_json:
        emit_json(data)
    elif isinstance(data["rendered"], str):
        click.echo(data["rendered"])
    else:
        for message in data["rendered"]:
            click.echo(click.style(f"[{message['role']}]", fg="cyan") + f" {message['content']}")
    if data["untrusted"] and not as_json:
        click.echo(f"note: screen the untrusted variables {data['untrusted']} with the guard", err=True)
    return EXIT_OK
