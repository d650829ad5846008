"""`promptward serve` (the registry REST API under uvicorn) and `promptward keys create|list|revoke`.

Exit codes: 0 done, 2 usage or configuration.
"""

from __future__ import annotations

from pathlib import Path

import click

from ._cli_common import EXIT_OK, emit_json, print_table
from ._exceptions import ConfigError

DEFAULT_STORE = "sqlite:///registry.db"
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _keys_path(keys: str | None, store: str) -> Path:
    from ._apikeys import default_keys_path

    path = Path(keys) if keys else default_keys_path(store)
    if path is None:
        raise click.UsageError(f"store {store!r} has no folder to keep keys in; pass --keys FILE")
    return path


@click.command()
@click.option(
    "--store",
    envvar="PROMPTWARD_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    help="sqlite:///file.db, yaml:///folder or postgresql://... (env PROMPTWARD_STORE).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--keys",
    type=click.Path(dir_okay=False),
    envvar="PROMPTWARD_KEYS",
    help="API keys file (default: promptward-keys.yaml beside the store).",
)
@click.option("--max-body-bytes", default=1_048_576, show_default=True, type=click.IntRange(1))
@click.option("--log-level", default="info", type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="Log one line per request.")
def serve(
    store: str, host: str, port: int, keys: str | None, max_body_bytes: int, log_level: str, access_log: bool
) -> int:
    """Run the registry REST API under uvicorn (one worker).

    \b
    Examples:
      promptward keys create admin --role admin     # prints the key once
      promptward serve --store sqlite:///registry.db --port 8700
    """
    try:
        import uvicorn

        from ._registry.store import open_store
        from .server import create_registry_app
    except ImportError as exc:
        raise ConfigError(f"the server needs starlette and uvicorn: pip install 'promptward[server]' ({exc})") from exc
    from ._apikeys import KeyRing

    ring = KeyRing.load(_keys_path(keys, store))
    if not len(ring):
        click.echo(
            f"warning: {ring.path} holds no API keys, so every request gets 401; create one with "
            f"`promptward keys create NAME --role admin --keys {ring.path}` (the server picks it up)",
            err=True,
        )
    registry = open_store(store)
    try:
        app = create_registry_app(registry, keys=ring, max_body_bytes=max_body_bytes)
        click.echo(f"promptward registry on http://{host}:{port} (store {store}, keys {ring.path})", err=True)
        # Open event streams (/events) never end by themselves: give them 5 s at shutdown, then close them.
        uvicorn.run(
            app,
            host=host,
            port=port,
            workers=1,
            log_level=log_level,
            access_log=access_log,
            timeout_graceful_shutdown=5,
        )
    finally:
        registry.close()
    return EXIT_OK


KEYS_OPTION = click.option(
    "--keys",
    "keys_file",
    type=click.Path(dir_okay=False),
    envvar="PROMPTWARD_KEYS",
    help="API keys file (default: promptward-keys.yaml beside the store).",
)
STORE_OPTION = click.option(
    "--store",
    envvar="PROMPTWARD_STORE",
    default=DEFAULT_STORE,
    show_default=True,
    help="Store whose folder holds the keys file when --keys is not given.",
)


@click.group()
def keys() -> None:
    """Manage the registry's API keys (roles: reader < editor < admin). Keys are stored hashed."""


@keys.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["reader", "editor", "admin"]), default="reader", show_default=True)
@KEYS_OPTION
@STORE_OPTION
def create_key(name: str, role: str, keys_file: str | None, store: str) -> int:
    """Create a key and print it once: it is stored only as a salted hash."""
    from ._apikeys import KeyRing

    ring = KeyRing.load(_keys_path(keys_file, store))
    entry, plaintext = ring.create(name, role)
    click.echo(plaintext)
    click.echo(f"key '{entry.name}' ({entry.role}) saved to {ring.path}; this is the only time it is shown", err=True)
    return EXIT_OK


@keys.command("list")
@KEYS_OPTION
@STORE_OPTION
@JSON_OPTION
def list_keys(keys_file: str | None, store: str, as_json: bool) -> int:
    """List keys: name, role, id and creation time (never the key)."""
    from ._apikeys import KeyRing

    ring = KeyRing.load(_keys_path(keys_file, store))
    rows = [{"name": k.name, "role": k.role, "id": k.id, "created_at": k.created_at} for k in ring.entries()]
    if as_json:
        emit_json(rows)
    else:
        print_table(
            f"{len(rows)} keys in {ring.path}", ["name", "role", "id", "created"], [list(r.values()) for r in rows]
        )
    return EXIT_OK


@keys.command("revoke")
@click.argument("name")
@KEYS_OPTION
@STORE_OPTION
def revoke_key(name: str, keys_file: str | None, store: str) -> int:
    """Delete a key; a running server stops accepting it within a second."""
    from ._apikeys import KeyRing

    KeyRing.load(_keys_path(keys_file, store)).revoke(name)
    click.echo(f"key '{name}' revoked", err=True)
    return EXIT_OK
