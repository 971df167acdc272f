"""MovieLens-100k with its knowledge graph, as a bundle (a public benchmark nobody here wrote).

The data ships inside the PyPI wheel of `recbole` (`recbole/dataset_example/ml-100k/`, RecBole's
atomic files): `ml-100k.inter` (user, item, rating 1..5, Unix time), `ml-100k.item` (title, release
year, genres), `ml-100k.user` (age, gender, occupation, zip), `ml-100k.kg` (Freebase triples) and
`ml-100k.link` (item -> Freebase entity). The wheel is fetched once at prepare time with
`pip download --no-deps` into `var/cache/` (`ensure_wheel`); recbole itself is never installed, and
nothing is downloaded while converting or testing.

The bundle:
- items: `ml-<id>`, the title, category `film`, a description naming year and genres, and as
  attributes the genres, year, decade and every `film.film.*` relation of the graph under a short
  key (`director`, `actor`, `writer`, `language`, `country`, ...). Graph values are Freebase ids
  (the dump has no names), except films, which become item ids, and the few ids in `ENTITY_NAMES`.
- clients: `u-<id>` with age, gender and occupation.
- queries, leave-last-out over *liked* items (rating >= 4): per user the last liked item is the
  `test` target, the one before it the `val` target (and optionally one more for `train`). The
  request is written from the target's own attributes, never its title, as RecBench+'s condition
  queries are: its genres (and, now and then, its country), its era, plus up to two graph facts told
  through *other* films ("by the director of Heat"). The relevant set is the target alone (grade 3
  for a 5, 2 for a 4). The query type is the number of conditions (`conditions-1` .. `conditions-5`).
- interactions: each user's ratings before their earliest target, so no target is in any history.
  The manifest asks evaluations to leave out items the user already rated (`eval.exclude_seen`).
"""

from __future__ import annotations

import io
import random
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from catalog.bundle import Bundle, ValidationReport, clean_item, keep_unique, write_bundle
from catalog.errors import ConciergeError

RECBOLE_VERSION = "1.2.1"
WHEEL_DIR = "recbole/dataset_example/ml-100k/"
FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user", "ml-100k.kg", "ml-100k.link")
LIKED = 4.0  # a rating at or above this makes an item a possible target
RELATIONS = {  # film.film.<relation> -> attribute key
    "directed_by": "director", "actor": "actor", "written_by": "writer", "produced_by": "producer",
    "cinematography": "cinematographer", "production_companies": "production_company", "language": "language",
    "country": "country", "rating": "content_rating", "subjects": "subject", "genre": "kg_genre",
    "award_nomination": "award_nomination", "award_won": "award_won", "sequel": "sequel", "prequel": "prequel",
}
# The few Freebase ids whose names are certain; the most frequent language and country ids of the dump.
ENTITY_NAMES = {
    "m.02h40lc": "English", "m.064_8sq": "French", "m.06nm1": "Spanish",
    "m.09c7w0": "USA", "m.07ssc": "UK", "m.0f8l9c": "France",
}
COUNTRY_WORDS = {"USA": "an American", "UK": "a British", "France": "a French"}
OPENINGS = ("I'm looking for {}.", "Can you recommend {}?", "I'd like to watch {}.", "Any suggestions for {}?",
            "Find me {}.", "I'm in the mood for {}.")


# ----------------------------------------------------------------------------------------------
# Finding the files


def ensure_wheel(cache_dir: str | Path, download: bool = True) -> Path:
    """The recbole wheel in `cache_dir`, downloaded there (PyPI, `pip download --no-deps`) if missing.

    Args:
        cache_dir (`str | Path`): where wheels are kept, e.g. `var/cache`.
        download (`bool`): fetch it when absent; False raises instead (tests, offline runs).

    Returns:
        `Path`: the wheel file.

    Raises:
        `ConciergeError`: no wheel and `download` is False, or pip failed.
    """
    cache = Path(cache_dir)
    found = sorted(cache.glob("recbole-*.whl"))
    if found:
        return found[-1]
    if not download:
        raise ConciergeError(f"no recbole wheel in {cache}; run `pip download --no-deps recbole=={RECBOLE_VERSION} "
                             f"-d {cache}` (or prepare with download on)")
    cache.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"recbole=={RECBOLE_VERSION}",
               "-d", str(cache)]
    done = subprocess.run(command, capture_output=True, text=True)
    found = sorted(cache.glob("recbole-*.whl"))
    if done.returncode != 0 or not found:
        raise ConciergeError(f"could not download the recbole wheel into {cache}: {done.stderr.strip()[-300:]}")
    return found[-1]


