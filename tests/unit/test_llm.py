"""backend.llm on a tiny randomly initialised Llama with the real SmolLM2 tokenizer (no real weights)."""

from __future__ import annotations

import asyncio
import operator
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import reduce
from pathlib import Path

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from peft import LoraConfig, get_peft_model
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from backend import llm as llm_module
from backend.llm import STAT_KEYS, LocalChatModel, chat_model, count_tokens, cut_at_stop, release_until_stop
from backend.model_files import GGUF_FILE, gguf_path, is_model_dir
from backend.settings import Settings
from catalog.errors import ConciergeError

PROMPT = [HumanMessage("Name one colour.")]
NEW_TOKENS = 12


@pytest.fixture(scope="session")
def tokenizer(tmp_path_factory):
    """SmolLM2's tokenizer and chat template: from the materialised base model when it is there, else read
    from the GGUF (tokenizer only, a few seconds; the weights are never de-quantised)."""
    base = Settings().model_dir
    if is_model_dir(base):
        return AutoTokenizer.from_pretrained(base, local_files_only=True)
    return AutoTokenizer.from_pretrained(gguf_path().parent, gguf_file=GGUF_FILE)


def _tiny_llama(tokenizer, hidden_size: int = 32) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, intermediate_size=64,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         # wide initial weights, so greedy decoding wanders over many words instead of repeating one
                         initializer_range=0.3, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config)


def _save_model(model, tokenizer, directory: Path) -> Path:
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tokenizer) -> Path:
    return _save_model(_tiny_llama(tokenizer), tokenizer, tmp_path_factory.mktemp("tiny"))


