"""Pixels-only dev set: pictures of text (cards, chat bubbles, headlines, receipts, document fragments,
buttons) that a page shows as images, with no live text under them, blurred as images.

    python -m models.data.pixset --out models/pixset [--count 120] [--seed 0] [--only 0,7]

Each sample is an element written in HTML/CSS, rendered by Debian chromium at DPR 1 or 2 and
screenshotted with a margin of its scene background: the picture as drawn. Some pictures are then
shown smaller than drawn (downscaled by 0.45-0.9, antialiased bilinear); that served picture,
unblurred, is the sharp reference. The blur is applied in pixels to the served picture, as a site
blurs an image: ``models.data.blur.gaussian_blur`` (or ``box3_blur``, Chromium's software-raster
kernel, for some with sigma >= 1), reflect-padded at the border; sigma is drawn as a share of the
font size, 0.04-0.4, stratified over four buckets. Some blurred pictures are stored as JPEG
(quality 50-95), the rest as PNG. Languages en/ko/ja/zh (half en), light and dark themes.

The words come from hand-written pools (models/data/pixset_text.py), not from the training
lexicon. Each sample keeps its text per visual line with the line's box, taken from the DOM
(a Range per character, grouped by line) and mapped into the stored picture's pixels.
Deterministic under ``--seed``: the specs are a pure function of (seed, count), and each
sample's content of (seed, index).
"""
import argparse
import html
import io
import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from models.data.blur import box3_blur, gaussian_blur
from models.data.chromium_devset import CHROMIUM, chromium_version, launch, read_manifest, save_png, to_tensor, to_uint8
from models.data.pixset_text import (AUTHORS, BUTTONS, CARDS, DOC_HEADINGS, DOC_SENTENCES, HEADLINES, KICKERS,
                                     MESSAGES, RECEIPTS, SECONDARY_BUTTONS)
from models.data.synth import jpeg_round_trip

LANGS = ("en", "ko", "ja", "zh")
LANG_CYCLE = ("en", "ko", "en", "ja", "en", "zh")  # half en, each CJK language a sixth
KINDS = ("card", "bubble", "headline", "receipt", "document", "button")
RATIO_BUCKETS = ((0.04, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4))  # sigma / font size
SCALE_RANGE = (0.45, 0.9)
P_DOWNSCALE, P_JPEG, P_DARK, P_BOX3 = 0.4, 0.4, 0.35, 0.25
JPEG_QUALITY = (50, 95)
MIN_SERVED_PX = {"en": 8.0, "ko": 10.0, "ja": 10.0, "zh": 10.0}  # smallest text a downscale may leave
VIEWPORT = {"width": 1000, "height": 1000}
SAMPLE_KEYS = ("id", "sharp", "blurred", "text", "lines", "lang", "kind", "theme", "font", "font_px", "render_dpr",
               "scale", "sigma_px", "sigma_over_font", "blur_kind", "jpeg_quality", "width", "height")

FONTS = {
    "en": {"sans": ("DejaVu Sans", "Liberation Sans", "Noto Sans"),
           "serif": ("DejaVu Serif", "Liberation Serif", "Noto Serif"),
           "mono": ("DejaVu Sans Mono", "Liberation Mono")},
    **{lang: {"sans": (f"Noto Sans CJK {tag}",), "serif": (f"Noto Serif CJK {tag}",), "mono": (f"Noto Sans Mono CJK {tag}",)}
       for lang, tag in (("ko", "KR"), ("ja", "JP"), ("zh", "SC"))},
}
FONT_CLASSES = {"card": ("sans", "sans", "serif"), "bubble": ("sans",), "headline": ("serif", "sans"),
                "receipt": ("mono",), "document": ("serif", "serif", "sans"), "button": ("sans",)}
# base font size in CSS px (the body text; titles are larger, meta lines smaller), log-uniform
BASE_SIZES = {"card": (12, 17), "bubble": (12, 17), "headline": (18, 40), "receipt": (11, 15), "document": (11, 16),
              "button": (11, 18)}

