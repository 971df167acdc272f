"""The training configuration: typed dataclasses with defaults and help strings, read from one YAML file.

    stages: [grpo]            # any of traces, sft, rechead, grpo, run in that order
    model:      {...}         # ModelConfig
    data:       {...}         # DataConfig
    lora:       {...}         # LoraSettings
    grpo:       {...}         # GRPOSettings (passed on to TRL's GRPOConfig)
    reward:     {...}         # training.rewards.RewardWeights (+ pas_factors)
    raae:       {...}         # training.advantage.RAAEConfig
    curriculum: {...}         # CurriculumSettings
    traces / sft / rechead:   # free-form sections, read by those stages' own modules

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
FREE_SECTIONS = ("traces", "sft", "rechead")  # validated by the stages that read them


def _f(default, help: str, **kw):
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class ModelConfig:
    base: str | None = _f(None, "base model directory (default: the settings' base model, var/models/base)")
    torch_threads: int = _f(0, "torch CPU threads (0: torch's default; 1 on a shared 2-core machine)", min=0)
    bf16: bool = _f(False, "bf16 autocast; keep False on CPUs without native bf16 (13x slower emulated)")
    gradient_checkpointing: bool = _f(False, "trade compute for memory on long completions")


@dataclass
class DataConfig:
    split: str = _f("train", "bundle split the cases come from", choices=("train", "val", "test"))
    candidates: int = _f(20, "candidates per case (the re-ranking protocol's list)", min=2)
    shown: int | None = _f(None, "candidates put in the prompt (None: all); at most half of them relevant", min=2)
    max_cases: int | None = _f(None, "at most this many cases (a seeded subset; None: all)", min=1)
    feedback: bool = _f(False, "add cases from associate feedback in the SQL store")
    feedback_since_id: int | None = _f(None, "only feedback with a larger id")
    feedback_ids: list[int] | None = _f(None, "only these feedback rows (a training job's reserved rows)")
    feedback_share: float | None = _f(None, "when there are feedback cases, the share of all cases they make up "
                                      "(the bundle's cases are subsampled to fit; None: no mixing rule)", min=0.01, max=1.0)


@dataclass
class LoraSettings:
    r: int = _f(16, "LoRA rank", min=1)
    alpha: int = _f(32, "LoRA alpha (scale = alpha / r)", min=1)
    dropout: float = _f(0.05, "LoRA dropout", min=0.0, max=1.0)
    target_modules: list[str] = _f(["q_proj", "k_proj", "v_proj", "o_proj"], "modules that get adapters")


@dataclass
class GRPOSettings:
    max_steps: int = _f(100, "optimiser steps", min=1)
    num_generations: int = _f(5, "G: rollouts per prompt (ReRec: 5)", min=2)
    prompts_per_step: int = _f(1, "distinct prompts per device per optimiser step", min=1)
    gradient_accumulation_steps: int = _f(1, "micro-batches per optimiser step", min=1)
    max_completion_length: int = _f(256, "most generated tokens per rollout", min=8)
    learning_rate: float = _f(5e-6, "AdamW learning rate (ReRec: 5e-6 on a full 3B model; LoRA wants more)", min=0.0)
    temperature: float = _f(1.0, "sampling temperature of the rollouts", min=0.0)
    top_p: float = _f(1.0, "nucleus sampling", min=0.0, max=1.0)
    beta: float = _f(0.0, "KL coefficient (ReRec: 0.01; TRL 1.16 default 0.0 loads no reference model)", min=0.0)
    epsilon: float = _f(0.2, "lower clip of the ratio", min=0.0)
    epsilon_high: float | None = _f(0.28, "upper clip (DAPO clip-higher); None: epsilon", min=0.0)
    loss_type: str = _f("dapo", "TRL loss aggregation", choices=("grpo", "dapo", "dr_grpo", "bnpo"))
    scale_rewards: str = _f("group", "TRL's reward scaling when RAAE is off", choices=("group", "batch", "none"))
    num_iterations: int = _f(1, "updates per generation batch (mu)", min=1)
    warmup_steps: int = _f(0, "learning-rate warm-up steps", min=0)
    lr_scheduler_type: str = _f("constant", "learning-rate schedule", choices=("constant", "linear", "cosine"))
    max_grad_norm: float = _f(1.0, "gradient clipping", min=0.0)
    save_steps: int = _f(25, "checkpoint every N steps", min=1)
    save_total_limit: int | None = _f(2, "checkpoints kept", min=1)
    use_vllm: bool = _f(False, "generate with vLLM (GPU only; pip install concierge[gpu])")
    vllm_mode: str = _f("colocate", "vLLM in this process (colocate) or a `trl vllm-serve` server",
                        choices=("colocate", "server"))
    vllm_gpu_memory_utilization: float = _f(0.3, "GPU memory share vLLM may take in colocate mode", min=0.05, max=1.0)
    log_completions: bool = _f(False, "print sample completions at each log step")


@dataclass
class RewardSettings(RewardWeights):
    pas_factors: int = _f(32, "dimensions of the collaborative (SVD) embedding behind PAS", min=1)


@dataclass
class CurriculumSettings:
    enabled: bool = _f(True, "online curriculum (False: seeded shuffles, the ablation)")
    tau: float = _f(0.1, "mastery threshold on d = mean(1 - NDCG) (ReRec: 0.1)", min=0.0, max=1.0)
    prior: float = _f(0.5, "difficulty of a case never rolled out (must be >= tau)", min=0.0, max=1.0)


@dataclass
class TrainConfig:
    stages: list[str] = _f(["grpo"], f"stages to run, in this order: {', '.join(STAGES)}")
    seed: int = _f(0, "seeds cases, handles, sampling, the curriculum and torch")
    model: ModelConfig = _f(None, "base model and compute", section=ModelConfig)
    data: DataConfig = _f(None, "training cases", section=DataConfig)
    lora: LoraSettings = _f(None, "LoRA adapter", section=LoraSettings)
    grpo: GRPOSettings = _f(None, "GRPO (TRL)", section=GRPOSettings)
    reward: RewardSettings = _f(None, "ReRec reward weights", section=RewardSettings)
    raae: RAAEConfig = _f(None, "reasoning-aware advantage estimation", section=RAAEConfig)
    curriculum: CurriculumSettings = _f(None, "online curriculum", section=CurriculumSettings)
    traces: dict = _f({}, "settings of the traces stage (training/traces.py)")
    sft: dict = _f({}, "settings of the sft stage (training/sft.py)")
    rechead: dict = _f({}, "settings of the rechead stage (training/rechead.py)")

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
    """`base` with `overrides` applied key by key, recursing into nested mappings (neither is changed)."""
    merged = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        merged[key] = deep_merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def load_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """Read and check a YAML training config.

    Args:
        path (`str` or `Path`): the YAML file.
        overrides (`dict`, *optional*): top-level keys replacing the file's (e.g. `stages` from the CLI).

    Raises:
        `ConciergeError`: unreadable file, unknown key, wrong type or value out of range.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConciergeError(f"cannot read the training config {path}: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise ConciergeError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConciergeError(f"{path} must hold a mapping of sections (stages, model, data, grpo, ...)")
    raw.update(overrides or {})
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict, source: str = "config") -> TrainConfig:
    """A checked `TrainConfig` from a plain dict (see `load_config`)."""
    config = _build(TrainConfig, raw, source)
    _check_semantics(config, source)
    return config


