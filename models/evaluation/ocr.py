"""Tesseract OCR for text crops, and the character error rate (CER) it is scored with.

Crops are upscaled so the font is about ``TARGET_FONT_PX`` device pixels tall (Tesseract reads
best at that size), turned to grey, and inverted when the background is dark (Tesseract expects
dark text on a light page). Debian's tesseract-ocr packs: eng, kor, chi_sim, jpn.
"""
import os
import re
import unicodedata

import numpy as np
from PIL import Image

TESSERACT_LANGS = {"en": "eng", "ko": "kor", "zh": "chi_sim", "ja": "jpn"}
SPACELESS_LANGS = {"zh", "ja", "ko"}  # Tesseract spaces CJK text unreliably, so CER ignores whitespace there
TARGET_FONT_PX = 40
MAX_SCALE = 4.0
# Typographic characters Tesseract likes to emit for plain ASCII ones.
_ASCII_LOOKALIKES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "—": "-", "–": "-", "‐": "-", "…": "..."})


def normalize_text(text, lang="en"):
    """NFKC, ASCII quotes and dashes, whitespace collapsed (removed for CJK)."""
    text = unicodedata.normalize("NFKC", text).translate(_ASCII_LOOKALIKES)
    if lang in SPACELESS_LANGS:
        return re.sub(r"\s+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def edit_distance(a, b):
    """Levenshtein distance (insertions, deletions and substitutions cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def cer(prediction, reference, lang="en"):
    """Character error rate of ``prediction`` against ``reference``, after normalization, capped at 1.

    The cap keeps one hallucinated line of garbage from outweighing many readable crops."""
    prediction, reference = normalize_text(prediction, lang), normalize_text(reference, lang)
    if not reference:
        return 0.0 if not prediction else 1.0
    return min(1.0, edit_distance(prediction, reference) / len(reference))


def ocr_scale(font_px):
    """Upscaling factor that brings a font of ``font_px`` device pixels to about TARGET_FONT_PX."""
    return float(np.clip(TARGET_FONT_PX / max(font_px, 1.0), 1.0, MAX_SCALE))


def prepare(image, scale=1.0):
    """uint8 HxWx3 (or HxW) -> the grey, dark-on-light, upscaled PIL image Tesseract reads."""
    grey = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("L")
    if np.median(np.asarray(grey)) < 128:
        grey = Image.eval(grey, lambda v: 255 - v)
    if scale != 1.0:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.LANCZOS)
    return grey


def read_text(image, lang="en", single_line=True, scale=1.0):
    """Tesseract's reading of a text crop; lang is the sample's ('en', 'ko', 'zh', 'ja')."""
    import pytesseract

    if lang not in TESSERACT_LANGS:
        raise ValueError(f"no Tesseract pack for lang {lang!r}; known: {sorted(TESSERACT_LANGS)}")
    # psm 7: one text line; psm 6: one uniform block (short paragraphs).
    config = f"--psm {7 if single_line else 6}"
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one core per call: callers parallelize across crops
    try:
        return pytesseract.image_to_string(prepare(image, scale), lang=TESSERACT_LANGS[lang], config=config).strip()
    except pytesseract.TesseractError:
        # Tesseract 5.3 can die on a signal (SIGFPE) on some degenerate images: nothing was read.
        return ""
