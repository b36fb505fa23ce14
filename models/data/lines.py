"""Synthetic text lines for reading: one line of synth's web text, sharp and optionally blurred
as Chromium blurs it, with the exact text it drew (labels cost nothing because we render them)."""
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw

from models.data.blur import chromium_blur
from models.data.korean import KOREAN_HADA, KOREAN_MORPHEMES, KOREAN_PAIRED_PARTICLES, KOREAN_PARTICLES, \
    KOREAN_PREDICATES, attach_particle
from models.data.lexicon import load_lexicon
from models.data.synth import (LANG_WEIGHTS, LANGS, SynthConfig, _colors, _latin_text, jpeg_round_trip, random_font,
                               random_text, sample_sigma)


@dataclass
class LineConfig:
    min_px: int = 11
    max_px: int = 32
    max_ems: float = 14.0         # longest text, in font sizes; longer texts lose words (CJK characters) from the end
    synth: SynthConfig = field(default_factory=lambda: SynthConfig(p_sharp=0.0, p_hard=0.5))  # sigma draw


@dataclass
class Line:
    sharp: np.ndarray       # uint8 (H, W, 3)
    text: str
    lang: str               # synth's: latin, ko, zh, ja
    px: int                 # font size in device px
    sigma: float            # device px; drawn always, applied only when blurred was asked for
    kind: str               # gaussian (GPU raster) or box3 (software raster)
    box: tuple              # (top, bottom, left, right) of the text line inside the crop
    blurred: np.ndarray = None


def _shorten(text, lang, font, max_width):
    """Drop words (characters for zh/ja) from the end until the line fits ``max_width``."""
    spaced = lang in ("latin", "ko")
    units = text.split(" ") if spaced else list(text)
    while len(units) > 1 and font.getlength((" " if spaced else "").join(units)) > max_width:
        units.pop()
    return (" " if spaced else "").join(units)


LINE_STREAM = 0x11E  # lines draw from a stream of their own: never synth's patch draws under the same seed


