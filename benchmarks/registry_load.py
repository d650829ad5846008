"""Throughput of the registry server against a bare Starlette endpoint, measured in the same run.

    python benchmarks/registry_load.py [--duration 3] [--rounds 5] [--connections 32] [--json FILE] [--strict]
                                       [--client wrk|httpx]

Each server is its own uvicorn process with one worker on 127.0.0.1 (access log off, the same settings for
both), and the store is SQLite in a temporary folder holding one prompt with a contract and a `production`
label. The load generator is `wrk` on loopback when installed (`apt-get install wrk`), otherwise an httpx
async client with bounded concurrency (which is itself the bottleneck; the ratios are then conservative).
Scenarios, each for --duration seconds, interleaved over --rounds rounds so that noise hits them alike:

  bare     GET /  on a bare Starlette app: JSONResponse of a fixed dict rendering to the same size as `fetch`
  fetch    GET /prompts/greet?label=production with an API key: auth, the label (the server reuses it until
           SQLite's `PRAGMA data_version`, checked on every request, shows a commit), the rollout resolved,
           the version (immutable, memoised as JSON) answered in full with its ETag
  304      the same request with If-None-Match: the same checks, nothing is serialised
  move     PUT /prompts/greet/labels/production alternating v1/v2 without If-Match (every request writes a
           label revision, a label event and an audit entry in one SQLite transaction)

It prints requests per second (the median over rounds), p50 and p99 latency (wrk's, of the median round),
and the ratio against bare: each round's figure over that round's bare figure, the median over rounds (the
machine's speed drifting between rounds then cancels out). With 2+ CPUs the server is pinned to the last CPU
and wrk to the first (PW_BENCH_NO_PIN=1 turns that off). It also reads each server's CPU time from /proc and
prints CPU µs per request, which a busy machine disturbs less than req/s (bare CPU / scenario CPU is printed
beside each ratio). Targets: fetch >= 50% of bare, 304 >= 75% of bare (req/s ratio).
The exit code is 0 (it is a report) unless --strict is given and a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLUG, LABEL = "greet", "production"
FETCH = f"/prompts/{SLUG}?label={LABEL}"
MOVE = f"/prompts/{SLUG}/labels/{LABEL}"
TARGETS = {"fetch": 0.50, "304": 0.75}
SCENARIOS = ("bare", "fetch", "304", "move")
TEMPLATE = [
    {
        "role": "system",
        "content": "You are a careful travel assistant. Answer in a {{ tone }} voice, in at most "
        "{{ words }} words, and never invent opening hours, prices or addresses you were not given.",
    },
    {"role": "user", "content": "Plan one day in {{ city }} for someone who likes {{ interests }}."},
]
CONTRACT = {
    "city": {"type": "str", "max_length": 80, "trusted": False, "description": "destination city"},
    "interests": {"type": "list[str]", "max_length": 10, "trusted": False},
    "tone": {"type": "enum", "enum": ["warm", "dry", "formal"], "required": False, "default": "warm"},
    "words": {"type": "int", "required": False, "default": 200},
}
CONFIG = {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.3, "max_tokens": 600}}


# -- the two servers (run in child processes) --------------------------------------------------------------


def bare_app(size: int) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    empty = len(json.dumps({"pad": ""}, ensure_ascii=False, separators=(",", ":")).encode())
    body = {"pad": "x" * max(0, size - empty)}

    async def endpoint(request: Any) -> JSONResponse:
        return JSONResponse(body)

    return Starlette(routes=[Route("/", endpoint)])


def registry_app(folder: Path) -> Any:
    from promptward._apikeys import KeyRing
    from promptward._registry.sqlite_store import SQLiteStore
    from promptward.server import create_registry_app

    return create_registry_app(SQLiteStore(folder / "registry.db"), keys=KeyRing.load(folder / "keys.yaml"))


def serve(kind: str, folder: Path, port: int, size: int) -> None:
    import uvicorn

    server_cpu, _ = cpus()
    if server_cpu is not None:
        os.sched_setaffinity(0, {server_cpu})
    app = bare_app(size) if kind == "bare" else registry_app(folder)
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


# -- setup and the load generators -------------------------------------------------------------------------


def cpus() -> tuple[int | None, int | None]:
    """(server CPU, load generator CPU): the server on the last CPU, the generator on the first, if 2+."""
    if not hasattr(os, "sched_getaffinity") or os.environ.get("PW_BENCH_NO_PIN"):
        return None, None
    available = sorted(os.sched_getaffinity(0))
    return (available[-1], available[0]) if len(available) >= 2 else (None, None)


def _pin_generator() -> None:
    _, generator_cpu = cpus()
    if generator_cpu is not None:
        os.sched_setaffinity(0, {generator_cpu})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(kind: str, folder: Path, size: int = 0) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    args = [
        sys.executable,
        __file__,
        "--serve",
        kind,
        "--folder",
        str(folder),
        "--port",
        str(port),
        "--size",
        str(size),
    ]
    process = subprocess.Popen(args)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/", timeout=1)
            return process, url
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit(f"the {kind} server did not start") from None
            time.sleep(0.1)


def seed(folder: Path) -> str:
    """One prompt with a contract, two versions and a production label; returns the admin key."""
    from promptward._apikeys import KeyRing
    from promptward._registry.sqlite_store import SQLiteStore

    key = KeyRing.load(folder / "keys.yaml").create("bench", "admin")[1]
    store = SQLiteStore(folder / "registry.db")
    store.create_version(SLUG, TEMPLATE, CONTRACT, CONFIG, author="bench", message="first")
    second = [TEMPLATE[0], {**TEMPLATE[1], "content": TEMPLATE[1]["content"] + " Keep it walkable."}]
    store.create_version(SLUG, second, CONTRACT, CONFIG, author="bench", message="walkable")
    store.move_label(SLUG, LABEL, [_target(1)], actor="bench", expected_revision=None)
    store.close()
    return key


def _target(version: int) -> Any:
    from promptward._registry.models import LabelTarget

    return LabelTarget(version=version, weight=100)


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_us: float | None = None  # the server process's CPU time per request (user + system)


def process_cpu(pid: int) -> float | None:
    """CPU seconds a process has used, from /proc (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


LUA_MOVE = """
local n = 0
request = function()
  n = n + 1
  return wrk.format("PUT", "%s", {["X-API-Key"] = "%s", ["Content-Type"] = "application/json"},
                    '{"version":' .. (n %% 2 + 1) .. '}')
end
"""


def run_wrk(url: str, path: str, headers: dict[str, str], args: argparse.Namespace, lua: str | None) -> Result:
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    script: str | None = None
    if lua:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
            handle.write(lua)
        script = handle.name
        command += ["-s", script]
    try:
        out = subprocess.run(
            [*command, url + path], capture_output=True, text=True, check=True, preexec_fn=_pin_generator
        ).stdout
    finally:
        if script:
            os.unlink(script)
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.M))
    if set(percentiles) != {"50", "99"}:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Result(rps, _ms(percentiles["50"]), _ms(percentiles["99"]), total, errors)


