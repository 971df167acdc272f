"""Benchmark: N concurrent client chat sessions against the running app on loopback.

    python bench/load.py --sessions 10 --requests-per-session 2 --max-seconds 600 [--serve | --url URL]

1. Setup: one client account per session (`load-<client id>`, a fixed bench password), each for a
   distinct demo client, created in the app's store (the same `var/` the server uses).
2. Every session signs in through /login (the session cookie) and asks its requests through
   POST /api/client/ask, the JSON endpoint behind the same role and ownership checks as the chat: the
   first request is a query of its own client (validation split first), the next ones follow-ups in the same
   conversation ("less formal", ...). All sessions start at once.
3. A 503 "busy" (the app's queue is full) is waited out (Retry-After) and retried, counted apart;
   anything else that is not a shortlist is an error. Nothing starts after `--max-seconds`; a request
   still running then is cut off and counted as an error: the run stops by itself.

Reports per run: requests done, errors, busy retries, latency p50 / p95 / p99 / max as the client sees it
(queueing included), throughput, and the server's own time per shortlist. With `--serve` the bench starts
`concierge serve` itself (same environment, e.g. CONCIERGE_MAX_NEW_TOKENS) and stops it at the end.
Writes docs/results/load.json (one entry per session count, merged with earlier runs) and load.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

PASSWORD = "load-bench-password"
HOW = """`python bench/load.py --serve --sessions N --requests-per-session R` on this machine: N sessions at
once, each signs in and asks R times through POST /api/client/ask (first a query of its own demo client,
validation split first, then follow-ups in the same conversation). Latency is what the client sees, queueing
included; *server* is the app's own time per shortlist (`timings.total_ms`, which includes waiting for the
model while the other admitted shortlist generates), *LLM* the generation alone. A 503 (queue full) is
retried after Retry-After and counted apart from errors; *refused* are requests the app answered with 400
(it declined the request's text: a message to the client, not a failure). Each run's load average
(1 minute, before and after) is in the last column: the 2 cores may be shared with other work, and absolute
latencies move with it; what must hold is zero errors, every request answered."""
FOLLOW_UPS = ("Something a little less formal, please.", "Could you show me options in black?",
              "Anything cheaper?")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def reserved_clients() -> set[str]:
    """Clients the bench leaves alone: those with someone else's account, and the first one (the demo
    client account `concierge serve` creates on a fresh store)."""
    from sqlmodel import select

    from backend.store import session
    from backend.tables import Account, Client

    with session() as s:
        first = s.exec(select(Client.client_id).order_by(Client.client_id)).first()
        taken = s.exec(select(Account.client_id).where(Account.client_id.is_not(None),
                                                        ~Account.username.startswith("load-"))).all()
    return {first, *taken}


def session_plan(bundle: Path, sessions: int) -> list[dict]:
    """One query per session, each of a different client: validation queries first, then the other splits'
    (the demo world has validation queries of ~40 clients)."""
    plan, seen = [], reserved_clients()
    queries = [json.loads(line) for line in (bundle / "queries.jsonl").read_text().splitlines()]
    for query in sorted(queries, key=lambda q: q["split"] != "val"):  # stable: file order within each group
        if query["client_id"] not in seen:
            seen.add(query["client_id"])
            plan.append({"client_id": query["client_id"], "text": query["text"]})
        if len(plan) == sessions:
            return plan
    raise SystemExit(f"{bundle} has queries of only {len(plan)} clients; ask for fewer sessions")


def setup_accounts(plan: list[dict]) -> None:
    """A client account per session (created once; its password reset to the bench's on later runs)."""
    from sqlmodel import select

    from app.auth import create_account, set_password
    from backend.store import session
    from backend.tables import Account

    with session() as s:
        existing = set(s.exec(select(Account.username)).all())
    for entry in plan:
        entry["username"] = f"load-{entry['client_id']}"
        if entry["username"] in existing:
            set_password(entry["username"], PASSWORD)
        else:
            create_account(entry["username"], "client", PASSWORD, client_id=entry["client_id"])


def sign_in(http: httpx.Client, username: str) -> None:
    """Sign in as the browser's form does: the page first (its token, and the nonce cookie `http` keeps)."""
    page = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    http.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token[1] if token else ""})


