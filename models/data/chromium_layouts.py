"""Web-like page layouts rendered by Chromium, every text line labelled from the DOM: the data a
learned line detector trains on, and the benchmark any line finder is measured on.

    python -m models.data.chromium_layouts --pages 500 --splits tune,test --out runs/layouts [--seed 0]

Page ``i`` is a pure function of (seed, i): its template family is ``FAMILIES[i % len(FAMILIES)]``
(paragraphs, quotations, code blocks, tables, cards, buttons and chips, chat bubbles, receipts,
forms, lists, navigation bars, links, icons beside text, multi-column articles ...), its language
(en/ko/ja/zh), theme (light or dark), colours, body size (half of the pages 9-14 CSS px), width
and the words drawn with ``numpy.random.default_rng((seed, i, ...))``. Words come only from the
shipped wordfreq lexicons (``models.data.lexicon``) and the training pools of ``models.data.synth``
(code lines, UI labels); Korean prose joins particles and endings to its words as Korean prints
them (``models.data.lines.korean_word``); numbers and prices are drawn.

Each page is rendered once on one raster path (software or GPU) at DPR 1 or 2: a sharp full-page
screenshot, then ``len(RATIO_STRATA)`` blurred captures, one per stratum of sigma / body font size
(0-.1, .1-.2, .2-.3, .3-.5): most under CSS ``filter: blur(r)`` on the layout (as pages blur), one
at random as a picture is blurred (the sharp capture downscaled 0.5-1x, Gaussian-blurred at the
served size, JPEG 50-95). Lines come from the DOM: per character ``Range.getClientRects``, grouped
into one line per row of each layout box (the nearest ancestor that is not ``display: inline``;
fragments of one row further apart than ``LINE_GAP_EM`` are separate lines, as a receipt's columns
are), with the line's text, font size and its box in device px; ``ink`` is the tight box of the
sharp capture's ink inside it (what a line finder should find; the DOM box spans the font's whole
ascent and descent).

**Families are split whole** (``FAMILY_SPLIT``, declared, not drawn): a detector trains on
``train`` families, its thresholds are chosen on ``tune`` and it is reported on ``test``, so the
figures are on layouts it never saw. Each held-out family has a sibling in train that shares its
parts (a quotation's rule / a callout's accent, a bordered code block / a terminal, chat bubbles /
pills and cards, a receipt's columns / a price list) but not its layout.

Shards as ``models.data.chromium_corpus`` writes them: ``shard-<first page>-<count>.npy`` (encoded
captures back to back) and ``.json`` (per page its spec, lines and captures), the ``.json`` written
last; a rerun renders only the pages no shard holds. The folder belongs under ``runs/``.
"""
import argparse
import html
import json
import math
import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from models.data.blur import chromium_blur
from models.data.chromium_corpus import _consecutive, covered_elements, decode_png, encode_png, shard_indexes
from models.data.chromium_devset import (CJK_FONTS, FONTS, RASTER_ARGS, browser_rasters, chromium_version, launch,
                                         settled_screenshot)
from models.data.lexicon import load_lexicon
from models.data.lines import korean_word
from models.data.synth import CODE_LINES, UI_LABELS, jpeg_round_trip

VERSION = 4                # 2: half the table_ruled pages ruled between rows only (other families as in 1)
                           # 3: Korean running text in eojeol (other languages, labels and cells as in 2)
                           # 4: dividers (solid, dashed or dotted) in the train families article, card and
                           #    price_list; tune and test families as in 3
SPLITS = ("train", "tune", "test")
FAMILY_SPLIT = {
    "article": "train", "links": "train", "card": "train", "callout": "train", "buttons": "train",
    "chips": "train", "bullet_list": "train", "price_list": "train", "table_ruled": "train",
    "nav_bar": "train", "icon_text": "train", "terminal": "train", "hero": "train",
    "numbered_list": "tune", "form": "tune", "table_plain": "tune", "footer": "tune",
    "quotation": "test", "code_block": "test", "chat": "test", "receipt": "test", "multi_column": "test",
}
FAMILIES = tuple(sorted(FAMILY_SPLIT))
LANGS = ("en", "ko", "ja", "zh")
LANG_WEIGHTS = (0.55, 0.15, 0.15, 0.15)
DPRS = (1, 2)
RATIO_STRATA = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.5))  # sigma / body font size, one capture each
LINE_GAP_EM = 1.2         # fragments of one row of a layout box further apart than this are separate lines
PAGE_PAD = 28             # CSS px of page around the layout: holds 3 sigma of the strongest CSS blur
LEXICON_RANKS = 6000      # words are drawn from each language's most frequent ones
INK_LEVELS = 40           # of 255: a pixel this far from its line box's commonest colour is ink
INK_SHARE = 0.35          # ... or this share of the box's strongest contrast, if that is more


def family_split(family):
    return FAMILY_SPLIT[family]


def families_of(split):
    return tuple(f for f in FAMILIES if FAMILY_SPLIT[f] == split)


def page_family(index):
    return FAMILIES[index % len(FAMILIES)]


def chosen_families(splits, families=None):
    """The families of ``splits``, or of those only ``families``; ValueError where one is not of them."""
    offered = {family for split in splits for family in families_of(split)}
    if families is not None and set(families) - offered:
        raise ValueError(f"unknown families {sorted(set(families) - offered)} for the splits {sorted(splits)}; "
                         f"expected some of {sorted(offered)}")
    return offered if families is None else set(families)


def page_indices(count, splits):
    """The page ids below ``count`` whose family belongs to one of ``splits``."""
    return [i for i in range(count) if FAMILY_SPLIT[page_family(i)] in splits]


# ---------------------------------------------------------------- words

