"""Call models through OpenAI-compatible chat completions: targets from YAML, retries, timeouts, a disk cache.

```yaml
concurrency: 4          # requests in flight at once, over all targets
retries: 3              # extra attempts on 429, 5xx and connection errors (timeouts are reported, not retried)
backoff: 0.5            # seconds before the first retry, doubled each time (Retry-After wins when shorter than 30 s)
cache: .promptward/eval-cache   # null: no cache
targets:
  - name: small
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY   # or api_key: ...
    model: gpt-4o-mini
    parameters: {temperature: 0}
    timeout: 30
```
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._exceptions import ConfigError

RETRY_AFTER_CAP = 30.0


class Target(BaseModel):
    """One model to evaluate on. A missing base_url is reported in each of its cells, not at load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    model: str = Field(min_length=1)
    parameters: dict[str, Any] = {}
    timeout: float = Field(default=60.0, gt=0)


class EvalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: list[Target] = Field(min_length=1)
    concurrency: int = Field(default=4, ge=1, le=256)
    retries: int = Field(default=3, ge=0, le=10)
    backoff: float = Field(default=0.5, ge=0)
    cache: str | None = None

    def pick(self, names: list[str] | None) -> list[Target]:
        """The targets named (all for None), in the order asked (ConfigError for an unknown name)."""
        if not names:
            return list(self.targets)
        known = {target.name: target for target in self.targets}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ConfigError(f"models {unknown} are not in the config; it has {sorted(known)}")
        return [known[name] for name in names]


def load_config(path: str | Path) -> EvalConfig:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read model config {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    try:
        return EvalConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "top level"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


class CallError(Exception):
    """A model call that failed for good; the message goes into the matrix cell."""


@dataclass(frozen=True)
class Completion:
    text: str
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached: bool = False
    attempts: int = 1


class ResponseCache:
    """One JSON file per (model, messages, parameters); only successful answers are kept."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(model: str, messages: list[dict[str, str]], parameters: dict[str, Any]) -> str:
        payload = {"model": model, "messages": messages, "parameters": parameters}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Completion | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            return Completion(**{**data, "cached": True, "attempts": 0})
        except (OSError, ValueError, TypeError):
            return None

    def put(self, key: str, completion: Completion) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "text": completion.text,
            "latency_ms": completion.latency_ms,
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
        }
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream)
        os.replace(temporary, path)


def _api_key(target: Target) -> str | None:
    if target.api_key:
        return target.api_key
    if target.api_key_env:
        value = os.environ.get(target.api_key_env)
        if not value:
            raise CallError(f"environment variable {target.api_key_env} (api_key_env of '{target.name}') is not set")
        return value
    return None


def _parse(response: Any, started: float, attempts: int) -> Completion:
    try:
        data = response.json()
    except ValueError:
        raise CallError(f"malformed response: not JSON ({response.text[:60]!r})") from None
    try:
        text = data["choices"][0]["message"]["content"]
        if not isinstance(text, str):
            raise TypeError("content is not a string")
    except (KeyError, IndexError, TypeError) as exc:
        raise CallError(f"malformed response: no choices[0].message.content ({exc})") from None
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt, answer = (usage.get(key) for key in ("prompt_tokens", "completion_tokens"))
    return Completion(
        text,
        (time.perf_counter() - started) * 1000,
        prompt_tokens=prompt if isinstance(prompt, int) else None,
        completion_tokens=answer if isinstance(answer, int) else None,
        attempts=attempts,
    )


def _wait(response: Any, attempt: int, backoff: float) -> float:
    try:
        after = float(str(response.headers.get("retry-after", "")))
        if 0 <= after <= RETRY_AFTER_CAP:
            return after
    except ValueError:
        pass
    return float(backoff * 2**attempt)


async def complete(
    client: Any,
    target: Target,
    messages: list[dict[str, str]],
    parameters: dict[str, Any],
    *,
    config: EvalConfig,
    cache: ResponseCache | None,
) -> Completion:
    """One chat completion: from the cache, else from the endpoint with retries (CallError when it fails)."""
    import httpx

    key = ResponseCache.key(target.model, messages, parameters)
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit
    if not target.base_url:
        raise CallError(f"target '{target.name}' has no base_url; add one to the model config")
    key_value = _api_key(target)
    headers = {"Authorization": f"Bearer {key_value}"} if key_value else {}
    url = target.base_url.rstrip("/") + "/chat/completions"
    body = {**parameters, "model": target.model, "messages": messages}
    attempt = 0
    while True:
        started = time.perf_counter()
        try:
            response = await client.post(url, json=body, headers=headers, timeout=target.timeout)
        except httpx.TimeoutException:
            raise CallError(f"timed out after {target.timeout:g} s") from None
        except httpx.TransportError as exc:
            if attempt >= config.retries:
                raise CallError(f"cannot connect to {target.base_url}: {exc}") from None
            await asyncio.sleep(config.backoff * 2**attempt)
            attempt += 1
            continue
        if response.status_code == 429 or response.status_code >= 500:
            if attempt >= config.retries:
                raise CallError(f"HTTP {response.status_code} after {attempt + 1} attempts")
            await asyncio.sleep(_wait(response, attempt, config.backoff))
            attempt += 1
            continue
        if response.status_code >= 400:
            raise CallError(f"HTTP {response.status_code}: {response.text[:100]}")
        completion = _parse(response, started, attempt + 1)
        if cache is not None:
            cache.put(key, completion)
        return completion
