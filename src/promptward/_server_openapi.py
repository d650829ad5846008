"""The route table of the registry server and the OpenAPI 3.1 document built from it.

server.py makes one Starlette route per Operation and /openapi.json describes the same table, so the two
cannot drift apart (a test checks both ways).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ._apikeys import Role
from ._server_http import KINDS, TITLES

PAGE = ("offset", "limit")
OK = {200: "OK", 201: "Created", 202: "Accepted", 304: "Not modified: the ETag in If-None-Match still matches"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    name: str  # the handler's name on the registry, and the operationId
    summary: str
    role: Role | None
    ok: tuple[int, ...] = (200,)
    errors: tuple[int, ...] = ()
    query: tuple[str, ...] = ()
    body: str | None = None  # a request model in server.BODIES
    returns: str | None = None  # a response schema
    etag: bool = False  # answers If-None-Match with 304
    if_match: bool = False  # takes If-Match with a label ETag


READ_ERRORS = (401, 403, 404)
WRITE_ERRORS = (400, 401, 403, 404, 413, 415, 422)
# fmt: off
OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/openapi.json", "openapi", "This OpenAPI document", None),
    Operation("GET", "/health", "health", "Liveness probe", None),
    Operation("GET", "/prompts", "list_prompts", "List prompt slugs", "reader",
              errors=(400, 401, 403), query=PAGE, returns="PromptPage"),
    Operation("GET", "/prompts/{slug}", "get_prompt",
              "Fetch a version by number, by label (rollouts bucket unit_id) or the latest", "reader",
              ok=(200, 304), errors=(400, *READ_ERRORS), query=("version", "label", "unit_id"),
              returns="ResolvedVersion", etag=True),
    Operation("GET", "/prompts/{slug}/versions", "list_versions", "List versions, oldest first", "reader",
              errors=(400, *READ_ERRORS), query=PAGE, returns="VersionPage"),
    Operation("POST", "/prompts/{slug}/versions", "create_version",
              "Create a version; the same content as the latest returns it with 200", "editor",
              ok=(200, 201), errors=(400, 401, 403, 413, 415, 422), body="CreateVersion", returns="CreatedVersion"),
    Operation("GET", "/prompts/{slug}/versions/{version}", "get_version", "Fetch one version (immutable)", "reader",
              ok=(200, 304), errors=READ_ERRORS, returns="PromptVersion", etag=True),
    Operation("GET", "/prompts/{slug}/labels", "list_labels", "List labels", "reader",
              errors=READ_ERRORS, returns="LabelList"),
    Operation("GET", "/prompts/{slug}/labels/{label}", "get_label", "Fetch a label; its ETag is its revision",
              "reader", ok=(200, 304), errors=READ_ERRORS, returns="Label", etag=True),
    Operation("PUT", "/prompts/{slug}/labels/{label}", "move_label", "Create or move a label (protected: admin)",
              "editor", ok=(200, 201), errors=(*WRITE_ERRORS, 409, 412), body="MoveLabel", returns="Label",
              if_match=True),
    Operation("POST", "/prompts/{slug}/labels/{label}/rollback", "rollback_label",
              "Move a label back to where it pointed before its last move", "editor",
              errors=(*READ_ERRORS, 409, 412), returns="Label", if_match=True),
    Operation("GET", "/prompts/{slug}/labels/{label}/history", "label_history", "Label moves, oldest first",
              "reader", errors=(400, *READ_ERRORS), query=PAGE, returns="LabelEventPage"),
    Operation("GET", "/prompts/{slug}/history", "history", "Audit trail of every write, oldest first", "reader",
              errors=(400, *READ_ERRORS), query=PAGE, returns="AuditPage"),
    Operation("GET", "/prompts/{slug}/diff", "diff", "Diff two versions: template, contract, config", "reader",
              errors=(400, *READ_ERRORS), query=("from", "to"), returns="Diff"),
    Operation("POST", "/prompts/{slug}/render", "render",
              "Validate variables against the contract and render (no model call)", "reader",
              errors=(400, *READ_ERRORS, 413, 415, 422), body="Render", returns="Rendered"),
    Operation("GET", "/events", "events",
              "Server-sent events (text/event-stream): label moves, new versions; `: ping` heartbeats", "reader",
              errors=(401, 403)),
    Operation("POST", "/usage", "report_usage", "Report render counts per slug, version, label and variant",
              "reader", ok=(202,), errors=(400, 401, 403, 413, 415, 422), body="UsageReport"),
    Operation("GET", "/prompts/{slug}/usage", "prompt_usage",
              "Which versions are in use: calls and last use per version, label and variant", "reader",
              errors=READ_ERRORS),
    Operation("POST", "/prompts/{slug}/versions/{version}/evals", "record_eval",
              "Store an eval result with the version (audited as eval.record)", "editor", ok=(201,),
              errors=(400, 401, 403, 404, 413, 415, 422), body="EvalResult", returns="EvalRecord"),
    Operation("GET", "/prompts/{slug}/versions/{version}/evals", "list_evals",
              "Eval results of a version, oldest first (the last is the latest)", "reader",
              errors=READ_ERRORS, returns="EvalList"),
)
# fmt: on

QUERY: dict[str, tuple[dict[str, Any], str]] = {
    "offset": ({"type": "integer", "minimum": 0, "default": 0}, "Items to skip"),
    "limit": ({"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Items per page"),
    "version": ({"type": "integer", "minimum": 1}, "A version number"),
    "label": ({"type": "string"}, "A label name, e.g. production"),
    "unit_id": ({"type": "string"}, "User or session id; keeps its rollout bucket while the weights stay"),
    "from": ({"type": "integer", "minimum": 1}, "The older version"),
    "to": ({"type": "integer", "minimum": 1}, "The newer version"),
}
REQUIRED_QUERY = {"from", "to"}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "offset", "limit", "next"],
        "properties": {
            "items": {"type": "array", "items": item},
            "offset": {"type": "integer"},
            "limit": {"type": "integer"},
            "next": {"type": ["string", "null"], "description": "The next page's URL, null on the last page"},
        },
    }


def _schemas(bodies: dict[str, type[BaseModel]]) -> dict[str, Any]:
    from ._registry.models import AuditEntry, EvalRecord, EvalResult, Label, LabelEvent, PromptVersion

    ref = "#/components/schemas/{model}"
    models: list[tuple[type[BaseModel], Any]] = [(model, "validation") for model in bodies.values()]
    models.append((EvalResult, "validation"))
    models += [(model, "serialization") for model in (PromptVersion, Label, LabelEvent, AuditEntry, EvalRecord)]
    _, top = models_json_schema(models, ref_template=ref)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))

    def to(name: str) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{name}"}

    summary = {
        "type": "object",
        "properties": {
            "version": {"type": "integer"},
            "sha256": {"type": "string"},
            "author": {"type": "string"},
            "message": {"type": "string"},
            "parent": {"type": ["integer", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "href": {"type": "string"},
        },
    }
    schemas.update(
        Problem={
            "type": "object",
            "description": "RFC 9457 problem details; `errors` names each field at fault "
            "(body.<path>, query.<name>, path.<name>, header.<name>)",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "enum": sorted({f"urn:promptward:problem:{k}" for k in KINDS.values()})},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        },
        PromptPage=_page({"type": "object", "properties": {"slug": {"type": "string"}, "href": {"type": "string"}}}),
        VersionPage=_page(summary),
        LabelEventPage=_page(to("LabelEvent")),
        AuditPage=_page(to("AuditEntry")),
        LabelList={"type": "object", "properties": {"items": {"type": "array", "items": to("Label")}}},
        EvalList={"type": "object", "properties": {"items": {"type": "array", "items": to("EvalRecord")}}},
        ResolvedVersion={
            "allOf": [to("PromptVersion")],
            "properties": {"label": {"type": ["string", "null"]}, "variant": {"type": "string"}},
        },
        CreatedVersion={
            "allOf": [to("PromptVersion")],
            "properties": {"created": {"type": "boolean"}, "warnings": {"type": "array", "items": {"type": "string"}}},
        },
        Diff={
            "type": "object",
            "properties": {
                "slug": {"type": "string"},
                "from_version": {"type": "integer"},
                "to_version": {"type": "integer"},
                "template": {"type": "string", "description": "unified diff"},
                "contract": {"type": "object", "description": "{added, removed, changed}"},
                "config": {"type": "object", "description": "{added, removed, changed}"},
            },
        },
        Rendered={
            "type": "object",
            "properties": {
                "slug": {"type": "string"},
                "version": {"type": "integer"},
                "label": {"type": ["string", "null"]},
                "variant": {"type": "string"},
                "rendered": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
                "untrusted": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "variables marked trusted: false; screen them with the guard",
                },
            },
        },
    )
    return schemas


def _operation(op: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = []
    for name in re.findall(r"{(\w+)}", op.path):
        schema = {"type": "integer", "minimum": 1} if name == "version" else {"type": "string"}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    for name in op.query:
        schema, description = QUERY[name]
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": name in REQUIRED_QUERY,
                "schema": schema,
                "description": description,
            }
        )
    if op.etag:
        parameters.append(
            {
                "name": "If-None-Match",
                "in": "header",
                "schema": {"type": "string"},
                "description": "An ETag from an earlier answer; 304 if it still matches",
            }
        )
    if op.if_match:
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "schema": {"type": "string"},
                "description": 'The label ETag ("r<revision>") last seen; 412 if it moved since',
            }
        )
    responses: dict[str, Any] = {}
    for status in op.ok:
        answer: dict[str, Any] = {"description": OK[status]}
        if status != 304:
            schema = {"$ref": f"#/components/schemas/{op.returns}"} if op.returns else {"type": "object"}
            answer["content"] = {"application/json": {"schema": schema}}
        if op.etag or op.if_match:
            answer["headers"] = {"ETag": {"schema": {"type": "string"}}}
        responses[str(status)] = answer
    for status in sorted({*op.errors, 500}):
        responses[str(status)] = {
            "description": TITLES[status],
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    operation: dict[str, Any] = {"operationId": op.name, "summary": op.summary, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if op.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body}"}}},
        }
    if op.role:
        operation["security"] = [{"bearer": []}, {"apiKey": []}]
        operation["x-required-role"] = op.role
    else:
        operation["security"] = []
    return operation


def build_openapi(bodies: dict[str, type[BaseModel]]) -> dict[str, Any]:
    from . import __version__

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "promptward registry",
            "version": __version__,
            "description": "Versioned prompts with typed variable contracts, labels, rollouts, diff and audit. "
            "Roles: reader < editor < admin; protected labels move only with admin.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(bodies),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