def read_files(source: str | Path) -> dict[str, str]:
    """The five atomic files' text, from a recbole wheel or from a directory holding them.

    Args:
        source (`str | Path`): a `recbole-*.whl`, or a directory with `ml-100k.inter` etc.

    Returns:
        `dict[str, str]`: file name -> text.
    """
    source = Path(source)
    if source.is_dir():
        missing = [name for name in FILES if not (source / name).is_file()]
        if missing:
            raise ConciergeError(f"{source} lacks {', '.join(missing)} (the ml-100k atomic files)")
        return {name: (source / name).read_text(encoding="utf-8", errors="replace") for name in FILES}
    if not zipfile.is_zipfile(source):
        raise ConciergeError(f"{source} is neither a directory of ml-100k files nor a recbole wheel")
    with zipfile.ZipFile(source) as wheel:
        names = set(wheel.namelist())
        missing = [name for name in FILES if WHEEL_DIR + name not in names]
        if missing:
            raise ConciergeError(f"{source} has no {WHEEL_DIR}{missing[0]}; is it a recbole wheel?")
        return {name: io.TextIOWrapper(wheel.open(WHEEL_DIR + name), encoding="utf-8", errors="replace").read()
                for name in FILES}


def atomic_rows(text: str) -> list[list[str]]:
    """Rows of a RecBole atomic file (tab-separated, a typed header line first), header dropped."""
    lines = [line for line in text.splitlines() if line.strip()]
    return [line.split("\t") for line in lines[1:]]


# ----------------------------------------------------------------------------------------------
# Items, users, ratings


def graph_facts(kg_text: str, link_text: str) -> dict[str, dict[str, list[str]]]:
    """Item id -> attribute key -> values, from the `film.film.*` triples of linked films.

    Tails that are themselves linked films become item ids (`ml-<id>`); the ids in `ENTITY_NAMES` become
    names; every other tail stays a Freebase id.
    """
    entity_item = {row[1]: f"ml-{row[0]}" for row in atomic_rows(link_text) if len(row) >= 2}
    facts: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in atomic_rows(kg_text):
        if len(row) < 3 or row[0] not in entity_item or not row[1].startswith("film.film."):
            continue
        key = RELATIONS.get(row[1].removeprefix("film.film."))
        if key is None:
            continue
        value = entity_item.get(row[2]) or ENTITY_NAMES.get(row[2], row[2])
        values = facts[entity_item[row[0]]][key]
        if value not in values:
            values.append(value)
    return facts


def display_title(title: str) -> str:
    """MovieLens files a leading article at the end ("Wizard of Oz, The"); put it back in front."""
    match = re.fullmatch(r"(.+), (The|A|An|Les|Le|La|L'|Il|El|Das|Der|Die)", title.strip())
    if not match:
        return title.strip()
    joiner = "" if match.group(2).endswith("'") else " "
    return f"{match.group(2)}{joiner}{match.group(1)}"


def make_items(item_text: str, facts: dict[str, dict[str, list[str]]]) -> list[dict]:
    """Item rows (bundle format) from `ml-100k.item` and the graph facts."""
    items = []
    for row in atomic_rows(item_text):
        if len(row) < 2 or not row[1].strip():
            continue
        item_id = f"ml-{row[0]}"
        year = row[2].strip() if len(row) > 2 and row[2].strip().isdigit() else ""
        genres = [g for g in (row[3].split() if len(row) > 3 else []) if g != "unknown"]
        attributes = {"genre": genres, **{k: v for k, v in facts.get(item_id, {}).items()}}
        if year:
            attributes |= {"year": year, "decade": f"{year[:3]}0s"}
        described = f"A {year + ' ' if year else ''}{' / '.join(g.lower() for g in genres) or 'feature'} film."
        items.append({"item_id": item_id, "title": display_title(row[1]), "category": "film",
                      "description": described, "attributes": attributes})
    return items


def make_clients(user_text: str) -> list[dict]:
    """Client rows from `ml-100k.user` (age, gender, occupation kept as profile fields)."""
    clients = []
    for row in atomic_rows(user_text):
        if not row or not row[0].strip():
            continue
        profile = dict(zip(("age", "gender", "occupation"), row[1:4]))
        clients.append({"client_id": f"u-{row[0]}", "name": f"MovieLens user {row[0]}", "notes": [],
                        "stated_preferences": {}, **profile})
    return clients


