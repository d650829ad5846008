"""The registry REST API over real HTTP: uvicorn on 127.0.0.1 (a free port), httpx as the client.

Every bad input of issue 6 gets its status, an RFC 9457 body naming the field, and leaves no partial write;
the "Done when" story (contract, label, 10% rollout, diff, rollback, history) runs on every store.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from promptward._apikeys import KeyRing
from promptward._registry.store import PromptStore
from promptward.server import create_registry_app

POSTGRES_DSN = os.environ.get("PROMPTWARD_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
LIMIT = 64 * 1024
CONTRACT = {
    "city": {"type": "str", "max_length": 40, "trusted": False},
    "tone": {"type": "enum", "enum": ["warm", "dry"], "required": False, "default": "warm"},
}
TEMPLATE = "Write a {{ tone }} note about {{ city }}."


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run `app` under uvicorn in a background thread on a free loopback port; yield its base URL."""
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only then; without it every answer waits ~40 ms for an ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _postgres_available() -> bool:
    try:
        import psycopg

        psycopg.connect(POSTGRES_DSN, connect_timeout=2).close()
    except Exception:
        return False
    return True


@contextmanager
def open_test_store(kind: str, folder: Path) -> Iterator[PromptStore]:
    if kind == "sqlite":
        from promptward._registry.sqlite_store import SQLiteStore

        store: PromptStore = SQLiteStore(folder / "registry.db")
    elif kind == "yaml":
        from promptward._registry.yaml_store import YamlStore

        store = YamlStore(folder / "prompts")
    else:
        if not _postgres_available():
            pytest.skip(f"no PostgreSQL at {POSTGRES_DSN}")
        from promptward._registry.postgres_store import PostgresStore

        schema = f"pw_server_{uuid.uuid4().hex[:12]}"
        store = PostgresStore(POSTGRES_DSN, schema=schema)
    try:
        yield store
    finally:
        store.close()
        if kind == "postgres":
            import psycopg

            with psycopg.connect(POSTGRES_DSN, autocommit=True) as db:
                db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@dataclass