@lru_cache(maxsize=None)
def _vocabulary(lang):
    words = [w for w, _ in load_lexicon(lang)[:LEXICON_RANKS]]
    # wordfreq splits Korean into morphemes: one-syllable particles alone do not look like words
    return tuple(w for w in words if lang != "ko" or len(w) >= 2)


def phrase(rng, lang, low, high, running=False):
    """``low``-``high`` lexicon words, spaced as the language spaces them. ``running`` Korean is
    written as prose prints it, in eojeol (``lines.korean_word``: particles and endings on their
    word); otherwise Korean words stand bare, as in labels and table cells."""
    draw = _draw_from(_vocabulary(lang))
    count = int(rng.integers(low, high + 1))
    if running and lang == "ko":
        return " ".join(korean_word(rng, draw) for _ in range(count))
    words = [draw(rng) for _ in range(count)]
    return ("" if lang in ("zh", "ja") else " ").join(words)


def _draw_from(vocabulary):
    return lambda rng: vocabulary[int(rng.integers(len(vocabulary)))]


def sentence(rng, lang, low=5, high=14):
    text = phrase(rng, lang, low, high, running=True)
    if lang in ("zh", "ja"):
        return text + "。"
    return (text[0].upper() + text[1:] if lang == "en" else text) + "."


def title(rng, lang, low=2, high=5):
    text = phrase(rng, lang, low, high)
    return " ".join(w.capitalize() for w in text.split(" ")) if lang == "en" else text


def label(rng, lang):
    return str(rng.choice(UI_LABELS)) if lang == "en" else phrase(rng, lang, 1, 2)


def price(rng):
    value = float(rng.uniform(0.5, 400)) if rng.random() < 0.8 else float(rng.uniform(400, 20000))
    return str(rng.choice(("${:,.2f}", "€{:,.2f}", "£{:,.2f}", "{:,.2f}"))).format(value)


def number(rng):
    return str(int(rng.integers(1, 10 ** int(rng.integers(1, 5)))))


def esc(text):
    return html.escape(text, quote=True)


# ---------------------------------------------------------------- styles

def _hex(rgb):
    return "#" + "".join(f"{int(np.clip(c, 0, 255)):02x}" for c in rgb)


def _luma(rgb):
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _accent(rng, dark):
    """A saturated colour that white text reads on (light theme) or that reads on a dark page."""
    hue = rng.random()
    channels = np.array([abs(((hue * 6 + shift) % 6) - 3) - 1 for shift in (0, 4, 2)]).clip(0, 1)
    low, high = (150, 255) if dark else (20, 170)
    return low + channels * (high - low)


def page_style(rng, lang):
    """The page's theme, colours and sizes: a dict of CSS values the family builders use."""
    dark = bool(rng.random() < 0.35)
    if dark:
        bg = rng.integers(0, 45, 3)
        surface, fg, muted = bg + rng.integers(18, 40), rng.integers(200, 256, 3), rng.integers(130, 175, 3)
    else:
        bg = rng.integers(236, 256, 3)
        surface, fg, muted = np.minimum(bg - rng.integers(6, 20), 255), rng.integers(0, 70, 3), rng.integers(85, 125, 3)
    accent = _accent(rng, dark)
    on_accent = "#ffffff" if _luma(accent) < 150 else "#111111"
    tint = bg * 0.8 + accent * 0.2
    if lang == "en":
        font_class = str(rng.choice(("sans", "serif", "mono"), p=(0.65, 0.3, 0.05)))
        font = str(rng.choice(FONTS[font_class]))
        serif = str(rng.choice(FONTS["serif"]))
    else:
        font_class = str(rng.choice(("sans", "serif"), p=(0.75, 0.25)))
        font, serif = CJK_FONTS[lang][font_class], CJK_FONTS[lang]["serif"]
    size = float(rng.uniform(9, 14)) if rng.random() < 0.5 else float(rng.uniform(14, 19))
    return {
        "dark": dark, "bg": _hex(bg), "surface": _hex(surface), "fg": _hex(fg), "muted": _hex(muted),
        "accent": _hex(accent), "on_accent": on_accent, "tint": _hex(tint),
        "border": _hex(bg * 0.55 + fg * 0.45 if not dark else bg * 0.5 + fg * 0.5),
        "font": font, "font_class": font_class, "serif": serif, "mono": str(rng.choice(FONTS["mono"])),
        "size": round(size, 1), "line_height": round(float(rng.uniform(1.25, 1.6)), 2),
        "width": int(rng.integers(300, 720)), "radius": int(rng.integers(0, 14)),
    }


# ---------------------------------------------------------------- families: each returns the layout's HTML

def _paragraphs(rng, lang, count):
    joiner = "" if lang in ("zh", "ja") else " "
    return "".join(f"<p>{esc(joiner.join(sentence(rng, lang) for _ in range(int(rng.integers(1, 3)))))}</p>"
                   for _ in range(count))


def _heading(rng, lang, s, scale=None):
    scale = scale or float(rng.uniform(1.3, 2.0))
    return f'<h2 style="font-size:{s["size"] * scale:.1f}px;margin:0 0 .5em;font-weight:700">{esc(title(rng, lang))}</h2>'


def _divider(rng, s):
    """A rule between parts of a layout: solid, dashed or dotted, in a quiet or a strong colour. A
    broken rule at mild blur is a row of marks the size of hyphens, which a detector must learn is
    not a line of text (VERSION 4)."""
    style = str(rng.choice(("solid", "dashed", "dotted")))
    colour = s[str(rng.choice(("border", "muted", "fg", "accent")))]
    return f'<div style="border-top:{int(rng.choice((1, 1, 2)))}px {style} {colour};margin:{rng.uniform(0.3, 0.9):.2f}em 0"></div>'


