"""About 100 instruction-following probes whose compliance a few lines of code can check.

Each probe is a prompt and a checker `check(response) -> bool`. The prompts combine ten topics with
the kinds of instruction IFEval checks (length in words or sentences, JSON with given keys, a list
of N items, a language, a word to include or leave out, case, punctuation, how to start or end), so
a model that loses instruction following after fine-tuning shows it here. Written by the team.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

TOPICS = ("the ocean", "coffee", "a leather handbag", "autumn in Paris", "bicycles", "the moon",
          "public libraries", "silk scarves", "mountain hiking", "rainy days")
# The commonest function words of each language, to tell which one a text is written in.
FUNCTION_WORDS = {
    "english": {"the", "and", "is", "of", "to", "in", "it", "a", "that", "with", "for", "on", "are",
                "this"},
    "french": {"le", "la", "les", "et", "est", "de", "des", "un", "une", "du", "en", "que", "pour",
               "dans", "avec", "il", "elle", "sur", "au", "qui"},
    "spanish": {"el", "la", "los", "las", "y", "es", "de", "del", "un", "una", "en", "que", "para",
                "con", "por", "se", "muy", "al", "su"},
    "german": {"der", "die", "das", "und", "ist", "ein", "eine", "nicht", "mit", "für", "auf",
               "den", "dem", "zu", "sich", "es", "im", "von"},
}


@dataclass(frozen=True)
class InstructionProbe:
    probe_id: str
    kind: str
    prompt: str
    check: Callable[[str], bool]


def words(text: str) -> list[str]:
    return re.findall(r"[\w'’-]+", text)


def sentences(text: str) -> list[str]:
    """Sentences split after . ! ? (a trailing fragment without a stop counts as one)."""
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if words(s)]


def list_lines(text: str, marker: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(marker, line.strip())]


def strip_fences(text: str) -> str:
    """The text inside a ```json ... ``` block, or the text itself."""
    match = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    return (match.group(1) if match else text).strip()


def json_with_keys(keys: tuple[str, ...]) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            value = json.loads(strip_fences(text))
        except ValueError:
            return False
        return isinstance(value, dict) and set(keys) <= set(value)
    return check


def language_is(language: str) -> Callable[[str], bool]:
    """Most function words of the text belong to `language` (and at least 3 of them occur)."""
    def check(text: str) -> bool:
        tokens = [w.lower() for w in words(text)]
        counts = {lang: sum(t in vocab for t in tokens) for lang, vocab in FUNCTION_WORDS.items()}
        return counts[language] >= 3 and counts[language] == max(counts.values())
    return check


def kinds() -> dict[str,
                    tuple[str, Callable[[int], Callable[[str], bool]], Callable[[int], object]]]:
    """kind -> (prompt template with {topic} and {n}, checker factory taking n, n for the i-th
    topic)."""
    return {
        "max_words": ("Describe {topic} in at most {n} words.",
                      lambda n: lambda t: 0 < len(words(t)) <= n, lambda i: 10 + 2 * i),
        "sentences": ("Write exactly {n} sentences about {topic}.",
                      lambda n: lambda t: len(sentences(t)) == n, lambda i: 2 + i % 3),
        "json": ("Return only a JSON object about {topic} with the keys \"name\" and \"{n}\". No "
                 "other text.",
                 lambda n: json_with_keys(("name", n)),
                 lambda i: ("colour", "price", "origin", "season", "material", "size", "mood",
                            "age", "place", "rating")[i]),
        "numbered_list": ("List exactly {n} facts about {topic} as a numbered list (1., 2., ...), "
                          "one per line, and nothing else.",
                          lambda n: lambda t: len(list_lines(t, r"^\d+[.)]\s+\S")) == n,
                          lambda i: 3 + i % 3),
        "bullets": ("Give exactly {n} bullet points about {topic}. Start each line with '- '.",
                    lambda n: lambda t: len(list_lines(t, r"^[-*•]\s+\S")) == n,
                    lambda i: 2 + i % 4),
        "language": ("Write two sentences about {topic} in {n}. Use only {n}.",
                     lambda n: language_is(n.lower()),
                     lambda i: ("French", "Spanish", "German")[i % 3]),
        "include": ("Write one sentence about {topic} that uses the word \"{n}\".",
                    lambda n: lambda t: re.search(rf"\b{n}\b", t, re.I) is not None,
                    lambda i: ("gentle", "golden", "quiet", "bright", "ancient", "simple", "warm",
                               "silver", "fresh", "calm")[i]),
        "exclude": ("Write two sentences about {topic} without ever using the word \"{n}\".",
                    lambda n: lambda t: bool(words(t)) and re.search(rf"\b{n}\b", t, re.I) is None,
                    lambda i: ("the", "is", "and", "a", "of", "the", "is", "and", "a", "of")[i]),
        "lowercase": ("Write a short sentence about {topic} using only lowercase letters, no "
                      "capitals at all.{n}",
                      lambda n: lambda t: bool(re.search(r"[a-z]", t)) and t == t.lower(),
                      lambda i: ""),
        "uppercase": ("WRITE ONE SHORT SENTENCE ABOUT {topic} IN CAPITAL LETTERS ONLY.{n}",
                      lambda n: lambda t: bool(re.search(r"[A-Z]", t)) and t == t.upper(),
                      lambda i: ""),
    }


def build_probes() -> list[InstructionProbe]:
    """Every instruction probe: each kind of instruction on each topic (10 x 10)."""
    probes = []
    for kind, (template, factory, parameter) in kinds().items():
        for i, topic in enumerate(TOPICS):
            n = parameter(i)
            probes.append(InstructionProbe(f"if-{kind}-{i}", kind,
                                           template.format(topic=topic, n=n), factory(n)))
    return probes


INSTRUCTION_PROBES = build_probes()
