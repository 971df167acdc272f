"""The language model behind the reasoner, seen through LangChain's chat-model interface.

`chat_model(settings)` picks the backend (one `if` on `settings.llm_backend`):

- `local`: `LocalChatModel`, a transformers causal LM running in this process (SmolLM2-135M-Instruct by
  default). Its weights are loaded once per process for each (directory, device) and shared by every
  `LocalChatModel`; LoRA adapters are loaded onto that shared model by name and switched per call, so a
  new model version goes live without a restart and without reloading the base weights. Concurrent calls that
  use the same adapter decode together, one batched forward pass per token (`backend.decoding.BatchDecoder`).
- `openai`: LangChain's `ChatOpenAI` against an OpenAI-compatible server (vLLM with `--enable-lora`
  serves each adapter under its own model name).

Every local call records its timings (`prompt_tokens`, `completion_tokens`, `prefill_s`, `decode_s`,
`tokens_per_s`, `total_s`, and `queued_s`: the wait before its prefill began) in the message's
`response_metadata` and on `LocalChatModel.last_stats`.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ChatMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from peft import PeftConfig, PeftModel
from pydantic import ConfigDict, Field, PrivateAttr
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from backend.decoding import BatchDecoder, FairLock, Request, decode_tokens
from backend.half_decode import HalfLinears
from backend.model_files import is_model_dir, materialise_base_model
from backend.settings import Settings, get_settings
from catalog.errors import ConciergeError

STAT_KEYS = ("prompt_tokens", "completion_tokens", "prefill_s", "decode_s", "tokens_per_s", "total_s")
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
ADAPTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
DECODE_BATCH = Settings.model_fields["decode_batch"].default
HALF_DECODE_ROWS = Settings.model_fields["half_decode_rows"].default
PREFILL_BF16 = Settings.model_fields["prefill_bf16"].default


# ----------------------------------------------------------------------------------------------------
# The shared model: one per (directory, device) per process


@dataclass
class SharedModel:
    """A tokenizer and causal LM loaded once and shared by every `LocalChatModel` of the process.

    LoRA adapters are injected into `model`'s own modules (through a `PeftModel` wrapper, `peft`), so `model`
    stays the one object that generates, with or without an adapter. `lock` serialises everything that
    touches the model: an adapter switch and the forward passes that depend on it must not interleave with
    another's. `decoder` runs the batched generations, taking `lock` for one step at a time.
    """

    model_dir: Path
    tokenizer: Any
    model: Any
    device: torch.device
    lock: FairLock = field(default_factory=FairLock)
    adapters: dict[str, Path] = field(default_factory=dict)
    peft: PeftModel | None = None
    merged: str | None = None  # the adapter whose weights are folded into the base weights now, if any
    weights_epoch: int = 0  # changes whenever the effective weights do (adapter merged, unmerged, switched)
    base_only: bool = False  # the adapters are switched off: the forward pass is the base model's
    half: HalfLinears | None = None  # fp16 weight copies for decode steps on CPU (None: fp32 only)
    _prefix: tuple[tuple, DynamicCache] | None = None  # the KV cache of the last prompt prefix seen
    decoder: BatchDecoder = field(init=False)

    def __post_init__(self) -> None:
        self.decoder = BatchDecoder(self)

    def prefix_cache(self, ids: list[int]) -> DynamicCache:
        """A fresh copy of the KV cache after the tokens `ids` (the system message of a prompt), computed once
        per weights state and reused: every reasoner prompt starts with the same ~70 tokens, ~20% of its
        prefill. Call with `lock` held, adapters activated."""
        key = (self.weights_epoch, tuple(ids))
        with torch.inference_mode():
            if self._prefix is None or self._prefix[0] != key:
                cache = DynamicCache()
                self.model(input_ids=torch.tensor([ids], device=self.device), past_key_values=cache,
                           use_cache=True, logits_to_keep=1)
                self._prefix = (key, cache)
            return copy.deepcopy(self._prefix[1])

    def load_adapter(self, name: str, path: Path) -> None:
        """Load a LoRA adapter directory onto the model under `name` (a no-op if already loaded from `path`)."""
        with self.lock:
            if name in self.adapters:
                if self.adapters[name] == path:
                    return
                raise ConciergeError(f"an adapter named {name!r} is already loaded from {self.adapters[name]}; "
                                     "give the new one another name (a model version is never overwritten)")
            try:
                missing = self._inject(name, path)
            except Exception as error:  # peft / torch raise several types for an adapter that does not fit
                self._forget(name)
                reason = " ".join(str(error).splitlines()[:2])  # a shape mismatch lists every tensor
                raise ConciergeError(f"the adapter {path} does not fit the base model {self.model_dir}: "
                                     f"{reason}") from error
            if missing:
                self._forget(name)
                raise ConciergeError(f"the adapter {path} does not fit the base model {self.model_dir}: "
                                     f"{len(missing)} of its weights are missing, e.g. {missing[0]}")
            self.adapters[name] = path

    def _inject(self, name: str, path: Path) -> list[str]:
        """Add adapter `name` to the model's layers and load its weights; returns its missing weight names."""
        self._unmerge()
        if self.peft is None:
            config = PeftConfig.from_pretrained(str(path))
            config.inference_mode = True
            self.peft = PeftModel(self.model, config, adapter_name=name)  # injects into self.model in place
        result = self.peft.load_adapter(str(path), adapter_name=name, torch_device=str(self.device))
        pattern = re.compile(rf"\.lora_\w+\.{re.escape(name)}(\.|$)")
        return [key for key in result.missing_keys if pattern.search(key)]

    def activate(self, name: str | None) -> None:
        """Route the forward pass through adapter `name`, or through the base weights only (None).

        The active adapter is merged into the base weights (W + BA), so a forward pass costs what the base
        model's does: the unmerged LoRA layers add ~15% to every decoded token on CPU (120 small extra
        matmuls). Switching unmerges first (W + BA - BA: greedy output is unchanged, see
        tests/unit/test_llm.py). Call with `lock` held."""
        if self.peft is None or (name is not None and name == self.merged) or (name is None and self.base_only):
            return  # already so: the batch decoder asks before every step
        self._unmerge()
        self._changed()
        if name is None:
            self.peft.base_model.disable_adapter_layers()
            self.base_only = True
        else:
            self.peft.base_model.enable_adapter_layers()
            self.peft.set_adapter(name, inference_mode=True)
            self.peft.base_model.merge_adapter([name])
            self.merged = name

    def _unmerge(self) -> None:
        if self.peft is not None and self.merged is not None:
            self.peft.base_model.unmerge_adapter()
        self.merged = None
        self.base_only = False
        self._changed()

    def _changed(self) -> None:
        """The effective weights changed: caches computed with the old ones are stale."""
        self.weights_epoch += 1
        if self.half is not None:
            self.half.stale()

    def _forget(self, name: str) -> None:
        self.adapters.pop(name, None)
        self._unmerge()
        if self.peft is None or name not in self.peft.peft_config:
            return
        if len(self.peft.peft_config) > 1:
            self.peft.delete_adapter(name)
        else:  # the only adapter: take the LoRA layers out again, leaving the plain base model
            self.peft.unload()
            self.peft = None


