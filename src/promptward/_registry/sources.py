"""Where the client reads prompts from: a registry server over HTTP (httpx, sync and async) or a store directly.

Both answer the same three questions: a label (None when the ETag still matches), a version, and where to send
usage counts. Errors are the registry's own: PromptNotFound, RegistryUnavailable, RegistryError.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .._exceptions import PromptNotFound, PromptwardError, RegistryError, RegistryUnavailable
from .models import Label, PromptVersion

if TYPE_CHECKING:
    import httpx

    from .store import PromptStore


class Source(Protocol):
    name: str

    def label(self, slug: str, name: str, etag: str | None) -> tuple[Label, str | None] | None: ...

    def version(self, slug: str, number: int) -> PromptVersion: ...

    async def alabel(self, slug: str, name: str, etag: str | None) -> tuple[Label, str | None] | None: ...

    async def aversion(self, slug: str, number: int) -> PromptVersion: ...

    def report_usage(self, items: Sequence[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


def label_etag(label: Label) -> str:
    return f'"r{label.revision}"'


class HttpSource:
    """The registry REST API. One pooled httpx.Client for every thread; an AsyncClient per event loop."""

    def __init__(self, url: str, *, api_key: str | None, timeout: float, transport: Any = None) -> None:
        self.name = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout
        self._transport = transport
        self._sync: httpx.Client | None = None
        self._lock = threading.Lock()
        self._async: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

    @property
    def _client(self) -> httpx.Client:
        # Built on first use, off the start-up path: importing httpx and building its SSL context takes tens of
        # ms, and a process serving from its snapshot should not pay that before its first render.
        if self._sync is None:
            with self._lock:
                if self._sync is None:
                    import httpx

                    self._sync = httpx.Client(
                        base_url=self.name, headers=self.headers, timeout=self.timeout, transport=self._transport
                    )
        return self._sync

    # -- sync ---------------------------------------------------------------------------------------------------

    def label(self, slug: str, name: str, etag: str | None) -> tuple[Label, str | None] | None:
        path = f"/prompts/{slug}/labels/{name}"
        response = self._get(path, {"If-None-Match": etag} if etag else None)
        return _label_answer(self.name, path, response)

    def version(self, slug: str, number: int) -> PromptVersion:
        path = f"/prompts/{slug}/versions/{number}"
        return _version_answer(self.name, path, self._get(path, None))

    def report_usage(self, items: Sequence[dict[str, Any]]) -> None:
        import httpx

        try:
            response = self._client.post("/usage", json={"items": list(items)})
        except httpx.HTTPError as exc:
            raise _unreachable(self.name, "/usage", exc) from exc
        _check(self.name, "/usage", response)

    def _get(self, path: str, headers: dict[str, str] | None) -> httpx.Response:
        import httpx

        try:
            return self._client.get(path, headers=headers)
        except httpx.HTTPError as exc:
            raise _unreachable(self.name, path, exc) from exc

    # -- async --------------------------------------------------------------------------------------------------

    async def alabel(self, slug: str, name: str, etag: str | None) -> tuple[Label, str | None] | None:
        path = f"/prompts/{slug}/labels/{name}"
        response = await self._aget(path, {"If-None-Match": etag} if etag else None)
        return _label_answer(self.name, path, response)

    async def aversion(self, slug: str, number: int) -> PromptVersion:
        path = f"/prompts/{slug}/versions/{number}"
        return _version_answer(self.name, path, await self._aget(path, None))

    async def _aget(self, path: str, headers: dict[str, str] | None) -> httpx.Response:
        import httpx

        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            transport = self._transport if isinstance(self._transport, httpx.AsyncBaseTransport) else None
            client = httpx.AsyncClient(
                base_url=self.name, headers=self.headers, timeout=self.timeout, transport=transport
            )
            self._async = (loop, client)
        try:
            return await self._async[1].get(path, headers=headers)
        except httpx.HTTPError as exc:
            raise _unreachable(self.name, path, exc) from exc

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        self._async = None  # an AsyncClient can only be closed on its own loop; dropping it frees the sockets


class StoreSource:
    """Local mode: a store read directly (SQLite file, YAML folder, PostgreSQL), no server."""

    def __init__(self, store: PromptStore, *, owned: bool) -> None:
        self.store = store
        self.name = repr(store)
        self._owned = owned
        self._ledger: Any = None

    def label(self, slug: str, name: str, etag: str | None) -> tuple[Label, str | None] | None:
        label = _store_call(self.name, self.store.get_label, slug, name)
        tag = label_etag(label)
        return None if tag == etag else (label, tag)

    def version(self, slug: str, number: int) -> PromptVersion:
        version: PromptVersion = _store_call(self.name, self.store.get_version, slug, number)
        return version

    async def alabel(self, slug: str, name: str, etag: str | None) -> tuple[Label, str | None] | None:
        return await asyncio.to_thread(self.label, slug, name, etag)

    async def aversion(self, slug: str, number: int) -> PromptVersion:
        return await asyncio.to_thread(self.version, slug, number)

    def report_usage(self, items: Sequence[dict[str, Any]]) -> None:
        from .usage_ledger import UsageLedger, UsageRow

        if self._ledger is None:
            self._ledger = UsageLedger(self.store)
        self._ledger.record([UsageRow.model_validate(item) for item in items])

    def close(self) -> None:
        if self._owned:
            self.store.close()


def _store_call(name: str, function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except PromptwardError:
        raise
    except Exception as exc:  # a driver error the store did not translate
        raise RegistryUnavailable(f"store {name} failed: {exc}; check that it can be reached") from exc


def _unreachable(name: str, path: str, exc: Exception) -> RegistryUnavailable:
    kind = type(exc).__name__
    return RegistryUnavailable(
        f"registry {name} unreachable for {path} ({kind}: {exc or 'no detail'}); start it or check the URL"
    )


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)[:200]


def _check(name: str, path: str, response: httpx.Response) -> None:
    status = response.status_code
    if status < 300 or status == 304:
        return
    detail = _detail(response)
    if status == 404:
        raise PromptNotFound(f"registry {name}: {detail}")
    if status in (401, 403):
        raise RegistryError(f"registry {name} refused {path} ({status}: {detail}); check the api_key and its role")
    if status >= 500 or status == 429:
        raise RegistryUnavailable(f"registry {name} failed on {path} ({status}: {detail}); it is retried later")
    raise RegistryError(f"registry {name} answered {status} on {path}: {detail}")


def _label_answer(name: str, path: str, response: httpx.Response) -> tuple[Label, str | None] | None:
    _check(name, path, response)
    if response.status_code == 304:
        return None
    try:
        return Label.model_validate_json(response.content), response.headers.get("etag")
    except ValueError as exc:
        raise RegistryUnavailable(f"registry {name} sent an unreadable label for {path}: {exc}") from exc


def _version_answer(name: str, path: str, response: httpx.Response) -> PromptVersion:
    _check(name, path, response)
    try:
        return PromptVersion.model_validate_json(response.content)
    except ValueError as exc:
        raise RegistryUnavailable(f"registry {name} sent an unreadable version for {path}: {exc}") from exc
