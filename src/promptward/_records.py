"""Decision records off the request path: a bounded queue, a writer thread, and the sinks it writes to.

A record is `Decision.to_record()` (DESIGN.md section 3): ids, versions, offsets and rule ids, never the raw
input; with `hmac_key=` it also carries `input_hmac`, a keyed SHA-256 of the screened text, so equal inputs
can be correlated without storing them (a check of several fields hashes their (name, text) pairs as JSON,
and adds `field_hmacs`, the hash of each field's text: the same text hashes alike in any field and alone).
A slow or failing sink never slows or fails a check: what the queue cannot take is counted as `dropped`,
what the sink refuses as `failed`.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ._decision import Decision
from ._exceptions import ConfigError
from ._records_sql import PostgresSink, SqliteSink

log = logging.getLogger("promptward.records")

Record = dict[str, Any]
_STOP = object()


@runtime_checkable
class Sink(Protocol):
    """Where records go. `write` is called from the writer thread only, with a batch of records."""

    def write(self, records: Sequence[Record]) -> None: ...

    def close(self) -> None: ...


# Records are built and written this many at a time: the thread holds the interpreter while it builds
# them, and a check that waits for it should wait for a few dozen records, not for a whole batch.
_CHUNK = 32


class RecordWriter:
    """Takes records through a bounded queue and writes them to a sink in a background thread.

    The thread wakes every `interval` seconds, or as soon as `batch_size` records wait, and writes what
    has gathered, a few dozen records to a sink call: waking it for every record would hand the GIL back
    and forth on each check.

    >>> writer = RecordWriter(JsonlSink("decisions.jsonl"))   # doctest: +SKIP
    >>> guard = Guard(sink=writer)                           # doctest: +SKIP
    """

    def __init__(
        self,
        sink: Sink,
        *,
        hmac_key: bytes | str | None = None,
        max_queue: int = 10_000,
        batch_size: int = 256,
        interval: float = 0.05,
        error_log_interval: float = 60.0,
    ) -> None:
        self.sink = sink
        self._key = hmac_key.encode() if isinstance(hmac_key, str) else hmac_key
        # deque.append and popleft are atomic, so producers take no lock on the way in.
        self._pending: collections.deque[Any] = collections.deque()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._interval = interval
        self._wake = threading.Event()
        self._lock = threading.Lock()
        # Held by close() throughout and by whoever starts the thread: a record() that arrives while the
        # writer is closing waits and then starts a fresh thread, never a second one beside the old.
        self._life = threading.Lock()
        self._thread: threading.Thread | None = None
        self._counts = {"written": 0, "dropped": 0, "failed": 0}
        self._error_log_interval = error_log_interval
        self._last_error_log = float("-inf")

    def record(self, decision: Decision, text: str | Mapping[str, str] | None = None) -> None:
        """Queue the record of one decision; `text` (or the texts of check_fields(), by field) only feeds the
        keyed hashes and is never stored."""
        digests: Record | None = None
        if self._key is not None and text is not None:
            if isinstance(text, str):
                digests = {"input_hmac": self._digest(text)}
            else:
                # The whole input as unambiguous JSON pairs, and each field on its own: the same text hashes
                # alike as a field of a request and as a check() of its own.
                whole = json.dumps(list(text.items()), ensure_ascii=False)
                digests = {
                    "input_hmac": self._digest(whole),
                    "field_hmacs": {k: self._digest(v) for k, v in text.items()},
                }
        self._put((decision, digests))

    def _digest(self, text: str) -> str:
        assert self._key is not None
        return hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def submit(self, record: Mapping[str, Any]) -> None:
        """Queue a ready-made record (a dict as `Decision.to_record()` returns)."""
        self._put(dict(record))

    def _put(self, item: Any) -> None:
        if self._thread is None:
            self._ensure_thread()
        pending = len(self._pending)
        if pending >= self._max_queue:
            with self._lock:
                self._counts["dropped"] += 1
            return
        self._pending.append(item)
        if pending + 1 >= self._batch_size:
            self._wake.set()

    def stats(self) -> dict[str, int]:
        """Records written, dropped (queue full) and failed (the sink raised), plus what is queued now."""
        with self._lock:
            return {**self._counts, "queued": sum(isinstance(i, (tuple, dict)) for i in list(self._pending))}

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (or failed); False when `timeout` ran out."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return not self._pending
        done = threading.Event()
        self._pending.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Flush, stop the thread and close the sink. A later record() starts the thread again."""
        with self._life:
            self.flush(timeout)
            thread, self._thread = self._thread, None
            if thread is not None and thread.is_alive():
                self._pending.append(_STOP)
                self._wake.set()
                thread.join(timeout)
            try:
                self.sink.close()
            except Exception:
                log.warning("closing the decision sink failed", exc_info=True)

    def _ensure_thread(self) -> None:
        with self._life:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="promptward-records", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            while self._pending:
                batch: list[Record] = []
                markers: list[threading.Event] = []
                stop = False
                while self._pending and len(batch) < _CHUNK and not markers and not stop:
                    try:
                        stop = self._take(self._pending.popleft(), batch, markers)
                    except Exception:  # a record that cannot be built must not stop the thread
                        log.warning("building a decision record failed", exc_info=True)
                        with self._lock:
                            self._counts["failed"] += 1
                if batch:
                    self._write(batch)
                for marker in markers:
                    marker.set()
                if stop:
                    return

    @staticmethod
    def _take(item: Any, batch: list[Record], markers: list[threading.Event]) -> bool:
        if item is _STOP:
            return True
        if isinstance(item, threading.Event):
            markers.append(item)
        elif isinstance(item, tuple):
            decision, digests = item
            record = decision.to_record()
            if digests is not None:
                record.update(digests)
            batch.append(record)
        else:
            batch.append(item)
        return False

    def _write(self, batch: list[Record]) -> None:
        try:
            self.sink.write(batch)
        except Exception as exc:
            with self._lock:
                self._counts["failed"] += len(batch)
            now = time.monotonic()
            if now - self._last_error_log >= self._error_log_interval:
                self._last_error_log = now
                log.warning("decision sink %s failed, %d records lost: %s", type(self.sink).__name__, len(batch), exc)
        else:
            with self._lock:
                self._counts["written"] += len(batch)