_SHARED: dict[tuple[str, str], SharedModel] = {}
_SHARED_LOCK = threading.Lock()


def shared_model(model_dir: str | Path, device: str = "cpu", threads: int = 0,
                 half_rows: int = HALF_DECODE_ROWS, prefill_bf16: bool = PREFILL_BF16) -> SharedModel:
    """The process-wide model for `model_dir` on `device`, loaded on first use.

    Args:
        model_dir (`str` or `Path`): a Hugging Face causal-LM directory (config.json, *.safetensors, tokenizer).
        device (`str`): torch device, e.g. `cpu`, `cuda`, `cuda:1`.
        threads (`int`): torch CPU threads, set when the model is first loaded (0 leaves torch's default).
        half_rows (`int`): on CPU, passes over at most this many rows use fp16 weight copies
            (`backend.half_decode`); 0 keeps fp32 only. Set when the model is first loaded.
        prefill_bf16 (`bool`): on CPU (with `half_rows` > 0), bigger inference passes use bf16 copies.

    Returns:
        `SharedModel`: the same object for every call with the same directory and device.
    """
    model_dir = Path(model_dir).resolve()
    key = (str(model_dir), str(device))
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = _load_shared(model_dir, _torch_device(device), threads, half_rows,
                                           prefill_bf16)
        return _SHARED[key]


