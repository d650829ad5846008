"""Push updates and usage for the registry server.

GET /events streams server-sent events: `label` {slug, label, revision} when a label moves or rolls back,
`version` {slug, version} when a version is created, `changed` {slug} after an import, `reset` {} when this
server may have missed changes (subscribers revalidate everything), and a `: ping` comment every `heartbeat`
seconds. Writes made through this server are published directly. With the PostgreSQL store every server
process LISTENs on channel `promptward` (the store NOTIFYs it on each commit) instead, so a move made
through one replica reaches the subscribers of every replica, once.

POST /usage takes clients' render counts; GET /prompts/{slug}/usage answers which versions are in use.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ._server_http import json_response, read_json, validate_body

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._registry.store import PromptStore

log = logging.getLogger("promptward.server")
Event = tuple[str, dict[str, Any]]


def _postgres_of(store: PromptStore) -> tuple[str, str] | None:
    module = sys.modules.get("promptward._registry.postgres_store")
    if module is not None and isinstance(store, module.PostgresStore):
        return store.dsn, store.schema
    return None


class EventHub:
    """Fans events out to the SSE subscribers of this process (each holds a bounded queue)."""

    def __init__(
        self, store: PromptStore, *, heartbeat: float = 10.0, max_stream: float = 600.0, queue_size: int = 256
    ) -> None:
        self.heartbeat, self.max_stream, self.queue_size = heartbeat, max_stream, queue_size
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._postgres = _postgres_of(store)
        self._listener: _Listener | None = None
        self.published = 0

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        """Called on the event loop after a write through this server (skipped when PostgreSQL delivers it)."""
        if self._postgres is None:
            self._fan_out((kind, data))

    def _fan_out(self, event: Event) -> None:
        self.published += 1
        for subscriber in list(self._subscribers):
            try:
                subscriber.put_nowait(event)
            except asyncio.QueueFull:  # a slow reader: drop its backlog, tell it to revalidate everything
                while not subscriber.empty():
                    subscriber.get_nowait()
                subscriber.put_nowait(("reset", {}))

    def stream(self, request: Request) -> Response:
        if self._postgres is not None and self._listener is None:
            self._listener = _Listener(*self._postgres, asyncio.get_running_loop(), self._fan_out)
        subscriber: asyncio.Queue[Event] = asyncio.Queue(self.queue_size)
        self._subscribers.add(subscriber)
        return StreamingResponse(
            self._body(subscriber),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _body(self, subscriber: asyncio.Queue[Event]) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        try:
            yield b'retry: 1000\nevent: hello\ndata: {"heartbeat": %.1f}\n\n' % self.heartbeat
            ends = loop.time() + self.max_stream  # clients reconnect; a server never holds one stream forever
            while loop.time() < ends:
                try:
                    kind, data = await asyncio.wait_for(subscriber.get(), self.heartbeat)
                except TimeoutError:
                    yield b": ping\n\n"
                    continue
                yield f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
        finally:
            self._subscribers.discard(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()


class _Listener:
    """LISTEN on the store's NOTIFY channel in a daemon thread; hand each change of our schema to the loop."""

    def __init__(self, dsn: str, schema: str, loop: asyncio.AbstractEventLoop, deliver: Any) -> None:
        self.dsn, self.schema, self.loop, self.deliver = dsn, schema, loop, deliver
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="promptward-listen", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psycopg

        from ._registry.postgres_store import NOTIFY_CHANNEL

        first, delay = True, 0.2
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as db:
                    db.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    if not first:  # changes made while we were away were never heard: revalidate
                        self._hand(("reset", {}))
                    first, delay = False, 0.2
                    while not self._stop.is_set():
                        for note in db.notifies(timeout=1.0):
                            self._note(note.payload)
            except Exception as exc:
                self.listening.clear()
                log.warning("LISTEN %s lost (%s); retrying in %.1f s", self.schema, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)

    def _note(self, payload: str) -> None:
        try:
            change = json.loads(payload)
        except ValueError:
            return
        if not isinstance(change, dict) or change.pop("schema", None) != self.schema:
            return
        if "label" in change:
            self._hand(("label", change))
        elif "version" in change:
            self._hand(("version", change))
        else:
            self._hand(("changed", {"slug": change.get("slug")}))

    def _hand(self, event: Event) -> None:
        try:
            self.loop.call_soon_threadsafe(self.deliver, event)
        except RuntimeError:  # the loop is closed: the server is shutting down
            self._stop.set()

    def stop(self) -> None:
        self._stop.set()


class Usage:
    """POST /usage and GET /prompts/{slug}/usage over a UsageLedger kept beside the store."""

    def __init__(self, store: PromptStore, limit: int) -> None:
        from ._registry.usage_ledger import UsageLedger

        self.store, self.limit = store, limit
        self.ledger = UsageLedger(store)

    async def report(self, request: Request) -> Response:
        from ._registry.usage_ledger import UsageReport

        body = validate_body(UsageReport, await read_json(request, self.limit))
        await run_in_threadpool(self.ledger.record, body.items)
        return json_response({"accepted": len(body.items)}, status=202)

    async def answer(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        await run_in_threadpool(self.store.latest, slug)  # 404 for an unknown prompt
        versions = await run_in_threadpool(self.ledger.usage, slug)
        return json_response({"slug": slug, "versions": versions})