@dataclass
class Rating:
    client_id: str
    item_id: str
    value: float
    time: int
    order: int  # position in the file, to break ties of equal timestamps


def read_ratings(inter_text: str, item_ids: set[str], client_ids: set[str]) -> dict[str, list[Rating]]:
    """Each user's ratings of known items, oldest first (file order breaks timestamp ties)."""
    by_user: dict[str, list[Rating]] = defaultdict(list)
    for order, row in enumerate(atomic_rows(inter_text)):
        if len(row) < 4:
            continue
        client_id, item_id = f"u-{row[0]}", f"ml-{row[1]}"
        if item_id in item_ids and client_id in client_ids:
            by_user[client_id].append(Rating(client_id, item_id, float(row[2]), int(float(row[3])), order))
    for ratings in by_user.values():
        ratings.sort(key=lambda r: (r.time, r.order))
    return by_user


def iso(unix_time: int) -> str:
    return datetime.fromtimestamp(unix_time, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ----------------------------------------------------------------------------------------------
# Leave-last-out queries


def held_out(ratings: list[Rating], splits: tuple[str, ...]) -> list[tuple[str, int]]:
    """(split, index into `ratings`) of the targets: the last liked rating for the first split, the liked
    rating before it for the next, and so on; fewer when the user liked fewer items."""
    liked = [i for i, r in enumerate(ratings) if r.value >= LIKED]
    return [(split, index) for split, index in zip(splits, reversed(liked))]


@dataclass
class FilmIndex:
    """What the query writer needs: items by id, and for each (key, value) the films that have it."""

    items: dict[str, dict]
    films_with: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, items: list[dict]) -> "FilmIndex":
        films_with: dict[tuple[str, str], list[str]] = defaultdict(list)
        for item in items:
            for key in ("director", "actor", "writer"):
                for value in item["attributes"].get(key, []):
                    films_with[(key, value)].append(item["item_id"])
        return cls({it["item_id"]: it for it in items}, dict(films_with))

    def other_film(self, rng: random.Random, key: str, item: dict) -> str | None:
        """The title of another film sharing a `key` (director, actor, writer) with `item`, or None."""
        options = sorted({other for value in item["attributes"].get(key, [])
                          for other in self.films_with.get((key, value), []) if other != item["item_id"]})
        return self.items[rng.choice(options)]["title"] if options else None


def genre_phrase(genres: list[str]) -> str:
    words = [g.lower() for g in genres[:2]] or ["feature"]
    return " and ".join(words) + " film"


def era_phrase(rng: random.Random, item: dict) -> str | None:
    year = item["attributes"].get("year")
    if not year:
        return None
    return f"from the {item['attributes']['decade']}" if rng.random() < 0.6 else f"released in {year}"


def graph_conditions(rng: random.Random, item: dict, films: FilmIndex) -> list[str]:
    """Facts from the knowledge graph that can be said without naming the film, in random order."""
    said = []
    for key, template in (("director", "by the director of {}"), ("actor", "starring someone from the cast of {}"),
                          ("writer", "written by the writer of {}")):
        title = films.other_film(rng, key, item)
        if title:
            said.append(template.format(title))
    attributes = item["attributes"]
    if attributes.get("award_won"):
        said.append("that won an award")
    languages = [v for v in attributes.get("language", []) if v in ENTITY_NAMES.values() and v != "English"]
    if languages:
        said.append(f"in {languages[0]}")
    rng.shuffle(said)
    return said


def query_text(rng: random.Random, item: dict, films: FilmIndex) -> tuple[str, int]:
    """A request for `item` from its attributes, never its title; and how many conditions it states."""
    attributes = item["attributes"]
    countries = [v for v in attributes.get("country", []) if v in COUNTRY_WORDS]
    subject = genre_phrase(attributes.get("genre", []))
    national = bool(countries) and rng.random() < 0.3
    subject = f"{COUNTRY_WORDS[countries[0]]} {subject}" if national else f"a {subject}"
    if subject.startswith("a ") and subject[2] in "aeiou":
        subject = "an " + subject[2:]
    parts = [subject]
    era = era_phrase(rng, item)
    if era:
        parts.append(era)
    extra = graph_conditions(rng, item, films)[:rng.randint(0, 2)]
    parts += extra
    return rng.choice(OPENINGS).format(", ".join(parts)), len(parts) + national