def _load_shared(model_dir: Path, device: torch.device, threads: int, half_rows: int,
                 prefill_bf16: bool) -> SharedModel:
    if threads > 0:
        torch.set_num_threads(threads)
    tokenizer = load_tokenizer(model_dir)
    # fp32 everywhere: this CPU has no fast bf16, and the 135M model fits any GPU in fp32.
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    model.to(device).eval()
    half = HalfLinears(model, half_rows, prefill_bf16) if device.type == "cpu" and half_rows > 0 else None
    return SharedModel(model_dir=model_dir, tokenizer=tokenizer, model=model, device=device, half=half)


@lru_cache(maxsize=8)
def load_tokenizer(model_dir: Path) -> Any:
    """The tokenizer of a model directory, loaded once (it is all `count_tokens` needs: no weights)."""
    if not is_model_dir(model_dir):
        raise ConciergeError(f"{model_dir} is not a Hugging Face model directory (no config.json + *.safetensors); "
                             "run `concierge prepare-models` to materialise the base model, "
                             "or point CONCIERGE_BASE_MODEL_DIR at one")
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if not tokenizer.chat_template:
        raise ConciergeError(f"the tokenizer in {model_dir} has no chat template; use an instruct/chat model")
    return tokenizer


def _torch_device(device: str) -> torch.device:
    try:
        parsed = torch.device(device)
    except RuntimeError as error:
        raise ConciergeError(f"CONCIERGE_LLM_DEVICE={device!r} is not a torch device (cpu, cuda, cuda:1)") from error
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ConciergeError(f"CONCIERGE_LLM_DEVICE={device} but torch sees no CUDA device; use cpu")
    return parsed


def check_adapter_dir(path: Path) -> None:
    """Raise a `ConciergeError` unless `path` holds a PEFT LoRA adapter (config and weights)."""
    config = path / "adapter_config.json"
    if not config.is_file() or not any((path / name).is_file() for name in ADAPTER_WEIGHTS):
        raise ConciergeError(f"{path} is not a PEFT adapter directory (expected adapter_config.json and "
                             "adapter_model.safetensors, as written by `PeftModel.save_pretrained`)")
    try:
        peft_type = json.loads(config.read_text()).get("peft_type")
    except (OSError, ValueError, AttributeError) as error:
        raise ConciergeError(f"{config} is not a valid adapter config: {error}") from error
    if peft_type != "LORA":
        raise ConciergeError(f"{path} holds a {peft_type} adapter; only LoRA adapters are served")


# ----------------------------------------------------------------------------------------------------
# Generation helpers: timing, stop strings, the background thread of a stream


class _TokenClock:
    """Notes when the call came, when its prefill began (`begin`), when the first new token arrives, and how
    many follow."""

    def __init__(self):
        self.started = time.perf_counter()
        self.queued_s = 0.0
        self.first_token_at: float | None = None
        self.ended_at: float | None = None
        self.completion_tokens = 0

    def begin(self, at: float | None = None) -> None:
        """The prefill began `at` (a `time.perf_counter()` value; default now): the time before it was a wait."""
        at = time.perf_counter() if at is None else at
        self.queued_s, self.started = at - self.started, at

    def token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        self.completion_tokens += 1

    def end(self) -> None:
        self.ended_at = time.perf_counter()

    def stats(self, prompt_tokens: int) -> dict[str, float]:
        """The timings of the finished call; `tokens_per_s` is the decode rate (tokens after the first)."""
        ended = self.ended_at or time.perf_counter()
        first = self.first_token_at or ended
        decode_s = ended - first
        after_first = self.completion_tokens - 1
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "prefill_s": first - self.started,
            "decode_s": decode_s,
            "tokens_per_s": after_first / decode_s if after_first > 0 and decode_s > 0 else 0.0,
            "total_s": ended - self.started,
            "queued_s": self.queued_s,
        }


