"""Rule packs as data: a strict pydantic schema, YAML loading with located errors, pack identity."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._decision import PackIdentity
from ._exceptions import RulePackError

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
RULE_KINDS: tuple[str, ...] = ("regex", "keywords", "pii", "secret")
RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Examples(_Strict):
    match: tuple[str, ...] = ()
    no_match: tuple[str, ...] = ()


class _RuleBase(_Strict):
    id: str = Field(pattern=RULE_ID_PATTERN)
    category: str = Field(min_length=1)
    severity: Severity
    description: str = ""
    enabled: bool = True
    case_sensitive: bool = False
    examples: Examples = Examples()


Scope = Literal["all", "decoded"]


class _ScreeningRule(_RuleBase):
    # "all": the caller's text and every payload decoded from it; "decoded": only text the engine decoded
    # from an encoding (base64, hex, ...), where wording that is ordinary in plain text is a smuggled order.
    scope: Scope = "all"


class RegexRule(_ScreeningRule):
    """A pattern in RE2 syntax (engine re2) or `regex` syntax for look-around (engine regex)."""

    kind: Literal["regex"]
    pattern: str = Field(min_length=1)
    engine: Literal["re2", "regex"] = "re2"

    @model_validator(mode="after")
    def _compiles(self) -> RegexRule:
        from ._matcher import check_pattern

        check_pattern(self.pattern, self.engine, self.case_sensitive)
        return self


class KeywordsRule(_ScreeningRule):
    """Literal phrases; any one firing fires the rule. Whitespace inside a phrase matches any run."""

    kind: Literal["keywords"]
    keywords: tuple[str, ...] = Field(min_length=1)
    word_boundary: bool = True

    @field_validator("keywords")
    @classmethod
    def _not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not k.strip() for k in value):
            raise ValueError("keywords must not be blank")
        return value


Validator = Literal[
    "luhn",
    "iban",
    "us_ssn",
    "phone",
    "ipv4",
    "ipv6",
    "aba_routing",
    "entropy",
    "btc_address",
    "eth_address",
    "uk_nhs",
    "es_nif",
    "it_fiscal_code",
    "in_aadhaar",
    "au_abn",
    "au_tfn",
    "sg_nric",
    "date",
    "calendar_date",
    "phone_digits",
    "phone_strict",
    "ipv6_address",
    "uk_nino",
    "pl_pesel",
    "tr_tckn",
    "fi_hetu",
    "dea",
    "ca_sin",
]


class _DataRuleBase(_RuleBase):
    """A recognizer for a value (PII or a secret): RE2 pattern, optional validator, context words.

    Data rules run on the caller's text as given (not on the canonical form used for attacks), so a
    value keeps its exact spelling and offsets. `group` picks the capture group that is the value.
    """

    entity_type: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    pattern: str = Field(min_length=1)
    group: int = Field(default=0, ge=0)
    validator: Validator | None = None
    score: float = Field(default=0.6, ge=0.0, le=1.0)
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)
    context: tuple[str, ...] = ()
    negative_context: tuple[str, ...] = ()
    context_boost: float = Field(default=0.35, ge=0.0, le=1.0)
    min_entropy: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _compiles(self) -> _DataRuleBase:
        from ._matcher import check_pattern

        check_pattern(self.pattern, "re2", self.case_sensitive)
        return self


class PiiRule(_DataRuleBase):
    kind: Literal["pii"]


class SecretRule(_DataRuleBase):
    """A secret; values that look like placeholders or documentation examples are never reported."""

    kind: Literal["secret"]


DataRule = PiiRule | SecretRule
AnyRule = RegexRule | KeywordsRule | PiiRule | SecretRule
Rule = Annotated[AnyRule, Field(discriminator="kind")]


class RuleOverride(_Strict):
    """Change a rule of an earlier pack by id without copying it."""

    id: str
    severity: Severity | None = None
    enabled: bool | None = None
    category: str | None = None
    scope: Scope | None = None  # regex and keywords rules only


class RulePack(_Strict):
    pack: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str = Field(min_length=1)
    description: str = ""
    rules: tuple[Rule, ...] = ()
    disable: tuple[str, ...] = ()
    overrides: tuple[RuleOverride, ...] = ()
    allow: tuple[str, ...] = ()
    source: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_ids(self) -> RulePack:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice in pack {self.pack!r}")
            seen.add(rule.id)
        return self

    @functools.cached_property
    def identity(self) -> PackIdentity:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return PackIdentity(self.pack, self.version, hashlib.sha256(canonical.encode()).hexdigest())


def load_pack(path: str | Path) -> RulePack:
    """Load one YAML pack; every error names the file, the line, the rule id and the fix."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RulePackError(f"cannot read the file ({exc.strerror})", path=path, fix="check the path") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulePackError("not UTF-8 text", path=path, fix="save the pack as UTF-8 YAML") from exc
    return parse_pack(text, source=str(path))


