"""Client-side usage counting: each fetch adds one to (slug, version, label, variant); a daemon thread sends
the counters in batches. The caller only takes a lock for an integer increment; a report that cannot be sent
is kept for the next round (up to `max_keys` counters) and what is dropped is counted, never waited for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from .._decision import PromptRef

log = logging.getLogger("promptward.registry")
Key = tuple[str, int, str | None, str | None]


class UsageCounter:
    def __init__(self, *, max_keys: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Key, list[float]] = {}
        self.max_keys = max_keys
        self.sent_reports = 0
        self.failed_reports = 0
        self.lost_calls = 0
        self.uncounted = 0  # renders of a fallback template: no version to count

    def count(self, ref: PromptRef) -> None:
        version = ref.version
        if version is None:
            self.uncounted += 1
            return
        key = (ref.slug, version, ref.label, ref.variant)
        now = time.time()
        with self._lock:
            held = self._counts.get(key)
            if held is not None:
                held[0] += 1
                held[1] = now
            elif len(self._counts) < self.max_keys:
                self._counts[key] = [1, now]
            else:
                self.lost_calls += 1

    def drain(self) -> dict[Key, list[float]]:
        with self._lock:
            batch, self._counts = self._counts, {}
        return batch

    def restore(self, batch: dict[Key, list[float]]) -> None:
        """Put an unsent batch back; whatever no longer fits is counted as lost."""
        with self._lock:
            for key, (calls, last) in batch.items():
                held = self._counts.get(key)
                if held is not None:
                    held[0] += calls
                    held[1] = max(held[1], last)
                elif len(self._counts) < self.max_keys:
                    self._counts[key] = [calls, last]
                else:
                    self.lost_calls += int(calls)

    def pending(self) -> dict[Key, list[float]]:
        with self._lock:
            return {key: list(value) for key, value in self._counts.items()}

    def stats(self) -> dict[str, int]:
        with self._lock:
            pending = int(sum(value[0] for value in self._counts.values()))
        return {
            "pending_calls": pending,
            "sent_reports": self.sent_reports,
            "failed_reports": self.failed_reports,
            "lost_calls": self.lost_calls,
            "fallback_calls": self.uncounted,
        }


def as_items(batch: dict[Key, list[float]]) -> list[dict[str, Any]]:
    return [
        {
            "slug": slug,
            "version": version,
            "label": label,
            "variant": variant,
            "calls": int(calls),
            "last_used": datetime.fromtimestamp(last, UTC).isoformat(),
        }
        for (slug, version, label, variant), (calls, last) in batch.items()
    ]


class UsageReporter:
    """Sends the counter every `interval` seconds from a daemon thread; flush() sends now."""

    def __init__(
        self, counter: UsageCounter, send: Callable[[Sequence[dict[str, Any]]], None], *, interval: float
    ) -> None:
        self.counter, self._send, self.interval = counter, send, interval
        self._stop = threading.Event()
        self._flushing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="promptward-usage", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> bool:
        with self._flushing:
            batch = self.counter.drain()
            if not batch:
                return True
            keys = list(batch)
            start = 0
            try:
                for start in range(0, len(keys), 1000):
                    self._send(as_items({key: batch[key] for key in keys[start : start + 1000]}))
            except Exception as exc:
                self.counter.failed_reports += 1
                self.counter.restore({key: batch[key] for key in keys[start:]})
                log.info("usage report not sent (%s); kept for the next one", exc)
                return False
            self.counter.sent_reports += 1
            return True

    def close(self, *, final_flush: bool = True) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)
        if final_flush and not self.flush():
            pending = self.counter.drain()
            self.counter.lost_calls += int(sum(value[0] for value in pending.values()))