def fam_article(rng, lang, s):
    parts = [_heading(rng, lang, s)] + [_paragraphs(rng, lang, 1) for _ in range(int(rng.integers(1, 4)))]
    if rng.random() < 0.5:
        return _divider(rng, s).join(parts)
    return "".join(parts)


def fam_hero(rng, lang, s):
    return (f'<div style="background:{s["accent"]};color:{s["on_accent"]};padding:1.4em;border-radius:{s["radius"]}px">'
            + _heading(rng, lang, s, float(rng.uniform(1.6, 2.4))) + f"<p>{esc(sentence(rng, lang, 4, 10))}</p>"
            + f'<span style="display:inline-block;background:{s["on_accent"]};color:{s["accent"]};padding:.4em 1em;'
              f'border-radius:{s["radius"]}px;font-weight:700">{esc(label(rng, lang))}</span></div>')


def fam_links(rng, lang, s):
    def linked(text):
        words = text.split(" ") if lang not in ("zh", "ja") else [text[i:i + 3] for i in range(0, len(text), 3)]
        start = int(rng.integers(0, max(1, len(words) - 2)))
        joiner = " " if lang not in ("zh", "ja") else ""
        link = joiner.join(words[start:start + 2])
        return (esc(joiner.join(words[:start])) + joiner + f'<a href="#" style="color:{s["accent"]};text-decoration:underline">'
                f"{esc(link)}</a>" + joiner + esc(joiner.join(words[start + 2:])))
    return "".join(f"<p>{linked(sentence(rng, lang, 8, 22))}</p>" for _ in range(int(rng.integers(1, 4))))


def fam_card(rng, lang, s):
    cards = []
    for _ in range(int(rng.integers(1, 3))):
        shadow = f"0 {int(rng.integers(1, 6))}px {int(rng.integers(4, 18))}px rgba(0,0,0,{rng.uniform(0.15, 0.5):.2f})"
        cards.append(f'<div style="background:{s["surface"]};box-shadow:{shadow};border-radius:{s["radius"]}px;'
                     f'padding:1em 1.2em;margin:0 0 1.2em">' + _heading(rng, lang, s, float(rng.uniform(1.1, 1.5)))
                     + f"<p>{esc(sentence(rng, lang))}</p>" + (_divider(rng, s) if rng.random() < 0.5 else "")
                     + f'<div style="color:{s["muted"]};font-size:.85em">{esc(phrase(rng, lang, 2, 4, running=True))} · {number(rng)}</div></div>')
    return "".join(cards)


def fam_callout(rng, lang, s):
    return (f'<div style="border-left:{int(rng.integers(3, 7))}px solid {s["accent"]};background:{s["tint"]};'
            f'padding:.8em 1em;border-radius:{min(s["radius"], 6)}px">'
            f'<div style="font-weight:700;margin-bottom:.3em">{esc(title(rng, lang, 1, 3))}</div>'
            f"<div>{esc(sentence(rng, lang))}</div></div>")


def fam_quotation(rng, lang, s):
    italic = "italic" if lang == "en" and rng.random() < 0.7 else "normal"
    cite = f'<div style="font-style:normal;color:{s["muted"]};font-size:.85em;margin-top:.4em">— {esc(title(rng, lang, 1, 3))}</div>'
    return (f'<blockquote style="margin:0;border-left:{int(rng.integers(2, 7))}px solid {s["accent"]};padding:.2em 0 .2em 1em;'
            f'font-family:\'{s["serif"]}\';font-style:{italic}">{esc(sentence(rng, lang, 8, 24))}'
            + (cite if rng.random() < 0.6 else "") + "</blockquote>")


def fam_buttons(rng, lang, s):
    buttons = []
    for _ in range(int(rng.integers(2, 6))):
        radius = int(rng.choice((s["radius"], 999)))
        if rng.random() < 0.5:
            look = f'background:{s["accent"]};color:{s["on_accent"]};border:none'
        else:
            look = f'background:transparent;color:{s["accent"]};border:{int(rng.integers(1, 3))}px solid {s["accent"]}'
        buttons.append(f'<button style="{look};border-radius:{radius}px;padding:.5em 1.1em;margin:0 .6em .6em 0;'
                       f'font:inherit;font-weight:{int(rng.choice((400, 600, 700)))}">{esc(label(rng, lang))}</button>')
    return '<div style="display:flex;flex-wrap:wrap;align-items:center">' + "".join(buttons) + "</div>"


def fam_chips(rng, lang, s):
    items = []
    for _ in range(int(rng.integers(3, 8))):
        kind = rng.random()
        if kind < 0.4:  # a chip: tinted pill
            items.append(f'<span style="display:inline-block;background:{s["tint"]};color:{s["fg"]};border-radius:999px;'
                         f'padding:.25em .8em;margin:0 .5em .5em 0">{esc(phrase(rng, lang, 1, 2))}</span>')
        elif kind < 0.7:  # a badge: small bold caps on a saturated fill
            items.append(f'<span style="display:inline-block;background:{s["accent"]};color:{s["on_accent"]};'
                         f'border-radius:{min(s["radius"], 4)}px;padding:.1em .45em;margin:0 .5em .5em 0;font-size:.8em;'
                         f'font-weight:700">{esc(label(rng, lang).upper() if lang == "en" else label(rng, lang))}</span>')
        else:  # a count beside its label
            items.append(f'<span style="display:inline-block;margin:0 .8em .5em 0">{esc(phrase(rng, lang, 1, 2))} '
                         f'<span style="display:inline-block;background:{s["muted"]};color:{s["bg"]};border-radius:999px;'
                         f'padding:0 .5em;font-size:.8em">{number(rng)}</span></span>')
    return "<div>" + "".join(items) + "</div>"


