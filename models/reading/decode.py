"""CTC decoding as pure functions over one line's (T, C) log-probabilities (class 0 is the blank).

``greedy`` takes the best class per column; ``beam_search`` keeps the best prefixes and, given a
language prior (``models.reading.prior``), scores words as they complete and CJK characters as
they come; ``refine_words``
looks past the beam, at the lexicon words near each uncertain word; ``align`` finds the columns
each character of a chosen text occupies, so that every character gets the model's own
probability as its confidence.
"""
import math
import string
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from models.reading.prior import (EDGE_PUNCTUATION, HANGUL_WORD, cased_like, korean_word_score, lexicon_prefixes,
                                  nearby_korean_words, nearby_words)
from models.reading.recognizer import decode as collapse

NEG_INF = -math.inf


def _logsumexp(a, b):
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


def greedy(log_probs, charset):
    """Best class per column, repeats merged, blanks dropped."""
    return collapse(np.asarray(log_probs).argmax(-1), charset)


@dataclass
class Beam:
    text: str
    blank: float      # log P(text, path ends in a blank)
    label: float      # log P(text, path ends in its last character)
    prior: float      # log prior of the words completed so far, weighted

    @property
    def acoustic(self):
        return _logsumexp(self.blank, self.label)

    @property
    def score(self):
        return self.acoustic + self.prior


def beam_search(log_probs, charset, prior=None, beam_width=8, candidates_per_column=5, min_log_prob=-9.0):
    """CTC prefix beam search -> [(text, acoustic log-prob, prior log-score)], best first.

    ``prior(text, final)``: the language prior's log-score of what ``text`` has settled (its
    completed words, all of them when ``final``; its CJK characters); it is rescored whenever an
    appended character settles something (``prior.settles(ch)``), so prefixes compete on the
    words they spell. Without a prior this is plain prefix beam search.
    """
    log_probs = np.asarray(log_probs, dtype=np.float64)
    count = min(candidates_per_column, log_probs.shape[1])
    top = torch.topk(torch.from_numpy(log_probs), count, dim=1).indices.numpy()  # numpy's argpartition: 40x slower
    beams = {"": Beam("", 0.0, NEG_INF, 0.0)}
    for column, candidates in zip(log_probs, top):
        best = int(candidates[np.argmax(column[candidates])])
        # classes below min_log_prob (e^-9: 1 in 8 000) cannot change the ranking of the beams
        ranked = [int(k) for k in candidates if column[k] >= min_log_prob or k == best]
        grown = {}

        def entry(text, prior_score):
            if text not in grown:
                grown[text] = Beam(text, NEG_INF, NEG_INF, prior_score)
            return grown[text]

        for beam in beams.values():
            acoustic = beam.acoustic  # the old beams do not change within a column
            last = beam.text[-1] if beam.text else None
            for k in ranked:
                p = column[k]
                if k == 0:
                    target = entry(beam.text, beam.prior)
                    target.blank = _logsumexp(target.blank, acoustic + p)
                    continue
                ch = charset[k - 1]
                if ch == last:
                    same = entry(beam.text, beam.prior)  # a repeat without a blank between stays one character
                    same.label = _logsumexp(same.label, beam.label + p)
                    if beam.blank == NEG_INF:
                        continue
                    extended_from = beam.blank
                else:
                    extended_from = acoustic
                text = beam.text + ch
                prior_score = beam.prior
                if prior is not None and prior.settles(ch):
                    prior_score = prior(text, final=False)
                target = entry(text, prior_score)
                target.label = _logsumexp(target.label, extended_from + p)
        beams = dict(sorted(grown.items(), key=lambda item: item[1].score, reverse=True)[:beam_width])
    finals = []
    for beam in beams.values():
        prior_score = prior(beam.text, final=True) if prior is not None else 0.0
        finals.append((beam.text, beam.acoustic, prior_score))
    return sorted(finals, key=lambda f: f[1] + f[2], reverse=True)