def make_queries(ratings: dict[str, list[Rating]], items: list[dict], splits: tuple[str, ...],
                 seed: int) -> tuple[list[dict], dict[str, int]]:
    """The queries, and per user the index of their earliest target (their history ends before it)."""
    films = FilmIndex.build(items)
    queries, cut = [], {}
    for client_id in sorted(ratings, key=lambda c: int(c.removeprefix("u-"))):
        user = ratings[client_id]
        targets = held_out(user, splits)
        if not targets:
            continue
        cut[client_id] = min(index for _, index in targets)
        for split, index in targets:
            target = user[index]
            rng = random.Random(f"ml-100k/{seed}/{client_id}/{split}")
            text, conditions = query_text(rng, films.items[target.item_id], films)
            queries.append({"query_id": f"{client_id}-{split}", "client_id": client_id, "text": text,
                            "timestamp": iso(target.time), "split": split, "type": f"conditions-{conditions}",
                            "relevant": {target.item_id: 3 if target.value >= 5 else 2}})
    return queries, cut


def history(ratings: dict[str, list[Rating]], cut: dict[str, int]) -> list[dict]:
    """Interaction rows: each user's ratings before their earliest target (all of them if they have none)."""
    rows = []
    for client_id, user in ratings.items():
        for rating in user[:cut.get(client_id, len(user))]:
            rows.append({"client_id": client_id, "item_id": rating.item_id, "timestamp": iso(rating.time),
                         "kind": "rating", "value": rating.value})
    return rows


def movielens_bundle(source: str | Path, train_queries: bool = False, max_users: int | None = None,
                     seed: int = 0) -> tuple[Bundle, ValidationReport]:
    """MovieLens-100k as a bundle.

    Args:
        source (`str | Path`): a recbole wheel (see `ensure_wheel`) or a directory of the atomic files.
        train_queries (`bool`): also hold out a third liked item per user as a `train` query.
        max_users (`int`, *optional*): keep only the first users by id (a smaller benchmark).
        seed (`int`): seeds the wording of the requests.

    Returns:
        `tuple[Bundle, ValidationReport]`: the bundle, and the items the bundle reader would reject.
    """
    files = read_files(source)
    report = ValidationReport()
    rows = make_items(files["ml-100k.item"], graph_facts(files["ml-100k.kg"], files["ml-100k.link"]))
    items = keep_unique(list(enumerate(rows, start=2)), "item_id", clean_item, "ml-100k.item", report)
    clients = make_clients(files["ml-100k.user"])
    if max_users is not None:
        clients = sorted(clients, key=lambda c: int(c["client_id"].removeprefix("u-")))[:max_users]
    ratings = read_ratings(files["ml-100k.inter"], {it["item_id"] for it in items},
                           {c["client_id"] for c in clients})
    splits = ("test", "val", "train") if train_queries else ("test", "val")
    queries, cut = make_queries(ratings, items, splits, seed)
    manifest = {"name": "ml-100k" if max_users is None else f"ml-100k-{max_users}u", "version": RECBOLE_VERSION,
                "created": "1998-04-23T00:00:00Z", "currency": "USD",
                "source": f"MovieLens-100k (GroupLens) with Freebase links, from recbole {RECBOLE_VERSION}",
                "eval": {"exclude_seen": True}}
    return Bundle(manifest, items, clients, history(ratings, cut), queries), report


# ----------------------------------------------------------------------------------------------
# Command line (prepare time: the only step that may download)


def add_movielens_arguments(parser) -> object:
    """The arguments of `concierge movielens` (the caller sets `func=main_movielens`)."""
    parser.add_argument("--out", required=True, help="bundle directory to write, e.g. var/bundles/ml-100k")
    parser.add_argument("--source", default=None, help="a recbole wheel or a directory of ml-100k files "
                        "(default: the wheel in --cache, downloaded there with pip if missing)")
    parser.add_argument("--cache", default="var/cache", help="where the recbole wheel is kept (default: var/cache)")
    parser.add_argument("--users", type=int, default=None, help="keep only the first N users")
    parser.add_argument("--train-queries", action="store_true", help="also hold out a train query per user")
    parser.add_argument("--seed", type=int, default=0, help="seeds the wording of the requests")
    return parser


def main_movielens(args) -> int:
    """`concierge movielens --out DIR`: write MovieLens-100k as a bundle. Returns the exit status."""
    source = args.source or ensure_wheel(args.cache)
    bundle, report = movielens_bundle(source, train_queries=args.train_queries, max_users=args.users, seed=args.seed)
    path = write_bundle(bundle, args.out)
    print(f"wrote {bundle.name} to {path}: {bundle.counts()}" + ("" if report.ok else f"\n{report.to_text(limit=5)}"))
    return 0
