"""Which request fields GuardMiddleware screens, how it finds them, and how it writes redactions back.

A field spec is one of:
  "/question", "/context/*/text"   a JSON Pointer (RFC 6901) into the body; `*` matches every key or index,
                                    and a pointer to an object or array screens every string below it
  "openai-chat"                     the text of user and tool messages (string or text parts), not system
  "openai-completions"              "prompt", a string or a list of strings
  "form:NAME"                       a field of an application/x-www-form-urlencoded body
  "query:NAME"                      a query-string parameter
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl, urlencode

from ._exceptions import ConfigError

Kind = Literal["json", "openai-chat", "openai-completions", "form", "query"]
Location = tuple[str | int, ...]
_CHAT_ROLES = frozenset({"user", "tool", "function"})
_TEXT_PARTS = frozenset({"text", "input_text"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: Kind
    name: str = ""
    tokens: tuple[str, ...] = ()

    @property
    def in_body(self) -> bool:
        return self.kind != "query"

    @property
    def is_json(self) -> bool:
        return self.kind in ("json", "openai-chat", "openai-completions")


class Hit(NamedTuple):
    """One text to screen: where it is (for the rewrite) and its name in the decision (`field`)."""

    source: Literal["json", "form", "query"]
    location: Location
    field: str
    text: str


def parse_fields(fields: str | Sequence[str]) -> tuple[FieldSpec, ...]:
    specs = [fields] if isinstance(fields, str) else list(fields)
    if not specs:
        raise ConfigError("Route(fields=...) needs at least one field: a JSON Pointer, 'openai-chat', 'form:NAME', ...")
    return tuple(_parse_one(spec) for spec in specs)


def _parse_one(spec: str) -> FieldSpec:
    if spec == "openai-chat":
        return FieldSpec("openai-chat")
    if spec == "openai-completions":
        return FieldSpec("openai-completions")
    prefix, _, name = spec.partition(":")
    if prefix in ("form", "query"):
        if not name:
            raise ConfigError(f"field {spec!r} names no parameter: write '{prefix}:NAME'")
        return FieldSpec("form" if prefix == "form" else "query", name)
    if spec.startswith("/"):
        tokens = tuple(t.replace("~1", "/").replace("~0", "~") for t in spec[1:].split("/"))
        return FieldSpec("json", spec, tokens)
    raise ConfigError(
        f"unknown field {spec!r}: use a JSON Pointer such as '/question' or '/context/*/text', "
        "'openai-chat', 'openai-completions', 'form:NAME' or 'query:NAME'"
    )


def pointer(location: Location) -> str:
    return "".join("/" + (_escaped(part) if isinstance(part, str) else str(part)) for part in location)


def _escaped(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1") if "~" in token or "/" in token else token


def json_hits(document: Any, specs: Sequence[FieldSpec]) -> list[Hit]:
    seen: set[Location] = set()
    hits: list[Hit] = []
    for spec in specs:
        for location, name, text in _json_texts(document, spec):
            if location not in seen:
                seen.add(location)
                hits.append(Hit("json", location, name, text))
    return hits


# A text found in a JSON document: where it is, the same as a JSON Pointer (its field name), and the text.
_Found = tuple[Location, str, str]


def _json_texts(document: Any, spec: FieldSpec) -> list[_Found]:
    if spec.kind == "json":
        return _walk(document, spec.tokens)
    if spec.kind == "openai-chat":
        return [(location, pointer(location), text) for location, text in _chat(document)]
    if spec.kind == "openai-completions" and isinstance(document, dict):
        prompt = document.get("prompt")
        if isinstance(prompt, str):
            return [(("prompt",), "/prompt", prompt)]
        if isinstance(prompt, list):
            return [(("prompt", i), f"/prompt/{i}", p) for i, p in enumerate(prompt) if isinstance(p, str)]
    return []


def _chat(document: Any) -> Iterator[tuple[Location, str]]:
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(messages, list):
        return
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _CHAT_ROLES:
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield ("messages", index, "content"), content
        elif isinstance(content, list):
            for part_index, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") in _TEXT_PARTS and isinstance(part.get("text"), str):
                    yield ("messages", index, "content", part_index, "text"), part["text"]


def _walk(document: Any, tokens: tuple[str, ...]) -> list[_Found]:
    """The strings a pointer reaches, one token at a time over every node the tokens so far reach (in
    document order, as a depth-first walk would give them); a node that is not a string gives every
    string below it. Each node carries its location and its pointer, built as the walk goes down."""
    level: list[tuple[Any, Location, str]] = [(document, (), "")]
    for token in tokens:
        reached: list[tuple[Any, Location, str]] = []
        for node, path, name in level:
            if isinstance(node, dict):
                if token == "*":
                    reached.extend((value, (*path, key), f"{name}/{_escaped(key)}") for key, value in node.items())
                elif token in node:
                    reached.append((node[token], (*path, token), f"{name}/{_escaped(token)}"))
            elif isinstance(node, list):
                if token == "*":
                    reached.extend((value, (*path, i), f"{name}/{i}") for i, value in enumerate(node))
                elif token.isdigit() and (token == "0" or not token.startswith("0")) and int(token) < len(node):
                    reached.append((node[int(token)], (*path, int(token)), f"{name}/{token}"))
        if not reached:
            return []
        level = reached
    found: list[_Found] = []
    for node, path, name in level:
        if isinstance(node, str):
            found.append((path, name, node))
        else:
            found.extend((where, pointer(where), text) for where, text in _strings(node, path))
    return found


def _strings(node: Any, path: Location) -> Iterator[tuple[Location, str]]:
    """Every string at or below `node`, depth first, without recursion (bodies may nest deeply)."""
    stack: list[tuple[Any, Location]] = [(node, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, str):
            yield where, current
        elif isinstance(current, dict):
            stack.extend((value, (*where, key)) for key, value in reversed(list(current.items())))
        elif isinstance(current, list):
            stack.extend((value, (*where, i)) for i, value in reversed(list(enumerate(current))))


def set_json(document: Any, location: Location, value: str) -> None:
    node = document
    for part in location[:-1]:
        node = node[part]
    node[location[-1]] = value


def parse_pairs(data: str) -> list[tuple[str, str]]:
    return parse_qsl(data, keep_blank_values=True, encoding="utf-8", errors="replace")


def pair_hits(pairs: Sequence[tuple[str, str]], names: set[str], source: Literal["form", "query"]) -> list[Hit]:
    return [Hit(source, (i,), f"{source}:{k}", v) for i, (k, v) in enumerate(pairs) if k in names]


def unique_fields(hits: Sequence[Hit]) -> list[str]:
    """A name for each hit, no two alike: a name met again gets the first free index ("form:tag[1]"), so that
    a parameter given twice is screened and redacted value by value, whatever other names the request uses."""
    names: list[str] = []
    taken = {hit.field for hit in hits}
    seen: set[str] = set()
    for hit in hits:
        name = hit.field
        if name in seen:
            index = 1
            while f"{hit.field}[{index}]" in taken:
                index += 1
            name = f"{hit.field}[{index}]"
            taken.add(name)
        seen.add(name)
        names.append(name)
    return names


def encode_pairs(pairs: Sequence[tuple[str, str]]) -> bytes:
    return urlencode(pairs).encode("ascii")
