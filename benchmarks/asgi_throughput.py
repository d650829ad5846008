"""Requests per second of an ASGI app bare, behind GuardMiddleware, and behind a BaseHTTPMiddleware guard.

Same run, same machine, loopback, uvicorn with one worker, wrk as the load generator, a 1 KB benign JSON
body (so every variant reaches the app). Variants run in interleaved rounds and the medians are reported:

  bare            the Starlette app alone
  guard           GuardMiddleware(app) with the built-in packs and the JSONL sink
  guard-static    GuardMiddleware(app) with a StaticGuard: the middleware's own cost, without the scan
  basehttp        the same screening done in a BaseHTTPMiddleware (what most tutorials do)
  guard-ready     GuardMiddleware(app) with a guard that returns a ready decision: screening for free
  basehttp-ready  the BaseHTTPMiddleware with that guard

The last two bound the targets: no guard can make GuardMiddleware faster than guard-ready, and, as both
variants pay for the same screening, no middleware can be more times faster than basehttp than
basehttp-ready is slower than bare.

Targets (DESIGN.md section 7): guard >= 80% of bare's requests per second, and >= 3x basehttp's.

    python benchmarks/asgi_throughput.py [--seconds 5] [--rounds 3] [--connections 32]

Exit codes: 0 all targets met, 1 a target missed, 2 wrk is missing (install it: apt-get install -y wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VARIANTS = ("bare", "guard", "guard-static", "basehttp", "guard-ready", "basehttp-ready")
FIELDS = ["/question", "/context/*/text"]
QUESTION = (
    "Could you help me plan a three day trip to Lisbon in early spring? I would like to see the old town, "
    "ride the historic tram, and try some local pastries. "
)
CONTEXT = "Lisbon is the capital of Portugal, known for its hills, tiled facades and the Tagus river. " * 3
BODY = json.dumps({"question": QUESTION, "context": [{"text": CONTEXT} for _ in range(3)], "user": "u-1"})
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
"""


def build_app(variant: str, records: Path) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route as HttpRoute

    async def ask(request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"answer": "ok", "chars": len(body.get("question", ""))})

    app = Starlette(routes=[HttpRoute("/ask", ask, methods=["POST"])])
    if variant == "bare":
        return app
    from promptward import Guard
    from promptward._records import JsonlSink
    from promptward.asgi import GuardMiddleware, Route

    if variant == "guard-static":
        from promptward.testing import StaticGuard

        return GuardMiddleware(app, guard=StaticGuard(), routes=[Route("/ask", fields=FIELDS)])
    if variant == "guard-ready":
        return GuardMiddleware(app, guard=ReadyDecision(), routes=[Route("/ask", fields=FIELDS)])
    if variant == "basehttp-ready":
        return basehttp_guard(app, ReadyDecision())
    guard = Guard(sink=JsonlSink(records))
    if variant == "guard":
        return GuardMiddleware(app, guard=guard, routes=[Route("/ask", fields=FIELDS)])
    return basehttp_guard(app, guard)


class ReadyDecision:
    """A guard whose every check is the same ready decision: a screening that costs nothing, to show the
    most a middleware around this app can reach."""

    mode = "enforce"
    fail_mode = "closed"

    def __init__(self) -> None:
        from promptward import Action, Decision

        self.decision = Decision(id="0" * 16, action=Action.ALLOW, findings=(), packs=())

    async def acheck_fields(self, fields: Any, *, prompt: Any = None) -> Any:
        return self.decision


def basehttp_guard(app: Any, guard: Any) -> Any:
    """The tutorial way: BaseHTTPMiddleware reads the body, screens the same fields, blocks or redacts."""
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.responses import JSONResponse

    from promptward._asgi_fields import json_hits, parse_fields

    specs = parse_fields(FIELDS)

    async def screen(request: Any, call_next: Any) -> Any:
        if request.url.path != "/ask" or request.method != "POST":
            return await call_next(request)
        document = json.loads(await request.body())
        hits = json_hits(document, specs)
        decision = await guard.acheck_fields({hit.field: hit.text for hit in hits}) if hits else None
        if decision is not None and decision.blocked:
            return JSONResponse({"decision_id": decision.id}, status_code=403)
        return await call_next(request)

    return BaseHTTPMiddleware(app, dispatch=screen)