def text_pieces(tokenizer: Any, tokens: Iterable[int], on_token: Any = None) -> Iterator[str]:
    """The text of a stream of token ids, piece by piece, each piece the text the newest token added (a
    token that ends inside a multi-byte character waits for the rest of it)."""
    ids: list[int] = []
    sent = 0
    for token in tokens:
        ids.append(token)
        if on_token is not None:
            on_token()
        text = tokenizer.decode(ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            continue
        if len(text) > sent:
            yield text[sent:]
            sent = len(text)


def _stop_index(text: str, stop: list[str]) -> int | None:
    """Where the first stop string starts in `text`, or None."""
    found = [index for index in (text.find(s) for s in stop if s) if index >= 0]
    return min(found) if found else None


def cut_at_stop(text: str, stop: list[str] | None) -> str:
    """`text` up to (not including) the first stop string."""
    index = _stop_index(text, stop or [])
    return text if index is None else text[:index]


def _held_back(text: str, stop: list[str]) -> int:
    """Length of the longest end of `text` that may be the start of a stop string (not safe to send yet)."""
    return max((n for s in stop for n in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:n])), default=0)


def release_until_stop(pieces: Iterable[str], stop: list[str] | None) -> Iterator[str]:
    """Pass text pieces on as they arrive, ending at the first stop string, which is never sent.

    Text that could be the beginning of a stop string is held back until the next pieces show it is not,
    so the pieces sent always concatenate to `cut_at_stop(full_text, stop)`.
    """
    stop = [s for s in stop or [] if s]
    text, sent = "", 0
    for piece in pieces:
        text += piece
        index = _stop_index(text, stop)
        if index is not None:
            if index > sent:
                yield text[sent:index]
            return
        safe = len(text) - _held_back(text, stop)
        if safe > sent:
            yield text[sent:safe]
            sent = safe
    if len(text) > sent:
        yield text[sent:]


def _chat_role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ChatMessage):
        return message.role
    raise ConciergeError(f"the local model cannot take a {type(message).__name__}; "
                         "send system, human and AI messages only")


# ----------------------------------------------------------------------------------------------------
# The LangChain chat model


