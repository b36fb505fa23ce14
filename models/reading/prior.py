"""The language prior: how likely the words of a reading are, from the packaged word lists.

A word's log-probability comes from its wordfreq frequency; a word outside the list costs a
fixed penalty, so the beam prefers a frequent word over a near-identical non-word only when the
pixels leave the choice open. Tokens with digits or symbols (prices, codes, e-mail addresses) are
not words and get no word prior, but for a numbered list's marker opening a line ("2. ..."), which
scores as a frequent word. Chinese, Japanese and Korean are scored character by character
instead, each by the character before it (``CharacterPrior``): Chinese and Japanese are written
without spaces, and wordfreq's Korean list holds morphemes, whose particles, scored as words of
their own, paid the beam for a space before them ("계획 을" for "계획을"; EXPERIMENTS 31-2a); a
Korean word's stem is scored only where the decoder weighs an uncertain word against the list
words a jamo or two from it (``nearby_korean_words``, ``korean_word_score``).
``LanguagePrior`` is both, what the reader decodes with.

A prior is called as ``prior(text, final)``: the log-score of what ``text`` has settled (its
completed words; all of them when ``final``), and says which appended characters settle
something (``prior.settles(ch)``), so that the beam rescores only then.
"""
import math
import re
from functools import lru_cache

import numpy as np

from models.data.korean import KOREAN_MORPHEMES
from models.data.lexicon import load_lexicon
from models.reading.hangul import jamo_indices

LN10 = math.log(10)
LATIN_WORD = re.compile(r"^[A-Za-z][A-Za-z'\-]*$")
EDGE_PUNCTUATION = ".,:;!?\"()[]{}«»“”‘’"
LIST_MARKER = re.compile(r"^\d{1,2}[.)]$")  # a numbered list's "3." or "7)", opening a line
LIST_MARKER_ZIPF = 7.0  # such a marker, before a word, scores as a word this frequent (chosen on tune)


@lru_cache(maxsize=None)
def _frequencies(lang):
    return {word: zipf for word, zipf in load_lexicon(lang)}


def opens_with_marker(words):
    """Whether completed ``words`` open with a list marker followed by a word that is not a number
    (so that an amount, "93.73", is not split into a marker and its cents)."""
    return len(words) >= 2 and bool(LIST_MARKER.match(words[0])) and not words[1][:1].isdigit()


class WordPrior:
    """``prior(text, final)`` -> weighted log-score of the words ``text`` has completed: every
    space-separated word but the last, and the last too when ``final``."""

    def __init__(self, weight=0.5, oov_zipf=1.0, min_zipf=1.0, marker_zipf=LIST_MARKER_ZIPF):
        self.weight, self.oov_zipf, self.min_zipf = weight, oov_zipf, min_zipf
        self.marker_zipf = marker_zipf  # a list marker opening a line scores as a word this frequent (None: as no word)

    @lru_cache(maxsize=200_000)
    def word_score(self, token):
        word = token.strip(EDGE_PUNCTUATION)
        if not LATIN_WORD.match(word):
            return 0.0
        zipf = _frequencies("en").get(word.lower(), self.oov_zipf)
        # zipf is log10 of the frequency per billion words; relative to a rare word's, so known
        # words gain and unknown ones lose
        return self.weight * (max(zipf, self.min_zipf) - 3.0) * LN10

    def __call__(self, text, final=False):
        words = text.split(" ")
        words = [w for w in (words if final else words[:-1]) if w]
        score = sum(self.word_score(w) for w in words)
        if self.marker_zipf is not None and opens_with_marker(words):
            score += self.weight * (self.marker_zipf - 3.0) * LN10
        return score

    @staticmethod
    def settles(ch):
        return ch == " "

    def __hash__(self):
        return id(self)


# --- CJK characters, each scored by the one before it ---

CJK_CHARACTER = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3]")  # kana, Han, Hangul
CJK_LANGS = ("ko", "ja", "zh")
UNSEEN_SHARE = 1e-7  # a character no CJK word holds: this share of the unigram mass
BIGRAM_SHARE = 0.7   # P(b | a): this much the pairs inside words, the rest the unigram


