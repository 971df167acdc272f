"""Per-token log-probs of a GRPO batch with each distinct prompt run once.

TRL 1.16's loss pass (`GRPOTrainer._get_per_token_logps_and_entropies`) runs the policy over every
row's prompt + completion, and the G rows of a group share one prompt: ~350 of each row's ~420
tokens are forwarded and back-propagated G times. `shared_prompt_logps` runs each distinct prompt
once, up to but excluding its last token, with gradients; gathers that KV cache out to the rows (an
index, so the gradients of all G rows add up in the one prompt pass); then runs every row's last
prompt token and completion from that cache through TRL's fused LM head. What comes out is TRL's:
the same head (temperature, soft-capping, fp32 cast), the same labels (completion tokens, never
padding), the same positions (the model's own numbering, which the cache continues).
"""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from training.prefill import distinct_rows


def shared_prompt_logps(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        logits_to_keep: int, compute_entropy: bool = False,
                        ) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """TRL's per-token log-probs (and entropies) of the last `logits_to_keep` tokens, each distinct
    prompt run once. `None` when the batch cannot share a prompt pass: no prompt repeats, nothing is
    left of the prompt to share, gradient checkpointing would drop the cache, or the model's cache
    is not a plain dynamic one (sliding windows, linear attention).

    Args:
        model: the policy as TRL calls it, with TRL's fused LM head (`add_fused_lm_head`).
        input_ids (`torch.LongTensor`): (B, L) left-padded prompts, then right-padded completions.
        attention_mask (`torch.LongTensor`): (B, L), 0 on padding.
        logits_to_keep (`int`): K, the completion's columns (the last K of L).
        compute_entropy (`bool`): also return the entropies.

    Returns:
        `tuple[torch.Tensor, torch.Tensor | None] | None`: (B, K) log-probs and (B, K) entropies
        (`None` unless asked), 0 on padding; `None` when the batch cannot share (see above).
    """
    length = input_ids.shape[1]
    start = length - logits_to_keep  # the first completion column
    if not 2 <= start < length or _checkpoints_without_cache(model):
        return None
    # the prompt's last token runs with its row: its hidden state scores the first completion token
    ids, mask, row_of = distinct_rows(input_ids[:, :start - 1], attention_mask[:, :start - 1])
    if len(ids) == len(input_ids):
        return None
    cache = _prompt_cache(model, ids, mask)
    if cache is None:
        return None
    cache.batch_select_indices(row_of)  # (D, heads, start-1, dim) -> (B, heads, start-1, dim)
    tail = input_ids[:, start - 1:]  # (B, K + 1)
    # TRL's labels: completion tokens, not padding; the head scores column j + 1 from column j
    labels = tail.masked_fill(attention_mask[:, start - 1:] == 0, -100)
    output = model(input_ids=tail, attention_mask=attention_mask, past_key_values=cache,
                   labels=labels, fused_lm_head=True)
    return output.log_probs, (output.entropy if compute_entropy else None)  # (B, K) each


def _prompt_cache(model, input_ids: torch.Tensor, attention_mask: torch.Tensor):
    """The KV cache of (D, P) left-padded prompt prefixes, in the autograd graph when gradients are
    on, positions numbered as TRL's pass numbers them (the model's default); `None` unless it is a
    `DynamicCache` of plain layers (a sliding window or a linear layer would not hold every key)."""
    inner = getattr(model, "module", model)  # under DistributedDataParallel
    supports = getattr(inner, "_supports_logits_to_keep", None)
    # only the cache is wanted; one position of logits is the least the model will compute
    logits = {"logits_to_keep": 1} if supports is not None and supports() else {}
    output = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=True, **logits)
    cache = getattr(output, "past_key_values", None)
    if type(cache) is not DynamicCache or any(type(layer) is not DynamicLayer
                                              for layer in cache.layers):
        return None
    return cache


def _checkpoints_without_cache(model) -> bool:
    """Whether a layer would drop the cache: transformers' gradient-checkpointed layers run
    without one while training."""
    return any(getattr(module, "gradient_checkpointing", False) is True and module.training
               and not getattr(module, "_can_checkpoint_with_cache", False)
               for module in model.modules())