def run_session(url: str, entry: dict, requests: int, deadline: float, records: list, lock: threading.Lock) -> None:
    """Sign in, then ask `requests` times (first the query, then follow-ups in its conversation)."""

    def record(**row) -> None:
        with lock:
            records.append({"username": entry["username"], **row})

    with httpx.Client(base_url=url, timeout=60) as http:
        try:
            sign_in(http, entry["username"])
        except httpx.HTTPError as exc:
            record(ok=False, error=f"sign-in: {type(exc).__name__}: {exc}")
            return
        if "concierge_session" not in http.cookies:
            record(ok=False, error="sign-in refused")
            return
        conversation = None
        for index in range(requests):
            if time.monotonic() >= deadline:
                record(ok=False, skipped=True, error="not started: --max-seconds reached")
                continue
            text = entry["text"] if index == 0 else FOLLOW_UPS[(index - 1) % len(FOLLOW_UPS)]
            started, busy = time.monotonic(), 0
            while True:
                remaining = deadline - time.monotonic()
                try:
                    response = http.post("/api/client/ask", json={"text": text, "conversation_id": conversation},
                                         timeout=max(remaining, 0.1))
                except httpx.HTTPError as exc:
                    response, error = None, f"{type(exc).__name__} after {time.monotonic() - started:.0f} s"
                    break
                if response.status_code == 503 and response.json().get("busy") and remaining > 0:
                    busy += 1
                    time.sleep(min(float(response.headers.get("Retry-After", 5)), max(remaining, 0)))
                    continue
                error = None if response.status_code == 200 else f"HTTP {response.status_code}: {response.text[:200]}"
                break
            latency = time.monotonic() - started
            if error:  # a 400 is the app refusing this request's text (a message to the user), not a failure
                record(ok=False, refused=response is not None and response.status_code == 400, error=error, busy=busy,
                       latency_s=latency)
                continue
            body = response.json()
            conversation = body["conversation_id"]
            timings = body.get("timings") or {}
            record(ok=True, latency_s=latency, busy=busy, follow_up=index > 0, items=len(body["items"]),
                   server_ms=timings.get("total_ms"), llm_ms=timings.get("llm_ms"),
                   fallback=body.get("fallback_used"), model_version=body.get("model_version"))