THEMES = {
    "light": {"scene": ("#ffffff", "#f0f2f5", "#f7f4ee", "#eef1f6"), "surface": ("#ffffff", "#fbfbfd"),
              "ink": ("#111111", "#1c1e21", "#2b2b2b"), "muted": ("#65676b", "#6b7280", "#5f6368"),
              "incoming": ("#e9e9eb", "#111111")},
    "dark": {"scene": ("#121212", "#18191a", "#0f1115", "#1e1f22"), "surface": ("#242526", "#2b2d31", "#1f2937"),
             "ink": ("#f2f2f2", "#e4e6eb", "#ffffff"), "muted": ("#b0b3b8", "#9ca3af", "#a8adb4"),
             "incoming": ("#2c2c2e", "#f2f2f2")},
}
ACCENTS = ("#0b57d0", "#1a73e8", "#198754", "#c2410c", "#7c3aed", "#be123c", "#0f766e")
# outgoing chat bubbles as the apps people use in each language colour them: (background, text)
OUTGOING = {"en": ("#0b84ff", "#ffffff"), "ko": ("#fee500", "#191919"), "ja": ("#8de055", "#111111"),
            "zh": ("#95ec69", "#111111")}
CHAT_SCENE = {"ko": ("#b2c7da", "#1c2a36"), "zh": ("#ededed", "#111111")}  # (light, dark) chat wallpapers


# ---------------------------------------------------------------- specs

def _bucket_cycle(rng, count):
    start = rng.randrange(len(RATIO_BUCKETS))
    return [(start + j) % len(RATIO_BUCKETS) for j in range(count)]


def make_specs(count=120, seed=0):
    """``count`` sample specs: language, kind, theme, font, sizes and degradations, deterministic under ``seed``.

    Languages follow LANG_CYCLE; within each language the kinds are balanced, and the sigma / font
    buckets are cycled over its samples taken kind by kind (so each language has them in equal
    shares, and each kind spans them)."""
    rng = random.Random(seed)
    langs = [LANG_CYCLE[i % len(LANG_CYCLE)] for i in range(count)]
    kind_of, bucket_of = {}, {}
    for lang in LANGS:
        ids = [i for i, l in enumerate(langs) if l == lang]
        offset = rng.randrange(len(KINDS))
        kinds = [KINDS[(offset + j) % len(KINDS)] for j in range(len(ids))]
        rng.shuffle(kinds)
        kind_of.update(zip(ids, kinds))
        by_kind = [i for kind in KINDS for i in ids if kind_of[i] == kind]
        bucket_of.update(zip(by_kind, _bucket_cycle(rng, len(by_kind))))
    return [_spec(index, langs[index], kind_of[index], bucket_of[index], seed) for index in range(count)]


def _spec(index, lang, kind, bucket, seed):
    rng = random.Random(f"pixset-{seed}-{index}")
    theme = "dark" if rng.random() < P_DARK else "light"
    font_class = rng.choice(FONT_CLASSES[kind])
    low, high = BASE_SIZES[kind]
    base = round(math.exp(rng.uniform(math.log(low), math.log(high))), 1)
    dpr = rng.choice((1, 2))
    scale = 1.0
    if rng.random() < P_DOWNSCALE:
        scale = round(rng.uniform(*SCALE_RANGE), 3)
    low, high = RATIO_BUCKETS[bucket]
    spec = {
        "index": index, "id": f"px{index:03d}_{lang}_{kind}", "lang": lang, "kind": kind, "theme": theme,
        "font": rng.choice(FONTS[lang][font_class]), "font_class": font_class, "base_css": base,
        "render_dpr": dpr, "scale": scale, "ratio": round(rng.uniform(low, high), 4),
        "blur_kind": "box3" if rng.random() < P_BOX3 else "gaussian",
        "jpeg_quality": rng.randint(*JPEG_QUALITY) if rng.random() < P_JPEG else None,
    }
    spec["blocks"], spec["style"] = content(kind, lang, theme, base, rng)
    smallest = min(block["size"] for block in spec["blocks"])
    floor = MIN_SERVED_PX[lang] / (smallest * dpr)  # a downscale must leave the smallest text drawable
    if scale < 1 and floor >= 1:
        spec["scale"] = 1.0
    elif scale < floor:
        spec["scale"] = round(floor, 3)
    return spec


# ---------------------------------------------------------------- content

def _block(role, text, size, **style):
    return {"role": role, "text": text, "size": round(size, 1), **style}


