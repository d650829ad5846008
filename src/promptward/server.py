"""The registry REST server: `create_registry_app(store, keys=...)` returns a Starlette app.

Resources (every one but /openapi.json and /health needs an API key; writes need the editor role, moving
or rolling back a protected label the admin role)::

    GET  /prompts                                 slugs, paginated (?offset=&limit=, `next` link)
    GET  /prompts/{slug}                          a version: ?version=N, ?label=L[&unit_id=U], or the latest
    GET  /prompts/{slug}/versions                 versions, paginated
    POST /prompts/{slug}/versions                 create a version (same content as the latest: 200, no new one)
    GET  /prompts/{slug}/versions/{version}       one version (immutable; ETag)
    GET  /prompts/{slug}/labels                   labels
    GET  /prompts/{slug}/labels/{label}           one label (ETag "r<revision>")
    PUT  /prompts/{slug}/labels/{label}           move it (If-Match: "r<revision>"; stale -> 412)
    POST /prompts/{slug}/labels/{label}/rollback  back to the targets before the last move
    GET  /prompts/{slug}/labels/{label}/history   who moved it, when, from what to what
    GET  /prompts/{slug}/history                  the audit trail of every write
    GET  /prompts/{slug}/diff?from=7&to=8         template, contract and config changes
    POST /prompts/{slug}/render                   validate variables against the contract and render
    GET  /prompts/{slug}/usage                    which versions clients render: calls, last use
    POST /prompts/{slug}/versions/{version}/evals store an eval result with the version (_server_evals)
    GET  /prompts/{slug}/versions/{version}/evals its eval results, oldest first
    GET  /events                                  server-sent events: label moves, new versions (_server_events)
    POST /usage                                   clients' render counts, in batches

Errors are RFC 9457 `application/problem+json` with `errors: [{field, message}]`. Every check runs before the
store is written, and each store write is one transaction, so a refused request leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import _server_evals
from ._apikeys import ApiKey, KeyRing, Role
from ._exceptions import PromptNotFound, TemplateError
from ._registry.rollout import resolve
from ._server_checks import (
    BODIES,
    CreateVersion,
    MoveLabel,
    Render,
    Target,
    check_targets,
    check_template,
    checked_name,
    expected_revision,
    label_etag,
    require_admin_for,
    retrying,
    translate,
)
from ._server_events import EventHub, Usage
from ._server_http import (
    Problem,
    etag_matches,
    json_response,
    not_modified,
    page,
    paginated,
    problem_response,
    query_int,
    read_json,
    validate_body,
)
from ._server_http import (
    query as query_params,
)
from ._server_openapi import OPERATIONS, Operation, build_openapi
from ._templates import Template, render_version

if TYPE_CHECKING:
    from ._registry.models import Label, PromptVersion
    from ._registry.store import PromptStore

__all__ = ["create_registry_app"]

LATEST = "private, no-cache"
IMMUTABLE = "private, max-age=31536000, immutable"
_CACHE_SIZE = 2048
T = TypeVar("T")


def create_registry_app(
    store: PromptStore,
    *,
    keys: KeyRing | str | os.PathLike[str],
    max_body_bytes: int = 1_048_576,
    rollout_salt: str = "",
    inline_reads: bool | None = None,
) -> Starlette:
    """The registry REST API over `store`; `keys` is a KeyRing or the path of a keys file.

    `max_body_bytes` bounds request bodies (413 past it). `rollout_salt` salts the rollout buckets.
    `inline_reads` runs store reads on the event loop instead of the thread pool: the default, None, does so
    for SQLite, whose reads of a local WAL file take tens of µs, less than a hop to a worker thread. Writes
    always run in the thread pool. With SQLite, labels read for fetches are also reused until another
    connection commits (`PRAGMA data_version`), so a fetch costs one pragma instead of a label query.
    """
    from ._registry.sqlite_store import SQLiteStore

    ring = keys if isinstance(keys, KeyRing) else KeyRing.load(keys)
    sqlite = isinstance(store, SQLiteStore)
    registry = _Registry(store, ring, max_body_bytes, rollout_salt, sqlite if inline_reads is None else inline_reads)
    if sqlite and registry.inline_reads:
        registry.labels = _LabelMemo(cast(SQLiteStore, store).path)
    # Starlette tries routes in order: the hot one, fetching a prompt, goes first.
    ordered = sorted(OPERATIONS, key=lambda op: op.name != "get_prompt")
    routes = [Route(op.path, registry.endpoint(op), methods=[op.method], name=op.name) for op in ordered]

    async def unrouted(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        detail = f"no resource at {request.url.path}" if exc.status_code == 404 else str(exc.detail)
        return problem_response(Problem(exc.status_code, detail, headers=exc.headers))

    app = Starlette(routes=routes, exception_handlers={HTTPException: unrouted})
    app.state.registry = registry
    return app


class _Registry:
    def __init__(self, store: PromptStore, keys: KeyRing, limit: int, salt: str, inline_reads: bool) -> None:
        self.store, self.keys, self.limit, self.salt = store, keys, limit, salt
        self.inline_reads = inline_reads
        self.labels: _LabelMemo | None = None
        self.hub, self.usage = EventHub(store), Usage(store, limit)  # GET /events; POST /usage, GET .../usage
        # Versions never change once written, so their JSON form is memoised; labels only while the store is
        # unchanged (_LabelMemo, SQLite) and are read every time otherwise.
        self._versions: OrderedDict[tuple[str, int], _Cached] = OrderedDict()
        self._templates: OrderedDict[tuple[str, int], Template] = OrderedDict()
        self._openapi: dict[str, Any] | None = None

    async def read(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a store read: inline for a local SQLite file (tens of µs), else in the thread pool."""
        if self.inline_reads:
            return function(*args, **kwargs)
        return await run_in_threadpool(function, *args, **kwargs)

    def endpoint(self, op: Operation) -> Callable[[Request], Awaitable[Response]]:
        handler: Callable[[Request, ApiKey | None], Awaitable[Response]] = getattr(self, op.name)
        role = op.role

        async def run(request: Request) -> Response:
            try:
                key = self.authorize(request, role) if role else None
                return await handler(request, key)
            except Problem as problem:
                return problem_response(problem, request.url.path)
            except Exception as exc:
                return problem_response(translate(exc, request), request.url.path)

        return run

    def authorize(self, request: Request, role: Role) -> ApiKey:
        presented = None
        for name, value in request.scope["headers"]:  # one pass over the raw headers: this runs on every request
            if name == b"x-api-key" and presented is None:
                presented = value.decode("latin-1").strip()
            elif name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    presented = token.strip()
        challenge = {"WWW-Authenticate": 'Bearer realm="promptward"'}
        if not presented:
            raise Problem(
                401, "no API key; send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'", headers=challenge
            )
        key = self.keys.authenticate(presented)
        if key is None:
            raise Problem(401, "the API key is unknown or revoked; ask an admin for a key", headers=challenge)
        if not key.allows(role):
            raise Problem(403, f"key '{key.name}' has role {key.role}; this needs {role} or above")
        return key

    # -- reads -------------------------------------------------------------------------------------------------

    async def openapi(self, request: Request, key: ApiKey | None) -> Response:
        if self._openapi is None:
            from ._registry.usage_ledger import UsageReport

            self._openapi = build_openapi({**BODIES, "UsageReport": UsageReport})
        return json_response(self._openapi)

    async def health(self, request: Request, key: ApiKey | None) -> Response:
        return json_response({"status": "ok"})

    async def list_prompts(self, request: Request, key: ApiKey | None) -> Response:
        offset, limit = page(request)
        slugs = await self.read(self.store.list_prompts, offset=offset, limit=limit + 1)
        items = [{"slug": slug, "href": f"/prompts/{slug}"} for slug in slugs[:limit]]
        return paginated(request, items, offset, limit, more=len(slugs) > limit)

    async def get_prompt(self, request: Request, key: ApiKey | None) -> Response:
        slug, query = request.path_params["slug"], query_params(request)
        if "version" in query and "label" in query:
            raise Problem(400, "ask for a version or a label, not both", errors=[("query.label", "with version")])
        label = query.get("label")
        if "version" in query:
            number = query_int(request, "version", None, low=1)
            cached = await self.version(slug, number)
            variant = f"v{number}"
        elif label is not None:
            # The hot path: a label memoised on the event loop for SQLite, one thread hop otherwise.
            if self.labels is not None:
                number, variant = self._resolve(slug, label, query.get("unit_id"))
            else:
                number, variant = await run_in_threadpool(self._resolve, slug, label, query.get("unit_id"))
            cached = self._versions.get((slug, number)) or await self.version(slug, number)
        else:
            latest = await self.read(self.store.latest, slug)
            cached = self._remember(latest)
            variant = f"v{latest.version}"
        cache = IMMUTABLE if "version" in query else LATEST
        if etag_matches(_if_none_match(request), cached.etag):
            return not_modified(cached.etag, cache)
        # The memoised JSON object, its closing brace replaced by the two fields this answer adds.
        body = cached.body[:-1] + b',"label":' + _dumps(label) + b',"variant":' + _dumps(variant) + b"}"
        return Response(body, media_type="application/json", headers={"ETag": cached.etag, "Cache-Control": cache})

    async def list_versions(self, request: Request, key: ApiKey | None) -> Response:
        slug = request.path_params["slug"]
        offset, limit = page(request)
        versions = await self.read(self._versions_page, slug, offset, limit + 1)
        items = [_summary(version) for version in versions[:limit]]
        return paginated(request, items, offset, limit, more=len(versions) > limit)

    async def get_version(self, request: Request, key: ApiKey | None) -> Response:
        slug, raw = request.path_params["slug"], request.path_params["version"]
        if not raw.isdigit() or not 0 < int(raw) < 10**12:
            raise Problem(404, f"no version {raw!r}: versions are positive integers", errors=[("path.version", raw)])
        cached = await self.version(slug, int(raw))
        if etag_matches(_if_none_match(request), cached.etag):
            return not_modified(cached.etag, IMMUTABLE)
        return Response(
            cached.body, media_type="application/json", headers={"ETag": cached.etag, "Cache-Control": IMMUTABLE}
        )

    async def list_labels(self, request: Request, key: ApiKey | None) -> Response:
        slug = request.path_params["slug"]
        labels = await self.read(self._labels, slug)
        return json_response({"items": [label.model_dump(mode="json") for label in labels]})

    async def get_label(self, request: Request, key: ApiKey | None) -> Response:
        slug, name = request.path_params["slug"], request.path_params["label"]
        label = await self.read(self.store.get_label, slug, name)
        etag = label_etag(label)
        if etag_matches(_if_none_match(request), etag):
            return not_modified(etag, LATEST)
        return json_response(label.model_dump(mode="json"), headers={"ETag": etag, "Cache-Control": LATEST})

    async def label_history(self, request: Request, key: ApiKey | None) -> Response:
        slug, name = request.path_params["slug"], request.path_params["label"]
        offset, limit = page(request)
        events = await self.read(self._label_events, slug, name)
        items = [event.model_dump(mode="json") for event in events[offset : offset + limit]]
        return paginated(request, items, offset, limit, more=len(events) > offset + limit)

    async def history(self, request: Request, key: ApiKey | None) -> Response:
        slug = request.path_params["slug"]
        offset, limit = page(request)
        entries = await self.read(self._audit, slug)
        items = [entry.model_dump(mode="json") for entry in entries[offset : offset + limit]]
        return paginated(request, items, offset, limit, more=len(entries) > offset + limit)

    async def diff(self, request: Request, key: ApiKey | None) -> Response:
        from ._registry.diff import diff_versions

        slug = request.path_params["slug"]
        old, new = query_int(request, "from", None, low=1), query_int(request, "to", None, low=1)
        a, b = await self.read(
            lambda: (self._version_at(slug, old, "query.from"), self._version_at(slug, new, "query.to"))
        )
        return json_response(dict(diff_versions(a, b)))

    async def render(self, request: Request, key: ApiKey | None) -> Response:
        slug = request.path_params["slug"]
        body = validate_body(Render, await read_json(request, self.limit))
        if body.version is not None and body.label is not None:
            raise Problem(422, "render a version or a label, not both", errors=[("body.label", "with version")])
        if body.label is not None:
            number, variant = await self.read(self._resolve, slug, body.label, body.unit_id)
            version = await self.read(self.store.get_version, slug, number)
        elif body.version is not None:
            version = await self.read(self.store.get_version, slug, body.version)
            variant = f"v{body.version}"
        else:
            version = await self.read(self.store.latest, slug)
            variant = f"v{version.version}"
        try:
            rendered = render_version(self._template(version), version.contract, body.variables)
        except TemplateError as exc:
            name = getattr(exc, "variable", None)
            field = f"body.variables.{name}" if name else "body.variables"
            raise Problem(422, str(exc), errors=[(field, str(exc))]) from None
        untrusted = sorted(n for n, spec in version.contract.items() if not spec.trusted and n in body.variables)
        return json_response(
            {
                "slug": slug,
                "version": version.version,
                "label": body.label,
                "variant": variant,
                "rendered": rendered,
                "untrusted": untrusted,
            }
        )

    async def events(self, request: Request, key: ApiKey | None) -> Response:
        return self.hub.stream(request)

    async def report_usage(self, request: Request, key: ApiKey | None) -> Response:
        return await self.usage.report(request)

    async def prompt_usage(self, request: Request, key: ApiKey | None) -> Response:
        return await self.usage.answer(request)

    async def record_eval(self, request: Request, key: ApiKey | None) -> Response:
        return await _server_evals.record_eval(self, request, key)

    async def list_evals(self, request: Request, key: ApiKey | None) -> Response:
        return await _server_evals.list_evals(self, request, key)

    # -- writes ------------------------------------------------------------------------------------------------

    async def create_version(self, request: Request, key: ApiKey | None) -> Response:
        assert key is not None
        slug = checked_name(request.path_params["slug"], "path.slug")
        body = validate_body(CreateVersion, await read_json(request, self.limit))
        warnings = check_template(body)
        version, created = await run_in_threadpool(
            self.store.create_version,
            slug,
            body.template,
            body.contract,
            body.config,
            author=key.name,
            message=body.message,
        )
        cached = self._remember(version)
        if created:
            self.hub.publish("version", {"slug": slug, "version": version.version})
        headers = {"ETag": cached.etag, "Location": f"/prompts/{slug}/versions/{version.version}"}
        return json_response(
            {**cached.data, "created": created, "warnings": warnings}, status=201 if created else 200, headers=headers
        )

    async def move_label(self, request: Request, key: ApiKey | None) -> Response:
        assert key is not None
        slug, name = request.path_params["slug"], checked_name(request.path_params["label"], "path.label")
        body = validate_body(MoveLabel, await read_json(request, self.limit))
        if (body.version is None) == (body.targets is None):
            raise Problem(422, "give either 'version' or 'targets'", errors=[("body.version", "or targets, one")])
        targets = body.targets or [Target(version=body.version or 0, weight=100.0)]
        label, created = await run_in_threadpool(
            retrying, request, lambda: self._move(request, key, slug, name, targets, body.protected)
        )
        self.hub.publish("label", {"slug": slug, "label": name, "revision": label.revision})
        return json_response(
            label.model_dump(mode="json"), status=201 if created else 200, headers={"ETag": label_etag(label)}
        )

    async def rollback_label(self, request: Request, key: ApiKey | None) -> Response:
        assert key is not None
        slug, name = request.path_params["slug"], request.path_params["label"]

        def rollback() -> Label:
            current = self.store.get_label(slug, name)
            expected = expected_revision(request, current)
            require_admin_for(current.protected, key, name)
            return self.store.rollback_label(slug, name, actor=key.name, expected_revision=expected)

        label = await run_in_threadpool(retrying, request, rollback)
        self.hub.publish("label", {"slug": slug, "label": name, "revision": label.revision})
        return json_response(label.model_dump(mode="json"), headers={"ETag": label_etag(label)})

    # -- store access (runs in the thread pool) ----------------------------------------------------------------

    async def version(self, slug: str, number: int) -> _Cached:
        cached = self._versions.get((slug, number))
        if cached is not None:
            return cached
        return self._remember(await self.read(self.store.get_version, slug, number))

    def _remember(self, version: PromptVersion) -> _Cached:
        data = version.model_dump(mode="json")
        entry = _Cached(f'"v{version.version}-{version.sha256[:24]}"', data, _dumps(data))
        self._versions[(version.slug, version.version)] = entry
        if len(self._versions) > _CACHE_SIZE:
            self._versions.popitem(last=False)
        return entry

    def _template(self, version: PromptVersion) -> Template:
        key = (version.slug, version.version)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = Template.parse(version.template)
            if len(self._templates) > _CACHE_SIZE:
                self._templates.popitem(last=False)
        return template

    def _resolve(self, slug: str, name: str, unit_id: str | None) -> tuple[int, str]:
        label = self.labels.get(self.store, slug, name) if self.labels else self.store.get_label(slug, name)
        return resolve(label, unit_id, salt=self.salt)

    def _versions_page(self, slug: str, offset: int, limit: int) -> list[PromptVersion]:
        versions = self.store.list_versions(slug, offset=offset, limit=limit)
        if not versions:
            self.store.latest(slug)  # PromptNotFound for an unknown prompt; an empty page past the end otherwise
        return versions

    def _labels(self, slug: str) -> list[Label]:
        labels = self.store.list_labels(slug)
        if not labels:
            self.store.latest(slug)
        return labels

    def _label_events(self, slug: str, name: str) -> list[Any]:
        events = self.store.label_history(slug, name)
        if not events:
            self.store.get_label(slug, name)
        return events

    def _audit(self, slug: str) -> list[Any]:
        entries = self.store.history(slug)
        if not entries:
            self.store.latest(slug)
        return entries

    def _version_at(self, slug: str, number: int, field: str) -> PromptVersion:
        try:
            return self.store.get_version(slug, number)
        except PromptNotFound as exc:
            raise Problem(404, str(exc), errors=[(field, f"no version {number} of {slug!r}")]) from None

    def _move(
        self, request: Request, key: ApiKey, slug: str, name: str, targets: list[Target], protected: bool | None
    ) -> tuple[Label, bool]:
        from ._registry.models import LabelTarget

        self.store.latest(slug)  # 404 for an unknown prompt before anything else
        try:
            current: Label | None = self.store.get_label(slug, name)
        except PromptNotFound:
            current = None
        expected = expected_revision(request, current)
        was_protected = current.protected if current else False
        require_admin_for(was_protected or (protected is not None and protected != was_protected), key, name)
        check_targets(self.store, slug, targets)
        label = self.store.move_label(
            slug,
            name,
            [LabelTarget(version=t.version, weight=t.weight) for t in targets],
            actor=key.name,
            expected_revision=expected,
            protected=protected,
        )
        return label, current is None


