"""The GRPO stage: TRL's `GRPOTrainer` with the ReRec reward, RAAE advantages and the online
curriculum.

Only wiring lives here; the formulas are in `training/rewards.py` (reward), `training/advantage.py`
(RAAE) and `training/curriculum.py` (curriculum). `ReRecGRPOTrainer` changes TRL in six places:

- `_calculate_rewards`: the reward step. `ReRecReward.score` gives each completion's breakdown,
which is
  written on the completion's input row; TRL gets the totals.
- `_generate_and_score_completions`: the one place TRL forms advantages. The parent computes the
  rollouts, the rewards (through `_calculate_rewards`, on the same input rows) and its own
  sequence-level advantages; this override takes the breakdowns off the rows, feeds the rollouts'
  NDCG to the curriculum and, with RAAE on, replaces `output["advantages"]` (B,) by token-level
  advantages (B, T), which TRL 1.16's loss accepts. `tests/unit/test_trl_pin.py` fails if either
  method, or the key it returns, changes.
- `_get_train_sampler`: `CurriculumSampler` serves case indices in the curriculum's order, in the
  layout TRL's `RepeatSampler` uses (each prompt G times in a row, each generation batch repeated
  `num_iterations * steps_per_generation` times).
- `_save_checkpoint`: the curriculum's state is saved into every checkpoint (`curriculum.json`).
- `_generate_single_turn`: the rollouts (transformers' `generate`, no vLLM) run with the LoRA
  adapter merged and each distinct prompt prefilled once for its G rollouts (`training/prefill.py`).
- `_get_per_token_logps_and_entropies`: the loss pass runs each distinct prompt once, with
  gradients, for its G completions (`training/shared_logps.py`); TRL's own pass runs whatever
  cannot share (multimodal inputs, an MoE loss, no repeated prompt).
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.utils.data import Sampler
from accelerate.utils import gather
from trl import GRPOTrainer
from trl.extras.profiling import profiling_context, profiling_decorator

from transformers import StoppingCriteria, StoppingCriteriaList

from backend.half_decode import HalfLinears
from backend.llm import HALF_DECODE_ROWS
from backend.reasoner import answer_complete
from backend.verify import verify_steps
from training.advantage import (RAAEConfig, completion_token_rewards, group_stats, row_moments,
                                token_advantages)
from training.curriculum import Curriculum
from training.data import CasePrompt, TrainingCase
from training.prefill import shared_prompt_prefill
from training.rewards import (CollaborativeEmbedding, RecheadReward, RewardBreakdown, RewardWeights,
                              overlong_penalty, score_completion)
from training.shared_logps import shared_prompt_logps

CURRICULUM_FILE = "curriculum.json"
# key of a completion's RewardBreakdown on its input row, reward -> advantages
BREAKDOWN = "rerec_breakdown"


class ReRecReward:
    """The ReRec reward of a batch of completions: `score` gives each completion's breakdown,
    calling the object gives TRL the totals. It keeps no state between batches.

    Args:
        cases (`dict[str, TrainingCase]`): by case id.
        prompts (`dict[str, CasePrompt]`): by case id (handles, parsed request, preferences).
        weights (`RewardWeights`): reward weights.
        embedding (`CollaborativeEmbedding`, *optional*): for PAS.
        rechead (`RecheadReward`, *optional*): Rechead reward hook.
        max_length (`int`): the rollouts' token limit (`grpo.max_completion_length`).
        overlong_buffer (`int`): DAPO's soft overlong punishment over the last `overlong_buffer`
            tokens before `max_length` (`training.rewards.overlong_penalty`; 0: off).
    """

    __name__ = "rerec"  # TRL names the reward in its logs after this

    def __init__(self, cases: dict[str, TrainingCase], prompts: dict[str, CasePrompt],
                 weights: RewardWeights,
                 embedding: CollaborativeEmbedding | None = None,
                 rechead: RecheadReward | None = None, max_length: int = 0,
                 overlong_buffer: int = 0):
        self.cases, self.prompts, self.weights = cases, prompts, weights
        self.embedding, self.rechead = embedding, rechead
        self.max_length, self.overlong_buffer = max_length, overlong_buffer

    def score(self, completions: list, case_ids: list[str], log_metric=None,
              lengths: list[int] | None = None) -> list[RewardBreakdown]:
        """Each completion's reward breakdown, in order.

        Args:
            completions (`list`): completion texts, or conversations whose last message is the
                completion.
            case_ids (`list[str]`): the case of each completion.
            log_metric (`Callable[[str, float], None]`, *optional*): receives the batch means of the
                terms.
            lengths (`list[int]`, *optional*): each completion's tokens, for the overlong
                punishment.

        Returns:
            `list[RewardBreakdown]`: one per completion.
        """
        breakdowns = []
        for completion, cid in zip(completions, case_ids, strict=True):
            text = completion[-1]["content"] if isinstance(completion, list) else completion
            prompt = self.prompts[cid]
            relevance = self.cases[cid].relevance
            # the Rechead hook scores a completion against its own case: bind it to this prompt and
            # its truth
            rechead = self.rechead.bind(prompt, relevance) if hasattr(self.rechead,
                                                                      "bind") else self.rechead
            breakdowns.append(score_completion(text, prompt.handles, relevance, self.weights,
                                               self.embedding, rechead,
                                               given=self.cases[cid].candidates))
        for breakdown, length in zip(breakdowns, lengths or [], strict=False):
            breakdown.overlong = overlong_penalty(length, self.max_length, self.overlong_buffer)
            breakdown.total += breakdown.overlong
        if log_metric is not None and breakdowns:
            n = len(breakdowns)
            for term in ("ndcg", "qas", "pas", "format", "rechead", "overlong", "contradicted",
                         "extra_picks", "steps"):
                log_metric(f"rerec/{term}", sum(getattr(b, term) for b in breakdowns) / n)
            log_metric("rerec/answered", sum(bool(b.picks) for b in breakdowns) / n)
            log_metric("rerec/hit@1", sum(bool(b.picks) and not b.picks[0] in b.wrong_picks
                                          for b in breakdowns) / n)
        return breakdowns

    def __call__(self, prompts, completions, case_id, log_metric=None, **kwargs) -> list[float]:
        """TRL's reward-function interface: the totals of `score`."""
        return [b.total for b in self.score(completions, case_id, log_metric)]


