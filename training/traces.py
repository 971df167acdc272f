"""Reasoning traces for a supervised warm-start: reject and target sampling, a template teacher.

Three ways to get a trace (a completion with numbered steps and an ANSWER line) for a training case:

- `reject` (GR2's reject sampling, ReRec's rollouts): the teacher sees the serving prompt only
  (request, client summary, candidates under shuffled handles) and is sampled until its parsed
  answer passes the acceptance test, or `max_tries` samples are spent. The best traces: the teacher
  found the answer itself.
- `target` (GR2's target sampling): the prompt also states the correct answer and asks for the
  steps that lead to it. The stored trace is paired with the *normal* prompt, so the student learns
  to reach the answer without being told it. Post-hoc, weaker traces, but a small teacher produces
  far more of them.
- `template`: a deterministic teacher that writes a correct trace from catalogue facts and the
  query graph (`backend.reasoner.describe_needs`, `backend.verify.hard_violations`): what the
  request needs, why the best candidates fit, why a few tempting ones do not, then the answer.
  Always accepted on cases with a relevant candidate; gives SFT well-formed, verifiable traces when
  the base model (SmolLM2-135M) rarely answers in a parseable form (FACTS.md: warm-start with SFT on
  good traces before RL).

Modes cascade per case: `modes=["reject", "target", "template"]` tries reject sampling first, then
target sampling for the cases it missed, then the template for the rest. Every trace records its
`source` (the mode that produced it) and `teacher`, so SFT can filter or weight by source.

Acceptance test (`accept`): `top1` (the first pick is relevant) or `ndcg` (NDCG@`ndcg_k` of the
picks, then the other candidates in the given order, at least `ndcg_threshold`). A trace also needs
`min_steps` reasoning steps and must not repeat the target hint ("the correct answer is ..."): small
teachers asked for target-sampled reasoning often just echo the answer they were given. With
`verify` on, a trace whose steps the verifier finds inconsistent with the catalogue or the request
is rejected too; with `grounded` on, so is one in which no step makes a claim the verifier can
confirm (a catalogue fact of a named candidate, or a candidate promoted that meets the request):
SmolLM2-135M's target-sampled traces that pass the format test are otherwise mostly word salad
around the given handles. Cases whose relevant set is empty (nothing fits) get no trace: the
serving prompt offers no "nothing fits" answer.

Config (the `traces:` section of a training config; every key optional):

    traces:
      modes: [reject, target, template]   # cascade, in order
      teacher: base          # base: the configured chat model
                             #   (settings.llm_backend local | openai);
                             # none: template only
      teacher_adapter: null  # a LoRA adapter directory for the local teacher
      max_tries: 2           # samples per case and per sampling mode
      temperature: 0.8
      max_new_tokens: 128    # SmolLM2-135M on 1 CPU thread: ~14 s per case for 2 x 96 tokens
      accept: top1           # top1 | ndcg
      ndcg_k: 5
      ndcg_threshold: 0.5
      min_steps: 2           # fewest reasoning steps before the ANSWER line
      verify: true           # reject traces the step verifier flags
      grounded: true         # accept only traces with at least one step the verifier confirms
      keep_rejected: false   # also write rejected samples (accepted=false) to the JSONL
      limit: null            # at most this many cases
      seed: 0

`run_traces(section, cases, world, run_dir)` writes `run_dir/traces.jsonl` (one JSON object per
line: `case_id, mode, source, teacher, accepted, tries, prompt` (chat messages as role/content
dicts), `completion, picks` (item ids), `ndcg`) and `run_dir/traces_stats.json`, and returns the
stats.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from catalog.errors import ConciergeError
from training.config import TRACE_MODES as MODES
from training.config import TracesConfig, section_from_dict
from training.metrics import ndcg_at_k

TARGET_INSTRUCTION = (
    "\n\nThe correct answer is: ANSWER: {answer}\n"
    "Write 2 to 4 short numbered steps that explain, from the candidates' facts, why these fit the "
    "request best, then the ANSWER line exactly as given."
)
# A target-sampled completion that repeats the hint ("The correct answer is: ...") explains nothing,
# and a student trained on it would learn to announce answers it was never given.
HINT_ECHO = re.compile(r"(?i)\bcorrect answer\b|\banswer (?:is )?given\b")
ANSWER_SIZE = 3  # handles in a template / target answer (the serving prompt asks for 3 to 5)


@dataclass
class Trace:
    """One trace: the normal serving prompt and a completion for it."""

    case_id: str
    mode: str  # the mode that produced it: reject | target | template
    teacher: str
    accepted: bool
    tries: int
    prompt: list[dict]  # [{"role", "content"}], the serving prompt (never the target hint)
    completion: str
    picks: list[str]  # item ids parsed from the completion
    ndcg: float

    @property
    def source(self) -> str:
        return self.mode

    def to_dict(self) -> dict:
        return asdict(self) | {"source": self.mode}


# --------------------------------------------------------------------------------------------------
# Prompts and answers


def messages_to_dicts(messages: Iterable[Any]) -> list[dict]:
    """LangChain messages (or role/content dicts) as `{"role", "content"}` dicts (the chat-template
    form)."""
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    out = []
    for m in messages:
        if isinstance(m, dict):
            out.append({"role": m["role"], "content": m["content"]})
        else:
            out.append({"role": roles.get(m.type, m.type), "content": m.text})
    return out


def correct_handles(handles: dict[str, dict], relevance: dict[str, int],
                    n: int = ANSWER_SIZE) -> list[str]:
    """The relevant candidates' handles, best grade first (ties in handle order), at most `n`."""
    ranked = sorted((h for h, item in handles.items() if relevance.get(item["item_id"], 0) > 0),
                    key=lambda h: -relevance[handles[h]["item_id"]])
    return ranked[:n]