def _joiner(lang):
    return " " if lang in ("en", "ko") else ""


def _price(lang, rng, currency):
    if lang == "ko":
        value = rng.randint(8, 120) * 100
        return value, f"{value:,}원"
    if lang == "ja":
        value = rng.randint(9, 98) * 10
        return value, f"¥{value:,}" if currency == "¥" else f"{value:,}円"
    value = rng.randint(99, 1299) / 100 if lang == "en" else rng.randint(200, 6000) / 100
    if lang == "zh":
        return value, f"¥{value:.2f}" if currency == "¥" else f"{value:.2f}元"
    return value, f"{currency}{value:.2f}"


def _money(lang, value, currency):
    if lang == "ko":
        return f"{round(value):,}원"
    if lang == "ja":
        return f"¥{round(value):,}" if currency == "¥" else f"{round(value):,}円"
    if lang == "zh":
        return f"¥{value:.2f}" if currency == "¥" else f"{value:.2f}元"
    return f"{currency}{value:,.2f}"


def _date(lang, rng):
    month, day, hour, minute = rng.randint(1, 12), rng.randint(1, 28), rng.randint(7, 22), rng.randint(0, 59)
    year = rng.choice((2023, 2024, 2025))
    if lang == "en":
        return rng.choice((f"{month:02d}/{day:02d}/{year} {hour:02d}:{minute:02d}",
                           f"{day} {('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')[month - 1]}"
                           f" {year}, {hour % 12 or 12}:{minute:02d} {'PM' if hour >= 12 else 'AM'}"))
    if lang == "ja":
        return f"{year}年{month}月{day}日 {hour}:{minute:02d}"
    if lang == "ko" and rng.random() < 0.5:
        return f"{year}.{month:02d}.{day:02d} {hour:02d}:{minute:02d}"
    return f"{year}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}"


def _byline(lang, rng):
    author, date = rng.choice(AUTHORS[lang]), _date(lang, rng)
    if lang == "en":
        return f"By {author} · {rng.randint(2, 12)} min read"
    if lang == "ko":
        return f"{author} 기자 · 입력 {date}"
    if lang == "ja":
        return f"{author} · {date} 配信"
    return f"{author} · {date}"