class Live:
    url: str
    store: PromptStore
    ring: KeyRing
    keys: dict[str, str]  # role -> plaintext key

    def client(self, role: str | None = "admin", *, header: str = "bearer") -> httpx.Client:
        headers = {}
        if role is not None:
            headers = (
                {"Authorization": f"Bearer {self.keys[role]}"} if header == "bearer" else {"X-API-Key": self.keys[role]}
            )
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture(params=["sqlite", "yaml", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def start_live(kind: str, folder: Path) -> Iterator[Live]:
    """A store of `kind`, three keys (reader, editor, admin) and the app serving them on a free port."""
    ring = KeyRing.load(folder / "keys.yaml")
    keys = {role: ring.create(f"{role}-key", role)[1] for role in ("reader", "editor", "admin")}
    with open_test_store(kind, folder) as store:
        app = create_registry_app(store, keys=ring, max_body_bytes=LIMIT)
        with serve_app(app) as url:
            yield Live(url, store, ring, keys)


@pytest.fixture
def live(tmp_path: Path, store_kind: str) -> Iterator[Live]:
    with start_live(store_kind, tmp_path) as running:
        yield running


@pytest.fixture
def sqlite_live(tmp_path: Path) -> Iterator[Live]:
    """One store is enough for the HTTP-level checks that do not depend on the store."""
    with start_live("sqlite", tmp_path) as running:
        yield running


def create(client: httpx.Client, slug: str = "greet", template: Any = TEMPLATE, **extra: Any) -> httpx.Response:
    return client.post(f"/prompts/{slug}/versions", json={"template": template, "contract": CONTRACT, **extra})


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("urn:promptward:problem:")
    assert body["title"] and body["detail"]
    if field is not None:
        assert field in [error["field"] for error in body.get("errors", [])], body
    return body


def snapshot(live: Live, slug: str = "greet") -> tuple[int, int, list[Any]]:
    """What a refused request must not change: versions, audit entries and labels."""
    with live.client() as client:
        versions = client.get(f"/prompts/{slug}/versions", params={"limit": 200}).json()["items"]
        history = client.get(f"/prompts/{slug}/history", params={"limit": 200}).json()["items"]
        labels = client.get(f"/prompts/{slug}/labels").json()["items"]
    return len(versions), len(history), labels


# -- the "Done when" story, on every store -----------------------------------------------------------------


def test_story_contract_label_rollout_diff_rollback_history(live: Live) -> None:
    admin, editor = live.client("admin"), live.client("editor")

    first = create(editor, message="first cut")
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["created"] is True
    assert first.headers["location"] == "/prompts/greet/versions/1"
    again = create(editor, message="same content")
    assert again.status_code == 200 and again.json()["version"] == 1 and again.json()["created"] is False

    moved = editor.put("/prompts/greet/labels/production", json={"version": 1})
    assert moved.status_code == 201 and moved.headers["etag"] == '"r1"'
    assert moved.json()["targets"] == [{"version": 1, "weight": 100.0}]

    second = create(editor, template="Write a {{ tone }}, short note about {{ city }}.", message="shorter")
    assert second.status_code == 201 and second.json()["version"] == 2 and second.json()["parent"] == 1

    rollout = editor.put(
        "/prompts/greet/labels/production",
        json={"targets": [{"version": 1, "weight": 90}, {"version": 2, "weight": 10}]},
        headers={"If-Match": moved.headers["etag"]},
    )
    assert rollout.status_code == 200, rollout.text
    assert rollout.headers["etag"] == '"r2"'
    variants = [
        editor.get("/prompts/greet", params={"label": "production", "unit_id": f"user-{n}"}).json()["variant"]
        for n in range(300)
    ]
    share = variants.count("v2") / len(variants)
    assert 0.04 < share < 0.18, share
    sticky = {editor.get("/prompts/greet", params={"label": "production", "unit_id": "user-7"}).json()["variant"]}
    sticky |= {editor.get("/prompts/greet", params={"label": "production", "unit_id": "user-7"}).json()["variant"]}
    assert len(sticky) == 1

    diff = editor.get("/prompts/greet/diff", params={"from": 1, "to": 2})
    assert diff.status_code == 200
    assert "-Write a {{ tone }} note about {{ city }}." in diff.json()["template"]
    assert "+Write a {{ tone }}, short note about {{ city }}." in diff.json()["template"]

    back = editor.post("/prompts/greet/labels/production/rollback", headers={"If-Match": '"r2"'})
    assert back.status_code == 200, back.text
    assert back.json()["targets"] == [{"version": 1, "weight": 100.0}] and back.headers["etag"] == '"r3"'
    assert editor.get("/prompts/greet", params={"label": "production"}).json()["version"] == 1

    events = editor.get("/prompts/greet/labels/production/history").json()["items"]
    assert [event["action"] for event in events] == ["create", "move", "rollback"]
    assert {event["actor"] for event in events} == {"editor-key"}
    audit = editor.get("/prompts/greet/history").json()["items"]
    assert len(audit) == 5  # two versions, three label writes; the repeated content wrote nothing
    assert all(entry["actor"] == "editor-key" for entry in audit)

    rendered = editor.post("/prompts/greet/render", json={"label": "production", "variables": {"city": "Oslo"}})
    assert rendered.status_code == 200, rendered.text
    assert rendered.json() == {
        "slug": "greet",
        "version": 1,
        "label": "production",
        "variant": "v1",
        "rendered": "Write a warm note about Oslo.",
        "untrusted": ["city"],
    }
    admin.close()
    editor.close()


def test_chat_template_and_protected_label(live: Live) -> None:
    admin, editor = live.client("admin"), live.client("editor")
    chat = [{"role": "system", "content": "Be {{ tone }}."}, {"role": "user", "content": "About {{ city }}"}]
    assert create(editor, "chat", template=chat).status_code == 201
    created = admin.put("/prompts/chat/labels/production", json={"version": 1, "protected": True})
    assert created.status_code == 201 and created.json()["protected"] is True
    before = snapshot(live, "chat")
    assert_problem(editor.put("/prompts/chat/labels/production", json={"version": 1}), 403)
    assert_problem(editor.post("/prompts/chat/labels/production/rollback"), 403)
    assert_problem(editor.put("/prompts/chat/labels/staging", json={"version": 1, "protected": True}), 403)
    assert snapshot(live, "chat") == before
    rendered = editor.post("/prompts/chat/render", json={"version": 1, "variables": {"city": "Rome", "tone": "dry"}})
    assert rendered.json()["rendered"] == [
        {"role": "system", "content": "Be dry."},
        {"role": "user", "content": "About Rome"},
    ]


# -- bad input: status, problem body, no partial write ----------------------------------------------------


def test_malformed_json_is_400(live: Live) -> None:
    with live.client("editor") as client:
        create(client)
        before = snapshot(live)
        response = client.post(
            "/prompts/greet/versions", content=b'{"template": "x", ', headers={"Content-Type": "application/json"}
        )
        body = assert_problem(response, 400, "body")
        assert "line 1" in body["detail"]
        assert_problem(client.put("/prompts/greet/labels/production", content=b"[1,"), 400, "body")
        assert_problem(client.post("/prompts/greet/render", content=b"\xff\xfe"), 400, "body")
        assert_problem(
            client.post("/prompts/greet/versions", content=b"x", headers={"Content-Type": "text/plain"}),
            415,
            "header.Content-Type",
        )
    assert snapshot(live) == before


def test_unknown_prompt_version_label_and_route_are_404(live: Live) -> None:
    with live.client("reader") as reader, live.client("editor") as editor:
        create(editor)
        for path in (
            "/prompts/nope",
            "/prompts/nope/versions",
            "/prompts/nope/versions/1",
            "/prompts/greet/versions/9",
            "/prompts/greet/labels/production",
            "/prompts/greet/labels/production/history",
            "/prompts/nope/history",
            "/prompts/nope/labels",
            "/nowhere",
        ):
            assert_problem(reader.get(path), 404)
        assert_problem(reader.get("/prompts/greet/versions/abc"), 404, "path.version")
        assert_problem(reader.get("/prompts/greet", params={"version": 9}), 404)
        assert_problem(reader.get("/prompts/greet/diff", params={"from": 1, "to": 9}), 404, "query.to")
        assert_problem(reader.post("/prompts/nope/render", json={"variables": {}}), 404)
        before = snapshot(live)
        assert_problem(editor.put("/prompts/nope/labels/production", json={"version": 1}), 404)
        assert_problem(editor.post("/prompts/greet/labels/production/rollback"), 404)
        assert snapshot(live) == before
        assert_problem(editor.delete("/prompts/greet"), 405)


def test_missing_or_unknown_key_is_401_and_wrong_role_403(sqlite_live: Live) -> None:
    with sqlite_live.client(None) as anonymous:
        response = anonymous.get("/prompts")
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert_problem(anonymous.get("/prompts", headers={"Authorization": "Bearer pw_00000000_nope"}), 401)
        assert_problem(anonymous.get("/prompts", headers={"X-API-Key": "not-a-key"}), 401)
        assert_problem(anonymous.post("/prompts/greet/versions", json={"template": "x"}), 401)
        assert anonymous.get("/openapi.json").status_code == 200
        assert anonymous.get("/health").json() == {"status": "ok"}
    with sqlite_live.client("reader", header="x-api-key") as reader:
        assert reader.get("/prompts").status_code == 200
        body = assert_problem(create(reader), 403)
        assert "reader" in body["detail"] and "editor" in body["detail"]
        assert_problem(reader.put("/prompts/greet/labels/production", json={"version": 1}), 403)
    with sqlite_live.client("admin") as admin:
        assert admin.get("/prompts").json()["items"] == []
        # A revoked key stops working once the file changes (re-read at most once a second).
        sqlite_live.ring.revoke("reader-key")
    time.sleep(1.1)
    with sqlite_live.client("reader") as reader:
        assert_problem(reader.get("/prompts"), 401)


def test_stale_if_match_is_412_and_writes_nothing(live: Live) -> None:
    with live.client("editor") as first, live.client("admin") as second:
        create(first)
        create(first, template="Hi {{ city }} ({{ tone }})")
        seen = first.put("/prompts/greet/labels/production", json={"version": 1}).headers["etag"]
        assert second.put(
            "/prompts/greet/labels/production", json={"version": 2}, headers={"If-Match": seen}
        ).is_success
        before = snapshot(live)
        stale = first.put("/prompts/greet/labels/production", json={"version": 1}, headers={"If-Match": seen})
        body = assert_problem(stale, 412, "header.If-Match")
        assert stale.headers["etag"] == '"r2"' and "revision 2" in body["detail"]
        assert_problem(first.post("/prompts/greet/labels/production/rollback", headers={"If-Match": seen}), 412)
        assert_problem(
            first.put("/prompts/greet/labels/production", json={"version": 1}, headers={"If-Match": "junk"}), 412
        )
        assert_problem(first.put("/prompts/greet/labels/new", json={"version": 1}, headers={"If-Match": '"r1"'}), 412)
        assert snapshot(live) == before
        assert first.get("/prompts/greet", params={"label": "production"}).json()["version"] == 2


def test_concurrent_label_moves_with_the_same_if_match_one_wins(live: Live) -> None:
    with live.client("editor") as client:
        for n in range(4):
            create(client, template=f"v{n} {{{{ city }}}} {{{{ tone }}}}")
        etag = client.put("/prompts/greet/labels/production", json={"version": 1}).headers["etag"]
    results: list[int] = []

    def move(version: int) -> None:
        with live.client("editor") as client:
            response = client.put(
                "/prompts/greet/labels/production", json={"version": version}, headers={"If-Match": etag}
            )
            results.append(response.status_code)

    threads = [threading.Thread(target=move, args=(version,)) for version in (2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 412, 412]
    with live.client("reader") as reader:
        assert len(reader.get("/prompts/greet/labels/production/history").json()["items"]) == 2


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"template": "Hello {{ city", "contract": CONTRACT}, "body.template", "line 1, column 7"),
        ({"template": "Hi {{ user.name }}", "contract": CONTRACT}, "body.template", "attribute"),
        (
            {"template": [{"role": "system", "content": "ok"}, {"role": "user", "content": "{{ }}"}], "contract": {}},
            "body.template[1]",
            "message 1",
        ),
        ({"template": "Hi {{ name }} from {{ city }}", "contract": CONTRACT}, "body.contract.name", "undeclared"),
        ({"template": "Hi {{ city }}", "contract": {"city": {"type": "text"}}}, "body.contract.city.type", "type"),
        (
            {"template": "Hi {{ city }}", "contract": {"city": {"type": "str", "colour": 1}}},
            "body.contract.city.colour",
            "",
        ),
        (
            {"template": "{{ c }}", "contract": {"c": {"type": "str", "pattern": "(?<=a)b"}}},
            "body.contract.c",
            "RE2",
        ),
        ({"template": "Hi", "contract": {"bad-name": {"type": "str"}}}, "body.contract.bad-name", ""),
        ({"contract": CONTRACT}, "body.template", "required"),
        ({"template": "Hi", "colour": "red"}, "body.colour", ""),
        ({"template": "Hi", "config": [1, 2]}, "body.config", ""),
    ],
)
def test_invalid_template_or_contract_is_422_with_location(
    live: Live, body: dict[str, Any], field: str, words: str
) -> None:
    with live.client("editor") as client:
        create(client)
        before = snapshot(live)
        problem = assert_problem(client.post("/prompts/greet/versions", json=body), 422, field)
        assert words in problem["detail"] + " ".join(error["message"] for error in problem["errors"])
        assert snapshot(live) == before
        assert_problem(client.post("/prompts/Bad Slug/versions", json={"template": "x"}), 422, "path.slug")


