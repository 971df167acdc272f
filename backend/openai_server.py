"""A small OpenAI-compatible server over the local model: `concierge llm-server`.

It speaks the part of the OpenAI API that the `openai` backend (LangChain's `ChatOpenAI`) and vLLM's
LoRA workflow use, so the same client code runs against vLLM on a GPU and against this server on a CPU
machine (the model then lives in its own process, outside the app):

- `GET  /v1/models`: the base model and every loaded adapter;
- `POST /v1/chat/completions`: `model` (the base model's name or an adapter's), `messages`,
  `max_tokens`, `temperature`, `stop`, `stream` (server-sent events, as OpenAI streams);
- `POST /v1/load_lora_adapter`: `{"lora_name": ..., "lora_path": ...}`, as vLLM's runtime LoRA loading;
- `GET  /health`.

One generation runs at a time (the model's weights and its active adapter are shared); requests queue.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from backend.settings import Settings, get_settings
from catalog.errors import ConciergeError

ROLES = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    stop: list[str] | str | None = None
    stream: bool = False


class LoadAdapter(BaseModel):
    lora_name: str
    lora_path: str


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind}})


def create_openai_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app serving the configured local model (loaded on the first request)."""
    from backend.llm import chat_model

    settings = settings or get_settings()
    local = settings.model_copy(update={"llm_backend": "local"})
    app = FastAPI(title="Concierge OpenAI-compatible model server")
    lock = threading.Lock()
    state: dict = {}

    def model():
        if "model" not in state:
            state["model"] = chat_model(local)
        return state["model"]

    def names() -> list[str]:
        return [settings.openai_model, *sorted(model().shared.adapters)]

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict:
        data = [{"id": name, "object": "model", "owned_by": "concierge"} for name in names()]
        return {"object": "list", "data": data}

    @app.post("/v1/load_lora_adapter")
    def load_adapter(body: LoadAdapter):
        try:
            with lock:
                model().load_adapter(body.lora_name, body.lora_path)
        except ConciergeError as exc:
            return _error(400, str(exc))
        return {"loaded": body.lora_name}

    @app.post("/v1/chat/completions")
    def completions(body: ChatRequest):
        unknown = [m.role for m in body.messages if m.role not in ROLES]
        if unknown:
            return _error(400, f"unknown message role(s) {unknown}; use system, user, assistant")
        adapter = None if body.model == settings.openai_model else body.model
        if adapter is not None and adapter not in model().shared.adapters:
            return _error(404, f"the model {body.model!r} does not exist; served: {', '.join(names())}",
                          "not_found_error")
        messages = [ROLES[m.role](content=m.content) for m in body.messages]
        options = {"max_new_tokens": body.max_tokens or settings.max_new_tokens,
                   "temperature": settings.temperature if body.temperature is None else body.temperature}
        stop = [body.stop] if isinstance(body.stop, str) else body.stop
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:16]}", int(time.time())
        if body.stream:
            return StreamingResponse(_stream(model(), lock, adapter, messages, stop, options, completion_id,
                                             created, body.model), media_type="text/event-stream")
        try:
            with lock:
                model().use_adapter(adapter)
                reply = model().invoke(messages, stop=stop, **options)
        except ConciergeError as exc:  # e.g. a prompt longer than the model's context
            return _error(400, str(exc))
        stats = model().last_stats or {}
        return {"id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": stats.get("prompt_tokens", 0),
                          "completion_tokens": stats.get("completion_tokens", 0),
                          "total_tokens": stats.get("prompt_tokens", 0) + stats.get("completion_tokens", 0)}}

    return app


def _stream(model, lock: threading.Lock, adapter: str | None, messages, stop, options: dict, completion_id: str,
            created: int, name: str) -> Iterator[str]:
    """Server-sent events: one `chat.completion.chunk` per piece of text, then `[DONE]`."""
    def event(delta: dict, finish: str | None = None) -> str:
        chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": name,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(chunk)}\n\n"

    with lock:
        model.use_adapter(adapter)
        yield event({"role": "assistant", "content": ""})
        for piece in model.stream(messages, stop=stop, **options):
            if piece.content:
                yield event({"content": piece.content})
    yield event({}, "stop")
    yield "data: [DONE]\n\n"


def add_llm_server_arguments(parser) -> object:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port (default 8001, as CONCIERGE_OPENAI_BASE_URL)")
    return parser


def main_llm_server(args) -> int:
    import uvicorn

    uvicorn.run(create_openai_app(), host=args.host, port=args.port, log_level="warning")
    return 0