def run_load(url: str, plan: list[dict], requests: int, max_seconds: float) -> dict:
    records: list[dict] = []
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + max_seconds
    threads = [threading.Thread(target=run_session, args=(url, entry, requests, deadline, records, lock), daemon=True)
               for entry in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0) + 30)
    wall = time.monotonic() - started
    done = [r for r in records if r["ok"]]
    refused = [r for r in records if r.get("refused")]
    errors = [r for r in records if not r["ok"] and not r.get("refused")]
    latencies = [r["latency_s"] for r in done]
    server = [r["server_ms"] / 1000 for r in done if r.get("server_ms") is not None]
    llm = [r["llm_ms"] / 1000 for r in done if r.get("llm_ms") is not None]
    return {
        "sessions": len(plan), "requests_per_session": requests, "max_seconds": max_seconds,
        "requests_planned": len(plan) * requests, "requests_ok": len(done), "errors": len(errors),
        "refused": len(refused), "refused_samples": sorted({r["error"] for r in refused})[:10],
        "skipped": sum(1 for r in errors if r.get("skipped")), "busy_retries": sum(r.get("busy", 0) for r in records),
        "wall_s": round(wall, 1), "throughput_per_min": round(len(done) / wall * 60, 2) if wall else None,
        "latency_s": {f"p{q}": round(percentile(latencies, q), 2) if latencies else None for q in (50, 95, 99)}
        | {"max": round(max(latencies), 2) if latencies else None,
           "mean": round(sum(latencies) / len(latencies), 2) if latencies else None},
        "server_s": {"p50": round(percentile(server, 50), 2) if server else None,
                     "mean": round(sum(server) / len(server), 2) if server else None,
                     "llm_p50": round(percentile(llm, 50), 2) if llm else None},
        "fallback_share": round(sum(1 for r in done if r.get("fallback")) / len(done), 3) if done else None,
        "model_versions": sorted({r.get("model_version") for r in done if r.get("model_version")}),
        "error_samples": sorted({r["error"] for r in errors})[:10],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    """`concierge serve` on a free loopback port with this environment (stopped by `stop_server`)."""
    port = free_port()
    env = {**os.environ, "CONCIERGE_HOST": "127.0.0.1", "CONCIERGE_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"concierge serve exited with status {server.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(1)
    server.kill()
    raise SystemExit("concierge serve did not answer /healthz within 180 s")


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()


def warm_up(url: str, entry: dict) -> None:
    """One shortlist before timing, so the first session does not pay for loading the model."""
    with httpx.Client(base_url=url, timeout=300) as http:
        sign_in(http, entry["username"])
        response = http.post("/api/client/ask", json={"text": entry["text"]})
        if response.status_code != 200:
            raise SystemExit(f"warm-up request failed: HTTP {response.status_code}: {response.text[:300]}")


def _load(machine: dict) -> str:
    before, after = machine.get("load_average_before"), machine.get("load_average_after")
    return f"{before[0]:.2f} → {after[0]:.2f}" if before and after else "not recorded"


def write_results(run: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "load.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results.setdefault("runs", {})[str(run["sessions"])] = run
    results["runs"] = dict(sorted(results["runs"].items(), key=lambda kv: int(kv[0])))
    path.write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Load: concurrent client sessions against `concierge serve`", "", " ".join(HOW.split()), "",
             "| sessions | requests | ok | refused | errors | busy retries | p50 s | p95 s | p99 s | max s "
             "| throughput /min | server p50 s | LLM p50 s | max_new_tokens | wall s | when | load |",
             "|" + " --- |" * 17]
    for r in results["runs"].values():
        lat, server = r["latency_s"], r["server_s"]
        cells = [r["sessions"], r["requests_planned"], r["requests_ok"], r.get("refused", 0), r["errors"],
                 r["busy_retries"], lat["p50"], lat["p95"], lat["p99"], lat["max"], r["throughput_per_min"],
                 server["p50"], server.get("llm_p50"), r["settings"]["max_new_tokens"], r["wall_s"],
                 r.get("created", ""), _load(r["machine"])]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    first = next(iter(results["runs"].values()))
    lines += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in first["machine"].items() if k in ("cpus", "python")) + f". The app lets "
              f"{first['admission']['at_once']} shortlists in at once (the local model decodes up to CONCIERGE_DECODE_BATCH of them together); the "
              f"others wait in its queue.", ""]
    for r in results["runs"].values():
        if r.get("refused_samples"):
            lines.append(f"Refused with {r['sessions']} sessions: " + "; ".join(r["refused_samples"]))
        if r["error_samples"]:
            lines.append(f"Errors with {r['sessions']} sessions: " + "; ".join(r["error_samples"]))
    (out / "load.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="concurrent sessions (distinct clients)")
    parser.add_argument("--requests-per-session", type=int, default=2, help="requests each session makes in turn")
    parser.add_argument("--max-seconds", type=float, default=600, help="stop starting requests after this long")
    parser.add_argument("--url", default=None, help="a running app (default: settings' host and port)")
    parser.add_argument("--serve", action="store_true", help="start `concierge serve` for the run, stop it after")
    parser.add_argument("--bundle", type=Path, default=Path("var/bundles/demo"), help="where the queries are")
    parser.add_argument("--no-warm-up", action="store_true", help="time the first request's model load too")
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    if not 1 <= args.sessions <= 500 or not 1 <= args.requests_per_session <= 20 or args.max_seconds <= 0:
        raise SystemExit("--sessions 1..500, --requests-per-session 1..20, --max-seconds > 0")

    from backend.settings import get_settings

    limits = get_settings()
    from backend.settings import get_settings

    settings = get_settings()
    plan = session_plan(args.bundle, args.sessions)
    setup_accounts(plan)
    server, url = start_server() if args.serve else (None, args.url or f"http://{settings.host}:{settings.port}")
    try:
        if not args.no_warm_up:
            warm_up(url, plan[0])
        print(f"{args.sessions} sessions x {args.requests_per_session} requests against {url} "
              f"(at most {args.max_seconds:g} s)...", flush=True)
        load_before = os.getloadavg()
        run = run_load(url, plan, args.requests_per_session, args.max_seconds)
    finally:
        if server is not None:
            stop_server(server)
    run |= {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_average_before": load_before, "load_average_after": os.getloadavg()},
            "settings": {"max_new_tokens": settings.max_new_tokens, "llm_backend": settings.llm_backend},
            "admission": {"at_once": limits.shortlists_at_once, "max_waiting": limits.shortlist_queue,
                          "max_wait_s": limits.shortlist_wait_s}}
    write_results(run, args.out)
    lat = run["latency_s"]
    print(f"{run['requests_ok']}/{run['requests_planned']} ok, {run['refused']} refused, {run['errors']} errors, {run['busy_retries']} busy "
          f"retries in {run['wall_s']} s: p50 {lat['p50']} s, p95 {lat['p95']} s, p99 {lat['p99']} s, "
          f"{run['throughput_per_min']} shortlists/min (server p50 {run['server_s']['p50']} s)")
    print(f"wrote {args.out / 'load.json'} and {args.out / 'load.md'}")


if __name__ == "__main__":
    main()