def target_messages(messages: list[dict], answer: list[str]) -> list[dict]:
    """The serving prompt with the correct answer stated at the end of the last user message."""
    out = [dict(m) for m in messages]
    last = max(i for i, m in enumerate(out) if m["role"] == "user")
    out[last]["content"] += TARGET_INSTRUCTION.format(answer=", ".join(answer))
    return out


def judge(completion: str, handles: dict[str, dict], case, config: TracesConfig,
          query: dict | None = None,
          preferences: dict | None = None) -> tuple[bool, list[str], float]:
    """Whether a completion passes the acceptance test.

    Args:
        completion (`str`): the teacher's text.
        handles (`dict[str, dict]`): handle -> candidate item of this prompt.
        case (`TrainingCase`): gives `candidates` (the given order) and `relevance`.
        config (`TracesConfig`): `accept`, `ndcg_k`, `ndcg_threshold`, `verify`.
        query (`dict`, *optional*): the query graph, for the verifier (skipped when None).
        preferences (`dict[str, float]`, *optional*): the client's attribute preferences, for the
            verifier.

    Returns:
        `tuple[bool, list[str], float]`: accepted, the picked item ids, NDCG@k of picks + the rest.
    """
    from backend.reasoner import parse_answer
    from backend.verify import verify_steps

    parsed = parse_answer(completion, handles)
    picks = [handles[h]["item_id"] for h in parsed.picks]
    ranking = picks + [i for i in case.candidates if i not in picks]
    ndcg = ndcg_at_k(ranking, case.relevance, config.ndcg_k) if picks else 0.0
    if not picks or len(parsed.steps) < config.min_steps or HINT_ECHO.search(completion):
        return False, picks, ndcg
    if config.accept == "top1":
        passed = case.relevance.get(picks[0], 0) > 0
    else:
        passed = ndcg >= config.ndcg_threshold
    if passed and (config.verify or config.grounded) and query is not None:
        checks = verify_steps(parsed.steps, handles, query, preferences)
        if config.verify and any(c.verdict == "inconsistent" for c in checks):
            passed = False
        if config.grounded and not any(c.verdict == "consistent" for c in checks):
            passed = False
    return passed, picks, ndcg


# --------------------------------------------------------------------------------------------------
# The template teacher