def _make_adapter(base_dir: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter whose B matrices are random (PEFT starts them at zero, which would change nothing)."""
    model = get_peft_model(LlamaForCausalLM.from_pretrained(base_dir),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_" in name:
                weight.copy_(torch.randn(weight.shape, generator=generator))
    model.save_pretrained(out)
    return out


@pytest.fixture
def llm(tiny_dir) -> LocalChatModel:
    return LocalChatModel(model_dir=tiny_dir, max_new_tokens=NEW_TOKENS)


def test_prompt_follows_the_chat_template(llm, tokenizer):
    messages = [SystemMessage("Be brief."), HumanMessage("Hi"), AIMessage("Hello."), HumanMessage("A bag?")]
    ids = llm._prompt(messages)["input_ids"]
    assert tokenizer.decode(ids[0]) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nA bag?<|im_end|>\n<|im_start|>assistant\n")
    assert llm.get_num_tokens_from_messages(messages) == ids.shape[1]


def test_stream_concatenates_to_the_greedy_answer(llm):
    answer = llm.invoke(PROMPT)
    chunks = [chunk.content for chunk in llm.stream(PROMPT)]
    texts = [text for text in chunks if text]
    assert len(texts) >= 3
    assert "".join(chunks) == answer.content
    assert len(answer.content.split()) >= 3


def test_async_stream_matches_invoke(llm):
    async def collect() -> str:
        return "".join([chunk.content async for chunk in llm.astream(PROMPT)])

    assert asyncio.run(collect()) == llm.invoke(PROMPT).content


def test_timings_are_recorded_on_the_message_and_the_model(llm):
    for call in (llm.invoke, lambda prompt: reduce(operator.add, llm.stream(prompt))):
        message = call(PROMPT)
        stats = message.response_metadata
        for key in STAT_KEYS:
            assert stats[key] > 0, key
        assert stats["completion_tokens"] == NEW_TOKENS
        assert stats["prompt_tokens"] == llm.get_num_tokens_from_messages(PROMPT)
        assert stats["total_s"] == pytest.approx(stats["prefill_s"] + stats["decode_s"])
        assert message.usage_metadata["output_tokens"] == NEW_TOKENS
        assert llm.last_stats == stats


def test_stop_strings_cut_the_answer_and_end_generation(llm):
    full = llm.invoke(PROMPT).content
    stop = full.split()[2][:4]
    expected = full[:full.index(stop)]
    assert expected and len(expected) < len(full)
    stopped = llm.invoke(PROMPT, stop=[stop])
    assert stopped.content == expected
    assert stopped.response_metadata["completion_tokens"] < NEW_TOKENS
    assert "".join(chunk.content for chunk in llm.stream(PROMPT, stop=[stop])) == expected


def test_release_until_stop_holds_back_a_possible_stop_string():
    pieces = list(release_until_stop(["Hel", "lo ", "wo", "rld"], ["lo w"]))
    assert pieces == ["He", "l"]
    assert "".join(release_until_stop(["a <", "/an", "swer> b"], ["</answer>"])) == "a "
    assert "".join(release_until_stop(["a <", "b>", " c"], ["</answer>"])) == "a <b> c"
    assert cut_at_stop("one. two. three", ["two", "."]) == "one"
    assert cut_at_stop("no stop here", None) == "no stop here"


def test_greedy_stream_matches_transformers_generate(llm):
    """The serving loop (`decode_tokens`) and `model.generate` pick the same greedy tokens."""
    inputs = llm._prompt(PROMPT)
    with torch.inference_mode():
        output = llm.shared.model.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                                           do_sample=False)
    reference = llm.shared.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert llm.invoke(PROMPT).content == reference
    assert "".join(chunk.content for chunk in llm.stream(PROMPT)) == reference


def test_the_system_message_cache_changes_no_token(tokenizer, tmp_path):
    """Prompts that share a system message reuse its KV cache; answers stay those of `model.generate` on the
    whole prompt, also after the weights change (an adapter merged in, then out again)."""
    base_dir = _save_model(_tiny_llama(tokenizer), tokenizer, tmp_path / "base")
    llm = LocalChatModel(model_dir=base_dir, max_new_tokens=NEW_TOKENS)
    llm.load_adapter("alpha", _make_adapter(base_dir, tmp_path / "alpha", 1))

    def reference(messages, adapter):
        inputs = llm._prompt(messages)
        with llm.shared.lock, torch.inference_mode():
            llm.shared.activate(adapter)
            output = llm.shared.model.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                                               do_sample=False)
        return llm.shared.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    asks = [[SystemMessage("You pick colours."), HumanMessage(text)] for text in ("One colour?", "Two colours?")]
    for adapter in (None, "alpha", None):
        llm.use_adapter(adapter)
        for messages in asks:
            assert llm.invoke(messages).content == reference(messages, adapter), adapter
    assert llm.shared._prefix is not None  # the cache was used


def test_sampling_differs_from_greedy(tiny_dir):
    greedy = LocalChatModel(model_dir=tiny_dir, max_new_tokens=NEW_TOKENS).invoke(PROMPT).content
    torch.manual_seed(1)
    sampled = LocalChatModel(model_dir=tiny_dir, max_new_tokens=NEW_TOKENS, temperature=1.0).invoke(PROMPT).content
    assert sampled != greedy


def test_leaving_a_stream_early_ends_generation_and_frees_the_model(llm, monkeypatch):
    forwards = []
    forward = llm.shared.model.forward

    def counting_forward(*args, **kwargs):
        forwards.append(1)
        return forward(*args, **kwargs)

    monkeypatch.setattr(llm.shared.model, "forward", counting_forward)
    stream = llm.stream(PROMPT, max_new_tokens=300)
    next(stream)
    stream.close()
    seen = len(forwards)
    assert 0 < seen < 10, "generation went on after the consumer left"
    llm.invoke(PROMPT, max_new_tokens=2)
    assert len(forwards) == seen + 2  # the closed stream never ran again
    done = threading.Event()
    threading.Thread(target=lambda: (llm.invoke(PROMPT, max_new_tokens=2), done.set()), daemon=True).start()
    assert done.wait(timeout=20), "the model lock was not released when the stream was closed"


def test_one_model_per_directory_and_device(tiny_dir):
    first = LocalChatModel(model_dir=tiny_dir)
    second = LocalChatModel(model_dir=tiny_dir / ".." / tiny_dir.name, max_new_tokens=3)
    assert first.shared is second.shared


def test_lora_adapters_switch_without_reloading_the_base(tokenizer, tmp_path, monkeypatch):
    base_dir = _save_model(_tiny_llama(tokenizer), tokenizer, tmp_path / "base")
    llm = LocalChatModel(model_dir=base_dir, max_new_tokens=NEW_TOKENS)
    base_model, embeddings = llm.shared.model, llm.shared.model.get_input_embeddings().weight.data_ptr()
    base_answer = llm.invoke(PROMPT).content
    alpha, beta = _make_adapter(base_dir, tmp_path / "alpha", 1), _make_adapter(base_dir, tmp_path / "beta", 2)
    monkeypatch.setattr(llm_module, "AutoModelForCausalLM", None)  # any reload of the base would now fail

    llm.load_adapter("alpha", alpha)
    llm.load_adapter("beta", beta)
    answers = {}
    for name in ("alpha", "beta", None):
        llm.use_adapter(name)
        assert llm.active_adapter == name
        answers[name] = llm.invoke(PROMPT).content
        assert llm.last_stats["adapter"] == name

    assert llm.shared.model is base_model
    assert llm.shared.model.get_input_embeddings().weight.data_ptr() == embeddings
    assert len({answers["alpha"], answers["beta"], base_answer}) == 3
    assert answers[None] == base_answer
    # Instances over the same model answer with their own adapter, also when called at the same time.
    with_alpha = LocalChatModel(model_dir=base_dir, max_new_tokens=NEW_TOKENS, adapter="alpha")
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(lambda model: model.invoke(PROMPT).content, [with_alpha, llm] * 2))
    assert together == [answers["alpha"], base_answer] * 2
    assert "".join(chunk.content for chunk in with_alpha.stream(PROMPT)) == answers["alpha"]


def test_the_active_adapter_is_merged_and_unmerged_without_changing_outputs(tokenizer, tmp_path):
    base_dir = _save_model(_tiny_llama(tokenizer), tokenizer, tmp_path / "base")
    alpha = _make_adapter(base_dir, tmp_path / "alpha", 1)
    # fp32 only: this checks the merge arithmetic, and unmerges behind SharedModel's back below
    llm = LocalChatModel(model_dir=base_dir, max_new_tokens=NEW_TOKENS, half_rows=0)
    shared = llm.shared
    base_weights = {name: tensor.clone() for name, tensor in shared.model.state_dict().items()}
    ids = torch.tensor([[1, 5, 9, 42, 7]])
    with torch.no_grad():
        base_logits = shared.model(input_ids=ids).logits
    llm.load_adapter("alpha", alpha)
    with shared.lock:
        shared.activate("alpha")
        assert shared.merged == "alpha"
        with torch.no_grad():
            merged_logits = shared.model(input_ids=ids).logits
        shared.peft.base_model.unmerge_adapter()  # the same adapter computed as LoRA layers beside W
        with torch.no_grad():
            lora_logits = shared.model(input_ids=ids).logits
        shared.merged = None
        shared.activate(None)
        assert shared.merged is None
        with torch.no_grad():
            back_logits = shared.model(input_ids=ids).logits
    assert not torch.allclose(merged_logits, base_logits, atol=1e-3)  # the adapter does something
    assert torch.allclose(merged_logits, lora_logits, atol=1e-5)
    assert torch.allclose(back_logits, base_logits, atol=1e-5)
    for name, tensor in shared.peft.base_model.model.state_dict().items():
        key = name.replace(".base_layer", "")
        if key in base_weights:
            assert torch.allclose(tensor, base_weights[key], atol=1e-6), name


def test_adapter_errors_are_concierge_errors(tokenizer, tmp_path):
    base_dir = _save_model(_tiny_llama(tokenizer), tokenizer, tmp_path / "base")
    other_dir = _save_model(_tiny_llama(tokenizer, hidden_size=16), tokenizer, tmp_path / "other")
    llm = LocalChatModel(model_dir=base_dir, max_new_tokens=4)
    before = llm.invoke(PROMPT).content
    with pytest.raises(ConciergeError, match="no adapter named 'nope'"):
        llm.use_adapter("nope")
    with pytest.raises(ConciergeError, match="no adapter named 'nope'"):
        LocalChatModel(model_dir=base_dir, adapter="nope")
    with pytest.raises(ConciergeError, match="not a PEFT adapter directory"):
        llm.load_adapter("plain", base_dir)
    with pytest.raises(ConciergeError, match="does not fit the base model"):
        llm.load_adapter("wrong-shape", _make_adapter(other_dir, tmp_path / "other-adapter", 3))
    with pytest.raises(ConciergeError, match="cannot name an adapter"):
        llm.load_adapter("v1.2", _make_adapter(base_dir, tmp_path / "good", 4))
    assert llm.shared.adapters == {} and llm.shared.peft is None
    assert not any("lora_" in name for name, _ in llm.shared.model.named_parameters())
    assert llm.invoke(PROMPT).content == before  # a failed load leaves the base model as it was
    llm.load_adapter("good", tmp_path / "good")
    llm.load_adapter("good", tmp_path / "good")  # the same again is a no-op
    with pytest.raises(ConciergeError, match="already loaded"):
        llm.load_adapter("good", tmp_path / "other-adapter")


def test_missing_model_directory_is_a_concierge_error(tmp_path):
    with pytest.raises(ConciergeError, match="not a Hugging Face model directory"):
        LocalChatModel(model_dir=tmp_path)


def test_chat_model_local_uses_the_configured_directory(tiny_dir):
    settings = Settings(base_model_dir=tiny_dir, max_new_tokens=5, temperature=0.0)
    model = chat_model(settings)
    assert isinstance(model, LocalChatModel)
    assert model.model_dir == tiny_dir and model.max_new_tokens == 5 and model.active_adapter is None
    assert model.invoke(PROMPT).response_metadata["completion_tokens"] == 5
    with pytest.raises(ConciergeError, match="no adapter named"):
        chat_model(settings, adapter="v9")


def test_chat_model_loads_an_adapter_from_its_path_once(tokenizer, tmp_path):
    base_dir = _save_model(_tiny_llama(tokenizer), tokenizer, tmp_path / "base")
    adapter_dir = _make_adapter(base_dir, tmp_path / "v2", 5)
    settings = Settings(base_model_dir=base_dir, max_new_tokens=NEW_TOKENS)
    base_answer = chat_model(settings).invoke(PROMPT).content
    first = chat_model(settings, adapter="v2", adapter_path=adapter_dir)
    lora_a = first.shared.model.get_submodule("model.layers.0.self_attn.q_proj").lora_A["v2"].weight
    second = chat_model(settings, adapter="v2", adapter_path=adapter_dir)
    assert second.active_adapter == "v2" and second.shared is first.shared
    assert second.shared.model.get_submodule("model.layers.0.self_attn.q_proj").lora_A["v2"].weight is lora_a
    assert first.invoke(PROMPT).content == second.invoke(PROMPT).content != base_answer
    with pytest.raises(ConciergeError, match="needs a name"):
        chat_model(settings, adapter_path=adapter_dir)


def test_chat_model_openai_points_at_the_server():
    from langchain_openai import ChatOpenAI

    settings = Settings(llm_backend="openai", openai_base_url="http://10.0.0.7:8001/v1", openai_model="smol",
                        max_new_tokens=77, temperature=0.3)
    base, adapted = chat_model(settings), chat_model(settings, adapter="v3")
    assert isinstance(base, ChatOpenAI) and isinstance(adapted, ChatOpenAI)
    assert base.openai_api_base == "http://10.0.0.7:8001/v1"
    assert (base.model_name, adapted.model_name) == ("smol", "v3")
    assert base.max_tokens == 77 and base.temperature == 0.3 and base.streaming


def test_count_tokens_uses_the_local_tokenizer(tiny_dir, tokenizer):
    settings = Settings(base_model_dir=tiny_dir)
    text = "A bag for a summer wedding in Tuscany"
    assert count_tokens(text, settings) == len(tokenizer.encode(text, add_special_tokens=False)) > 5
    assert count_tokens("", settings) == 0
    assert LocalChatModel(model_dir=tiny_dir).get_num_tokens(text) == count_tokens(text, settings)


def test_gemma_turn_format_keeps_the_system_text_a_prefix_of_the_prompt():
    from jinja2 import Template

    from backend.model_files import GEMMA_CHAT_TEMPLATE

    def render(messages, prompt=False):
        return Template(GEMMA_CHAT_TEMPLATE).render(messages=messages, bos_token="<bos>", add_generation_prompt=prompt)

    system, user = {"role": "system", "content": "You are a concierge."}, {"role": "user", "content": "A bag."}
    whole = render([system, user], prompt=True)
    assert whole == "<bos><start_of_turn>user\nYou are a concierge.\n\nA bag.<end_of_turn>\n<start_of_turn>model\n"
    assert whole.startswith(render([system]))  # the serving KV cache of the system prompt stays valid
    answer = render([system, user, {"role": "assistant", "content": "ANSWER: i-1"}])
    assert answer.endswith("<start_of_turn>model\nANSWER: i-1<end_of_turn>\n")
    assert render([user], prompt=True).startswith("<bos><start_of_turn>user\nA bag.")


def test_a_base_model_whose_package_is_missing_says_what_to_install(tmp_path):
    from backend.model_files import BASE_MODELS, BaseModelSource

    missing = BaseModelSource("no_such_model_package", "no-such-model-package==1.0", "x.gguf", chunked=True)
    with pytest.raises(ConciergeError, match="pip install no-such-model-package==1.0"):
        gguf_path(missing, tmp_path)
    assert set(BASE_MODELS) == {"smollm2-135m", "gemma3-270m"}
    assert gguf_path().name == GGUF_FILE  # the served base: found in its package, nothing assembled