def content(kind, lang, theme, base, rng):
    """(blocks, style) of one picture: blocks are its text elements in reading order, each a dict
    with role, text (or left/right for a receipt row), CSS size in px and style hints."""
    palette = THEMES[theme]
    style = {"scene": rng.choice(palette["scene"]), "surface": rng.choice(palette["surface"]),
             "ink": rng.choice(palette["ink"]), "muted": rng.choice(palette["muted"]), "accent": rng.choice(ACCENTS),
             "radius": rng.randint(4, 16), "pad": rng.randint(8, 20)}
    if kind == "headline":
        blocks = []
        if rng.random() < 0.5:
            blocks.append(_block("kicker", rng.choice(KICKERS[lang]), max(10, base * 0.45), color=style["accent"], bold=True))
        blocks.append(_block("title", rng.choice(HEADLINES[lang]), base, bold=rng.random() < 0.8))
        if rng.random() < 0.4:
            blocks.append(_block("meta", _byline(lang, rng), max(10, base * 0.45), color=style["muted"]))
        style["width"] = rng.randint(320, 620)
        return blocks, style
    if kind == "button":
        style.update(button=rng.choice(ACCENTS), pill=rng.random() < 0.4, outline=rng.random() < 0.2)
        blocks = [_block("button", rng.choice(BUTTONS[lang]), base, bold=rng.random() < 0.7)]
        if rng.random() < 0.3:
            blocks.append(_block("button2", rng.choice(SECONDARY_BUTTONS[lang]), base, bold=False))
        return blocks, style
    if kind == "bubble":
        if lang in CHAT_SCENE:
            style["scene"] = CHAT_SCENE[lang][theme == "dark"]
        style["width"] = rng.randint(200, 300)
        count = rng.choice((1, 1, 2, 3))
        side = rng.random() < 0.5
        blocks = []
        for text in rng.sample(MESSAGES[lang], count):
            blocks.append(_block("out" if side else "in", text, base))
            side = not side if rng.random() < 0.7 else side
        return blocks, style
    if kind == "card":
        title, body, meta = rng.choice(CARDS[lang])
        fill = {"n": rng.randint(12, 980), "k": rng.randint(2, 15), "d": rng.randint(1, 28),
                "t": rng.randint(10 ** 9, 10 ** 10 - 1)}
        blocks = [_block("title", title.format(**fill), base * rng.choice((1.2, 1.3, 1.5)), bold=True),
                  _block("body", body.format(**fill), base)]
        if rng.random() < 0.8:
            blocks.append(_block("meta", meta.format(**fill), max(10, base * 0.85), color=style["muted"]))
        style["width"] = rng.randint(220, 360)
        return blocks, style
    if kind == "receipt":
        pools = RECEIPTS[lang]
        currency = {"en": rng.choice(("$", "£", "€")), "ja": rng.choice(("¥", "円")), "zh": rng.choice(("¥", "元"))}.get(lang, "원")
        subtotal_label, tax_label, total_label, payers, thanks = pools["labels"]
        blocks = [_block("store", rng.choice(pools["stores"]), base * 1.3, bold=True, align="center"),
                  _block("meta", _date(lang, rng), max(10, base * 0.9), align="center", color=style["muted"])]
        total = 0
        for item in rng.sample(pools["items"], rng.randint(2, 5)):
            quantity = rng.choice((1, 1, 1, 2, 3))
            unit, _ = _price(lang, rng, currency)
            total += unit * quantity
            name = item if quantity == 1 else f"{item} x{quantity}"
            blocks.append(_block("row", None, base, left=name, right=_money(lang, unit * quantity, currency)))
        with_tax = rng.random() < 0.5
        if with_tax:
            tax = total * {"en": 0.08, "ko": 0.1, "ja": 0.1, "zh": 0.06}[lang]
            blocks.append(_block("row", None, base, left=subtotal_label, right=_money(lang, total, currency), rule=True))
            blocks.append(_block("row", None, base, left=tax_label, right=_money(lang, tax, currency)))
            total += tax
        blocks.append(_block("row", None, base * 1.1, left=total_label, right=_money(lang, total, currency), bold=True,
                             rule=not with_tax))
        if rng.random() < 0.6:
            blocks.append(_block("meta", rng.choice(payers), max(10, base * 0.9), color=style["muted"]))
        if rng.random() < 0.5:
            blocks.append(_block("meta", pools["receipt_no"].format(n=rng.randint(10000, 99999)), max(10, base * 0.9),
                                 color=style["muted"]))
        blocks.append(_block("thanks", rng.choice(thanks), max(10, base * 0.9), align="center"))
        style["width"] = rng.randint(230, 320)
        style["paper"] = "#fffef8" if theme == "light" else "#202124"
        return blocks, style
    if kind == "document":
        blocks = []
        if rng.random() < 0.6:
            blocks.append(_block("heading", rng.choice(DOC_HEADINGS[lang]), base * 1.25, bold=True))
        sentences = rng.sample(DOC_SENTENCES[lang], rng.randint(2, 4))
        blocks.append(_block("paragraph", _joiner(lang).join(sentences), base, justify=rng.random() < 0.4))
        style["width"] = rng.randint(280, 460)
        return blocks, style
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


# ---------------------------------------------------------------- HTML

def _font_stack(spec):
    generic = {"sans": "sans-serif", "serif": "serif", "mono": "monospace"}[spec["font_class"]]
    return f"'{spec['font']}', {generic}"


def _text_css(block):
    rules = [f"font-size:{block['size']}px", f"font-weight:{700 if block.get('bold') else 400}"]
    if block.get("color"):
        rules.append(f"color:{block['color']}")
    if block.get("align"):
        rules.append(f"text-align:{block['align']}")
    if block.get("justify"):
        rules.append("text-align:justify")
    return ";".join(rules)


def _line(block, tag="div", extra=""):
    css = _text_css(block) + (";" + extra if extra else "")
    if block["role"] == "row":
        rule = ";border-top:1px dashed currentColor;padding-top:0.3em;margin-top:0.3em" if block.get("rule") else ""
        return (f'<div class="ln" style="{css};display:flex;justify-content:space-between;gap:1.2em{rule}">'
                f'<span>{html.escape(block["left"])}</span><span>{html.escape(block["right"])}</span></div>')
    return f'<{tag} class="ln" style="{css}">{html.escape(block["text"])}</{tag}>'


