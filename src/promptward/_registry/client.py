"""PromptRegistry: the client that sits in every request path and never goes down with the registry.

- Memory cache with a TTL and stale-while-revalidate: once a prompt is held, a get() never waits on the
  network; an expired entry is revalidated (If-None-Match -> 304) by a background thread.
- Disk snapshot (`snapshot_dir=`) of everything fetched, written atomically and read at start, so a process
  that starts while the registry is down serves the last known versions.
- Stale-if-error: a failed revalidation keeps the last good entry and retries with backoff.
- `fallback=`: a template for a prompt never seen (per call, or per slug in the constructor).
- Push updates (`watch=True` or subscribe()): the server's event stream invalidates entries as labels move.
- Rollouts resolved locally with the server's bucketing (rollout.resolve), so a unit keeps its version.
- Usage: every get() is counted per (slug, version, label, variant) and reported in the background.
- Local mode: PromptRegistry.local("sqlite:///registry.db") reads a store directly, no server.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .. import _render  # noqa: F401  (loaded with the client: the first guard.render() imports nothing)
from .._exceptions import PromptNotFound, RegistryError, RegistryUnavailable
from .._templates import Template
from .cache import LabelEntry, ResolvedPrompt, VersionEntry, build_entry, fallback_entry, resolved_of
from .models import Label, PromptVersion
from .snapshot import Snapshot, SnapshotEntry
from .sources import HttpSource, Source, StoreSource
from .usage import UsageCounter, UsageReporter

if TYPE_CHECKING:
    from .store import PromptStore

log = logging.getLogger("promptward.registry")
_MAX_BACKOFF = 30.0
_WORKERS = 2


class PromptRegistry:
    """Fetch prompt versions from a registry server (or a store) with a cache that outlives the registry.

    >>> registry = PromptRegistry("http://127.0.0.1:8700", api_key="pw_...", snapshot_dir=".promptward/snapshot")
    >>> prompt = registry.get("support-answer", label="production", unit_id="user-42")  # doctest: +SKIP
    >>> prompt.ref, prompt.render({"question": "..."})  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        snapshot_dir: str | Path | None = None,
        ttl: float = 60.0,
        timeout: float = 3.0,
        fallback: Mapping[str, object] | None = None,
        watch: bool = False,
        rollout_salt: str = "",
        report_usage: bool = True,
        usage_interval: float = 5.0,
        store: PromptStore | str | None = None,
        transport: Any = None,
        revalidate_after: float = 0.1,
    ) -> None:
        if (url is None) == (store is None):
            raise RegistryError("give the registry's URL, or store= for local mode (PromptRegistry.local(...))")
        self.ttl, self.salt, self.revalidate_after = ttl, rollout_salt, revalidate_after
        self.fallbacks: dict[str, object] = dict(fallback or {})
        self._source: Source
        if url is not None:
            self._source = HttpSource(url, api_key=api_key, timeout=timeout, transport=transport)
        else:
            self._source = _store_source(store)
        self._labels: dict[tuple[str, str], LabelEntry] = {}
        self._versions: dict[tuple[str, int], VersionEntry] = {}
        self._pinned: dict[tuple[str, int], ResolvedPrompt] = {}
        self._miss_locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[str, str, str] | None] = queue.SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._closed = False
        self.snapshot = Snapshot(snapshot_dir, registry=self._source.name) if snapshot_dir is not None else None
        self._load_snapshot()
        self.usage = UsageCounter()
        self._reporter = (
            UsageReporter(self.usage, self._source.report_usage, interval=usage_interval) if report_usage else None
        )
        self._watcher: Any = None
        if watch:
            self.subscribe()

    @classmethod
    def local(cls, store: PromptStore | str, **options: Any) -> PromptRegistry:
        """Read a store directly (a store object or a URL such as sqlite:///registry.db or yaml:///prompts)."""
        return cls(store=store, **options)

    # -- the hot path -------------------------------------------------------------------------------------------

    def get(
        self,
        slug: str,
        *,
        label: str = "production",
        version: int | None = None,
        unit_id: str | None = None,
        fallback: object = None,
    ) -> ResolvedPrompt:
        """The version `label` points to for this unit (or `version` itself). Never waits on the network once
        the prompt is held; raises PromptNotFound or RegistryUnavailable only for a prompt never held and with no
        fallback."""
        if version is not None:
            resolved = self._pinned.get((slug, version)) or self._load_pinned(slug, version, fallback)
        else:
            entry = self._labels.get((slug, label))
            if entry is None:
                entry = self._load(slug, label, fallback)
            elif entry.expires < time.monotonic():
                self._schedule(entry)
            resolved = entry.default if unit_id is None or entry.single else entry.pick(unit_id)
        self.usage.count(resolved.ref)
        return resolved

    async def aget(
        self,
        slug: str,
        *,
        label: str = "production",
        version: int | None = None,
        unit_id: str | None = None,
        fallback: object = None,
    ) -> ResolvedPrompt:
        """get() for async code: a held prompt is returned at once; a miss is fetched with httpx.AsyncClient."""
        if version is not None:
            held = self._pinned.get((slug, version))
            if held is None:
                held = await asyncio.to_thread(self._load_pinned, slug, version, fallback)
            self.usage.count(held.ref)
            return held
        entry = self._labels.get((slug, label))
        if entry is None:
            entry = await self._aload(slug, label, fallback)
        elif entry.expires < time.monotonic():
            self._schedule(entry)
        resolved = entry.default if unit_id is None or entry.single else entry.pick(unit_id)
        self.usage.count(resolved.ref)
        return resolved

    # -- misses (the caller waits: nothing is held for this prompt) ---------------------------------------------

    def _load(self, slug: str, label: str, fallback: object) -> LabelEntry:
        key = (slug, label)
        with self._locks_guard:
            lock = self._miss_locks.setdefault(key, threading.Lock())
        with lock:  # one fetch per prompt however many callers miss at once
            entry = self._labels.get(key)
            if entry is not None:
                return entry
            try:
                entry = self._fetch(slug, label, None)
            except RegistryError as exc:
                entry = self._fallback(slug, label, fallback, exc)
            else:
                self._enqueue("save", slug)
            self._labels[key] = entry
            return entry

    async def _aload(self, slug: str, label: str, fallback: object) -> LabelEntry:
        try:
            entry = await self._afetch(slug, label)
        except RegistryError as exc:
            entry = self._fallback(slug, label, fallback, exc)
        else:
            self._enqueue("save", slug)
        return self._labels.setdefault((slug, label), entry)

    def _load_pinned(self, slug: str, number: int, fallback: object) -> ResolvedPrompt:
        held = self._versions.get((slug, number))
        if held is None:
            try:
                held = self._remember(self._source.version(slug, number))
            except RegistryError as exc:
                return self._fallback(slug, None, fallback, exc).default
            self._enqueue("save", slug)
        resolved = resolved_of(held.version, held.template, None, f"v{number}", "registry")
        self._pinned[(slug, number)] = resolved
        return resolved

    def _fallback(self, slug: str, label: str | None, fallback: object, exc: RegistryError) -> LabelEntry:
        source = fallback if fallback is not None else self.fallbacks.get(slug)
        if source is None:
            if isinstance(exc, PromptNotFound):
                raise exc
            if isinstance(exc, RegistryUnavailable):
                raise RegistryUnavailable(self._cold_message(slug, label, exc)) from exc
            raise exc
        log.warning("prompt '%s': serving the fallback template (%s)", slug, exc)
        return fallback_entry(slug, label, source, expires=time.monotonic() + min(self.ttl, 5.0))

    def _cold_message(self, slug: str, label: str | None, exc: Exception) -> str:
        what = f"prompt '{slug}'" + (f" label '{label}'" if label else "")
        where = (
            f"the snapshot in {self.snapshot.folder} does not hold it" if self.snapshot else "no snapshot_dir= is set"
        )
        return (
            f"{what} was never fetched by this process and {where} ({exc}). Start the registry, point "
            f"snapshot_dir= at the snapshot a previous run wrote, or pass fallback= for this prompt"
        )

    # -- fetching (a miss on the caller's thread; refreshes on a worker) ----------------------------------------

    def _fetch(self, slug: str, label: str, previous: LabelEntry | None) -> LabelEntry:
        answer = self._source.label(slug, label, previous.etag if previous and previous.label else None)
        if answer is None:
            assert previous is not None and previous.label is not None
            return self._confirmed(previous)
        fetched, etag = answer
        missing = [t.version for t in fetched.targets if t.weight > 0 and (slug, t.version) not in self._versions]
        for number in missing:
            self._remember(self._source.version(slug, number))
        return self._entry(fetched, etag)

    async def _afetch(self, slug: str, label: str) -> LabelEntry:
        answer = await self._source.alabel(slug, label, None)
        assert answer is not None
        fetched, etag = answer
        for target in fetched.targets:
            if target.weight > 0 and (slug, target.version) not in self._versions:
                self._remember(await self._source.aversion(slug, target.version))
        return self._entry(fetched, etag)

    def _entry(
        self, label: Label, etag: str | None, *, origin: str = "registry", expires: float | None = None
    ) -> LabelEntry:
        versions = {number: held for (slug, number), held in self._versions.items() if slug == label.slug}
        when = time.monotonic() + self.ttl if expires is None else expires
        return build_entry(label, etag, versions, expires=when, salt=self.salt, origin=origin)

    def _confirmed(self, previous: LabelEntry) -> LabelEntry:
        assert previous.label is not None
        if previous.origin == "registry":
            previous.expires, previous.failures, previous.refreshing = time.monotonic() + self.ttl, 0, False
            return previous
        return self._entry(previous.label, previous.etag)  # a snapshot entry the registry has confirmed

    def _remember(self, version: PromptVersion) -> VersionEntry:
        held = VersionEntry(version, Template.parse(version.template))
        self._versions[(version.slug, version.version)] = held
        return held

    # -- background work ---------------------------------------------------------------------------------------

    def _schedule(self, entry: LabelEntry) -> None:
        if entry.refreshing or self._closed:
            return
        entry.refreshing = True
        self._enqueue("refresh", entry.slug, entry.name)

    def _enqueue(self, job: str, slug: str, label: str = "") -> None:
        if self._closed:
            return
        if len(self._workers) < _WORKERS:
            with self._locks_guard:
                while len(self._workers) < _WORKERS:
                    worker = threading.Thread(target=self._work, name="promptward-refresh", daemon=True)
                    worker.start()
                    self._workers.append(worker)
        self._jobs.put((job, slug, label))

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            kind, slug, label = job
            try:
                if kind == "refresh":
                    self.refresh(slug, label)
                elif self.snapshot is not None:
                    self._save_snapshot(slug)
            except Exception:
                log.exception("promptward registry %s of '%s' failed", kind, slug)

    def refresh(self, slug: str, label: str = "production") -> bool:
        """Revalidate one held label now (the background workers call this); False keeps the last good one."""
        key = (slug, label)
        previous = self._labels.get(key)
        try:
            entry = self._fetch(slug, label, previous if previous is not None and previous.label else None)
        except Exception as exc:
            if previous is not None:
                previous.failures += 1
                previous.expires = time.monotonic() + min(_MAX_BACKOFF, self.ttl, 0.5 * 2**previous.failures)
                previous.refreshing = False
                if previous.failures == 1:
                    log.warning("prompt '%s' label '%s': keeping the last good version (%s)", slug, label, exc)
            return False
        self._labels[key] = entry
        if entry is not previous:
            self._enqueue("save", slug)
        return True

    def _save_snapshot(self, slug: str) -> None:
        assert self.snapshot is not None
        labels = tuple(
            (entry.label, entry.etag)
            for (held_slug, _), entry in list(self._labels.items())
            if held_slug == slug and entry.label is not None
        )
        versions = tuple(held.version for (held_slug, _), held in sorted(self._versions.items()) if held_slug == slug)
        if labels or versions:
            self.snapshot.save(SnapshotEntry(slug, labels, versions))

    def _load_snapshot(self) -> None:
        if self.snapshot is None:
            return
        # Snapshot entries are served at once and revalidated from the first get() after `revalidate_after`
        # seconds, so the first requests of a new process do not share the CPU with loading the HTTP client.
        expires = time.monotonic() + self.revalidate_after
        for saved in self.snapshot.load():
            for version in saved.versions:
                self._remember(version)
            for label, etag in saved.labels:
                self._labels[(label.slug, label.name)] = self._entry(label, etag, origin="snapshot", expires=expires)

    # -- push updates ------------------------------------------------------------------------------------------

    def subscribe(self) -> PromptRegistry:
        """Listen to the server's event stream: a label move refreshes the held entry at once."""
        if self._watcher is None:
            if not isinstance(self._source, HttpSource):
                raise RegistryError("subscribe() needs a registry server; local mode reads the store on each TTL")
            from .watch import Watcher

            self._watcher = Watcher(self._source.name, self._source.headers, self._on_event)
        return self

    def _on_event(self, kind: str, data: dict[str, Any]) -> None:
        slug = data.get("slug")
        if kind == "label" and isinstance(slug, str):
            entry = self._labels.get((slug, str(data.get("label"))))
            revision = data.get("revision")
            stale = entry is not None and (
                entry.label is None or not isinstance(revision, int) or entry.label.revision < revision
            )
            if stale:
                self.refresh(slug, str(data.get("label")))
        elif kind in ("reset", "changed"):
            for entry in list(self._labels.values()):
                if kind == "reset" or entry.slug == slug:
                    entry.expires = 0.0
                    self._schedule(entry)

    @property
    def subscribed(self) -> bool:
        return self._watcher is not None and bool(self._watcher.connected.is_set())

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def usage_stats(self) -> dict[str, int]:
        """Counters of the usage reports: pending, sent and failed reports, calls lost, fallback renders."""
        return self.usage.stats()

    def flush_usage(self) -> bool:
        """Send the usage counters now (tests, shutdown); False if the registry did not take them."""
        return self._reporter.flush() if self._reporter is not None else True

    def close(self) -> None:
        """Stop the background threads, send the last usage counts (briefly) and close connections."""
        if self._closed:
            return
        if self._watcher is not None:
            self._watcher.close()
        if self._reporter is not None:
            self._reporter.close()
        self._closed = True
        for _ in self._workers:
            self._jobs.put(None)
        self._source.close()

    def __enter__(self) -> PromptRegistry:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PromptRegistry({self._source.name!r}, held={len(self._labels)} labels)"


def _store_source(store: PromptStore | str | None) -> StoreSource:
    if isinstance(store, str):
        from .store import open_store

        return StoreSource(open_store(store), owned=True)
    assert store is not None
    return StoreSource(store, owned=False)
