"""Which requests the serving generator refuses, by kind, on a bundle's train and val splits.

    python bench/refusal_kinds.py BUNDLE [--splits train,val] [--show]

For each request: the generator of `concierge eval`'s `retrieval` system (the bundle's scratch stores,
their ranker) says nothing fits or answers. Impossible requests are tallied by the kind the bundle
gives them (`facets.impossible`: the demo world's "price", "house-range", "contradiction",
"out-of-catalogue"; "impossible" where a bundle gives no kind), answerable ones together. `--show`
prints every request the rule gets wrong (an impossible one answered, an answerable one refused) with
the reason given. This is the table the refusal rules are built against; the test split is refused
here, as it must never shape a rule.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--splits", default="train,val")
    parser.add_argument("--show", action="store_true", help="print each request the rules get wrong")
    args = parser.parse_args()
    splits = args.splits.split(",")
    if "test" in splits:
        parser.error("the test split never shapes a rule: use train and val")

    from backend.settings import Settings
    from training.eval_queries import load_bundle
    from training.eval_stores import scratch_stores
    from training.systems import EvalWorld, ServingRetrieval

    bundle = load_bundle(args.bundle)
    generator = ServingRetrieval(EvalWorld(bundle, scratch_stores(bundle, False, False, Settings()), 0))
    total, refused, wrong = Counter(), Counter(), []
    for query in bundle.queries:
        if query.get("split") not in splits:
            continue
        parsed, _, pool = generator.candidates(query, None, 10)
        kind = "answerable" if query.get("relevant") else (query.get("facets") or {}).get("impossible") or "impossible"
        total[kind] += 1
        refused[kind] += not pool
        if (kind == "answerable") == (not pool):
            wrong.append((kind, query["text"], parsed.impossible))
    print(f"{args.bundle} ({', '.join(splits)}; load {os.getloadavg()[0]:.1f})")
    for kind in sorted(total, key=lambda k: (k != "answerable", k)):
        print(f"  {kind:18s} refused {refused[kind]:5d} / {total[kind]}")
    if args.show:
        for kind, text, reason in wrong:
            print(f"  [{kind}] {text!r} -> {reason or 'answered'}")


if __name__ == "__main__":
    main()