def sample_html(spec):
    """The page of one sample: ``#pic`` at the top left holds the picture, every text in a ``.ln``."""
    style, kind, blocks = spec["style"], spec["kind"], spec["blocks"]
    margin = style["pad"]
    if kind == "headline":
        inner = "".join(_line(b, extra="line-height:1.2;margin:0.15em 0") for b in blocks)
        body = f'<div style="max-width:{style["width"]}px;color:{style["ink"]}">{inner}</div>'
    elif kind == "button":
        buttons = []
        for b in blocks:
            primary = b["role"] == "button"
            if primary and not style["outline"]:
                look = f"background:{style['button']};color:#ffffff"
            elif primary:
                look = f"border:2px solid {style['button']};color:{style['button']}"
            else:
                look = f"border:1px solid {style['muted']};color:{style['ink']}"
            radius = "999px" if style["pill"] else f"{style['radius'] // 2 + 2}px"
            buttons.append(_line(b, "span", f"display:inline-block;{look};border-radius:{radius};padding:0.55em 1.3em;"
                                            "white-space:nowrap;line-height:1.2"))
        body = f'<div style="display:flex;gap:10px;align-items:center">{"".join(buttons)}</div>'
    elif kind == "bubble":
        rows = []
        for b in blocks:
            if b["role"] == "out":
                bg, ink = OUTGOING[spec["lang"]]
                align = "flex-end"
            else:
                bg, ink = THEMES[spec["theme"]]["incoming"]
                align = "flex-start"
            rows.append(f'<div style="display:flex;justify-content:{align};margin:4px 0">'
                        + _line(b, extra=f"background:{bg};color:{ink};padding:0.45em 0.8em;border-radius:1.1em;"
                                         f"max-width:{style['width']}px;line-height:1.35") + "</div>")
        body = f'<div style="width:{style["width"] + 60}px">{"".join(rows)}</div>'
    elif kind == "card":
        inner = "".join(_line(b, extra="line-height:1.35;margin:0.2em 0") for b in blocks)
        body = (f'<div style="width:{style["width"]}px;background:{style["surface"]};color:{style["ink"]};'
                f'border-radius:{style["radius"]}px;padding:{style["pad"] + 4}px;box-shadow:0 1px 4px rgba(0,0,0,.25)">'
                f'<div style="height:6px;width:40px;background:{style["accent"]};border-radius:3px;margin-bottom:8px"></div>'
                f'{inner}</div>')
    elif kind == "receipt":
        inner = "".join(_line(b, extra="line-height:1.4;margin:0.15em 0") for b in blocks)
        body = (f'<div style="width:{style["width"]}px;background:{style["paper"]};color:{style["ink"]};'
                f'padding:{style["pad"] + 6}px {style["pad"]}px">{inner}</div>')
    else:  # document
        inner = "".join(_line(b, "p", "line-height:1.5;margin:0 0 0.4em") for b in blocks)
        body = (f'<div style="width:{style["width"]}px;background:{style["surface"]};color:{style["ink"]};'
                f'padding:{style["pad"] + 6}px">{inner}</div>')
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><style>"
            f"body{{margin:0;background:{style['scene']}}} #pic{{position:absolute;left:0;top:0;padding:{margin}px;"
            f"background:{style['scene']};font-family:{_font_stack(spec)}}}"
            # Korean pages break lines between words, as Korean sites set them
            + ("#pic{word-break:keep-all}" if spec["lang"] == "ko" else "") +
            f"</style></head><body><div id=\"pic\" lang=\"{spec['lang']}\">{body}</div></body></html>")


# ---------------------------------------------------------------- rendering

