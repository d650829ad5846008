"""Guard configuration as a strict model, loadable from YAML (Guard.from_config)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._exceptions import ConfigError
from ._policy import FailMode, Mode

if TYPE_CHECKING:
    from ._guard import Guard


class GuardConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    packs: list[str] | None = None
    policy: dict[str, Any] | None = None
    mode: Mode = "enforce"
    fail_mode: FailMode = "closed"
    allow: list[str] = Field(default_factory=list)
    max_text_chars: int = Field(default=1_000_000, gt=0)
    regex_timeout: float = Field(default=0.05, gt=0)
    decode: dict[str, int] | None = None
    presidio: bool | list[str] = False
    sink: str | None = None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> GuardConfig:
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "configuration"
            raise ConfigError(f"{where}: {error['msg']} (got {error.get('input')!r})") from None

    @classmethod
    def load(cls, path: str | Path) -> GuardConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the configuration must be a YAML mapping of Guard() options")
        config = cls.model_validate(data)
        if config.packs is not None:
            # Relative pack paths are read from the configuration file's folder.
            resolved = [p if p == "builtin" or p.startswith("builtin:") else str(path.parent / p) for p in config.packs]
            config = config.model_copy(update={"packs": resolved})
        return config

    def build(self, guard_type: type[Guard]) -> Guard:
        return guard_type(
            self.packs,
            policy=self.policy,
            mode=self.mode,
            fail_mode=self.fail_mode,
            allow=self.allow,
            max_text_chars=self.max_text_chars,
            regex_timeout=self.regex_timeout,
            decode=self.decode,
            presidio=self.presidio,
            sink=self.sink,
        )