def _fits(item: dict, query: dict) -> list[str]:
    """The request's wishes this item meets, in a few words: only facts its candidate line shows."""
    from backend.graphs import attribute_nodes
    from backend.reasoner import asked_nodes, shown_values

    asked = asked_nodes(query)
    nodes = {node for _, node in attribute_nodes(item)}
    visible = set(shown_values(item, asked))
    out = [node.split("=", 1)[1] for node in asked
           if node in nodes and (node.startswith("category=") or node.split("=", 1)[1] in visible)]
    out = [v for v in dict.fromkeys(out) if not v == str(item.get("brand") or "").lower()]
    budget, price = query.get("budget_max"), item.get("price")
    if budget is not None and price is not None and price <= budget:
        out.append("within budget")
    return out


def _names(handles: list[str]) -> str:
    return handles[0] if len(handles) == 1 else ", ".join(handles[:-1]) + " and " + handles[-1]


def template_completion(handles: dict[str, dict], relevance: dict[str, int],
                        query: dict) -> str | None:
    """A correct, short reasoning trace written from catalogue facts, or None when no candidate is
    relevant.

    Three steps, the shape the serving prompt asks for: what the request needs (the query graph in
    words, plus the fact that corrects a misinformed request); the best candidate and the facts that
    make it fit; the others that fit and up to two that the request rules out, with why. Then the
    ANSWER line. About 50 tokens: on two CPU cores every generated token is ~40 ms of the client's
    wait.

    Args:
        handles (`dict[str, dict]`): handle -> candidate item, as in the prompt.
        relevance (`dict[str, int]`): graded ground truth by item id.
        query (`dict`): `QueryGraph.to_dict()` of the request.

    Returns:
        `str` or None.
    """
    from backend.reasoner import describe_needs
    from backend.verify import hard_violations

    relevant = correct_handles(handles, relevance, n=len(handles))
    if not relevant:
        return None
    # Relevant items that break the request as parsed (the needs line the model sees) would make the
    # trace contradict its own prompt; they go last, and only when nothing else is relevant.
    fitting = [h for h in relevant if not hard_violations(handles[h], query)]
    answer = (fitting or relevant)[:ANSWER_SIZE]
    needs = f"Needs: {describe_needs(query)}."
    wrong = query.get("wrong_fact") or {}
    if wrong.get("actual"):
        actual, subject = str(wrong["actual"]), str(wrong.get("subject") or "")
        if subject and actual.lower().startswith(subject.lower()):
            needs += f" Note that {actual}."
        else:
            needs += f" Note: for {subject}, {wrong.get('claimed')} is not right; it is {actual}."
    best = handles[answer[0]]
    reasons = _fits(best, query)[:3] or [best.get("category") or best["title"]]
    steps = [needs, f"{answer[0]} fits best: {', '.join(reasons)}."]
    others = []
    if len(answer) > 1:
        others.append(f"{_names(answer[1:])} also fit{'s' if len(answer) == 2 else ''}")
    out = [(h, hard_violations(item, query)) for h, item in handles.items() if h not in answer]
    out = [(h, broken[0]) for h, broken in out if broken][:2]
    if out:
        verb = "is" if len(out) == 1 else "are"
        others.append(f"{_names([h for h, _ in out])} {verb} out: {out[0][1]}")
    if others:
        steps.append("; ".join(others) + ".")
    body = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))
    return f"{body}\nANSWER: {', '.join(answer)}"


# --------------------------------------------------------------------------------------------------
# Sampling from a teacher


def sample(model, messages: list[dict], n: int, temperature: float, max_new_tokens: int,
           seed: int) -> list[str]:
    """`n` sampled completions of one prompt.

    A local model (`backend.llm.LocalChatModel`) samples all `n` in one batched `generate` call
    (`num_return_sequences`), several times faster per trace on CPU than `n` calls; any other
    LangChain chat model (e.g. `ChatOpenAI` against vLLM) is called `n` times.
    """
    from backend.llm import LocalChatModel

    if isinstance(model, LocalChatModel):
        return _sample_local(model, messages, n, temperature, max_new_tokens, seed)
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    chat = [kinds[m["role"]](content=m["content"]) for m in messages]
    bound = model
    if hasattr(model, "openai_api_base"):
        bound = model.bind(temperature=temperature, max_tokens=max_new_tokens)
    return [bound.invoke(chat).content for _ in range(n)]