def _list(rng, lang, s, numbered):
    rows = []
    for k in range(int(rng.integers(3, 7))):
        marker = f"{k + 1}." if numbered else str(rng.choice(("•", "–", "▪")))
        rows.append(f'<li style="margin:0 0 .35em">{esc(marker)} {esc(sentence(rng, lang, 3, 12))}</li>')
    return '<ul style="list-style:none;margin:0;padding:0 0 0 .5em">' + "".join(rows) + "</ul>"


def fam_bullet_list(rng, lang, s):
    return _heading(rng, lang, s, 1.2) + _list(rng, lang, s, False)


def fam_numbered_list(rng, lang, s):
    return _heading(rng, lang, s, 1.2) + _list(rng, lang, s, True)


def _two_columns(left, right, extra=""):
    return (f'<div style="display:flex;justify-content:space-between;gap:2em;{extra}">'
            f"<span>{left}</span><span>{right}</span></div>")


def fam_price_list(rng, lang, s):
    rule = f"border-bottom:1px {rng.choice(('dotted', 'dashed', 'solid'))} {s[str(rng.choice(('border', 'muted')))]}"
    rows = [_two_columns(esc(phrase(rng, lang, 1, 3)), esc(price(rng)), f"padding:.35em 0;{rule}")
            for _ in range(int(rng.integers(3, 8)))]
    return _heading(rng, lang, s, 1.3) + (_divider(rng, s) if rng.random() < 0.5 else "") + "".join(rows)


def fam_receipt(rng, lang, s):
    font = f"font-family:'{s['mono']}'" if lang == "en" and rng.random() < 0.5 else ""
    rule = f"border-top:1px dashed {s['muted']};margin:.4em 0"
    rows = []
    for _ in range(int(rng.integers(3, 8))):
        rows.append(f'<div style="display:grid;grid-template-columns:3fr 1fr 1.4fr;column-gap:2em">'
                    f"<span>{esc(phrase(rng, lang, 1, 3))}</span><span>x{number(rng)[:2]}</span>"
                    f'<span style="text-align:right">{esc(price(rng))}</span></div>')
    total = _two_columns(f"<b>{esc('TOTAL' if lang == 'en' else phrase(rng, lang, 1, 1))}</b>", f"<b>{esc(price(rng))}</b>")
    return (f'<div style="background:{s["surface"]};padding:1em;{font};max-width:26em">'
            f'<div style="text-align:center;font-weight:700">{esc(title(rng, lang, 1, 3))}</div>'
            f'<div style="text-align:center;color:{s["muted"]}">{esc(number(rng))}-{esc(number(rng))}</div>'
            f'<div style="{rule}"></div>' + "".join(rows) + f'<div style="{rule}"></div>' + total + "</div>")


