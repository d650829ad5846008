"""PromptRegistry speed beside Langfuse's client cache, measured in the same run (issue 7).

    .venv/bin/python benchmarks/client_speed.py [--quick] [--json FILE]

Rows (median and p99, µs):
- cache hit: registry.get() of a held prompt;
- Langfuse cached get_prompt(): the Langfuse Python client (from .venv-peers) in its own process with the same
  timing loop, its prompt served once by a fake Langfuse API on 127.0.0.1 (no other network), then cached;
- render(): guard.render() with a 1 KB untrusted variable (fetch from cache, validate, screen, render);
- uncached fetch: get() of a prompt the client never held, from a running registry on loopback (label + version);
- one GET: a single GET /prompts/{slug}?label=production on a kept-alive connection;
- cold start: a fresh process with the registry down: PromptRegistry(snapshot_dir=...) + first guard.render().

Targets: cache hit faster than Langfuse's cached get_prompt(); cold start no slower than the uncached fetch.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.registry_process import RegistryProcess  # noqa: E402

PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
TEMPLATE = (
    "You are a support agent for ACME. Answer in the customer's language.\nQuestion: {{ question }}\nTier: {{ tier }}"
)
CONTRACT = {
    "question": {"type": "str", "trusted": False, "max_length": 4000},
    "tier": {"type": "enum", "enum": ["gold", "free"]},
}
QUESTION = ("My parcel was supposed to arrive on Monday but the tracking page still shows it in the depot. " * 11)[
    :1000
]


def timings(call: Callable[[], object], rounds: int) -> list[float]:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(rounds):
        started = clock()
        call()
        samples.append((clock() - started) / 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": statistics.median(ordered),
        "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "n": len(ordered),
    }


LANGFUSE_SCRIPT = r"""
import json, statistics, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROMPT = {"name": "support", "version": 1, "prompt": sys.argv[2], "config": {}, "labels": ["production"],
          "tags": [], "type": "text", "commitMessage": None}
hits = []

class Fake(BaseHTTPRequestHandler):
    def do_GET(self):
        hits.append(self.path)
        body = json.dumps(PROMPT).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Fake)
threading.Thread(target=server.serve_forever, daemon=True).start()
from langfuse import Langfuse
client = Langfuse(public_key="pk-lf-bench", secret_key="sk-lf-bench", base_url=f"http://127.0.0.1:{server.server_port}",
                  tracing_enabled=False)
client.get_prompt("support", label="production")
clock = time.perf_counter_ns
samples = []
for _ in range(int(sys.argv[1])):
    started = clock()
    client.get_prompt("support", label="production")
    samples.append((clock() - started) / 1000)