def open_sink(spec: str, *, table: str | None = None) -> Any:
    """A sink named like the CLI's --sink: jsonl:PATH (or PATH.jsonl), sqlite:PATH or postgresql://..."""

    scheme, _, rest = spec.partition(":")
    if scheme in ("postgresql", "postgres"):
        return PostgresSink(spec, table=table or "promptward_decisions")
    if scheme == "sqlite" and rest:
        return SqliteSink(rest, table=table or "promptward_decisions")
    if scheme == "jsonl" and rest:
        return JsonlSink(rest)
    if spec.endswith(".jsonl"):
        return JsonlSink(spec)
    raise ConfigError(f"unknown sink {spec!r}: use jsonl:PATH, sqlite:PATH or postgresql://user@host/db")


def as_writer(sink: Sink | RecordWriter | str | None) -> RecordWriter | None:
    """What Guard(sink=...) accepts: a RecordWriter, a plain sink wrapped in one, or a sink spec string."""
    if isinstance(sink, str):
        sink = open_sink(sink)
    if sink is None or isinstance(sink, RecordWriter):
        return sink
    if not isinstance(sink, Sink):
        raise TypeError(f"sink= takes a sink (with write() and close()) or a RecordWriter, not {type(sink).__name__}")
    return RecordWriter(sink)


_listeners: list[Callable[[Decision], None]] = []
_listeners_lock = threading.Lock()


def emit(writer: RecordWriter | None, decision: Decision, text: str | Mapping[str, str] | None) -> None:
    """Called by every check: tells the listeners of testing.capture_decisions() and queues the record."""
    if _listeners:
        with _listeners_lock:
            listeners = list(_listeners)
        for listener in listeners:
            listener(decision)
    if writer is not None:
        writer.record(decision, text)


def add_listener(listener: Callable[[Decision], None]) -> None:
    with _listeners_lock:
        _listeners.append(listener)


