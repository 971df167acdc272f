"""The training configuration: typed dataclasses with defaults and help strings, read from one YAML
file.

    stages: [grpo]            # any of traces, sft, rechead, grpo, run in that order
    model:      {...}         # ModelConfig
    data:       {...}         # DataConfig
    lora:       {...}         # LoraSettings
    grpo:       {...}         # GRPOSettings (passed on to TRL's GRPOConfig)
    reward:     {...}         # training.rewards.RewardWeights (+ pas_factors, overlong_buffer)
    raae:       {...}         # training.advantage.RAAEConfig
    curriculum: {...}         # CurriculumSettings
    traces:     {...}         # TracesConfig (training/traces.py)
    sft:        {...}         # SFTSection (training/sft.py)
    rechead:    {...}         # RecheadSection (training/rechead.py)

Every key is checked: an unknown key, a value of the wrong type or out of range raises a
`ConciergeError` that names the key and says what is allowed, never a traceback.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from catalog.errors import ConciergeError
from training.advantage import RAAEConfig
from training.rewards import RewardWeights

STAGES = ("traces", "sft", "rechead", "grpo")  # the order they run in
# how the traces stage gets a trace (training/traces.py)
TRACE_MODES = ("reject", "target", "template")


def setting(default, help: str, **kw):
    """A config field: its default, a help string and the checks `_check_value` applies (`min`,
    `max`, `below` (an exclusive maximum), `choices` (of each element, for a list), `min_items`)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class ModelConfig:
    base: str | None = setting(None, "base model directory (default: the settings' base model, "
                                     "var/models/base)")
    torch_threads: int = setting(0, "torch CPU threads (0: torch's default; 1 on a shared 2-core "
                                    "machine)", min=0)
    bf16: bool = setting(False, "bf16 autocast; keep False on CPUs without native bf16 (13x slower "
                                "emulated)")
    gradient_checkpointing: bool = setting(False, "trade compute for memory on long completions")
    half_rollouts: bool = setting(True, "on CPU, GRPO rollouts decode on fp16 copies of the merged "
                                        "weights (backend/half_decode.py); the loss stays fp32")
    adapter: str | None = setting(None, "start from this LoRA adapter directory (e.g. the active "
                                        "version's): sft and grpo train it further instead of a "
                                        "new one")


@dataclass
class DataConfig:
    split: str = setting("train", "bundle split the cases come from",
                         choices=("train", "val", "test"))
    candidates: int = setting(20, "candidates per case (the re-ranking protocol's list)", min=2)
    shown: int | None = setting(None, "candidates put in the prompt (None: all); at most half of "
                                      "them relevant", min=2)
    order: str = setting("shuffled", "how the prompt lists the candidates: shuffled (as served) or "
                                     "in the serving ranker's order, best first (the case's given "
                                     "order then is the ranker's: the gain reward's baseline)",
                         choices=("shuffled", "ranker"))
    max_cases: int | None = setting(None, "at most this many cases (a seeded subset; None: all)",
                                    min=1)
    ranker_folds: int = setting(1, "with order: ranker, order each train case by a ranker that "
                                   "never saw its query (this many cross-fitted rankers, as a "
                                   "test request meets it; 1: the serving ranker, which learnt "
                                   "most train queries)", min=1)
    hard_share: float | None = setting(None, "with order: ranker, the share of cases where the "
                                             "given order's NDCG@k is below 0.5 (the ranker's "
                                             "top is wrong; easy cases are subsampled to fit, "
                                             "after max_cases; None: as they come)",
                                       min=0.01, max=1.0)
    feedback: bool = setting(False, "add cases from associate feedback in the SQL store")
    feedback_since_id: int | None = setting(None, "only feedback with a larger id")
    feedback_ids: list[int] | None = setting(None, "only these feedback rows (a training job's "
                                                   "reserved rows)")
    feedback_share: float | None = setting(None,
                                           "when there are feedback cases, the share of all cases "
                                           "they make up (the bundle's cases are subsampled to "
                                           "fit; None: no mixing rule)",
                                           min=0.01, max=1.0)


