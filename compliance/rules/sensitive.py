"""Sensitive-word matching with Aho-Corasick over a folded copy of the text.

Folding: NFKC (full-width → half-width, compatibility forms), case folding, and separators
dropped, so 赌 博, ＣＡＳＩＮＯ and c-a-s-i-n-o all match. Every folded character remembers
its position in the original text, so matches are reported (and highlighted) in the original.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import ahocorasick

SEPARATORS = frozenset(" \t\r\n\u3000*_-.·•|/\\,，、。~～'\"`")


def fold(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each folded character, the index of its source character."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char in SEPARATORS:
            continue
        for out in unicodedata.normalize("NFKC", char).casefold():
            if out in SEPARATORS:
                continue
            folded.append(out)
            origin.append(index)
    return "".join(folded), origin


@lru_cache(maxsize=256)
def _automaton(words: tuple[str, ...]):
    automaton = ahocorasick.Automaton()
    for word in words:
        key, _ = fold(word)
        if key:
            automaton.add_word(key, (key, word))
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    return automaton


def find_words(text: str, words) -> list[tuple[int, int, str]]:
    """Matches as (start, end, listed word) in `text`'s own indices, leftmost-longest, no overlaps."""
    automaton = _automaton(tuple(sorted(set(words))))
    if automaton is None or not text:
        return []
    folded, origin = fold(text)
    found = []
    for end_index, (key, word) in automaton.iter(folded):
        start_index = end_index - len(key) + 1
        found.append((origin[start_index], origin[end_index] + 1, word))
    found.sort(key=lambda m: (m[0], -(m[1] - m[0])))
    result: list[tuple[int, int, str]] = []
    for match in found:
        if result and match[0] < result[-1][1]:
            continue
        result.append(match)
    return result
