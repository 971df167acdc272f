"""Training configs: the shipped ones load; bad ones fail with a ConciergeError naming the key."""

from pathlib import Path

import pytest

from catalog.errors import ConciergeError
from training.config import config_from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"


@pytest.mark.parametrize("name", ["cpu-small", "gpu", "multi-gpu"])
def test_shipped_configs_load(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config.stages == ["grpo"]
    assert config.grpo.use_vllm == (name != "cpu-small")


def test_cpu_small_fits_a_small_cpu():
    config = load_config(CONFIGS / "cpu-small.yaml")
    assert config.model.bf16 is False and config.model.torch_threads == 1
    assert config.grpo.num_generations == 4 and 8 <= config.lora.r <= 16 and config.grpo.max_steps <= 20


def test_accelerate_config_is_zero2():
    import yaml

    accel = yaml.safe_load((CONFIGS / "accelerate-zero2.yaml").read_text())
    assert accel["distributed_type"] == "DEEPSPEED" and accel["deepspeed_config"]["zero_stage"] == 2


@pytest.mark.parametrize("raw, message", [
    ({"grpo": {"max_stepz": 3}}, "unknown key grpo.max_stepz"),
    ({"colour": 1}, "unknown key colour"),
    ({"grpo": {"max_steps": "many"}}, "grpo.max_steps must be an integer"),
    ({"grpo": {"max_steps": 0}}, "grpo.max_steps must be at least 1"),
    ({"grpo": {"loss_type": "ppo"}}, "grpo.loss_type must be one of"),
    ({"stages": ["sft", "rl"]}, "unknown stage rl"),
    ({"raae": {"enabled": "yes"}}, "raae.enabled must be true or false"),
    ({"curriculum": {"prior": 0.05}}, "curriculum.prior"),
    ({"data": {"shown": 30}}, "data.shown (30) cannot exceed"),
    ({"data": {"hard_share": 0.3}}, "need data.order: ranker"),
    ({"data": {"ranker_folds": 5}}, "need data.order: ranker"),
    ({"lora": 3}, "lora must be a mapping"),
    ({"rechead": {"holdout": 1.0}}, "rechead.holdout must be below 1.0"),
    ({"rechead": {"loss": "mse"}}, "rechead.loss must be one of listnet, bpr"),
    ({"traces": {"max_tries": 0}}, "traces.max_tries must be at least 1"),
    ({"traces": {"teacher": "gpt"}}, "traces.teacher must be one of base, none"),
    ({"sft": {"batch_size": 0}}, "sft.batch_size must be at least 1"),
    ({"sft": {"target_modules": 3}}, "sft.target_modules must be a list or a string"),
])
def test_bad_configs_name_the_key(raw, message):
    with pytest.raises(ConciergeError, match=None) as error:
        config_from_dict(raw, "x.yaml")
    assert message in str(error.value)


def test_numbers_in_yaml_exponent_form_are_read(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("grpo:\n  learning_rate: 5e-6\n")
    assert load_config(path).grpo.learning_rate == pytest.approx(5e-6)
    path.write_text("grpo: [1, 2\n")
    with pytest.raises(ConciergeError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(ConciergeError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_cli_turns_config_errors_into_a_message(tmp_path, capsys):
    from training.train import main

    bad = tmp_path / "bad.yaml"
    bad.write_text("grpo:\n  steps: 3\n")
    assert main(["--bundle", str(tmp_path), "--config", str(bad)]) == 2
    assert "unknown key grpo.steps" in capsys.readouterr().err


def test_the_ablation_config_trains_sft_then_grpo_on_one_thread():
    config = load_config(CONFIGS / "ablation-cpu.yaml")
    assert config.stages == ["traces", "sft", "grpo"] and config.model.torch_threads == 1
    assert not config.grpo.use_vllm and config.sft.max_steps >= 50 and config.traces.modes == ["template"]


def test_only_rank_zero_writes_the_run_files(tmp_path, monkeypatch):
    from training.train import is_main_process, write_json

    monkeypatch.setenv("RANK", "1")  # as `accelerate launch` sets it in the second process
    assert not is_main_process()
    write_json(tmp_path / "run.json", {"status": "running"})
    assert not (tmp_path / "run.json").exists()
    monkeypatch.setenv("RANK", "0")
    write_json(tmp_path / "run.json", {"status": "running"})
    assert '"running"' in (tmp_path / "run.json").read_text()
    monkeypatch.delenv("RANK")
    assert is_main_process()


def test_the_gemma_comparison_runs_the_served_recipe_on_another_base():
    default, gemma = (load_config(CONFIGS / f"{name}.yaml").to_dict() for name in ("default", "gemma3-270m"))
    assert gemma["model"].pop("base") == "var/models/gemma3-270m" and default["model"].pop("base") is None
    assert gemma == default  # same traces, same SFT budget: only the base model differs
