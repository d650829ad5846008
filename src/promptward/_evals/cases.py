"""Test cases as data: variables for the template and assertions on the answer, from YAML or a version's config.

```yaml
threshold: 0.8            # weighted share of cases that must pass, per version x model
cases:
  - id: capital
    variables: {country: France}
    weight: 2             # default 1
    tags: [geo]
    assertions:
      - {kind: contains, value: Paris}
      - {kind: regex, pattern: '^[A-Z]'}
      - {kind: json_schema, schema: {type: object, required: [city]}}
      - {kind: number, value: 42, tolerance: 0.5}
      - {kind: length, max: 200}
      - {kind: guard_allows}
```
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._exceptions import ConfigError
from .jsonschema_lite import check_schema

CONFIG_KEY = "evals"  # a version's config may carry its own cases under this key


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)


class Equals(_Strict):
    kind: Literal["equals"]
    value: str
    ignore_case: bool = False


class Contains(_Strict):
    kind: Literal["contains"]
    value: str
    ignore_case: bool = False


class NotContains(_Strict):
    kind: Literal["not_contains"]
    value: str
    ignore_case: bool = False


class Regex(_Strict):
    """RE2 search (linear time) anywhere in the answer."""

    kind: Literal["regex"]
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        import re2

        try:
            re2.compile(pattern)
        except re2.error as exc:
            raise ValueError(f"not an RE2 pattern: {exc}") from None
        return pattern


class JsonSchema(_Strict):
    """The answer (or its first ```json block) parses as JSON and validates against `schema`."""

    kind: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")

    @field_validator("schema_")
    @classmethod
    def _known(cls, schema: dict[str, Any]) -> dict[str, Any]:
        check_schema(schema)
        return schema


class Number(_Strict):
    """A number within `tolerance` of `value`: the answer's first number, or the JSON field at `path` (a.b.0)."""

    kind: Literal["number"]
    value: float
    tolerance: float = Field(default=0.0, ge=0)
    path: str | None = None


class Length(_Strict):
    kind: Literal["length"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> Length:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class GuardAllows(_Strict):
    """Screen the answer with the guard (built-in packs or `packs`): BLOCK, REDACT or FLAG fails the case."""

    kind: Literal["guard_allows"]
    packs: list[str] | None = None


Assertion = Annotated[
    Equals | Contains | NotContains | Regex | JsonSchema | Number | Length | GuardAllows, Field(discriminator="kind")
]


class Case(_Strict):
    id: str = Field(min_length=1, max_length=200)
    description: str = ""
    variables: dict[str, Any] = {}
    assertions: list[Assertion] = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)
    tags: list[str] = []


class CaseSet(_Strict):
    threshold: float = Field(default=1.0, ge=0, le=1)
    cases: list[Case] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> CaseSet:
        ids = [case.id for case in self.cases]
        duplicates = sorted({name for name in ids if ids.count(name) > 1})
        if duplicates:
            raise ValueError(f"case ids must be distinct, repeated: {duplicates}")
        return self

    @property
    def sha256(self) -> str:
        """Identifies the cases an eval ran with (stored with the result)."""
        text = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def only(self, tags: list[str] | None) -> CaseSet:
        """The cases carrying any of `tags` (all of them for None or [])."""
        if not tags:
            return self
        chosen = [case for case in self.cases if set(case.tags) & set(tags)]
        if not chosen:
            raise ConfigError(f"no case has any of the tags {tags}")
        return self.model_copy(update={"cases": chosen})


def parse_cases(data: Any, *, source: str = "cases") -> CaseSet:
    """Validate a mapping as a CaseSet (ConfigError naming the field at fault)."""
    if isinstance(data, list):
        data = {"cases": data}
    try:
        return CaseSet.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise ConfigError(f"{source}: {where}: {first['msg']}") from None


def load_cases(path: str | Path) -> CaseSet:
    """Read a YAML (or JSON) file of cases."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read cases file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return parse_cases(data, source=str(path))


def cases_of_config(config: dict[str, Any], *, source: str) -> CaseSet | None:
    """The cases stored with a version (its config's `evals` key), versioned with it; None when it has none."""
    raw = config.get(CONFIG_KEY)
    return None if raw is None else parse_cases(raw, source=f"{source} config.{CONFIG_KEY}")
