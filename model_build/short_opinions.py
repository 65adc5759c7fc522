"""Self-contained short opinions, generated, with the label their construction gives them.

Pieces of reviews (`model_build.short_text.crops`) carry their review's label, which a piece's
own words often contradict ("the first hour was dull" in a positive review): calibrated on them
alone, the model learns to doubt every short text, also the self-contained opinions that users
send ("The delivery was quick."). These examples say one thing each, so their label is certain:
a subject of everyday life (a meal, a hotel, a phone, an app, a film...) with a word of clear
sentiment, plain, intensified, negated ("The room was not clean." is negative, "The staff
weren't unfriendly at all." positive) or in contrast ("Looks nice, but it broke in a week.":
the clause after *but* decides). The calibration fit reads them besides the validation reviews
and their crops, and so does the lexicon weight.

They are written here from word lists and templates, seeded; no item comes from the IMDB data
or from any data set, and none from the evaluation sets of `python -m benchmarks.quality`, which
nothing in `model_build/` reads (a test checks that no generated text is one of theirs).
Torch-free; the same seed gives the same examples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NEGATIVE, POSITIVE = 0, 1

# (subject, whether it is plural): "the fries were", "the app was"
SUBJECTS: tuple[tuple[str, bool], ...] = (
    ("the food", False), ("the service", False), ("the hotel", False), ("our room", False),
    ("this phone", False), ("the battery", False), ("the app", False), ("the latest update", False),
    ("the film", False), ("the plot", False), ("the acting", False), ("this book", False),
    ("the final chapter", False), ("the staff", True), ("the delivery", False), ("the price", False),
    ("the game", False), ("the show", False), ("the album", False), ("the concert", False),
    ("the seller", False), ("this vacuum", False), ("the headphones", True), ("the coffee", False),
    ("the flight", False), ("the course", False), ("the software", False), ("the car", False),
    ("these shoes", True), ("the support team", False), ("the restaurant", False),
    ("the sound quality", False), ("the screen", False), ("the instructions", True),
    ("the packaging", False), ("the checkout", False), ("the tour", False), ("the pizza", False),
    ("the sequel", False), ("the soundtrack", False), ("the camera", False), ("the mattress", False),
    ("the waiter", False), ("the guide", False), ("the website", False), ("the charger", False),
    ("the fries", True), ("the seats", True), ("the rental", False), ("the gym", False),
    ("the dentist", False), ("the keyboard", False), ("the lesson", False), ("the jacket", False),
    ("the printer", False), ("the pasta", False), ("the series", False), ("the podcast", False),
    ("the speaker", False), ("the cafe", False), ("the salon", False), ("the novel", False),
    ("the laptop", False), ("the beds", True), ("the drivers", True), ("the installation", False),
)  # fmt: skip

# words of clear sentiment that describe a subject ("the X was ___")
POSITIVE_WORDS: tuple[str, ...] = (
    "good", "great", "excellent", "amazing", "wonderful", "fantastic", "lovely", "delicious",
    "comfortable", "helpful", "friendly", "quick", "reliable", "beautiful", "brilliant",
    "impressive", "enjoyable", "perfect", "solid", "pleasant", "superb", "outstanding", "awesome",
    "fun", "clean", "charming", "satisfying", "smooth", "nice", "tasty", "gorgeous", "useful",
    "responsive", "sturdy", "flawless", "terrific", "fabulous", "delightful", "spotless", "polite",
    "generous", "gripping", "stunning", "cozy", "fresh", "efficient", "intuitive", "worth every penny",
)  # fmt: skip
NEGATIVE_WORDS: tuple[str, ...] = (
    "bad", "terrible", "awful", "horrible", "disappointing", "boring", "slow", "rude", "broken",
    "dirty", "useless", "annoying", "poor", "mediocre", "bland", "overpriced", "uncomfortable",
    "unreliable", "buggy", "confusing", "frustrating", "ugly", "noisy", "stale", "flimsy", "dull",
    "painful", "unbearable", "pathetic", "lousy", "sloppy", "weak", "unhelpful", "disgusting",
    "cramped", "greasy", "tedious", "clunky", "faulty", "filthy", "soggy", "laggy", "dreadful",
    "a waste of money", "a letdown", "a nightmare", "a mess", "a disaster",
)  # fmt: skip
# what a person did about a subject ({} is the subject), with its sentiment
POSITIVE_VERBS: tuple[str, ...] = (
    "I loved {}.", "I really enjoyed {}.", "I liked {}.", "I adored {}.", "I appreciated {}.",
    "I recommend {}.", "I would buy {} again.", "Can't wait to try {} again.", "{} made my day.",
)  # fmt: skip
NEGATIVE_VERBS: tuple[str, ...] = (
    "I hated {}.", "I disliked {}.", "I regret paying for {}.", "I returned {}.", "I gave up on {}.",
    "I couldn't stand {}.", "I want a refund for {}.", "{} ruined my day.", "Never again, {} was a joke.",
)  # fmt: skip
# words of emphasis before a describing word
INTENSIFIERS: tuple[str, ...] = ("really", "very", "so", "extremely", "incredibly", "quite", "super", "truly")
# verbs whose negation is a positive verb's opposite ("didn't like") and the reverse
NEGATABLE_POSITIVE_VERBS: tuple[str, ...] = ("like", "love", "enjoy", "recommend", "trust")
NEGATABLE_NEGATIVE_VERBS: tuple[str, ...] = ("hate", "regret", "mind", "dislike")
CONTRAST_WORDS: tuple[str, ...] = ("but", "but honestly", "however,", "though", "yet")


@dataclass
class ShortOpinions:
    texts: list[str]
    labels: np.ndarray  # int64, NEGATIVE or POSITIVE
    kinds: list[str]  # plain, intensified, verb, negated, negated_verb, contrast

    def __len__(self) -> int:
        return len(self.texts)


def short_opinions(count: int, *, seed: int) -> ShortOpinions:
    """``count`` distinct generated opinions, about half positive and half negative, of every kind."""
    rng = np.random.default_rng(seed)
    makers = (_plain, _intensified, _verb, _negated, _negated_verb, _contrast)
    seen: set[str] = set()
    texts: list[str] = []
    labels: list[int] = []
    kinds: list[str] = []
    attempts = 0
    while len(texts) < count and attempts < 50 * count:
        attempts += 1
        maker = makers[int(rng.integers(len(makers)))]
        label = int(rng.integers(2))
        text = _styled(maker(rng, label), rng)
        if text.lower() in seen:
            continue
        seen.add(text.lower())
        texts.append(text)
        labels.append(label)
        kinds.append(maker.__name__.lstrip("_"))
    return ShortOpinions(texts, np.asarray(labels, dtype=np.int64), kinds)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _subject(rng: np.random.Generator) -> tuple[str, bool]:
    return SUBJECTS[int(rng.integers(len(SUBJECTS)))]


def _words(label: int) -> tuple[str, ...]:
    return POSITIVE_WORDS if label == POSITIVE else NEGATIVE_WORDS


def _be(plural: bool, rng: np.random.Generator) -> str:
    past = rng.random() < 0.6
    return ("were" if past else "are") if plural else ("was" if past else "is")


def _clause(rng: np.random.Generator, label: int) -> str:
    subject, plural = _subject(rng)
    return f"{subject} {_be(plural, rng)} {_pick(rng, _words(label))}"


def _plain(rng: np.random.Generator, label: int) -> str:
    word = _pick(rng, _words(label))
    form = int(rng.integers(4))
    if form == 0:
        return _clause(rng, label) + "."
    if form == 1 and " " not in word:
        return f"{word} {_subject(rng)[0].split(' ', 1)[1]}."  # "great headphones."
    if form == 2:
        return f"I found {_subject(rng)[0]} {word}."
    return f"honestly, {_clause(rng, label)}."


def _intensified(rng: np.random.Generator, label: int) -> str:
    subject, plural = _subject(rng)
    word = _pick(rng, tuple(w for w in _words(label) if " " not in w))
    ending = "!" if rng.random() < 0.5 else "."
    return f"{subject} {_be(plural, rng)} {_pick(rng, INTENSIFIERS)} {word}{ending}"


def _verb(rng: np.random.Generator, label: int) -> str:
    return _pick(rng, POSITIVE_VERBS if label == POSITIVE else NEGATIVE_VERBS).format(_subject(rng)[0])


def _negated(rng: np.random.Generator, label: int) -> str:
    """A describing word of the other sentiment, negated: "not clean" is negative."""
    subject, plural = _subject(rng)
    words = _words(1 - label)
    if rng.random() < 0.8:  # mostly a describing word; sometimes "not a mess"
        words = tuple(word for word in words if not word.startswith("a "))
    word = _pick(rng, words)
    be = _be(plural, rng)
    form = int(rng.integers(6))
    if form == 0:
        return f"{subject} {be} not {word}."
    if form == 1:
        return f"{subject} {be}n't {word} at all."
    if form == 2:
        return f"I don't think {subject} {be} {word}."
    if form == 3:
        return f"{subject} {be} never {word}."
    if form == 4:
        return f"{subject} {be} not {word} in the slightest."
    return f"nothing about {subject} {'was' if be in ('was', 'were') else 'is'} {word}."


def _negated_verb(rng: np.random.Generator, label: int) -> str:
    """A verb of the other sentiment, negated: "I didn't enjoy it" is negative."""
    subject = _subject(rng)[0]
    verb = _pick(rng, NEGATABLE_NEGATIVE_VERBS if label == POSITIVE else NEGATABLE_POSITIVE_VERBS)
    auxiliary = _pick(rng, ("didn't", "don't", "did not", "wouldn't", "won't"))
    if verb == "mind":
        return f"I {auxiliary} mind {subject} at all."
    return f"I {auxiliary} {verb} {subject}."


def _contrast(rng: np.random.Generator, label: int) -> str:
    """Two clauses of opposite sentiment; the second decides."""
    first, second = _clause(rng, 1 - label), _clause(rng, label)
    if rng.random() < 0.25:
        return f"although {first}, {second}."
    return f"{first}, {_pick(rng, CONTRAST_WORDS)} {second}."


def _styled(text: str, rng: np.random.Generator) -> str:
    """Casing and apostrophes as people type them: mostly a capital first letter, sometimes all
    lower case, sometimes without apostrophes."""
    roll = rng.random()
    if roll < 0.7:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.15:
        text = text.replace("'", "")
    return text
