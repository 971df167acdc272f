"""Rollouts that prefill each distinct prompt once (`training/prefill.py`) give the completions the plain
`generate` gives, greedy and seeded sampling alike, with left-padded prompts of different lengths; and the
GRPO trainer's rollouts, which go through TRL 1.16's own `_generate_single_turn`, use it and return what
TRL returns."""

from contextlib import nullcontext

import pytest
import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

from training import grpo, prefill
from training.curriculum import Curriculum

from tests.unit.test_grpo_trainer import CASES, make_trainer, tokenizer  # noqa: F401 (a fixture)

PAD, EOS = 0, 1


def random_llama() -> LlamaForCausalLM:
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, pad_token_id=PAD, eos_token_id=EOS,
        initializer_range=0.5))  # sharp attention: a wrong position or mask changes the tokens
    return model.eval()


def grouped_batch(group: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Two prompts of 7 and 4 tokens, each `group` times in a row, left-padded as TRL pads them."""
    long, short = [5, 9, 12, 7, 30, 41, 3], [17, 22, 8, 50]
    ids = torch.tensor([long] * group + [[PAD] * 3 + short] * group)
    mask = torch.tensor([[1] * 7] * group + [[0] * 3 + [1] * 4] * group)
    return ids, mask


def embedded_shapes(model) -> list[tuple[int, int]]:
    """(batch, tokens) of every forward pass the model runs from here on."""
    shapes = []
    model.model.embed_tokens.register_forward_hook(lambda module, args, out: shapes.append(tuple(args[0].shape)))
    return shapes


@pytest.mark.parametrize("settings", [
    {"do_sample": False},
    {"do_sample": True, "temperature": 0.7, "top_k": 20, "top_p": 0.9},
])
def test_a_shared_prefill_gives_the_completions_of_the_plain_generate(settings):
    model = random_llama()
    ids, mask = grouped_batch()
    config = GenerationConfig(max_new_tokens=12, pad_token_id=PAD, eos_token_id=EOS, **settings)
    torch.manual_seed(1)
    plain = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
    shapes = embedded_shapes(model)
    torch.manual_seed(1)
    shared = prefill.generate_from_shared_prefill(model, model.generate, ids, mask, config)
    assert torch.equal(shared, plain)
    assert shared.shape == (6, 7 + 12)
    # two distinct prompts prefilled without their last token, then the six rows' last prompt token
    assert shapes[:2] == [(2, 6), (6, 1)]


def test_sampling_still_samples_after_a_shared_prefill():
    model = random_llama()
    ids, mask = grouped_batch(group=8)
    config = GenerationConfig(max_new_tokens=12, pad_token_id=PAD, eos_token_id=EOS, do_sample=True,
                              temperature=1.0)
    torch.manual_seed(2)
    shared = prefill.generate_from_shared_prefill(model, model.generate, ids, mask, config)
    completions = {tuple(row) for row in shared[:8, 7:].tolist()}
    assert len(completions) > 1  # the 8 rollouts of one prompt are not 8 copies of one


def test_a_batch_without_repeated_prompts_takes_the_plain_path():
    model = random_llama()
    ids, mask = grouped_batch(group=1)
    calls = []

    def spy(**kwargs):
        calls.append(kwargs)
        return model.generate(**kwargs)

    config = GenerationConfig(max_new_tokens=4, do_sample=False, pad_token_id=PAD, eos_token_id=EOS)
    prefill.generate_from_shared_prefill(model, spy, ids, mask, config)
    assert len(calls) == 1 and "past_key_values" not in calls[0]


def test_the_model_gets_its_own_generate_back():
    model = random_llama()
    with prefill.shared_prompt_prefill(model):
        assert model.generate.func is prefill.generate_from_shared_prefill
    assert "generate" not in vars(model) and model.generate.__func__ is type(model).generate


def test_the_trainers_rollouts_prefill_once_and_return_what_trl_returns(tokenizer, tmp_path,  # noqa: F811
                                                                          monkeypatch):
    trainer = make_trainer(tokenizer, tmp_path, 1, Curriculum([c.case_id for c in CASES]))
    trainer.generation_config.do_sample = False  # greedy: both paths must pick the same tokens
    prompts = ([[{"role": "user", "content": "Pick one of K7, B2, M4."}]] * 4
               + [[{"role": "user", "content": "Which scarf of K7, B2 or M4 suits a cold evening walk?"}]] * 4)
    prompt_ids, images, fields = trainer._tokenize_prompts(prompts)
    assert len(set(map(len, prompt_ids))) == 2  # two lengths: TRL left-pads the shorter prompt
    prefilled, original = [], prefill.prefill

    def watching(model, ids, mask):
        prefilled.append(tuple(ids.shape))
        return original(model, ids, mask)

    monkeypatch.setattr(prefill, "prefill", watching)

    shared = trainer._generate_single_turn(prompt_ids, images, fields, 4)
    monkeypatch.setattr(grpo, "shared_prompt_prefill", lambda model, stop=None: nullcontext(model))
    plain = trainer._generate_single_turn(prompt_ids, images, fields, 4)

    assert prefilled == [(2, max(map(len, prompt_ids)) - 1)]  # TRL's generate call went through the prefill
    completion_ids, logprobs = shared
    assert (completion_ids, logprobs) == plain and logprobs is None
    assert len(completion_ids) == 8 and all(isinstance(t, int) for row in completion_ids for t in row)
    assert all(1 <= len(row) <= 8 for row in completion_ids)  # max_completion_length


class StopOn:
    """Stops a row once `token` is among its new tokens (a stand-in criterion for a random model)."""

    def __init__(self, token: int, width: int):
        self.token, self.width = token, width

    def __call__(self, input_ids, scores, **kwargs):
        return (input_ids[:, self.width:] == self.token).any(dim=1)


def test_a_stopping_criterion_ends_rows_alike_with_and_without_the_shared_prefill():
    from transformers import StoppingCriteriaList

    model = random_llama()
    ids, mask = grouped_batch(group=4)
    config = GenerationConfig(max_new_tokens=16, pad_token_id=PAD, eos_token_id=EOS, do_sample=True,
                              temperature=1.0)
    widths = []

    def stop(width):
        widths.append(width)
        return StoppingCriteriaList([StopOn(20, width)])

    torch.manual_seed(3)
    plain = model.generate(input_ids=ids, attention_mask=mask, generation_config=config,
                           stopping_criteria=stop(ids.shape[1]))
    torch.manual_seed(3)
    shared = prefill.generate_from_shared_prefill(model, model.generate, ids, mask, config, stop=stop)
    assert torch.equal(shared, plain) and widths == [7, 7]
    new = shared[:, 7:].tolist()
    stopped = [row for row in new if 20 in row]
    assert stopped, "no row drew the stop token: pick another"
    # a stopped row is padded after the stop token, as after EOS
    assert all(set(row[row.index(20) + 1:]) <= {PAD} for row in stopped)


def test_a_rollout_ends_once_its_answer_line_has_ended(tokenizer):  # noqa: F811
    texts = ["1. K7 is silk.\nANSWER: K7, B2\n", "1. K7 is silk.\nANSWER: K7, B2", "1. K7 is silk.\n2. So",
             "ANSWER:\n"]
    prompt = tokenizer("a prompt", return_tensors="pt").input_ids[0].tolist()
    rows = [prompt + tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    width = max(len(r) for r in rows)
    batch = torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows])
    done = grpo.AnswerLineStop(tokenizer, len(prompt))(batch, None)
    assert done.tolist() == [True, False, False, False]  # ended; not yet ended; no answer; no handle
