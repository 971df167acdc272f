"""Reasoning-aware advantage estimation (RAAE, ReRec): step rewards copied onto tokens, normalised
per group.

For rollout i of a query with reward r_i (the ReRec reward, `training.rewards`):

1. split the completion into steps (`backend.verify.split_steps`, the serving splitter);
2. a step is *penalised* when it promotes a wrong final pick (names a picked item that has no grade,
   without a negation), when the step verifier (`backend.verify.verify_steps`) finds it
   inconsistent, or when it repeats a step an associate flagged (`TrainingCase.step_labels`; word
   overlap, handles ignored, since handles are reshuffled for every prompt):

       r_{i,s} = r_i - w_penalty * max(|r_i|, floor)        penalised step
       r_{i,s} = r_i                                        any other step, and every token
                                                            outside steps

3. every token of step s gets r_{i,s}; tokens outside any step (the ANSWER line) get r_i;
4. token advantages are normalised over the G rollouts of the same query:

       A[i,t] = (r[i,t] - mean_g(r)) / (std_g(r) + 1e-4)

   mean and (population) std over every completion token of the group's G rollouts.

Departures from the paper, and why: ReRec writes `(1 - w_penalty) * r`, which *raises* a negative
reward and leaves r = 0 untouched; subtracting `w_penalty * max(|r|, floor)` is the same for r > 0
and still penalises when r <= 0. ReRec penalises every step that mentions the wrong pick; a step
that names it to rule it out ("B2 is not suede") argues the right way, so it is spared. The
verifier's and associates' flags extend the same penalty to steps that are wrong for other reasons.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

EPS = 1e-4  # as TRL's group normalisation
NEGATING = re.compile(r"(?i)\b(?:not|no|isn't|doesn't|don't|never|without|lacks|fails|avoid|"
                      r"exclude|excluded|reject|rejected|drop|rule out|ruled out)\b")
HANDLE = re.compile(r"\b[A-Za-z][1-9]\b")
WORD = re.compile(r"[a-z][a-z'-]{2,}")
REPEAT_OVERLAP = 0.5  # word Jaccard above which a step repeats a flagged one


@dataclass
class RAAEConfig:
    """RAAE settings.

    Args:
        enabled (`bool`): token-level RAAE advantages; False keeps TRL's sequence-level GRPO
            advantages.
        w_penalty (`float`): share of the reward taken from a penalised step (ReRec: 0.3).
        floor (`float`): the smallest penalty, so that steps of a zero-reward rollout are still told
            apart.
        use_verifier (`bool`): penalise steps the step verifier finds inconsistent.
        use_step_labels (`bool`): penalise steps that repeat a step an associate flagged.
        scale (`bool`): divide by the group's std (False: only centre, like TRL's
            scale_rewards="none").
    """

    enabled: bool = True
    w_penalty: float = 0.3
    floor: float = 0.1
    use_verifier: bool = True
    use_step_labels: bool = True
    scale: bool = True


# ----------------------------------------------------------------------------------------------
# Steps


def step_spans(completion: str) -> list[tuple[int, int]]:
    """Character spans (start, end) of the reasoning steps of a completion, in order.

    The steps are those `backend.reasoner.parse_answer` reports (the text before the ANSWER line,
    split by `backend.verify.split_steps`); each is a substring of the completion, found left to
    right.
    """
    from backend.reasoner import parse_answer

    spans, cursor = [], 0
    for step in parse_answer(completion, {}).steps:
        start = completion.find(step, cursor)
        if start < 0:
            continue
        spans.append((start, start + len(step)))
        cursor = start + len(step)
    return spans


def promotes(step: str, handle: str) -> bool:
    """Whether a step names `handle` and argues for it (no negation in the step)."""
    named = re.search(rf"(?<!\w){re.escape(handle)}(?!\w)", step)
    return bool(named) and not NEGATING.search(step)


def repeats_flagged(step: str, flagged: list[str], threshold: float = REPEAT_OVERLAP) -> bool:
    """Whether a step says what a flagged step said: word Jaccard >= threshold, handles ignored."""
    words = set(WORD.findall(HANDLE.sub(" ", step.lower())))
    for other in flagged:
        theirs = set(WORD.findall(HANDLE.sub(" ", other.lower())))
        if words and theirs and len(words & theirs) / len(words | theirs) >= threshold:
            return True
    return False


def penalised_steps(steps: list[str], wrong_handles: list[str],
                    verifier_flags: list[bool] | None = None,
                    flagged_texts: list[str] | None = None) -> list[bool]:
    """Which steps RAAE penalises.

    Args:
        steps (`list[str]`): the completion's steps.
        wrong_handles (`list[str]`): handles of the picks that have no grade.
        verifier_flags (`list[bool]`, *optional*): per step, the verifier found it inconsistent.
        flagged_texts (`list[str]`, *optional*): steps associates flagged (wrong or irrelevant).

    Returns:
        `list[bool]`: one per step.
    """
    out = []
    for n, step in enumerate(steps):
        bad = any(promotes(step, h) for h in wrong_handles)
        bad |= bool(verifier_flags and n < len(verifier_flags) and verifier_flags[n])
        bad |= bool(flagged_texts) and repeats_flagged(step, flagged_texts)
        out.append(bad)
    return out


def step_rewards(reward: float, penalised: list[bool], w_penalty: float,
                 floor: float) -> list[float]:
    """r_{i,s}: the rollout's reward, less `w_penalty * max(|r|, floor)` on each penalised step."""
    cut = w_penalty * max(abs(reward), floor)
    return [reward - cut if bad else reward for bad in penalised]


