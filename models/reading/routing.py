"""Which recogniser reads a line: the pretrained SVTR-LCNet has no Hangul, so lines the reader
reads as Korean (mostly Hangul: ``reads_as_korean``) stay with the reader. The reader's pass is
needed only where the SVTR is unsure: a line the SVTR reads surely and without Hangul
(``sure_reading``) is not Korean (no line of the tune halves the reader reads as Korean reaches
it, but for two Japanese ones), and the reader is not run on it."""
import numpy as np

from models.reading.hangul import SYLLABLE_BASE, SYLLABLE_LAST

HANGUL_RANGES = ((SYLLABLE_BASE, SYLLABLE_LAST), (0x1100, 0x11FF), (0x3130, 0x318F))  # syllables, jamo, compatibility jamo
SURE_READING = 0.9  # the SVTR's mean best-path probability at or above which a line skips the Hangul check (chosen on tune)
KOREAN_SHARE = 0.6  # the share of Hangul in the reader's reading at or above which a line is Korean (chosen on tune)


def is_hangul(ch):
    code = ord(ch)
    return any(low <= code <= high for low, high in HANGUL_RANGES)


def has_hangul(text):
    return any(is_hangul(ch) for ch in text)


def hangul_share(text):
    """The share of ``text``'s non-space characters that are Hangul; 0 for none."""
    characters = [ch for ch in text if not ch.isspace()]
    return sum(map(is_hangul, characters)) / len(characters) if characters else 0.0


def reads_as_korean(text, share=KOREAN_SHARE):
    """Whether a reading is Korean: mostly Hangul (``share`` > 0, so an empty reading is not). On
    an unsure Japanese or Chinese line the reader, whose head is mostly Hangul, often finds a
    syllable or two among look-alikes; the line stays the SVTR's (EXPERIMENTS 25-1a)."""
    return hangul_share(text) >= share


def without_hangul(charset):
    return "".join(ch for ch in charset if not is_hangul(ch))


def path_certainty(log_probs, power=1.0):
    """The mean probability of a line's best path over its character columns (those whose best
    class is not the blank, class 0), each raised to ``power`` (a network's calibration); 0 for a
    line read as nothing."""
    log_probs = np.asarray(log_probs)
    if not len(log_probs):
        return 0.0
    best = log_probs.max(-1)[log_probs.argmax(-1) != 0]
    return float((np.exp(best) ** power).mean()) if len(best) else 0.0


def sure_reading(log_probs, charset, threshold=SURE_READING):
    """Whether a line is read surely (``path_certainty`` at or above ``threshold``) and without
    Hangul on its best path, by a network over ``charset`` (class k is ``charset[k - 1]``)."""
    best = {int(k) for k in np.asarray(log_probs).argmax(-1) if k}
    return path_certainty(log_probs) >= threshold and not has_hangul("".join(charset[k - 1] for k in best))
