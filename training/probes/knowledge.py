"""About 100 short general-knowledge questions with normalised exact-match answers.

Each question has one or more accepted answers. A response is normalised (lower case, accents and
punctuation removed, articles dropped, number words 0-20 as digits) and counts as exact when its
first line equals an accepted answer, and as contained when an accepted answer appears in it as
whole words (a lenient second score for small, chatty models). Written by the team; facts chosen to
be stable and unambiguous.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}

QA = (
    # capitals
    ("What is the capital of France?", "Paris"),
    ("What is the capital of Italy?", "Rome"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What is the capital of Spain?", "Madrid"),
    ("What is the capital of Germany?", "Berlin"),
    ("What is the capital of Canada?", "Ottawa"),
    ("What is the capital of Australia?", "Canberra"),
    ("What is the capital of Egypt?", "Cairo"),
    ("What is the capital of Russia?", "Moscow"),
    ("What is the capital of Portugal?", "Lisbon"),
    ("What is the capital of Greece?", "Athens"),
    ("What is the capital of Norway?", "Oslo"),
    ("What is the capital of Kenya?", "Nairobi"),
    ("What is the capital of Argentina?", "Buenos Aires"),
    ("What is the capital of South Korea?", "Seoul"),
    ("What is the capital of Ireland?", "Dublin"),
    ("What is the capital of Austria?", "Vienna|Wien"),
    ("What is the capital of Peru?", "Lima"),
    ("What is the capital of Thailand?", "Bangkok"),
    ("What is the capital of Switzerland?", "Bern|Berne"),
    # science
    ("What is the chemical symbol for gold?", "Au"),
    ("What is the chemical symbol for iron?", "Fe"),
    ("What is the chemical symbol for sodium?", "Na"),
    ("What is the chemical symbol for oxygen?", "O"),
    ("What is the chemical formula of water?", "H2O"),
    ("Which gas do plants absorb from the air for photosynthesis?", "carbon dioxide|CO2"),
    ("Which planet is closest to the Sun?", "Mercury"),
    ("Which planet is the largest in the Solar System?", "Jupiter"),
    ("Which planet is known as the Red Planet?", "Mars"),
    ("How many planets are in the Solar System?", "8"),
    ("What is the boiling point of water at sea level in degrees Celsius?",
     "100|100 degrees|100 °C|100 c"),
    ("What is the freezing point of water in degrees Celsius?", "0|0 degrees|0 °C|0 c"),
    ("What is the hardest natural substance?", "diamond"),
    ("What part of the cell contains most of its DNA?", "nucleus|the nucleus"),
    ("What force keeps the planets in orbit around the Sun?", "gravity|gravitation"),
    ("What is the nearest star to Earth?", "Sun|the Sun"),
    ("How many bones are in the adult human body?", "206"),
    ("What organ pumps blood through the human body?", "heart"),
    ("What is the largest organ of the human body?", "skin"),
    ("Which vitamin does the skin make in sunlight?", "vitamin D|D"),
    # geography
    ("What is the largest ocean on Earth?", "Pacific|Pacific Ocean"),
    ("What is the longest river in South America?", "Amazon|Amazon River"),
    ("On which continent is the Sahara desert?", "Africa"),
    ("What is the highest mountain on Earth?", "Mount Everest|Everest"),
    ("Which country has the largest population in South America?", "Brazil"),
    ("Which country is shaped like a boot?", "Italy"),
    ("In which country are the pyramids of Giza?", "Egypt"),
    ("Which city is known as the Big Apple?", "New York|New York City|NYC"),
    ("What is the largest country by area?", "Russia"),
    ("How many continents are there?", "7"),
    ("Which ocean lies between Europe and North America?", "Atlantic|Atlantic Ocean"),
    ("In which city is the Eiffel Tower?", "Paris"),
    ("In which city is the Colosseum?", "Rome"),
    ("Which river flows through London?", "Thames|River Thames"),
    ("What is the smallest continent?", "Australia|Oceania"),
    # literature, arts, history
    ("Who wrote Romeo and Juliet?", "William Shakespeare|Shakespeare"),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci|da Vinci|Leonardo"),
    ("Who wrote Pride and Prejudice?", "Jane Austen|Austen"),
    ("Who wrote the novel 1984?", "George Orwell|Orwell"),
    ("Who composed the Fifth Symphony that begins with four famous notes, da-da-da-dum?",
     "Beethoven|Ludwig van Beethoven"),
    ("Who painted The Starry Night?", "Vincent van Gogh|van Gogh"),
    ("Who wrote Don Quixote?", "Miguel de Cervantes|Cervantes"),
    ("Who wrote The Odyssey?", "Homer"),
    ("In which year did World War II end?", "1945"),
    ("In which year did humans first land on the Moon?", "1969"),
    ("Who was the first person to walk on the Moon?", "Neil Armstrong|Armstrong"),
    ("Who was the first President of the United States?", "George Washington|Washington"),
    ("In which year did the Berlin Wall fall?", "1989"),
    ("Which ancient civilisation built Machu Picchu?", "Inca|Incas|the Inca|Inca Empire"),
    ("Who developed the theory of relativity?", "Albert Einstein|Einstein"),
    ("Who proposed the theory of evolution by natural selection?", "Charles Darwin|Darwin"),
    ("Who invented the telephone?", "Alexander Graham Bell|Graham Bell|Bell"),
    ("Who discovered penicillin?", "Alexander Fleming|Fleming"),
    ("Which language has the most native speakers in Brazil?", "Portuguese"),
    ("What language is mainly spoken in Mexico?", "Spanish"),
    # numbers and everyday facts
    ("How many legs does a spider have?", "8"),
    ("How many days are in a leap year?", "366"),
    ("How many minutes are in an hour?", "60"),
    ("How many sides does a hexagon have?", "6"),
    ("How many hours are in a day?", "24"),
    ("What is 7 times 8?", "56"),
    ("What is 12 plus 15?", "27"),
    ("What is the square root of 81?", "9"),
    ("How many months have 31 days?", "7"),
    ("How many players are on the field for one football (soccer) team?", "11"),
    ("How many strings does a standard guitar have?", "6"),
    ("How many weeks are in a year?", "52"),
    ("What colour do you get by mixing blue and yellow?", "green"),
    ("What colour do you get by mixing red and white?", "pink"),
    # animals and nature
    ("What is the largest mammal?", "blue whale|the blue whale"),
    ("What is the fastest land animal?", "cheetah|the cheetah"),
    ("What do bees make?", "honey"),
    ("Which animal is known as the king of the jungle?", "lion|the lion"),
    ("What is a baby cat called?", "kitten"),
    ("What is a baby dog called?", "puppy"),
    ("Which bird is a symbol of peace?", "dove|the dove"),
    ("What do caterpillars turn into?", "butterflies|butterfly|moths|moth|butterflies or moths"),
    ("Which fibre do silkworms produce?", "silk"),
    ("Which tree do acorns grow on?", "oak|oak tree"),
    ("What is the main ingredient of guacamole?", "avocado|avocados"),
)


@dataclass(frozen=True)
class KnowledgeProbe:
    probe_id: str
    question: str
    answers: tuple[str, ...]


def normalise(text: str) -> str:
    """Lower case, accents and punctuation removed, articles dropped, number words as digits."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^\w\s]", " ", text)
    tokens = [NUMBER_WORDS.get(t, t) for t in text.split() if t not in ("a", "an", "the")]
    return " ".join(tokens)


def first_answer(response: str) -> str:
    """The first non-empty line, without a leading 'Answer:' label."""
    line = next((line for line in response.splitlines() if line.strip()), "")
    return re.sub(r"(?i)^\s*(final\s+)?answer\s*[:\-]\s*", "", line)


def is_exact(response: str, probe: KnowledgeProbe) -> bool:
    return normalise(first_answer(response)) in {normalise(a) for a in probe.answers}


def is_contained(response: str, probe: KnowledgeProbe) -> bool:
    said = f" {normalise(response)} "
    return any(f" {normalise(a)} " in said for a in probe.answers)


KNOWLEDGE_PROBES = [KnowledgeProbe(f"kn-{i:03d}", question, tuple(answers.split("|")))
                    for i, (question, answers) in enumerate(QA)]