class CurriculumSampler(Sampler):
    """Dataset indices in the curriculum's order, laid out as TRL's `RepeatSampler` lays them out.

    Each `__iter__` yields as many indices as `RepeatSampler` would (so TRL's epoch arithmetic
    holds), drawing cases from the curriculum as it goes: the order adapts to rollouts observed
    meanwhile.
    """

    def __init__(self, curriculum: Curriculum, index: dict[str, int], mini_repeat_count: int,
                 batch_size: int, repeat_count: int):
        self.curriculum, self.index = curriculum, index
        self.mini_repeat_count, self.batch_size = mini_repeat_count, batch_size
        self.repeat_count = repeat_count

    def __len__(self) -> int:
        batches = len(self.index) // self.batch_size
        return batches * self.batch_size * self.mini_repeat_count * self.repeat_count

    def __iter__(self):
        for _ in range(len(self.index) // self.batch_size):
            chunk = [self.index[c] for c in self.curriculum.take(self.batch_size)]
            for _ in range(self.repeat_count):
                for i in chunk:
                    yield from [i] * self.mini_repeat_count


class AnswerLineStop(StoppingCriteria):
    """Ends a rollout once its ANSWER line names a handle and has ended
    (`backend.reasoner.answer_complete`, the test serving stops on): what follows is never scored,
    and a rollout that rambles on past its answer would reach the length limit and count as cut."""

    def __init__(self, tokenizer, prompt_width: int):
        self.tokenizer, self.prompt_width = tokenizer, prompt_width

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_width:],
                                            skip_special_tokens=True)
        return torch.tensor([answer_complete(t) for t in texts], dtype=torch.bool,
                            device=input_ids.device)


