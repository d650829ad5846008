"""The `{{ name }}` template language and the typed variable contract stored with each prompt version.

Templates are data: a placeholder is a bare variable name, nothing else. No expressions, filters, calls or
attribute access, so rendering never runs code. `\\{{` writes a literal `{{`.

A chat template is a list of messages `{"role": ..., "content": ...}`; each content is a template. A message
may carry `"when": "<variable>"`: it is an optional section, rendered only when that variable has a value
(not None, "", [] or False).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ._exceptions import InvalidVariable, MissingVariable, TemplateError, UnexpectedVariable

TemplateSource = str | list[dict[str, str]]
VariableType = Literal["str", "int", "float", "bool", "enum", "list[str]"]
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MESSAGE_KEYS = frozenset({"role", "content", "when"})
_OPEN, _CLOSE, _ESCAPED_OPEN = "{{", "}}", "\\{{"


@dataclass(frozen=True, slots=True)
class _Placeholder:
    name: str


_Part = str | _Placeholder


@dataclass(frozen=True, slots=True)
class _Message:
    role: str
    content: tuple[_Part, ...]
    when: str | None


def _location(source: str, index: int) -> str:
    line = source.count("\n", 0, index) + 1
    column = index - (source.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def _placeholder_problem(inner: str) -> str:
    if not inner:
        return "empty placeholder; write a variable name inside {{ }}"
    if "." in inner or "[" in inner:
        return f"'{inner}': attribute and item access are not supported (templates are data); pass the value itself"
    if "(" in inner or "|" in inner:
        return f"'{inner}': calls and filters are not supported (templates are data); pass the finished value"
    return f"'{inner}' is not a variable name; use letters, digits and underscores, not starting with a digit"


def _parse_text(source: str) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    literal: list[str] = []
    index = 0
    while index < len(source):
        if source.startswith(_ESCAPED_OPEN, index):
            literal.append(_OPEN)
            index += len(_ESCAPED_OPEN)
        elif source.startswith(_OPEN, index):
            end = source.find(_CLOSE, index + 2)
            where = _location(source, index)
            if end < 0:
                raise TemplateError(f"{where}: '{{{{' is never closed; close it with '}}}}' or write '\\{{{{'")
            inner = source[index + 2 : end].strip()
            if not NAME_PATTERN.fullmatch(inner):
                raise TemplateError(f"{where}: {_placeholder_problem(inner)}")
            if literal:
                parts.append("".join(literal))
                literal.clear()
            parts.append(_Placeholder(inner))
            index = end + len(_CLOSE)
        else:
            literal.append(source[index])
            index += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _parse_message(position: int, message: object) -> _Message:
    where = f"message {position}"
    if not isinstance(message, Mapping):
        raise TemplateError(f"{where}: a chat message is an object with 'role' and 'content'")
    unknown = sorted(set(message) - MESSAGE_KEYS)
    if unknown:
        raise TemplateError(f"{where}: unknown keys {unknown}; a message has only role, content and when")
    role, content, when = message.get("role"), message.get("content"), message.get("when")
    if not isinstance(role, str) or not role:
        raise TemplateError(f"{where}: 'role' must be a non-empty string")
    if not isinstance(content, str):
        raise TemplateError(f"{where}: 'content' must be a string")
    if when is not None and (not isinstance(when, str) or not NAME_PATTERN.fullmatch(when)):
        raise TemplateError(f"{where}: 'when' must name a variable")
    try:
        parts = _parse_text(content)
    except TemplateError as exc:
        raise TemplateError(f"{where} content, {exc}") from None
    return _Message(role, parts, when)


def _as_text(value: object, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    raise InvalidVariable(
        f"variable '{name}': cannot render a {type(value).__name__}; pass str, int, float, bool or a list of str"
    )


def _present(value: object) -> bool:
    return value is not None and value is not False and value != "" and value != [] and value != ()


def _render_parts(parts: tuple[_Part, ...], values: Mapping[str, object]) -> str:
    return "".join(part if isinstance(part, str) else _as_text(values[part.name], part.name) for part in parts)


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: a text, or a chat as a tuple of messages. Build it with Template.parse()."""

    source: TemplateSource
    _text: tuple[_Part, ...] | None
    _messages: tuple[_Message, ...] | None

    @classmethod
    def parse(cls, source: TemplateSource) -> Template:
        if isinstance(source, str):
            return cls(source, _parse_text(source), None)
        if isinstance(source, list) and source:
            messages = tuple(_parse_message(i, message) for i, message in enumerate(source))
            return cls([dict(message) for message in source], None, messages)
        raise TemplateError("a template is a string or a non-empty list of chat messages")

    @property
    def is_chat(self) -> bool:
        return self._messages is not None

    def variables(self) -> tuple[str, ...]:
        return _used_names(self)

    def render(self, values: Mapping[str, object]) -> str | list[dict[str, str]]:
        """Fill every placeholder; refuses missing or unused values instead of guessing."""
        used = set(self.variables())
        missing = sorted(used - set(values))
        if missing:
            raise MissingVariable(f"variable '{missing[0]}': no value given; the template uses {sorted(used)}")
        unexpected = sorted(set(values) - used)
        if unexpected:
            raise UnexpectedVariable(f"variable '{unexpected[0]}': the template does not use it; remove it")
        if self._text is not None:
            return _render_parts(self._text, values)
        assert self._messages is not None
        return [
            {"role": message.role, "content": _render_parts(message.content, values)}
            for message in self._messages
            if message.when is None or _present(values[message.when])
        ]


