"""One specification for every prompt store: SQLite, a folder of YAML files and PostgreSQL run the same tests.

PostgreSQL: PROMPTWARD_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test); each test gets its own
schema, dropped afterwards. The PostgreSQL cases skip when the server is unreachable, unless
PROMPTWARD_REQUIRE_POSTGRES=1 makes that a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from promptward import (
    ConfigError,
    PromptNotFound,
    RegistryError,
    RegistryUnavailable,
    TemplateError,
    VersionConflict,
)
from promptward._registry import (
    LabelTarget,
    PromptStore,
    SQLiteStore,
    YamlStore,
    bucket,
    copy_prompts,
    diff_versions,
    open_store,
    resolve,
)
from promptward._registry.models import Label, content_hash
from promptward._registry.sql_store import SqlStore

POSTGRES_DSN = os.environ.get("PROMPTWARD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
StoreFactory = Callable[[], PromptStore]

GREETING = "Hello {{ name }}!\nYou asked: {{ question }}"
CONTRACT: dict[str, Any] = {
    "name": {"type": "str", "max_length": 40},
    "question": {"type": "str", "trusted": False},
}
CONFIG: dict[str, Any] = {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2}}


def _postgres_admin() -> Any:
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("PROMPTWARD_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_DSN}: {exc}")


@pytest.fixture(params=["sqlite", "yaml", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """A factory of stores sharing one backend, like several server replicas; all are closed afterwards."""
    opened: list[PromptStore] = []
    admin = None
    schema = f"pw_test_{uuid.uuid4().hex[:12]}"
    if request.param == "postgres":
        admin = _postgres_admin()
        from promptward._registry import PostgresStore

    def factory() -> PromptStore:
        store: PromptStore
        if request.param == "sqlite":
            store = SQLiteStore(tmp_path / "registry.db")
        elif request.param == "yaml":
            store = YamlStore(tmp_path / "prompts")
        else:
            store = PostgresStore(POSTGRES_DSN, schema=schema)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()
    if admin is not None:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@pytest.fixture
def store(make_store: StoreFactory) -> PromptStore:
    return make_store()


def add(store: PromptStore, template: Any = GREETING, *, message: str = "m", **changes: Any) -> Any:
    contract = changes.pop("contract", CONTRACT)
    config = changes.pop("config", CONFIG)
    version, _ = store.create_version("greeting", template, contract, config, author="ann", message=message)
    return version


def targets(*pairs: tuple[int, float]) -> list[LabelTarget]:
    return [LabelTarget(version=version, weight=weight) for version, weight in pairs]


def snapshot(store: PromptStore) -> Any:
    return store.export_prompt("greeting").model_dump()


# --- versions -----------------------------------------------------------------------------------------------------


def test_versions_count_up_and_same_content_is_not_a_new_version(store: PromptStore) -> None:
    first, created = store.create_version("greeting", GREETING, CONTRACT, CONFIG, author="ann", message="first")
    assert created and first.version == 1 and first.parent is None
    again, created = store.create_version("greeting", GREETING, CONTRACT, CONFIG, author="bob", message="again")
    assert not created and again == first
    second = add(store, GREETING + "!")
    assert (second.version, second.parent) == (2, 1)
    assert first.sha256 == content_hash(first.template, first.contract, first.config)
    assert store.get_version("greeting", 1) == first
    assert store.latest("greeting") == second
    assert first.created_at.tzinfo is not None and first.contract["question"].trusted is False
    assert first.config == CONFIG


def test_chat_templates_and_unicode_round_trip(store: PromptStore) -> None:
    chat = [
        {"role": "system", "content": "Réponds en {{ language }} 🌍\nSois bref."},
        {"role": "user", "content": "{{ question }}", "when": "question"},
    ]
    contract = {"language": {"type": "enum", "enum": ["français", "english"]}, "question": {"type": "str"}}
    version = add(store, chat, contract=contract, config={})
    assert store.get_version("greeting", version.version).template == chat
    rendered = store.latest("greeting").render({"language": "français", "question": "Où ?"})
    assert rendered == [
        {"role": "system", "content": "Réponds en français 🌍\nSois bref."},
        {"role": "user", "content": "Où ?"},
    ]


def test_unknown_prompts_and_versions_are_not_found(store: PromptStore) -> None:
    for call in (
        lambda: store.latest("nope"),
        lambda: store.list_versions("nope"),
        lambda: store.list_labels("nope"),
        lambda: store.history("nope"),
        lambda: store.get_label("nope", "production"),
        lambda: store.move_label("nope", "production", targets((1, 100)), actor="a", expected_revision=None),
    ):
        with pytest.raises(PromptNotFound):
            call()
    add(store)
    with pytest.raises(PromptNotFound, match="no version 7"):
        store.get_version("greeting", 7)
    with pytest.raises(PromptNotFound, match="no label 'staging'"):
        store.get_label("greeting", "staging")
    with pytest.raises(PromptNotFound):
        store.label_history("greeting", "staging")


@pytest.mark.parametrize(
    ("slug", "template", "contract", "config", "error", "message"),
    [
        ("greeting", "Hi {{ who }}", CONTRACT, CONFIG, TemplateError, "undeclared variables"),
        ("greeting", "Hi {{ a.b }}", CONTRACT, CONFIG, TemplateError, "attribute"),
        ("greeting", GREETING, {"name": {"type": "text"}, "question": {"type": "str"}}, CONFIG, TemplateError, "type"),
        ("greeting", GREETING, CONTRACT, {"when": object()}, ConfigError, "plain JSON"),
        ("Bad Slug", GREETING, CONTRACT, CONFIG, ConfigError, "prompt slug"),
        ("../escape", GREETING, CONTRACT, CONFIG, ConfigError, "prompt slug"),
    ],
)
def test_invalid_versions_are_rejected_and_write_nothing(
    store: PromptStore, slug: str, template: Any, contract: Any, config: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        store.create_version(slug, template, contract, config, author="ann", message="bad")
    assert store.list_prompts() == []


def test_pagination(store: PromptStore) -> None:
    for slug in ("c", "a", "b"):
        store.create_version(slug, "x", {}, {}, author="ann", message="")
    for number in range(5):
        add(store, f"{GREETING} {number}")
    assert store.list_prompts() == ["a", "b", "c", "greeting"]
    assert store.list_prompts(offset=1, limit=2) == ["b", "c"]
    assert [version.version for version in store.list_versions("greeting", offset=3, limit=10)] == [4, 5]
    assert store.list_versions("greeting", offset=9) == []
    with pytest.raises(ConfigError):
        store.list_prompts(offset=-1)


# --- labels -------------------------------------------------------------------------------------------------------


def test_labels_move_with_optimistic_concurrency(store: PromptStore) -> None:
    add(store)
    add(store, GREETING + " v2")
    created = store.move_label("greeting", "production", targets((1, 100)), actor="ann", expected_revision=0)
    assert (created.revision, created.updated_by, created.protected) == (1, "ann", False)
    with pytest.raises(VersionConflict, match="revision 1, not 0"):
        store.move_label("greeting", "production", targets((2, 100)), actor="bob", expected_revision=0)
    moved = store.move_label("greeting", "production", targets((2, 10), (1, 90)), actor="bob", expected_revision=1)
    assert moved.targets == targets((1, 90), (2, 10))  # kept sorted by version: rollout buckets stay stable
    unchecked = store.move_label("greeting", "production", targets((2, 100)), actor="cy", expected_revision=None)
    assert unchecked.revision == 3
    assert store.get_label("greeting", "production") == unchecked
    store.move_label("greeting", "staging", targets((2, 100)), actor="cy", expected_revision=None)
    assert [label.name for label in store.list_labels("greeting")] == ["production", "staging"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (targets((1, 50)), "sum to 100"),
        (targets((1, 50), (1, 50)), "distinct"),
        (targets((1, 50), (9, 50)), r"versions \[9\] do not exist"),
        ([], "at least one"),
    ],
)
def test_invalid_targets_are_config_errors_and_write_nothing(
    store: PromptStore, bad: list[LabelTarget], message: str
) -> None:
    add(store)
    store.move_label("greeting", "production", targets((1, 100)), actor="ann", expected_revision=0)
    before = snapshot(store)
    with pytest.raises(ConfigError, match=message):
        store.move_label("greeting", "production", bad, actor="ann", expected_revision=1)
    assert snapshot(store) == before


def test_label_names_are_checked(store: PromptStore) -> None:
    add(store)
    with pytest.raises(ConfigError, match="label"):
        store.move_label("greeting", "Prod Env", targets((1, 100)), actor="ann", expected_revision=None)


def test_protected_flag_sticks_until_changed(store: PromptStore) -> None:
    add(store)
    add(store, GREETING + " v2")
    label = store.move_label(
        "greeting", "production", targets((1, 100)), actor="root", expected_revision=0, protected=True
    )
    assert label.protected
    label = store.move_label("greeting", "production", targets((2, 100)), actor="root", expected_revision=1)
    assert label.protected
    label = store.move_label(
        "greeting", "production", targets((2, 100)), actor="root", expected_revision=2, protected=False
    )
    assert not label.protected


def test_rollback_undoes_moves_one_at_a_time(store: PromptStore) -> None:
    for number in range(3):
        add(store, f"{GREETING} {number}")
    store.move_label("greeting", "production", targets((1, 100)), actor="ann", expected_revision=0)
    with pytest.raises(RegistryError, match="no earlier targets"):
        store.rollback_label("greeting", "production", actor="ann", expected_revision=1)
    store.move_label("greeting", "production", targets((1, 90), (2, 10)), actor="ann", expected_revision=1)
    store.move_label("greeting", "production", targets((3, 100)), actor="ann", expected_revision=2)
    with pytest.raises(VersionConflict):
        store.rollback_label("greeting", "production", actor="bob", expected_revision=2)
    back = store.rollback_label("greeting", "production", actor="bob", expected_revision=3)
    assert (back.targets, back.revision, back.updated_by) == (targets((1, 90), (2, 10)), 4, "bob")
    back = store.rollback_label("greeting", "production", actor="bob", expected_revision=None)
    assert back.targets == targets((1, 100))
    with pytest.raises(RegistryError):
        store.rollback_label("greeting", "production", actor="bob", expected_revision=None)
    with pytest.raises(PromptNotFound):
        store.rollback_label("greeting", "staging", actor="bob", expected_revision=None)
    history = store.label_history("greeting", "production")
    assert [event.action for event in history] == ["create", "move", "move", "rollback", "rollback"]
    assert [event.revision for event in history] == [1, 2, 3, 4, 5]
    assert history[3].from_targets == targets((3, 100)) and history[3].actor == "bob"


def test_every_write_is_audited(store: PromptStore) -> None:
    add(store, message="first")
    add(store, message="first")  # same content: no write, no entry
    add(store, GREETING + "?", message="second")
    store.move_label("greeting", "production", targets((1, 100)), actor="bob", expected_revision=0)
    store.move_label("greeting", "production", targets((2, 100)), actor="bob", expected_revision=1)
    store.rollback_label("greeting", "production", actor="cy", expected_revision=2)
    entries = store.history("greeting")
    assert [(entry.action, entry.actor) for entry in entries] == [
        ("version.create", "ann"),
        ("version.create", "ann"),
        ("label.create", "bob"),
        ("label.move", "bob"),
        ("label.rollback", "cy"),
    ]
    assert entries[1].detail["message"] == "second" and entries[1].detail["version"] == 2
    assert entries[3].detail["from"] == [{"version": 1, "weight": 100.0}]
    assert all(a.at <= b.at for a, b in itertools.pairwise(entries))


def _break_the_last_step(store: PromptStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    if isinstance(store, SqlStore):
        monkeypatch.setattr(store, "_write_audit", fail)  # after the label and event rows are written
    else:
        monkeypatch.setattr("promptward._registry.yaml_store.os.replace", fail)


def test_a_failing_write_leaves_no_partial_state(store: PromptStore, monkeypatch: pytest.MonkeyPatch) -> None:
    add(store)
    add(store, GREETING + " v2")
    store.move_label("greeting", "production", targets((1, 100)), actor="ann", expected_revision=0)
    before = snapshot(store)
    _break_the_last_step(store, monkeypatch)
    with pytest.raises(RuntimeError, match="disk full"):
        store.move_label("greeting", "production", targets((2, 100)), actor="ann", expected_revision=1)
    with pytest.raises(RuntimeError, match="disk full"):
        add(store, GREETING + " v3")
    monkeypatch.undo()
    assert snapshot(store) == before
    if isinstance(store, YamlStore):
        assert sorted(path.name for path in store.folder.iterdir()) == [".promptward.lock", "greeting.yaml"]


def test_two_writers_with_the_same_revision_exactly_one_wins(make_store: StoreFactory) -> None:
    setup = make_store()
    add(setup)
    add(setup, GREETING + " v2")
    add(setup, GREETING + " v3")
    setup.move_label("greeting", "production", targets((1, 100)), actor="ann", expected_revision=0)
    writers = [make_store(), make_store()]  # separate connections, as two server replicas would have
    start = threading.Barrier(len(writers))
    outcomes: list[Any] = [None, None]

    def write(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = writers[index].move_label(
                "greeting", "production", targets((index + 2, 100)), actor=f"w{index}", expected_revision=1
            )
        except VersionConflict as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=write, args=(index,)) for index in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    wins = [outcome for outcome in outcomes if isinstance(outcome, Label)]
    conflicts = [outcome for outcome in outcomes if isinstance(outcome, VersionConflict)]
    assert len(wins) == 1 and len(conflicts) == 1, outcomes
    final = setup.get_label("greeting", "production")
    assert final == wins[0] and final.revision == 2
    assert len(setup.label_history("greeting", "production")) == 2


def test_concurrent_version_writers_lose_nothing(make_store: StoreFactory) -> None:
    add(make_store())
    writers = [make_store() for _ in range(4)]
    start = threading.Barrier(len(writers))

    def write(index: int) -> None:
        start.wait()
        for round_ in range(3):
            add(writers[index], f"{GREETING} from {index} round {round_}")

    threads = [threading.Thread(target=write, args=(index,)) for index in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    versions = writers[0].list_versions("greeting", limit=100)
    assert [version.version for version in versions] == list(range(1, 14))
    assert [version.parent for version in versions[1:]] == list(range(1, 13))
    assert len({version.sha256 for version in versions}) == 13


# --- moving whole histories between stores ------------------------------------------------------------------------


def test_export_import_round_trip_through_yaml(store: PromptStore, tmp_path: Path) -> None:
    add(store)
    add(store, [{"role": "user", "content": "{{ question }} {{ name }}"}])
    store.move_label("greeting", "production", targets((1, 99), (2, 1)), actor="ann", expected_revision=0)
    folder = YamlStore(tmp_path / "exported")
    assert folder.import_from(store) == ["greeting"]
    assert folder.import_from(store) == []  # nothing changed: nothing written
    assert folder.export_prompt("greeting") == store.export_prompt("greeting")
    copy = SQLiteStore(tmp_path / "copy.db")
    assert folder.export_to(copy) == ["greeting"]
    assert copy.export_prompt("greeting") == store.export_prompt("greeting")
    store.move_label("greeting", "production", targets((2, 100)), actor="ann", expected_revision=1)
    assert copy_prompts(store, folder) == ["greeting"]  # fast-forward: the target's versions are a prefix
    assert folder.get_label("greeting", "production").revision == 2
    copy.close()


def test_import_refuses_diverged_histories(store: PromptStore, tmp_path: Path) -> None:
    add(store)
    other = SQLiteStore(tmp_path / "other.db")
    other.create_version("greeting", "Something else", {}, {}, author="eve", message="")
    with pytest.raises(VersionConflict, match="diverged"):
        store.import_prompt(other.export_prompt("greeting"))
    other.close()


def test_hand_edited_yaml_with_a_stale_hash_is_refused(tmp_path: Path) -> None:
    folder = YamlStore(tmp_path)
    add(folder)
    path = tmp_path / "greeting.yaml"
    path.write_text(path.read_text().replace("You asked", "You said"))
    with pytest.raises(ConfigError, match="sha256 does not match"):
        folder.latest("greeting")


# --- opening stores, rollouts, diffs ------------------------------------------------------------------------------


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    sqlite = open_store(f"sqlite:///{tmp_path}/r.db")
    yaml_store = open_store(f"yaml:///{tmp_path}/prompts")
    assert isinstance(sqlite, SQLiteStore) and sqlite.path == tmp_path / "r.db"
    assert isinstance(yaml_store, YamlStore) and yaml_store.folder == tmp_path / "prompts"
    assert isinstance(sqlite, PromptStore) and isinstance(yaml_store, PromptStore)
    with pytest.raises(ConfigError, match="unknown store URL"):
        open_store("mongodb://x")
    sqlite.close()


def test_open_store_postgres_with_schema() -> None:
    admin = _postgres_admin()
    schema = f"pw_test_{uuid.uuid4().hex[:12]}"
    try:
        store = open_store(f"{POSTGRES_DSN}?schema={schema}")
        assert type(store).__name__ == "PostgresStore" and store.list_prompts() == []
        store.close()
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def _label(*pairs: tuple[int, float]) -> Label:
    return Label(
        slug="greeting",
        name="production",
        targets=targets(*pairs),
        revision=1,
        updated_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_buckets_are_stable_uniform_and_salted() -> None:
    units = [f"user-{number}" for number in range(20_000)]
    points = [bucket(unit, "greeting") for unit in units]
    assert all(0 <= point < 100 for point in points)
    assert points[:10] == [bucket(unit, "greeting") for unit in units[:10]]
    assert abs(sum(point < 10 for point in points) / len(points) - 0.10) < 0.01
    assert bucket("user-1", "greeting", "salt") != bucket("user-1", "greeting")
    assert bucket("user-1", "other") != bucket("user-1", "greeting")


def test_resolve_splits_by_weight_and_ramping_up_only_moves_units_to_the_new_version() -> None:
    units = [f"user-{number}" for number in range(5_000)]
    at_10 = {unit: resolve(_label((7, 90), (8, 10)), unit) for unit in units}
    share = sum(version == 8 for version, _ in at_10.values()) / len(units)
    assert abs(share - 0.10) < 0.02
    at_50 = {unit: resolve(_label((7, 50), (8, 50)), unit) for unit in units}
    assert all(at_50[unit] == (8, "v8") for unit, choice in at_10.items() if choice[0] == 8)
    assert resolve(_label((7, 99), (8, 1)), None) == (7, "v7")
    assert resolve(_label((8, 100)), "anyone") == (8, "v8")
    assert resolve(_label((7, 0), (8, 100)), "anyone") == (8, "v8")


def test_diff_between_versions(store: PromptStore) -> None:
    a = add(store)
    contract = {"name": {"type": "str", "max_length": 80}, "question": {"type": "str"}, "tone": {"type": "str"}}
    config = {"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": 0.2, "top_p": 0.9}}
    b = add(store, GREETING + "\nTone: {{ tone }}", contract=contract, config=config)
    diff = diff_versions(a, b)
    assert diff["template"].splitlines()[:2] == ["--- greeting@v1", "+++ greeting@v2"]
    assert "+Tone: {{ tone }}" in diff["template"]
    assert diff["contract"]["added"] == {"tone": {"type": "str"}}
    assert diff["contract"]["changed"] == {
        "name": {"max_length": {"from": 40, "to": 80}},
        "question": {"trusted": {"from": False, "to": True}},
    }
    assert diff["config"] == {
        "added": {"parameters.top_p": 0.9},
        "removed": {},
        "changed": {"model": {"from": "gpt-4o-mini", "to": "gpt-4o"}},
    }
    same = diff_versions(a, a)
    assert same["template"] == "" and same["contract"] == same["config"] == {"added": {}, "removed": {}, "changed": {}}


def test_postgres_announces_committed_changes_to_listeners(tmp_path: Path) -> None:
    admin = _postgres_admin()
    from promptward._registry import PostgresStore

    schema = f"pw_test_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(POSTGRES_DSN, schema=schema)
    try:
        admin.execute("LISTEN promptward")
        add(store)
        store.move_label("greeting", "production", targets((1, 100)), actor="ann", expected_revision=0)
        with pytest.raises(VersionConflict):
            store.move_label("greeting", "production", targets((1, 100)), actor="ann", expected_revision=0)
        heard = [json.loads(note.payload) for note in admin.notifies(timeout=1, stop_after=3)]
        assert heard == [
            {"schema": schema, "slug": "greeting", "version": 1},
            {"schema": schema, "slug": "greeting", "label": "production", "revision": 1},
        ]
    finally:
        store.close()
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def test_unreachable_backends_raise_registry_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-directory.db").mkdir()
    with pytest.raises(RegistryUnavailable, match=r"a-directory\.db"):
        SQLiteStore(tmp_path / "a-directory.db")
    pytest.importorskip("psycopg")
    from promptward._registry import PostgresStore

    with pytest.raises(RegistryUnavailable, match="cannot reach"):
        PostgresStore("postgresql://postgres@127.0.0.1:9/test", connect_timeout=1)