class ReRecGRPOTrainer(GRPOTrainer):
    """`GRPOTrainer` with RAAE token advantages and the online curriculum (see the module
    docstring).

    Args:
        reward (`ReRecReward`): the reward function (also passed in `reward_funcs`).
        raae (`RAAEConfig`): RAAE settings; `enabled=False` keeps TRL's advantages.
        curriculum (`Curriculum`): serves the cases.
        *args, **kwargs: as `GRPOTrainer`.
    """

    def __init__(self, *args, reward: ReRecReward, raae: RAAEConfig, curriculum: Curriculum,
                 half_rows: int = 0, stop_at_answer: bool = True, **kwargs):
        self.reward, self.raae, self.curriculum = reward, raae, curriculum
        self.stop_at_answer = stop_at_answer
        super().__init__(*args, reward_funcs=[reward], **kwargs)
        self.case_index = {cid: i for i, cid in enumerate(self.train_dataset["case_id"])}
        self.half = None  # fp16 weight copies for the rollouts' decode steps (CPU only)
        if half_rows > 0 and self.accelerator.device.type == "cpu" and not self.use_vllm:
            self.half = HalfLinears(self.accelerator.unwrap_model(self.model), half_rows)

    def _get_train_sampler(self, dataset=None) -> Sampler:
        return CurriculumSampler(self.curriculum, self.case_index, self.num_generations,
                                 self.args.generation_batch_size // self.num_generations,
                                 self.num_iterations * self.args.steps_per_generation)

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list) -> torch.Tensor:
        """TRL's reward step for the one ReRec reward. Each completion's breakdown is written on its
        own input row (`inputs[i][BREAKDOWN]`), which `_generate_and_score_completions` below hands
        on to the curriculum and RAAE; TRL gets the totals, gathered over processes as its own
        method gathers them.

        Returns:
            `torch.Tensor`: (B * processes, 1) rewards, one column per reward function.
        """
        with profiling_context(self, self.reward.__name__):
            breakdowns = self.reward.score(completions, [row["case_id"] for row in inputs],
                                           self._log_metric,
                                           [len(ids) for ids in completion_ids_list])
        for row, breakdown in zip(inputs, breakdowns, strict=True):
            row[BREAKDOWN] = breakdown
        totals = torch.tensor([[b.total] for b in breakdowns], dtype=torch.float32,
                              device=self.accelerator.device)
        return gather(totals)

    def _generate_single_turn(self, *args, **kwargs):
        """TRL's rollouts, with the LoRA adapter merged into the frozen base weights while they
        generate (the unmerged LoRA layers cost ~15% of every decoded token on a CPU,
        docs/results/grpo-profile.md) and each distinct prompt prefilled once for its G rollouts
        (`training.prefill`). The weights are unmerged again before the policy's forward and
        backward passes. With `half_rows`, the decode steps read fp16 copies of the merged weights,
        made afresh for each step's rollouts (`backend.half_decode`); the loss stays fp32. With
        `stop_at_answer` a rollout ends once its ANSWER line has (`AnswerLineStop`)."""
        if self.use_vllm:
            return super()._generate_single_turn(*args, **kwargs)
        model = self.accelerator.unwrap_model(self.model)
        stop = None
        # a stopped row is padded: TRL ends a completion at its first EOS, so the pad must be one
        if self.stop_at_answer and self.processing_class.pad_token_id in self.eos_token_ids:
            def stop(width: int) -> StoppingCriteriaList:
                return StoppingCriteriaList([AnswerLineStop(self.processing_class, width)])
        with merged_adapter(model), shared_prompt_prefill(model, stop):
            if self.half is not None:
                self.half.stale()  # the merged weights changed since the last rollouts
            try:
                return super()._generate_single_turn(*args, **kwargs)
            finally:
                if self.half is not None:
                    self.half.stale()  # unmerged next: these copies must not outlive the merge

    @profiling_decorator
    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep,
                                           batch_size=None, compute_entropy=False,
                                           compute_aux_loss=False, **fields):
        """TRL's per-token log-probs and entropies (the loss pass, and old or reference log-probs
        under `no_grad`), with each distinct prompt of a chunk of `batch_size` rows run once
        (`training.shared_logps`). TRL's own pass runs a chunk that cannot share, and the whole
        batch when an MoE loss or any multimodal field (`fields`: pixel values, image sizes...)
        is asked for.

        Returns:
            `tuple`: (B, K) log-probs, (B, K) entropies or `None`, and the aux loss (`None`).
        """
        plain = super()._get_per_token_logps_and_entropies
        if compute_aux_loss or any(value is not None for value in fields.values()):
            return plain(model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                         compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss,
                         **fields)
        size = batch_size or len(input_ids)
        logps, entropies = [], []
        for start in range(0, len(input_ids), size):
            ids, mask = input_ids[start:start + size], attention_mask[start:start + size]
            with self.accelerator.autocast():
                shared = shared_prompt_logps(model, ids, mask, logits_to_keep, compute_entropy)
            chunk = shared or plain(model, ids, mask, logits_to_keep,
                                    compute_entropy=compute_entropy)[:2]
            logps.append(chunk[0])
            entropies.append(chunk[1])
        return (torch.cat(logps), torch.cat(entropies) if compute_entropy else None, None)

    def _generate_and_score_completions(self, inputs):
        # calls _calculate_rewards(inputs, ...)
        output = super()._generate_and_score_completions(inputs)
        # this process's rows, in order
        records = [(row["case_id"], row.pop(BREAKDOWN)) for row in inputs]
        # evaluation rollouts neither teach the curriculum nor reach a loss
        if not self.model.training:
            return output
        self._observe(records)
        if self.raae.enabled:
            output["advantages"] = self._raae_advantages(output, records)
        return output

    def _observe(self, records) -> None:
        """Feed every process's rollouts' NDCG to the curriculum (each process keeps an identical
        copy)."""
        from accelerate.utils import gather_object

        ndcgs: dict[str, list[float]] = defaultdict(list)
        for cid, score in gather_object([(cid, b.ndcg) for cid, b in records]):
            ndcgs[cid].append(score)
        for cid, values in ndcgs.items():
            self.curriculum.observe(cid, values)
        for name, value in self.curriculum.stats().items():
            self._metrics["train"][f"curriculum/{name}"].append(float(value))

    def _raae_advantages(self, output: dict, records) -> torch.Tensor:
        """Token-level RAAE advantages (B, T) of this process's completions, normalised per group
        over every process's rows (moments are gathered, so a group split across devices is still
        exact)."""
        ids, mask = output["completion_ids"], output["completion_mask"]  # (B, T), (B, T)
        rows, penalised, steps = [], 0, 0
        for i, (cid, score) in enumerate(records):
            prompt, case = self.reward.prompts[cid], self.reward.cases[cid]
            tokens = ids[i][mask[i].bool()].tolist()
            text = self.processing_class.decode(tokens, skip_special_tokens=True)
            wrong = [h for h, item in prompt.handles.items()
                     if item["item_id"] in score.wrong_picks]

            def verifier(texts, prompt=prompt):
                checks = verify_steps(texts, prompt.handles, prompt.query_graph, prompt.preferences)
                return [c.verdict == "inconsistent" for c in checks]

            row, info = completion_token_rewards(text, tokens, self.processing_class, score.total,
                                                 wrong, self.raae,
                                                 ids.shape[1], verifier,
                                                 [s["text"] for s in case.step_labels])
            rows.append(row)
            penalised, steps = penalised + info["penalised"], steps + info["steps"]
        rewards = torch.stack(rows).to(mask.device)  # (B, T)
        moments = self.accelerator.gather(row_moments(rewards, mask))  # (B * processes, 3)
        mean, std = group_stats(moments, self.num_generations)
        local = slice(self.accelerator.process_index * len(rows),
                      (self.accelerator.process_index + 1) * len(rows))
        self._metrics["train"]["raae/penalised_steps"].append(penalised / max(steps, 1))
        self._metrics["train"]["raae/steps_per_completion"].append(steps / max(len(rows), 1))
        return token_advantages(rewards, mask, mean[local], std[local], self.raae.scale)

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            output_dir = Path(self._get_output_dir(trial=trial))
            folder = output_dir / f"checkpoint-{self.state.global_step}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / CURRICULUM_FILE).write_text(json.dumps(self.curriculum.state_dict()))