def remove_listener(listener: Callable[[Decision], None]) -> None:
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _compact_json() -> Callable[[Any], str]:
    """_dumps, without building an encoder for every call: json.dumps() does, and for a small record that
    is a third of the cost. Uses the C encoder the json module itself uses, when it is there and agrees
    with json.dumps on a sample; otherwise json.dumps. It keeps no state between calls, so threads may share
    it; a circular structure fails with RecursionError instead of ValueError."""
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:
        return _dumps
    default = json.JSONEncoder().default  # raises TypeError, as json.dumps does
    try:
        encode = make_encoder(None, default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
        sample = {"a": [1, 2.5, None, True, 'é\n"', {"b": []}], "c": -0.0}
        if "".join(encode(sample, 0)) != _dumps(sample):
            return _dumps
    except Exception:
        return _dumps
    return lambda value: "".join(encode(value, 0))


_json = _compact_json()


class JsonlSink:
    """One JSON record per line, rotated by size: PATH, PATH.1 (newest backup) ... PATH.<backups>.

    One process per file: rotation is not coordinated between processes.
    """

    def __init__(self, path: str | Path, *, max_bytes: int = 50_000_000, backups: int = 5) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self._file: Any = None
        # The last pack list seen (a copy) and its JSON: the same packs are in every record, and most of its
        # line. One tuple, replaced whole: the writers of two guards may share the sink.
        self._packs: tuple[list[dict[str, str]], str] | None = None

    def write(self, records: Sequence[Record]) -> None:
        # A lone surrogate (a JSON key of a request can hold one) is written as its JSON escape: it can only
        # be inside a string, and the line reads back as the record instead of failing the whole chunk.
        data = "".join(self._line(record) + "\n" for record in records).encode("utf-8", "backslashreplace")
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
        size = self._file.tell()
        if size and size + len(data) > self.max_bytes:
            self._rotate()
        self._file.write(data)
        self._file.flush()

    def _line(self, record: Record) -> str:
        packs = record.get("packs")
        if not isinstance(packs, list):
            return _json(record)
        cached = self._packs
        if cached is None or cached[0] != packs:
            # Cached only for packs of plain strings, as Decision.to_record() makes them: a list equal to one
            # of those holds the same strings, while values of other types can be equal and print otherwise
            # (1 and True). Keys are written in the order first seen, which JSON readers ignore.
            if not all(type(pack) is dict and all(type(x) is str for kv in pack.items() for x in kv) for pack in packs):
                return _json(record)
            cached = self._packs = ([dict(pack) for pack in packs], _json(packs))
        line = _json({**record, "packs": None})
        # Strings are escaped in JSON, so the key can only be there as a key; one occurrence is this one.
        if line.count('"packs":null') != 1:
            return _json(record)
        return line.replace('"packs":null', '"packs":' + cached[1])

    def _rotate(self) -> None:
        self._file.close()
        self._file = None
        if self.backups > 0:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._file = self.path.open("ab")

    def files(self) -> list[Path]:
        """The current file and its backups, oldest first."""
        numbered = []
        siblings = self.path.parent.iterdir() if self.path.parent.is_dir() else iter(())
        for candidate in siblings:
            name, _, suffix = candidate.name.rpartition(".")
            if name == self.path.name and suffix.isdigit():
                numbered.append((int(suffix), candidate))
        backups = [path for _, path in sorted(numbered, reverse=True)]
        return [*backups, self.path] if self.path.exists() else backups

    def read(self) -> Iterator[Record]:
        for file in self.files():
            with file.open(encoding="utf-8", errors="replace") as lines:
                for line in lines:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut short by a crash or a full disk

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# Attributes of logging.LogRecord that `extra=` may not overwrite.
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class LoggingSink:
    """Each record as one stdlib log message whose fields are structured `extra` attributes.

    Adds no handler: configure logging as the application does (a JSON formatter shows every field).
    """

    def __init__(self, logger: logging.Logger | str = "promptward.decisions", *, level: int = logging.INFO) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = level

    def write(self, records: Sequence[Record]) -> None:
        for record in records:
            extra = {(f"promptward_{k}" if k in _RESERVED else k): v for k, v in record.items()}
            prompt = record.get("prompt") or {}
            self.logger.log(
                self.level,
                "promptward decision %s: %s (prompt %s)",
                record.get("decision_id"),
                record.get("action"),
                prompt.get("slug", "-"),
                extra=extra,
            )

    def close(self) -> None:
        return None


__all__ = ["JsonlSink", "LoggingSink", "PostgresSink", "RecordWriter", "Sink", "SqliteSink", "as_writer", "emit"]