class LocalChatModel(BaseChatModel):
    """A LangChain chat model over a transformers causal LM in this process.

    The weights are shared per (directory, device) by every instance (see `shared_model`); an instance only
    holds its generation settings, the adapter it answers with, and the timings of its last call.

    Args:
        model_dir (`Path`): Hugging Face causal-LM directory with a chat template.
        device (`str`): torch device.
        threads (`int`): torch CPU threads (0: torch's default).
        max_new_tokens (`int`): most tokens generated per call (a call may pass `max_new_tokens=` to override).
        temperature (`float`): 0 decodes greedily; above 0 samples (a call may pass `temperature=`).
        adapter (`str`, *optional*): name of a loaded LoRA adapter to answer with (None: the base model).
        decode_batch (`int`): most generations of the shared model decoded together, this one included
            (1: alone, in the caller's thread, holding the model's lock for the whole answer).
        half_rows (`int`): CPU passes over at most this many rows use fp16 weights (0: fp32 only); the
            first instance over a model directory decides it for the process.
        prefill_bf16 (`bool`): CPU passes over more rows use bf16 weights (decided like `half_rows`).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    model_dir: Path = Field(description="Hugging Face causal-LM directory with a chat template.")
    device: str = Field("cpu", description="torch device of the model.")
    threads: int = Field(0, description="torch CPU threads (0: torch's default).")
    max_new_tokens: int = Field(320, description="Most tokens generated per call.")
    temperature: float = Field(0.0, description="Sampling temperature (0: greedy).")
    adapter: str | None = Field(None, description="Loaded LoRA adapter to answer with (None: base model).")
    decode_batch: int = Field(DECODE_BATCH, ge=1, description="Most generations decoded together (1: alone).")
    half_rows: int = Field(HALF_DECODE_ROWS, ge=0, description="CPU passes over at most this many rows use "
                           "fp16 weights (0: fp32 only).")
    prefill_bf16: bool = Field(PREFILL_BF16, description="CPU passes over more rows use bf16 weights.")
    last_stats: dict[str, Any] | None = Field(None, description="Timings of the last call.")

    _shared: SharedModel = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._shared = shared_model(self.model_dir, self.device, self.threads, self.half_rows, self.prefill_bf16)
        self.use_adapter(self.adapter)

    @property
    def _llm_type(self) -> str:
        return "concierge-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_dir": str(self.model_dir), "device": self.device, "adapter": self.adapter,
                "max_new_tokens": self.max_new_tokens, "temperature": self.temperature,
                "decode_batch": self.decode_batch, "half_rows": self.half_rows, "prefill_bf16": self.prefill_bf16}

    @property
    def shared(self) -> SharedModel:
        """The process-wide tokenizer + model this instance generates with."""
        return self._shared

    # -- adapters ----------------------------------------------------------------------------------

    def load_adapter(self, name: str, path: str | Path) -> None:
        """Load a PEFT LoRA adapter onto the shared model (every instance over it can then use it).

        The base weights stay where they are; loading under a name already loaded replaces that adapter.

        Args:
            name (`str`): the adapter's name (a model version), later passed to `use_adapter`.
            path (`str` or `Path`): directory written by `PeftModel.save_pretrained`.
        """
        if not isinstance(name, str) or not ADAPTER_NAME.fullmatch(name):
            raise ConciergeError(f"{name!r} cannot name an adapter: use letters, digits, '_' and '-' "
                                 "(PEFT keys modules by this name, so no dots)")
        if name in "lora_":  # PEFT finds a LoRA adapter's weights by this prefix; such a name confuses it
            raise ConciergeError(f"{name!r} cannot name an adapter: it is part of PEFT's prefix 'lora_'")
        path = Path(path).resolve()
        check_adapter_dir(path)
        self._shared.load_adapter(name, path)

    def use_adapter(self, name: str | None) -> None:
        """Answer with adapter `name` from the next call on; None answers with the base model.

        Args:
            name (`str`, *optional*): a name given to `load_adapter` in this process, or None.
        """
        if name is not None and name not in self._shared.adapters:
            loaded = ", ".join(sorted(self._shared.adapters)) or "none"
            raise ConciergeError(f"no adapter named {name!r} is loaded (loaded: {loaded}); "
                                 "load it first with load_adapter(name, path)")
        self.adapter = name

    @property
    def active_adapter(self) -> str | None:
        """The adapter this instance answers with (None: the base model)."""
        return self.adapter

    # -- scoring the answer's first token ------------------------------------------------------------

    def next_token_scores(self, messages: list[BaseMessage], prefix: str,
                          options: list[str]) -> dict[str, float] | None:
        """Log-probabilities of each option as the next token after the prompt and `prefix` (the start of
        this model's own answer), from one forward pass; None when the options are not distinct single tokens.

        The reasoner uses it to read the model's order over the candidates when its text did not end in a
        usable answer: `prefix` is its reasoning plus "ANSWER:", the options are " K", " B", ... (each handle
        starts with its own letter, `backend.reasoner.make_handles`).
        """
        tokenizer = self._shared.tokenizer
        ids = [tokenizer.encode(option, add_special_tokens=False) for option in options]
        if any(len(i) != 1 for i in ids) or len({i[0] for i in ids}) != len(ids):
            return None
        inputs = self._prompt(messages)
        tail = tokenizer(prefix, add_special_tokens=False, return_tensors="pt")["input_ids"].to(self._shared.device)
        input_ids = torch.cat([inputs["input_ids"], tail], dim=1)  # (1, prompt + prefix tokens)
        with self._shared.lock, torch.inference_mode():
            self._shared.activate(self.adapter)
            logits = self._shared.model(input_ids=input_ids).logits[0, -1]  # (vocabulary,)
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        return {option: float(logprobs[i[0]]) for option, i in zip(options, ids)}

    # -- tokens ------------------------------------------------------------------------------------

    def get_num_tokens(self, text: str) -> int:
        """Tokens in `text` by the local tokenizer."""
        return len(self._shared.tokenizer.encode(text, add_special_tokens=False))

    def get_num_tokens_from_messages(self, messages: list[BaseMessage], tools: Any = None) -> int:
        """Tokens of the prompt these messages make, chat template included."""
        return int(self._prompt(messages)["input_ids"].shape[1])

    def _prompt(self, messages: list[BaseMessage]) -> dict[str, torch.Tensor]:
        chat = [{"role": _chat_role(m), "content": m.text} for m in messages]
        encoded = self._shared.tokenizer.apply_chat_template(chat, add_generation_prompt=True,
                                                             return_tensors="pt", return_dict=True)
        # input_ids, attention_mask: (1, prompt_tokens)
        return {name: encoded[name].to(self._shared.device) for name in ("input_ids", "attention_mask")}

    # -- generation --------------------------------------------------------------------------------

    def _settings(self, inputs: dict[str, torch.Tensor], overrides: dict[str, Any]) -> tuple[int, float]:
        """A call's `max_new_tokens` and `temperature` (`overrides`: what the call passed), checked."""
        max_new_tokens = int(overrides.get("max_new_tokens", self.max_new_tokens))
        temperature = float(overrides.get("temperature", self.temperature))
        self._check_length(inputs["input_ids"].shape[1], max_new_tokens)
        return max_new_tokens, temperature

    def _check_length(self, prompt_tokens: int, max_new_tokens: int) -> None:
        limit = getattr(self._shared.model.config, "max_position_embeddings", None)
        if limit and prompt_tokens + max_new_tokens > limit:
            raise ConciergeError(f"the prompt has {prompt_tokens} tokens; with {max_new_tokens} new tokens that "
                                 f"exceeds the model's context of {limit}; shorten the request or the candidate list")

    def _split_prefix(self, messages: list[BaseMessage], input_ids: torch.Tensor) -> tuple[list[int], torch.Tensor]:
        """The prompt's system message, whose KV cache the shared model keeps across calls, and its other tokens;
        ([], the whole prompt) when there is no system message to reuse."""
        if not messages or not isinstance(messages[0], SystemMessage):
            return [], input_ids
        system = [{"role": "system", "content": messages[0].text}]
        prefix = self._shared.tokenizer.apply_chat_template(system, tokenize=False)
        ids = self._shared.tokenizer(prefix, add_special_tokens=False)["input_ids"]
        if not 0 < len(ids) < input_ids.shape[1] or input_ids[0, :len(ids)].tolist() != ids:
            return [], input_ids
        return ids, input_ids[:, len(ids):]

    def _stop_ids(self) -> set[int]:
        eos = self._shared.model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
        return {int(i) for i in eos} | ({self._shared.tokenizer.eos_token_id} - {None})

    def _finish(self, prompt_tokens: int, clock: _TokenClock) -> dict[str, Any]:
        clock.end()
        stats = clock.stats(prompt_tokens)
        self.last_stats = stats | {"adapter": self.adapter}
        return self.last_stats

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(chunk.message.content for chunk in self._stream(messages, stop, **kwargs))
        stats = dict(self.last_stats)
        message = AIMessage(content=text, response_metadata=stats, usage_metadata=_usage(stats))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        inputs = self._prompt(messages)
        prompt_tokens = inputs["input_ids"].shape[1]
        max_new_tokens, temperature = self._settings(inputs, kwargs)
        prefix, rest = self._split_prefix(messages, inputs["input_ids"])
        clock = _TokenClock()
        tokens = self._tokens(prefix, rest, max_new_tokens, temperature, clock)
        try:
            for piece in release_until_stop(text_pieces(self._shared.tokenizer, tokens, clock.token), stop):
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        finally:  # also when the consumer stops early: end this generation before anything else
            tokens.close()
            stats = self._finish(prompt_tokens, clock)  # kept even when the stream is closed early
        yield ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata=dict(stats),
                                                         usage_metadata=_usage(stats), chunk_position="last"))

    def _tokens(self, prefix: list[int], rest: torch.Tensor, max_new_tokens: int, temperature: float,
                clock: _TokenClock) -> Iterator[int]:
        """The answer's token ids: decoded together with the shared model's other generations, or alone in
        this thread (`decode_batch` 1). Closing the iterator ends this generation."""
        if self.decode_batch > 1:
            request = Request(self.adapter, prefix, rest, max_new_tokens, temperature, self._stop_ids(),
                              self.decode_batch)
            try:
                yield from self._shared.decoder.generate(request)
            finally:
                clock.begin(request.began)
            return
        # A plain lock, not an RLock: LangChain's async streaming calls next() on this generator from
        # executor threads, so the thread that releases the lock may not be the one that took it.
        with self._shared.lock:
            clock.begin()
            self._shared.activate(self.adapter)
            cache = self._shared.prefix_cache(prefix) if prefix else None
            yield from decode_tokens(self._shared.model, rest, max_new_tokens, temperature, self._stop_ids(), cache,
                                     self._shared.half)