# Per .ln element: one Range per character, grouped into visual lines by vertical position; the
# text nodes of one element are joined by a space (a receipt row's item and price).
LINES_JS = """() => {
  const pic = document.getElementById('pic').getBoundingClientRect();
  const lines = [];
  for (const el of document.querySelectorAll('#pic .ln')) {
    const size = parseFloat(getComputedStyle(el).fontSize);
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    let cur = null, node, gap = false;
    while ((node = walker.nextNode())) {
      if (cur) gap = true;
      for (let i = 0; i < node.length; i++) {
        const ch = node.data[i];
        if (/\\s/.test(ch)) { gap = true; continue; }
        range.setStart(node, i); range.setEnd(node, i + 1);
        const r = range.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        const mid = (r.top + r.bottom) / 2;
        if (!cur || mid > cur.bottom) {
          cur = {text: '', left: r.left, top: r.top, right: r.right, bottom: r.bottom, size: size};
          lines.push(cur);
        } else if (gap) {
          cur.text += ' ';
        }
        gap = false;
        cur.text += ch;
        cur.left = Math.min(cur.left, r.left); cur.top = Math.min(cur.top, r.top);
        cur.right = Math.max(cur.right, r.right); cur.bottom = Math.max(cur.bottom, r.bottom);
      }
    }
  }
  return {width: pic.width, height: pic.height,
          lines: lines.map(l => ({text: l.text, size: l.size,
                                  box: [l.left - pic.left, l.top - pic.top, l.right - pic.left, l.bottom - pic.top]}))};
}"""


def render(page, spec):
    """(drawn uint8 HxWx3 picture, layout) of one spec on a page at its DPR; layout in CSS px."""
    page.set_content(sample_html(spec))
    page.evaluate("document.fonts.ready.then(() => true)")
    layout = page.evaluate(LINES_JS)
    width, height = math.ceil(layout["width"]), math.ceil(layout["height"])
    if width > VIEWPORT["width"] or height > VIEWPORT["height"]:
        raise RuntimeError(f"{spec['id']}: picture {width}x{height} CSS px overflows the viewport")
    shot = page.screenshot(clip={"x": 0, "y": 0, "width": width, "height": height})
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")), layout


def serve(drawn, scale):
    """The picture shown ``scale`` times its drawn size (antialiased bilinear), uint8."""
    if scale >= 1:
        return drawn
    height, width = drawn.shape[:2]
    size = (max(8, round(height * scale)), max(8, round(width * scale)))
    return to_uint8(torch.nn.functional.interpolate(to_tensor(drawn), size=size, mode="bilinear", antialias=True,
                                                    align_corners=False))


def degrade(served, sigma, blur_kind, quality):
    """(blurred uint8 array as stored, its file bytes or None for PNG) of a served picture."""
    kernel = box3_blur if blur_kind == "box3" else gaussian_blur
    blurred = to_uint8(kernel(to_tensor(served), sigma))
    if quality is None:
        return blurred, None
    return jpeg_round_trip(blurred, quality)


def make_sample(spec, drawn, layout):
    """(sharp, blurred, blurred JPEG bytes or None, manifest row) of one rendered spec."""
    dpr = spec["render_dpr"]
    sharp = serve(drawn, spec["scale"])
    sy, sx = sharp.shape[0] / drawn.shape[0] * dpr, sharp.shape[1] / drawn.shape[1] * dpr  # CSS px -> stored px
    font_px = min(line["size"] for line in layout["lines"]) * dpr * spec["scale"]
    sigma = round(spec["ratio"] * font_px, 3)
    blur_kind = spec["blur_kind"] if sigma >= 1 else "gaussian"  # box3 leaves sigma < 0.8 unblurred
    blurred, jpeg = degrade(sharp, sigma, blur_kind, spec["jpeg_quality"])
    lines = []
    for line in layout["lines"]:
        left, top, right, bottom = line["box"]
        x, y = max(0, math.floor(left * sx)), max(0, math.floor(top * sy))
        w = min(sharp.shape[1], math.ceil(right * sx)) - x
        h = min(sharp.shape[0], math.ceil(bottom * sy)) - y
        px = line["size"] * dpr * spec["scale"]
        lines.append({"text": line["text"], "box": [x, y, w, h], "font_px": round(px, 2),
                      "sigma_over_font": round(sigma / px, 4)})
    stem = f"px{spec['index']:03d}"
    row = {
        "id": spec["id"], "sharp": f"{stem}_sharp.png", "blurred": f"{stem}_blurred.{'png' if jpeg is None else 'jpg'}",
        "text": "\n".join(line["text"] for line in lines), "lines": lines, "lang": spec["lang"], "kind": spec["kind"],
        "theme": spec["theme"], "font": spec["font"], "font_px": round(font_px, 2), "render_dpr": dpr,
        "scale": spec["scale"], "downscaled": spec["scale"] < 1, "sigma_px": sigma,
        "sigma_over_font": round(sigma / font_px, 4), "blur_kind": blur_kind, "jpeg_quality": spec["jpeg_quality"],
        "width": int(sharp.shape[1]), "height": int(sharp.shape[0]),
        # the keys models/evaluation/evaluate.py reads, as models/docset fills them (a picture: DPR 1)
        "element": spec["index"], "size_css": round(font_px, 2), "dpr": 1, "blur_css": sigma, "raster": "picture",
    }
    return sharp, blurred, jpeg, row