@dataclass
class LoraSettings:
    r: int = setting(16, "LoRA rank", min=1)
    alpha: int = setting(32, "LoRA alpha (scale = alpha / r)", min=1)
    dropout: float = setting(0.05, "LoRA dropout", min=0.0, max=1.0)
    target_modules: list[str] = setting(["q_proj", "k_proj", "v_proj", "o_proj"],
                                        "modules that get adapters")


@dataclass
class GRPOSettings:
    max_steps: int = setting(100, "optimiser steps", min=1)
    num_generations: int = setting(5, "G: rollouts per prompt (ReRec: 5)", min=2)
    prompts_per_step: int = setting(1, "distinct prompts per device per optimiser step", min=1)
    gradient_accumulation_steps: int = setting(1, "micro-batches per optimiser step", min=1)
    max_completion_length: int = setting(256, "most generated tokens per rollout", min=8)
    stop_at_answer: bool = setting(True, "end a rollout once its ANSWER line has ended (as "
                                         "serving does); off: at EOS or the length limit")
    learning_rate: float = setting(5e-6,
                                   "AdamW learning rate (ReRec: 5e-6 on a full 3B model; LoRA "
                                   "wants more)",
                                   min=0.0)
    temperature: float = setting(1.0, "sampling temperature of the rollouts", min=0.0)
    top_p: float = setting(1.0, "nucleus sampling", min=0.0, max=1.0)
    beta: float = setting(0.0, "KL coefficient (ReRec: 0.01; TRL 1.16 default 0.0 loads no "
                               "reference model)", min=0.0)
    epsilon: float = setting(0.2, "lower clip of the ratio", min=0.0)
    epsilon_high: float | None = setting(0.28, "upper clip (DAPO clip-higher); None: epsilon",
                                         min=0.0)
    loss_type: str = setting("dapo", "TRL loss aggregation",
                             choices=("grpo", "dapo", "dr_grpo", "bnpo"))
    scale_rewards: str = setting("group", "TRL's reward scaling when RAAE is off",
                                 choices=("group", "batch", "none"))
    num_iterations: int = setting(1, "updates per generation batch (mu)", min=1)
    warmup_steps: int = setting(0, "learning-rate warm-up steps", min=0)
    lr_scheduler_type: str = setting("constant", "learning-rate schedule",
                                     choices=("constant", "linear", "cosine"))
    max_grad_norm: float = setting(1.0, "gradient clipping", min=0.0)
    save_steps: int = setting(25, "checkpoint every N steps", min=1)
    save_total_limit: int | None = setting(2, "checkpoints kept", min=1)
    use_vllm: bool = setting(False, "generate with vLLM (GPU only; pip install concierge[gpu])")
    vllm_mode: str = setting("colocate",
                             "vLLM in this process (colocate) or a `trl vllm-serve` server",
                             choices=("colocate", "server"))
    vllm_gpu_memory_utilization: float = setting(0.3,
                                                 "GPU memory share vLLM may take in colocate mode",
                                                 min=0.05, max=1.0)
    log_completions: bool = setting(False, "print sample completions at each log step")


@dataclass
class RewardSettings(RewardWeights):
    pas_factors: int = setting(32, "dimensions of the collaborative (SVD) embedding behind PAS",
                               min=1)
    overlong_buffer: int = setting(0, "DAPO's soft overlong punishment: over the last N tokens "
                                      "before grpo.max_completion_length the reward falls to -1 "
                                      "(0: off)", min=0)


@dataclass
class CurriculumSettings:
    enabled: bool = setting(True, "online curriculum (False: seeded shuffles, the ablation)")
    tau: float = setting(0.1, "mastery threshold on d = mean(1 - NDCG) (ReRec: 0.1)", min=0.0,
                         max=1.0)
    prior: float = setting(0.5, "difficulty of a case never rolled out (must be >= tau)", min=0.0,
                           max=1.0)


