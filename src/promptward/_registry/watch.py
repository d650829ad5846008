"""Push updates on the client: a daemon thread reads the server's GET /events stream (server-sent events).

Each event is handed to `on_event(kind, data)`. After a reconnect the client may have missed events, so
`on_event("reset", {})` tells it to revalidate everything it holds. Reconnects back off from 0.2 s to 5 s.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("promptward.registry")
EventHandler = Callable[[str, dict[str, Any]], None]


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from the lines of an event stream; comments (heartbeats) are skipped."""
    kind, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield kind, "\n".join(data)
            kind, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                kind = value
            elif field == "data":
                data.append(value)


class Watcher:
    def __init__(
        self, url: str, headers: dict[str, str], on_event: EventHandler, *, read_timeout: float = 45.0
    ) -> None:
        self.url = url.rstrip("/") + "/events"
        self.headers = {**headers, "Accept": "text/event-stream"}
        self.on_event = on_event
        self.read_timeout = read_timeout
        self.connected = threading.Event()
        self.events = 0
        self._stop = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name="promptward-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import httpx

        delay, first = 0.2, True
        timeout = httpx.Timeout(5.0, read=self.read_timeout)
        while not self._stop.is_set():
            try:
                with (
                    httpx.Client(headers=self.headers, timeout=timeout) as client,
                    client.stream("GET", self.url) as response,
                ):
                    if response.status_code != 200:
                        raise RuntimeError(f"GET {self.url} answered {response.status_code}")
                    self._response = response
                    if not first:
                        self.on_event("reset", {})
                    first, delay = False, 0.2
                    self.connected.set()
                    for kind, data in parse_sse(response.iter_lines()):
                        self._handle(kind, data)
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.info("event stream %s lost (%s); reconnecting in %.1f s", self.url, exc, delay)
            finally:
                self.connected.clear()
                self._response = None
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, 5.0)

    def _handle(self, kind: str, data: str) -> None:
        self.events += 1
        try:
            payload = json.loads(data) if data else {}
        except ValueError:
            payload = {}
        try:
            self.on_event(kind, payload if isinstance(payload, dict) else {})
        except Exception:  # a handler bug must not end the subscription
            log.exception("handling registry event %s failed", kind)

    def close(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # closing from another thread: best effort (a daemon thread)
                response.close()
        self._thread.join(timeout=1.0)
