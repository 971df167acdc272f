"""Does a learned reading of a category mention's context beat the rules at "asked for, or only mentioned"?

    python bench/asked_mentions.py --probes bench/probes/refusals-check{2,5,7,8,9,10}.jsonl \
        bench/probes/refusals-newcats.jsonl --held refusals-check10.jsonl [--out docs/results/asked-mentions.md]

The blind probe sets' misses are mostly one class: a thing the client already has, named beside the thing
asked for ("I have a suede bag from Kingsley Ward and would love short boots"), read as asked for. The rules
that decide it (`backend.understand._owned`: owner words, possession verbs, companion cues, purposes, a
category word that modifies another) grow one phrasing at a time. This measures the alternative the
numbers pointed to: a classifier over each category mention's context.

Each request of the probe files is read against its catalogue (the serving reader's mentions); every category
mention that is not negated becomes a row, labelled from the line's `why`: asked for when the mention's
category is that of the item ids the line names, or shares a word with the kind it states ("kind = trench
coat", "no belt from it"); only mentioned otherwise. Lines whose `why` names neither (most out-of-catalogue
lines) give no rows. Features: the MiniLM embedding of the mention's context (up to eight words before it and
five after, within its sentence, the mention itself replaced by "thing"), the rules' own reading, whether a
possession verb covers it, whether it modifies another category, its sentence's index and its place in the
request. Logistic regression (scikit-learn, balanced classes) is trained leaving one probe file out at a time,
never on a `--held` file; the table gives, per file, how often the rules and the classifier are right.

Labels from `why` are noisy (a synonym the `why` does not share a word with reads as "mentioned"), so both
readers are scored against the same noise; a file whose labels are unusable (the first set's `why` is free
text) should be left out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONTEXT_BEFORE, CONTEXT_AFTER = 8, 5  # words of the mention's sentence kept on each side
ITEM_ID = re.compile(r"\b(dm-\d+|mh-\d+|at-\d+|P\d{4,}|LC\d+|[A-Z]{2,3}-?\d{3,})\b")
KIND_SAID = (re.compile(r"kind = ([^(;]+)"), re.compile(r"\bno ([\w /'-]+?) from it"))
GENERIC = frozenset({"item", "items", "kind", "thing", "piece", "pair", "set", "one"})
C_VALUES = (0.3, 1.0, 3.0)  # inverse regularisation strengths tried; each is reported, none is picked on `--held`


def asked_label(row: dict, catalogue) -> tuple[set[str], set[str]] | None:
    """The category nodes (from the item ids) and stemmed words (from "kind = ...") that `why` says are asked
    for, or None when it says neither."""
    from backend.vocabulary import stem, words

    why, graphs = row.get("why", ""), catalogue.graphs
    nodes = {n for i in ITEM_ID.findall(why) if i in graphs.items for n in graphs.item_nodes.get(i, ())
             if n.startswith(("category=", "category_group="))}
    said = next((m.group(1) for pattern in KIND_SAID for m in [pattern.search(why)] if m), None)
    if said is None and not row["impossible"] and not nodes:
        said = why  # an answerable line's free text ("blazers")
    kind_words = {stem(w) for w in words(said)} - GENERIC if said else set()
    return (nodes, kind_words) if nodes or kind_words else None


def mention_rows(rows: list[dict], catalogue) -> list[dict]:
    """One row per category mention of each labelled request (see the module docstring)."""
    from backend.understand import category_mentions
    from backend.vocabulary import stem, words

    out = []
    for row in rows:
        label = asked_label(row, catalogue)
        if label is None:
            continue
        for m in category_mentions(row["text"], catalogue.vocabulary, catalogue.knowledge):
            said = {stem(w) for n in m["nodes"] for w in words(n.split("=", 1)[1])} | {stem(w) for w in words(m["words"])}
            out.append({"set": row["set"], "low": m["low"], "start": m["start"], "end": m["end"],
                        "asked": bool(set(m["nodes"]) & label[0] or said & label[1]),
                        "rule_asked": not m["only_mentioned"], "had": m["had"], "modifier": m["modifier"]})
    return out


def context(row: dict) -> str:
    """The mention's sentence around it, the mention replaced by "thing"."""
    low, word = row["low"], re.compile(r"[\w'-]+")
    start = max(low.rfind(c, 0, row["start"]) for c in ".!?;") + 1
    after = low[row["end"]:]
    stop = min([i for i in (after.find(c) for c in ".!?;") if i >= 0] + [len(after)])
    return " ".join(word.findall(low[start:row["start"]])[-CONTEXT_BEFORE:] + ["thing"]
                    + word.findall(after[:stop])[:CONTEXT_AFTER])


def features(rows: list[dict], embed_fn) -> np.ndarray:
    """(rows, d + 5): the context's embedding and five scalars (see the module docstring)."""
    vectors = np.asarray(embed_fn([context(r) for r in rows]), dtype=np.float32)
    scalars = [[float(r["rule_asked"]), float(r["had"]), float(r["modifier"]),
                min(len(re.findall(r"[.!?;]\s", r["low"][:r["start"]])), 3) / 3, r["start"] / max(1, len(r["low"]))]
               for r in rows]
    return np.hstack([vectors, np.asarray(scalars, dtype=np.float32)])


