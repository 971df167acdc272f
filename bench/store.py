"""Benchmark: the SQL store's hot queries on SQLite and on PostgreSQL.

    python bench/store.py [--postgres URL] [--repeat 300] [--out docs/results]

Both databases get the demo world's clients, interactions and notes (written by the importer's own SQL
step) and then 1,000 shortlists written by the serving path's own `persist_shortlist`. Timed, each `--repeat`
times with random clients, through the app's own code paths:

- `client_context_sql`: a client's row, interactions and notes (every shortlist starts with it);
- `persist_shortlist`: one shortlist with its conversation, messages, 4 items and 4 reasoning steps;
- `associate_queue`: the 50 newest shortlists of one associate's clients;
- `conversation_history`: a client's conversations with their last shortlist;
- `feedback_insert`: one associate feedback row.

PostgreSQL is the one `.ci/run` starts (or any URL given); without one, only SQLite is measured.
Writes docs/results/store.json and store.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_SHORTLISTS = 1000
N_ASSOCIATES = 12


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def fake_result(rng: random.Random, client_id: str, items: list[str]):
    from backend.service import ShortlistResult

    picks = rng.sample(items, 4)
    return ShortlistResult(
        shortlist_id=0, conversation_id=0, client_id=client_id, request="a bag for a summer wedding in Tuscany",
        items=[{"item_id": i, "rank": r + 1, "justification": "fits the occasion and the client's palette",
                "provenance": ["semantic", "ppr"]} for r, i in enumerate(picks)],
        steps=[{"index": k + 1, "text": f"step {k + 1} about the candidates", "verdict": "consistent", "items": [],
                "attributes": [], "problems": [], "support": [], "ungrounded": []} for k in range(4)],
        query_graph={"category_group": "bags", "occasion": ["wedding"]}, model_version="base", fallback_used=False,
        nothing_fits=False, message="Here are four pieces.", timings={"total_ms": 6000.0})


def setup(url: str, bundle) -> dict:
    """Fill one database; returns the ids the timed queries draw from."""
    from backend import service
    from backend.importer import write_sql
    from backend.store import get_engine, session
    from sqlmodel import select

    from backend.tables import Account, CatalogVersion, Client
    from catalog.bundle import ValidationReport

    engine = get_engine(url)
    write_sql(bundle, bundle.items, ValidationReport(), engine,
              CatalogVersion(name="bench", digest="0" * 64, collection="bench", n_items=len(bundle.items)))
    with session(engine) as s:
        associates = [Account(username=f"associate-{k}", role="associate", password_hash="x") for k in range(N_ASSOCIATES)]
        s.add_all(associates)
        s.flush()
        ids = [a.id for a in associates]
        for k, client in enumerate(s.exec(select(Client)).all()):
            client.associate_id = ids[k % len(ids)]
            s.add(client)
    rng = random.Random(0)
    clients = [c["client_id"] for c in bundle.clients]
    items = [i["item_id"] for i in bundle.items]
    for _ in range(N_SHORTLISTS):
        service.persist_shortlist(fake_result(rng, rng.choice(clients), items), None, items[:20])
    return {"clients": clients, "items": items, "associates": ids}


def timed(fn, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(percentile(times, 95), 3),
            "mean_ms": round(statistics.fmean(times), 3), "n": repeat}


def measure(url: str, bundle, repeat: int) -> dict:
    from sqlmodel import select

    from backend import service
    from backend.settings import get_settings
    from backend.store import get_engine, session
    from backend.tables import Client, ClientNote, Conversation, Feedback, Interaction, Shortlist

    os.environ["CONCIERGE_DATABASE_URL"] = url
    get_settings.cache_clear()
    get_engine.cache_clear()
    started = time.perf_counter()
    ids = setup(url, bundle)
    setup_s = time.perf_counter() - started
    rng = random.Random(1)

    def client_context_sql():
        client_id = rng.choice(ids["clients"])
        with session() as s:
            s.get(Client, client_id)
            s.exec(select(Interaction).where(Interaction.client_id == client_id)).all()
            s.exec(select(ClientNote).where(ClientNote.client_id == client_id)).all()

    def persist_shortlist():
        service.persist_shortlist(fake_result(rng, rng.choice(ids["clients"]), ids["items"]), None, ids["items"][:20])

    def associate_queue():
        with session() as s:
            s.exec(select(Shortlist).join(Client, Client.client_id == Shortlist.client_id)
                   .where(Client.associate_id == rng.choice(ids["associates"]))
                   .order_by(Shortlist.created_at.desc()).limit(50)).all()

    def conversation_history():
        client_id = rng.choice(ids["clients"])
        with session() as s:
            conversations = s.exec(select(Conversation).where(Conversation.client_id == client_id)
                                   .order_by(Conversation.id.desc()).limit(20)).all()
            for c in conversations:
                s.exec(select(Shortlist).where(Shortlist.conversation_id == c.id).order_by(Shortlist.id.desc())).first()

    def feedback_insert():
        with session() as s:
            shortlist = s.exec(select(Shortlist.id).order_by(Shortlist.id.desc())).first()
            s.add(Feedback(shortlist_id=shortlist, item_id=rng.choice(ids["items"]), kind="reject",
                           reason="too formal for her"))

    results = {"setup_s": round(setup_s, 1)}
    for fn in (client_context_sql, persist_shortlist, associate_queue, conversation_history, feedback_insert):
        fn()  # warm
        results[fn.__name__] = timed(fn, repeat)
        print(f"  {fn.__name__}: {results[fn.__name__]}")
    get_engine.cache_clear()
    return results


def markdown(report: dict) -> str:
    names = [k for k in report["databases"]["sqlite"] if k != "setup_s"]
    dbs = list(report["databases"])
    lines = ["# SQL store: hot queries, SQLite vs PostgreSQL", "",
             f"Produced by `bench/store.py` on {report['machine']} ({report['date']}); {report['repeat']} timed "
             f"calls each after the demo world's {report['data']['clients']} clients, "
             f"{report['data']['interactions']} interactions and {N_SHORTLISTS} shortlists were written. "
             f"Load average before: {report['load_average_before']:.1f}.", "",
             "| query | " + " | ".join(f"{d} p50 / p95 (ms)" for d in dbs) + " |",
             "|---|" + "---:|" * len(dbs)]
    for name in names:
        cells = [f"{report['databases'][d][name]['p50_ms']:.2f} / {report['databases'][d][name]['p95_ms']:.2f}" for d in dbs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Both run the app's own code (SQLModel sessions, the importer's SQL step, the serving path's "
              "`persist_shortlist`); PostgreSQL is a local server on loopback, so network cost is near zero."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("CONCIERGE_TEST_POSTGRES_URL"),
                        help="PostgreSQL URL (default: CONCIERGE_TEST_POSTGRES_URL)")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args()

    from backend.store import new_postgres_schema
    from catalog.demo.export import world_bundle

    bundle = world_bundle(seed=7)
    report = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()} CPUs", "repeat": args.repeat,
              "load_average_before": os.getloadavg()[0],
              "data": {"clients": len(bundle.clients), "interactions": len(bundle.interactions)}, "databases": {}}
    with tempfile.TemporaryDirectory() as tmp:
        print("== SQLite")
        report["databases"]["sqlite"] = measure(f"sqlite:///{tmp}/bench.db", bundle, args.repeat)
    if args.postgres:
        print("== PostgreSQL")
        url = new_postgres_schema(args.postgres, prefix="bench")
        report["databases"]["postgresql"] = measure(url, bundle, args.repeat)
    else:
        print("no PostgreSQL URL: only SQLite measured")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "store.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "store.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