def _sample_local(model, messages: list[dict], n: int, temperature: float, max_new_tokens: int,
                  seed: int) -> list[str]:
    import torch

    shared = model.shared
    tokenizer = shared.tokenizer
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                           return_tensors="pt", return_dict=True)
    inputs = {k: inputs[k].to(shared.device) for k in ("input_ids", "attention_mask")}
    prompt_tokens = inputs["input_ids"].shape[1]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    torch.manual_seed(seed)
    with shared.lock, torch.no_grad():
        shared.activate(model.adapter)
        kwargs = dict(do_sample=True, temperature=temperature) if temperature > 0 else dict(
            do_sample=False, temperature=None, top_p=None, top_k=None)
        output = shared.model.generate(**inputs, max_new_tokens=max_new_tokens, pad_token_id=pad,
                                       num_return_sequences=n if temperature > 0 else 1, **kwargs)
    # output: (n, prompt_tokens + new tokens)
    texts = tokenizer.batch_decode(output[:, prompt_tokens:], skip_special_tokens=True)
    return texts if len(texts) == n else texts * n


# --------------------------------------------------------------------------------------------------
# Generation


def query_graph(case, world) -> dict:
    """The request's query graph as the serving path reads it (vocabulary of the world's catalogue,
    world knowledge, the catalogue's embedding model)."""
    from backend.index import embed
    from backend.knowledge import load_knowledge
    from backend.understand import understand
    from backend.vocabulary import build_vocabulary

    items = _catalogue_items(world)
    key = id(items)
    if _VOCAB.get("key") != key:
        _VOCAB.update(key=key, vocab=build_vocabulary(items, load_knowledge(), embed))
    return understand(case.request, _VOCAB["vocab"], load_knowledge(), embed).to_dict()


_VOCAB: dict[str, Any] = {}


def _catalogue_items(world) -> list[dict]:
    """The catalogue rows of a world: a `Bundle`, an `EvalWorld`, anything with `items`/`bundle`."""
    for candidate in (getattr(world, "bundle", None), world):
        items = getattr(candidate, "items", None)
        if isinstance(items, dict):
            return list(items.values())
        if isinstance(items, list):
            return items
    raise ConciergeError(f"cannot find the catalogue items of {type(world).__name__}")


def default_prompt_fn(case, world):
    """`training.data.build_case_prompt`: the serving prompt, handles, query graph and client
    preferences."""
    from training.data import build_case_prompt

    return build_case_prompt(case, world)


def prepare_prompt(case, world,
                   prompt_fn: Callable) -> tuple[list[dict], dict[str, dict], dict, dict]:
    """(messages, handles, query graph, preferences) of a case.

    `prompt_fn` may return a `training.data.CasePrompt` or a plain `(messages, handles)` pair; for
    the latter the query graph is parsed here and the preferences are left empty.
    """
    built = prompt_fn(case, world)
    if isinstance(built, tuple):
        messages, handles = built
        return messages_to_dicts(messages), handles, query_graph(case, world), {}
    return messages_to_dicts(built.messages), built.handles, built.query_graph, built.preferences


