"""Rechead (RPORec): a small scoring head over the language model's last hidden state.

One forward pass of the serving prompt (optionally followed by a reasoning trace as the assistant turn)
gives every candidate a score, with no generation:

    h = backbone(prompt [+ trace]).hidden_states[-1]       # (T, H), after the final norm
    user = [h[last token]; mean h[request line]]           # (2H,)  the request, the client, the trace
    item_j = mean h[candidate line j]                      # (H,)   "K7: house, category, attributes, price"
    s_j = <W_u LN(user), W_i LN(item_j)> / sqrt(d) + w_b . LN(item_j) + b

The backbone stays frozen; only the head (`RecHead`, ~ (3H + 1) * d parameters) is trained, by
`training/rechead.py` with a listwise loss on the training cases, optionally with the traces as auxiliary
input (RPORec's stage 1). RPORec does not publish its head; this is the simplest head that scores items
through the backbone's own reading of the prompt, in the spirit of R2ec's recommendation head.

Serving uses `rechead_rank` to rank candidates in one pass (fast ranking, fusion with the generated
ranking, a fallback when the answer does not parse); training uses `rechead_scores` on a completion as a
reward (how well the trace lets the head find the true item). A head is tied to the backbone it was
trained on (recorded in its `rechead.json`): another base model or adapter changes the hidden states.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from catalog.errors import ConciergeError

HEAD_WEIGHTS = "rechead.safetensors"
HEAD_CONFIG = "rechead.json"


class RecHead(nn.Module):
    """Bilinear user-item scorer with an item prior, over frozen backbone features.

    Args:
        hidden (`int`): the backbone's hidden size H.
        dim (`int`): the size d of the shared user / item space.
    """

    def __init__(self, hidden: int, dim: int = 64):
        super().__init__()
        self.hidden, self.dim = hidden, dim
        self.user_norm = nn.LayerNorm(2 * hidden, elementwise_affine=False)
        self.item_norm = nn.LayerNorm(hidden, elementwise_affine=False)
        self.user = nn.Linear(2 * hidden, dim)
        self.item = nn.Linear(hidden, dim)
        self.prior = nn.Linear(hidden, 1)

    def forward(self, user: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Scores of the candidates.

        Args:
            user (`torch.Tensor`): (B, 2H) request features.
            items (`torch.Tensor`): (B, N, H) candidate features.

        Returns:
            `torch.Tensor`: (B, N) scores (higher is better).
        """
        items = self.item_norm(items)
        u = self.user(self.user_norm(user))  # (B, d)
        v = self.item(items)  # (B, N, d)
        affinity = (v @ u.unsqueeze(-1)).squeeze(-1) / self.dim ** 0.5  # (B, N)
        return affinity + self.prior(items).squeeze(-1)


# ----------------------------------------------------------------------------------------------------
# Features


def _spans(text: str, handles: list[str]) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """Character spans of the request line and of each candidate's line in the rendered prompt."""
    start = text.find("Candidates:")
    if start < 0:
        raise ConciergeError("the prompt has no 'Candidates:' block; Rechead reads the serving prompt "
                             "(backend.reasoner.build_prompt)")
    request = re.search(r"(?m)^Request: .*$", text)
    request_span = request.span() if request else (0, start)
    spans = []
    for handle in handles:
        line = re.compile(rf"(?m)^{re.escape(handle)}: .*$").search(text, start)
        if line is None:
            raise ConciergeError(f"candidate {handle} is not listed in the prompt")
        spans.append(line.span())
    return request_span, spans


def _mean_over(hidden: torch.Tensor, offsets: list[tuple[int, int]], span: tuple[int, int]) -> torch.Tensor:
    """Mean of the hidden states of the tokens that overlap a character span. hidden: (T, H)."""
    rows = [t for t, (a, b) in enumerate(offsets) if b > span[0] and a < span[1] and b > a]
    if not rows:
        raise ConciergeError(f"no token covers characters {span} of the prompt")
    return hidden[rows].mean(dim=0)


def _backbone(model: Any) -> Any:
    """The decoder stack of a causal LM (skips the vocabulary projection, ~10% of a 135M model's forward)."""
    return model.get_decoder() if hasattr(model, "get_decoder") else model