@dataclass
class TracesConfig:
    """The `traces:` section: reasoning traces for SFT (training/traces.py)."""

    modes: list[str] = setting(list(TRACE_MODES),
                               "modes tried per case, in order, until one yields an accepted "
                               "trace", choices=TRACE_MODES, min_items=1)
    teacher: str = setting("base", "base: the configured chat model; none: template only",
                           choices=("base", "none"))
    teacher_adapter: str | None = setting(None, "LoRA adapter directory for the local teacher")
    max_tries: int = setting(2, "samples per case and per sampling mode", min=1)
    temperature: float = setting(0.8, "sampling temperature of the teacher", min=0.0)
    max_new_tokens: int = setting(128, "most tokens per sampled trace", min=1)
    accept: str = setting("top1", "top1: first pick relevant; ndcg: NDCG@ndcg_k >= threshold",
                          choices=("top1", "ndcg"))
    ndcg_k: int = setting(5, "k of the NDCG acceptance test", min=1)
    ndcg_threshold: float = setting(0.5, "least NDCG@k of an accepted trace (accept: ndcg)",
                                    min=0.0, max=1.0)
    min_steps: int = setting(2, "fewest reasoning steps before the ANSWER line", min=0)
    verify: bool = setting(True, "reject traces whose steps the verifier finds inconsistent")
    grounded: bool = setting(True, "accept only traces with at least one step whose claim the "
                                   "verifier confirms")
    keep_rejected: bool = setting(False, "also write rejected samples to the JSONL")
    limit: int | None = setting(None, "at most this many cases (None or 0: all)", min=0)
    seed: int = setting(0, "seeds handle shuffling and sampling")


@dataclass
class SFTSection:
    """The `sft:` section: supervised fine-tuning of a LoRA adapter on the traces
    (training/sft.py)."""

    sources: list[str] | None = setting(None, "trace sources to train on (None: all)")
    max_steps: int = setting(60, "optimiser steps (0: `epochs` passes instead)", min=0)
    epochs: float = setting(1.0, "passes over the traces when max_steps is 0", min=0.0)
    batch_size: int = setting(4, "traces per device step", min=1)
    grad_accum: int = setting(1, "gradient accumulation steps", min=1)
    learning_rate: float = setting(2e-4, "peak learning rate of the LoRA weights", min=0.0)
    lr_scheduler: str = setting("constant", "transformers scheduler name")
    warmup_steps: int = setting(0, "linear warm-up steps", min=0)
    max_length: int = setting(1024, "most tokens of prompt + trace (truncated beyond)", min=1)
    loss: str = setting("completion",
                        "completion: completion-only loss; assistant: TRL's assistant_only_loss",
                        choices=("completion", "assistant"))
    lora_r: int = setting(16, "LoRA rank", min=1)
    lora_alpha: int = setting(32, "LoRA alpha", min=1)
    lora_dropout: float = setting(0.05, "LoRA dropout", min=0.0, max=1.0)
    target_modules: list[str] | str = setting(["q_proj", "k_proj", "v_proj", "o_proj"],
                                              "modules that get LoRA weights (a list, or PEFT's "
                                              "'all-linear')")
    bf16: bool = setting(False,
                         "bf16 mixed precision: on a GPU that has it; never on a CPU without "
                         "AVX512-BF16 (13x slower there)")
    threads: int = setting(0, "torch CPU threads (0: leave as is)", min=0)
    seed: int = setting(0, "seeds data order and LoRA initialisation")
    replay: float = setting(0.0, "share of the examples that are the base model's own answers to "
                            "general prompts (training/replay.py: against forgetting)", min=0.0,
                            below=1.0)
    replay_tokens: int = setting(128, "most new tokens of a replay answer", min=1)


@dataclass
class RecheadSection:
    """The `rechead:` section: the RPORec scoring head (training/rechead.py)."""

    dim: int = setting(64, "size of the user / item space", min=1)
    epochs: int = setting(60, "passes over the cached features", min=1)
    learning_rate: float = setting(3e-3, "AdamW learning rate", min=0.0)
    weight_decay: float = setting(1e-4, "AdamW weight decay", min=0.0)
    loss: str = setting("listnet", "listwise (listnet) or pairwise (bpr) loss",
                        choices=("listnet", "bpr"))
    with_traces: bool = setting(True, "also train on prompt + accepted trace")
    holdout: float = setting(0.2, "share of cases held out to measure NDCG@5", min=0.0, below=1.0)
    limit: int | None = setting(None, "at most this many cases (None or 0: all)", min=0)
    threads: int = setting(0, "torch CPU threads (0: leave as is)", min=0)
    seed: int = setting(0, "seeds the split, the initialisation and the order")


