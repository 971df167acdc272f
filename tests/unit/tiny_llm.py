"""A tiny randomly initialised LlamaForCausalLM (hidden 32, 2 layers) with the real base tokenizer, saved as a
model directory, for the training unit tests (traces, SFT, Rechead). No pretrained weights are loaded."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parents[2] / "var" / "models" / "base"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def make_tiny_model_dir(path: Path, seed: int = 0) -> Path:
    """Write a tiny Llama + the base tokenizer to `path`; skips the test when the base tokenizer is missing."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if not all((BASE / name).is_file() for name in TOKENIZER_FILES):
        pytest.skip("the base tokenizer is missing: run `concierge prepare-models`")
    path.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(BASE / name, path / name)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=49152, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=True,
                         initializer_range=0.2)  # logits wide enough for a LoRA to move them
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def demo_case_prompt(item_count: int = 8, seed: int = 0):
    """A small catalogue, a case over it and a prompt function using the serving prompt (no stores)."""
    from backend.reasoner import build_prompt
    from training.data import TrainingCase

    colours = ["black", "red", "navy", "ivory", "green", "camel", "grey", "white", "pink", "blue"]
    items = [{"item_id": f"it-{i}", "title": f"Bag {i}", "brand": "Maison Test", "category": "tote",
              "price": 1000.0 + 100 * i,
              "attributes": {"colour": [colours[i % len(colours)]], "material": ["calfskin"],
                             "origin": "Italy", "season": ["summer"], "occasion": ["everyday"]}}
             for i in range(item_count)]
    by_id = {it["item_id"]: it for it in items}
    candidates = [it["item_id"] for it in items]
    random.Random(seed).shuffle(candidates)
    case = TrainingCase("q-1", "c-1", "A black tote for every day", candidates, {"it-0": 3, "it-3": 1},
                        "explicit", "bundle")

    class World:
        pass

    world = World()
    world.items = items

    def prompt_fn(case, world):
        from training.traces import query_graph

        return build_prompt(case.request, query_graph(case, world), "likes black",
                            [by_id[i] for i in case.candidates], random.Random(f"{seed}/{case.case_id}"))

    return case, world, prompt_fn
