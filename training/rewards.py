"""The ReRec reward of one completion: pure functions, no model, no store.

    r = w_ndcg * NDCG@k(picks, relevance)          ranking term (graded, `metrics.ndcg_at_k`);
                                                   `ranking: gain`: NDCG@k(evaluated)-NDCG@k(given)
      + w1 * QAS(p, gt)                            query alignment, item–attribute graph
      + w2 * PAS(p, gt)                            preference alignment, collaborative embedding
      + format        (only when the ranking term > 0: GR2's conditional format reward; with
                       `format_steps`, only when the answer has that many reasoning steps)
      + w_rechead * Rechead(completion)            optional, a callable or None
      - w_consistency * sum_{i<k} [p_i ruled out by the steps] / log2(i + 2)
      - w_extra * max(0, |picks| - ANSWER_PICKS)   picks beyond the shortlist the prompt asks for
    r = missing_answer                             when the completion names no valid candidate

- p is the final recommendation (the first pick), gt the ground-truth items of the highest grade.
- QAS(p, gt) = |attrs(p) ∩ A| / |A|, A = the attribute nodes (`backend.graphs.attribute_nodes`)
  shared by every gt item (ReRec's released code does the same when there are several correct
  items).
- PAS(p, gt) = mean over gt of cos(E(p), E(gt)), E = item factors of a truncated SVD of the
  client x item interaction matrix (ReRec uses LightGCN; an SVD of the same graph is the lightest
  collaborative model that needs no training loop). An item without interactions has no
  embedding: cosine 0.
- Why the format term waits for a positive ranking term: the base model echoes candidates in
  the order given, and an unconditional bonus for a well-formed answer rewards exactly that (GR2).
- The ReRec paper's weights are w1 = w2 = 0.01, format +-0.5, missing answer -0.5; the
  training config sets them (`RewardWeights`).
- The last two terms are ours (off by default), written after the 150-step ablation
  (docs/results/ablation-150-p2.md): under the first five terms GRPO taught the model to rank
  first a candidate its own steps had just ruled out (116 of 200 held-out ReRec answers) and to
  list more picks, since NDCG@k of the picks alone never falls when a pick is added. The
  consistency term charges each ruled-out pick (`backend.verify.ruled_out`) by its rank discount
  (1 for the first pick, 0.63 for the second, ...); the extra-pick term charges each pick beyond
  the three the prompt asks for.
- `ranking: gain` and `format_steps` are ours too, written after the fourth 150-step run
  (docs/results/ablation-150-p3.md): charged for contradictions, the model dropped its reasoning
  steps altogether, and the small extra-pick charge did not stop it listing more picks. The
  evaluation ranks the picks, then the other candidates in their given (shuffled) order; the gain
  term scores exactly that list against the given order alone, so a pick pays only when it is
  better than the candidate it displaces (an echo of the given order gains 0, an extra pick that
  is worse than chance loses), and the format bonus can be held to the 2-3 steps the prompt asks
  for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from backend.interaction_weights import row_liking
from training.metrics import ndcg_at_k

# What a completion's Rechead reward is computed from: (completion text, picked item ids) -> score.
RecheadReward = Callable[[str, list[str]], float]


@dataclass
class RewardWeights:
    """Weights of the ReRec reward (defaults: the ReRec released code).

    Args:
        k (`int`): cut-off of the ranking term NDCG@k.
        ndcg (`float`): weight of NDCG@k.
        qas (`float`): w1, weight of the query-alignment score.
        pas (`float`): w2, weight of the preference-alignment score.
        format (`float`): format bonus, granted only when the ranking term is positive.
        missing_answer (`float`): the whole reward of a completion that names no valid candidate.
        rechead (`float`): weight of the Rechead reward (0: not used).
        consistency (`float`): weight of the charge for ranking what the steps ruled out (0: off).
        extra_pick (`float`): charge per pick beyond the prompt's `ANSWER_PICKS` (0: off).
        ranking (`str`): the ranking term: `picks` (NDCG@k of the picks alone, ReRec) or `gain`
            (NDCG@k of the picks then the given order, minus NDCG@k of the given order).
        format_steps (`list[int]`): reasoning-step counts that may earn the format bonus (empty:
            any count).
    """

    k: int = 5
    ndcg: float = 1.0
    qas: float = 0.01
    pas: float = 0.01
    format: float = 0.5
    missing_answer: float = -0.5
    rechead: float = 0.0
    consistency: float = 0.0
    extra_pick: float = 0.0
    ranking: str = "picks"
    format_steps: list[int] = field(default_factory=list)


RANKING_TERMS = ("picks", "gain")


@dataclass
class RewardBreakdown:
    """Every term of one completion's reward, and what RAAE needs to know about its answer."""

    total: float  # the weighted sum of the terms below (the weights: `RewardWeights`)
    ndcg: float = 0.0  # NDCG@k of the picks (under `gain`: of the picks then the given order)
    given: float = 0.0  # NDCG@k of the given order, subtracted under `ranking: gain` (else 0)
    steps: int = 0  # the answer's reasoning steps
    qas: float = 0.0  # QAS: the share of the ground truth's common attributes the first pick has
    pas: float = 0.0  # PAS: the first pick's cosine to the ground truth, collaborative embedding
    format: float = 0.0  # the answer line's bonus, or the missing answer's penalty
    rechead: float = 0.0  # the Rechead's score of the picks (0 without a head)
    overlong: float = 0.0  # DAPO's soft overlong punishment, added by the GRPO reward if configured
    contradicted: float = 0.0  # rank-discounted count of top-k picks the steps ruled out
    extra_picks: int = 0  # picks beyond the prompt's ANSWER_PICKS
    picks: list[str] = field(default_factory=list)  # item ids, best first
    wrong_picks: list[str] = field(default_factory=list)  # picked item ids with no grade
    answer_found: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------------