def _if_none_match(request: Request) -> str | None:
    # The raw headers, without building Starlette's Headers object: this runs on every fetch.
    for name, value in request.scope["headers"]:
        if name == b"if-none-match":
            return str(value.decode("latin-1"))
    return None


class _LabelMemo:
    """Labels of a SQLite store, reused while `PRAGMA data_version` shows no commit by any other connection.

    The pragma runs on a connection of our own that never writes, so every write, by this server's worker
    threads or by another process, changes the value and empties the memo. Used on the event loop only.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._seen: int | None = None
        self._labels: dict[tuple[str, str], Label] = {}

    def get(self, store: PromptStore, slug: str, name: str) -> Label:
        (version,) = self._db.execute("PRAGMA data_version").fetchone()
        if version != self._seen or len(self._labels) > _CACHE_SIZE:
            self._labels.clear()
            self._seen = version
        label = self._labels.get((slug, name))
        if label is None:
            # Read after the pragma: a commit in between changes the next pragma, so nothing stale is kept.
            label = self._labels[(slug, name)] = store.get_label(slug, name)
        return label


class _Cached(NamedTuple):
    etag: str
    data: dict[str, Any]
    body: bytes


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _summary(version: PromptVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "sha256": version.sha256,
        "author": version.author,
        "message": version.message,
        "parent": version.parent,
        "created_at": version.created_at.isoformat(),
        "href": f"/prompts/{version.slug}/versions/{version.version}",
    }
