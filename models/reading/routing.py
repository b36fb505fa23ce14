"""Which recogniser reads a line: the pretrained SVTR-LCNet has no Hangul, so lines the reader
reads as Korean stay with the reader."""

HANGUL_RANGES = ((0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F))  # syllables, jamo, compatibility jamo


def is_hangul(ch):
    code = ord(ch)
    return any(low <= code <= high for low, high in HANGUL_RANGES)


def has_hangul(text):
    return any(is_hangul(ch) for ch in text)


def without_hangul(charset):
    return "".join(ch for ch in charset if not is_hangul(ch))
