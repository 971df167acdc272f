"""Rank: a learning-to-rank model (LightGBM lambdarank) over the candidates' catalogue-agnostic features.

It is trained on a bundle's train split (early-stopped on its val split; the test split is never read),
saved beside the catalogue version it was trained for (`var/rankers/<collection>.txt`), and loaded with
it. With nothing to train on (a plain CSV catalogue without queries) the order is reciprocal-rank fusion
of the sources plus the request's soft wishes and the client's taste.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from backend.retrieval import FEATURES, Candidate

log = logging.getLogger(__name__)
MIN_TRAIN_QUERIES = 20  # fewer answerable train queries with a relevant candidate: fall back to fusion
MAX_TRAIN_QUERIES = 600  # a seeded sample of the train split beyond this (training time grows with it)
MAX_PER_QUERY = 120  # candidates per training query (all relevant ones are kept)
PARAMS = dict(objective="lambdarank", n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=10,
              subsample=0.8, subsample_freq=1, colsample_bytree=0.9, reg_lambda=1.0, random_state=0,
              deterministic=True, force_row_wise=True, n_jobs=2, verbose=-1)
# The code and data that turn a request into candidates and features. A ranker learned on what an older
# engine computed is stale once any of them changes (`engine_digest`): kept, it scores features whose
# meaning has moved (on Sephora's val split a stale ranker scored 0.74 NDCG@10, a retrained one 0.85).
# Paths from the repository root; Python files count by their syntax tree without docstrings, so comments and
# documentation do not make a ranker stale.
FEATURE_SOURCES = tuple(f"backend/{name}" for name in (
    "retrieval.py", "understand.py", "vocabulary.py", "graphs.py", "verify.py", "knowledge.py", "index.py",
    "interaction_weights.py", "live.py", "data/knowledge.json")) + ("catalog/derive.py",)
# Without a trained model: fusion of the sources, plus soft wishes and taste (weights fixed by hand).
FALLBACK_WEIGHTS = {"rrf": 30.0, "named": 1.0, "meaning": 0.5, "context": 0.3, "taste": 0.5, "dislike": 0.5,
                    "rain_risk": -0.3, "owned": -0.5}
# A ranker learned from associates' verdicts alone (a catalogue without labelled requests) boosts from the fusion
# score times this: the verdicts judge only fusion's first few candidates, so the trees learn a correction to
# fusion instead of an order from scratch. Chosen on the demo world's train split (simulated reviews of 40-160
# requests, prior 0 / 1 / 3 / 10 / 30: 10 best at every size); docs/results/feedback-ranker.md.
FEEDBACK_PRIOR = 10.0


@dataclass
class Ranker:
    """A trained booster (or None for fusion) and what it was trained on."""

    booster: object | None = None
    info: dict | None = None

    @property
    def kind(self) -> str:
        return "lightgbm" if self.booster is not None else "fusion"

    @property
    def label(self) -> str:
        """What a shortlist records as its ranker: the training job that made it, else its kind."""
        return str((self.info or {}).get("version") or self.kind)

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        if self.booster is None:
            return fallback_scores(matrix)
        prior = float((self.info or {}).get("fusion_prior") or 0.0)
        return self.booster.predict(matrix) + (prior * fallback_scores(matrix) if prior else 0.0)

    def order(self, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates best first; each gets its `score`."""
        if not candidates:
            return []
        matrix = np.stack([c.features for c in candidates])  # (candidates, features)
        for cand, score in zip(candidates, self.scores(matrix)):
            cand.score = float(score)
        return sorted(candidates, key=lambda c: -c.score)


@lru_cache(maxsize=1)
def engine_digest() -> str:
    """A short digest of `FEATURE_SOURCES`: recorded with every trained ranker."""
    digest = hashlib.sha256()
    for name in FEATURE_SOURCES:
        text = (Path(__file__).parents[1] / name).read_text(encoding="utf-8")
        digest.update(name.encode() + b"\0" + (_code_only(text) if name.endswith(".py") else text).encode())
    return digest.hexdigest()[:16]


def _code_only(source: str) -> str:
    """A Python module's syntax tree without its docstrings (comments are not in the tree at all)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def summary(info: dict | None) -> dict:
    """A ranker's info without its long lists (feature names and gains, the item sample), for a log line."""
    return {k: v for k, v in (info or {}).items() if k not in ("features", "gain", "item_sample")}


