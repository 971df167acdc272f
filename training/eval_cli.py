"""`concierge eval BUNDLE --split test --systems LIST --k 5,10`: the evaluation from the command
line."""

from __future__ import annotations

import argparse
from pathlib import Path

from catalog.errors import ConciergeError
from training.eval_journal import clear_journals
from training.eval_queries import PROTOCOLS
from training.eval_report import default_out_dir, markdown, write_report
from training.eval_run import DEFAULT_SYSTEMS, EvalConfig, evaluate
from training.metrics import RESAMPLES
from training.systems import SYSTEMS


def _int_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("expected comma-separated integers such as 5,10, got "
                                         f"{text!r}") from None


def _pair(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected two systems as A,B, got {text!r}")
    return parts[0], parts[1]


def read_query_ids(path: str | None) -> list[str] | None:
    """The query ids listed in a file, one per line (blank lines skipped); None without a file."""
    if path is None:
        return None
    try:
        ids = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    except OSError as error:
        raise ConciergeError(f"cannot read the query list {path}: "
                             f"{error.strerror or error}") from error
    if not ids:
        raise ConciergeError(f"{path} lists no query ids (one per line)")
    return ids


def add_eval_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of `concierge eval` (the caller sets `func=main_eval`)."""
    parser.add_argument("bundle",
                        help="bundle directory with queries (e.g. from `concierge demo --out DIR`)")
    parser.add_argument("--split", default="test", help="queries of this split (default: test)")
    parser.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                        help=f"comma-separated, from {', '.join(SYSTEMS)}; `reasoner@DIR` uses a "
                             f"LoRA adapter (default: {','.join(DEFAULT_SYSTEMS)})")
    parser.add_argument("--k", type=_int_list, default=[5, 10],
                        help="cut-offs for NDCG and recall (default: 5,10)")
    parser.add_argument("--protocol", choices=("full", "rerank", "both"), default="both",
                        help="whole-catalogue shortlist, re-ranking 20 fixed candidates, or both "
                             "(default)")
    parser.add_argument("--limit", type=int, default=None,
                        help="at most N queries per system (a seeded subset)")
    parser.add_argument("--llm-limit", type=int, default=None,
                        help="at most N queries for the LLM systems (reasoner, pipeline; ~6 s each "
                             "on a CPU)")
    parser.add_argument("--compare", type=_pair, action="append", default=[],
                        help="paired comparison A,B (repeatable; default: every system against the "
                             "first)")
    parser.add_argument("--exclude-seen", action=argparse.BooleanOptionalAction, default=None,
                        help="drop items the client already interacted with (default: as the "
                             "bundle's manifest says)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of subsets, candidate lists and bootstrap")
    parser.add_argument("--resamples", type=int, default=RESAMPLES,
                        help="bootstrap resamples (default: 1000)")
    parser.add_argument("--out", default=None,
                        help="output directory (default: docs/results/<bundle>-<date>)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--queries", default=None,
                        help="a file of query ids, one per line: only those queries of the split")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="queries of an LLM system in flight at once, their tokens decoded in "
                             "one batch (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def config_from_args(args: argparse.Namespace) -> EvalConfig:
    return EvalConfig(bundle=args.bundle, split=args.split,
                      systems=[s.strip() for s in args.systems.split(",") if s.strip()],
                      ks=sorted(set(args.k)),
                      protocols=list(PROTOCOLS) if args.protocol == "both" else [args.protocol],
                      limit=args.limit,
                      llm_limit=args.llm_limit, out=args.out, seed=args.seed,
                      resamples=args.resamples,
                      exclude_seen=args.exclude_seen, compare=args.compare, progress=not args.quiet,
                      threads=args.threads, concurrency=args.concurrency,
                      query_ids=read_query_ids(args.queries))


def main_eval(args: argparse.Namespace) -> int:
    """`concierge eval`: run, print the Markdown tables, write JSON + Markdown + PNG. Returns the
    exit status."""
    config = config_from_args(args)
    report = evaluate(config)
    out = write_report(report, config.out or default_out_dir(report))
    clear_journals(out)  # the report holds what the journals did
    print(markdown(report))
    print(f"wrote {out / 'results.json'}, {out / 'results.md'}, {out / 'ndcg.png'}")
    return 0