def generate_traces(cases: list, world, model=None, mode: str | list[str] | None = None,
                    max_tries: int | None = None,
                    config: TracesConfig | None = None, prompt_fn: Callable | None = None,
                    teacher_name: str | None = None,
                    on_case: Callable[[int, int], None] | None = None) -> tuple[list[Trace], dict]:
    """Traces for training cases, by reject sampling, target sampling and / or the template teacher.

    Args:
        cases (`list[TrainingCase]`): the cases (`case_id`, `request`, `candidates`, `relevance`).
        world: what `prompt_fn` needs to build a case's prompt (the bundle / evaluation world).
        model (`BaseChatModel`, *optional*): the teacher; None allows only the `template` mode.
        mode (`str` or `list[str]`, *optional*): one mode or a cascade (see the module docstring);
            overrides `config.modes` (default: `reject, target, template`).
        max_tries (`int`, *optional*): samples per case and sampling mode; overrides
            `config.max_tries`.
        config (`TracesConfig`, *optional*): the other settings.
        prompt_fn (`Callable`, *optional*): `(case, world) -> CasePrompt` or `(messages, handles)`;
            default `training.data.build_case_prompt`.
        teacher_name (`str`, *optional*): recorded in each trace (default: the model's class name).
        on_case (`Callable[[int, int], None]`, *optional*): called with (done, total) after each
            case.

    Returns:
        `tuple[list[Trace], dict]`: the traces (one per case that got one, plus rejected samples
        when `keep_rejected`), and the stats: per mode `cases` tried, `accepted`, `samples`,
        `acceptance` (accepted / cases tried), `sample_acceptance` (accepted / samples), `parsed`
        (samples with any valid pick); overall `cases`, `with_trace`, `skipped_nothing_fits`,
        `by_source`, `seconds`.
    """
    config = config or TracesConfig()
    overrides = {}
    if mode is not None:
        overrides["modes"] = [mode] if isinstance(mode, str) else list(mode)
    if max_tries is not None:
        overrides["max_tries"] = max_tries
    config = section_from_dict(TracesConfig, asdict(config) | overrides, "traces")
    modes = config.modes
    if model is None and any(m != "template" for m in modes):
        raise ConciergeError("reject and target sampling need a teacher model; "
                             "use modes: [template] without one")
    prompt_fn = prompt_fn or default_prompt_fn
    teacher = teacher_name or (type(model).__name__ if model is not None else "template")
    cases = cases[:config.limit] if config.limit else cases
    per_mode = {m: {"cases": 0, "accepted": 0, "samples": 0, "parsed": 0} for m in modes}
    traces: list[Trace] = []
    skipped, started = 0, time.perf_counter()
    for index, case in enumerate(cases):
        nothing_fits = (not any(g > 0 for g in case.relevance.values())
                        or not set(case.relevance) & set(case.candidates))
        if nothing_fits:
            skipped += 1
        else:
            traces.extend(_case_traces(case, world, model, teacher, config, prompt_fn, per_mode,
                                       index))
        if on_case:
            on_case(index + 1, len(cases))
    for counts in per_mode.values():
        counts["acceptance"] = counts["accepted"] / counts["cases"] if counts["cases"] else 0.0
        counts["sample_acceptance"] = (counts["accepted"] / counts["samples"]
                                       if counts["samples"] else 0.0)
    accepted = [t for t in traces if t.accepted]
    by_source = {m: sum(1 for t in accepted if t.mode == m) for m in modes}
    stats = {"cases": len(cases), "with_trace": len(accepted), "skipped_nothing_fits": skipped,
             "acceptance": len(accepted) / max(len(cases) - skipped, 1), "by_source": by_source,
             "modes": per_mode, "teacher": teacher,
             "seconds": round(time.perf_counter() - started, 2)}
    return traces, stats


def _case_traces(case, world, model, teacher: str, config: TracesConfig, prompt_fn: Callable,
                 per_mode: dict, index: int) -> list[Trace]:
    """The traces of one case: at most one accepted, plus rejected samples when `keep_rejected`."""
    messages, handles, query, preferences = prepare_prompt(case, world, prompt_fn)
    out = []
    for mode in config.modes:
        per_mode[mode]["cases"] += 1
        if mode == "template":
            completion = template_completion(handles, case.relevance, query)
            if completion is None:
                continue
            ok, picks, ndcg = judge(completion, handles, case, config, query, preferences)
            per_mode[mode]["samples"] += 1
            per_mode[mode]["parsed"] += bool(picks)
            trace = Trace(case.case_id, mode, "template", ok, 1, messages, completion, picks, ndcg)
            if ok:
                per_mode[mode]["accepted"] += 1
                return out + [trace]
            if config.keep_rejected:
                out.append(trace)
            continue
        shown = messages
        if mode != "reject":
            shown = target_messages(messages, correct_handles(handles, case.relevance))
        seed = config.seed * 100003 + index * 17 + MODES.index(mode)
        completions = sample(model, shown, config.max_tries, config.temperature,
                             config.max_new_tokens, seed)
        for tries, completion in enumerate(completions, start=1):
            ok, picks, ndcg = judge(completion, handles, case, config, query, preferences)
            per_mode[mode]["samples"] += 1
            per_mode[mode]["parsed"] += bool(picks)
            trace = Trace(case.case_id, mode, teacher, ok, tries, messages, completion, picks, ndcg)
            if ok:
                per_mode[mode]["accepted"] += 1
                return out + [trace]
            if config.keep_rejected:
                out.append(trace)
    return out