@contextmanager
def merged_adapter(model):
    """The LoRA adapter merged into the frozen weights for the block, unmerged after it (a model
    without an adapter is left as it is)."""
    if not hasattr(model, "merge_adapter"):
        yield model
        return
    with torch.no_grad():
        model.merge_adapter()
    try:
        yield model
    finally:
        with torch.no_grad():
            model.unmerge_adapter()


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest checkpoint that was written to the end. A process killed while saving leaves a
    `checkpoint-N` directory without its trainer state (written last by the Trainer, then our
    curriculum state); resuming from it would fail, so it is skipped and the one before is used."""
    complete = [p for p in checkpoints.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
                and (p / "trainer_state.json").is_file() and (p / CURRICULUM_FILE).is_file()]
    return str(max(complete, key=lambda p: int(p.name.split("-")[-1]))) if complete else None


def load_curriculum_state(checkpoint: str | os.PathLike, curriculum: Curriculum) -> bool:
    """Restore the curriculum saved with a checkpoint; False when the checkpoint has none."""
    path = Path(checkpoint) / CURRICULUM_FILE
    if not path.is_file():
        return False
    curriculum.load_state_dict(json.loads(path.read_text()))
    return True


# ----------------------------------------------------------------------------------------------
# The stage


def run(ctx) -> dict:
    """Run the GRPO stage of a training run.

    Args:
        ctx (`training.train.StageContext`): config, run directory, cases, world, the adapter of the
            previous stage (trained further when set, else a fresh LoRA adapter), resume flag.

    Returns:
        `dict`: `adapter` (the final adapter directory), `steps`, `cases`, `seconds`.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config, out = ctx.config, ctx.run_dir / "grpo"
    cases = [c for c in ctx.cases if c.relevance]  # nothing to rank when nothing fits
    prompts = ctx.prompts_for(cases)
    curriculum = Curriculum([c.case_id for c in cases], config.curriculum.tau,
                            config.curriculum.prior, config.seed, config.curriculum.enabled)
    weights = RewardWeights(**{k: v for k, v in vars(config.reward).items()
                               if k in RewardWeights.__dataclass_fields__})
    reward = ReRecReward({c.case_id: c for c in cases}, prompts, weights,
                         CollaborativeEmbedding(ctx.bundle.interactions, config.reward.pas_factors),
                         ctx.rechead, config.grpo.max_completion_length,
                         config.reward.overlong_buffer)
    dataset = case_dataset(cases, prompts)

    tokenizer = AutoTokenizer.from_pretrained(ctx.base_model)
    model = AutoModelForCausalLM.from_pretrained(ctx.base_model, dtype=torch.float32)
    peft_config = None
    if ctx.adapter is not None:  # an earlier stage's adapter (e.g. SFT) is trained further
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(ctx.adapter), is_trainable=True)
    else:
        peft_config = lora_config(config)
    checkpoints = out / "checkpoints"
    trainer = ReRecGRPOTrainer(model=model, args=grpo_args(config, checkpoints, ctx.progress),
                               train_dataset=dataset,
                               processing_class=tokenizer, peft_config=peft_config,
                               callbacks=ctx.callbacks(curriculum),
                               reward=reward, raae=config.raae, curriculum=curriculum,
                               half_rows=HALF_DECODE_ROWS if config.model.half_rollouts else 0,
                               stop_at_answer=config.grpo.stop_at_answer)
    resume_from = None
    if ctx.resume and checkpoints.is_dir():
        resume_from = last_complete_checkpoint(checkpoints)
        if resume_from and not load_curriculum_state(resume_from, curriculum):
            print(f"warning: {resume_from} has no curriculum state; the curriculum starts afresh")
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    adapter = out / "adapter"
    trainer.save_model(str(adapter))
    return {"adapter": adapter, "steps": trainer.state.global_step, "cases": len(cases),
            "seconds": round(time.perf_counter() - started, 1), "resumed_from": resume_from,
            "curriculum": curriculum.stats()}