def lexicon_search(log_probs, index, written_as, lexicon=None, beam_width=8, candidates_per_column=5, count=5):
    """The lexicon words a stretch of columns spells best: CTC prefix search in which every prefix
    must begin a lexicon word -> [(word as written, acoustic log-prob)], best first. A word far
    from the greedy reading ("wohuie" for "website") can still be near in the probabilities.

    ``index``: {character: class}; ``written_as(word)``: the word cased as the line writes it;
    ``lexicon``: (prefixes, words) as ``prior.lexicon_prefixes`` gives them."""
    prefixes, words = lexicon or lexicon_prefixes()
    log_probs = np.asarray(log_probs, dtype=np.float64)
    count_per_column = min(candidates_per_column, log_probs.shape[1])
    top = torch.topk(torch.from_numpy(log_probs), count_per_column, dim=1).indices.numpy()
    beams = {"": Beam("", 0.0, NEG_INF, 0.0)}
    for column, candidates in zip(log_probs, top):
        likely = {int(k) for k in candidates}
        grown = {}

        def entry(text):
            if text not in grown:
                grown[text] = Beam(text, NEG_INF, NEG_INF, 0.0)
            return grown[text]

        for beam in beams.values():
            stay = entry(beam.text)
            stay.blank = _logsumexp(stay.blank, beam.acoustic + column[0])
            if beam.text:
                last = index.get(written_as(beam.text)[-1])
                if last is not None:
                    stay.label = _logsumexp(stay.label, beam.label + column[last])
            for letter in prefixes.get(beam.text, ""):
                text = beam.text + letter
                k = index.get(written_as(text)[-1])
                if k is None or k not in likely:
                    continue
                # a letter repeating the last one needs a blank between them
                extended_from = beam.blank if beam.text and text[-1] == beam.text[-1] else beam.acoustic
                if extended_from == NEG_INF:
                    continue
                target = entry(text)
                target.label = _logsumexp(target.label, extended_from + column[k])
        beams = dict(sorted(grown.items(), key=lambda item: item[1].acoustic, reverse=True)[:beam_width])
    found = sorted(((written_as(text), beam.acoustic) for text, beam in beams.items() if text in words),
                   key=lambda item: item[1], reverse=True)
    return found[:count]


def word_columns(spans, start, end, columns):
    """The columns a word of characters ``start``..``end - 1`` may take: from just after the
    character before it to just before the one after it (``align``'s spans)."""
    first = spans[start - 1][1] + 1 if start > 0 else 0
    last = spans[end][0] - 1 if end < len(spans) else columns - 1
    return first, max(first, last)


