"""Hangul written as its letters: a syllable block is a leading consonant, a vowel and maybe a
trailing consonant (Unicode's conjoining jamo, U+1100–U+11FF), so a recogniser can read Korean with
67 classes seen often instead of thousands of syllables seen rarely, and the reading is composed back.

    to_jamo("값 5") -> "\u1100\u1161\u11b9 5"
    from_jamo(to_jamo(text)) == text
    from_jamo(jamo_text, confidences) -> (text, one confidence per composed character)

Pure functions; conjoining jamo that make no syllable (a lead without a vowel) are kept as they are.
"""

import numpy as np

SYLLABLE_BASE, SYLLABLE_LAST = 0xAC00, 0xD7A3
LEAD_BASE, VOWEL_BASE, TAIL_BASE = 0x1100, 0x1161, 0x11A7  # a tail index 0 means no trailing consonant
LEADS, VOWELS, TAILS = 19, 21, 28
JAMO = "".join(chr(LEAD_BASE + i) for i in range(LEADS)) + "".join(chr(VOWEL_BASE + i) for i in range(VOWELS)) + \
    "".join(chr(TAIL_BASE + i) for i in range(1, TAILS))


def spells_jamo(charset):
    """Whether a recogniser over ``charset`` reads Hangul as jamo."""
    return JAMO[0] in charset


def is_syllable(ch):
    return SYLLABLE_BASE <= ord(ch) <= SYLLABLE_LAST


def to_jamo(text):
    """``text`` with each Hangul syllable written as its conjoining jamo."""
    out = []
    for ch in text:
        if not is_syllable(ch):
            out.append(ch)
            continue
        index = ord(ch) - SYLLABLE_BASE
        lead, rest = divmod(index, VOWELS * TAILS)
        vowel, tail = divmod(rest, TAILS)
        out.append(chr(LEAD_BASE + lead) + chr(VOWEL_BASE + vowel) + (chr(TAIL_BASE + tail) if tail else ""))
    return "".join(out)


def jamo_indices(word):
    """(syllables, 3) int array of each syllable's lead, vowel and tail indices (tail 0: none) for a
    word of Hangul syllables only: ``to_jamo``'s arithmetic for many words at once."""
    index = np.frombuffer(word.encode("utf-32-le"), np.uint32).astype(np.int32) - SYLLABLE_BASE
    return np.stack([index // (VOWELS * TAILS), (index // TAILS) % VOWELS, index % TAILS], axis=1)


def _lead(ch):
    return 0 <= ord(ch) - LEAD_BASE < LEADS


def _vowel(ch):
    return 0 <= ord(ch) - VOWEL_BASE < VOWELS


def _tail(ch):
    return 1 <= ord(ch) - TAIL_BASE < TAILS


def from_jamo(text, confidences=None):
    """``text`` with each lead + vowel (+ tail) composed into its syllable; with ``confidences``
    (one per character of ``text``), returns (composed text, the lowest confidence of each
    composed character's letters)."""
    given = confidences is not None
    confidences = list(confidences) if given else [1.0] * len(text)
    out, sure, i = [], [], 0
    while i < len(text):
        if i + 1 < len(text) and _lead(text[i]) and _vowel(text[i + 1]):
            length = 3 if i + 2 < len(text) and _tail(text[i + 2]) else 2
            tail = ord(text[i + 2]) - TAIL_BASE if length == 3 else 0
            index = ((ord(text[i]) - LEAD_BASE) * VOWELS + ord(text[i + 1]) - VOWEL_BASE) * TAILS + tail
            out.append(chr(SYLLABLE_BASE + index))
            sure.append(min(confidences[i:i + length]))
            i += length
            continue
        out.append(text[i])
        sure.append(confidences[i])
        i += 1
    return ("".join(out), sure) if given else "".join(out)