# The terms


def ndcg_reward(picks: list[str], relevance: dict[str, int], k: int) -> float:
    """NDCG@k of the picks alone (graded gains); 0 when nothing is relevant."""
    return ndcg_at_k(picks, relevance, k) if relevance else 0.0


def ground_truth(relevance: dict[str, int]) -> list[str]:
    """The items of the highest grade, sorted."""
    if not relevance:
        return []
    top = max(relevance.values())
    return sorted(i for i, g in relevance.items() if g == top)


def item_attributes(item: dict) -> set[str]:
    """The attribute nodes of an item on the item–attribute graph (`material=silk`, `brand=aurel`,
    ...)."""
    from backend.graphs import attribute_nodes

    return {node for _, node in attribute_nodes(item)}


def qas(pick: str | None, relevance: dict[str, int], items: dict[str, dict]) -> float:
    """Query-alignment score: the share of the attributes every ground-truth item has that `pick`
    has too.

    Args:
        pick (`str`, *optional*): the final recommendation (item id).
        relevance (`dict[str, int]`): item id -> grade.
        items (`dict[str, dict]`): item id -> catalogue item (at least the pick and the ground
            truth).

    Returns:
        `float`: in [0, 1]; 0 without a pick, without ground truth or when the gt items share
        nothing.
    """
    gt = [i for i in ground_truth(relevance) if i in items]
    if pick is None or pick not in items or not gt:
        return 0.0
    shared = set.intersection(*(item_attributes(items[i]) for i in gt))
    if not shared:
        return 0.0
    return len(item_attributes(items[pick]) & shared) / len(shared)