def make_line(seed, index, blurred=False, config=LineConfig()):
    """One line of synthetic web text from ``default_rng((seed, index, LINE_STREAM))`` alone.

    Without ``blurred`` the crop is the line box: the text plus a random pad. With it, both
    images also hold ``ceil(2 sigma) + 2`` px of context around that box (what a deblurring
    net needs to see), blurred as Chromium does on a canvas large enough that no border shows;
    ``box`` says where the line box lies. Text, font, colours and position do not depend on
    ``blurred``: the box of the blurred call holds the same pixels as the sharp call's crop."""
    rng = np.random.default_rng((seed, index, LINE_STREAM))
    lang = str(rng.choice(LANGS, p=LANG_WEIGHTS))
    px = int(round(math.exp(rng.uniform(math.log(config.min_px), math.log(config.max_px + 0.5)))))
    text, is_code = random_text(rng, lang)
    font = random_font(rng, lang, is_code, px)
    text = _shorten(text, lang, font, config.max_ems * px)
    bg, fg = _colors(rng)
    pad_top, pad_bottom = (int(round(rng.uniform(0.05, 0.5) * px)) for _ in range(2))
    pad_x = int(round(rng.uniform(0.2, 1.0) * px))
    dx, dy = rng.uniform(0, 1, size=2)
    sigma = sample_sigma(rng, config.synth)  # drawn last: the line does not depend on the blur settings
    kind = "box3" if rng.random() < config.synth.p_box3 else "gaussian"

    ascent, descent = font.getmetrics()
    left, _, right, _ = font.getbbox(text)
    box_h, box_w = pad_top + ascent + descent + pad_bottom, pad_x + (right - left) + 1 + pad_x
    context = int(math.ceil(2 * sigma)) + 2 if blurred else 0
    margin = context + (int(math.ceil(3 * sigma)) + 2 if blurred else 0)
    canvas = Image.new("RGB", (box_w + 2 * margin, box_h + 2 * margin), bg)
    ImageDraw.Draw(canvas).text((margin + pad_x - left + dx, margin + pad_top + dy), text, font=font, fill=fg)
    sharp = torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1)[None].float().div(255)
    crop = (slice(None), slice(None), slice(margin - context, margin + box_h + context),
            slice(margin - context, margin + box_w + context))

    def as_uint8(t):
        return t[crop][0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()

    line = Line(as_uint8(sharp), text, lang, px, sigma, kind, (context, context + box_h, context, context + box_w))
    if blurred:
        line.blurred = as_uint8(chromium_blur(sharp, sigma, kind))
    return line


def to_tensor(image):
    """uint8 (H, W, 3) -> float (3, H, W) in [0, 1]."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)


# --- lines for the reader: words from the packaged word lists, blurred relative to the font size ---

READ_LANGS = ("latin", "ko", "zh", "ja")
READ_LANG_WEIGHTS = (0.55, 0.15, 0.15, 0.15)
LEXICON_LANG = {"latin": "en", "ko": "ko", "zh": "zh", "ja": "ja"}
READ_STREAM = 0x2EAD  # never the same draws as make_line or synth under one seed


@dataclass
class ReadingLineConfig:
    min_px: int = 10
    max_px: int = 36
    max_ems: float = 16.0
    max_ratio: float = 0.5        # sigma / font size; FACTS: letters stay decidable to about 0.4
    p_sharp: float = 0.2          # sigma / font size below 0.06: the reader must read sharp text too
    mild_ratio: float = 0.3       # the rest: most below this (the blurs where reading pays most) ...
    p_mild: float = 0.65          # ... this share of them
    p_box3: float = 0.4           # Chromium's software raster path
    p_rescale: float = 0.25       # a picture of text shown smaller than it was drawn
    p_jpeg: float = 0.3
    p_noise: float = 0.2
    p_shape: float = 0.25         # the line sits on a filled shape (a button, a badge, a card) on the page
    p_underline: float = 0.06     # Latin lines underlined, as links are
    lang_weights: tuple = READ_LANG_WEIGHTS  # of READ_LANGS; a recogniser without Hangul trains with ko at 0


def _lexicon_words(rng, lang, count, charset):
    words = load_lexicon(LEXICON_LANG[lang])
    picked = []
    while len(picked) < count:
        # log-uniform rank: frequent words dominate, the tail still appears
        word = words[min(len(words) - 1, int(math.exp(rng.uniform(0, math.log(len(words))))))][0]
        if all(ch in charset for ch in word):
            picked.append(word)
    return picked


CURRENCIES = ("$", "€", "£", "¥", "₩", "¢")


def _amount(rng):
    """A price, a change or a count as pages print them, in several currencies and conventions."""
    value = float(np.exp(rng.uniform(0, np.log(1e6))))
    whole, cents = int(value), int(rng.integers(0, 100))
    grouped = f"{whole:,}" if rng.random() < 0.6 else str(whole)
    if rng.random() < 0.3:  # 1.234,56 (most of Europe)
        grouped = grouped.replace(",", ".")
        number = f"{grouped},{cents:02d}"
    else:
        number = f"{grouped}.{cents:02d}" if rng.random() < 0.7 else grouped
    currency = str(rng.choice(CURRENCIES))
    forms = (f"{currency}{number}", f"{currency} {number}", f"{number} {currency}", f"{number}{currency}",
             f"{'+-'[int(rng.integers(0, 2))]}{rng.uniform(0, 100):.1f}%", f"#{rng.integers(100, 9_999_999)}",
             f"{rng.integers(1, 99)}×{rng.integers(1, 99)}", f"{rng.integers(2, 4000)}×{rng.integers(2, 4000)}",
             f"{'x×'[int(rng.integers(0, 2))]}{rng.integers(1, 100)}",  # a quantity, as receipts print it
             f"{rng.uniform(-40, 45):.0f}°C", f"±{rng.uniform(0, 10):.1f}")
    return forms[int(rng.integers(len(forms)))]


def _typeset(rng, words):
    """Typography pages print around words: quotes, dashes, ellipses, bullets, separators."""
    choice = rng.random()
    if choice < 0.08 and len(words) > 1:
        i = int(rng.integers(0, len(words)))
        words[i] = ("“" + words[i] + "”") if rng.random() < 0.6 else ("‘" + words[i] + "’")
    elif choice < 0.14 and len(words) > 2:
        words.insert(int(rng.integers(1, len(words))), str(rng.choice(["—", "–", "·", "•", "→", "|", "/"])))
    elif choice < 0.18:
        words[0] = str(rng.choice(["•", "·", "→", "©", "§"])) + " " + words[0]
    elif choice < 0.22:
        words[-1] += str(rng.choice(["…", "’s", "®", "™"]))
    return words


def _english_line(rng, charset):
    words = _lexicon_words(rng, "latin", int(rng.integers(1, 9)), charset)
    style = rng.random()
    if style < 0.35:
        words[0] = words[0].capitalize()
    elif style < 0.5:
        words = [w.capitalize() for w in words]
    elif style < 0.58:
        words = [w.upper() for w in words]
    if rng.random() < 0.2:  # a number somewhere in the line
        words.insert(int(rng.integers(0, len(words) + 1)), _latin_text(rng, "number"))
    if rng.random() < 0.15:  # an amount somewhere in the line
        words.insert(int(rng.integers(0, len(words) + 1)), _amount(rng))
    words = _typeset(rng, words)
    for i in range(len(words) - 1):
        if rng.random() < 0.08:
            words[i] += str(rng.choice([",", ":", ";"]))
    return " ".join(words) + str(rng.choice(["", "", "", ".", "?", "!", ":"]))


def korean_stems(charset):
    """Draws a word of the Korean list whose characters are all in ``charset``: ``korean_word``'s stems."""
    return lambda rng: _lexicon_words(rng, "ko", 1, charset)[0]


def korean_word(rng, draw_stem):
    """One eojeol: a stem from ``draw_stem(rng)`` (two syllables or more, not itself a particle)
    bare, with a particle that agrees with its last syllable, with a 하다 form, or a predicate alone."""
    draw = rng.random()
    if draw < 0.15:
        return str(rng.choice(KOREAN_PREDICATES))
    while True:
        stem = draw_stem(rng)
        if len(stem) >= 2 and stem not in KOREAN_MORPHEMES:
            break
    if draw < 0.3:
        return stem + str(rng.choice(KOREAN_HADA))
    if draw < 0.45:
        return stem
    if draw < 0.8:
        return attach_particle(stem, *KOREAN_PAIRED_PARTICLES[int(rng.integers(len(KOREAN_PAIRED_PARTICLES)))])
    return stem + str(rng.choice(KOREAN_PARTICLES))


def _korean_line(rng, charset):
    """Korean words as pages print them (eojeol, ``korean_word``): some behind a list marker, with a
    number or an amount among them, or ending in punctuation (the layouts' numbered lists were read
    "고." for "2." before)."""
    draw_stem = korean_stems(charset)
    words = [korean_word(rng, draw_stem) for _ in range(int(rng.integers(1, 7)))]
    if rng.random() < 0.15:  # a count or a year, alone or before its counter word
        number = str(int(np.exp(rng.uniform(0, np.log(10_000)))))
        i = int(rng.integers(0, len(words)))
        if rng.random() < 0.5:
            words.insert(i, number)
        else:
            words[i] = number + words[i]
    if rng.random() < 0.08:
        words.insert(int(rng.integers(0, len(words) + 1)), _amount(rng))
    marker = rng.random()
    if marker < 0.12:
        words[0] = f"{int(rng.integers(1, 21))}{rng.choice(['.', ')', '.'])} " + words[0]
    elif marker < 0.18:
        words[0] = str(rng.choice(["•", "·", "-", "→"])) + " " + words[0]
    for i in range(len(words) - 1):
        if rng.random() < 0.05:
            words[i] += str(rng.choice([",", ":", "·"]))
    return " ".join(words) + str(rng.choice(["", "", "", "", ".", "?", "!", "."]))


def reading_text(rng, lang, charset):
    """(text, is_code) of one line for the reader: mostly words of the language's packaged list,
    some UI labels, code, numbers and identifiers from synth's pools."""
    if lang == "latin":
        draw = rng.random()
        if draw < 0.3:
            return random_text(rng, "latin")
        if draw < 0.38:  # an amount alone: a price tag, a badge
            return _amount(rng), False
        return _english_line(rng, charset), False
    if lang == "ko":
        return _korean_line(rng, charset), False
    text = ""
    target = int(rng.integers(2, 16))
    while len(text) < target:
        text += _lexicon_words(rng, lang, 1, charset)[0]
        if rng.random() < 0.06:
            text += str(rng.choice(["、", "。", "，"] if lang == "zh" else ["、", "。"]))
    return text, False


def _blur_ratio(rng, config):
    """sigma / font size: sharp, mild (most) or strong."""
    if rng.random() < config.p_sharp:
        return float(rng.uniform(0.0, 0.06))
    if rng.random() < config.p_mild:
        return float(rng.uniform(0.06, config.mild_ratio))
    return float(rng.uniform(config.mild_ratio, config.max_ratio))


def _language_and_size(rng, config):
    """(language, font size, how much larger it was drawn than shown, the size drawn)."""
    weights = np.asarray(config.lang_weights, dtype=float)
    lang = str(rng.choice(READ_LANGS, p=weights / weights.sum()))
    px = int(round(math.exp(rng.uniform(math.log(config.min_px), math.log(config.max_px + 0.5)))))
    scale = float(rng.uniform(1.25, 2.0)) if rng.random() < config.p_rescale else 1.0
    return lang, px, scale, int(round(px * scale))


def make_reading_line(seed, index, charset, config=ReadingLineConfig()):
    """One blurred line for the reader from ``default_rng((seed, index, READ_STREAM))`` alone.

    The blur is drawn relative to the font size (sigma = ratio x px), on either Chromium raster
    path; then, as pictures of text are, it may be shown smaller, JPEG-compressed or noisy. The
    returned Line's ``blurred`` holds the line with all the context its blur spread into (a
    reader crops it as the line finder would); ``sharp`` is the unblurred rendering, same size.
    """
    rng = np.random.default_rng((seed, index, READ_STREAM))
    lang, px, scale, draw_px = _language_and_size(rng, config)
    text, is_code = reading_text(rng, lang, charset)
    font = random_font(rng, lang, is_code, draw_px)
    text = _shorten(text, lang, font, config.max_ems * draw_px)
    bg, fg = _colors(rng)
    ratio = _blur_ratio(rng, config)
    sigma = ratio * draw_px
    kind = "box3" if rng.random() < config.p_box3 else "gaussian"
    dx, dy = rng.uniform(0, 1, size=2)

    shape = rng.random() < config.p_shape
    underline = lang == "latin" and rng.random() < config.p_underline
    pad = (rng.uniform(0.25, 1.0) * draw_px, rng.uniform(0.3, 1.2) * draw_px) if shape else (0.0, 0.0)
    page = _colors(rng)[0] if shape else bg

    ascent, descent = font.getmetrics()
    left, _, right, _ = font.getbbox(text)
    margin = int(math.ceil(3 * sigma)) + int(math.ceil(0.3 * draw_px)) + 2 + int(math.ceil(max(pad)))
    box_h, box_w = ascent + descent, (right - left) + 1
    canvas = Image.new("RGB", (box_w + 2 * margin, box_h + 2 * margin), page)
    draw = ImageDraw.Draw(canvas)
    if shape:
        draw.rounded_rectangle([margin - pad[1], margin - pad[0], margin + box_w + pad[1], margin + box_h + pad[0]],
                               radius=float(rng.uniform(0, 0.5)) * (box_h + 2 * pad[0]), fill=bg)
    draw.text((margin - left + dx, margin + dy), text, font=font, fill=fg)
    if underline:
        baseline = margin + dy + ascent + max(1.0, 0.1 * draw_px)
        draw.line([margin + dx, baseline, margin + box_w + dx, baseline], fill=fg, width=max(1, round(draw_px / 14)))
    sharp_image, image, (box,), sigma = _as_picture(rng, canvas, sigma, kind, scale, [(margin, margin + box_h, margin,
                                                                                    margin + box_w)], config)
    return Line(sharp_image, text, lang, px, sigma, kind, box, image)


def _as_picture(rng, canvas, sigma, kind, scale, boxes, config):
    """A drawn canvas blurred as Chromium blurs, then as pictures of text are shown: smaller
    (``scale``), noisy, JPEG-compressed -> (sharp uint8, blurred uint8, boxes in its pixels, sigma in its pixels)."""
    sharp = torch.from_numpy(np.asarray(canvas).copy()).permute(2, 0, 1)[None].float().div(255)
    blurred = chromium_blur(sharp, sigma, kind) if sigma > 0 else sharp
    if scale != 1.0:
        size = (max(1, round(blurred.shape[-1] / scale)), max(1, round(blurred.shape[-2] / scale)))
        blurred = torch.nn.functional.interpolate(blurred, size=size[::-1], mode="area")
        sharp = torch.nn.functional.interpolate(sharp, size=size[::-1], mode="area")
        boxes = [tuple(int(round(v / scale)) for v in box) for box in boxes]
        sigma = math.hypot(sigma / scale, 0.3)  # the area filter's own softness, about 0.3 px
    image = blurred[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    if rng.random() < config.p_noise:
        image = np.clip(image + rng.normal(0, rng.uniform(0.5, 2.5), image.shape), 0, 255).round().astype(np.uint8)
    if rng.random() < config.p_jpeg:
        image = jpeg_round_trip(image, int(rng.integers(50, 96)))[0]
    return sharp[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy(), image, boxes, sigma


@dataclass
class Paragraph:
    blurred: np.ndarray     # uint8 (H, W, 3): every line and the blur they spread into each other
    texts: list             # each line's text, top to bottom
    boxes: list             # each line's (top, bottom, left, right)
    lang: str
    px: int                 # font size in device px
    sigma: float            # device px of ``blurred``


@dataclass
class ParagraphConfig(ReadingLineConfig):
    min_px: int = 9               # document text: small more often than the reader's lines
    max_px: int = 30
    min_lines: int = 2
    max_lines: int = 5
    leading: tuple = (1.1, 1.8)   # line pitch in font sizes: tight leading lets blur join the lines
    p_shape: float = 0.0
    p_underline: float = 0.0
    fill: bool = False            # lines as long as one draw of reading_text
    stream: int = 0x9A4A          # never the same draws as the single lines under one seed



def _filled_text(rng, lang, charset, font, width):
    """Reading texts joined until the line is ``width`` px long, then cut back to fit it."""
    joiner = " " if lang in ("latin", "ko") else ""
    text = reading_text(rng, lang, charset)[0]
    while font.getlength(text) < width:
        text += joiner + reading_text(rng, lang, charset)[0]
    return _shorten(text, lang, font, width)


@dataclass
class DocumentParagraphConfig(ParagraphConfig):
    """Paragraphs as document previews show them: small type, long lines, most of them a picture
    shown smaller than it was drawn and JPEG-compressed (the pictures' Korean documents, Noto Serif
    CJK at 10 px and sigma / font .18-.24, were read worst of all, EXPERIMENTS 30-1)."""
    min_px: int = 9
    max_px: int = 14
    max_ems: float = 30.0
    fill: bool = True             # each line runs to the column's width (the last one may stop short)
    min_lines: int = 3
    leading: tuple = (1.3, 1.8)
    p_rescale: float = 0.6
    p_jpeg: float = 0.45
    stream: int = 0xD0C5


def make_reading_paragraph(seed, index, charset, config=ParagraphConfig()):
    """A blurred paragraph of a few lines from ``default_rng((seed, index, config.stream))``
    alone: one language, font and size, the lines ``leading`` font sizes apart, so that blur
    bleeds each line into its neighbours as it does in the documents users read. A reader's
    training cuts each line where the line finder finds it."""
    rng = np.random.default_rng((seed, index, config.stream))
    lang, px, scale, draw_px = _language_and_size(rng, config)
    font = random_font(rng, lang, False, draw_px)
    count = int(rng.integers(config.min_lines, config.max_lines + 1))
    if config.fill:
        column = float(rng.uniform(0.6, 1.0)) * config.max_ems * draw_px
        texts = [_filled_text(rng, lang, charset, font, column if row < count - 1 else rng.uniform(0.2, 1.0) * column)
                 for row in range(count)]
    else:
        texts = [_shorten(reading_text(rng, lang, charset)[0], lang, font, config.max_ems * draw_px)
                 for _ in range(count)]
    bg, fg = _colors(rng)
    sigma = _blur_ratio(rng, config) * draw_px
    kind = "box3" if rng.random() < config.p_box3 else "gaussian"
    pitch = float(rng.uniform(*config.leading)) * draw_px

    ascent, descent = font.getmetrics()
    extents = [font.getbbox(text) for text in texts]
    width = max(right - left for left, _, right, _ in extents) + 1
    margin = int(math.ceil(3 * sigma)) + int(math.ceil(0.3 * draw_px)) + 2
    canvas = Image.new("RGB", (width + 2 * margin, int(math.ceil(pitch * (count - 1))) + ascent + descent + 2 * margin),
                       bg)
    draw = ImageDraw.Draw(canvas)
    boxes = []
    for row, (text, (left, _, right, _)) in enumerate(zip(texts, extents)):
        top = margin + int(round(row * pitch))
        draw.text((margin - left, top), text, font=font, fill=fg)
        boxes.append((top, top + ascent + descent, margin, margin + right - left + 1))
    _, image, boxes, sigma = _as_picture(rng, canvas, sigma, kind, scale, boxes, config)
    return Paragraph(image, texts, boxes, lang, px, sigma)