def _build(cls, raw: dict, source: str, prefix: str = ""):
    """An instance of the dataclass `cls` from `raw`, every key checked; `prefix` names the section."""
    if not isinstance(raw, dict):
        raise ConciergeError(f"{source}: {prefix.rstrip('.') or 'the file'} must be a mapping of keys, got {raw!r}")
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
            values[name] = _build(section, {} if value is None else value, source, f"{prefix}{name}.")
        else:
            values[name] = _check_value(f"{source}: {prefix}{name}", value, hints[name], fields[name].metadata)
    return cls(**values)


def _check_value(key: str, value, hint, meta: dict):
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    optional = type(None) in kinds
    kinds = tuple(k for k in kinds if k is not type(None))
    if value is None:
        if optional:
            return None
        raise ConciergeError(f"{key} must be set ({meta.get('help', '')})")
    kind = typing.get_origin(kinds[0]) or kinds[0]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is float and isinstance(value, str):  # YAML reads 5e-6 as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if kind is bool and not isinstance(value, bool) or kind is not bool and isinstance(value, bool) \
            or not isinstance(value, kind):
        raise ConciergeError(f"{key} must be {_type_name(kinds[0])}{' or null' if optional else ''}, got {value!r}")
    element = (typing.get_args(kinds[0]) or (str,))[0] if kind is list else None
    if kind is list and not all(isinstance(v, element) and not isinstance(v, bool) for v in value):
        raise ConciergeError(f"{key} must be a list of {'names' if element is str else 'integers'}, got {value!r}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConciergeError(f"{key} must be one of {', '.join(meta['choices'])}, got {value!r}")
    if "min" in meta and value < meta["min"]:
        raise ConciergeError(f"{key} must be at least {meta['min']}, got {value!r}")
    if "max" in meta and value > meta["max"]:
        raise ConciergeError(f"{key} must be at most {meta['max']}, got {value!r}")
    return value


def _type_name(kind) -> str:
    kind = typing.get_origin(kind) or kind
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            list: "a list", dict: "a mapping"}.get(kind, str(kind))


def _check_semantics(config: TrainConfig, source: str) -> None:
    """Checks across keys."""
    unknown = [s for s in config.stages if s not in STAGES]
    if unknown or not config.stages:
        raise ConciergeError(f"{source}: unknown stage {', '.join(unknown) or '(none)'}; choose from {', '.join(STAGES)}")
    if len(set(config.stages)) != len(config.stages):
        raise ConciergeError(f"{source}: stages lists a stage twice: {config.stages}")
    config.stages = [s for s in STAGES if s in config.stages]
    if config.curriculum.prior < config.curriculum.tau:
        raise ConciergeError(f"{source}: curriculum.prior ({config.curriculum.prior}) must be >= curriculum.tau "
                             f"({config.curriculum.tau}), or unseen cases count as mastered before any rollout")
    if config.data.shown is not None and config.data.shown > config.data.candidates:
        raise ConciergeError(f"{source}: data.shown ({config.data.shown}) cannot exceed data.candidates "
                             f"({config.data.candidates})")
    if config.reward.k < 1:
        raise ConciergeError(f"{source}: reward.k must be at least 1, got {config.reward.k}")
    if config.raae.w_penalty < 0 or config.raae.floor < 0:
        raise ConciergeError(f"{source}: raae.w_penalty and raae.floor must not be negative")
