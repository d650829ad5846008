"""A small JSON Schema subset, enough to check LLM answers without a new dependency.

Supported: type (incl. lists and "integer"), enum, const, properties, required, additionalProperties (bool or
schema), items, minItems, maxItems, minLength, maxLength, pattern (RE2), minimum, maximum, exclusiveMinimum,
exclusiveMaximum, anyOf, oneOf, allOf, not. Other keywords are refused when the cases load, never ignored.
"""

from __future__ import annotations

from typing import Any

from .._exceptions import ConfigError

_NAMES = "type enum const properties required additionalProperties items minItems maxItems minLength maxLength"
_MORE = "pattern minimum maximum exclusiveMinimum exclusiveMaximum anyOf oneOf allOf not title description $schema"
KEYWORDS = frozenset(f"{_NAMES} {_MORE}".split())
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "null": (type(None),),
}


def check_schema(schema: Any, where: str = "schema") -> None:
    """Refuse keywords this validator does not implement (ConfigError), so no rule is silently skipped."""
    if not isinstance(schema, dict):
        raise ConfigError(f"{where} must be an object")
    unknown = sorted(set(schema) - KEYWORDS)
    if unknown:
        raise ConfigError(f"{where}: unsupported JSON Schema keywords {unknown}; supported: {sorted(KEYWORDS)}")
    for name, sub in (schema.get("properties") or {}).items():
        check_schema(sub, f"{where}.properties.{name}")
    for key in ("items", "not"):
        if isinstance(schema.get(key), dict):
            check_schema(schema[key], f"{where}.{key}")
    if isinstance(schema.get("additionalProperties"), dict):
        check_schema(schema["additionalProperties"], f"{where}.additionalProperties")
    for key in ("anyOf", "oneOf", "allOf"):
        for index, sub in enumerate(schema.get(key) or []):
            check_schema(sub, f"{where}.{key}.{index}")


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("number", "integer"):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, ()))


def errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way `value` breaks `schema`, as 'path: problem' strings (empty when it validates)."""
    found: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is(value, kind) for kind in kinds):
            return [f"{path}: expected {' or '.join(kinds)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: expected {schema['const']!r}")
    if isinstance(value, dict):
        found += _object(value, schema, path)
    if isinstance(value, list):
        found += _array(value, schema, path)
    if isinstance(value, str):
        found += _string(value, schema, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        found += _number(value, schema, path)
    for sub in schema.get("allOf") or []:
        found += errors(value, sub, path)
    if "anyOf" in schema and not any(not errors(value, sub, path) for sub in schema["anyOf"]):
        found.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema and sum(not errors(value, sub, path) for sub in schema["oneOf"]) != 1:
        found.append(f"{path}: must match exactly one of oneOf")
    if "not" in schema and not errors(value, schema["not"], path):
        found.append(f"{path}: must not match the 'not' schema")
    return found


def _object(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
    found = [f"{path}: missing required '{name}'" for name in schema.get("required", []) if name not in value]
    properties = schema.get("properties") or {}
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            found += errors(item, properties[name], f"{path}.{name}")
        elif extra is False:
            found.append(f"{path}: unexpected property '{name}'")
        elif isinstance(extra, dict):
            found += errors(item, extra, f"{path}.{name}")
    return found


def _array(value: list[Any], schema: dict[str, Any], path: str) -> list[str]:
    found = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        found.append(f"{path}: fewer than {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        found.append(f"{path}: more than {schema['maxItems']} items")
    if isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += errors(item, schema["items"], f"{path}[{index}]")
    return found


def _string(value: str, schema: dict[str, Any], path: str) -> list[str]:
    found = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        found.append(f"{path}: shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(f"{path}: longer than {schema['maxLength']}")
    if "pattern" in schema:
        import re2

        if re2.search(schema["pattern"], value) is None:
            found.append(f"{path}: does not match {schema['pattern']!r}")
    return found


def _number(value: float, schema: dict[str, Any], path: str) -> list[str]:
    found = []
    for key, sign in (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<")):
        if key not in schema:
            continue
        bound = schema[key]
        ok = {">=": value >= bound, "<=": value <= bound, ">": value > bound, "<": value < bound}[sign]
        if not ok:
            found.append(f"{path}: {value} is not {sign} {bound}")
    return found
