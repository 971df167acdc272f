"""`concierge train` end to end on the real base model: one GRPO step, then a resume to a second step."""

import json

import pytest

from training.config import config_from_dict
from training.train import read_metrics, train

pytestmark = pytest.mark.integration


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    """A scratch var/ (the run imports the bundle into its own SQLite + Chroma there, whatever the database)."""
    from backend.settings import get_settings
    from backend.store import get_engine

    monkeypatch.setenv("CONCIERGE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CONCIERGE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_grpo_run_writes_the_run_dir_and_resumes(var_dir, small_world, base_model_dir, tmp_path):
    import torch

    from catalog.bundle import write_bundle

    bundle_dir = write_bundle(small_world, tmp_path / "bundle") or tmp_path / "bundle"
    config = config_from_dict({
        "model": {"base": str(base_model_dir), "torch_threads": 1},
        "data": {"split": "train", "shown": 4, "max_cases": 3},
        "lora": {"r": 4, "alpha": 8},
        "grpo": {"max_steps": 1, "num_generations": 2, "max_completion_length": 12, "learning_rate": 1e-3,
                 "save_steps": 1},
    }, "test")
    run_dir = tmp_path / "run"
    threads = torch.get_num_threads()
    try:
        record = train(str(bundle_dir), config, run_dir, progress=False)
        assert record["status"] == "finished" and record["results"]["grpo"]["steps"] == 1
        assert (run_dir / "adapter" / "adapter_config.json").is_file()
        assert (run_dir / "grpo" / "checkpoints" / "checkpoint-1" / "curriculum.json").is_file()
        rows = read_metrics(run_dir / "metrics.jsonl")
        assert [r["step"] for r in rows] == [1] and "reward" in rows[0] and "rerec/ndcg" in rows[0]
        assert (run_dir / "plots" / "training.png").is_file() and "# Concierge adapter" in (run_dir / "README.md").read_text()

        record = json.loads((run_dir / "run.json").read_text())
        record["results"]["grpo"]["finished"] = False  # as if interrupted after the checkpoint
        (run_dir / "run.json").write_text(json.dumps(record))
        config.grpo.max_steps = 2
        record = train(str(bundle_dir), config, run_dir, resume=True, progress=False)
        assert record["results"]["grpo"]["steps"] == 2
        assert record["results"]["grpo"]["resumed_from"].endswith("checkpoint-1")
        assert [r["step"] for r in read_metrics(run_dir / "metrics.jsonl")] == [1, 2]
    finally:
        torch.set_num_threads(threads)
