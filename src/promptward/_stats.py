"""Per-version statistics over decision records: per prompt (slug, version, variant) and per pack version.

Rates count what the policy decided (`would_action`), so monitor mode shows what enforcement would do.
This is how a team sees that version 8 is attacked more than version 7, or that a new pack version
doubled the blocks.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from ._exceptions import ConfigError

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
NO_PROMPT = "(none)"


def parse_since(value: str, *, now: float | None = None) -> float:
    """'7d', '12h', '30m', '45s', '2w' (ago) or an ISO 8601 time (UTC when it names no zone) -> epoch seconds."""
    text = value.strip()
    relative = _RELATIVE.match(text.lower())
    if relative:
        return (time.time() if now is None else now) - float(relative[1]) * _UNIT_SECONDS[relative[2]]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since {value!r}: use a duration such as 7d, 12h, 30m or an ISO time") from None
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class _Group:
    def __init__(self, key: dict[str, Any]) -> None:
        self.key = key
        self.checks = 0
        self.actions: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self.latencies: list[float] = []

    def add(self, record: Mapping[str, Any], rule_ids: Iterable[str]) -> None:
        self.checks += 1
        self.actions[str(record.get("would_action") or record.get("action"))] += 1
        self.rules.update(set(rule_ids))
        latency = record.get("latency_ms")
        if isinstance(latency, (int, float)):
            self.latencies.append(float(latency))

    def result(self, top: int) -> dict[str, Any]:
        rate = {a: round(self.actions[a] / self.checks, 4) if self.checks else 0.0 for a in ("block", "redact", "flag")}
        return {
            **self.key,
            "checks": self.checks,
            "blocked": self.actions["block"],
            "redacted": self.actions["redact"],
            "flagged": self.actions["flag"],
            "block_rate": rate["block"],
            "redact_rate": rate["redact"],
            "flag_rate": rate["flag"],
            "top_rules": [{"rule_id": r, "checks": n} for r, n in self.rules.most_common(top)],
            "latency_ms": _percentiles(self.latencies),
        }


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        # Nearest rank: the smallest value with at least a fraction q of the values at or below it.
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 4)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99)}


def decision_stats(
    records: Iterable[Mapping[str, Any]],
    *,
    since: float | None = None,
    until: float | None = None,
    prompt: str | None = None,
    top: int = 5,
) -> dict[str, Any]:
    """Group records per prompt version and per pack version; see the module docstring for the rates."""
    prompts: dict[tuple[Any, ...], _Group] = {}
    packs: dict[tuple[Any, ...], _Group] = {}
    total = 0
    first: float | None = None
    last: float | None = None
    for record in records:
        moment = record.get("time")
        if isinstance(moment, (int, float)):
            if (since is not None and moment < since) or (until is not None and moment >= until):
                continue
            first = moment if first is None else min(first, moment)
            last = moment if last is None else max(last, moment)
        ref = record.get("prompt") or {}
        slug = ref.get("slug") or NO_PROMPT
        if prompt is not None and slug != prompt:
            continue
        total += 1
        findings = record.get("findings") or []
        key = (slug, ref.get("version"), ref.get("variant"))
        if key not in prompts:
            prompts[key] = _Group({"slug": slug, "version": ref.get("version"), "variant": ref.get("variant")})
        prompts[key].add(record, (f.get("rule_id", "?") for f in findings))
        for pack in record.get("packs") or []:
            pack_key = (pack.get("id"), pack.get("version"))
            if pack_key not in packs:
                packs[pack_key] = _Group({"pack": pack.get("id"), "version": pack.get("version")})
            own = (f.get("rule_id", "?") for f in findings if f.get("pack") == pack.get("id"))
            packs[pack_key].add(record, own)
    return {
        "checks": total,
        "first": first,
        "last": last,
        "prompts": [g.result(top) for _, g in sorted(prompts.items(), key=lambda kv: _order(kv[0]))],
        "packs": [g.result(top) for _, g in sorted(packs.items(), key=lambda kv: _order(kv[0]))],
    }


def _order(key: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if part is None else f"{part:>12}" if isinstance(part, int) else str(part) for part in key)


def read_sink(spec: str, *, since: float | None = None, table: str | None = None) -> Iterator[dict[str, Any]]:
    """Records from a sink named like the CLI's --sink: jsonl:PATH, sqlite:PATH or postgresql://..."""
    from ._records import JsonlSink, open_sink

    sink = open_sink(spec, table=table)
    yield from sink.read() if isinstance(sink, JsonlSink) else sink.read(since=since)
