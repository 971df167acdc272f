"""Refusals on hand-written probes for catalogues whose train/val splits hold no impossible request.

    python bench/refusal_probes.py [--probes bench/probes/refusals.jsonl] [--out docs/results/refusal-probes.md]
                                   [--counts-only]

Sephora's and Maison Home's train/val splits have only answerable requests, so a refusal rule cannot be
built or checked on them; their impossible requests are all in the test split. `bench/probes/refusals.jsonl`
is a development set written for that gap, in our own words and without reading the test requests: for each
catalogue, requests it cannot answer (a kind it does not sell, a house that does not make the kind, a price
below anything of the kind) and answerable ones worded alike, each with why (checked against the items'
titles, houses and prices). The generator of `concierge eval`'s `retrieval` system (scratch stores, the
bundle's ranker) says nothing fits or answers; the table counts right and wrong answers per catalogue.
Being written by the people who write the rules, it is a development set, not a held-out one.

`bench/probes/refusals-check.jsonl` is a second set (demo, Sephora, Maison Home: 36 impossible, 36
answerable) written on 2026-12-02 after the kind rule (`backend.objects`) was built and run once as it
stood, to see how the rules carry to wording they were not made on; after that run it is development
data too. `refusals-check2.jsonl` (124 requests, written by a helper session that read only the items)
had the same life: run once, then built on. `refusals-check3.jsonl` (150) is sealed: nobody tuning the
engine has read it; run it with `--counts-only`, which leaves the requests out
(`docs/results/refusal-probes-check3.md`). It was used once, counts only, to choose between changes, so
it too is no longer fully held out. `refusals-check4.jsonl` (170, written the same way on 2026-12-02) is a
sealed set (`docs/results/refusal-probes-check4.md`), read twelve times; `refusals-check5.jsonl` (120) was read
once held out and is development data now; `refusals-check6.jsonl` (120, written the same way on 2026-12-03)
is the freshest sealed set (`docs/results/refusal-probes-check6.md`). `refusals-newcats.jsonl` (108, on the
wine merchant and cycling shop of `bench/catalogues/`, written the same way on 2026-12-04) was read once held
out and is development data now (`docs/results/refusal-probes-newcats.md`); so is `refusals-check7.jsonl` (110:
demo, Maison Home and atelier, written the same way on 2026-12-05; `docs/results/refusal-probes-check7.md`) and
`refusals-check8.jsonl` (110, the same catalogues, written the same way later that day, read twice held out with
`--counts-only`; `docs/results/refusal-probes-check8.md`). Each
table is followed by refused / total per kind of request (the first word of a line's `why`: out-of-catalogue,
price, house-range, contradiction, or answerable) — counts only, so a sealed set may print it.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=Path, default=Path("bench/probes/refusals.jsonl"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--counts-only", action="store_true",
                        help="leave the requests out of the output (for a sealed set: refusals-check3.jsonl)")
    args = parser.parse_args()

    from backend.settings import Settings
    from catalog.bundle import read_bundle
    from training.eval_stores import scratch_stores
    from training.systems import EvalWorld, ServingRetrieval

    probes = [json.loads(line) for line in args.probes.read_text().splitlines() if line.strip()]
    by_bundle = defaultdict(list)
    for probe in probes:
        by_bundle[probe["bundle"]].append(probe)
    load = os.getloadavg()[0]
    kind = "a sealed set: counts only" if args.counts_only else "a development set"
    lines = [f"# Refusals on hand-written probes ({kind})", "",
             f"    python bench/refusal_probes.py --probes {args.probes}", "",
             f"Load average at the start: {load:.1f}. See the script's docstring for what the set is.", "",
             "| catalogue | impossible refused | answerable refused |", "|---|---:|---:|"]
    misses, by_type = [], defaultdict(lambda: [0, 0])  # (catalogue, kind of request) -> [refused, total]
    for path, rows in by_bundle.items():
        bundle, report = read_bundle(path)  # the catalogue is enough: nothing here is scored against queries
        if report.problems:
            print(f"warning: {report.n_bad} bad row(s) in {path} skipped")
        generator = ServingRetrieval(EvalWorld(bundle, scratch_stores(bundle, False, False, Settings()), 0))
        counts = {True: [0, 0], False: [0, 0]}  # impossible? -> [refused, total]
        for probe in rows:
            parsed, _, pool = generator.candidates({"text": probe["text"], "client_id": None}, None, 10)
            refused = not pool
            counts[probe["impossible"]][0] += refused
            counts[probe["impossible"]][1] += 1
            kind = probe["why"].split(":")[0].strip() if probe["impossible"] else "answerable"
            by_type[bundle.name, kind][0] += refused
            by_type[bundle.name, kind][1] += 1
            if refused != probe["impossible"]:
                misses.append(f"- {bundle.name}: {probe['text']!r} ({probe['why']}) -> "
                              f"{parsed.impossible or 'answered'}")
        lines.append(f"| {bundle.name} | {counts[True][0]} / {counts[True][1]} | "
                     f"{counts[False][0]} / {counts[False][1]} |")
    if args.counts_only:
        misses = [f"- {len(misses)} wrong answers; the requests are left out (`--counts-only`)"]
    lines += ["", "By kind of request (the first word of each line's `why`; refused / total):", "",
              "| catalogue | kind | refused |", "|---|---|---:|"]
    lines += [f"| {name} | {kind} | {n} / {total} |" for (name, kind), (n, total) in sorted(by_type.items())]
    lines += ["", "Wrong answers:", ""] + (misses or ["- none"]) + [""]
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
