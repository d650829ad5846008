"""`promptward prompts ...` against a real server, `promptward keys ...`, and `promptward serve` as a process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from promptward._cli_prompts import keys, prompts, serve
from promptward.cli import cli, main
from tests.test_server import Live, start_live

# cli.py registers these; adding them again is a no-op once it does.
for command in (prompts, serve, keys):
    cli.add_command(command)

CONTRACT_YAML = """\
city: {type: str, max_length: 40, trusted: false}
tone: {type: enum, enum: [warm, dry], required: false, default: warm}
days: {type: int, required: false}
"""


@pytest.fixture
def sqlite_live(tmp_path: Path) -> Iterator[Live]:
    with start_live("sqlite", tmp_path) as running:
        yield running


@pytest.fixture
def run(sqlite_live: Live, capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    def invoke(*args: str, role: str = "editor") -> tuple[int, str, str]:
        code = main(["prompts", "--url", sqlite_live.url, "--api-key", sqlite_live.keys[role], *args])
        out, err = capsys.readouterr()
        return code, out, err

    yield invoke


def test_the_story_through_the_cli(run: object, tmp_path: Path) -> None:
    invoke = run  # type: ignore[assignment]
    (tmp_path / "greet.txt").write_text("Write a {{ tone }} note about {{ city }}.", encoding="utf-8")
    (tmp_path / "greet2.txt").write_text("Write a {{ tone }} note about {{ city }} in {{ days }} days.")
    (tmp_path / "contract.yaml").write_text(CONTRACT_YAML, encoding="utf-8")
    contract = str(tmp_path / "contract.yaml")

    code, out, err = invoke("create", "greet", "--template", str(tmp_path / "greet.txt"), "--contract", contract)
    assert code == 0 and out.strip().startswith("created greet v1"), out + err
    assert "'days' is declared but the template never uses it" in err
    code, out, _ = invoke("create", "greet", "--template", str(tmp_path / "greet.txt"), "--contract", contract)
    assert code == 0 and out.startswith("unchanged: greet v1")
    code, out, _ = invoke(
        "create", "greet", "--template", str(tmp_path / "greet2.txt"), "--contract", contract, "-m", "mention days"
    )
    assert code == 0 and "created greet v2, parent v1" in out

    code, out, _ = invoke("label", "greet", "production", "--version", "1")
    assert code == 0 and out.strip() == "greet production -> v1 100%, revision 1"
    code, out, _ = invoke("label", "greet", "production", "--version", "1", "--rollout", "2:10")
    assert code == 0 and out.strip() == "greet production -> v1 90%, v2 10%, revision 2"

    code, out, _ = invoke("get", "greet", "--label", "production", "--json")
    assert code == 0 and json.loads(out)["version"] == 1
    code, out, _ = invoke("get", "greet", "--version", "2")
    assert code == 0 and "greet v2" in out and "in {{ days }} days" in out and "contract" in out

    code, out, _ = invoke("diff", "greet", "1", "2")
    assert code == 0
    assert "-Write a {{ tone }} note about {{ city }}." in out and "+Write a" in out

    code, out, err = invoke("render", "greet", "--version", "2", "--var", "city=Oslo", "--var", "days=3")
    assert code == 0 and out.strip() == "Write a warm note about Oslo in 3 days.", err
    assert "untrusted" in err
    code, out, err = invoke("render", "greet", "--version", "2", "--var", "city=Oslo", "--var", "tone=loud")
    assert code == 1 and "tone" in err and "body.variables.tone" in err

    code, out, _ = invoke("rollback", "greet", "production")
    assert code == 0 and out.strip() == "greet production rolled back -> v1 100%, revision 3"

    code, out, _ = invoke("history", "greet", "--json")
    entries = json.loads(out)
    assert code == 0 and len(entries) == 5 and {e["actor"] for e in entries} == {"editor-key"}
    code, out, _ = invoke("history", "greet", "--label", "production")
    assert code == 0 and "rollback" in out and "v1 90%, v2 10%" in out
    code, out, _ = invoke("list")
    assert code == 0 and out.strip() == "greet"


def test_refusals_exit_1_and_usage_errors_exit_2(run: object, tmp_path: Path, sqlite_live: Live) -> None:
    invoke = run  # type: ignore[assignment]
    (tmp_path / "bad.txt").write_text("Hello {{ city", encoding="utf-8")
    code, _, err = invoke("create", "greet", "--template", str(tmp_path / "bad.txt"))
    assert code == 1 and "error 422" in err and "body.template" in err
    code, out, _ = invoke("create", "greet", "--template", str(tmp_path / "bad.txt"), "--json")
    assert code == 1 and json.loads(out)["status"] == 422
    code, _, err = invoke("get", "missing")
    assert code == 1 and "error 404" in err
    (tmp_path / "ok.txt").write_text("Hi", encoding="utf-8")
    code, _, err = invoke("create", "greet", "--template", str(tmp_path / "ok.txt"), role="reader")
    assert code == 1 and "error 403" in err
    code, _, err = invoke("create", "greet", "--template", str(tmp_path / "nope.txt"))
    assert code == 2 and "cannot read template" in err
    code, _, err = invoke("label", "greet", "production", "--version", "1", "--rollout", "x")
    assert code == 2
    code, _, err = invoke("render", "greet", "--var", "novalue")
    assert code == 2 and "NAME=VALUE" in err
    assert main(["prompts", "--url", "http://127.0.0.1:9", "--api-key", "pw_x_y", "list"]) == 2
    environment = {k: v for k, v in os.environ.items() if k != "PROMPTWARD_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from promptward._cli_prompts import prompts; prompts.main(['list'])"],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert result.returncode == 2 and "no API key" in result.stderr


def test_the_api_key_comes_from_the_environment(sqlite_live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTWARD_API_KEY", sqlite_live.keys["reader"])
    monkeypatch.setenv("PROMPTWARD_URL", sqlite_live.url)
    assert main(["prompts", "list", "--json"]) == 0


def test_keys_are_printed_once_and_stored_hashed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys_file = tmp_path / "keys.yaml"
    assert main(["keys", "create", "ci", "--role", "editor", "--keys", str(keys_file)]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert key.startswith("pw_") and "only time" in err
    stored = keys_file.read_text()
    assert key not in stored and key.split("_", 2)[2] not in stored and "hash:" in stored
    assert oct(keys_file.stat().st_mode & 0o777) == "0o600"
    assert main(["keys", "create", "ci", "--keys", str(keys_file)]) == 2
    assert main(["keys", "list", "--keys", str(keys_file), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["name"], k["role"]) for k in listed] == [("ci", "editor")]
    assert main(["keys", "revoke", "ci", "--keys", str(keys_file)]) == 0
    assert main(["keys", "revoke", "ci", "--keys", str(keys_file)]) == 2
    # Without --keys, the file sits beside the store.
    store = f"sqlite:///{tmp_path / 'data' / 'registry.db'}"
    assert main(["keys", "create", "admin", "--role", "admin", "--store", store]) == 0
    assert (tmp_path / "data" / "promptward-keys.yaml").exists()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_the_registry_under_uvicorn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = f"sqlite:///{tmp_path / 'registry.db'}"
    keys_file = tmp_path / "keys.yaml"
    assert main(["keys", "create", "admin", "--role", "admin", "--keys", str(keys_file)]) == 0
    key = capsys.readouterr().out.strip()
    port = _free_port()
    args = ["--store", store, "--port", str(port), "--keys", str(keys_file), "--log-level", "warning"]
    code = f"from promptward._cli_prompts import serve; serve.main({args!r})"
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, "serve did not start"
                time.sleep(0.1)
        headers = {"X-API-Key": key}
        created = httpx.post(f"{url}/prompts/hello/versions", json={"template": "Hello"}, headers=headers)
        assert created.status_code == 201
        assert httpx.get(f"{url}/prompts", headers=headers).json()["items"][0]["slug"] == "hello"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "promptward registry on http://127.0.0.1" in err