# ----------------------------------------------------------------------------------------------
# Tokens


def token_char_starts(token_ids: list[int], tokenizer) -> list[int]:
    """Where each token's text starts in the decoded completion (special tokens decode to
    nothing)."""
    starts, previous = [], 0
    for t in range(len(token_ids)):
        starts.append(previous)
        previous = len(tokenizer.decode(token_ids[:t + 1], skip_special_tokens=True))
    return starts


def token_rewards(reward: float, spans: list[tuple[int, int]], rewards_per_step: list[float],
                  char_starts: list[int], length: int) -> torch.Tensor:
    """r[i, t] for one completion: the step reward for tokens starting inside a step, else the
    reward.

    Args:
        reward (`float`): r_i.
        spans (`list[tuple[int, int]]`): character spans of the steps.
        rewards_per_step (`list[float]`): r_{i,s}, one per span.
        char_starts (`list[int]`): each token's first character.
        length (`int`): tokens in the padded row (tokens past `char_starts` get r_i; the mask drops
            them).

    Returns:
        `torch.Tensor`: shape (length,).
    """
    out = torch.full((length,), float(reward))
    for t, start in enumerate(char_starts[:length]):
        for (a, b), value in zip(spans, rewards_per_step):
            if a <= start < b:
                out[t] = value
                break
    return out


def row_moments(rewards: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per row, [sum, sum of squares, count] of the masked token rewards: (B, T) -> (B, 3).

    Moments rather than means, so that rows of one group spread over several processes can be
    gathered and combined exactly."""
    mask = mask.to(rewards.dtype)
    return torch.stack([(rewards * mask).sum(1), (rewards ** 2 * mask).sum(1), mask.sum(1)], dim=1)


def group_stats(moments: torch.Tensor, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and population std of the token rewards of each group, repeated per row: (B, 3) -> (B,),
    (B,)."""
    grouped = moments.view(-1, group_size, 3).sum(1)  # (B / G, 3)
    count = grouped[:, 2].clamp(min=1.0)
    mean = grouped[:, 0] / count
    var = (grouped[:, 1] / count - mean ** 2).clamp(min=0.0)
    return mean.repeat_interleave(group_size), var.sqrt().repeat_interleave(group_size)


def token_advantages(rewards: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor,
                     std: torch.Tensor, scale: bool = True) -> torch.Tensor:
    """A[i, t] = (r[i, t] - mean_g) / (std_g + eps), 0 on padding: (B, T) -> (B, T)."""
    advantages = rewards - mean.unsqueeze(1)
    if scale:
        advantages = advantages / (std.unsqueeze(1) + EPS)
    return advantages * mask.to(advantages.dtype)


def raae_advantages(rewards: torch.Tensor, mask: torch.Tensor, group_size: int,
                    scale: bool = True) -> torch.Tensor:
    """Group-normalised token advantages of rows that hold whole groups (one process)."""
    mean, std = group_stats(row_moments(rewards, mask), group_size)
    return token_advantages(rewards, mask, mean, std, scale)


# ----------------------------------------------------------------------------------------------
# One completion, end to end


def completion_token_rewards(completion: str, token_ids: list[int], tokenizer, reward: float,
                             wrong_handles: list[str], config: RAAEConfig, length: int,
                             verifier=None,
                             flagged_texts: list[str] | None = None) -> tuple[torch.Tensor, dict]:
    """r[i, t] of one completion, and what was penalised (for the logs).

    Args:
        completion (`str`): the decoded completion.
        token_ids (`list[int]`): its tokens (padding excluded).
        tokenizer: decodes the tokens.
        reward (`float`): r_i.
        wrong_handles (`list[str]`): handles of the wrong picks.
        config (`RAAEConfig`): settings.
        length (`int`): the padded row length.
        verifier (`Callable[[list[str]], list[bool]]`, *optional*): step texts -> inconsistent
            flags.
        flagged_texts (`list[str]`, *optional*): associates' flagged steps of this case.

    Returns:
        `tuple[torch.Tensor, dict]`: shape (length,), and {"steps": n, "penalised": m}.
    """
    spans = step_spans(completion)
    steps = [completion[a:b] for a, b in spans]
    flags = verifier(steps) if verifier is not None and config.use_verifier and steps else None
    labels = flagged_texts if config.use_step_labels else None
    bad = penalised_steps(steps, wrong_handles, flags, labels)
    per_step = step_rewards(reward, bad, config.w_penalty, config.floor)
    row = token_rewards(reward, spans, per_step, token_char_starts(token_ids, tokenizer), length)
    return row, {"steps": len(steps), "penalised": sum(bad)}
