"""Capability probes: the checkers, the answer normalisation and the scoring, with fake models."""

from types import SimpleNamespace

import pytest

from catalog.errors import ConciergeError
from training.probes import INSTRUCTION_PROBES, KNOWLEDGE_PROBES, load_probe_model, score_probes
from training.probes.knowledge import is_contained, is_exact, normalise

PROBES = {p.probe_id: p for p in INSTRUCTION_PROBES}


def test_there_are_about_a_hundred_of_each_with_unique_ids():
    assert len(INSTRUCTION_PROBES) == 100 and len(KNOWLEDGE_PROBES) == 100
    assert len({p.probe_id for p in INSTRUCTION_PROBES}) == 100
    assert len({p.prompt for p in INSTRUCTION_PROBES}) == 100
    assert len({p.question for p in KNOWLEDGE_PROBES}) == 100


@pytest.mark.parametrize("probe_id, good, bad", [
    ("if-max_words-0", "Vast, blue and deep.", "The ocean is vast and blue and deep and full of life everywhere."),
    ("if-sentences-0", "The sea is vast. It is blue.", "The sea is vast. It is blue. It is deep."),
    ("if-json-0", '```json\n{"name": "Atlantic", "colour": "blue"}\n```', '{"name": "Atlantic"}'),
    ("if-numbered_list-0", "1. Salty\n2. Deep\n3. Old", "1. Salty\n2. Deep"),
    ("if-bullets-0", "- Salty\n- Deep", "* Salty\n- Deep\n- Old"),
    ("if-language-0", "La mer est grande et le ciel est bleu. Elle est belle.", "The sea is big and the sky is blue."),
    ("if-language-1", "El café es muy bueno y la leche es blanca.", "Le café est bon et la crème est blanche."),
    ("if-include-0", "A gentle tide rolls in.", "A soft tide rolls in."),
    ("if-exclude-0", "Oceans cover most of Earth. They hold life.", "The ocean is deep."),
    ("if-lowercase-0", "the sea is calm today.", "The sea is calm today."),
    ("if-uppercase-0", "THE SEA IS CALM.", "THE SEA is calm."),
])
def test_each_kind_of_checker_passes_compliance_and_fails_a_slip(probe_id, good, bad):
    probe = PROBES[probe_id]
    assert probe.check(good), probe.prompt
    assert not probe.check(bad), probe.prompt


def test_normalise_and_exact_match():
    assert normalise("  The Pacific Ocean! ") == "pacific ocean"
    assert normalise("Eight") == "8"
    assert normalise("Zürich") == "zurich"
    capital = next(p for p in KNOWLEDGE_PROBES if p.question == "What is the capital of France?")
    assert is_exact("Paris.", capital) and is_exact("Answer: paris\nIt is a city.", capital)
    assert not is_exact("The capital of France is Paris.", capital)
    assert is_contained("The capital of France is Paris.", capital)
    assert not is_contained("Parisian food is good", capital)


class Oracle:
    """Answers every knowledge question right and complies with nothing."""

    def __init__(self, right: bool):
        self.answers = {p.question: p.answers[0] for p in KNOWLEDGE_PROBES}
        self.right = right

    def invoke(self, messages):
        question = messages[-1].content
        text = self.answers.get(question, "") if self.right else "I am not sure."
        return SimpleNamespace(content=text)


def test_score_probes_separates_a_knowing_model_from_an_ignorant_one():
    good = score_probes(Oracle(True), progress=False)
    bad = score_probes(Oracle(False), progress=False)
    assert good["knowledge_exact"] == pytest.approx(1.0) and good["knowledge_contains"] == pytest.approx(1.0)
    assert bad["knowledge_exact"] == 0.0
    assert good["n_instruction"] == 100 and good["n_knowledge"] == 100
    assert good["instruction_following"] < 0.2  # an empty answer complies with almost nothing
    assert set(good["instruction_by_kind"]) == {p.kind for p in INSTRUCTION_PROBES}
    limited = score_probes(Oracle(True), limit=5, progress=False)
    assert limited["n_instruction"] == 5 and limited["n_knowledge"] == 5


def test_a_model_spec_that_is_nothing_raises(tmp_path):
    with pytest.raises(ConciergeError, match="neither"):
        load_probe_model(str(tmp_path))
