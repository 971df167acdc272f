"""How much the model's picks move the ranker's order: the fusion, and the weight each adapter earned.

The shortlist is a reciprocal-rank fusion of the model's picks with the ranker's order (`fuse`). The
model's share belongs to the pair (adapter, catalogue): an adapter tuned on one catalogue can order
another catalogue's products worse than that catalogue's own ranker (docs/results/reasoner.md, Sephora).
So the share is chosen on the validation split of a catalogue the adapter was evaluated on
(`bench/fusion_sweep.py` applies `choose_weight` and writes the record) and kept next to the adapter
in `fusion.json`:

    {"catalogues": [{"name": "demo-world", "digest": "...", "model_weight": 0.25, "k": 1.0,
                     "chosen_on": "val", "queries": 92, "evidence": "docs/results/reasoner-fusion-val.md"}]}

`digest` is the served catalogue version's digest (`backend.importer.catalogue_digest`). Serving a
catalogue the adapter has no record for, the model narrates and the ranker orders (weight 0), unless
`CONCIERGE_MODEL_WEIGHT` sets a share for every catalogue.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

FUSION_FILE = "fusion.json"
NON_INFERIORITY = 0.005  # NDCG@5 a positive weight may cost on val and still be chosen (see `choose_weight`)


def fuse(model_order: list, ranker_order: list, model_weight: float, k: float) -> list:
    """Reciprocal-rank fusion of the model's order (its picks, best first; possibly fewer than the ranker's
    list) with the ranker's order over the same candidates. What the model did not rank counts as ranked
    last by it, so the model can lift the ranker's lower candidates but cannot drop anything out.

    Args:
        model_order (`list`): the model's picks, best first (a subset of `ranker_order`).
        ranker_order (`list`): every candidate, best first.
        model_weight (`float`): the model's share, 0..1 (0: the ranker's order unchanged).
        k (`float`): rank offset; small values weigh the top ranks more.

    Returns:
        `list`: `ranker_order`'s elements, fused order (ties keep the ranker's order).
    """
    last = len(ranker_order) + 1
    by_model = {c: rank for rank, c in enumerate(model_order, start=1)}

    def score(rank_pair: tuple[int, object]) -> float:
        ranker_rank, candidate = rank_pair
        return model_weight / (k + by_model.get(candidate, last)) + (1 - model_weight) / (k + ranker_rank)

    ranked = sorted(enumerate(ranker_order, start=1), key=lambda pair: (-score(pair), pair[0]))
    return [candidate for _, candidate in ranked]


@dataclass(frozen=True)
class Fusion:
    """The fusion the shortlist uses, and why."""

    model_weight: float
    k: float
    source: str  # "setting" | "tuned" | "untuned"
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Trial:
    """One point of a val sweep: a weight and k, and the paired NDCG@5 difference to the ranker alone."""

    model_weight: float
    k: float
    mean: float  # NDCG@5 of the fused shortlist
    diff: float  # paired mean difference to the ranker alone (weight 0)
    low: float  # 95% interval of that difference
    high: float


def choose_weight(trials: list[Trial], margin: float = NON_INFERIORITY) -> Trial | None:
    """The model's share a val sweep supports: the largest weight that is not worse than the ranker alone —
    paired mean difference ≥ −`margin` and a 95% interval that reaches zero — and, at that weight, the k
    with the best NDCG@5. Larger is preferred among those because the shortlist should hold what the
    model's reasoning is about; `margin` bounds what that may cost. None when no positive weight qualifies
    (the model narrates; the ranker orders).

    Args:
        trials (`list[Trial]`): the sweep, any order (weight-0 rows are ignored).
        margin (`float`): NDCG@5 a weight may cost on average and still qualify.

    Returns:
        `Trial | None`
    """
    fit = [t for t in trials if t.model_weight > 0 and t.diff >= -margin and t.high >= 0]
    if not fit:
        return None
    top = max(t.model_weight for t in fit)
    return max((t for t in fit if t.model_weight == top), key=lambda t: (t.mean, -t.k))


def read_records(adapter_dir: str | Path) -> list[dict]:
    """The catalogues an adapter's fusion weight was chosen on (`fusion.json` in its directory; none when
    the file is missing)."""
    path = Path(adapter_dir) / FUSION_FILE
    if not path.is_file():
        return []
    return _read(str(path), path.stat().st_mtime)


@lru_cache(maxsize=16)
def _read(path: str, mtime: float) -> list[dict]:
    return list(json.loads(Path(path).read_text()).get("catalogues", []))


def write_record(adapter_dir: str | Path, record: dict) -> Path:
    """Add or replace (by catalogue digest) one catalogue's record in the adapter's `fusion.json`."""
    path = Path(adapter_dir) / FUSION_FILE
    records = [r for r in read_records(adapter_dir) if r.get("digest") != record["digest"]]
    path.write_text(json.dumps({"catalogues": records + [record]}, indent=2) + "\n")
    return path


def fusion_for(model_weight: float | None, k: float, adapter_dir: str | Path | None,
               catalogue_digest: str) -> Fusion:
    """The fusion for one shortlist.

    Args:
        model_weight (`float | None`): `settings.model_weight`; a number applies to every catalogue.
        k (`float`): `settings.fusion_k`, the rank offset that goes with that number (or with 0).
        adapter_dir (`str | Path | None`): the serving version's adapter (None: the base model).
        catalogue_digest (`str`): the served catalogue version's digest.

    Returns:
        `Fusion`: the setting's weight; else the weight chosen for this adapter on this catalogue;
        else 0 (the ranker's order; the model's picks are still shown with its reasoning).
    """
    if model_weight is not None:
        return Fusion(model_weight, k, "setting", "CONCIERGE_MODEL_WEIGHT")
    for record in read_records(adapter_dir) if adapter_dir else []:
        if record.get("digest") == catalogue_digest:
            return Fusion(float(record["model_weight"]), float(record["k"]), "tuned",
                          f"chosen on {record.get('name')}'s {record.get('chosen_on', 'val')} split")
    return Fusion(0.0, k, "untuned", "no weight was chosen for this adapter on this catalogue")