@dataclass
class TrainConfig:
    stages: list[str] = setting(["grpo"], f"stages to run, in this order: {', '.join(STAGES)}")
    seed: int = setting(0, "seeds cases, handles, sampling, the curriculum and torch")
    model: ModelConfig = setting(None, "base model and compute", section=ModelConfig)
    data: DataConfig = setting(None, "training cases", section=DataConfig)
    lora: LoraSettings = setting(None, "LoRA adapter", section=LoraSettings)
    grpo: GRPOSettings = setting(None, "GRPO (TRL)", section=GRPOSettings)
    reward: RewardSettings = setting(None, "ReRec reward weights", section=RewardSettings)
    raae: RAAEConfig = setting(None, "reasoning-aware advantage estimation", section=RAAEConfig)
    curriculum: CurriculumSettings = setting(None, "online curriculum", section=CurriculumSettings)
    traces: TracesConfig = setting(None, "reasoning traces", section=TracesConfig)
    sft: SFTSection = setting(None, "supervised fine-tuning on the traces", section=SFTSection)
    rechead: RecheadSection = setting(None, "the Rechead scoring head", section=RecheadSection)

    def __post_init__(self):
        for f in dataclasses.fields(self):
            section = f.metadata.get("section")
            if section is not None and getattr(self, f.name) is None:
                setattr(self, f.name, section())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------------
# Reading and checking


def deep_merge(base: dict, overrides: dict | None) -> dict:
    """`base` with `overrides` applied key by key, recursing into nested mappings (neither is
    changed)."""
    merged = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = deep_merge(merged[key], value) if both else value
    return merged


