"""How the engine's reading of "what is asked for" meets the words a set's author marked as asked.

    python bench/asked_labels.py bench/probes/refusals-check13.jsonl [more sets ...]

Checks 13-15 carry, per line, `asked`: the words of the request that name the thing asked for, written by the
set's author. For each line this reads the request with `backend.understand.understand` against its catalogue
and counts, by answerable / impossible, (a) lines where the label's last word (its head, stemmed) is the last
word of one of the query's asked phrases or of a category it names, and (b) lines with an asked phrase whose
head is another word — a phrase the engine may take for what is asked, the refusal rules' usual way to answer
an impossible request ("held to its limits, a phrase that names no kind may be what is asked for") or refuse
an answerable one. (b) is an upper bound on such errors: an extra phrase may also be harmless ("a gift").
Counts only: no request text is printed, so a sealed set can be read. A set without the field takes its labels
from `bench/probes/asked/<its file name>` (the development sets, labelled by helper sessions line for line:
`{"text", "asked"}`); a label naming two things ("scarf | gloves") counts when either head is read.
"""

import argparse
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    from backend.index import embed
    from backend.knowledge import load_knowledge
    from backend.understand import understand
    from backend.vocabulary import build_vocabulary, phrase_key
    from catalog.bundle import read_bundle

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probes", nargs="+")
    args = parser.parse_args()
    knowledge, vocabularies = load_knowledge(), {}
    for path in args.probes:
        counts: dict[str, Counter] = defaultdict(Counter)
        rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
        labelled = Path(path).parent / "asked" / Path(path).name
        if "asked" not in rows[0] and labelled.exists():
            labels = [json.loads(line) for line in open(labelled, encoding="utf-8") if line.strip()]
            assert [r["text"] for r in rows] == [r["text"] for r in labels], f"{labelled} does not follow {path}"
            rows = [{**row, "asked": label["asked"]} for row, label in zip(rows, labels)]
        for row in rows:
            if row["bundle"] not in vocabularies:
                vocabularies[row["bundle"]] = build_vocabulary(read_bundle(row["bundle"])[0].items, knowledge, embed)
            query = understand(row["text"], vocabularies[row["bundle"]], knowledge, embed)
            labels = [phrase_key(part).split()[-1:] for part in row["asked"].split(" | ")]
            heads = [phrase_key(p).split()[-1:] for p in query.asked if phrase_key(p)]
            named = [phrase_key(n.split("=", 1)[1]).split()[-1:] for n in query.categories]
            side = counts["impossible" if row["impossible"] else "answerable"]
            side["lines"] += 1
            side["label's head read as asked"] += any(head in heads or head in named for head in labels)
            side["lines with another asked phrase"] += any(h not in labels for h in heads)
        for side, c in sorted(counts.items()):
            print(f"{path} {side}: " + ", ".join(f"{k} {v}" for k, v in c.items()))


if __name__ == "__main__":
    main()