def _table(rng, lang, s, rules):
    """``rules``: "grid" (every cell ruled), "rows" (a rule under each row: cells apart by their
    padding alone) or "plain" (no rules but one over the table; zebra rows)."""
    columns, rows = int(rng.integers(2, 5)), int(rng.integers(3, 7))
    cell = {"grid": f"border:1px solid {s['border']};", "rows": f"border-bottom:1px solid {s['border']};",
            "plain": ""}[rules]
    head_rule = f"border-bottom:2px solid {s['border']};" if rules == "rows" else ""
    head = "".join(f'<th style="{cell}{head_rule}padding:.35em .7em;text-align:left">{esc(title(rng, lang, 1, 2))}</th>'
                   for _ in range(columns))
    body = []
    for r in range(rows):
        stripe = f"background:{s['surface']};" if rules == "plain" and r % 2 else ""
        cells = [esc(phrase(rng, lang, 1, 3)) if c == 0 else esc(price(rng) if rng.random() < 0.4 else phrase(rng, lang, 1, 2))
                 for c in range(columns)]
        body.append(f'<tr style="{stripe}">' + "".join(f'<td style="{cell}padding:.35em .7em">{v}</td>' for v in cells) + "</tr>")
    return (f'<table style="border-collapse:collapse;{"border-top:2px solid " + s["fg"] if rules == "plain" else ""}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def fam_table_ruled(rng, lang, s):
    # half ruled only between rows, so a detector learns cells apart by whitespace (VERSION 2)
    return _table(rng, lang, s, "grid" if rng.random() < 0.5 else "rows")


def fam_table_plain(rng, lang, s):
    return _table(rng, lang, s, "plain")


def fam_nav_bar(rng, lang, s):
    separator = rng.random() < 0.5
    items = []
    for k in range(int(rng.integers(3, 7))):
        rule = f"border-left:1px solid {s['border']};" if separator and k else ""
        items.append(f'<span style="display:inline-block;padding:.2em .9em;{rule}">{esc(title(rng, lang, 1, 2))}</span>')
    logo = f'<span style="display:inline-block;font-weight:700;margin-right:1.2em;font-size:1.2em">{esc(title(rng, lang, 1, 1))}</span>'
    return (f'<nav style="display:flex;flex-wrap:wrap;align-items:center;background:{s["surface"]};padding:.7em 1em;'
            f'border-bottom:2px solid {s["accent"]}">' + logo + "".join(items) + "</nav>")


def _icon(rng, s):
    size = int(rng.integers(16, 48))
    shape = rng.random()
    if shape < 0.35:  # an avatar or thumbnail: a picture-like gradient
        look = (f"background:linear-gradient({int(rng.integers(0, 360))}deg,{_hex(rng.integers(0, 256, 3))},"
                f"{_hex(rng.integers(0, 256, 3))});border-radius:{int(rng.choice((4, 999)))}px")
    elif shape < 0.7:
        look = f"background:{s['accent']};border-radius:{int(rng.choice((3, 999)))}px"
    else:  # an outlined glyph-like symbol
        look = f"border:{max(2, size // 8)}px solid {s['accent']};border-radius:{int(rng.choice((2, 999)))}px;box-sizing:border-box"
    return f'<span style="display:inline-block;width:{size}px;height:{size}px;flex:none;{look}"></span>'


def fam_icon_text(rng, lang, s):
    rows = []
    for _ in range(int(rng.integers(2, 5))):
        rows.append(f'<div style="display:flex;align-items:center;gap:{int(rng.integers(6, 16))}px;margin:0 0 .8em">'
                    + _icon(rng, s) + f'<div><div style="font-weight:700">{esc(title(rng, lang, 1, 3))}</div>'
                    f'<div style="color:{s["muted"]};font-size:.9em">{esc(phrase(rng, lang, 2, 6, running=True))}</div></div></div>')
    return "".join(rows)


def _code_lines(rng, low, high):
    return [str(rng.choice(CODE_LINES)) for _ in range(int(rng.integers(low, high + 1)))]


def fam_code_block(rng, lang, s):
    dark_fill = rng.random() < 0.4
    fill = "#1e1e2e" if dark_fill else ("#f6f8fa" if not s["dark"] else "#2d2d30")
    color = "#e6e6e6" if dark_fill or s["dark"] else "#24292f"
    lines = "\n".join(esc(line) for line in _code_lines(rng, 1, 5))
    return (f'<pre style="margin:0;background:{fill};color:{color};border:1px solid {s["border"]};'
            f'border-radius:{int(rng.integers(3, 11))}px;padding:.8em 1em;font-family:\'{s["mono"]}\';'
            f'font-size:.9em;line-height:1.45;white-space:pre">{lines}</pre>')


def fam_terminal(rng, lang, s):
    prompt = str(rng.choice(("$", "%", ">", "#")))
    lines = "\n".join(f"{prompt} {esc(line)}" if k % 2 == 0 else esc(line) for k, line in enumerate(_code_lines(rng, 2, 6)))
    return (f'<pre style="margin:0;background:#0c0c0c;color:{str(rng.choice(("#d0d0d0", "#33ff66", "#f0f0f0")))};'
            f'padding:1em;font-family:\'{s["mono"]}\';white-space:pre">{lines}</pre>')


def fam_chat(rng, lang, s):
    bubbles = []
    for _ in range(int(rng.integers(2, 6))):
        mine = rng.random() < 0.5
        look = (f'background:{s["accent"]};color:{s["on_accent"]};align-self:flex-end' if mine
                else f'background:{s["surface"]};color:{s["fg"]};align-self:flex-start')
        bubbles.append(f'<div style="{look};max-width:70%;border-radius:{int(rng.integers(10, 20))}px;'
                       f'padding:.5em .9em;margin:0 0 .5em">{esc(sentence(rng, lang, 1, 12))}</div>')
    return '<div style="display:flex;flex-direction:column">' + "".join(bubbles) + "</div>"


def fam_form(rng, lang, s):
    rows = []
    for _ in range(int(rng.integers(2, 6))):
        value = str(rng.choice((phrase(rng, lang, 1, 2), number(rng), price(rng))))
        rows.append(f'<label style="align-self:center">{esc(title(rng, lang, 1, 2))}</label>'
                    f'<div style="border:1px solid {s["border"]};border-radius:{min(s["radius"], 6)}px;padding:.35em .6em;'
                    f'background:{s["surface"]}">{esc(value)}</div>')
    return ('<div style="display:grid;grid-template-columns:auto 1fr;gap:.7em 1.2em">' + "".join(rows) + "</div>"
            + f'<button style="margin-top:1em;font:inherit;background:{s["accent"]};color:{s["on_accent"]};border:none;'
              f'border-radius:{s["radius"]}px;padding:.45em 1.2em">{esc(label(rng, lang))}</button>')


def fam_footer(rng, lang, s):
    items = " · ".join(esc(title(rng, lang, 1, 2)) for _ in range(int(rng.integers(3, 6))))
    return (f'<footer style="font-size:{float(rng.uniform(0.7, 0.85)):.2f}em;color:{s["muted"]};border-top:1px solid {s["border"]};'
            f'padding-top:.6em"><div>{items}</div><div style="margin-top:.4em">© 20{int(rng.integers(10, 30))} '
            f"{esc(phrase(rng, lang, 2, 5, running=True))}</div></footer>")


def fam_multi_column(rng, lang, s):
    count = int(rng.integers(2, 4))
    rule = f"column-rule:1px solid {s['border']};" if rng.random() < 0.5 else ""
    return (_heading(rng, lang, s) + f'<div style="column-count:{count};column-gap:1.6em;{rule}">'
            + _paragraphs(rng, lang, int(rng.integers(2, 4))) + "</div>")


BUILDERS = {name[len("fam_"):]: builder for name, builder in globals().items() if name.startswith("fam_")}


def page_html(spec):
    s = spec["style"]
    return (f'<!doctype html><html lang="{spec["lang"]}"><head><meta charset="utf-8"><style>'
            f'html,body{{margin:0;background:{s["bg"]}}}'
            f'body{{padding:{PAGE_PAD}px;width:{s["width"]}px;font-family:\'{s["font"]}\';font-size:{s["size"]}px;'
            f'color:{s["fg"]};line-height:{s["line_height"]}}}'
            "p{margin:0 0 .7em} #layout{display:flow-root}"
            f'</style></head><body><div id="layout">{spec["body"]}</div></body></html>')


def capture_plan(rng, size, dpr):
    """One capture per sigma / font stratum; one of them, at random, blurred as a picture is."""
    picture = int(rng.integers(len(RATIO_STRATA)))
    plan = []
    for k, (low, high) in enumerate(RATIO_STRATA):
        ratio = float(rng.uniform(low, high))
        if k == picture:
            plan.append({"mode": "picture", "ratio": round(ratio, 3), "scale": round(float(rng.uniform(0.5, 1.0)), 3),
                         "jpeg": int(rng.integers(50, 96))})
        else:  # CSS radius in CSS px, two decimals as pages write it
            plan.append({"mode": "css", "ratio": round(ratio, 3), "blur_css": round(ratio * size, 2)})
    return plan


def make_page(seed, index):
    """Page ``index`` (a pure function of seed and index): family, language, style, the layout's
    HTML, and how it is rendered and blurred."""
    family = page_family(index)
    rng = np.random.default_rng((seed, index, 0x1A7))
    lang = str(rng.choice(LANGS, p=LANG_WEIGHTS))
    style = page_style(rng, lang)
    body = BUILDERS[family](rng, lang, style)
    raster = str(rng.choice(sorted(RASTER_ARGS)))
    dpr = int(rng.choice(DPRS))
    return {"id": int(index), "family": family, "split": FAMILY_SPLIT[family], "lang": lang, "style": style,
            "body": body, "raster": raster, "dpr": dpr, "captures": capture_plan(rng, style["size"], dpr)}


# ---------------------------------------------------------------- DOM lines

# Per character of every text node under #layout: its rect (Range.getClientRects), grouped into
# one line per row of its layout box; rows of one box further apart than gap_em are split.
LINES_JS = """
(gapEm) => {
  const root = document.getElementById('layout');
  const boxOf = node => { let e = node.parentElement;
    while (e !== root && getComputedStyle(e).display === 'inline') e = e.parentElement; return e; };
  const boxes = new Map(), lines = [], range = document.createRange();
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const style = getComputedStyle(node.parentElement);
    if (style.visibility !== 'visible') continue;
    const box = boxOf(node);
    if (!boxes.has(box)) boxes.set(box, {key: boxes.size, line: null, space: false});
    const state = boxes.get(box), font = parseFloat(style.fontSize);
    for (let k = 0; k < node.data.length; k++) {
      const code = node.data.codePointAt(k), width = code > 0xffff ? 2 : 1, ch = String.fromCodePoint(code);
      range.setStart(node, k); range.setEnd(node, k + width); k += width - 1;
      if (/\\s/.test(ch)) { state.space = true; continue; }
      const r = range.getClientRects()[0];
      if (!r || r.width === 0) continue;
      const line = state.line, middle = (r.top + r.bottom) / 2;
      const sameRow = line && middle > line.top && middle < line.bottom && r.left > line.right - font * 0.3
                      && r.left - line.right <= gapEm * Math.max(font, line.font);
      if (sameRow) {
        line.text += (state.space ? ' ' : '') + ch;
        line.left = Math.min(line.left, r.left); line.right = Math.max(line.right, r.right);
        line.top = Math.min(line.top, r.top); line.bottom = Math.max(line.bottom, r.bottom);
        line.font = Math.max(line.font, font);
      } else {
        state.line = {box: state.key, text: ch, left: r.left, top: r.top, right: r.right, bottom: r.bottom, font: font};
        lines.push(state.line);
      }
      state.space = false;
    }
  }
  return lines;
}
"""


def ink_box(image, box, font_px):
    """The tight box (x0, y0, x1, y1) of the ink inside a line's DOM box (device px floats) of the
    sharp capture, or None where it holds none. Ink is what differs from the box's commonest colour;
    rows of ink further than 0.2 em from the ink around the box's middle (the descenders of the
    line above, whose DOM box overlaps this one) are left out."""
    height, width = image.shape[:2]
    pad = 0.15 * font_px  # italic and overhanging glyphs reach past their advance
    x0, x1 = max(0, math.floor(box[0] - pad)), min(width, math.ceil(box[2] + pad))
    y0, y1 = max(0, math.floor(box[1])), min(height, math.ceil(box[3]))
    if x1 <= x0 or y1 <= y0:
        return None
    region = image[y0:y1, x0:x1].astype(np.int16)
    colours, counts = np.unique(region.reshape(-1, region.shape[-1]), axis=0, return_counts=True)
    contrast = np.abs(region - colours[counts.argmax()]).max(-1)
    inked = contrast >= max(INK_LEVELS, INK_SHARE * float(contrast.max()))
    rows = np.flatnonzero(inked.any(1))
    if rows.size == 0:
        return None
    middle = (y1 - y0) / 2
    gap = max(2, 0.2 * font_px)
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > gap) + 1)
    core = min(runs, key=lambda run: 0 if run[0] <= middle <= run[-1] else min(abs(run[0] - middle), abs(run[-1] - middle)))
    columns = np.flatnonzero(inked[core[0]:core[-1] + 1].any(0))
    return [x0 + int(columns[0]), y0 + int(core[0]), x0 + int(columns[-1]) + 1, y0 + int(core[-1]) + 1]