def parse_readings(path: str, rows: list[dict]) -> np.ndarray:
    """`bench/parse_mentions.py`'s reading of each row (asked for?), matched by request and offset."""
    readings = {}
    for line in open(path, encoding="utf-8"):
        r = json.loads(line)
        readings[r["set"], r["low"], r["start"]] = r["parse_asked"]
    missing = [r for r in rows if (r["set"], r["low"], r["start"]) not in readings]
    if missing:
        raise SystemExit(f"{len(missing)} mention(s) have no parse reading in {path}: dump the rows again")
    return np.array([readings[r["set"], r["low"], r["start"]] for r in rows])


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    from backend.live import embed
    from backend.settings import Settings
    from catalog.bundle import read_bundle
    from training.eval_stores import scratch_stores
    from training.systems import EvalWorld, ServingRetrieval

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", nargs="+", required=True)
    parser.add_argument("--held", nargs="*", default=[], help="probe file names never trained on")
    parser.add_argument("--out", default="docs/results/asked-mentions.md")
    parser.add_argument("--dump-rows", default=None,
                        help="write the labelled mentions as JSON lines for bench/parse_mentions.py, and stop")
    parser.add_argument("--parse-readings", default=None,
                        help="bench/parse_mentions.py's output: adds the parse's reading as a third reader")
    args = parser.parse_args()
    started, load = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.getloadavg()[0]
    by_bundle: dict[str, list[dict]] = defaultdict(list)
    for path in args.probes:
        for line in open(path, encoding="utf-8"):
            row = json.loads(line)
            row["set"] = os.path.basename(path)
            by_bundle[row["bundle"]].append(row)
    rows = []
    for path, probes in by_bundle.items():
        bundle, _ = read_bundle(path)
        generator = ServingRetrieval(EvalWorld(bundle, scratch_stores(bundle, False, False, Settings()), 0))
        generator.candidates({"text": "a scarf", "client_id": None}, None, 10)  # builds the live catalogue
        rows += mention_rows(probes, generator.catalogue)
    if args.dump_rows:
        with open(args.dump_rows, "w", encoding="utf-8") as f:
            keys = ("set", "low", "start", "end", "asked", "rule_asked")
            f.writelines(json.dumps({k: r[k] for k in keys}) + "\n" for r in rows)
        print(f"{len(rows)} mentions -> {args.dump_rows}")
        return
    parse = parse_readings(args.parse_readings, rows) if args.parse_readings else None
    settings = Settings()
    X = features(rows, lambda texts: embed(texts, settings))
    y = np.array([r["asked"] for r in rows])
    rule = np.array([r["rule_asked"] for r in rows])
    sets = np.array([r["set"] for r in rows])
    held = set(args.held)
    lines = [f"Run {started} (load {load:.1f} at the start): {len(rows)} category mentions, "
             f"{y.mean():.0%} labelled asked for; held (never trained on): {', '.join(sorted(held)) or 'none'}.", "",
             "| C | probe file | mentions | rules right | learned right | mentioned read as asked (rules / learned) "
             "| asked read as mentioned (rules / learned) |", "|---|---|---:|---:|---:|---:|---:|"]
    if parse is not None:
        lines[-2:] = ["| C | probe file | mentions | rules right | learned right | parse right | mentioned read as "
                      "asked (rules / learned / parse) | asked read as mentioned (rules / learned / parse) |",
                      "|---|---|---:|---:|---:|---:|---:|---:|"]
    for c in C_VALUES:
        for name in sorted(set(sets)):
            test = sets == name
            train = ~test & ~np.isin(sets, sorted(held - {name}))
            pred = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(X[train], y[train]).predict(
                X[test])
            if parse is None:
                lines.append(f"| {c} | {name} | {test.sum()} | {np.sum(rule[test] == y[test])} | "
                             f"{np.sum(pred == y[test])} | {np.sum(rule[test] & ~y[test])} / "
                             f"{np.sum(pred & ~y[test])} | {np.sum(~rule[test] & y[test])} / "
                             f"{np.sum(~pred & y[test])} |")
                continue
            got = parse[test]
            lines.append(f"| {c} | {name} | {test.sum()} | {np.sum(rule[test] == y[test])} | "
                         f"{np.sum(pred == y[test])} | {np.sum(got == y[test])} | {np.sum(rule[test] & ~y[test])} / "
                         f"{np.sum(pred & ~y[test])} / {np.sum(got & ~y[test])} | {np.sum(~rule[test] & y[test])} / "
                         f"{np.sum(~pred & y[test])} / {np.sum(~got & y[test])} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "a", encoding="utf-8") as f:
        f.write("\n    python bench/asked_mentions.py --probes " + " ".join(args.probes)
                + (" --held " + " ".join(args.held) if args.held else "") + "\n\n" + text)


if __name__ == "__main__":
    main()