@functools.lru_cache(maxsize=1024)
def _names_of(parts: tuple[_Part, ...]) -> frozenset[str]:
    return frozenset(part.name for part in parts if isinstance(part, _Placeholder))


def _used_names(template: Template) -> tuple[str, ...]:
    if template._text is not None:
        return tuple(sorted(_names_of(template._text)))
    names: set[str] = set()
    for message in template._messages or ():
        names |= _names_of(message.content)
        if message.when:
            names.add(message.when)
    return tuple(sorted(names))


class VariableSpec(BaseModel):
    """One variable of a contract. `trusted: false` means the guard screens the value before rendering.

    `max_length` counts characters of a str or enum value and items of a list; `pattern` (RE2) must match the
    whole value (each item of a list).
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    type: VariableType
    required: bool = True
    default: Any = None
    max_length: int | None = None
    pattern: str | None = None
    enum: list[str] | None = None
    trusted: bool = True
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> VariableSpec:
        if (self.type == "enum") != bool(self.enum):
            raise ValueError("type enum needs a non-empty 'enum' list, and only type enum takes one")
        if self.pattern is not None:
            if self.type not in ("str", "list[str]"):
                raise ValueError("'pattern' applies to str and list[str] only")
            _compiled(self.pattern)
        if self.max_length is not None and (self.type not in ("str", "enum", "list[str]") or self.max_length < 0):
            raise ValueError("'max_length' is a non-negative limit for str, enum and list[str]")
        if self.default is not None:
            _check_value("default", self, self.default)
        return self


Contract = dict[str, VariableSpec]


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"pattern {pattern!r} does not compile on RE2: {exc}") from None


def _invalid(name: str, rule: str, problem: str) -> InvalidVariable:
    error = InvalidVariable(f"variable '{name}': {problem} (rule: {rule})")
    vars(error).update(variable=name, rule=rule)
    return error


def _check_value(name: str, spec: VariableSpec, value: object) -> object:
    kind = spec.type
    if kind in ("str", "enum") and not isinstance(value, str):
        raise _invalid(name, "type", f"expected a string, got {type(value).__name__}")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise _invalid(name, "type", f"expected an integer, got {type(value).__name__}")
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid(name, "type", f"expected a number, got {type(value).__name__}")
        value = float(value)
    if kind == "bool" and not isinstance(value, bool):
        raise _invalid(name, "type", f"expected true or false, got {type(value).__name__}")
    if kind == "list[str]" and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        raise _invalid(name, "type", "expected a list of strings")
    if kind == "enum" and value not in (spec.enum or []):
        raise _invalid(name, "enum", f"{value!r} is not one of {spec.enum}")
    if spec.max_length is not None and isinstance(value, str | list) and len(value) > spec.max_length:
        unit = "items" if isinstance(value, list) else "characters"
        raise _invalid(name, "max_length", f"{len(value)} {unit}, at most {spec.max_length} allowed")
    if spec.pattern is not None:
        items: Sequence[object] = value if isinstance(value, list) else [value]
        for item in items:
            if _compiled(spec.pattern).fullmatch(item) is None:
                raise _invalid(name, "pattern", f"{item!r} does not match the pattern {spec.pattern!r}")
    return value


def parse_contract(raw: Mapping[str, object]) -> Contract:
    """Build a contract from specs or plain mappings; TemplateError names the variable and the field at fault."""
    contract: Contract = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise TemplateError(f"contract: {name!r} is not a variable name (letters, digits, underscores)")
        if isinstance(spec, VariableSpec):
            contract[name] = spec
            continue
        try:
            contract[name] = VariableSpec.model_validate(spec)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "spec"
            raise TemplateError(f"contract variable '{name}', field '{field}': {first['msg']}") from None
    return contract


def validate_variables(contract: Mapping[str, VariableSpec], values: Mapping[str, object]) -> dict[str, object]:
    """Check values against the contract; return them with defaults applied (optional, unset ones as None)."""
    unexpected = sorted(set(values) - set(contract))
    if unexpected:
        error = UnexpectedVariable(
            f"variable '{unexpected[0]}': not declared by the contract; declared: {sorted(contract)}"
        )
        vars(error).update(variable=unexpected[0], rule="declared")
        raise error
    checked: dict[str, object] = {}
    for name, spec in contract.items():
        if name in values and values[name] is not None:
            checked[name] = _check_value(name, spec, values[name])
        elif spec.default is not None:
            checked[name] = spec.default
        elif spec.required:
            missing = MissingVariable(f"variable '{name}': required and no value given; pass a {spec.type}")
            vars(missing).update(variable=name, rule="required")
            raise missing
        else:
            checked[name] = None
    return checked


def check_contract(template: Template, contract: Mapping[str, VariableSpec]) -> list[str]:
    """Raise TemplateError if the template uses an undeclared variable; warn about declared, unused ones."""
    used = set(template.variables())
    undeclared = sorted(used - set(contract))
    if undeclared:
        raise TemplateError(f"the template uses undeclared variables {undeclared}; declare them in the contract")
    return [f"variable '{name}' is declared but the template never uses it" for name in sorted(set(contract) - used)]


def render_version(
    template: Template, contract: Mapping[str, VariableSpec], values: Mapping[str, object]
) -> str | list[dict[str, str]]:
    """Validate values against the contract, then render with the variables the template uses."""
    checked = validate_variables(contract, values)
    used = template.variables()
    return template.render({name: checked.get(name) for name in used})
