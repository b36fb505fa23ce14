"""The language prior: how likely the words of a reading are, from the packaged word lists.

A word's log-probability comes from its wordfreq frequency; a word outside the list costs a
fixed penalty, so the beam prefers a frequent word over a near-identical non-word only when the
pixels leave the choice open. Tokens with digits or symbols (prices, codes, e-mail addresses) are
not words and get no prior, nor do Chinese and Japanese, which are written without spaces and
read character by character. ``weight`` scales the whole prior against the network's evidence.
"""
import math
import re
from functools import lru_cache

import numpy as np

from models.data.lexicon import load_lexicon

LN10 = math.log(10)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN_WORD = re.compile(r"^[A-Za-z][A-Za-z'\-]*$")
EDGE_PUNCTUATION = ".,:;!?\"()[]{}«»“”‘’"


@lru_cache(maxsize=None)
def _frequencies(lang):
    return {word: zipf for word, zipf in load_lexicon(lang)}


def word_language(token):
    """en or ko for a token the prior scores, None for anything else."""
    if LATIN_WORD.match(token):
        return "en"
    if HANGUL.search(token) and all(HANGUL.match(ch) for ch in token):
        return "ko"
    return None


class WordPrior:
    """``prior(text, final)`` -> weighted log-score of the words ``text`` has completed: every
    space-separated word but the last, and the last too when ``final``."""

    def __init__(self, weight=0.5, oov_zipf=1.0, min_zipf=1.0):
        self.weight, self.oov_zipf, self.min_zipf = weight, oov_zipf, min_zipf

    @lru_cache(maxsize=200_000)
    def word_score(self, token):
        word = token.strip(EDGE_PUNCTUATION)
        lang = word_language(word)
        if lang is None:
            return 0.0
        zipf = _frequencies(lang).get(word.lower())
        if zipf is None:
            if lang == "ko":  # the Korean list holds morphemes: a word with its particle is often absent
                return 0.0
            zipf = self.oov_zipf
        # zipf is log10 of the frequency per billion words; relative to a rare word's, so known
        # words gain and unknown ones lose
        return self.weight * (max(zipf, self.min_zipf) - 3.0) * LN10

    def __call__(self, text, final=False):
        words = text.split(" ")
        if not final:
            words = words[:-1]
        return sum(self.word_score(w) for w in words if w)

    def __hash__(self):
        return id(self)


# --- the words near a misread one: what the decoder may put in its place ---

NEIGHBOUR_WORDS = 30_000   # the most frequent English words are the candidates
MAX_NEIGHBOURS = 30


@lru_cache(maxsize=None)
def _words_by_length(lang="en", count=NEIGHBOUR_WORDS):
    """{length: (uint8 (N, length) letter codes, [words], most frequent first)} of the lexicon's
    most frequent lowercase ASCII words."""
    groups = {}
    for word, _ in load_lexicon(lang)[:count]:
        if word.isascii() and word.isalpha() and word.islower():
            groups.setdefault(len(word), []).append(word)
    return {length: (np.frombuffer("".join(words).encode(), np.uint8).reshape(len(words), length), words)
            for length, words in groups.items()}


def _edit_distances(token, codes):
    """Levenshtein distance from ``token`` to every row of ``codes``, all rows at once."""
    count, length = codes.shape
    previous = np.tile(np.arange(length + 1), (count, 1))
    for i, ch in enumerate(token.encode(), start=1):
        current = np.empty_like(previous)
        current[:, 0] = i
        differs = codes != ch
        for j in range(1, length + 1):
            current[:, j] = np.minimum(np.minimum(previous[:, j], current[:, j - 1]) + 1,
                                       previous[:, j - 1] + differs[:, j - 1])
        previous = current
    return previous[:, -1]


@lru_cache(maxsize=4096)  # a page repeats its words
def nearby_words(token, limit=MAX_NEIGHBOURS):
    """English words within two edits of ``token`` (one for tokens under five letters), cased as
    it is: the nearest first, then the most frequent."""
    lower = token.lower()
    if not (lower.isascii() and lower.isalpha()):
        return ()
    reach = 2 if len(lower) >= 5 else 1
    found = []
    for length in range(len(lower) - reach, len(lower) + reach + 1):
        if length not in _words_by_length():
            continue
        codes, words = _words_by_length()[length]
        distances = _edit_distances(lower, codes)
        found += [(int(d), rank, words[rank]) for rank in np.flatnonzero(distances <= reach)
                  for d in [distances[rank]] if words[rank] != lower]
    found.sort(key=lambda item: (item[0], item[1]))
    return tuple(_cased_like(word, token) for _, _, word in found[:limit])


def _cased_like(word, model):
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        return word.capitalize()
    return word