class CollaborativeEmbedding:
    """Item vectors from a truncated SVD of the client x item interaction matrix.

    Args:
        interactions (`list[dict]`): rows with client_id, item_id, kind, value (bundle format).
        factors (`int`): dimensions kept (fewer when the matrix is smaller).

    The matrix holds the summed interaction weights the serving path uses, without recency
    (`backend.interaction_weights.row_liking`: purchase 1, wishlist 0.6, view 0.15, rating (value -
    3) / 2, returns and ratings of 3 or less 0); E(item) = V_item * sqrt(S).
    """

    def __init__(self, interactions: list[dict], factors: int = 32):
        clients = sorted({r["client_id"] for r in interactions})
        items = sorted({r["item_id"] for r in interactions})
        self.index = {item: j for j, item in enumerate(items)}
        matrix = np.zeros((len(clients), len(items)), dtype=np.float64)  # (clients, items)
        row = {c: i for i, c in enumerate(clients)}
        for r in interactions:
            matrix[row[r["client_id"]], self.index[r["item_id"]]] += row_liking(r)
        if matrix.size == 0:
            self.vectors = np.zeros((0, 0))
            return
        _, s, vt = np.linalg.svd(matrix, full_matrices=False)  # vt: (rank, items)
        keep = min(factors, len(s))
        self.vectors = (vt[:keep].T * np.sqrt(s[:keep]))  # (items, keep)

    def vector(self, item_id: str) -> np.ndarray | None:
        j = self.index.get(item_id)
        return None if j is None else self.vectors[j]

    def cosine(self, a: str, b: str) -> float:
        """cos(E(a), E(b)); 0 when either item has no (or a zero) vector."""
        va, vb = self.vector(a), self.vector(b)
        if va is None or vb is None:
            return 0.0
        norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
        return float(va @ vb) / norm if norm > 0 else 0.0


def pas(pick: str | None, relevance: dict[str, int],
        embedding: CollaborativeEmbedding | None) -> float:
    """Preference-alignment score: mean cosine of the pick to the ground-truth items in the
    embedding."""
    gt = ground_truth(relevance)
    if pick is None or embedding is None or not gt:
        return 0.0
    return sum(embedding.cosine(pick, i) for i in gt) / len(gt)


def overlong_penalty(length: int, max_length: int, buffer: int) -> float:
    """DAPO's soft overlong punishment (Yu et al. 2025, overlong reward shaping) of a completion.

    0 up to `max_length - buffer` tokens, then falling linearly to -1 at `max_length` (where
    generation cuts the completion off), -1 beyond. It is added to the reward, so a group's long
    rollouts lose advantage gradually before any is cut, instead of all at once when the ANSWER line
    falls off the end.

    Args:
        length (`int`): completion tokens.
        max_length (`int`): the generation limit (`max_completion_length`).
        buffer (`int`): the tokens before the limit where the punishment grows; 0 turns it off.

    Returns:
        `float`: in [-1, 0].
    """
    if buffer <= 0 or length <= max_length - buffer:
        return 0.0
    if length > max_length:
        return -1.0
    return (max_length - buffer - length) / buffer


def format_reward(well_formed: bool, ranking: float, bonus: float, steps: int = 0,
                  allowed_steps: list[int] = ()) -> float:
    """GR2's conditional format reward: the bonus only for a well-formed answer that also ranks (>
    0) and, when `allowed_steps` is given, has one of those numbers of reasoning steps."""
    if allowed_steps and steps not in allowed_steps:
        return 0.0
    return bonus if well_formed and ranking > 0 else 0.0


def evaluated_ranking(picks: list[str], given: list[str]) -> list[str]:
    """The ranking the re-ranking protocol scores: the picks, then the other candidates in their
    given order (`training.systems.Reasoner.rank`)."""
    return list(picks) + [i for i in given if i not in picks]


# ----------------------------------------------------------------------------------------------
# One completion


def contradiction(picks: list[str], ruled_out: list[str], k: int) -> float:
    """Rank-discounted count of the top-k picks that the completion's own steps ruled out: a
    ruled-out first pick counts 1, a second 1 / log2(3), ... (the discount of NDCG)."""
    return sum(1 / np.log2(rank + 2) for rank, p in enumerate(picks[:k]) if p in ruled_out)


