"""The `openai` LLM backend against a real OpenAI-compatible server on loopback.

With a GPU, that server is vLLM (`vllm serve ... --enable-lora`); on this CPU machine it is
`concierge llm-server`, which serves the real SmolLM2 weights through the same API. The client code
under test is the app's own: `backend.llm.chat_model` with `llm_backend="openai"`.
"""

import shutil
import time

import httpx
import pytest
from langchain_core.messages import HumanMessage

from backend.llm import chat_model
from backend.openai_server import create_openai_app
from tests.fixtures.servers import free_port, serving, wait_for_http

pytestmark = pytest.mark.integration
QUESTION = [HumanMessage(content="Name one colour.")]


@pytest.fixture(scope="module")
def server(base_model_dir):
    from backend.settings import Settings

    settings = Settings(base_model_dir=base_model_dir, max_new_tokens=8)
    with serving(create_openai_app(settings)) as url:
        yield f"{url}/v1"


@pytest.fixture
def remote(server, base_model_dir):
    from backend.settings import Settings

    return Settings(llm_backend="openai", openai_base_url=server, base_model_dir=base_model_dir, max_new_tokens=8)


def test_the_app_client_gets_answers_and_streams_from_the_server(remote):
    model = chat_model(remote)
    answer = model.invoke(QUESTION)
    assert isinstance(answer.content, str) and answer.content.strip()
    raw = httpx.post(f"{remote.openai_base_url}/chat/completions", timeout=60,
                     json={"model": "base", "messages": [{"role": "user", "content": "Name one colour."}], "max_tokens": 8})
    assert raw.json()["choices"][0]["message"]["content"].strip() == answer.content.strip()
    assert 1 <= raw.json()["usage"]["completion_tokens"] <= 8
    pieces = [chunk.content for chunk in model.stream(QUESTION)]
    assert len([p for p in pieces if p]) >= 2  # more than one streamed piece
    assert "".join(pieces).strip() == answer.content.strip()  # greedy: the same text either way


def test_unknown_adapters_and_bad_requests_get_clear_errors(remote, server, tmp_path):
    import openai

    with pytest.raises(openai.NotFoundError, match="does not exist; served: base"):
        chat_model(remote, adapter="rerec-v9").invoke(QUESTION)
    bad = httpx.post(f"{server}/load_lora_adapter", json={"lora_name": "v1", "lora_path": str(tmp_path)})
    assert bad.status_code == 400 and "adapter" in bad.json()["error"]["message"]
    role = httpx.post(f"{server}/chat/completions", json={"model": "base", "messages": [{"role": "robot", "content": "x"}]})
    assert role.status_code == 400 and "unknown message role" in role.json()["error"]["message"]
    served = [m["id"] for m in httpx.get(f"{server}/models").json()["data"]]
    assert served[0] == "base" and "v1" not in served and "rerec-v9" not in served  # (adapters other tests
    # loaded into this process's shared model may follow "base")


def test_the_app_client_against_vllm_with_a_lora_adapter(base_model_dir, tmp_path):
    """vLLM itself, where there is a GPU and the `gpu` extra: the same client code as above."""
    import subprocess

    import torch

    if not shutil.which("vllm") or not torch.cuda.is_available():
        pytest.skip("vLLM needs an NVIDIA GPU and `pip install -e .[gpu]`; the client code is exercised above "
                    "against `concierge llm-server` instead")
    from backend.settings import Settings

    port = free_port()
    server = subprocess.Popen(["vllm", "serve", str(base_model_dir), "--served-model-name", "base", "--enable-lora",
                               "--max-lora-rank", "16", "--port", str(port), "--gpu-memory-utilization", "0.3"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", time.time() + 600, pause=2)
        settings = Settings(llm_backend="openai", openai_base_url=f"http://127.0.0.1:{port}/v1", max_new_tokens=8)
        answer = chat_model(settings).invoke(QUESTION)
        assert answer.content.strip()
        with pytest.raises(Exception, match="does not exist|not found|404"):
            chat_model(settings, adapter="rerec-v9").invoke(QUESTION)
    finally:
        server.terminate()
        server.wait(timeout=60)
