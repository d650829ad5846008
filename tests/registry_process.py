"""A registry server in its own process (uvicorn on 127.0.0.1, a free port) with faults one can switch on.

`GET /_fault?delay=5` stalls every later request (but /events and /_fault) by 5 s; `?status=500` answers 500;
`?delay=0&status=0` heals. Used by tests/test_client.py and benchmarks/client_speed.py.

    python tests/registry_process.py STORE_URL KEYS_FILE PORT_FILE
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx


class Faults:
    """Pure ASGI wrapper: a switchable stall or error in front of the registry app."""

    def __init__(self, app: Any) -> None:
        self.app, self.delay, self.status = app, 0.0, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path == "/_fault":
            query = parse_qs(scope["query_string"].decode())
            self.delay = float(query.get("delay", ["0"])[0])
            self.status = int(query.get("status", ["0"])[0])
            await _answer(send, 200, {"delay": self.delay, "status": self.status})
            return
        if scope["type"] == "http" and path != "/events":
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.status:
                await _answer(send, self.status, {"title": "injected fault", "status": self.status, "detail": "fault"})
                return
        await self.app(scope, receive, send)


async def _answer(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def main(store_url: str, keys: str, port_file: str) -> None:
    import uvicorn

    from promptward._registry.store import open_store
    from promptward.server import create_registry_app

    store = open_store(store_url)
    app = Faults(create_registry_app(store, keys=keys))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    wanted = int(os.environ.get("REGISTRY_PORT", "0"))
    sock.bind(("127.0.0.1", wanted))
    Path(port_file).write_text(str(sock.getsockname()[1]))
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[sock])


class RegistryProcess:
    """Start, stop and restart (on the same port) a registry server process."""

    def __init__(self, store_url: str, keys: Path, folder: Path) -> None:
        self.store_url, self.keys, self.folder = store_url, keys, folder
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RegistryProcess:
        port_file = self.folder / f"port-{time.monotonic_ns()}"
        env = {**os.environ, "REGISTRY_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.store_url, str(self.keys), str(port_file)], env=env
        )
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text():
            assert time.monotonic() < deadline and self.process.poll() is None, "registry process did not start"
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "registry process does not answer /health"
            time.sleep(0.02)

    def fault(self, *, delay: float = 0.0, status: int = 0) -> None:
        httpx.get(f"{self.url}/_fault", params={"delay": delay, "status": status}, timeout=5).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


if __name__ == "__main__":
    main(*sys.argv[1:4])