# libyaml's loader when PyYAML was built with it (its wheels are): the same documents, several times faster.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_pack(text: str, *, source: str = "<string>") -> RulePack:
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RulePackError(f"invalid YAML: {exc}", path=source, line=line, fix="correct the YAML syntax") from exc
    if not isinstance(data, dict):
        raise RulePackError(
            f"a rule pack must be a YAML mapping, got {type(data).__name__}",
            path=source,
            line=1,
            fix="start the file with 'pack: <id>', 'version: <x.y.z>' and 'rules:'",
        )
    try:
        return RulePack.model_validate({**data, "source": source})
    except ValidationError as exc:
        # The node tree, with the line of every value, is only needed to say where an error is.
        raise _located(exc, data, yaml.compose(text, Loader=_LOADER), source) from exc


def _located(exc: ValidationError, data: dict[str, Any], node: Any, source: str) -> RulePackError:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    if len(loc) > 2 and loc[0] == "rules" and loc[2] in RULE_KINDS:
        loc = loc[:2] + loc[3:]  # drop the union tag pydantic puts in the location
    rule_id = None
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = data.get("rules") or []
        if loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            rule_id = rules[loc[1]].get("id")
    field = ".".join(str(p) for p in loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
        fix = "remove it or correct its spelling; allowed keys are in the pack schema"
    elif error["type"] == "union_tag_invalid":
        loc = (*loc, "kind")
        fix = f"set kind to one of: {', '.join(RULE_KINDS)}"
    elif error["type"] == "missing":
        fix = f"add the required key {loc[-1]!r}"
    else:
        fix = f"correct {field or 'the value'}"
    return RulePackError(f"{field}: {message}", path=source, rule_id=rule_id, line=_line_of(node, loc), fix=fix)


def _line_of(node: Any, loc: Sequence[Any]) -> int | None:
    """Walk the YAML node tree along a pydantic error location to the deepest node that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                continue
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            continue
        line = node.start_mark.line + 1
    return line


def _rules_dir() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "rules"
    return installed if installed.is_dir() else here.parents[1] / "rules"


BUILTIN_PACKS: tuple[str, ...] = (
    "injection",
    "injection-i18n",
    "jailbreak",
    "exfiltration",
    "obfuscation",
    "secrets",
    "pii",
)


@functools.cache
def builtin_pack(name: str) -> RulePack:
    path = _rules_dir() / f"{name}.yaml"
    if not path.is_file():
        raise RulePackError(
            f"no built-in pack named {name!r}", path=path, fix=f"use one of: {', '.join(BUILTIN_PACKS)}"
        )
    return load_pack(path)


def builtin_packs() -> tuple[RulePack, ...]:
    return tuple(builtin_pack(name) for name in BUILTIN_PACKS)


PackSource = str | Path | RulePack


def resolve_packs(sources: Iterable[PackSource] | None) -> tuple[RulePack, ...]:
    """Turn `Guard(packs=...)` entries into packs: "builtin", "builtin:<name>", a file or a folder."""
    if sources is None:
        return builtin_packs()
    if isinstance(sources, (str, Path, RulePack)):
        sources = [sources]
    packs: list[RulePack] = []
    for source in sources:
        if isinstance(source, RulePack):
            packs.append(source)
        elif isinstance(source, str) and source == "builtin":
            packs.extend(builtin_packs())
        elif isinstance(source, str) and source.startswith("builtin:"):
            packs.append(builtin_pack(source.removeprefix("builtin:")))
        else:
            path = Path(source)
            if path.is_dir():
                packs.extend(load_pack(p) for p in sorted(path.glob("*.y*ml")))
            else:
                packs.append(load_pack(path))
    return tuple(packs)
