"""HTTP plumbing for the registry server: RFC 9457 problems, bounded JSON bodies, ETags, pagination.

Imported only by server.py, so starlette loads when the server is built, never with `import promptward`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

PROBLEM_TYPE = "urn:promptward:problem:"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}
KINDS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "precondition-failed",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid",
    500: "internal",
    503: "unavailable",
}
_MAX_LIMIT = 200
M = TypeVar("M", bound=BaseModel)


class Problem(Exception):
    """An error answer: raise it anywhere in a handler; the app turns it into application/problem+json."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + KINDS.get(problem.status, "error"),
        "title": TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
    }
    if instance:
        body["instance"] = instance
    if problem.errors:
        body["errors"] = [{"field": field, "message": message} for field, message in problem.errors]
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=problem.status,
        headers=problem.headers,
        media_type="application/problem+json",
    )


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    content = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return Response(content, status_code=status, headers=dict(headers or {}), media_type="application/json")


async def read_json(request: Request, limit: int) -> Any:
    """The request body as JSON, read chunk by chunk and abandoned as soon as it passes `limit` bytes."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise Problem(415, f"send the body as application/json, not {kind}", errors=[("header.Content-Type", kind)])
    declared = request.headers.get("content-length")
    too_large = Problem(413, f"the body is larger than the server's limit of {limit} bytes; send a smaller one")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise Problem(400, "the body is empty; send a JSON object", errors=[("body", "empty")])
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise Problem(400, "the body is not UTF-8 text", errors=[("body", "not UTF-8")]) from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise Problem(400, f"the body is not valid JSON: {exc.msg} at {where}", errors=[("body", where)]) from None


def validate_body(model: type[M], data: Any) -> M:
    """Validate a parsed JSON body; 422 naming each field at fault as body.<path>."""
    if not isinstance(data, dict):
        raise Problem(422, "the body must be a JSON object", errors=[("body", f"got {type(data).__name__}")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [(field_path("body", error["loc"]), error["msg"]) for error in exc.errors()]
        raise Problem(
            422, f"the body does not match the schema: {errors[0][0]}: {errors[0][1]}", errors=errors
        ) from None


def field_path(root: str, loc: Iterable[Any]) -> str:
    path = root
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


@functools.lru_cache(maxsize=1024)
def _parse_query(raw: bytes) -> Mapping[str, str]:
    return MappingProxyType(dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)))


def query(request: Request) -> Mapping[str, str]:
    """The query parameters (the last of repeated ones), parsed once per distinct query string."""
    raw: bytes = request.scope.get("query_string", b"")
    return _parse_query(raw)


def query_int(request: Request, name: str, default: int | None, *, low: int = 0, high: int | None = None) -> int:
    raw = query(request).get(name)
    if raw is None or raw == "":
        if default is None:
            raise Problem(400, f"query parameter '{name}' is required", errors=[(f"query.{name}", "required")])
        return default
    if not re.fullmatch(r"-?\d{1,12}", raw) or not (low <= int(raw) <= (high if high is not None else int(raw))):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise Problem(
            400,
            f"query parameter '{name}' must be an integer {bound}, not {raw!r}",
            errors=[(f"query.{name}", f"an integer {bound}")],
        )
    return int(raw)


def page(request: Request) -> tuple[int, int]:
    return query_int(request, "offset", 0), query_int(request, "limit", 50, low=1, high=_MAX_LIMIT)


def paginated(request: Request, items: list[Any], offset: int, limit: int, *, more: bool) -> Response:
    """A page of items; `next` (and a Link header) point at the following page when there is one."""
    following = None
    headers = {}
    if more:
        query = {**request.query_params, "offset": str(offset + limit), "limit": str(limit)}
        following = f"{request.url.path}?{urlencode(query)}"
        headers["Link"] = f'<{following}>; rel="next"'
    return json_response({"items": items, "offset": offset, "limit": limit, "next": following}, headers=headers)


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match semantics: weak comparison against a list of tags or `*`."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def not_modified(etag: str, cache_control: str) -> Response:
    return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache_control})


def revision_from_if_match(header: str | None) -> int | None:
    """The label revision an If-Match header carries; None when absent or `*`; -1 when it can never match."""
    if header is None or header.strip() == "*":
        return None
    for tag in header.split(","):
        match = re.fullmatch(r'\s*"r(\d{1,12})"\s*', tag)
        if match:
            return int(match.group(1))
    return -1
