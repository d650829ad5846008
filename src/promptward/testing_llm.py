"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests and demos (no network, no key).

    with FakeLLM() as llm:
        llm.rule(r"capital of France", "Paris")          # regex on the last user message -> answer
        llm.rule(r"terse", "Yes.", on="system", model="small")
        llm.fail(429, times=2)                           # the next 2 requests answer 429, then normal again
        llm.garbage(model="broken")                      # every request for that model gets malformed JSON
        llm.slow(2.0, model="sleepy")                    # answers after 2 s
        base_url = llm.url                               # http://127.0.0.1:<port>/v1

It is a real HTTP server (stdlib, one thread per request) and reports token usage (words, roughly).
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

__all__ = ["FakeLLM"]


@dataclass
class _Rule:
    pattern: re.Pattern[str]
    answer: str
    on: Literal["user", "system", "any"]
    model: str | None


@dataclass
class _Fault:
    kind: Literal["status", "garbage"]
    status: int
    remaining: int | None  # None: for ever
    model: str | None


@dataclass
class _Script:
    rules: list[_Rule] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    delays: dict[str | None, float] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeLLM:
    """Start with `with FakeLLM() as llm:` or start()/stop(); `requests` holds every request body received."""

    def __init__(self, *, default: str = "I do not know.") -> None:
        self.default = default
        self._script = _Script()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ---------------------------------------------------------------------------------------------

    def rule(
        self, pattern: str, answer: str, *, on: Literal["user", "system", "any"] = "user", model: str | None = None
    ) -> FakeLLM:
        """Answer `answer` when `pattern` (a regex, searched) matches; rules are tried in the order added."""
        self._script.rules.append(_Rule(re.compile(pattern), answer, on, model))
        return self

    def fail(self, status: int = 500, *, times: int | None = 1, model: str | None = None) -> FakeLLM:
        """The next `times` requests (None: all) for `model` (None: any) answer HTTP `status`."""
        self._script.faults.append(_Fault("status", status, times, model))
        return self

    def garbage(self, *, times: int | None = None, model: str | None = None) -> FakeLLM:
        """Answer 200 with a body that is not valid JSON."""
        self._script.faults.append(_Fault("garbage", 200, times, model))
        return self

    def slow(self, seconds: float, *, model: str | None = None) -> FakeLLM:
        """Wait `seconds` before answering requests for `model` (None: every model)."""
        self._script.delays[model] = seconds
        return self

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._script.lock:
            return list(self._script.requests)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("start the FakeLLM first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeLLM:
        handler = type("_Bound", (_Handler,), {"script": self._script, "default": self.default})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _words(text: str) -> int:
    return len(text.split())


class _Handler(BaseHTTPRequestHandler):
    script: _Script
    default: str

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
            pass

    def do_POST(self) -> None:
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, b'{"error": {"message": "only /v1/chat/completions"}}')
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            messages = body["messages"]
            model = str(body.get("model", ""))
        except (ValueError, KeyError, TypeError):
            self._send(400, b'{"error": {"message": "send JSON with model and messages"}}')
            return
        fault = self._fault(body, model)
        delay = self.script.delays.get(model, self.script.delays.get(None, 0.0))
        if delay:
            time.sleep(delay)
        if fault is not None and fault.kind == "status":
            self._send(fault.status, json.dumps({"error": {"message": f"scripted {fault.status}"}}).encode())
            return
        if fault is not None:
            self._send(200, b'{"choices": [{"message": {"content": "trunc')
            return
        answer = self._answer(messages, model)
        prompt_words = sum(_words(str(message.get("content", ""))) for message in messages)
        reply = {
            "id": "fake-1",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": _words(answer),
                "total_tokens": prompt_words + _words(answer),
            },
        }
        self._send(200, json.dumps(reply).encode())

    def _fault(self, body: dict[str, Any], model: str) -> _Fault | None:
        with self.script.lock:
            self.script.requests.append(body)
            for fault in self.script.faults:
                if fault.model not in (None, model) or fault.remaining == 0:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault
        return None

    def _answer(self, messages: list[dict[str, Any]], model: str) -> str:
        user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
        system = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
        for rule in self.script.rules:
            if rule.model not in (None, model):
                continue
            text = {"user": user, "system": system, "any": f"{system}\n{user}"}[rule.on]
            if rule.pattern.search(text):
                return rule.answer
        return self.default