def case_dataset(cases: list[TrainingCase], prompts: dict[str, CasePrompt]):
    """The trainer's dataset: one row per case, its prompt messages and its `case_id`."""
    from datasets import Dataset

    return Dataset.from_list([{"prompt": prompts[c.case_id].messages, "case_id": c.case_id}
                              for c in cases])


def lora_config(config):
    """The PEFT LoRA config of a training config."""
    from peft import LoraConfig

    return LoraConfig(r=config.lora.r, lora_alpha=config.lora.alpha,
                      lora_dropout=config.lora.dropout,
                      target_modules=list(config.lora.target_modules), task_type="CAUSAL_LM")


def grpo_args(config, output_dir: Path, progress: bool = True):
    """TRL's `GRPOConfig` from a training config (bf16 only when asked: CPUs without it emulate it
    13x slower)."""
    from trl import GRPOConfig

    g = config.grpo
    return GRPOConfig(
        output_dir=str(output_dir), seed=config.seed, max_steps=g.max_steps,
        per_device_train_batch_size=g.prompts_per_step * g.num_generations,
                      num_generations=g.num_generations,
        gradient_accumulation_steps=g.gradient_accumulation_steps,
                      max_completion_length=g.max_completion_length,
        learning_rate=g.learning_rate, lr_scheduler_type=g.lr_scheduler_type,
                      warmup_steps=g.warmup_steps,
        max_grad_norm=g.max_grad_norm, temperature=g.temperature, top_p=g.top_p, beta=g.beta,
                      epsilon=g.epsilon,
        epsilon_high=g.epsilon_high, loss_type=g.loss_type, scale_rewards=g.scale_rewards,
        num_iterations=g.num_iterations, bf16=config.model.bf16, fp16=False,
        gradient_checkpointing=config.model.gradient_checkpointing, use_vllm=g.use_vllm,
                      vllm_mode=g.vllm_mode,
        vllm_gpu_memory_utilization=g.vllm_gpu_memory_utilization, logging_steps=1,
                      save_strategy="steps",
        save_steps=g.save_steps, save_total_limit=g.save_total_limit, report_to=[],
                      disable_tqdm=not progress,
        # the curriculum state says where we were
        log_completions=g.log_completions, ignore_data_skip=True,
        remove_unused_columns=False, dataloader_num_workers=0,
    )