def _usage(stats: dict[str, Any]) -> dict[str, int]:
    return {"input_tokens": stats["prompt_tokens"], "output_tokens": stats["completion_tokens"],
            "total_tokens": stats["prompt_tokens"] + stats["completion_tokens"]}


# ----------------------------------------------------------------------------------------------------
# Entry points


def adapter_name_for(path: str | Path) -> str:
    """A name to load the adapter in `path` under when it is not a registered model version (evaluations,
    probes): readable, and unique per directory *and* per content, so two runs' `adapter/` folders, or one
    folder rewritten by a resumed run, never pass for each other in a long-lived process."""
    import hashlib

    path = Path(path).resolve()
    weights = next((path / name for name in ADAPTER_WEIGHTS if (path / name).is_file()), None)
    stamp = f"{path}:{weights.stat().st_mtime_ns if weights else 0}"
    label = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{path.parent.name}-{path.name}").strip("-_") or "adapter"
    return f"{label[:48]}-{hashlib.sha1(stamp.encode()).hexdigest()[:8]}"


def chat_model(settings: Settings | None = None, adapter: str | None = None,
               adapter_path: str | Path | None = None) -> BaseChatModel:
    """The configured chat model, answering with `adapter` (a model version) or the base model.

    Args:
        settings (`Settings`, *optional*): defaults to `get_settings()`.
        adapter (`str`, *optional*): the model version to answer with. Local backend: an adapter loaded in
            this process (`LocalChatModel.load_adapter`), or loaded now from `adapter_path`; openai backend:
            the model name the server serves the adapter under.
        adapter_path (`str` or `Path`, *optional*): local backend: the adapter's directory, loaded under
            `adapter` unless already loaded from there (so passing it on every request costs nothing).
            The openai backend ignores it: the server has its own copy.

    Returns:
        `BaseChatModel`: a `LocalChatModel` (`llm_backend="local"`) or a streaming `ChatOpenAI` (`"openai"`).
    """
    settings = settings or get_settings()
    if adapter_path is not None and adapter is None:
        raise ConciergeError(f"the adapter at {adapter_path} needs a name (its model version)")
    if settings.llm_backend == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(base_url=settings.openai_base_url, api_key=settings.openai_api_key,
                          model=adapter or settings.openai_model, temperature=settings.temperature,
                          max_tokens=settings.max_new_tokens, streaming=True)
    model = LocalChatModel(model_dir=materialise_base_model(settings), device=settings.llm_device,
                           threads=settings.llm_threads, max_new_tokens=settings.max_new_tokens,
                           temperature=settings.temperature, decode_batch=settings.decode_batch,
                           half_rows=settings.half_decode_rows, prefill_bf16=settings.prefill_bf16)
    if adapter_path is not None:
        model.load_adapter(adapter, adapter_path)
    model.use_adapter(adapter)
    return model


def count_tokens(text: str, settings: Settings | None = None) -> int:
    """Tokens in `text` by the local base model's tokenizer (loads the tokenizer only, never the weights).

    With the openai backend this is an estimate unless the server runs the same base model.

    Args:
        text (`str`): any text (a request, a client summary, a candidate line).
        settings (`Settings`, *optional*): defaults to `get_settings()`.

    Returns:
        `int`: the number of tokens, special tokens not included.
    """
    settings = settings or get_settings()
    model_dir = materialise_base_model(settings).resolve()
    return len(load_tokenizer(model_dir).encode(text, add_special_tokens=False))
