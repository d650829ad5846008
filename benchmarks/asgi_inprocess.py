"""Where a guarded request's time goes, without a server: the apps of asgi_throughput.py called directly.

Each request is the benchmark's 1 KB JSON body handed over by an in-memory `receive`, the answer taken by
an in-memory `send`. Variants run in interleaved rounds; the medians of the rounds are reported, in
microseconds a request:

  bare            the Starlette app alone
  ready-decision  GuardMiddleware around a guard that returns a ready decision: the middleware's own cost
  guard-static    GuardMiddleware with a StaticGuard (no rules)
  guard-nosink    GuardMiddleware with the built-in packs, no records
  guard           GuardMiddleware with the built-in packs and the JSONL sink
  basehttp        the same screening in a BaseHTTPMiddleware

    python benchmarks/asgi_inprocess.py [--rounds 15] [--requests 200]

Under a server every part costs more (its own code keeps the caches cold); asgi_throughput.py measures that.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import asgi_throughput

BODY = asgi_throughput.BODY.encode()
HEADERS = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]


def build(variant: str, records: Path) -> Any:
    from promptward import Guard
    from promptward.asgi import GuardMiddleware, Route

    if variant != "guard-nosink":
        return asgi_throughput.build_app("guard-ready" if variant == "ready-decision" else variant, records)
    app = asgi_throughput.build_app("bare", records)
    return GuardMiddleware(app, guard=Guard(), routes=[Route("/ask", fields=asgi_throughput.FIELDS)])


async def request(app: Any) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/ask",
        "raw_path": b"/ask",
        "query_string": b"",
        "root_path": "",
        "headers": list(HEADERS),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    delivered = False
    status = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status != [200]:
        raise SystemExit(f"the benchmark body should pass every variant; got {status}")


async def measure(apps: dict[str, Any], rounds: int, requests: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            started = time.perf_counter()
            for _ in range(requests):
                await request(app)
            times[name].append((time.perf_counter() - started) / requests * 1e6)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=200, help="requests of one variant in one round")
    args = parser.parse_args()
    variants = ("bare", "ready-decision", "guard-static", "guard-nosink", "guard", "basehttp")
    with tempfile.TemporaryDirectory() as tmp:
        apps = {variant: build(variant, Path(tmp) / "decisions.jsonl") for variant in variants}
        gc.freeze()  # the compiled packs out of the collector's way, as a long-running service would do
        medians = asyncio.run(measure(apps, args.rounds, args.requests))
    print(
        f"in-process, {len(BODY)} B JSON body, {args.rounds} interleaved rounds x {args.requests} requests, medians\n"
    )
    print("| variant | µs a request | over bare |")
    print("| --- | ---: | ---: |")
    for name, value in medians.items():
        print(f"| {name} | {value:.1f} | {value - medians['bare']:+.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