def test_bad_label_moves_are_422(live: Live) -> None:
    with live.client("editor") as client:
        create(client)
        client.put("/prompts/greet/labels/production", json={"version": 1})
        before = snapshot(live)
        cases = [
            ({"version": 7}, "body.targets[0].version"),
            ({"targets": [{"version": 1, "weight": 60}, {"version": 1, "weight": 40}]}, "body.targets[1].version"),
            ({"targets": [{"version": 1, "weight": 60}]}, "body.targets"),
            ({"targets": [{"version": 1, "weight": 160}]}, "body.targets[0].weight"),
            ({"version": 1, "targets": [{"version": 1, "weight": 100}]}, "body.version"),
            ({}, "body.version"),
            ({"version": "1"}, "body.version"),
            ([1], "body"),
        ]
        for payload, field in cases:
            assert_problem(client.put("/prompts/greet/labels/production", json=payload), 422, field)
        assert_problem(client.put("/prompts/greet/labels/Bad%20Name", json={"version": 1}), 422, "path.label")
        assert snapshot(live) == before


def test_body_over_the_limit_is_413(live: Live) -> None:
    with live.client("editor") as client:
        create(client)
        before = snapshot(live)
        huge = {"template": "x" * (LIMIT + 100), "contract": {}}
        assert_problem(client.post("/prompts/greet/versions", json=huge), 413)

        def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count while it reads
            yield b'{"template": "'
            for _ in range(LIMIT // 1024 + 2):
                yield b"y" * 1024
            yield b'"}'

        streamed = client.post(
            "/prompts/greet/versions", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert_problem(streamed, 413)
        assert snapshot(live) == before


def test_render_validates_with_the_contract_and_names_the_variable(live: Live) -> None:
    with live.client("reader") as reader, live.client("editor") as editor:
        create(editor)
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({}, "body.variables.city", "required"),
            ({"city": "Oslo", "mood": "x"}, "body.variables.mood", "not declared"),
            ({"city": "x" * 41}, "body.variables.city", "max_length"),
            ({"city": "Oslo", "tone": "loud"}, "body.variables.tone", "enum"),
            ({"city": 3}, "body.variables.city", "type"),
        ]
        for variables, field, words in cases:
            body = assert_problem(reader.post("/prompts/greet/render", json={"variables": variables}), 422, field)
            assert words in body["detail"]
        assert_problem(reader.post("/prompts/greet/render", json={"variables": [1]}), 422, "body.variables")
        assert_problem(reader.post("/prompts/greet/render", json={"version": 1, "label": "x"}), 422, "body.label")
        ok = reader.post("/prompts/greet/render", json={"variables": {"city": "Oslo", "tone": "dry"}})
        assert ok.json()["rendered"] == "Write a dry note about Oslo." and ok.json()["variant"] == "v1"


def test_etags_give_304_and_change_when_the_label_moves(live: Live) -> None:
    with live.client("editor") as client:
        create(client)
        create(client, template="{{ city }}! {{ tone }}")
        client.put("/prompts/greet/labels/production", json={"version": 1})
        for path, params in (
            ("/prompts/greet", {"label": "production"}),
            ("/prompts/greet", {}),
            ("/prompts/greet", {"version": 1}),
            ("/prompts/greet/versions/1", {}),
            ("/prompts/greet/labels/production", {}),
        ):
            first = client.get(path, params=params)
            etag = first.headers["etag"]
            assert first.status_code == 200 and etag.startswith('"')
            again = client.get(path, params=params, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
            assert client.get(path, params=params, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
            assert client.get(path, params=params, headers={"If-None-Match": '"other"'}).status_code == 200
        assert "immutable" in client.get("/prompts/greet/versions/1").headers["cache-control"]
        fetched = client.get("/prompts/greet", params={"label": "production"})
        client.put("/prompts/greet/labels/production", json={"version": 2})
        moved = client.get(
            "/prompts/greet", params={"label": "production"}, headers={"If-None-Match": fetched.headers["etag"]}
        )
        assert moved.status_code == 200 and moved.json()["version"] == 2


def test_a_label_moved_behind_the_servers_back_is_seen_at_once(live: Live) -> None:
    """The server reuses labels only while the store is unchanged; a write by another connection shows at once."""
    from promptward._registry.models import LabelTarget

    with live.client("reader") as reader, live.client("editor") as editor:
        create(editor)
        create(editor, template="{{ city }} / {{ tone }}")
        editor.put("/prompts/greet/labels/production", json={"version": 1})
        for _ in range(3):
            assert reader.get("/prompts/greet", params={"label": "production"}).json()["version"] == 1
        label = live.store.get_label("greet", "production")
        for version in (2, 1, 2):
            moved = threading.Thread(
                target=live.store.move_label,
                args=("greet", "production", [LabelTarget(version=version, weight=100)]),
                kwargs={"actor": "elsewhere", "expected_revision": None},
            )
            moved.start()
            moved.join()
            assert reader.get("/prompts/greet", params={"label": "production"}).json()["version"] == version
        assert live.store.get_label("greet", "production").revision == label.revision + 3


def test_pagination_follows_next_links(live: Live) -> None:
    with live.client("editor") as client:
        for n in range(7):
            assert create(client, template=f"{n}: {{{{ city }}}} {{{{ tone }}}}").status_code == 201
            assert create(client, f"p{n}", template="{{ city }} {{ tone }}").status_code == 201
        seen: list[int] = []
        url: str | None = "/prompts/greet/versions?limit=3"
        while url:
            response = client.get(url)
            assert response.status_code == 200
            page = response.json()
            seen += [item["version"] for item in page["items"]]
            url = page["next"]
            assert (url is None) == ("link" not in response.headers)
        assert seen == list(range(1, 8))
        slugs = client.get("/prompts", params={"offset": 2, "limit": 3}).json()
        assert [item["slug"] for item in slugs["items"]] == ["p1", "p2", "p3"]
        assert slugs["next"] == "/prompts?offset=5&limit=3"
        assert_problem(client.get("/prompts", params={"limit": 0}), 400, "query.limit")
        assert_problem(client.get("/prompts", params={"offset": "x"}), 400, "query.offset")
        assert_problem(client.get("/prompts/greet/diff", params={"from": 1}), 400, "query.to")


def test_openapi_describes_exactly_the_routes(sqlite_live: Live) -> None:
    from starlette.routing import Route

    with sqlite_live.client(None) as client:
        document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    app = create_registry_app(sqlite_live.store, keys=sqlite_live.ring)
    served = {
        (method.lower(), route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    described = {(method, path) for path, operations in document["paths"].items() for method in operations}
    assert served == described
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                for content in answer.get("content", {}).values():
                    ref = content["schema"].get("$ref", "#/components/schemas/Problem")
                    assert ref.removeprefix("#/components/schemas/") in schemas, (method, path, status, ref)
            body = operation.get("requestBody")
            if body:
                assert body["content"]["application/json"]["schema"]["$ref"].split("/")[-1] in schemas
    assert {"CreateVersion", "MoveLabel", "Render", "Problem", "PromptVersion", "Label"} <= set(schemas)


def test_every_documented_status_is_one_the_route_can_answer(sqlite_live: Live) -> None:
    """Spot-check the document against behaviour: statuses seen in this suite are documented for the route."""
    with sqlite_live.client(None) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert "412" in paths["/prompts/{slug}/labels/{label}"]["put"]["responses"]
    assert "413" in paths["/prompts/{slug}/versions"]["post"]["responses"]
    assert "304" in paths["/prompts/{slug}"]["get"]["responses"]
    assert "422" in paths["/prompts/{slug}/render"]["post"]["responses"]
    assert paths["/prompts/{slug}/labels/{label}"]["put"]["x-required-role"] == "editor"


def test_rollback_without_history_is_409(live: Live) -> None:
    with live.client("editor") as client:
        create(client)
        client.put("/prompts/greet/labels/production", json={"version": 1})
        before = snapshot(live)
        assert_problem(client.post("/prompts/greet/labels/production/rollback"), 409)
        assert snapshot(live) == before


def test_audit_names_the_key_that_wrote(live: Live) -> None:
    with live.client("editor") as editor, live.client("admin") as admin:
        create(editor)
        admin.put("/prompts/greet/labels/production", json={"version": 1, "protected": True})
        entries = editor.get("/prompts/greet/history").json()["items"]
    assert [entry["actor"] for entry in entries] == ["editor-key", "admin-key"]
