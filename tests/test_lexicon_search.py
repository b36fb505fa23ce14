"""The lexicon search: dictionary words found in a line's CTC probabilities when they are far from
its greedy reading (``decode.lexicon_search``, used by ``decode.refine_words``)."""
from functools import partial

import numpy as np

from models.reading import decode
from models.reading.prior import WordPrior, lexicon_prefixes
from models.reading.recognizer import encode

CHARSET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
TOY_LEXICON = ({"": "cw", "w": "e", "we": "b", "web": "s", "webs": "i", "websi": "t", "websit": "e",
                "c": "a", "ca": "t"}, frozenset({"website", "cat"}))


def columns_for(letters):
    """(T, C) log-probabilities: two columns per (best, second) letter pair, then a blank column.
    A pair's second letter, when given, is 0.4 likely against the best's 0.5."""
    rows = []
    for best, second in letters:
        for _ in range(2):
            p = np.full(len(CHARSET) + 1, 1e-4)
            p[CHARSET.index(best) + 1] = 0.5 if second else 0.9
            if second:
                p[CHARSET.index(second) + 1] = 0.4
            rows.append(p / p.sum())
        blank = np.full(len(CHARSET) + 1, 1e-4)
        blank[0] = 0.9
        rows.append(blank / blank.sum())
    return np.log(np.array(rows))


def letter_classes():
    return {ch: CHARSET.index(ch) + 1 for ch in CHARSET if ch.isalpha()}


# "website" where every other letter looks a little more like another: greedy reads "wohuito"
WEBSITE = [("w", None), ("o", "e"), ("h", "b"), ("u", "s"), ("i", None), ("t", None), ("o", "e")]


def test_the_search_finds_the_dictionary_word_the_greedy_path_misses():
    log_probs = columns_for(WEBSITE)
    assert decode.greedy(log_probs, CHARSET) == "wohuito"
    found = decode.lexicon_search(log_probs, letter_classes(), lambda w: w, TOY_LEXICON)
    assert [word for word, _ in found] == ["website"]  # "cat" cannot be spelled by these columns
    capitalised = decode.lexicon_search(columns_for([("W", None)] + WEBSITE[1:]), letter_classes(),
                                        str.capitalize, TOY_LEXICON)
    assert capitalised[0][0] == "Website"
    assert decode.lexicon_search(log_probs, letter_classes(), str.capitalize, TOY_LEXICON) == []  # no capital W here


def test_refine_takes_the_searched_word_only_where_the_line_is_uncertain_and_leaves_numbers():
    encode_toy = partial(encode, charset=CHARSET)
    log_probs = columns_for(WEBSITE + [(" ", None)] + [(d, None) for d in "12345"])
    text = "wohuito 12345"
    unsure = [0.5] * 7 + [1.0] * 6
    assert decode.refine_words(log_probs, text, unsure, encode_toy, WordPrior()) == "website 12345"
    assert decode.refine_words(log_probs, text, unsure, encode_toy, WordPrior(), search=False) == text
    assert decode.refine_words(log_probs, text, [1.0] * 13, encode_toy, WordPrior()) == text
    digits_unsure = [1.0] * 8 + [0.5] * 5
    assert decode.refine_words(log_probs, text, digits_unsure, encode_toy, WordPrior()) == text


def test_a_word_takes_the_columns_between_its_neighbours():
    spans = [(0, 1), (3, 4), (5, 5), (8, 9), (11, 12)]  # "ab cd" aligned: a, b, space, c, d
    assert decode.word_columns(spans, 0, 2, 14) == (0, 4)
    assert decode.word_columns(spans, 3, 5, 14) == (6, 13)


def test_the_lexicon_tree_holds_every_prefix_of_its_words():
    prefixes, words = lexicon_prefixes()
    assert "website" in words and "w" in prefixes[""] and "s" in prefixes["web"]
    assert all(word[:-1] in prefixes and word[-1] in prefixes[word[:-1]] for word in list(words)[:500])
