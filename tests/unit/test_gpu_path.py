"""The GPU path names one vLLM release: the `gpu` extra's pin, the server image's tag and TRL's supported window
agree, the release's torch pin is the project's, and the server takes the adapters the training configs make.
(The GPU runs themselves are in tests/integration/test_openai_server.py and docs/results/gpu-path.md.)"""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

from training.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile.gpu"

# What each vLLM release we have pinned requires, read from its wheel's METADATA (docs/results/gpu-path.md says
# how): a release moves torch, so moving the pin means reading these again and adding a row.
VLLM_REQUIRES = {"0.30.0": {"torch": "2.13.0", "transformers_min": "5.10.4"}}
# vLLM's --max-lora-rank choices (vllm/config/lora.py, MaxLoRARanks)
LORA_RANKS = {1, 8, 16, 32, 64, 128, 256, 320, 512}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def pins(requirements: list[str]) -> dict[str, str]:
    """name -> version for the exact (==) pins in a requirement list."""
    found = {}
    for requirement in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*==\s*([^\s;,]+)\s*", requirement)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def vllm_pin() -> str:
    gpu = pyproject()["project"]["optional-dependencies"]["gpu"]
    version = pins(gpu).get("vllm")
    assert version, f"the gpu extra must pin one vLLM release (vllm==X.Y.Z), not a range: {gpu}"
    return version


def dockerfile_vllm_version() -> str:
    text = DOCKERFILE.read_text()
    args = re.findall(r"^ARG VLLM_VERSION=(\S+)$", text, re.M)
    assert len(args) == 1, "Dockerfile.gpu names the vLLM release once, as ARG VLLM_VERSION=X.Y.Z"
    froms = re.findall(r"^FROM (\S+) AS vllm$", text, re.M)
    assert froms == ["vllm/vllm-openai:v${VLLM_VERSION}"], f"the server image must be tagged from the ARG: {froms}"
    return args[0]


def test_the_server_image_and_the_gpu_extra_name_one_release():
    assert dockerfile_vllm_version() == vllm_pin()
    text = DOCKERFILE.read_text()
    assert 'pip install --quiet -e ".[gpu]"' in text  # the train target takes vLLM from the extra, nowhere else
    assert len(re.findall(r"vllm==\d|vllm-openai:v\d", text)) == 0, "a second vLLM version in Dockerfile.gpu"


def test_the_release_is_in_the_pinned_trls_supported_window():
    """TRL refuses (colocate and server mode alike: the trainer imports vLLM for the weight transfer) a vLLM
    outside the window its `is_vllm_available` checks."""
    import inspect

    from trl import import_utils

    source = inspect.getsource(import_utils.is_vllm_available)
    window = re.search(r'Version\("([\d.]+)"\)\s*<=\s*_vllm_base_version\s*<=\s*Version\("([\d.]+)"\)', source)
    assert window, "TRL's vLLM version check moved: read trl/import_utils.py again"
    low, high = map(Version, window.groups())
    assert low <= Version(vllm_pin()) <= high, f"vllm {vllm_pin()} is outside TRL's supported {low}-{high}"


def test_the_release_takes_the_projects_torch_and_transformers():
    version = vllm_pin()
    assert version in VLLM_REQUIRES, (f"vllm {version}: read its torch/transformers requirements from the wheel's "
                                      "METADATA (docs/results/gpu-path.md) and add them to VLLM_REQUIRES")
    need = VLLM_REQUIRES[version]
    project = pins(pyproject()["project"]["dependencies"])
    assert project["torch"] == need["torch"], f"vllm {version} pins torch=={need['torch']}"
    assert Version(project["transformers"]) >= Version(need["transformers_min"])
    makefile = (ROOT / "Makefile").read_text()
    assert f"pip install --quiet torch=={need['torch']}" in makefile.replace("$(PIP)", "pip")


@pytest.mark.parametrize("name", ["gpu", "multi-gpu"])
def test_the_server_loads_the_adapters_the_gpu_configs_train(name):
    entry = re.search(r"^ENTRYPOINT (\[.*?\])$", DOCKERFILE.read_text(), re.M | re.S)
    args = [a.strip().strip('"') for a in entry.group(1).replace("\\\n", " ").strip("[]").split(",")]
    assert "--enable-lora" in args
    rank = int(args[args.index("--max-lora-rank") + 1])
    assert rank in LORA_RANKS
    assert load_config(ROOT / "training" / "configs" / f"{name}.yaml").lora.r <= rank
