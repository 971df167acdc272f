"""Self-distillation replay: the base model's own answers to general prompts, mixed into SFT.

Fine-tuning the 135M reasoner on recommendation traces alone makes it forget how to be a chat model:
after the shipped recipe the knowledge probe fell from 0.80 to 0.10 (the model answers "What is
...?" with numbered steps or noise, `docs/results/ablation-150-p5.md`), and the promotion gate
refuses any model whose probes drop more than 5%. The usual cure is replay: keep some general
examples in the training mix. Here the targets of those examples are the *base model's own greedy
answers* (no new facts, no outside data): the adapter is taught to keep behaving like the base model
wherever a prompt is not a recommendation prompt, and the traces teach it the recommendation format.

The prompts below were written by the team for this purpose. They share no question, topic or answer
with the probe sets of `training/probes/` (a test checks it), so the probes still measure what the
model kept, not what replay showed it.

    sft:
      replay: 0.25          # share of the SFT examples that are replay (0: none)
      replay_tokens: 128    # most new tokens of a base-model answer

`replay_examples(base_model_dir, n, ...)` returns `n` prompt-completion rows in the format of
`training.sft.sft_examples`, generated once and kept in a JSONL cache next to the adapter.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from tqdm import tqdm

# A few plain system lines, so that the adapter also keeps following a system turn that is not the
# reasoner's. None: the prompt has no system turn.
SYSTEMS = (None, None, "You are a helpful assistant.", "Keep your reply short.",
           "You are a friendly assistant. Be clear and concise.")

PROMPTS = (
    # how things work
    "How does a refrigerator keep food cold?",
    "Why does bread go stale?",
    "How do noise-cancelling headphones work?",
    "Why do onions make people cry?",
    "How does a compass find north?",
    "What makes popcorn pop?",
    "How do ants find their way back to the nest?",
    "Why is the sky blue during the day?",
    "How does yeast make dough rise?",
    "What causes thunder?",
    "How do solar panels turn light into electricity?",
    "Why do some trees lose their leaves in winter?",
    "How does a microwave oven heat food?",
    "What is the difference between weather and climate?",
    "How do vaccines help the body fight disease?",
    "Why does ice float on water?",
    "How does a spinning top stay upright?",
    "What does a thermostat do?",
    "How is paper made?",
    "Why do cats purr?",
    # definitions
    "What is a haiku?",
    "What does the word 'ephemeral' mean?",
    "What is compound interest?",
    "Explain what a metaphor is, with an example.",
    "What is the difference between a virus and a bacterium?",
    "What is a budget, and why is it useful?",
    "What is an algorithm?",
    "Define the word 'nostalgia'.",
    "What is the difference between a fruit and a vegetable?",
    "What is photosynthesis, in simple terms?",
    "What does a pharmacist do?",
    "What is the difference between a lake and a pond?",
    "What is a sonnet?",
    "What does 'sustainable' mean when people talk about products?",
    "What is a spreadsheet used for?",
    # everyday advice
    "Give me three tips for sleeping better.",
    "How can I keep houseplants alive while I travel for a week?",
    "What should I pack for a weekend camping trip?",
    "How do I remove a grass stain from a cotton shirt?",
    "Suggest a simple breakfast that takes five minutes.",
    "How can I make a small room feel bigger?",
    "What are some ways to save energy at home?",
    "How should I prepare for a job interview?",
    "Give me a tip for remembering people's names.",
    "How do I care for a wooden cutting board?",
    "What is a good way to start learning to draw?",
    "How often should I water a cactus?",
    "How can I stay focused while working from home?",
    "What should I do if I lock myself out of my house?",
    "How do I make a cup of tea properly?",
    "Suggest a way to organise a messy wardrobe.",
    "How can I reduce food waste in my kitchen?",
    "What are good habits for a healthy back at a desk?",
    "How do I politely decline an invitation?",
    "How can I keep my kitchen knives sharp?",
    # short writing tasks
    "Write a two-line poem about snow on a window.",
    "Write a short thank-you note to a neighbour who watered my plants.",
    "Write one sentence describing a quiet museum.",
    "Write a short birthday message for a colleague.",
    "Write a limerick about a forgetful cat.",
    "Describe the smell of fresh bread in one sentence.",
    "Write a short product description for a ceramic mug.",
    "Write a friendly reminder that a meeting starts at 10.",
    "Write a short apology for replying late to an email.",
    "Write a tweet announcing a bakery's new cinnamon rolls.",
    "Write a two-sentence story about a lost umbrella.",
    "Write a short motivational line for someone starting a new job.",
    "Describe a sunrise over a lake in two sentences.",
    "Write a short invitation to a garden picnic.",
    "Write a one-sentence summary of why reading is good for you.",
    # simple reasoning and arithmetic
    "If a train leaves at 3 pm and the trip takes 2 hours and 30 minutes, when does it arrive?",
    "I have 3 apples and buy 5 more, then eat 2. How many are left?",
    "Which is heavier, a kilogram of feathers or a kilogram of stones?",
    "A shirt costs 40 and is 25 percent off. What is the new price?",
    "What comes next in the sequence 2, 4, 8, 16?",
    "If today is Monday, what day will it be in three days?",
    "Sort these words alphabetically: pear, apple, mango, cherry.",
    "What is half of 150?",
    "How many minutes are there in two and a half hours?",
    "If I walk 4 kilometres an hour, how far do I walk in 90 minutes?",
    "Is 17 an odd or an even number?",
    "Convert 2 metres to centimetres.",
    # lists and formats
    "List three fruits that are red.",
    "Name four musical instruments that use strings.",
    "Give three synonyms for 'happy'.",
    "List the steps to boil an egg.",
    "Name three things you might find in a toolbox.",
    "Give two examples of renewable energy.",
    "List three ways to say hello in English.",
    "Name three board games that families play.",
    "List four kitchen utensils.",
    "Give three reasons people keep a diary.",
    # small talk and explanation for a beginner
    "Explain to a child why we need to brush our teeth.",
    "What is a good hobby for someone who likes being outdoors?",
    "Explain chess to someone who has never played.",
    "Why do people enjoy gardening?",
    "What is the point of a warm-up before exercise?",
    "Explain what a recipe is to someone who never cooks.",
    "Why is it important to drink water?",
    "What makes a good friend?",
    "How do you say no to a second slice of cake politely?",
    "What are the benefits of walking every day?",
    "Why do people collect stamps?",
    "What is the difference between a hobby and a job?",
    "Tell me something interesting about octopuses.",
    "Why do some people prefer baths to showers?",
    "How would you describe the taste of salt to someone?",
)


def replay_prompts(n: int, seed: int = 0) -> list[list[dict]]:
    """`n` chat prompts (message lists), each general prompt once before any repeats, system lines
    in turn; the order is seeded."""
    order = list(range(len(PROMPTS)))
    random.Random(seed).shuffle(order)
    out = []
    for i in range(n):
        user = PROMPTS[order[i % len(order)]]
        system = SYSTEMS[i % len(SYSTEMS)]
        out.append(([{"role": "system", "content": system}] if system else [])
                   + [{"role": "user", "content": user}])
    return out


def replay_examples(base_model_dir: str | Path, n: int, max_new_tokens: int, cache: str | Path,
                    seed: int = 0, batch_size: int = 8, progress: bool = True) -> list[dict]:
    """`n` replay rows: each prompt with the base model's greedy answer as the completion.

    Args:
        base_model_dir (`str` or `Path`): the base model (Hugging Face directory, no adapter: its
            answers are what the adapter must keep).
        n (`int`): how many rows.
        max_new_tokens (`int`): most new tokens of an answer.
        cache (`str` or `Path`): a JSONL file; rows already there for the same model, prompts and
            token budget are reused, the rest generated and appended.
        seed (`int`): seeds the prompts' order.
        batch_size (`int`): prompts generated together (left padding).
        progress (`bool`): show a progress bar.

    Returns:
        `list[dict]`: `{"prompt": [...messages], "completion": [{"role": "assistant", ...}]}` rows.
    """
    prompts = replay_prompts(n, seed)
    key = _cache_key(base_model_dir, max_new_tokens)
    cache = Path(cache)
    done = {}
    if cache.is_file():
        for line in cache.read_text().splitlines():
            row = json.loads(line)
            if row.get("key") == key:
                done[json.dumps(row["prompt"])] = row["completion"]
    keys = [json.dumps(p) for p in prompts]  # a prompt's messages, as the cache keys them
    missing = [k for k in dict.fromkeys(keys) if k not in done]
    if missing:
        cache.parent.mkdir(parents=True, exist_ok=True)
        answers = _generate(base_model_dir, [json.loads(p) for p in missing], max_new_tokens,
                            batch_size, progress)
        with cache.open("a") as f:
            for prompt, answer in zip(missing, answers):
                done[prompt] = answer
                row = {"key": key, "prompt": json.loads(prompt), "completion": answer}
                f.write(json.dumps(row) + "\n")
    return [{"prompt": p, "completion": [{"role": "assistant", "content": done[k]}]}
            for p, k in zip(prompts, keys)]


def _cache_key(base_model_dir, max_new_tokens: int) -> str:
    text = json.dumps([str(Path(base_model_dir).resolve()), max_new_tokens])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _generate(base_model_dir, prompts: list[list[dict]], max_new_tokens: int, batch_size: int,
              progress: bool) -> list[str]:
    """Greedy answers of the base model, `batch_size` prompts at a time."""
    import torch
    from transformers import AutoModelForCausalLM

    from backend.llm import load_tokenizer

    tokenizer = load_tokenizer(Path(base_model_dir))
    tokenizer.padding_side = "left"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    model = AutoModelForCausalLM.from_pretrained(Path(base_model_dir), local_files_only=True,
                                                 dtype=torch.float32).eval()
    answers = []
    for start in tqdm(range(0, len(prompts), batch_size), desc="replay answers", unit="batch",
                      disable=not progress):
        texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False)
                 for p in prompts[start:start + batch_size]]
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, pad_token_id=pad,
                                    do_sample=False, temperature=None, top_p=None, top_k=None)
        new = output[:, inputs["input_ids"].shape[1]:]
        for row, text in zip(new, tokenizer.batch_decode(new, skip_special_tokens=True)):
            ended = bool((row == tokenizer.eos_token_id).any())
            answers.append(text.strip() if ended else _whole_sentences(text))
    return answers


def _whole_sentences(text: str) -> str:
    """An answer cut at the token limit, up to its last finished sentence (the SFT target ends
    there, so the adapter does not learn to stop mid-sentence)."""
    text = text.strip()
    end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "), text.rfind(".\n"))
    return text[:end + 1] if end > 0 else text