import langfuse
print(json.dumps({"samples": samples, "requests": len(hits), "paths": hits[:3], "version": langfuse.__version__}))
"""

COLD_SCRIPT = r"""
import json, sys, time
from promptward import Guard, PromptRegistry
guard = Guard()
started = time.perf_counter()
registry = PromptRegistry(sys.argv[1], snapshot_dir=sys.argv[2], report_usage=False)
prompt = registry.get("support")
fetched = (time.perf_counter() - started) * 1e6
guard.registry = registry
rendered = guard.render("support", {"question": sys.argv[3], "tier": "gold"})
elapsed = (time.perf_counter() - started) * 1e6
assert rendered.text and rendered.prompt.version == 1 and prompt.ref.variant == "v1", rendered
print(json.dumps({"us": elapsed, "get_us": fetched}))
"""


def langfuse_cached(rounds: int) -> dict[str, Any]:
    if not PEERS_PYTHON.exists():
        return {"error": f"{PEERS_PYTHON} missing; run make peers (langfuse is in benchmarks/peers/requirements.txt)"}
    done = subprocess.run(
        [str(PEERS_PYTHON), "-c", LANGFUSE_SCRIPT, str(rounds), TEMPLATE.replace("{{ ", "{{").replace(" }}", "}}")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {**summary(result.pop("samples")), **result}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from promptward import Guard, PromptRegistry
    from promptward._apikeys import KeyRing
    from promptward._registry.models import LabelTarget
    from promptward._registry.sqlite_store import SQLiteStore

    hits, renders, fetches, colds = (20_000, 500, 30, 8) if args.quick else (200_000, 3000, 100, 20)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = SQLiteStore(folder / "registry.db")
        for slug in ["support"] + [f"other-{i}" for i in range(fetches)]:
            store.create_version(slug, TEMPLATE, CONTRACT, {}, author="bench", message="m")
            store.move_label(slug, "production", [LabelTarget(version=1)], actor="bench", expected_revision=None)
        ring = KeyRing(path=folder / "keys.yaml")
        _, key = ring.create("bench", "reader")
        server = RegistryProcess(f"sqlite:///{folder / 'registry.db'}", folder / "keys.yaml", folder).start()
        snapshot = folder / "snapshot"
        try:
            registry = PromptRegistry(server.url, api_key=key, snapshot_dir=snapshot, usage_interval=3600)
            registry.get("support")
            get = registry.get
            results["cache hit"] = summary(timings(lambda: get("support"), hits))
            guard = Guard(registry=registry)
            values = {"question": QUESTION, "tier": "gold"}
            assert not guard.render("support", values).blocked
            results["render() 1 KB untrusted"] = summary(timings(lambda: guard.render("support", values), renders))

            # A prompt the client has never held: label + version, two GETs on a kept-alive connection.
            slugs = iter([f"other-{i}" for i in range(fetches)])
            fetching = PromptRegistry(server.url, api_key=key, report_usage=False)
            fetching.get("support")  # the connection is open, as in a running service
            uncached = timings(lambda: fetching.get(next(slugs)), fetches)
            fetching.close()
            results["uncached fetch (label + version)"] = summary(uncached)
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as http:
                http.get("/prompts/support", params={"label": "production"}).raise_for_status()
                one = timings(lambda: http.get("/prompts/support", params={"label": "production"}), fetches)
                results["one GET /prompts/support?label= (kept-alive)"] = summary(one)
            registry.close()
            assert (snapshot / "support.json").exists()
        finally:
            server.stop()
            store.close()
        dead = f"http://127.0.0.1:{free_port()}"
        cold, cold_get = [], []
        for _ in range(colds):
            done = subprocess.run(
                [sys.executable, "-c", COLD_SCRIPT, dead, str(snapshot), QUESTION],
                capture_output=True,
                text=True,
                check=True,
            )
            answer = json.loads(done.stdout.strip().splitlines()[-1])
            cold.append(answer["us"])
            cold_get.append(answer["get_us"])
        results["cold start from snapshot, registry down (new process: PromptRegistry() + get())"] = summary(cold_get)
        results["cold start from snapshot, registry down (new process: ... + first render())"] = summary(cold)
    results["Langfuse cached get_prompt()"] = langfuse_cached(hits)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    results = measure(args)
    print(f"{'measure':<72} {'median µs':>10} {'p99 µs':>10} {'n':>8}")
    for name, row in results.items():
        if "error" in row:
            print(f"{name:<72} {'n/a: ' + row['error']}")
        else:
            print(f"{name:<72} {row['median_us']:>10.2f} {row['p99_us']:>10.2f} {row['n']:>8}")
    status = 0
    hit, peer = results["cache hit"], results["Langfuse cached get_prompt()"]
    if "error" not in peer:
        ratio = peer["median_us"] / hit["median_us"]
        ok = hit["median_us"] < peer["median_us"]
        print(f"{'PASS' if ok else 'MISS'} cache hit {ratio:.1f}x faster than Langfuse's cached get_prompt() (median)")
        print(f"     Langfuse {peer.get('version')} made {peer.get('requests')} request(s) to the fake API")
        status |= not ok
    else:
        print("MISS Langfuse could not be measured: " + peer["error"])
        status = 1
    cold = results["cold start from snapshot, registry down (new process: ... + first render())"]
    fetch = results["uncached fetch (label + version)"]
    ok = cold["median_us"] <= fetch["median_us"]
    print(
        f"{'PASS' if ok else 'MISS'} cold start from snapshot {cold['median_us']:.0f} µs vs uncached fetch "
        f"{fetch['median_us']:.0f} µs (median)"
    )
    status |= not ok
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
