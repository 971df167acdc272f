"""Settings: every field is documented, and .env.example lists every field."""

from pathlib import Path

from backend.settings import Settings, env_example

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented_and_listed_in_env_example():
    example = (ROOT / ".env.example").read_text()
    for name, field in Settings.model_fields.items():
        assert field.description and len(field.description) > 20, f"{name} needs a description"
        assert f"# CONCIERGE_{name.upper()}=" in example, f".env.example lacks CONCIERGE_{name.upper()}"
    assert example == env_example(), "stale .env.example: run `python -m backend.settings > .env.example`"


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("CONCIERGE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CONCIERGE_MAX_REQUEST_CHARS", "123")
    settings = Settings()
    assert settings.max_request_chars == 123
    assert settings.sql_url == f"sqlite:///{tmp_path / 'concierge.db'}"
    assert settings.chroma_dir == tmp_path / "chroma"