@torch.no_grad()
def encode(model: Any, tokenizer: Any, messages: list[dict], handles: list[str],
           completion: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Rechead features of one prompt: the request vector and one vector per candidate.

    Args:
        model: a Hugging Face causal LM (with or without a LoRA adapter active).
        tokenizer: its fast tokenizer (offsets are needed), with a chat template.
        messages (`list[dict]`): the serving prompt as role/content dicts.
        handles (`list[str]`): the candidates' handles, in the order wanted for the item features.
        completion (`str`, *optional*): a reasoning trace, appended as the assistant turn.

    Returns:
        `tuple[torch.Tensor, torch.Tensor]`: user (2H,) and items (N, H), float32 on the CPU.
    """
    chat = [{"role": m["role"], "content": m["content"]} for m in messages]
    if completion is not None:
        chat.append({"role": "assistant", "content": completion})
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=completion is None)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, return_tensors="pt")
    offsets = [tuple(o) for o in encoded["offset_mapping"][0].tolist()]
    device = next(model.parameters()).device
    out = _backbone(model)(input_ids=encoded["input_ids"].to(device),
                           attention_mask=encoded["attention_mask"].to(device))
    hidden = out.last_hidden_state[0].float().cpu()  # (T, H), after the final norm
    request_span, spans = _spans(text, handles)
    user = torch.cat([hidden[-1], _mean_over(hidden, offsets, request_span)])  # (2H,)
    items = torch.stack([_mean_over(hidden, offsets, span) for span in spans])  # (N, H)
    return user, items


# ----------------------------------------------------------------------------------------------------
# Saved heads


def save_head(head: RecHead, path: str | Path, meta: dict | None = None) -> Path:
    """Write a head directory: `rechead.safetensors` + `rechead.json` (sizes and `meta`)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(path / HEAD_WEIGHTS))
    (path / HEAD_CONFIG).write_text(json.dumps({"hidden": head.hidden, "dim": head.dim} | (meta or {}), indent=2))
    return path


def load_head(path: str | Path) -> tuple[RecHead, dict]:
    """A saved head (in eval mode) and its `rechead.json`.

    Raises:
        `ConciergeError`: the directory is not a Rechead directory.
    """
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / HEAD_WEIGHTS).is_file() or not (path / HEAD_CONFIG).is_file():
        raise ConciergeError(f"{path} is not a Rechead directory (expected {HEAD_WEIGHTS} and {HEAD_CONFIG}, "
                             "as written by `concierge train` stage rechead)")
    meta = json.loads((path / HEAD_CONFIG).read_text())
    head = RecHead(meta["hidden"], meta["dim"])
    head.load_state_dict(load_file(str(path / HEAD_WEIGHTS)))
    return head.eval(), meta


def check_backbone(head: RecHead, model: Any) -> None:
    """Raise if the head was built for another hidden size than the model's."""
    hidden = getattr(model.config, "hidden_size", None)
    if hidden is not None and hidden != head.hidden:
        raise ConciergeError(f"the Rechead expects hidden size {head.hidden} but the model has {hidden}; "
                             "train a head on this base model")


@torch.no_grad()
def rechead_scores(head: RecHead, model: Any, tokenizer: Any, messages: list[dict], handles: list[str],
                   completion: str | None = None) -> torch.Tensor:
    """The head's score of each candidate handle (N,), in the order of `handles`."""
    check_backbone(head, model)
    user, items = encode(model, tokenizer, messages, handles, completion)
    return head(user.unsqueeze(0), items.unsqueeze(0))[0]


def rechead_rank(head: RecHead, model: Any, tokenizer: Any, messages: list[dict], handles: list[str],
                 completion: str | None = None) -> list[tuple[str, float]]:
    """Candidates by descending Rechead score, for serving.

    Args:
        head (`RecHead`): from `load_head`.
        model, tokenizer: the backbone the head was trained on (e.g. `SharedModel.model` / `.tokenizer`;
            hold `SharedModel.lock` around the call when the model is shared).
        messages (`list[dict]`): the serving prompt (role/content dicts; LangChain messages are converted).
        handles (`list[str]`): the prompt's candidate handles.
        completion (`str`, *optional*): the model's reasoning, when scoring after generation.

    Returns:
        `list[tuple[str, float]]`: (handle, score), best first.
    """
    messages = [m if isinstance(m, dict) else {"role": {"human": "user", "ai": "assistant"}.get(m.type, m.type),
                                               "content": m.text} for m in messages]
    scores = rechead_scores(head, model, tokenizer, messages, list(handles), completion)
    order = torch.argsort(scores, descending=True, stable=True).tolist()
    return [(list(handles)[i], float(scores[i])) for i in order]


def rank_on_shared(head: RecHead, shared: Any, messages: list, handles: list[str],
                   adapter: str | None = None) -> list[tuple[str, float]]:
    """`rechead_rank` on the serving process's `backend.llm.SharedModel`, holding its lock.

    Args:
        head (`RecHead`): from `load_head`.
        shared (`SharedModel`): the process-wide model (`LocalChatModel.shared`).
        messages (`list`): the serving prompt (LangChain messages or role/content dicts).
        handles (`list[str]`): the candidates' handles.
        adapter (`str`, *optional*): the adapter the head was trained on (None: the base weights, the default
            of `concierge train`'s rechead stage).

    Returns:
        `list[tuple[str, float]]`: (handle, score), best first.
    """
    with shared.lock:
        shared.activate(adapter)
        return rechead_rank(head, shared.model, shared.tokenizer, messages, handles)