def run_httpx(url: str, path: str, headers: dict[str, str], args: argparse.Namespace, move_key: str | None) -> Result:
    import httpx

    async def main() -> Result:
        latencies: list[float] = []
        errors = 0
        limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=10) as client:
            deadline = time.perf_counter() + args.duration
            counter = 0

            async def worker() -> None:
                nonlocal errors, counter
                while time.perf_counter() < deadline:
                    counter += 1
                    started = time.perf_counter()
                    if move_key:
                        response = await client.put(path, json={"version": counter % 2 + 1})
                    else:
                        response = await client.get(path)
                    latencies.append(time.perf_counter() - started)
                    errors += response.status_code >= 400

            begun = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(args.connections)))
            elapsed = time.perf_counter() - begun
        latencies.sort()
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
        return Result(len(latencies) / elapsed, pick(0.50), pick(0.99), len(latencies), errors)

    return asyncio.run(main())


# -- the run -----------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    if args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install wrk); use --client httpx")
    folder = Path(tempfile.mkdtemp(prefix="pw-registry-load-"))
    key = seed(folder)
    registry, registry_url = start("registry", folder)
    auth = {"X-API-Key": key}
    try:
        first = httpx.get(registry_url + FETCH, headers=auth)
        first.raise_for_status()
        size, etag = len(first.content), first.headers["etag"]
        bare, bare_url = start("bare", folder, size)
        try:
            assert len(httpx.get(bare_url + "/").content) == size
            plans: dict[str, tuple[str, str, dict[str, str], str | None, int]] = {
                "bare": (bare_url, "/", {}, None, bare.pid),
                "fetch": (registry_url, FETCH, auth, None, registry.pid),
                "304": (registry_url, FETCH, {**auth, "If-None-Match": etag}, None, registry.pid),
                "move": (registry_url, MOVE, auth, LUA_MOVE % (MOVE, key), registry.pid),
            }
            rounds: dict[str, list[Result]] = {name: [] for name in SCENARIOS}
            for number in range(args.rounds):
                for name in SCENARIOS:
                    url, path, headers, lua, pid = plans[name]
                    cpu_before = process_cpu(pid)
                    if use_wrk:
                        result = run_wrk(url, path, headers, args, lua)
                    else:
                        move_headers = {**headers, "Content-Type": "application/json"} if lua else headers
                        result = run_httpx(url, path, move_headers, args, key if lua else None)
                    cpu_after = process_cpu(pid)
                    if cpu_before is not None and cpu_after is not None and result.requests:
                        result.cpu_us = (cpu_after - cpu_before) / result.requests * 1e6
                    rounds[name].append(result)
                    print(f"round {number + 1} {name:>5}: {result.rps:9.0f} req/s", file=sys.stderr)
        finally:
            bare.terminate()
            bare.wait(10)
    finally:
        registry.terminate()
        registry.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    summary: dict[str, Any] = {}
    for name, results in rounds.items():
        middle = sorted(results, key=lambda r: r.rps)[len(results) // 2]
        summary[name] = {
            "rps": statistics.median(r.rps for r in results),
            "p50_ms": middle.p50_ms,
            "p99_ms": middle.p99_ms,
            "requests": sum(r.requests for r in results),
            "errors": sum(r.errors for r in results),
            "rps_rounds": [round(r.rps) for r in results],
            # Each round's figure over the same round's bare figure, so that a machine slowing down or speeding
            # up between rounds does not skew the ratio; the median over rounds is reported.
            "ratio_vs_bare": statistics.median(r.rps / b.rps for r, b in zip(results, rounds["bare"], strict=True)),
            # Server CPU per request: steadier than req/s on a shared machine, as it ignores time spent waiting.
            "cpu_us_per_request": statistics.median(r.cpu_us for r in results) if results[0].cpu_us else None,
        }
    server_cpu, generator_cpu = cpus()
    return {
        "client": "wrk (1 thread)" if use_wrk else "httpx async client",
        "pinned": f"server on CPU {server_cpu}, load generator on CPU {generator_cpu}"
        if server_cpu is not None
        else None,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "body_bytes": size,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "scenarios": summary,
    }


def cpu_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(data: dict[str, Any]) -> bool:
    scenarios = data["scenarios"]
    print(
        f"registry under load: {data['client']}, {data['connections']} connections, {data['rounds']} rounds x "
        f"{data['duration_s']} s, uvicorn 1 worker, SQLite, body {data['body_bytes']} B, {data['cpus']} CPUs"
        + (f" ({data['pinned']})" if data["pinned"] else "")
    )
    print(f"{'scenario':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8} {'errors':>7} {'CPU µs/req':>11}")
    for name in SCENARIOS:
        row = scenarios[name]
        print(
            f"{name:<8} {row['rps']:9.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
            f"{row['ratio_vs_bare']:8.0%} {row['errors']:7d} {cpu_text(row['cpu_us_per_request']):>11}"
        )
    passed = True
    for name, target in TARGETS.items():
        ratio = scenarios[name]["ratio_vs_bare"]
        ok = ratio >= target and scenarios[name]["errors"] == 0
        passed &= ok
        cpu, bare_cpu = scenarios[name]["cpu_us_per_request"], scenarios["bare"]["cpu_us_per_request"]
        by_cpu = f"; by server CPU per request: {bare_cpu / cpu:.0%}" if cpu and bare_cpu else ""
        print(f"{'PASS' if ok else 'MISS'} {name}: {ratio:.0%} of bare req/s (target >= {target:.0%}){by_cpu}")
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=3, help="seconds per scenario and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--json", type=Path, help="also write the results to FILE")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--serve", choices=["bare", "registry"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.folder, args.port, args.size)
        return 0
    data = measure(args)
    passed = report(data)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