def load_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """Read and check a YAML training config.

    Args:
        path (`str` or `Path`): the YAML file.
        overrides (`dict`, *optional*): top-level keys replacing the file's (e.g. `stages` from the
            CLI).

    Raises:
        `ConciergeError`: unreadable file, unknown key, wrong type or value out of range.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConciergeError(f"cannot read the training config {path}: "
                             f"{error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise ConciergeError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConciergeError(f"{path} must hold a mapping of sections (stages, model, data, grpo, "
                             "...)")
    raw.update(overrides or {})
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict, source: str = "config") -> TrainConfig:
    """A checked `TrainConfig` from a plain dict (see `load_config`)."""
    config = _build(TrainConfig, raw, source)
    _check_semantics(config, source)
    return config


def section_from_dict(cls, raw: dict | None, name: str, source: str = "config"):
    """One checked section (e.g. `section_from_dict(TracesConfig, {"modes": ["template"]},
    "traces")`).

    Raises:
        `ConciergeError`: unknown key, wrong type or value out of range, named as `name.key`.
    """
    section = _build(cls, raw or {}, source, f"{name}.")
    _check_section(section, f"{source}: {name}")
    return section


def _build(cls, raw: dict, source: str, prefix: str = ""):
    """An instance of the dataclass `cls` from `raw`, every key checked; `prefix` names the
    section."""
    if not isinstance(raw, dict):
        raise ConciergeError(f"{source}: {prefix.rstrip('.') or 'the file'} must be a mapping of "
                             f"keys, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConciergeError(f"{source}: unknown key {prefix}{unknown[0]}; allowed in "
                             f"{prefix.rstrip('.') or 'the top level'}: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        section = fields[name].metadata.get("section")
        if section is not None:
            values[name] = _build(section, {} if value is None else value, source,
                                  f"{prefix}{name}.")
        else:
            values[name] = _check_value(f"{source}: {prefix}{name}", value, hints[name],
                                        fields[name].metadata)
    return cls(**values)


def _check_value(key: str, value, hint, meta: dict):
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    optional = type(None) in kinds
    kinds = tuple(k for k in kinds if k is not type(None))
    if value is None:
        if optional:
            return None
        raise ConciergeError(f"{key} must be set ({meta.get('help', '')})")
    for candidate in kinds:
        matched, value = _as_kind(key, value, candidate)
        if matched:
            kind = typing.get_origin(candidate) or candidate
            break
    else:
        raise ConciergeError(f"{key} must be {' or '.join(_type_name(k) for k in kinds)}"
                             f"{' or null' if optional else ''}, got {value!r}")
    if "choices" in meta and any(v not in meta["choices"]
                                 for v in (value if kind is list else [value])):
        raise ConciergeError(f"{key} must be {'a list of' if kind is list else 'one of'} "
                             f"{', '.join(meta['choices'])}, got {value!r}")
    if "min_items" in meta and len(value) < meta["min_items"]:
        raise ConciergeError(f"{key} must list at least {meta['min_items']}, got {value!r}")
    if "min" in meta and value < meta["min"]:
        raise ConciergeError(f"{key} must be at least {meta['min']}, got {value!r}")
    if "max" in meta and value > meta["max"]:
        raise ConciergeError(f"{key} must be at most {meta['max']}, got {value!r}")
    if "below" in meta and value >= meta["below"]:
        raise ConciergeError(f"{key} must be below {meta['below']}, got {value!r}")
    return value


def _as_kind(key: str, value, hint) -> tuple[bool, object]:
    """(whether `value` is of the type `hint`, the value read as that type: YAML's 5e-6 string as a
    float)."""
    kind = typing.get_origin(hint) or hint
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is float and isinstance(value, str):  # YAML reads 5e-6 as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if (kind is bool and not isinstance(value, bool) or kind is not bool and isinstance(value, bool)
            or not isinstance(value, kind)):
        return False, value
    element = (typing.get_args(hint) or (str,))[0] if kind is list else None
    if kind is list and not all(isinstance(v, element) and not isinstance(v, bool) for v in value):
        raise ConciergeError(f"{key} must be a list of "
                             f"{'names' if element is str else 'integers'}, got {value!r}")
    return True, value


def _type_name(kind) -> str:
    kind = typing.get_origin(kind) or kind
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            list: "a list", dict: "a mapping"}.get(kind, str(kind))


def _check_section(section, where: str) -> None:
    """Checks across the keys of one section."""
    if isinstance(section, SFTSection) and section.max_steps <= 0 and section.epochs <= 0:
        raise ConciergeError(f"{where}: sft needs max_steps > 0 or epochs > 0")


def _check_semantics(config: TrainConfig, source: str) -> None:
    """Checks across keys."""
    _check_section(config.sft, source)
    unknown = [s for s in config.stages if s not in STAGES]
    if unknown or not config.stages:
        raise ConciergeError(f"{source}: unknown stage {', '.join(unknown) or '(none)'}; choose "
                             f"from {', '.join(STAGES)}")
    if len(set(config.stages)) != len(config.stages):
        raise ConciergeError(f"{source}: stages lists a stage twice: {config.stages}")
    config.stages = [s for s in STAGES if s in config.stages]
    if config.curriculum.prior < config.curriculum.tau:
        raise ConciergeError(f"{source}: curriculum.prior ({config.curriculum.prior}) must be >= "
                             f"curriculum.tau ({config.curriculum.tau}), or unseen cases count as "
                             "mastered before any rollout")
    if config.data.shown is not None and config.data.shown > config.data.candidates:
        raise ConciergeError(f"{source}: data.shown ({config.data.shown}) cannot exceed "
                             f"data.candidates ({config.data.candidates})")
    if config.reward.k < 1:
        raise ConciergeError(f"{source}: reward.k must be at least 1, got {config.reward.k}")
    if config.data.order != "ranker" and (config.data.ranker_folds > 1 or config.data.hard_share):
        raise ConciergeError(f"{source}: data.ranker_folds and data.hard_share need data.order: "
                             "ranker (they choose and order cases by the ranker)")
    if config.raae.w_penalty < 0 or config.raae.floor < 0:
        raise ConciergeError(f"{source}: raae.w_penalty and raae.floor must not be negative")