def align(log_probs, labels):
    """Viterbi alignment of class ``labels`` (no blanks) to the columns -> for each label the
    (first, last) column of its frames; None when the line has too few columns for the text."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    columns, n = len(log_probs), len(labels)
    if n == 0:
        return []
    states = [0]
    for k in labels:
        states += [k, 0]
    s_count = len(states)
    index = np.arange(s_count)
    labelled = np.array(states)
    # a label may follow the previous label directly (skipping the blank) unless it repeats it
    can_skip = np.zeros(s_count, dtype=bool)
    can_skip[2:] = (labelled[2:] != 0) & (labelled[2:] != labelled[:-2])
    emitted = log_probs[:, labelled]
    score = np.full((columns, s_count), NEG_INF)
    back = np.zeros((columns, s_count), dtype=np.int64)
    score[0, :2] = emitted[0, :2]
    # one column at a time, all states at once: a line of 400 columns and 65 characters took 44 ms of
    # CPU with a Python loop over the states, 5 ms so
    for t in range(1, columns):
        previous = score[t - 1]
        options = np.full((3, s_count), NEG_INF)
        options[0] = previous
        options[1, 1:] = previous[:-1]
        options[2, 2:] = np.where(can_skip[2:], previous[:-2], NEG_INF)
        choice = options.argmax(0)  # ties: staying, then one state on, as the first maximum
        score[t] = options[choice, index] + emitted[t]
        back[t] = index - choice
    end = max((score[-1, s], s) for s in (s_count - 1, s_count - 2))
    if end[0] == NEG_INF:
        return None
    spans = [None] * n
    s = end[1]
    for t in range(columns - 1, -1, -1):
        if states[s] != 0:
            index = (s - 1) // 2
            first, last = spans[index] or (t, t)
            spans[index] = (t, last)
        if t:
            s = back[t, s]
    return spans


def character_confidences(probs, labels, spans):
    """Each character's confidence: the highest probability the model gave its class over the
    columns aligned to it."""
    return [float(probs[first:last + 1, k].max()) for k, (first, last) in zip(labels, spans)]


def line_log_likelihoods(log_probs, label_lists):
    """log P(labels | a line's (T, C) CTC log-probabilities), summed over every path, for each of
    ``label_lists`` at once; -inf where the line has too few columns for them. Only the blank's
    and the labels' own columns enter CTC, so the batch carries just those."""
    classes = sorted({0, *(k for labels in label_lists for k in labels)})
    remap = {k: i for i, k in enumerate(classes)}
    used = torch.as_tensor(np.asarray(log_probs)[:, classes], dtype=torch.float32)
    count = len(label_lists)
    targets = torch.zeros((count, max(1, max(len(labels) for labels in label_lists))), dtype=torch.long)
    for row, labels in enumerate(label_lists):
        targets[row, :len(labels)] = torch.tensor([remap[k] for k in labels], dtype=torch.long)
    losses = F.ctc_loss(used[:, None].expand(-1, count, -1), targets, torch.full((count,), used.shape[0]),
                        torch.tensor([len(labels) for labels in label_lists]), blank=0, reduction="none",
                        zero_infinity=False)
    return (-losses).tolist()


def _spans_of(log_probs, text, encode):
    try:
        return align(log_probs, encode(text))
    except ValueError:
        return None


def _letter_classes(encode):
    """{ASCII letter: class} of the letters the charset has."""
    classes = {}
    for letter in string.ascii_letters:
        try:
            classes[letter] = encode(letter)[0]
        except ValueError:
            continue
    return classes


def refine_words(log_probs, text, confidences, encode, prior=None, confident=0.9, search=True, spans=None):
    """``text`` with each uncertain word (a character below ``confident``) replaced by whichever of
    it, the English words within two edits of it and (``search``) the lexicon words its columns
    spell best (``lexicon_search``) the line's log-probabilities and the prior like best, over the
    whole line. A Korean word is weighed against the eojeol whose stem is a list word a jamo or
    two from its own (``nearby_korean_words``), each scored by its stem (``korean_word_score``).
    The beam keeps a few prefixes column by column; the words a blurred letter or two away
    ("betveen", "Resolts") are often not among them.

    ``encode(text)``: the class labels of a text, ValueError for a character outside the charset;
    ``spans``: ``text``'s alignment (``align``) where the caller has it."""
    words = text.split(" ")
    starts = np.cumsum([0] + [len(word) + 1 for word in words])
    searched = None  # (spans, letter classes): aligned once, the first time an uncertain word needs them
    for position, word in enumerate(words):
        if min(confidences[starts[position]:starts[position] + len(word)], default=1.0) >= confident:
            continue
        core = word.strip(EDGE_PUNCTUATION)
        korean = bool(HANGUL_WORD.match(core))
        neighbours = list(nearby_korean_words(core) if korean else nearby_words(core)) if len(core) >= 2 else []
        searchable = search and len(core) >= 2 and core.isascii() and core.isalpha()
        if searchable and searched is None:
            searched = (spans or _spans_of(log_probs, text, encode), _letter_classes(encode))
        if searchable and searched[0]:
            spans, letters = searched
            begin = starts[position] + word.index(core)
            first, last = word_columns(spans, begin, begin + len(core), len(log_probs))
            found = lexicon_search(log_probs[first:last + 1], letters, lambda w: cased_like(w, core))
            neighbours += [w for w, _ in found if w != core and w not in neighbours]
        if not neighbours:
            continue
        head, tail = word[:word.index(core)], word[word.index(core) + len(core):]
        lines, label_lists, word_scores = [], [], []
        for other in [core] + neighbours:
            line = " ".join(words[:position] + [head + other + tail] + words[position + 1:])
            try:
                label_lists.append(encode(line))
            except ValueError:
                continue
            lines.append(line)
            # Korean stems are scored here only (the prior leaves Korean words unscored: 31-2a)
            word_scores.append(korean_word_score(other) if korean else 0.0)
        likelihoods = line_log_likelihoods(log_probs, label_lists)
        scores = [likelihood + word_score + (prior(line, final=True) if prior is not None else 0.0)
                  for line, likelihood, word_score in zip(lines, likelihoods, word_scores)]
        words = lines[int(np.argmax(scores))].split(" ")
    return " ".join(words)
