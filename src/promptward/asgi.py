"""GuardMiddleware: screen the fields of chosen routes before any ASGI app sees them. Pure ASGI.

    app = GuardMiddleware(app, guard=guard, routes=[
        Route("/v1/chat/completions", fields="openai-chat", prompt="support-answer"),
        Route("/ask", fields=["/question", "/context/*/text"], on_block="422"),
    ])

Only configured routes are buffered (up to `max_body_bytes`) and replayed to the app; lifespan, websockets
and every other request pass through untouched, and the app's responses are never buffered. Nothing about
a request is kept on the middleware: all of it lives in locals of one call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

from ._asgi_fields import (
    Hit,
    encode_pairs,
    json_hits,
    pair_hits,
    parse_fields,
    parse_pairs,
    set_json,
    unique_fields,
)
from ._decision import Action, Decision, PromptRef
from ._exceptions import ConfigError, RegistryError, TemplateError

__all__ = ["GuardMiddleware", "Route", "Screening"]
from ._asgi_io import ASGIApp, Message, Receive, Scope, Send, Stop, problem, replay, with_headers

log = logging.getLogger("promptward.asgi")
# A body over the limit is read and dropped up to this many times the limit before the 413 (_too_large).
_DRAIN_FACTOR = 4
_JSON_TYPES = ("application/json", "")
_FORM_TYPE = "application/x-www-form-urlencoded"


class Screener(Protocol):
    """What the middleware needs of a guard: `Guard`, or `testing.StaticGuard` in tests."""

    @property
    def mode(self) -> str: ...

    @property
    def fail_mode(self) -> str: ...

    async def acheck_fields(self, fields: Mapping[str, str], *, prompt: Any = None) -> Decision: ...


@dataclass(frozen=True, slots=True)
class Screening:
    """What the app finds in `scope["state"]["promptward"]` (Starlette: `request.state.promptward`).

    A request is screened in one check, every field of it together: `decisions` holds that one decision
    (its findings name their fields), or nothing when the request carried no text to screen."""

    action: Action
    decisions: tuple[Decision, ...] = ()
    prompt: PromptRef | None = None
    error: str | None = None
    rendered: Any = None  # the Rendered prompt on routes that name one, when the guard has a registry

    @property
    def decision(self) -> Decision | None:
        """The decision on the request, or None when nothing was screened."""
        return self.decisions[0] if self.decisions else None

    @property
    def flagged(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if (d.would_action or d.action) is not Action.ALLOW)


class Route:
    """A path whose requests are screened, the fields to screen, and what to answer when blocked."""

    def __init__(
        self,
        path: str,
        *,
        fields: str | Sequence[str],
        prompt: str | None = None,
        label: str = "production",
        methods: Sequence[str] = ("POST",),
        on_block: str | int | None = None,
        on_invalid_json: int = 400,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ConfigError(f"Route path {path!r} must start with '/'")
        self.path = path
        self.fields = parse_fields(fields)
        self.prompt = prompt
        self.label = label
        self.methods = frozenset(m.upper() for m in methods)
        self.on_block = None if on_block is None else _status(on_block, "on_block")
        self.on_invalid_json = _status(on_invalid_json, "on_invalid_json")
        self.prompt_ref = PromptRef(prompt, None, label) if prompt else None
        # Template variables of a prompt route: name -> JSON Pointer; by default each plain pointer field
        # ("/question") supplies the variable named by its last segment.
        if variables is None:
            variables = {
                s.tokens[-1]: s.name for s in self.fields if s.kind == "json" and s.tokens and "*" not in s.tokens
            }
        self.variables = dict(variables)
        self.body_specs = tuple(s for s in self.fields if s.in_body)
        self.json_specs = tuple(s for s in self.fields if s.is_json)
        self.form_names = {s.name for s in self.fields if s.kind == "form"}
        self.query_names = {s.name for s in self.fields if s.kind == "query"}

    def __repr__(self) -> str:
        return f"Route({self.path!r}, methods={sorted(self.methods)}, prompt={self.prompt!r})"


def _status(value: str | int, name: str) -> int:
    try:
        status = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not an HTTP status; use for example 403 or '422'") from None
    if not 400 <= status <= 599:
        raise ConfigError(f"{name}={status} must be a 4xx or 5xx status")
    return status


@dataclass(slots=True)
class _Request:
    """Everything about one request while it is screened (a local, never stored on the middleware)."""

    scope: Scope
    receive: Receive
    send: Send
    body: bytes | None = None
    headers: dict[bytes, bytes] = field(default_factory=dict)


class GuardMiddleware:
    """Screens configured routes with `guard` and blocks, redacts or flags before `app` sees the request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: Screener,
        routes: Sequence[Route],
        max_body_bytes: int = 1_048_576,
        block_status: int = 403,
        headers: bool = True,
        unit_header: str = "x-user-id",
    ) -> None:
        if not callable(getattr(guard, "acheck_fields", None)):
            raise ConfigError(
                f"GuardMiddleware(guard=...) needs acheck_fields(fields, prompt=...), which {type(guard).__name__} "
                "lacks: pass a promptward Guard, or give your guard that method (see testing.StaticGuard)"
            )
        self.app = app
        self.unit_header = unit_header.lower().encode("latin-1")
        self.guard = guard
        self.max_body_bytes = max_body_bytes
        self.headers = headers
        self.block_status = _status(block_status, "block_status")
        self._routes: dict[str, list[Route]] = {}
        for route in routes:
            self._routes.setdefault(route.path, []).append(route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self._match(scope)
            if route is not None:
                with contextlib.suppress(Stop):
                    await self._screen(route, _Request(scope, receive, send))
                return
        elif scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        await self.app(scope, receive, send)

    def _match(self, scope: Scope) -> Route | None:
        for route in self._routes.get(scope["path"], ()):
            if scope["method"] in route.methods:
                return route
        return None

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self._close_guard()
            await send(message)

        return lifespan_send

    async def _close_guard(self) -> None:
        close = getattr(self.guard, "close", None)
        if close is None:
            return
        try:
            await asyncio.to_thread(close)
        except Exception:
            log.warning("flushing decision records at shutdown failed", exc_info=True)

    async def _screen(self, route: Route, request: _Request) -> None:
        scope = request.scope
        request.headers = {k.lower(): v for k, v in scope.get("headers", ())}
        hits, document, pairs, kind = await self._extract(route, request)
        if route.prompt and kind == "json" and getattr(self.guard, "registry", None) is not None:
            await self._render(route, request, document)
            return
        query: list[tuple[str, str]] = []
        if route.query_names:
            query = parse_pairs(scope.get("query_string", b"").decode("utf-8", "replace"))
            hits += pair_hits(query, route.query_names, "query")
        if not hits:
            await self._forward(request, Screening(Action.ALLOW, prompt=route.prompt_ref))
            return
        names = unique_fields(hits)
        try:
            # One check of every field of the request: one decision (its id in a block answer), one record.
            decision = await self.guard.acheck_fields(
                {name: hit.text for name, hit in zip(names, hits, strict=True)}, prompt=route.prompt_ref
            )
        except Exception as exc:
            log.error("screening %s %s failed (fail_mode=%s)", scope["method"], scope["path"], self.guard.fail_mode)
            log.debug("guard error", exc_info=True)
            if self.guard.fail_mode == "closed":
                await problem(request.send, 503, "Screening unavailable", "The request could not be screened.")
            screening = Screening(Action.ALLOW, prompt=route.prompt_ref, error=type(exc).__name__)
            await self._forward(request, screening)
            return
        screening = Screening(decision.action, (decision,), route.prompt_ref)
        if decision.action is Action.BLOCK:
            status = route.on_block or self.block_status
            detail = "The request was refused by the content policy."
            members = {"decision_id": decision.id}
            await problem(request.send, status, "Request blocked", detail, members, self._headers(screening))
        redacted = [
            (hit, decision.redactions[n]) for n, hit in zip(names, hits, strict=True) if n in decision.redactions
        ]
        if redacted:
            self._rewrite(request, redacted, document, pairs, query, kind)
        await self._forward(request, screening)

    async def _render(self, route: Route, request: _Request, document: Any) -> None:
        """A route that names a prompt: resolve its version, validate the request's variables against the
        contract, screen the untrusted ones and render; the app reads the result from the scope state."""
        values = {}
        for name, location in route.variables.items():
            found, value = _at_pointer(document, location)
            if found:
                values[name] = value
        unit = request.headers.get(self.unit_header)
        if unit is None and isinstance(request.scope.get("user"), str):
            unit = request.scope["user"].encode()
        try:
            rendered = await self.guard.arender(  # type: ignore[attr-defined]
                route.prompt, values, label=route.label, unit_id=unit.decode("latin-1") if unit else None
            )
        except TemplateError as exc:
            variable, rule = getattr(exc, "variable", None), getattr(exc, "rule", None)
            members = {
                "errors": [{"field": route.variables.get(variable or "", variable), "rule": rule, "message": str(exc)}]
            }
            await problem(request.send, 422, "Invalid prompt variables", str(exc), members)
        except RegistryError as exc:
            log.error("resolving prompt %s failed: %s", route.prompt, exc)
            if self.guard.fail_mode == "closed":
                await problem(request.send, 503, "Prompt unavailable", "The prompt version could not be resolved.")
            await self._forward(request, Screening(Action.ALLOW, prompt=route.prompt_ref, error=type(exc).__name__))
            return
        decision = rendered.decision
        screening = Screening(decision.action, (decision,), rendered.prompt, rendered=rendered)
        redacted = {route.variables[n]: text for n, text in rendered.redactions.items() if n in route.variables}
        if redacted and decision.action is not Action.BLOCK:
            # The app may read the request as well as the rendered prompt: it sees the redacted values too.
            for location, text in redacted.items():
                _set_at_pointer(document, location, text)
            self._replace_json_body(request, document)
        if decision.action is Action.BLOCK:
            members = {"decision_id": decision.id}
            status = route.on_block or self.block_status
            detail = "The request was refused by the content policy."
            await problem(request.send, status, "Request blocked", detail, members, self._headers(screening))
        await self._forward(request, screening)

    async def _extract(self, route: Route, request: _Request) -> tuple[list[Hit], Any, list[tuple[str, str]], str]:
        """Read and parse the body when the route screens body fields; answer 413/415/400 itself."""
        if not route.body_specs:
            return [], None, [], ""
        headers = request.headers
        length = headers.get(b"content-length", b"").strip()
        if length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(request, read=0, finished=False)
        mime = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if route.json_specs and (mime in _JSON_TYPES or mime.endswith("+json")):
            kind = "json"
        elif route.form_names and mime in (_FORM_TYPE, ""):
            kind = "form"
        elif length == b"0":
            return [], None, [], ""
        else:
            await self._refuse_body(request, "Unsupported media type", _expected(route, mime))
        if encoding not in (b"identity", b""):
            detail = "Compressed request bodies cannot be screened; send them uncompressed."
            await self._refuse_body(request, "Unsupported content encoding", detail)
        body = request.body = await self._read_body(request)
        if not body.strip():
            return [], None, [], kind
        if kind == "form":
            pairs = parse_pairs(body.decode("utf-8", "replace"))
            return pair_hits(pairs, route.form_names, "form"), None, pairs, kind
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            await problem(request.send, route.on_invalid_json, "Invalid JSON", "The request body is not valid JSON.")
        return json_hits(document, route.json_specs), document, [], kind

    async def _read_body(self, request: _Request) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise Stop  # the client went away: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(request, read=size, finished=not message.get("more_body", False))
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse_body(self, request: _Request, title: str, detail: str) -> NoReturn:
        """415 for a body the route cannot screen. The body (within max_body_bytes) is read and dropped
        first: a server that closes a socket with request bytes still arriving makes the kernel reset the
        connection, and the client may then see the reset instead of the answer."""
        await self._read_body(request)
        await problem(request.send, 415, title, detail)

    async def _too_large(self, request: _Request, *, read: int, finished: bool) -> NoReturn:
        """413 for a body over max_body_bytes, `read` bytes of it read so far. What the client still sends
        is read and dropped first, up to _DRAIN_FACTOR times the limit (never kept): a server that closes a
        socket with request bytes still arriving makes the kernel reset the connection, and the client may
        see the reset instead of the answer. A larger body, or a client still waiting for 100 Continue,
        gets the 413 at once, and the connection is closed."""
        budget = _DRAIN_FACTOR * self.max_body_bytes
        length = request.headers.get(b"content-length", b"").strip()
        # Before its first receive() the server has not sent 100 Continue: such a client has sent nothing.
        waiting = read == 0 and request.headers.get(b"expect", b"").strip().lower() == b"100-continue"
        if not finished and not waiting and not (length.isdigit() and int(length) > budget):
            while read <= budget:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    raise Stop
                read += len(message.get("body", b""))
                if not message.get("more_body", False):
                    finished = True
                    break
        detail = f"The request body is larger than {self.max_body_bytes} bytes."
        await problem(request.send, 413, "Request body too large", detail, close=not finished)

    @staticmethod
    def _rewrite(
        request: _Request,
        redacted: list[tuple[Hit, str]],
        document: Any,
        pairs: list[tuple[str, str]],
        query: list[tuple[str, str]],
        kind: str,
    ) -> None:
        """Put the redacted texts where they came from, before the app sees the request."""
        body_changed = False
        for hit, text in redacted:
            if hit.source == "json":
                set_json(document, hit.location, text)
            else:
                target = pairs if hit.source == "form" else query
                index = int(hit.location[0])
                target[index] = (target[index][0], text)
            body_changed |= hit.source != "query"
        scope = request.scope = dict(request.scope)
        if any(hit.source == "query" for hit, _ in redacted):
            scope["query_string"] = encode_pairs(query)
        if body_changed:
            if kind == "json":
                body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
            else:
                body = encode_pairs(pairs)
            GuardMiddleware._set_body(request, body)

    def _replace_json_body(self, request: _Request, document: Any) -> None:
        request.scope = dict(request.scope)
        self._set_body(request, json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode())

    @staticmethod
    def _set_body(request: _Request, body: bytes) -> None:
        request.body = body
        drop = (b"content-length", b"transfer-encoding")
        headers = [(k, v) for k, v in request.scope.get("headers", ()) if k.lower() not in drop]
        request.scope["headers"] = [*headers, (b"content-length", str(len(body)).encode())]

    async def _forward(self, request: _Request, screening: Screening) -> None:
        scope = dict(request.scope)
        scope["state"] = {**scope.get("state", {}), "promptward": screening}
        receive = request.receive if request.body is None else replay(request.body, request.receive)
        send = request.send
        extra = self._headers(screening)
        if extra:
            send = with_headers(send, extra)
        await self.app(scope, receive, send)

    def _headers(self, screening: Screening) -> list[tuple[bytes, bytes]]:
        if not self.headers:
            return []
        extra = []
        if screening.decision is not None:
            extra.append((b"x-promptward-decision", screening.decision.id.encode()))
        prompt = screening.prompt
        if prompt is not None:
            tag = prompt.slug if prompt.version is None else f"{prompt.slug}@{prompt.version}"
            extra.append((b"x-promptward-prompt", tag.encode("utf-8")))
        return extra


def _set_at_pointer(document: Any, location: str, value: str) -> None:
    *parents, last = location.split("/")[1:]
    found, node = _at_pointer(document, "/" + "/".join(parents)) if parents else (True, document)
    key = last.replace("~1", "/").replace("~0", "~")
    if found and isinstance(node, dict):
        node[key] = value
    elif found and isinstance(node, list) and key.isdigit():
        node[int(key)] = value


def _at_pointer(document: Any, location: str) -> tuple[bool, Any]:
    """The value at a JSON Pointer (RFC 6901, no wildcards), and whether it exists."""
    node = document
    for raw in location.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return False, None
    return True, node


def _expected(route: Route, mime: str) -> str:
    wanted = " or ".join(t for t, ok in (("application/json", route.json_specs), (_FORM_TYPE, route.form_names)) if ok)
    return f"This endpoint accepts {wanted}, not {mime or 'an unnamed type'}."