# --------------------------------------------------------------------------------------------------
# Files and the stage entry point


def write_traces(traces: Iterable[Trace], path: Path) -> Path:
    """Write traces as JSONL (one object per line); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as f:
        for trace in traces:
            f.write(json.dumps(trace.to_dict()) + "\n")
    tmp.replace(path)
    return path


def read_traces(path: Path, accepted_only: bool = True,
                sources: Iterable[str] | None = None) -> list[dict]:
    """The traces of a JSONL file, accepted ones only by default, optionally of given sources."""
    path = Path(path)
    if not path.is_file():
        raise ConciergeError(f"no traces file at {path}; run the traces stage first")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    wanted = set(sources) if sources is not None else None
    return [r for r in rows if (r["accepted"] or not accepted_only)
            and (wanted is None or r["source"] in wanted)]


def teacher_model(config: TracesConfig, settings=None):
    """The configured teacher: None for `teacher: none`, else `backend.llm.chat_model` (local or
    openai)."""
    if config.teacher == "none" or config.modes == ["template"]:
        return None
    if config.teacher != "base":
        raise ConciergeError(f"traces.teacher is {config.teacher!r}; "
                             "use base (the configured chat model) or none")
    from backend.llm import chat_model

    adapter = config.teacher_adapter
    return chat_model(settings, adapter="teacher" if adapter else None, adapter_path=adapter)


def run_traces(section: TracesConfig, cases: list, world, run_dir: str | Path, model=None,
               prompt_fn: Callable | None = None,
               on_case: Callable[[int, int], None] | None = None) -> dict:
    """The traces stage: generate, write `run_dir/traces.jsonl` and `run_dir/traces_stats.json`.

    Args:
        section (`TracesConfig`): the `traces:` section of the training config.
        cases (`list[TrainingCase]`): training cases (`training.data.cases_from_bundle`).
        world: the world `training.data.case_prompt` builds prompts from.
        run_dir (`str` or `Path`): the run directory.
        model (`BaseChatModel`, *optional*): the teacher (default: from the config,
            `teacher_model`).
        prompt_fn (`Callable`, *optional*): `(case, world) -> CasePrompt` or `(messages, handles)`.
        on_case (`Callable`, *optional*): progress callback `(done, total)`.

    Returns:
        `dict`: the stats of `generate_traces`, plus `path` (the JSONL file).
    """
    if model is None:
        model = teacher_model(section)
    traces, stats = generate_traces(cases, world, model, mode=section.modes,
                                    max_tries=section.max_tries, config=section,
                                    prompt_fn=prompt_fn, on_case=on_case)
    run_dir = Path(run_dir)
    path = write_traces(traces, run_dir / "traces.jsonl")
    stats["path"] = str(path)
    (run_dir / "traces_stats.json").write_text(json.dumps(stats, indent=2))
    return stats


def run(ctx) -> dict:
    """`concierge train` entry point of the traces stage: traces of the run's cases in
    `run_dir/traces`."""
    out = ctx.run_dir / "traces"
    out.mkdir(parents=True, exist_ok=True)
    return run_traces(ctx.config.traces, ctx.cases, ctx.world, out, prompt_fn=ctx.prompt)
