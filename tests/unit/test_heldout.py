"""The demo world's test split is honest: its wording is its own and no rule of the engine knows it.

1. Test queries use templates and small phrases (occasions, seasons, budgets, origins, branding,
   must-nots, items, things, beliefs...) that neither train nor val uses.
2. No phrase of the test pool appears in any .py / .json / .yaml file under backend/.
3. A fair share of test queries hold a content word that no file under backend/ contains.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from catalog.demo import generate_world
from catalog.demo.crafts import CRAFT_RULES
from catalog.demo.houses import COUNTRY_ADJECTIVE, HOUSES
from catalog.demo.needs import MISBELIEFS
from catalog.demo.phrasing import POOLS, SEED_TEMPLATE
from catalog.demo.places import PLACES
from catalog.demo.vocab import CATEGORIES, MATERIALS, MONTHS, OCCASIONS, PALETTE_OF

BACKEND = Path(__file__).resolve().parents[2] / "backend"
BACKEND_SUFFIXES = (".py", ".json", ".yaml", ".yml")
MIN_NOVEL_SHARE = 0.20
# Function words: never evidence that a request holds wording of its own.
STOPWORDS = set("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can cannot could did do does doing don down during each either else ever every few for
from further had has have having he her here hers herself him himself his how i if in into is it its itself
just least less let like may me might mine more most much must my myself neither no nor not now of off on
once one only or other ought our ours ourselves out over own per please quite rather same shall she should
since so some such than that the their theirs them themselves then there these they this those though
through to too under until up upon us very was we were what when where whether which while who whom whose
why will with within without would yet you your yours yourself yourselves ll ve re d s t m
""".split())
NUMBER_WORDS = set("""zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
thousand k""".split())


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=7)  # the seed of tests/conftest.py's small_world, at full size


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def fragments(text: str) -> set[str]:
    """The literal runs of a template or phrase, placeholders removed, cut at sentence punctuation,
    lower-cased; only those of at least 2 words or at least 10 characters."""
    out = set()
    for run in re.split(r"\{[^}]*\}|[.;:?!]", text):
        run = " ".join(run.split()).strip(" ,—-").lower()
        if len(run.split()) >= 2 or len(run) >= 10:
            out.add(run)
    return out


def small_phrases(pool: str) -> dict[str, set[str]]:
    """Field of `Wording` -> every string the pool holds there (templates apart)."""
    wording = POOLS[pool]
    out = {}
    for f in dataclasses.fields(wording):
        if f.name == "templates":
            continue
        value = getattr(wording, f.name)
        stack, strings = [value], set()
        while stack:
            v = stack.pop()
            if isinstance(v, str):
                strings.add(v)
            elif isinstance(v, dict):
                stack.extend(v.values())
            else:
                stack.extend(v)
        out[f.name] = strings
    return out


def frames(pool: str) -> set[str]:
    return {frame for pairs in POOLS[pool].templates.values() for _, frame in pairs}


def pool_wording(pool: str) -> set[str]:
    """Every template frame and small phrase of a pool."""
    return frames(pool) | set().union(*small_phrases(pool).values())


def test_fragments_drop_placeholders_and_keep_phrases_of_two_words_or_ten_characters():
    assert fragments("{Pron} has asked me to track down {item}{budget}. {extras}") == {"has asked me to track down"}
    assert fragments("Nothing in {m}.") == {"nothing in"}
    assert fragments("a {season} thing") == set()  # one short word on each side
    assert fragments("{b} euros; lightweight") == {"lightweight"}


# ----------------------------------------------------------------------------------------------
# 1. Disjoint templates and vocabularies


def test_test_queries_use_templates_no_other_split_uses(world):
    used = {"train": set(), "val": set(), "test": set()}
    for q in world.queries:
        used[q["split"]].add(world.template_ids[q["query_id"]])
    assert SEED_TEMPLATE not in used["test"]  # the engine's worked example is not a test query
    assert len(used["test"]) >= 30
    assert not used["test"] & (used["train"] | used["val"])
    assert not frames("test") & (frames("train") | frames("val"))


def test_test_small_phrases_are_disjoint_from_train_and_val():
    test, train, val = small_phrases("test"), small_phrases("train"), small_phrases("val")
    for name, phrases in test.items():
        assert phrases or name == "places", name
        assert not phrases & (train[name] | val[name]), name
    known = " \n ".join(pool_wording("train") | pool_wording("val")).lower()
    for text in pool_wording("test"):
        for fragment in fragments(text):
            assert fragment not in known, (text, fragment)


