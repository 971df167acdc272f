"""Online curriculum (ReRec): difficulty from the previous rollouts, mastered cases dropped, easy ->
hard.

    d(q) = mean_i (1 - NDCG_i)        over the rollouts of case q the last time it was trained on

An *epoch* is one pass over the pool. At the start of each epoch, cases with d < tau are mastered
and leave the pool for good (they get no more rollouts, so nothing would bring them back); the rest
are ordered by d, easiest first. Cases never rolled out have the prior difficulty and are ordered
among themselves by a seeded shuffle. No extra inference: `observe` reuses the training rollouts.

When every case is mastered the pool is refilled with all cases (`resets` counts how often), so a
fixed step budget can always be spent. With `enabled=False` every epoch is a seeded shuffle of all
cases (the "without curriculum" ablation). `state_dict()` / `load_state_dict()` round-trip through
JSON and are saved with every checkpoint. A data loader reads ahead, so the state also lists the
cases served but not yet rolled out; after a resume they are served first, and no case is skipped.
"""

from __future__ import annotations

import random
import statistics


class Curriculum:
    """The order in which training cases are served.

    Args:
        case_ids (`list[str]`): every case.
        tau (`float`): mastery threshold on d (ReRec: 0.1).
        prior (`float`): difficulty of a case without rollouts.
        seed (`int`): seeds the order of ties and of the shuffles.
        enabled (`bool`): False: seeded shuffles of all cases, nothing dropped.
    """

    def __init__(self, case_ids: list[str], tau: float = 0.1, prior: float = 0.5, seed: int = 0,
                 enabled: bool = True):
        self.case_ids = list(dict.fromkeys(case_ids))
        self.tau, self.prior, self.seed, self.enabled = tau, prior, seed, enabled
        self.difficulty: dict[str, float] = {}
        self.mastered: set[str] = set()
        self.epoch = 0
        self.queue: list[str] = []
        self.position = 0
        self.resets = 0
        self.pending: list[str] = []  # served but not yet observed (a data loader reads ahead)
        self.replay: list[str] = []  # pending cases of a restored state, served again first

    # -- rollouts in
    # ---------------------------------------------------------------------------------

    def observe(self, case_id: str, ndcgs: list[float]) -> float:
        """Record one case's rollouts: d = mean(1 - NDCG). Returns d."""
        d = statistics.fmean(1.0 - n for n in ndcgs) if ndcgs else self.prior
        self.difficulty[case_id] = d
        if case_id in self.pending:
            self.pending.remove(case_id)
        return d

    # -- cases out
    # -----------------------------------------------------------------------------------

    @property
    def pool(self) -> list[str]:
        """Cases not mastered."""
        return [c for c in self.case_ids if c not in self.mastered]

    def order(self) -> list[str]:
        """The next epoch's cases: mastered ones dropped, the rest easy -> hard (ties: seeded
        shuffle)."""
        rng = random.Random(f"curriculum/{self.seed}/{self.epoch}")
        if not self.enabled:
            cases = list(self.case_ids)
            rng.shuffle(cases)
            return cases
        self.mastered |= {c for c in self.case_ids if self.difficulty.get(c, self.prior) < self.tau}
        if not self.pool:
            self.mastered.clear()
            self.resets += 1
        tiebreak = {c: rng.random() for c in self.pool}
        return sorted(self.pool, key=lambda c: (self.difficulty.get(c, self.prior), tiebreak[c]))

    def take(self, n: int) -> list[str]:
        """The next `n` cases, starting new epochs as needed (an epoch shorter than `n` is followed
        at once). Cases served before a checkpoint but never observed (read ahead) come first after
        a resume."""
        out = []
        while self.replay and len(out) < n:
            out.append(self.replay.pop(0))
        while len(out) < n:
            if self.position >= len(self.queue):
                self.queue, self.position = self.order(), 0
                self.epoch += 1
            out.append(self.queue[self.position])
            self.position += 1
        self.pending.extend(out)
        return out

    def stats(self) -> dict:
        """For the logs: pool size, mastered, epoch, mean known difficulty."""
        known = [self.difficulty[c] for c in self.pool if c in self.difficulty]
        return {"pool": len(self.pool), "mastered": len(self.mastered), "epoch": self.epoch,
                "difficulty": statistics.fmean(known) if known else self.prior}

    # -- checkpoints
    # ---------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"case_ids": self.case_ids, "tau": self.tau, "prior": self.prior, "seed": self.seed,
                "enabled": self.enabled, "difficulty": self.difficulty,
                "mastered": sorted(self.mastered),
                "epoch": self.epoch, "queue": self.queue, "position": self.position,
                "resets": self.resets, "pending": self.replay + self.pending}

    def load_state_dict(self, state: dict) -> None:
        self.case_ids = list(state["case_ids"])
        self.tau, self.prior = state["tau"], state["prior"]
        self.seed, self.enabled = state["seed"], state["enabled"]
        self.difficulty = {k: float(v) for k, v in state["difficulty"].items()}
        self.mastered = set(state["mastered"])
        self.epoch, self.queue = state["epoch"], list(state["queue"])
        self.position = state["position"]
        self.resets = state.get("resets", 0)
        self.replay, self.pending = list(state.get("pending", [])), []