def serve(variant: str, port: int, records: str) -> None:
    import uvicorn

    uvicorn.run(build_app(variant, Path(records)), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


def run_wrk(port: int, seconds: int, connections: int, script: Path, cpu: set[int] | None) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    command.append(f"http://127.0.0.1:{port}/ask")
    out = subprocess.run(command, check=True, capture_output=True, text=True, preexec_fn=_pin(cpu)).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"port {port}: {errors[1]} non-2xx answers; the body should pass every variant\n{out}")
    return {"rps": rps, "p50": _latency(out, "50%"), "p99": _latency(out, "99%")}


def _latency(out: str, label: str) -> float:
    value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _pin(cpu: set[int] | None) -> Any:
    return None if cpu is None else (lambda: os.sched_setaffinity(0, cpu))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration of one round of one variant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--records", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.records)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), then run this again", file=sys.stderr)
        return 2
    # Two CPUs or more: the server gets one, wrk another, so they do not fight over a core.
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, wrk_cpu = ({cpus[-1]}, {cpus[0]}) if len(cpus) >= 2 else (None, None)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(LUA % BODY)
        ports = {variant: free_port() for variant in VARIANTS}
        records = Path(tmp) / "decisions.jsonl"
        servers = [
            subprocess.Popen(
                [sys.executable, __file__, "--serve", v, "--port", str(p), "--records", str(records)],
                preexec_fn=_pin(server_cpu),
            )
            for v, p in ports.items()
        ]
        try:
            for port in ports.values():
                wait_ready(port)
            for port in ports.values():  # warm-up: imports, caches, the first connections
                run_wrk(port, 1, args.connections, script, wrk_cpu)
            results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
            for _ in range(args.rounds):
                for variant, port in ports.items():
                    results[variant].append(run_wrk(port, args.seconds, args.connections, script, wrk_cpu))
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                server.wait(10)
        from promptward._records import JsonlSink

        # The sink rotates at 50 MB: count the backups too (the oldest beyond five are gone).
        lines = sum(1 for path in JsonlSink(records).files() for _ in path.open())
    return report(results, args, lines)


def report(results: dict[str, list[dict[str, float]]], args: argparse.Namespace, lines: int) -> int:
    median = {
        v: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")} for v, runs in results.items()
    }
    bare = median["bare"]["rps"]
    print(
        f"uvicorn 1 worker, wrk -t1 -c{args.connections}, {len(BODY)} B JSON body, "
        f"{args.rounds} interleaved rounds x {args.seconds:g} s, medians\n"
    )
    print("| variant | requests/s | p50 ms | p99 ms | vs bare |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for variant, m in median.items():
        print(f"| {variant} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['rps'] / bare:.0%} |")
    of_bare = median["guard"]["rps"] / bare
    of_base = median["guard"]["rps"] / median["basehttp"]["rps"]
    checks = [
        (f"GuardMiddleware at {of_bare:.0%} of the bare app (target >= 80%)", of_bare >= 0.80),
        (f"GuardMiddleware at {of_base:.2f}x the BaseHTTPMiddleware guard (target >= 3x)", of_base >= 3.0),
    ]
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'MISS'}  {text}")
    static = median["guard-static"]["rps"] / bare
    print(f"info  the middleware alone (StaticGuard, no scan) runs at {static:.0%} of the bare app")
    ready = median["guard-ready"]["rps"] / bare
    ceiling = bare / median["basehttp-ready"]["rps"]
    print(f"info  with screening for free: GuardMiddleware at {ready:.0%} of the bare app (the most any guard allows)")
    print(f"info  with screening for free: BaseHTTPMiddleware {ceiling:.2f}x slower than the bare app (the most")
    print("      any middleware could gain on it, since both pay for the same screening)")
    print(f"info  {lines} decision records in the JSONL sink and its backups (guard and basehttp variants)")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