def build_pixset(out, count=120, seed=0, only=None, log=print):
    """Render, degrade and store the samples (all of ``count``, or the indices in ``only``) with manifest.json."""
    from playwright.sync_api import sync_playwright

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("px*.png"), *out.glob("px*.jpg")]:
        old.unlink()
    specs = make_specs(count, seed)
    if only is not None:
        specs = [specs[i] for i in only]
    samples = []
    with sync_playwright() as playwright:
        browser = launch(playwright, "software")
        try:
            pages = {dpr: browser.new_page(viewport=VIEWPORT, device_scale_factor=dpr) for dpr in (1, 2)}
            for number, spec in enumerate(specs, start=1):
                drawn, layout = render(pages[spec["render_dpr"]], spec)
                sharp, blurred, jpeg, row = make_sample(spec, drawn, layout)
                save_png(sharp, out / row["sharp"])
                if jpeg is None:
                    save_png(blurred, out / row["blurred"])
                else:
                    (out / row["blurred"]).write_bytes(jpeg)
                samples.append(row)
                if number % 20 == 0:
                    log(f"{number}/{len(specs)} pictures")
        finally:
            browser.close()
    manifest = {
        "version": 1, "set": "pixset", "seed": seed, "count": count, "chromium": chromium_version(),
        "blur": "pixels: models.data.blur gaussian_blur or box3_blur on the served picture, reflect-padded",
        "units": {"sigma_px": "stored-image px", "font_px": "stored-image px (CSS font-size x render_dpr x scale)",
                  "box": "[x, y, w, h] in stored-image px"},
        "samples": samples,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def read_pixset(folder):
    """The set's manifest, checked as the dev set's (evaluate.py's keys, both images exist) and for this set's keys."""
    manifest = read_manifest(folder)
    for sample in manifest["samples"]:
        missing = [key for key in SAMPLE_KEYS if key not in sample]
        if missing:
            raise ValueError(f"{folder}/manifest.json: sample {sample.get('id')!r} lacks {missing}")
    return manifest


def summary(samples):
    """Counts by language, kind, sigma / font bucket and degradation, for the CLI and the docs."""
    def count(key):
        result = {}
        for sample in samples:
            value = key(sample)
            result[value] = result.get(value, 0) + 1
        return dict(sorted(result.items()))

    def bucket(sample):
        return next(f"{low:g}-{high:g}" for low, high in RATIO_BUCKETS if sample["sigma_over_font"] <= high + 1e-9)

    return {"lang": count(lambda s: s["lang"]), "kind": count(lambda s: s["kind"]), "sigma_over_font": count(bucket),
            "theme": count(lambda s: s["theme"]), "downscaled": count(lambda s: s["downscaled"]),
            "jpeg": count(lambda s: s["jpeg_quality"] is not None), "blur_kind": count(lambda s: s["blur_kind"]),
            "lines": count(lambda s: min(len(s["lines"]), 4))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="models/pixset", help="output folder (its px* images are replaced)")
    parser.add_argument("--count", type=int, default=120, help="samples in the set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="comma-separated sample indices to build (a quick look)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: install Debian chromium (make system-deps)")
    only = [int(i) for i in args.only.split(",")] if args.only else None
    torch.set_num_threads(1)
    manifest = build_pixset(args.out, args.count, args.seed, only)
    size = sum(p.stat().st_size for p in Path(args.out).iterdir())
    print(f"{len(manifest['samples'])} samples, {size / 1e6:.2f} MB in {args.out}")
    print(json.dumps(summary(manifest["samples"]), ensure_ascii=False))


if __name__ == "__main__":
    main()
