"""Benchmark: can associates' verdicts train the ranker of a catalogue that has no labelled requests?

    python bench/feedback_ranker.py [--bundles var/bundles/demo,...] [--per-client 2] [--shown 5]

A retailer's first import has no training requests, so its shortlists are ordered by reciprocal-rank
fusion (`backend.ranker`). Associates then review those shortlists. This asks whether their verdicts
alone are enough to train the LightGBM ranker, and how it compares with a ranker trained on the
bundle's labelled train split.

Protocol (train and val splits only; the test split is never read):

1. Candidates of the bundle's train and val requests from the serving generator over its scratch
   stores (`bench/ranker_transfer.candidate_groups`, cached).
2. Reviewed and held-out requests. `clients` (when it yields at least 20 reviews: the demo world):
   clients of the val split, their requests in time order, the first `--per-client` reviewed and
   the rest held out (as in bench/feedback_loop.py). Else `splits`: a seeded sample of `--reviews`
   train requests is reviewed and the val split held out (no train split: `--reviews` val requests
   reviewed, the other val requests held out).
3. Simulated associates review each reviewed request's fusion shortlist (its first `--shown`
   candidates) by the request's graded ground truth, with the review console's grades
   (`training.data.FEEDBACK_GRADES`): a fitting item is accepted, the others rejected; the best
   fitting shown item is moved to the top when it is not there; the first rejected item is replaced by
   the best fitting candidate that was not shown. Unjudged candidates count as not relevant.
4. Rankers: `fusion`; `verdicts, boosted from fusion` (what a ranker job trains: the verdicts on
   the shortlist's items, boosted from fusion, `backend.ranker.FEEDBACK_PRIOR`); the same with the
   items replacements brought in graded too; `verdicts, from scratch` (no fusion prior);
   `train split` (every labelled train request, what an import trains when it can); with the
   `clients` protocol also `train split + verdicts`.
5. NDCG@10 of the held-out requests with a relevant item, 95% BCa intervals, paired differences.

Writes docs/results/feedback-ranker.json and .md (one section per bundle).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from ranker_transfer import BUNDLES, as_candidates, candidate_groups, interval, score  # noqa: E402


def split_clients(bundle, per_client: int) -> tuple[set[str], set[str]]:
    """Val-split request ids: (reviewed, held out) — each client's first `per_client` requests in time
    order are reviewed, the rest held out; clients with no request left to hold out are skipped."""
    by_client: dict[str, list[dict]] = {}
    for query in bundle.queries:
        if query.get("split") == "val" and query.get("client_id"):
            by_client.setdefault(query["client_id"], []).append(query)
    reviewed, heldout = set(), set()
    for queries in by_client.values():
        queries.sort(key=lambda q: (q.get("timestamp") or "", q["query_id"]))
        if len(queries) > per_client:
            reviewed |= {q["query_id"] for q in queries[:per_client]}
            heldout |= {q["query_id"] for q in queries[per_client:]}
    return reviewed, heldout


def verdicts(pool: list, relevant: dict[str, int], shown: int,
             replacements: bool = False) -> tuple[dict[str, int], int]:
    """What a simulated associate's review of the fusion shortlist teaches: item -> grade of each judged
    item, and how many review actions it took. The item a replacement brings in is graded only with
    `replacements` (a ranker job leaves it out: `training.ranker_job.RANKER_KINDS`)."""
    from backend import ranker as ranking
    from training.data import FEEDBACK_GRADES, REORDER_TOP

    ordered = [c.item_id for c in ranking.Ranker(None, {"kind": "fusion"}).order(as_candidates(pool))]
    on_list = ordered[:shown]
    grades = {i: FEEDBACK_GRADES["accept"] if relevant.get(i, 0) > 0 else FEEDBACK_GRADES["reject"]
              for i in on_list}
    actions = len(on_list)
    best = max(on_list, key=lambda i: (relevant.get(i, 0), -on_list.index(i)), default=None)
    if best is not None and best != on_list[0] and relevant.get(best, 0) > relevant.get(on_list[0], 0):
        grades[best] = REORDER_TOP
        actions += 1
    rejected = [i for i in on_list if relevant.get(i, 0) == 0]
    unseen = sorted((i for i in ordered[shown:] if relevant.get(i, 0) > 0), key=lambda i: -relevant[i])
    if rejected and unseen:
        if replacements:
            grades[unseen[0]] = FEEDBACK_GRADES["replace"]
        actions += 1
    return grades, actions


def judged_group(pool: list, grades: dict[str, int], unjudged: str) -> tuple[list, dict[str, int]]:
    """A reviewed request as a training group: `unjudged` = "zero" keeps every candidate (the ones no
    associate saw count as not relevant), "drop" keeps only the judged ones (rejected items are the
    negatives)."""
    kept = pool if unjudged == "zero" else [c for c in pool if c[0] in grades]
    return kept, {k: v for k, v in grades.items() if v > 0}


def reviews(bundle, groups: dict, per_client: int, count: int) -> tuple[str, list, list]:
    """(protocol, reviewed groups, held-out groups with a relevant item): see the docstring, step 2."""
    reviewed_ids, heldout_ids = split_clients(bundle, per_client)
    if len(reviewed_ids) >= 20:
        return ("clients", [g for g in groups["val"] if g[0] in reviewed_ids],
                [g for g in groups["val"] if g[0] in heldout_ids and g[2]])
    rng = random.Random(0)
    if len(groups["train"]) >= 20:
        return ("splits", rng.sample(groups["train"], min(count, len(groups["train"]))),
                [g for g in groups["val"] if g[2]])
    chosen = {g[0] for g in rng.sample(groups["val"], min(count, len(groups["val"]) // 2))}
    return ("splits", [g for g in groups["val"] if g[0] in chosen],
            [g for g in groups["val"] if g[0] not in chosen and g[2]])


def bundle_record(path: str, args) -> dict:
    from backend import ranker as ranking
    from training.eval_queries import load_bundle

    started = time.perf_counter()
    bundle = load_bundle(path)
    groups = candidate_groups(path)
    protocol, reviewed, heldout = reviews(bundle, groups, args.per_client, args.reviews)
    judged, with_replacements, actions = [], [], 0
    for qid, pool, relevant in reviewed:
        grades, n = verdicts(pool, relevant, args.shown)
        judged.append((qid, *judged_group(pool, grades, args.unjudged)))
        grades, _ = verdicts(pool, relevant, args.shown, replacements=True)
        with_replacements.append((qid, *judged_group(pool, grades, args.unjudged)))
        actions += n

    def fit(rows, prior=0.0):
        return ranking.train([(as_candidates(pool), rel) for _, pool, rel in rows], [], prior=prior)

    systems = {"fusion": ranking.Ranker(None, {"kind": "fusion"}),
               "verdicts, boosted from fusion": fit(judged, ranking.FEEDBACK_PRIOR),
               "verdicts + replacements, boosted": fit(with_replacements, ranking.FEEDBACK_PRIOR),
               "verdicts, from scratch": fit(judged)}
    if len(groups["train"]) >= ranking.MIN_TRAIN_QUERIES:
        systems["train split"] = fit(groups["train"])
        if protocol == "clients":
            systems["train split + verdicts"] = fit(groups["train"] + judged)
    scores = {name: score(r, heldout) for name, r in systems.items()}
    curve = review_curve(judged, heldout, scores["fusion"], [int(n) for n in args.curve.split(",") if n])
    verdict_gate = verdict_gates(reviewed, heldout, args.shown)
    pairs = [("verdicts, boosted from fusion", "fusion"), ("verdicts + replacements, boosted", "fusion"),
             ("verdicts, from scratch", "fusion"), ("verdicts, boosted from fusion", "train split"),
             ("train split + verdicts", "train split")]
    return {"bundle": bundle.name, "protocol": protocol, "seconds": round(time.perf_counter() - started, 1),
            "reviewed_requests": len(reviewed), "review_actions": actions, "heldout_requests": len(heldout),
            "systems": {n: {"kind": r.kind, "train_queries": (r.info or {}).get("train_queries"),
                            "ndcg@10": round(float(scores[n].mean()), 4),
                            "ci": [round(x, 4) for x in interval(scores[n])]} for n, r in systems.items()},
            "curve": curve, "verdict_gate": verdict_gate,
            "differences": [{"a": a, "b": b, "mean": round(float((scores[a] - scores[b]).mean()), 4),
                             "ci": [round(x, 4) for x in interval(scores[a] - scores[b])]}
                            for a, b in pairs if a in scores and b in scores]}


DRAWS = 5  # seeded subsamples of the reviews per point of the curve
HOLDOUT = 0.3  # a held-out share of the reviews, for the gate variants below
FOLDS = 5  # the ranker job's cross-validated gate (`training.ranker_job.FOLDS`)


def verdict_gates(reviewed: list, heldout: list, shown: int) -> dict:
    """The admin console's gate, simulated, against the truth (the held-out requests' graded ground
    truth). A held-out share: the last `HOLDOUT` of the reviews, graded by their accepted items alone
    or with the replacements' items too, scored by a ranker trained on the rest. What the job does:
    every review scored once by a ranker trained on the other `FOLDS` - 1 folds. NDCG@5, the gate's
    metric."""
    from backend import ranker as ranking
    from training.metrics import ndcg_at_k

    def ndcg(ranker, groups):
        return np.array([ndcg_at_k([c.item_id for c in ranker.order(as_candidates(pool))], rel, 5)
                         for _, pool, rel in groups if rel])

    cut = len(reviewed) - max(2, round(len(reviewed) * HOLDOUT))
    train = [(q, *judged_group(p, verdicts(p, r, shown)[0], "zero")) for q, p, r in reviewed[:cut]]
    ranker = ranking.train([(as_candidates(pool), rel) for _, pool, rel in train], [],
                           prior=ranking.FEEDBACK_PRIOR)
    fusion = ranking.Ranker(None, {"kind": "fusion"})
    out = {"trained_on": cut, "ranker": ranker.kind}
    for name, with_replacements in (("accepted items", False), ("with replacements", True)):
        gate = [(q, p, {k: v for k, v in verdicts(p, r, shown, replacements=with_replacements)[0].items() if v})
                for q, p, r in reviewed[cut:]]
        diff = ndcg(ranker, gate) - ndcg(fusion, gate)
        out[name] = {"n": int(len(diff)), "mean": round(float(diff.mean()), 4),
                     "ci": [round(x, 4) for x in interval(diff)]}
    # what the job does: 5 contiguous folds, each scored (with replacements) by a ranker trained on the rest
    bounds = [round(i * len(reviewed) / FOLDS) for i in range(FOLDS + 1)]
    diffs = []
    for lo, hi in zip(bounds, bounds[1:]):
        rest = [judged_group(p, verdicts(p, r, shown)[0], "zero") for _, p, r in reviewed[:lo] + reviewed[hi:]]
        fold = ranking.train([(as_candidates(pool), rel) for pool, rel in rest], [], prior=ranking.FEEDBACK_PRIOR)
        gate = [(q, p, {k: v for k, v in verdicts(p, r, shown, replacements=True)[0].items() if v})
                for q, p, r in reviewed[lo:hi]]
        diffs.append(ndcg(fold, gate) - ndcg(fusion, gate))
    diff = np.concatenate(diffs)
    out["cross-validated"] = {"n": int(len(diff)), "mean": round(float(diff.mean()), 4),
                              "ci": [round(x, 4) for x in interval(diff)]}
    diff = ndcg(ranker, heldout) - ndcg(fusion, heldout)
    out["truth"] = {"n": int(len(diff)), "mean": round(float(diff.mean()), 4),
                    "ci": [round(x, 4) for x in interval(diff)]}
    return out


def review_curve(judged: list, heldout: list, fusion: np.ndarray, sizes: list[int]) -> list[dict]:
    """How many reviews a ranker job needs: for each size, `DRAWS` seeded subsamples of the reviewed
    requests train the job's ranker (verdicts, boosted from fusion); its NDCG@10 gain over fusion on
    the held-out requests, and in how many draws the 95% interval of that gain lies above zero (the
    gate would pass) or below it."""
    from backend import ranker as ranking

    rows = []
    for size in sizes:
        if size > len(judged):
            continue
        gains, above, below = [], 0, 0
        for draw in range(DRAWS):
            sample = random.Random(draw).sample(judged, size)
            ranker = ranking.train([(as_candidates(pool), rel) for _, pool, rel in sample], [],
                                   prior=ranking.FEEDBACK_PRIOR)
            diff = score(ranker, heldout) - fusion
            low, high = interval(diff)
            gains.append(float(diff.mean()))
            above, below = above + (low > 0), below + (high < 0)
        rows.append({"reviews": size, "gain_mean": round(float(np.mean(gains)), 4),
                     "gain_min": round(min(gains), 4), "gain_max": round(max(gains), 4),
                     "above_zero": above, "below_zero": below, "draws": DRAWS})
    return rows


def bundle_lines(rec: dict, shown: int) -> list[str]:
    lines = [f"## {rec['bundle']}", "",
             f"Protocol `{rec['protocol']}`: {rec['reviewed_requests']} requests reviewed "
             f"({rec['review_actions']} simulated review actions on fusion shortlists of {shown}), "
             f"{rec['heldout_requests']} held-out requests scored; {rec['seconds']} s.", "",
             "| ranker | trained on (requests) | NDCG@10 [95% CI] |", "|---|---:|---|"]
    for name, row in rec["systems"].items():
        lines.append(f"| {name} | {row['train_queries'] or '–'} | {row['ndcg@10']:.3f} "
                     f"[{row['ci'][0]:.3f}, {row['ci'][1]:.3f}] |")
    lines += ["", "| comparison | difference [95% CI] |", "|---|---|"]
    for d in rec["differences"]:
        lines.append(f"| {d['a']} − {d['b']} | {d['mean']:+.3f} [{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}] |")
    gate = rec.get("verdict_gate")
    if gate:
        lines += ["", "The admin console's gate, simulated (NDCG@5 of the job's ranker against fusion), scored on:",
                  "", "| graded by | requests | candidate − fusion [95% CI] |", "|---|---:|---|"]
        labels = {"accepted items": "the last 30% of the reviews, their accepted items",
                  "with replacements": "the last 30%, with the replacements' items",
                  "cross-validated": f"every review, {FOLDS}-fold cross-validated, with replacements (the job's gate)",
                  "truth": "the held-out requests' ground truth (ranker of the first 70%)"}
        for name, label in labels.items():
            row = gate[name]
            lines.append(f"| {label} | {row['n']} | {row['mean']:+.3f} [{row['ci'][0]:+.3f}, {row['ci'][1]:+.3f}] |")
    if rec.get("curve"):
        lines += ["", "How many reviews (verdicts, boosted from fusion; seeded subsamples of the reviewed "
                  "requests; +0.000: fewer than 20 of them had an accepted item, so the ranker stays fusion):",
                  "", "| reviews | NDCG@10 gain over fusion, mean of draws (min … max) | interval above 0 "
                  "| below 0 |",
                  "|---:|---|---:|---:|"]
        for c in rec["curve"]:
            lines.append(f"| {c['reviews']} | {c['gain_mean']:+.3f} ({c['gain_min']:+.3f} … {c['gain_max']:+.3f}) | "
                         f"{c['above_zero']}/{c['draws']} | {c['below_zero']}/{c['draws']} |")
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundles", default=BUNDLES, help="comma-separated bundle directories")
    parser.add_argument("--per-client", type=int, default=2, help="val requests reviewed per client")
    parser.add_argument("--reviews", type=int, default=80, help="requests reviewed (`splits` protocol)")
    parser.add_argument("--shown", type=int, default=5, help="items on a reviewed shortlist")
    parser.add_argument("--curve", default="20,30,40,60",
                        help="review counts of the how-many-reviews table (comma-separated; empty: none)")
    parser.add_argument("--unjudged", choices=("zero", "drop"), default="zero",
                        help="candidates no associate judged: not relevant (zero) or left out (drop)")
    parser.add_argument("--out", default="docs/results")
    args = parser.parse_args()
    load_before = os.getloadavg()
    bundles = [bundle_record(path, args) for path in args.bundles.split(",")]
    record = {"created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "python bench/feedback_ranker.py " + " ".join(sys.argv[1:]),
              "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(), "bundles": bundles}
    out = Path(args.out)
    (out / "feedback-ranker.json").write_text(json.dumps(record, indent=1))
    lines = ["# Associates' verdicts as the ranker's training data (a catalogue without labelled requests)", "",
             f"Produced by `{record['command']}` ({record['created']}; load average "
             f"{record['load_before'][0]} → {record['load_after'][0]} on {record['cpus']} cores). NDCG@10 over "
             "the serving generator's candidates, 95% BCa intervals; protocol in the script's docstring; "
             "train and val splits only.", ""]
    for rec in bundles:
        lines += bundle_lines(rec, args.shown)
    from training.eval_report import write_keeping_notes

    write_keeping_notes(out / "feedback-ranker.md", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
