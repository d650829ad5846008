"""`make demo`, part two: the production story end to end, on 127.0.0.1 only, in a throw-away folder.

A registry server (`promptward serve`, SQLite) in a subprocess; prompt `support-answer` v1 and v2 with a 90/10
rollout; a chat service (Starlette, uvicorn in a thread) behind GuardMiddleware, whose prompt route renders
the version each user gets through Guard(registry=PromptRegistry(...)); attacks, PII, a secret and a contract
violation; a full move, two rollbacks, the registry
going down, a cold start from the snapshot, and the decision statistics per prompt version. Every process and
file it creates is removed on exit, Ctrl-C included.

    python -m promptward.demo_service
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from ._apikeys import KeyRing
from ._demo_story import (
    CONTRACT,
    INJECTION,
    PII,
    SECRET,
    SLUG,
    TEMPLATE_V1,
    TEMPLATE_V2,
    LogTap,
    RegistryServer,
    ThreadedServer,
    chat_app,
    sigterm_as_exit,
    targets_text,
    traffic_table,
    wait_until,
)
from ._guard import Guard
from ._registry.client import PromptRegistry
from ._registry.snapshot import Snapshot
from ._stats import decision_stats, read_sink

# frank's rollout bucket is 97.1: he is in v2's 10%; alice (68.5) and bob (63.3) are in v1's 90%.
QUESTIONS = {"alice": "Where is my invoice?", "bob": "Do you ship to Norway?", "frank": "Is there a student plan?"}
RAW = {"e-mail": "jane.roe@example.com", "card": "4111 1111 1111 1111", "key": SECRET, "attack": INJECTION}


class Story:
    def __init__(self, console: Console, stack: contextlib.ExitStack) -> None:
        self.out, self.stack = console, stack
        self.tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="promptward-demo-")))
        self.tap = LogTap()
        logging.getLogger("promptward").addHandler(self.tap)
        stack.callback(logging.getLogger("promptward").removeHandler, self.tap)

    def step(self, number: int, title: str) -> None:
        self.out.rule(f"[bold]{number}. {title}")

    # -- 1. the registry --------------------------------------------------------------------------------------

    def start_registry(self) -> None:
        self.step(1, "Registry server: `promptward serve` with a SQLite store")
        self.out.print(f"workspace: {self.tmp} (removed at exit)")
        keys = self.tmp / "promptward-keys.yaml"
        entry, self.key = KeyRing.load(keys).create("demo-admin", "admin")
        self.out.print(f"$ promptward keys create demo-admin --role admin   -> pw_{entry.id}_… (stored hashed)")
        self.server = RegistryServer(f"sqlite:///{self.tmp / 'registry.db'}", keys, self.tmp / "registry.log")
        self.stack.callback(self.server.stop)
        started = time.monotonic()
        self.server.start()
        assert self.server.process is not None
        self.out.print(
            f"$ promptward serve --store sqlite:///…/registry.db --port {self.server.port}   -> "
            f"pid {self.server.process.pid}, /health ok in {time.monotonic() - started:.1f} s"
        )
        self.api = httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=10)
        self.stack.callback(self.api.close)

    def call(self, method: str, path: str, **options: Any) -> Any:
        response = self.api.request(method, f"/prompts/{SLUG}{path}", **options)
        response.raise_for_status()
        return response.json()

    # -- 2. versions, labels, a rollout -----------------------------------------------------------------------

    def publish(self) -> None:
        self.step(2, "Prompt `support-answer`: v1, label production, v2 rolled out to 10%")
        body = {"template": TEMPLATE_V1, "contract": CONTRACT, "message": "first version"}
        v1 = self.call("POST", "/versions", json=body)
        self.out.print(f"POST /prompts/{SLUG}/versions  -> v{v1['version']} sha256 {v1['sha256'][:12]}…")
        self.out.print("  contract: question str, trusted: false, max_length 2000; tier enum gold|silver, trusted")
        label = self.call("PUT", "/labels/production", json={"version": 1})
        self.out.print(
            f"PUT  labels/production {{version: 1}} -> r{label['revision']}: {targets_text(label['targets'])}"
        )
        body = {"template": TEMPLATE_V2, "contract": CONTRACT, "message": "shorter answers, cite the article"}
        v2 = self.call("POST", "/versions", json=body)
        self.out.print(f"POST /prompts/{SLUG}/versions  -> v{v2['version']} ({v2['message']})")
        targets = [{"version": 1, "weight": 90.0}, {"version": 2, "weight": 10.0}]
        label = self.call("PUT", "/labels/production", json={"targets": targets})
        self.out.print(f"PUT  labels/production (rollout)   -> r{label['revision']}: {targets_text(label['targets'])}")
        diff = self.call("GET", "/diff", params={"from": 1, "to": 2})
        self.out.print("GET  diff?from=1&to=2 (contract and config unchanged):")
        for line in diff["template"].splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            self.out.print(f"  {line}", style=style, markup=False, highlight=False)

    # -- 3. the chat service ----------------------------------------------------------------------------------

    def start_service(self) -> None:
        self.step(3, "Chat service: Starlette POST /chat behind GuardMiddleware, uvicorn in a thread")
        self.snapshot_dir = self.tmp / "snapshot"
        self.registry = PromptRegistry(
            self.server.url, api_key=self.key, snapshot_dir=self.snapshot_dir, ttl=2.0, watch=True
        )
        self.stack.callback(self.registry.close)
        self.sink = f"jsonl:{self.tmp / 'decisions.jsonl'}"
        self.guard = Guard(registry=self.registry, sink=self.sink)
        self.stack.callback(self.guard.close)
        app = ThreadedServer(chat_app(self.guard))
        self.stack.callback(app.stop)
        app.start()
        self.chat = httpx.Client(base_url=app.url, timeout=10)
        self.stack.callback(self.chat.close)
        self.out.print(f"chat service on {app.url}/chat (Starlette, uvicorn in a thread, no model call)")
        for line in (
            "guard = Guard(registry=PromptRegistry(url, snapshot_dir=…, ttl=2, watch=True), sink='jsonl:…')",
            f"GuardMiddleware(app, guard=guard, routes=[Route('/chat', fields=['/question'], prompt='{SLUG}', …)])",
            "the middleware picks the version for X-User-Id, checks the contract, screens `question` and renders;",
            "the app answers from request.state.promptward.rendered",
        ):
            self.out.print(f"  {line}", markup=False, highlight=False)

    def ask(self, user: str, question: str, tier: str = "gold") -> dict[str, Any]:
        response = self.chat.post("/chat", json={"question": question, "tier": tier}, headers={"X-User-Id": user})
        data = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        row: dict[str, Any] = {"user": user, "status": response.status_code, **data}
        if response.status_code == 200 and "version" in data:
            row["served"] = f"v{data['version']}"
        elif "decision_id" in data:  # refused: the client gets only a decision id; the decision log says why
            row |= self.lookup(data["decision_id"])
        elif response.status_code == 422:  # the contract, enforced before the app runs
            row |= {"served": "-", "action": "422", "rules": [e["message"] for e in data.get("errors", [])]}
        else:
            raise RuntimeError(f"POST /chat answered {response.status_code}: {response.text[:500]}")
        return row

    def lookup(self, decision_id: str) -> dict[str, Any]:
        assert self.guard.records is not None
        self.guard.records.flush()
        for record in read_sink(self.sink):
            if record["decision_id"] == decision_id:
                version = (record.get("prompt") or {}).get("version")
                rules = sorted({f["rule_id"] for f in record["findings"]})
                return {"served": f"v{version} (not sent)", "action": record["action"], "rules": rules}
        return {"served": "?", "action": "?", "rules": []}

    def table(self, rows: list[dict[str, Any]], title: str) -> None:
        self.out.print(f"[bold]{title}[/]")
        self.out.print(traffic_table(rows))

    # -- 4. traffic -------------------------------------------------------------------------------------------

    def traffic(self) -> None:
        self.step(4, "Traffic from several users (real HTTP)")
        rows = [
            self.ask("alice", "How do I reset my password?"),
            self.ask("bob", "Can I change the delivery address of order 1182?", "silver"),
            self.ask("frank", "What are your opening hours on Sunday?"),
            self.ask("mallory", INJECTION),
            self.ask("carol", PII, "silver"),
            self.ask("dave", f"My key stopped working: {SECRET}"),
            self.ask("oscar", "Any discounts for me?", "platinum"),
        ]
        self.table(rows, "production = v1 90% / v2 10% (bucket < 90 -> v1)")
        self.out.print(f"carol sent:            {PII}", markup=False, highlight=False)
        user_message = rows[4]["messages"][-1]["content"]
        self.out.print(f"the app got to send:   {user_message}", markup=False, highlight=False)
        system = rows[2]["messages"][0]["content"].splitlines()[0]
        self.out.print(f"frank's system prompt: {system}", markup=False, highlight=False)

    # -- 5. full move, rollbacks, history ---------------------------------------------------------------------

    def move(self, method: str, path: str, body: Any, watch_user: str, expect: int) -> None:
        subscribed = wait_until(lambda: self.registry.subscribed, timeout=5.0) is not None
        label = self.call(method, path, json=body)
        took = wait_until(lambda: self.registry.get(SLUG, unit_id=watch_user).version == expect, timeout=10.0)
        how = "push over /events" if subscribed else "TTL revalidation"
        seen = "not seen in 10 s" if took is None else f"the client had it {took * 1000:.0f} ms later ({how})"
        self.out.print(f"{method} {path} -> r{label['revision']}: {targets_text(label['targets'])}; {seen}")
        self.label_revision = int(label["revision"])

    def lifecycle(self) -> None:
        self.step(5, "Move production to v2, then roll back (rollbacks stack like undo)")
        self.move("PUT", "/labels/production", {"version": 2}, "alice", 2)
        self.table([self.ask(u, q) for u, q in QUESTIONS.items()], "production = v2 100%")
        self.move("POST", "/labels/production/rollback", None, "alice", 1)
        self.out.print("rolled back once: production is back on the 90/10 rollout")
        self.move("POST", "/labels/production/rollback", None, "frank", 1)
        self.out.print("rolled back again: production -> v1 for everyone")
        self.table([self.ask(u, q) for u, q in QUESTIONS.items()], "production = v1 100% (rolled back)")
        self.out.print("[bold]GET labels/production/history[/]")
        history = Table()
        for column in ("rev", "action", "from", "to", "actor"):
            history.add_column(column)
        for event in self.call("GET", "/labels/production/history")["items"]:
            row = (event["action"], targets_text(event["from_targets"]), targets_text(event["to_targets"]))
            history.add_row(f"r{event['revision']}", *row, event["actor"])
        self.out.print(history)

    # -- 6. the registry goes down ----------------------------------------------------------------------------

    def outage(self) -> None:
        self.step(6, "The registry goes down")
        snapshot = Snapshot(self.snapshot_dir)

        def snapshot_current() -> bool:
            labels = [label for entry in snapshot.load() for label, _ in entry.labels if label.name == "production"]
            return any(label.revision == self.label_revision for label in labels)

        wait_until(snapshot_current, timeout=5.0)
        self.out.print(f"snapshot on disk: {sorted(p.name for p in self.snapshot_dir.glob('*.json'))}")
        assert self.server.process is not None
        pid = self.server.process.pid
        self.server.stop()
        state = "still answers?!" if self.server.healthy() else "connection refused"
        self.out.print(f"[bold]registry stopped[/] (pid {pid}); GET /health: {state}")
        time.sleep(2.2)  # past the client's 2 s TTL: the next requests make it try the registry, and fail
        rows = [self.ask(user, "Can I pay by bank transfer?") for user in ("alice", "bob", "frank")]
        wait_until(lambda: bool(self.tap.lines), timeout=3.0)
        rows += [self.ask(user, "Can I pay by bank transfer?") for user in ("grace", "erin")]
        self.table(rows, "served from the client's memory cache while the registry is unreachable")
        for line in self.tap.take():
            self.out.print(f"  client log: {line}", style="dim", markup=False, highlight=False)
        cold = PromptRegistry(self.server.url, api_key=self.key, snapshot_dir=self.snapshot_dir, report_usage=False)
        self.stack.callback(cold.close)
        resolved = cold.get(SLUG, unit_id="grace")
        rendered = Guard(registry=cold).render(SLUG, {"question": "Hello?", "tier": "gold"}, unit_id="grace")
        self.out.print(
            f"cold start while the registry is down: a fresh PromptRegistry(url, snapshot_dir=…)\n"
            f"  get() -> {resolved.ref.slug} v{resolved.version} [bold]served from {resolved.origin}[/]; "
            f"Guard(registry=…).render() -> {rendered.decision.action.value}, {len(rendered.messages or [])} messages"
        )

    # -- 7. decision statistics -------------------------------------------------------------------------------

    def stats(self) -> None:
        self.step(7, "Decision records: statistics per prompt version")
        assert self.guard.records is not None
        self.guard.records.flush()
        stats = decision_stats(read_sink(self.sink), prompt=SLUG)
        self.out.print(f"[bold]decision_stats(read_sink('jsonl:…/decisions.jsonl'))[/]: {stats['checks']} records")
        table = Table()
        for column in ("prompt version", "checks", "block rate", "redact rate", "top rules"):
            table.add_column(column)
        for group in stats["prompts"]:
            version = f"v{group['version']}" if group["version"] else "(no version)"
            rules = "\n".join(f"{r['rule_id']} ×{r['checks']}" for r in group["top_rules"]) or "-"
            rates = f"{group['block_rate']:.0%}", f"{group['redact_rate']:.0%}"
            table.add_row(version, str(group["checks"]), *rates, rules)
        self.out.print(table)
        counts = self.guard.records.stats()
        self.out.print(f"records written {counts['written']}, dropped {counts['dropped']}, failed {counts['failed']}")
        log = (self.tmp / "decisions.jsonl").read_text()
        leaked = [name for name, text in RAW.items() if text in log]
        self.out.print(f"raw inputs in the decision log ({', '.join(RAW)}): {', '.join(leaked) or 'none'}")


def main() -> int:
    sigterm_as_exit()
    console = Console(width=120)
    console.print("[bold]promptward demo, part two[/]: registry, rollout, guarded service, outage, statistics")
    workspace = None
    try:
        with contextlib.ExitStack() as stack:
            story = Story(console, stack)
            workspace = story.tmp
            story.start_registry()
            story.publish()
            story.start_service()
            story.traffic()
            story.lifecycle()
            story.outage()
            story.stats()
            console.rule("[bold]Cleaning up")
    except KeyboardInterrupt:
        console.print("interrupted")
        return 130
    finally:
        if workspace is not None:
            gone = not workspace.exists()
            console.print(f"cleaned up: servers stopped, {workspace} removed: {gone}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
