"""Varied English sentences from templates and word lists, for the procedural corpus.

Speech in the corpus has to vary in length, rhythm and intonation (statements, questions,
exclamations, lists) so that the gestures driven by it vary too; a fixed reading list would
repeat after a few minutes. Everything is drawn from a ``numpy`` generator, so a seed fixes the
text.
"""

from __future__ import annotations

import numpy as np

SUBJECTS = [
    "I", "we", "you", "they", "my brother", "our team", "the teacher", "most people", "my friend",
    "the manager", "everyone here", "the old neighbour", "a good engineer", "the children",
    "my grandmother", "the new student", "the whole family", "nobody", "the doctor", "the pilot",
]
VERBS = [
    "really like", "never understood", "always wanted", "finally found", "talked about",
    "forgot", "remember", "wrote about", "built", "painted", "cooked", "cleaned", "fixed",
    "explained", "carried", "ordered", "described", "changed", "measured", "sold",
]
OBJECTS = [
    "the little house by the river", "a very strange story", "that old bicycle", "the final answer",
    "the whole plan", "a cup of coffee", "the garden", "this small problem", "the blue car",
    "a letter to the mayor", "the evening news", "the map of the city", "a new song",
    "the broken window", "every single detail", "the summer holiday", "a huge mountain of paper",
    "the kitchen table", "the main idea", "an interesting book about ships",
]
TIMES = [
    "yesterday", "last week", "this morning", "every summer", "a long time ago", "right now",
    "after dinner", "on Sunday", "in the end", "at the very beginning", "twice a year",
    "before the meeting", "during the storm", "later tonight", "in two thousand and ten",
]
ADJECTIVES = [
    "wonderful", "terrible", "important", "ridiculous", "beautiful", "difficult", "simple",
    "amazing", "boring", "surprising", "strange", "perfect", "enormous", "tiny", "fantastic",
]
OPINIONS = [
    "I think", "honestly", "to be fair", "you know", "in my opinion", "well", "believe me",
    "of course", "actually", "frankly", "as far as I can tell", "so",
]
QUESTION_WORDS = ["why", "how", "when", "where"]
BASE_VERBS = ["like", "build", "paint", "fix", "explain", "carry", "describe", "change", "remember", "sell", "find"]
NOUNS = [
    "apples", "trains", "ideas", "people", "numbers", "mountains", "stories", "questions",
    "rivers", "machines", "colours", "songs", "friends", "cities", "rules",
]


def _pick(rng: np.random.Generator, words: list[str]) -> str:
    return words[int(rng.integers(len(words)))]


def _statement(rng):
    s = f"{_pick(rng, SUBJECTS)} {_pick(rng, VERBS)} {_pick(rng, OBJECTS)}"
    if rng.random() < 0.5:
        s += f" {_pick(rng, TIMES)}"
    if rng.random() < 0.4:
        s = f"{_pick(rng, OPINIONS)}, {s}"
    return s + "."


def _question(rng):
    if rng.random() < 0.5:
        return f"{_pick(rng, QUESTION_WORDS)} did {_pick(rng, SUBJECTS)} {_pick(rng, BASE_VERBS)} {_pick(rng, OBJECTS)}?"
    return f"do you really think that {_pick(rng, OBJECTS)} is {_pick(rng, ADJECTIVES)}?"


def _exclamation(rng):
    return f"that was absolutely {_pick(rng, ADJECTIVES)}!"


def _list(rng):
    items = [_pick(rng, NOUNS) for _ in range(int(rng.integers(3, 5)))]
    return f"there were {', '.join(items[:-1])} and {items[-1]}."


def _contrast(rng):
    return (
        f"it was not {_pick(rng, ADJECTIVES)}, it was {_pick(rng, ADJECTIVES)}, "
        f"and {_pick(rng, SUBJECTS)} {_pick(rng, VERBS)} it."
    )


_KINDS = [(_statement, 0.45), (_question, 0.2), (_exclamation, 0.1), (_list, 0.12), (_contrast, 0.13)]


def sentence(rng: np.random.Generator) -> str:
    """One sentence, capitalised, ending in . ? or !"""
    funcs, weights = zip(*_KINDS)
    text = funcs[int(rng.choice(len(funcs), p=np.array(weights) / sum(weights)))](rng)
    return text[0].upper() + text[1:]