def is_stale(info: dict | None, embedding: str | None = None) -> bool:
    """Whether a trained ranker's features were computed by another engine than this one, or (when
    `embedding` names the embedding model in use and the ranker recorded one) with another embedding
    model: its similarity features would mean something else. A fusion ranker learned nothing, so it
    is never stale."""
    info = info or {}
    if info.get("kind") != "lightgbm":
        return False
    return info.get("engine") != engine_digest() or (
        embedding is not None and info.get("embedding", embedding) != embedding)


def fallback_scores(matrix: np.ndarray) -> np.ndarray:
    weights = np.zeros(len(FEATURES))
    for name, weight in FALLBACK_WEIGHTS.items():
        weights[FEATURES.index(name)] = weight
    return matrix @ weights


def training_rows(groups: list[tuple[list[Candidate], dict[str, int]]]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(features, grades, group sizes) from (candidates, relevant item -> grade) per query; queries whose
    candidates hold no relevant item teach nothing and are left out."""
    features, labels, sizes = [], [], []
    for candidates, relevant in groups:
        if not any(c.item_id in relevant for c in candidates):
            continue
        kept = [c for c in candidates if c.item_id in relevant]
        kept += [c for c in candidates if c.item_id not in relevant][:MAX_PER_QUERY - len(kept)]
        features += [c.features for c in kept]
        labels += [int(relevant.get(c.item_id, 0)) for c in kept]
        sizes.append(len(kept))
    if not sizes:
        return np.zeros((0, len(FEATURES)), np.float32), np.zeros(0), []
    return np.stack(features), np.array(labels), sizes


def train(train_groups, val_groups, prior: float = 0.0) -> Ranker:
    """Fit LightGBM lambdarank on the train queries, early-stopped on the val queries.

    Args:
        train_groups, val_groups (`list[tuple[list[Candidate], dict[str, int]]]`): per query, its
            candidates (with features) and its graded relevant items.
        prior (`float`): boost from `prior` times the fusion score (`FEEDBACK_PRIOR` for verdicts alone);
            0 learns the order from scratch.

    Returns:
        `Ranker`: the fusion ranker when there are fewer than MIN_TRAIN_QUERIES usable train queries.
    """
    import lightgbm as lgb

    x, y, sizes = training_rows(train_groups)
    if len(sizes) < MIN_TRAIN_QUERIES:
        log.info("ranker: %d usable train queries (< %d): reciprocal-rank fusion", len(sizes), MIN_TRAIN_QUERIES)
        return Ranker(None, {"kind": "fusion", "train_queries": len(sizes)})
    vx, vy, vsizes = training_rows(val_groups)
    model = lgb.LGBMRanker(**PARAMS)
    fit = {"group": sizes}
    if prior:
        fit["init_score"] = prior * fallback_scores(x)
    if vsizes:  # val is only watched (its NDCG@10 is reported), not used to stop: it is small
        fit.update(eval_X=(vx,), eval_y=(vy,), eval_group=[vsizes], eval_at=[10])
        if prior:
            fit["eval_init_score"] = [prior * fallback_scores(vx)]
    model.fit(x, y, **fit)
    importance = dict(zip(FEATURES, model.booster_.feature_importance("gain").round(1).tolist()))
    info = {"kind": "lightgbm", "train_queries": len(sizes), "val_queries": len(vsizes), "rows": int(len(y)),
            "val_ndcg@10": _last(model, "ndcg@10"), "features": list(FEATURES), "engine": engine_digest(),
            "gain": importance}
    if prior:
        info["fusion_prior"] = prior
    return Ranker(model.booster_, info)


def _last(model, metric: str) -> float | None:
    history = (getattr(model, "evals_result_", None) or {}).get("valid_0", {}).get(metric)
    return round(float(history[-1]), 4) if history else None


def save(ranker: Ranker, path: Path) -> None:
    """Write the model (LightGBM's text format) and its info; a fusion ranker writes only the info."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if ranker.booster is not None:
        ranker.booster.save_model(str(path))
    else:
        path.unlink(missing_ok=True)
    path.with_suffix(".json").write_text(json.dumps(ranker.info or {}, indent=1))


def load(path: Path) -> Ranker:
    """The ranker saved at `path`, or fusion when none was trained for this catalogue version."""
    if not path.exists():
        info_path = path.with_suffix(".json")
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        return Ranker(None, {**info, "kind": "fusion"})
    return _load(str(path), path.stat().st_mtime)


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Ranker:
    import lightgbm as lgb

    booster = lgb.Booster(model_file=path)
    info_path = Path(path).with_suffix(".json")
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if info.get("features") and info["features"] != list(FEATURES):
        log.warning("ranker at %s was trained on other features; using fusion", path)
        return Ranker(None, {"kind": "fusion", "stale": path})
    return Ranker(booster, info)