def test_every_wrong_belief_and_occasion_has_its_own_words_in_val_and_test():
    claims = {claim for _, claim, _, _ in MISBELIEFS}
    for pool in ("val", "test"):
        assert set(POOLS[pool].claims) == claims, pool
    for pool in POOLS:
        assert set(POOLS[pool].occasions) == set(OCCASIONS), pool


# ----------------------------------------------------------------------------------------------
# 2. No test phrase in backend/


def backend_text(root: Path) -> str:
    """Every .py / .json / .yaml file under `root`, lower-cased, whitespace collapsed, one string."""
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(root.rglob("*"))
             if p.suffix in BACKEND_SUFFIXES and p.is_file()]
    return " ".join(" ".join(texts).lower().split())


def leaked(root: Path) -> list[tuple[str, str]]:
    """(test-pool text, fragment of it) for every test-pool fragment found in the files under `root`."""
    text = backend_text(root)
    return sorted({(source, frag) for source in pool_wording("test") for frag in fragments(source) if frag in text})


def test_no_test_phrase_appears_in_backend():
    assert backend_text(BACKEND), "backend/ has no .py / .json / .yaml files to search"
    found = leaked(BACKEND)
    assert not found, f"{len(found)} test-split phrase(s) appear under backend/: {found[:5]}"


def test_the_leak_check_finds_a_planted_phrase(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "rules.py").write_text("WORDS = ('under', 'below')\n")
    assert not leaked(clean)
    source = sorted(POOLS["test"].occasions["gala"])[0]
    planted = tmp_path / "planted" / "data"
    planted.mkdir(parents=True)
    (planted / "lexicon.json").write_text('{"occasions": ["' + source.upper() + '"]}')
    assert [frag for _, frag in leaked(planted.parent)] == sorted(fragments(source))


# ----------------------------------------------------------------------------------------------
# 3. Wording no rule was written for


def world_names() -> set[str]:
    """Words of the world's own names (houses, places, countries, categories, colours, materials,
    crafts, months, occasions): slot values every split shares, not wording of the test pool."""
    names = [h.name for h in HOUSES] + list(PLACES) + list(COUNTRY_ADJECTIVE) + list(COUNTRY_ADJECTIVE.values())
    names += [f"{k} {c.phrase}" for k, c in CATEGORIES.items()] + list(PALETTE_OF) + list(MATERIALS)
    names += list(CRAFT_RULES) + [m for months in MONTHS.values() for m in months] + list(OCCASIONS)
    names += ["fall", "autumn", "the uk", "the us", "the uae"]
    return set().union(*(_words(n) for n in names))


def _known(word: str, vocabulary: set[str]) -> bool:
    """Whether the word, or a plain inflection of it, is in the vocabulary."""
    stems = {word} | {word[: -len(s)] for s in ("s", "es", "ed", "d", "ing", "ly", "er", "est") if word.endswith(s)}
    return any(s in vocabulary or s + "s" in vocabulary or s + "e" in vocabulary for s in stems if len(s) >= 3) \
        or word in vocabulary


def novel_words(text: str, vocabulary: set[str], ignored: set[str]) -> set[str]:
    """Content words of a request that the vocabulary lacks: stopwords, numbers, the world's names and
    capitalised words inside a sentence (names of people, places, works) do not count."""
    proper = {w.lower() for w in re.findall(r"(?<![.?!:;]\s)(?<!^)\b[A-Z][a-z]+", text)}
    words = _words(text) - STOPWORDS - NUMBER_WORDS - ignored - proper
    return {w for w in words if len(w) > 2 and not _known(w, vocabulary)}


def test_novel_words_ignore_known_words_names_and_inflections():
    vocabulary = {"wedding", "guest", "invite"}
    text = "My sister, Clara, invited her guests to a wedding in Tuscany; gorgeous hills."
    assert novel_words(text, vocabulary, world_names()) == {"sister", "gorgeous", "hills"}


def test_a_fifth_of_test_queries_hold_words_no_backend_file_contains(world):
    vocabulary = _words(backend_text(BACKEND))
    ignored = world_names()
    test = [q for q in world.queries if q["split"] == "test"]
    novel = [novel_words(q["text"], vocabulary, ignored) for q in test]
    share = sum(bool(n) for n in novel) / len(test)
    print(f"\n{share:.1%} of {len(test)} test queries hold a content word no file under backend/ contains")
    assert share >= MIN_NOVEL_SHARE