def dom_lines(page, dpr, sharp):
    """The page's lines: text, font size (CSS px), layout box id, DOM box and ink box in device px."""
    lines = []
    for line in page.evaluate(LINES_JS, LINE_GAP_EM):
        box = [round(v * dpr, 2) for v in (line["left"], line["top"], line["right"], line["bottom"])]
        lines.append({"text": line["text"], "font_css": line["font"], "layout_box": line["box"], "box": box,
                      "ink": ink_box(sharp, box, line["font"] * dpr)})
    return lines


# ---------------------------------------------------------------- rendering

def as_picture(sharp, capture, size_px):
    """A capture blurred as a picture is: downscaled by ``scale``, Gaussian-blurred at the served size
    (sigma = ratio x the body font's served size), JPEG-compressed."""
    height, width = sharp.shape[:2]
    scale = capture["scale"]
    served = (max(1, round(height * scale)), max(1, round(width * scale)))
    tensor = torch.from_numpy(np.array(sharp)).permute(2, 0, 1)[None].float() / 255
    small = torch.nn.functional.interpolate(tensor, size=served, mode="bilinear", antialias=True, align_corners=False)
    sigma = capture["ratio"] * size_px * scale
    blurred = chromium_blur(small, sigma, "gaussian") if sigma > 0 else small
    array = (blurred[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return jpeg_round_trip(array, capture["jpeg"])[0]


def render_page(browser, spec):
    """(sharp capture, [blurred captures], lines) of one page spec, uint8 HxWx3 arrays."""
    style, dpr = spec["style"], spec["dpr"]
    page = browser.new_page(viewport={"width": style["width"] + 2 * PAGE_PAD, "height": 64}, device_scale_factor=dpr)
    try:
        page.set_content(page_html(spec))
        page.evaluate("document.fonts.ready.then(() => true)")
        # a table wider than the body would be cut at the viewport's edge: widen the page to hold it
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > style["width"] + 2 * PAGE_PAD:
            page.set_viewport_size({"width": width + PAGE_PAD, "height": 64})
        sharp = settled_screenshot(page)
        lines = dom_lines(page, dpr, sharp)
        captures = []
        for capture in spec["captures"]:
            if capture["mode"] == "picture":
                captures.append(as_picture(sharp, capture, style["size"] * dpr))
                continue
            page.evaluate("r => document.getElementById('layout').style.filter = r > 0 ? `blur(${r}px)` : ''",
                          capture["blur_css"])
            captures.append(settled_screenshot(page))
    finally:
        page.close()
    return sharp, captures, lines


def capture_meta(spec, capture, image):
    """What a capture's consumer needs: its mode, scale, sigma in its own px and its size."""
    scale = capture.get("scale", 1.0)
    # a CSS blur is what the page wrote, its radius rounded: the sigma it blurs with, not the drawn ratio's
    sigma = capture["blur_css"] * spec["dpr"] if capture["mode"] == "css" else capture["ratio"] * spec["style"]["size"] * spec["dpr"] * scale
    return {**capture, "scale": scale, "sigma_px": round(sigma, 3), "shape": list(image.shape)}


def line_ratio(line, spec, capture):
    """sigma / this line's own font size (both in the capture's px)."""
    return capture["sigma_px"] / (line["font_css"] * spec["dpr"] * capture["scale"])


# ---------------------------------------------------------------- shards

def shard_paths(out, first, count):
    stem = Path(out) / f"shard-{first:06d}-{count:04d}"
    return stem.with_suffix(".npy"), stem.with_suffix(".json")


def write_shard(out, first, count, pages, seed):
    """``pages``: (spec, sharp, captures, lines) of the pages in ids first..first+count-1 this build
    keeps. The blob, then the index (so an index names a complete shard)."""
    blob_path, index_path = shard_paths(out, first, count)
    encoded, records = [], []
    for spec, sharp, captures, lines in pages:
        record = {**spec, "lines": lines, "sharp": len(encoded), "captures": []}
        encoded.append(encode_png(sharp))
        for capture, image in zip(spec["captures"], captures):
            record["captures"].append({**capture_meta(spec, capture, image), "image": len(encoded)})
            encoded.append(encode_png(image))
        records.append(record)
    offsets = np.cumsum([0] + [len(e) for e in encoded]).tolist()
    tmp = blob_path.with_suffix(".tmp.npy")
    np.save(tmp, np.frombuffer(b"".join(encoded), dtype=np.uint8))
    os.replace(tmp, blob_path)
    index = {"version": VERSION, "seed": seed, "blob": blob_path.name, "first": first, "count": count,
             "images": [{"offset": offsets[i], "length": offsets[i + 1] - offsets[i]} for i in range(len(encoded))],
             "pages": records}
    tmp = index_path.with_suffix(".tmp.json")
    tmp.write_text(json.dumps(index, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, index_path)


def _render_groups(browsers, groups, out, count, families, seed, log):
    started, rendered = time.time(), 0
    for group in groups:
        pages = []
        for index in group:
            spec = make_page(seed, index)
            if spec["family"] not in families:  # each family belongs to one split
                continue
            if spec["raster"] not in browsers:  # a subset of raster paths: the first one renders all
                spec["raster"] = sorted(browsers)[0]
            pages.append((spec, *render_page(browsers[spec["raster"]], spec)))
        write_shard(out, group[0], len(group), pages, seed)
        rendered += len(pages)
        log(f"pages {rendered} ({group[-1] + 1}/{count} ids), {rendered / max((time.time() - started) / 60, 1e-9):.1f}/min")
    return rendered


def build_layouts(out, count, splits=SPLITS, seed=0, shard_size=40, rasters=tuple(RASTER_ARGS), log=print,
                  browsers=None, families=None, first=0):
    """Render pages first..count-1 of the families in ``splits`` (of those, only ``families`` if
    given) into shards under ``out``, skipping the ids a shard already covers; ``browsers`` ({raster:
    browser}, already open) instead of launching ``rasters``. Returns a summary dict."""
    from playwright.sync_api import sync_playwright

    chosen = chosen_families(splits, families)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rasters = tuple(browsers) if browsers is not None else rasters
    settings = {"version": VERSION, "seed": seed, "splits": sorted(splits), "rasters": sorted(rasters),
                "families": FAMILY_SPLIT, "strata": [list(s) for s in RATIO_STRATA], "line_gap_em": LINE_GAP_EM}
    if families is not None:  # a folder of some families only (more pages of one kind beside a full render)
        settings["only_families"] = sorted(families)
    meta_path = out / "layouts.json"
    if meta_path.is_file():
        saved = json.loads(meta_path.read_text())
        differs = sorted(k for k, v in settings.items() if saved.get(k) != v)
        if differs:
            raise SystemExit(f"{out} holds layouts built with other settings ({', '.join(differs)}): use another --out")
    else:
        meta_path.write_text(json.dumps({**settings, "chromium": chromium_version()}, indent=1) + "\n")
    done = covered_elements(out)  # page ids: shards are named by their first id and count, as the corpus's are
    todo = [i for i in range(first, count) if i not in done]
    groups = [run for start in range(0, len(todo), shard_size) for run in _consecutive(todo[start:start + shard_size])]
    log(f"{count - first - len(todo)} of {count - first} page ids already in {out}; rendering the {', '.join(sorted(splits))} "
        f"pages of {len(todo)} ids in {len(groups)} shards")
    started, rendered = time.time(), 0
    if groups and browsers is not None:
        rendered = _render_groups(browsers, groups, out, count, chosen, seed, log)
    elif groups:
        with sync_playwright() as playwright:
            launched = {raster: launch(playwright, raster) for raster in rasters}
            try:
                rendered = _render_groups(launched, groups, out, count, chosen, seed, log)
            finally:
                for browser in launched.values():
                    browser.close()
    minutes = (time.time() - started) / 60
    log(f"done: {rendered} pages rendered in {minutes:.1f} min")
    return {"rendered": rendered, "minutes": round(minutes, 2), "shards": len(shard_indexes(out))}


class LayoutPages:
    """The pages of a layouts folder, or of several (a comma-separated string or a list: their pages
    one after the other): index entries read at once, blobs memory-mapped on first use."""

    def __init__(self, folders):
        if isinstance(folders, str):
            folders = folders.split(",")
        elif isinstance(folders, Path):
            folders = [folders]
        folders = [Path(folder) for folder in folders if str(folder)]
        missing = [str(folder) for folder in folders if not folder.is_dir()]
        if missing:
            raise FileNotFoundError(f"no layouts folder {', '.join(missing)}: render it with models.data.chromium_layouts")
        self.pages, self._images, self._blob_paths, self._blobs = [], [], [], {}
        for folder in folders:
            for index_path in shard_indexes(folder):
                index = json.loads(index_path.read_text(encoding="utf-8"))
                shard = len(self._blob_paths)
                self._blob_paths.append(folder / index["blob"])
                base = len(self._images)
                self._images += [(shard, image["offset"], image["length"]) for image in index["images"]]
                for page in index["pages"]:
                    page["sharp"] += base
                    for capture in page["captures"]:
                        capture["image"] += base
                    self.pages.append(page)

    def __len__(self):
        return len(self.pages)

    def image(self, number):
        shard, offset, length = self._images[number]
        if shard not in self._blobs:
            self._blobs[shard] = np.load(self._blob_paths[shard], mmap_mode="r")
        return decode_png(self._blobs[shard][offset:offset + length].tobytes())


def line_crops(pages, split, chars):
    """Every (page, capture, line) of ``split``'s pages whose line has text and ink and reads with
    ``chars`` alone, as index triples into ``pages.pages``, its captures and its lines: the blurred
    browser lines a reader trains or is validated on."""
    triples = []
    for p, page in enumerate(pages.pages):
        if page["split"] != split:
            continue
        for l, line in enumerate(page["lines"]):
            if line["ink"] is not None and line["text"].strip() and set(line["text"]) <= chars:
                triples += [(p, c, l) for c in range(len(page["captures"]))]
    return triples


def capture_line(pages, triple):
    """(blurred capture, the line's ink box (top, bottom, left, right) in its whole px, its text, language,
    sigma in its px, sigma / the line's own font size) of one ``line_crops`` triple."""
    p, c, l = triple
    page = pages.pages[p]
    capture, line = page["captures"][c], page["lines"][l]
    x0, y0 = (math.floor(v * capture["scale"]) for v in line["ink"][:2])
    x1, y1 = (math.ceil(v * capture["scale"]) for v in line["ink"][2:])
    return (pages.image(capture["image"]), (y0, y1, x0, x1), line["text"], page["lang"], capture["sigma_px"],
            line_ratio(line, page, capture))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, required=True, help="page ids 0..N-1 (those of the chosen splits are rendered)")
    parser.add_argument("--splits", default=",".join(SPLITS), help="comma-separated: train,tune,test")
    parser.add_argument("--out", default="runs/layouts", help="folder (keep it under runs/: never committed)")
    parser.add_argument("--first", type=int, default=0, help="the first page id (ids first..N-1)")
    parser.add_argument("--families", default="", help="comma-separated: only these families of the chosen splits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-size", type=int, default=40, help="page ids per shard")
    parser.add_argument("--rasters", default=",".join(RASTER_ARGS), help="comma-separated: software,gpu")
    args = parser.parse_args(argv)
    splits = tuple(s for s in args.splits.split(",") if s)
    if set(splits) - set(SPLITS):
        parser.error(f"unknown split(s) {sorted(set(splits) - set(SPLITS))}; expected {list(SPLITS)}")
    families = tuple(f for f in args.families.split(",") if f) or None
    try:
        chosen_families(splits, families)
    except ValueError as exc:
        parser.error(str(exc))
    rasters = browser_rasters(parser, args.rasters)
    build_layouts(args.out, args.pages, splits, args.seed, args.shard_size, rasters, families=families, first=args.first)


if __name__ == "__main__":
    main()
