"""Capability probes: ~100 instruction-following prompts with checkers and ~100 general-knowledge
questions with normalised exact-match answers, and `score_probes(model)`."""

from training.probes.instructions import INSTRUCTION_PROBES
from training.probes.knowledge import KNOWLEDGE_PROBES
from training.probes.runner import add_probe_arguments, load_probe_model, main_probes, score_probes

__all__ = ["INSTRUCTION_PROBES", "KNOWLEDGE_PROBES", "add_probe_arguments", "load_probe_model",
           "main_probes", "score_probes"]
