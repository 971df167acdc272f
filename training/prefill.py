"""Rollouts that prefill each distinct prompt once.

GRPO samples G completions of every prompt, so the batch TRL hands to transformers' `generate` holds
each prompt G times and `generate` runs the prompt's forward pass G times (4 × ~0.6 s a step on two
cores, docs/results/grpo-profile.md). `generate_from_shared_prefill` runs every distinct prompt
row once, up to but excluding its last token, gathers that KV cache out to the batch rows (row i
gets its prompt's cache) and hands it to `generate`, which then runs only the uncached last token
before decoding. Sampling, stopping, padding and the returned sequences stay `generate`'s own.

`shared_prompt_prefill` routes a model's `generate` through it for the length of a `with` block, so
that TRL's own rollout code (padding, EOS masking, what it returns) runs unchanged around it.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager

import torch


@contextmanager
def shared_prompt_prefill(model, stop=None):
    """Within the block, `model.generate(...)` is `generate_from_shared_prefill(model, <the model's
    own generate>, ...)`; the model's own method is back when the block ends.

    Args:
        model (`transformers.PreTrainedModel` or `peft.PeftModel`): the model TRL generates with.
        stop (`Callable[[int], StoppingCriteriaList]`, *optional*): given the prompt width, the
            stopping criteria each `generate` call gets (a row that stops is padded, as at EOS).
    """
    own = vars(model).get("generate")  # an instance attribute that was there before, if any
    model.generate = functools.partial(generate_from_shared_prefill, model, model.generate,
                                       stop=stop)
    try:
        yield model
    finally:
        if own is None:
            del model.generate
        else:
            model.generate = own


def generate_from_shared_prefill(model, generate, input_ids: torch.Tensor,
                                 attention_mask: torch.Tensor | None = None,
                                 generation_config=None, stop=None, **kwargs) -> torch.Tensor:
    """`generate(input_ids, attention_mask, generation_config)`, with every distinct prompt row
    prefilled once. Falls back to the plain call when no row repeats, when anything else is passed
    (multimodal fields, a cache), or when the settings need a cache of `generate`'s own making (beam
    search, a static cache, no cache).

    Args:
        model: the model `generate` belongs to (runs the prefill).
        generate (`Callable`): the model's own `generate`.
        input_ids (`torch.LongTensor`): (B, L) left-padded prompts.
        attention_mask (`torch.LongTensor`, *optional*): (B, L), 0 on the left padding.
        generation_config (`transformers.GenerationConfig`, *optional*): as `generate` takes it.
        stop (`Callable[[int], StoppingCriteriaList]`, *optional*): see `shared_prompt_prefill`.

    Returns:
        `torch.LongTensor`: (B, L + new tokens), what `generate` returns.
    """
    if stop is not None:
        kwargs = {**kwargs, "stopping_criteria": stop(input_ids.shape[1])}
    plain = functools.partial(generate, input_ids=input_ids, attention_mask=attention_mask,
                              generation_config=generation_config, **kwargs)
    extra = {k: v for k, v in kwargs.items() if k != "stopping_criteria"}
    if (extra or attention_mask is None or input_ids.shape[1] < 2
            or not _takes_a_given_cache(model, generation_config)):
        return plain()
    # the last prompt token stays uncached: `generate` needs one new token to start from
    ids, mask, row_of = distinct_rows(input_ids[:, :-1], attention_mask[:, :-1])
    if len(ids) == len(input_ids):
        return plain()
    cache = prefill(model, ids, mask)
    if cache is None:
        return plain()
    cache.batch_select_indices(row_of)  # (D, heads, L-1, dim) -> (B, heads, L-1, dim) per layer
    return generate(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache,
                    generation_config=generation_config, **kwargs)


def distinct_rows(input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The distinct rows of a batch, ids and mask together (a pad id may also be a real token).

    Args:
        input_ids (`torch.LongTensor`): (B, P) left-padded prompts.
        attention_mask (`torch.LongTensor`): (B, P).

    Returns:
        `tuple[torch.LongTensor, torch.LongTensor, torch.LongTensor]`: (D, P) distinct ids, (D, P)
        their mask, and (B,) the distinct row of every batch row; D == B when no row repeats.
    """
    length = input_ids.shape[1]
    distinct, row_of = torch.unique(torch.cat([input_ids, attention_mask.to(input_ids.dtype)], 1),
                                    dim=0, return_inverse=True)
    return distinct[:, :length], distinct[:, length:].to(attention_mask.dtype), row_of


@torch.no_grad()
def prefill(model, input_ids: torch.Tensor, attention_mask: torch.Tensor):
    """The KV cache of (D, P) left-padded prompt prefixes, their positions numbered as `generate`
    numbers them (from the mask, so left padding does not shift them).

    Returns:
        `transformers.Cache` or `None`: the cache, `None` when the model returned none.
    """
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    # only the cache is wanted; one position of logits is the least the model will compute
    logits = {"logits_to_keep": 1} if model._supports_logits_to_keep() else {}
    output = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions,
                   use_cache=True, **logits)
    return getattr(output, "past_key_values", None)


def _takes_a_given_cache(model, config) -> bool:
    """Whether `generate` with these settings decodes on from a cache passed in, one row per
    sequence: sampling or greedy search with a dynamic cache. A setting left unset (`None`) is the
    model's own, then transformers' default, as `generate` resolves it."""
    def setting(name: str, default):
        for source in (config, model.generation_config):
            if getattr(source, name, None) is not None:
                return getattr(source, name)
        return default

    return (setting("use_cache", True) and setting("cache_implementation", None) is None
            and setting("num_beams", 1) == 1 and setting("num_return_sequences", 1) == 1)
