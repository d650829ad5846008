"""Eval results over REST: POST /prompts/{slug}/versions/{version}/evals (editor) stores one with the version,
GET lists them oldest first. The promotion gate (`promptward prompts promote --require-eval`) reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ._registry.models import EvalResult
from ._server_http import Problem, json_response, read_json, validate_body

if TYPE_CHECKING:
    from ._apikeys import ApiKey


def _version(request: Request) -> int:
    raw = request.path_params["version"]
    if not raw.isdigit() or not 0 < int(raw) < 10**12:
        raise Problem(404, f"no version {raw!r}: versions are positive integers", errors=[("path.version", raw)])
    return int(raw)


async def record_eval(registry: Any, request: Request, key: ApiKey | None) -> Response:
    assert key is not None
    slug, number = request.path_params["slug"], _version(request)
    body = validate_body(EvalResult, await read_json(request, registry.limit))
    record = await run_in_threadpool(registry.store.record_eval, slug, number, body, actor=key.name)
    location = f"/prompts/{slug}/versions/{number}/evals"
    return json_response(record.model_dump(mode="json"), status=201, headers={"Location": location})


async def list_evals(registry: Any, request: Request, key: ApiKey | None) -> Response:
    slug, number = request.path_params["slug"], _version(request)
    await registry.read(registry.store.get_version, slug, number)  # 404 for an unknown prompt or version
    records = await registry.read(registry.store.evals, slug, number)
    return json_response({"items": [record.model_dump(mode="json") for record in records]})
