"""PromptRegistry against a real registry server process: cache, ETags, snapshot, push, rollouts, usage, faults.

Every fault of issue 7 runs against uvicorn in a subprocess: registry stopped mid-run, never started, a 5 s
stall, a corrupted snapshot, a 500, a version deleted while cached. Each ends in the last known good version
or a RegistryUnavailable that says what to do; never a half-rendered prompt.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from promptward import PromptNotFound, PromptRegistry, RegistryUnavailable
from promptward._apikeys import KeyRing
from promptward._registry.models import LabelTarget
from promptward._registry.rollout import resolve
from promptward._registry.snapshot import SnapshotWarning
from promptward._registry.sqlite_store import SQLiteStore
from promptward._registry.store import PromptStore

from .registry_process import RegistryProcess

POSTGRES_DSN = os.environ.get("PROMPTWARD_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
CONTRACT = {
    "question": {"type": "str", "trusted": False, "max_length": 4000},
    "tier": {"type": "enum", "enum": ["gold", "free"]},
}


def add_version(store: PromptStore, slug: str, text: str) -> int:
    version, _ = store.create_version(
        slug, text + " {{ question }} ({{ tier }})", CONTRACT, {}, author="t", message="m"
    )
    return version.version


def point(store: PromptStore, slug: str, *targets: tuple[int, float], label: str = "production") -> None:
    store.move_label(
        slug, label, [LabelTarget(version=v, weight=w) for v, w in targets], actor="t", expected_revision=None
    )


@dataclass
class Setup:
    store: SQLiteStore
    server: RegistryProcess
    key: str
    folder: Path

    def client(self, **options: object) -> PromptRegistry:
        options.setdefault("snapshot_dir", self.folder / "snapshot")
        return PromptRegistry(self.server.url, api_key=self.key, **options)  # type: ignore[arg-type]

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=10)


def make_keys(folder: Path) -> tuple[Path, str]:
    path = folder / "keys.yaml"
    ring = KeyRing(path=path)
    _, plaintext = ring.create("admin", "admin")
    return path, plaintext


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    store = SQLiteStore(tmp_path / "registry.db")
    add_version(store, "support", "Answer:")
    point(store, "support", (1, 100))
    keys, plaintext = make_keys(tmp_path)
    server = RegistryProcess(f"sqlite:///{tmp_path / 'registry.db'}", keys, tmp_path).start()
    try:
        yield Setup(store, server, plaintext, tmp_path)
    finally:
        server.stop()
        store.close()


def wait_for(condition: object, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(0.005)
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


VALUES = {"question": "Where is my order?", "tier": "gold"}


# -- cache, ETag, stale-while-revalidate ------------------------------------------------------------------------


def test_fetch_then_cache_hit_renders_and_reports_the_version(setup: Setup) -> None:
    with setup.client() as registry:
        prompt = registry.get("support")
        assert (prompt.ref.slug, prompt.ref.version, prompt.ref.label, prompt.ref.variant) == (
            "support",
            1,
            "production",
            "v1",
        )
        assert prompt.render(VALUES) == "Answer: Where is my order? (gold)"
        setup.server.stop()  # a hit never touches the network
        started = time.perf_counter()
        for _ in range(1000):
            assert registry.get("support") is prompt
        assert time.perf_counter() - started < 0.1


def test_expired_entry_is_revalidated_in_the_background_with_a_304(setup: Setup) -> None:
    statuses: list[int] = []

    def record(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    transport = httpx.HTTPTransport()
    with setup.client(ttl=0.05, transport=transport) as registry:
        registry._source._client.event_hooks["response"] = [record]  # type: ignore[attr-defined]
        first = registry.get("support")
        assert statuses == [200, 200]  # the label, then its version
        time.sleep(0.06)
        assert registry.get("support") is first  # served at once, stale, while revalidating
        wait_for(lambda: statuses[-1:] == [304])
        point(setup.store, "support", (add_version(setup.store, "support", "Reply:"), 100))
        time.sleep(0.06)
        registry.get("support")
        wait_for(lambda: registry.get("support").ref.version == 2)
        assert registry.get("support").render(VALUES).startswith("Reply:")


def test_concurrent_misses_fetch_once(setup: Setup) -> None:
    import threading

    with setup.client() as registry:
        results = []
        threads = [threading.Thread(target=lambda: results.append(registry.get("support"))) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({id(result) for result in results}) == 1


def test_async_get(setup: Setup) -> None:
    async def main() -> tuple[int | None, int | None]:
        with setup.client(snapshot_dir=None) as registry:
            first = await registry.aget("support")
            again = await registry.aget("support")
            assert again is first
            pinned = await registry.aget("support", version=1)
            return first.ref.version, pinned.ref.version

    assert asyncio.run(main()) == (1, 1)


# -- push updates -------------------------------------------------------------------------------------------------


def test_subscribed_client_sees_a_label_move_within_a_second(setup: Setup) -> None:
    v2 = add_version(setup.store, "support", "Reply:")
    with setup.client(ttl=3600, watch=True) as registry, setup.http() as http:
        assert registry.get("support").ref.version == 1
        wait_for(lambda: registry.subscribed)
        moved = time.monotonic()
        http.put("/prompts/support/labels/production", json={"version": v2}).raise_for_status()
        wait_for(lambda: registry.get("support").ref.version == 2, timeout=1.0)
        assert time.monotonic() - moved < 1.0
        http.post("/prompts/support/labels/production/rollback").raise_for_status()
        wait_for(lambda: registry.get("support").ref.version == 1, timeout=1.0)


def _postgres_available() -> bool:
    try:
        import psycopg

        psycopg.connect(POSTGRES_DSN, connect_timeout=2).close()
    except Exception:
        return False
    return True


def test_a_move_through_one_replica_reaches_clients_of_another(tmp_path: Path) -> None:
    if not _postgres_available():
        if os.environ.get("PROMPTWARD_REQUIRE_POSTGRES"):
            pytest.fail(f"no PostgreSQL at {POSTGRES_DSN}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_DSN}")
    import psycopg

    from promptward._registry.postgres_store import PostgresStore

    schema = f"pw_client_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(POSTGRES_DSN, schema=schema)
    keys, key = make_keys(tmp_path)
    url = f"{POSTGRES_DSN}?schema={schema}"
    replica_a = RegistryProcess(url, keys, tmp_path)
    replica_b = RegistryProcess(url, keys, tmp_path)
    try:
        add_version(store, "support", "Answer:")
        v2 = add_version(store, "support", "Reply:")
        point(store, "support", (1, 100))
        replica_a.start()
        replica_b.start()
        with PromptRegistry(replica_b.url, api_key=key, ttl=3600, watch=True) as registry:
            assert registry.get("support").ref.version == 1
            wait_for(lambda: registry.subscribed)
            time.sleep(0.2)  # replica B's LISTEN starts with its first subscriber
            a = httpx.Client(base_url=replica_a.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
            moved = time.monotonic()
            a.put("/prompts/support/labels/production", json={"version": v2}).raise_for_status()
            wait_for(lambda: registry.get("support").ref.version == 2, timeout=1.0)
            elapsed = time.monotonic() - moved
            print(f"label move through replica A visible to a client of replica B after {elapsed * 1000:.1f} ms")
            assert elapsed < 1.0
            a.post("/prompts/support/labels/production/rollback").raise_for_status()
            wait_for(lambda: registry.get("support").ref.version == 1, timeout=1.0)
            a.close()
    finally:
        replica_a.stop()
        replica_b.stop()
        store.close()
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as db:
            db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- rollouts -----------------------------------------------------------------------------------------------------


def test_rollout_is_resolved_locally_like_the_server_and_sticks(setup: Setup) -> None:
    v2 = add_version(setup.store, "support", "Reply:")
    point(setup.store, "support", (1, 70), (v2, 30))
    units = [f"user-{i}" for i in range(200)]
    with setup.client() as first, setup.client() as second, setup.http() as http:
        chosen = {unit: first.get("support", unit_id=unit).ref for unit in units}
        assert {ref.variant for ref in chosen.values()} == {"v1", "v2"}
        for unit in units[:40]:
            server = http.get("/prompts/support", params={"label": "production", "unit_id": unit}).json()
            assert (server["version"], server["variant"]) == (chosen[unit].version, chosen[unit].variant)
        assert all(second.get("support", unit_id=unit).ref == chosen[unit] for unit in units)
    label = setup.store.get_label("support", "production")
    assert all(resolve(label, unit)[0] == chosen[unit].version for unit in units)


# -- usage --------------------------------------------------------------------------------------------------------


def test_usage_is_counted_and_reported_in_batches(setup: Setup) -> None:
    with setup.client(usage_interval=3600) as registry, setup.http() as http:
        for _ in range(5):
            registry.get("support")
        registry.get("support", version=1)
        assert registry.usage_stats()["pending_calls"] == 6
        assert registry.flush_usage()
        usage = http.get("/prompts/support/usage").json()
        assert usage["versions"][0]["version"] == 1 and usage["versions"][0]["calls"] == 6
        labels = {(item["label"], item["calls"]) for item in usage["versions"][0]["labels"]}
        assert labels == {("production", 5), (None, 1)}
        setup.server.stop()
        registry.get("support")
        started = time.perf_counter()
        assert not registry.flush_usage()  # the registry is down: kept, counted, never raised
        assert time.perf_counter() - started < 5
        stats = registry.usage_stats()
        assert stats["failed_reports"] == 1 and stats["pending_calls"] == 1


# -- faults -------------------------------------------------------------------------------------------------------


def test_registry_stopped_mid_run_keeps_serving_the_last_good_version(setup: Setup) -> None:
    with setup.client(ttl=0.02) as registry:
        assert registry.get("support").ref.version == 1
        setup.server.stop()
        for _ in range(50):
            started = time.perf_counter()
            prompt = registry.get("support")
            assert time.perf_counter() - started < 0.01
            assert prompt.ref.version == 1 and prompt.render(VALUES).startswith("Answer:")
            time.sleep(0.005)
        with pytest.raises(RegistryUnavailable, match="fallback="):
            registry.get("never-seen")


def test_cold_start_with_the_registry_down_serves_the_snapshot(setup: Setup) -> None:
    with setup.client() as registry:
        registry.get("support")
    assert wait_for(lambda: (setup.folder / "snapshot" / "support.json").exists()) < 5
    setup.server.stop()
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.perf_counter()
    with PromptRegistry(dead, api_key=setup.key, snapshot_dir=setup.folder / "snapshot") as cold:
        prompt = cold.get("support")
        elapsed = time.perf_counter() - started
        assert prompt.ref.version == 1 and prompt.ref.variant == "v1"
        assert prompt.render(VALUES) == "Answer: Where is my order? (gold)"
        assert elapsed < 0.2, elapsed
    with PromptRegistry(dead, api_key=setup.key, snapshot_dir=setup.folder / "empty") as empty:
        with pytest.raises(RegistryUnavailable, match="snapshot") as caught:
            empty.get("support")
        assert "Start the registry" in str(caught.value)
        fallback = empty.get("support", fallback="Please answer: {{ question }}")
        assert fallback.ref.variant == "fallback" and fallback.ref.version is None
        assert fallback.render({"question": "hi"}) == "Please answer: hi"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "edited", "empty"])
def test_a_damaged_snapshot_file_is_ignored_with_a_warning(setup: Setup, damage: str) -> None:
    with setup.client() as registry:
        registry.get("support")
    path = setup.folder / "snapshot" / "support.json"
    wait_for(path.exists)
    time.sleep(0.05)
    text = path.read_text()
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xff" * 100)
    elif damage == "edited":
        path.write_text(text.replace("Answer:", "Answ3r:"))
    else:
        path.write_text("")
    setup.server.stop()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = PromptRegistry(f"http://127.0.0.1:{free_port()}", snapshot_dir=setup.folder / "snapshot")
    assert any(issubclass(w.category, SnapshotWarning) and "support.json" in str(w.message) for w in caught)
    with registry, pytest.raises(RegistryUnavailable):
        registry.get("support")


def test_a_slow_registry_never_stalls_callers_past_the_cache(setup: Setup) -> None:
    add_version(setup.store, "other", "Other:")
    point(setup.store, "other", (1, 100))
    with setup.client(ttl=0.02, timeout=0.5) as registry:
        registry.get("support")
        setup.server.fault(delay=5)
        time.sleep(0.03)
        worst = 0.0
        for _ in range(200):
            started = time.perf_counter()
            assert registry.get("support").ref.version == 1
            worst = max(worst, time.perf_counter() - started)
        assert worst < 0.01, worst
        started = time.perf_counter()
        with pytest.raises(RegistryUnavailable, match="ReadTimeout"):
            registry.get("other")  # never held: waits for the timeout, not the 5 s stall
        assert time.perf_counter() - started < 2.0
        assert registry.get("other", fallback="Fallback {{ question }}").ref.variant == "fallback"
        setup.server.fault()


def test_a_500_keeps_the_last_good_version_and_names_the_fault_for_a_miss(setup: Setup) -> None:
    add_version(setup.store, "other", "Other:")
    point(setup.store, "other", (1, 100))
    with setup.client(ttl=0.02) as registry:
        registry.get("support")
        setup.server.fault(status=500)
        time.sleep(0.03)
        for _ in range(20):
            assert registry.get("support").ref.version == 1
            time.sleep(0.005)
        with pytest.raises(RegistryUnavailable, match="500"):
            registry.get("other")
        setup.server.fault()
        assert registry.get("other").ref.version == 1


def _delete(db_path: Path, slug: str, version: int | None = None) -> None:
    with sqlite3.connect(db_path) as db:
        if version is not None:
            db.execute("DELETE FROM versions WHERE slug = ? AND version = ?", (slug, version))
            return
        for table in ("labels", "label_events", "audit", "versions", "prompts"):
            db.execute(f"DELETE FROM {table} WHERE slug = ?", (slug,))


def test_a_version_deleted_on_the_server_while_cached(setup: Setup) -> None:
    with setup.client(ttl=0.02) as registry:
        assert registry.get("support").ref.version == 1
        # the label moves to a version that is deleted before the client fetches it: the old label stays whole
        v2 = add_version(setup.store, "support", "Reply:")
        point(setup.store, "support", (v2, 100))
        _delete(setup.folder / "registry.db", "support", v2)
        time.sleep(0.03)
        assert not registry.refresh("support")
        prompt = registry.get("support")
        assert prompt.ref.version == 1 and prompt.render(VALUES).startswith("Answer:")
        # the whole prompt deleted: the cached version keeps serving, a pinned miss is PromptNotFound
        _delete(setup.folder / "registry.db", "support")
        assert not registry.refresh("support")
        assert registry.get("support").ref.version == 1
        with pytest.raises(PromptNotFound):
            registry.get("support", version=9)


# -- local mode ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "yaml"])
def test_local_mode_reads_a_store_without_a_server(tmp_path: Path, kind: str) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}" if kind == "sqlite" else f"yaml:///{tmp_path / 'prompts'}"
    from promptward._registry.store import open_store

    store = open_store(url)
    add_version(store, "support", "Answer:")
    point(store, "support", (1, 100))
    with PromptRegistry.local(url, ttl=0.01) as registry:
        assert registry.get("support").render(VALUES).startswith("Answer:")
        point(store, "support", (add_version(store, "support", "Reply:"), 100))
        time.sleep(0.02)
        registry.get("support")
        wait_for(lambda: registry.get("support").ref.version == 2)
        assert registry.flush_usage()
    from promptward._registry.usage_ledger import UsageLedger

    assert sum(item["calls"] for item in UsageLedger(store).usage("support")) >= 2
    store.close()


def test_snapshot_files_are_written_atomically(setup: Setup) -> None:
    with setup.client() as registry:
        registry.get("support")
        wait_for((setup.folder / "snapshot" / "support.json").exists)
    leftovers = [p.name for p in (setup.folder / "snapshot").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    document = json.loads((setup.folder / "snapshot" / "support.json").read_text())
    assert document["payload"]["slug"] == "support" and len(document["sha256"]) == 64