@lru_cache(maxsize=None)
def _character_statistics(langs=CJK_LANGS):
    """(log P(b | a) for pairs seen inside words, log P(b), log P of an unseen character, the mean
    score of a character of real text) from the CJK word lists, each language weighing the same
    and each word by its frequency. Pairs across a word boundary are not in the lists: the
    bigram is interpolated with the unigram (``BIGRAM_SHARE``)."""
    unigram, bigram = {}, {}
    for lang in langs:
        words = [(word, 10.0 ** zipf) for word, zipf in load_lexicon(lang) if CJK_CHARACTER.search(word)]
        total = sum(frequency for _, frequency in words)
        for word, frequency in words:
            share = frequency / total
            for i, ch in enumerate(word):
                unigram[ch] = unigram.get(ch, 0.0) + share
                if i:
                    following = bigram.setdefault(word[i - 1], {})
                    following[ch] = following.get(ch, 0.0) + share
    mass = sum(unigram.values())
    unigram_log = {ch: math.log(count / mass) for ch, count in unigram.items()}
    unseen_log = math.log(UNSEEN_SHARE)
    pair_log = {}
    for first, following in bigram.items():
        row_mass = sum(following.values())
        for ch, count in following.items():
            pair_log[first + ch] = math.log(BIGRAM_SHARE * count / row_mass
                                            + (1 - BIGRAM_SHARE) * math.exp(unigram_log[ch]))
    # the reference: the characters of real words score zero on average, so length is not rewarded
    total, count = 0.0, 0.0
    for lang in langs:
        for word, zipf in load_lexicon(lang):
            if CJK_CHARACTER.fullmatch(word[0]):
                share = 10.0 ** zipf
                total += share * sum(_pair_log_p(pair_log, unigram_log, unseen_log, word[i - 1] if i else "", ch)
                                     for i, ch in enumerate(word))
                count += share * len(word)
    return pair_log, unigram_log, unseen_log, total / count


def _pair_log_p(pair_log, unigram_log, unseen_log, previous, ch):
    """log P(ch | previous): the interpolated pair where seen; the unigram's share after another
    CJK character; the unigram at a line's or a word's start."""
    log_p = pair_log.get(previous + ch) if previous else None
    if log_p is not None:
        return log_p
    unigram = unigram_log.get(ch, unseen_log)
    return unigram + math.log(1 - BIGRAM_SHARE) if previous and CJK_CHARACTER.match(previous) else unigram


def _character_log_score(previous, ch):
    """log P(ch | previous) less the reference for a CJK character, 0 for any other."""
    if not CJK_CHARACTER.match(ch):
        return 0.0
    pair_log, unigram_log, unseen_log, reference = _character_statistics()
    return _pair_log_p(pair_log, unigram_log, unseen_log, previous, ch) - reference


@lru_cache(maxsize=200_000)  # the beam extends prefixes it scored a column before
def _text_log_score(text):
    """The unweighted character score of ``text``; recursion depth is the text's length."""
    if not text:
        return 0.0
    return _text_log_score(text[:-1]) + _character_log_score(text[-2:-1], text[-1])


class CharacterPrior:
    """``prior(text, final)`` -> weighted log-score of the CJK characters of ``text``, each given
    the character before it, relative to a typical character of real text; other characters
    score nothing."""

    def __init__(self, weight=0.5):
        self.weight = weight

    def character_score(self, previous, ch):
        return self.weight * _character_log_score(previous, ch)

    def __call__(self, text, final=False):
        return self.weight * _text_log_score(text)

    @staticmethod
    def settles(ch):
        return bool(CJK_CHARACTER.match(ch))


class LanguagePrior:
    """The word prior and the character prior together: what the reader decodes with."""

    def __init__(self, words=None, characters=None):
        self.words = WordPrior() if words is None else words
        self.characters = CharacterPrior() if characters is None else characters

    def __call__(self, text, final=False):
        return self.words(text, final) + self.characters(text, final)

    def settles(self, ch):
        return self.words.settles(ch) or self.characters.settles(ch)


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