def rerec_reward(picks: list[str], relevance: dict[str, int], items: dict[str, dict],
                 weights: RewardWeights,
                 embedding: CollaborativeEmbedding | None = None, well_formed: bool = True,
                 rechead_score: float | None = None, ruled_out: list[str] = (),
                 extra_picks: int = 0, given: list[str] = (), steps: int = 0) -> RewardBreakdown:
    """The ReRec reward of a parsed answer (see the module docstring for the formula).

    Args:
        picks (`list[str]`): the answer's item ids, best first (valid candidates only).
        relevance (`dict[str, int]`): item id -> grade over the candidates shown.
        items (`dict[str, dict]`): item id -> catalogue item of the candidates.
        weights (`RewardWeights`): the weights.
        embedding (`CollaborativeEmbedding`, *optional*): for PAS (0 without).
        well_formed (`bool`): the answer block was found and named no unknown handle.
        rechead_score (`float`, *optional*): the Rechead's score of this completion.
        ruled_out (`list[str]`): item ids the completion's steps ruled out.
        extra_picks (`int`): picks beyond the prompt's `ANSWER_PICKS`.
        given (`list[str]`): the candidates' item ids in their given order (`ranking: gain`).
        steps (`int`): the answer's reasoning steps (`format_steps`).

    Returns:
        `RewardBreakdown`
    """
    wrong = [i for i in picks if i not in relevance]
    if not picks:
        return RewardBreakdown(weights.missing_answer, picks=[], wrong_picks=[],
                               answer_found=well_formed, steps=steps)
    if weights.ranking not in RANKING_TERMS:
        raise ValueError(f"reward.ranking must be one of {RANKING_TERMS}, got {weights.ranking!r}")
    p, gain = picks[0], weights.ranking == "gain"
    ranked = evaluated_ranking(picks, given) if gain else picks
    terms = {"ndcg": ndcg_reward(ranked, relevance, weights.k), "qas": qas(p, relevance, items),
             "pas": pas(p, relevance, embedding), "rechead": rechead_score or 0.0,
             "given": ndcg_reward(list(given), relevance, weights.k) if gain else 0.0}
    ranking = terms["ndcg"] - terms["given"]
    terms["format"] = format_reward(well_formed, ranking, weights.format, steps,
                                    weights.format_steps)
    contradicted = contradiction(list(picks), list(ruled_out), weights.k)
    total = (weights.ndcg * ranking + weights.qas * terms["qas"] + weights.pas * terms["pas"]
             + terms["format"] + weights.rechead * terms["rechead"]
             - weights.consistency * contradicted - weights.extra_pick * extra_picks)
    return RewardBreakdown(total, picks=list(picks), wrong_picks=wrong, answer_found=True,
                           contradicted=contradicted, extra_picks=extra_picks, steps=steps,
                           **terms)


def score_completion(completion: str, handles: dict[str, dict], relevance: dict[str, int],
                     weights: RewardWeights, embedding: CollaborativeEmbedding | None = None,
                     rechead: RecheadReward | None = None,
                     given: list[str] | None = None) -> RewardBreakdown:
    """Parse a completion with the serving parser and score it.

    Args:
        completion (`str`): the model's text.
        handles (`dict[str, dict]`): the prompt's handle -> item map.
        relevance (`dict[str, int]`): item id -> grade (items not shown are ignored).
        weights (`RewardWeights`): the weights.
        embedding (`CollaborativeEmbedding`, *optional*): for PAS.
        rechead (`RecheadReward`, *optional*): Rechead reward hook, called only when
            `weights.rechead` != 0.
        given (`list[str]`, *optional*): the candidates' item ids in the order the evaluation
            fills the ranking with (default: the prompt's order).

    Returns:
        `RewardBreakdown`
    """
    from backend.reasoner import ANSWER_PICKS, parse_answer
    from backend.verify import ruled_out

    parsed = parse_answer(completion, handles)
    picks = [handles[h]["item_id"] for h in parsed.picks]
    items = {item["item_id"]: item for item in handles.values()}
    shown_relevance = {i: g for i, g in relevance.items() if i in items}
    score = rechead(completion,
                    picks) if rechead is not None and weights.rechead and picks else None
    well_formed = parsed.answer_found and not parsed.dropped
    out = [handles[h]["item_id"] for h in ruled_out(parsed.steps, handles)]
    extra = max(0, len(parsed.picks) - ANSWER_PICKS)
    given = [i for i in (given or items) if i in items]
    return rerec_reward(picks, shown_relevance, items, weights, embedding, well_formed, score, out,
                        extra, given, len(parsed.steps))