@lru_cache(maxsize=None)
def lexicon_prefixes(lang="en", count=NEIGHBOUR_WORDS):
    """({prefix: the letters that continue it}, {the words}) over the lexicon's most frequent
    lowercase ASCII words: the tree a lexicon search walks (``decode.lexicon_search``)."""
    children, words = {}, set()
    for word, _ in load_lexicon(lang)[:count]:
        if word.isascii() and word.isalpha() and word.islower():
            words.add(word)
            for i in range(len(word)):
                children.setdefault(word[:i], set()).add(word[i])
    return {prefix: "".join(sorted(letters)) for prefix, letters in children.items()}, frozenset(words)


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
    return tuple(cased_like(word, token) for _, _, word in found[:limit])


def cased_like(word, model):
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        return word.capitalize()
    return word


# --- Korean words near a misread one: jamo apart, with the particles and endings kept ---

KOREAN_NEIGHBOUR_WORDS = 30_000  # the whole shipped Korean list
KOREAN_STEM_WEIGHT = 0.25        # a known stem's zipf above a rare word's, in nats per zipf unit (chosen on tune)
KOREAN_OOV_ZIPF = 1.0
HANGUL_WORD = re.compile(r"^[\uac00-\ud7a3]+$")


@lru_cache(maxsize=None)
def _korean_stems_by_length(count=KOREAN_NEIGHBOUR_WORDS):
    """{syllables: (int (N, syllables, 3) jamo indices, [words] most frequent first)} of the Korean
    list's words of two syllables or more that are not a particle or ending of our pools."""
    groups = {}
    for word, _ in load_lexicon("ko")[:count]:
        if len(word) >= 2 and HANGUL_WORD.match(word) and word not in KOREAN_MORPHEMES:
            groups.setdefault(len(word), []).append(word)
    return {length: (np.stack([jamo_indices(w) for w in words]), words) for length, words in groups.items()}


def korean_splits(word):
    """The ways a Korean eojeol splits into a stem of two syllables or more and what follows it
    (a particle, an ending or nothing): (stem, rest) pairs, the bare word first. Korean attaches
    many endings; any split is tried rather than a list of them."""
    return [(word[:cut], word[cut:]) for cut in range(len(word), 1, -1)]


@lru_cache(maxsize=200_000)
def korean_word_score(token):
    """The refinement's score of a Korean eojeol: ``KOREAN_STEM_WEIGHT`` x (the zipf of the most
    frequent list word it opens with, of two syllables or more, or ``KOREAN_OOV_ZIPF``, less a
    rare word's 3) in nats; 0 for a token that is not all Hangul. Only the refinement uses it:
    scored in the beam, the list's particles paid for spaces before them (EXPERIMENTS 31-2a)."""
    word = token.strip(EDGE_PUNCTUATION)
    if not HANGUL_WORD.match(word):
        return 0.0
    frequencies = _frequencies("ko")
    zipf = max((frequencies.get(stem, KOREAN_OOV_ZIPF) for stem, _ in korean_splits(word)
                if stem not in KOREAN_MORPHEMES), default=KOREAN_OOV_ZIPF)
    return KOREAN_STEM_WEIGHT * (max(zipf, KOREAN_OOV_ZIPF) - 3.0) * LN10


@lru_cache(maxsize=4096)
def nearby_korean_words(word, limit=MAX_NEIGHBOURS):
    """Eojeol whose stem is a Korean list word a jamo or two from ``word``'s stem (one for stems of
    two syllables), its particle or ending kept: the nearest first, then the most frequent. A
    blurred 옵션 reads 옵선 or 음션; jamo distance counts the letters that differ, not syllables."""
    if not HANGUL_WORD.match(word):
        return ()
    found = {}
    for stem, ending in korean_splits(word):
        group = _korean_stems_by_length().get(len(stem))
        if group is None:
            continue
        codes, stems = group
        distances = (codes != jamo_indices(stem)[None]).sum(axis=(1, 2))
        reach = 1 if len(stem) == 2 else 2
        for rank in np.flatnonzero((distances > 0) & (distances <= reach)):
            candidate = stems[rank] + ending
            key = (int(distances[rank]), int(rank))
            if candidate not in found or key < found[candidate]:
                found[candidate] = key
    return tuple(sorted(found, key=found.get)[:limit])


def build_word_indexes():
    """Build the indexes ``refine_words`` searches (the English words by length, their prefix tree,
    the Korean stems' jamo; about 0.7 s on 2 cores) now, so that the first uncertain word of the
    first request does not wait for them."""
    _words_by_length()
    lexicon_prefixes()
    _korean_stems_by_length()
