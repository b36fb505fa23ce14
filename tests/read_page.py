"""The read page of the "Read text" tests (Chromium and Firefox): a blurred picture of text, a
thumbnail too small to read and live text under a CSS blur; the "x" reader the real server reads
it with; the stub server's fixed reading; and what the extension's text layer shows."""
import io
import json
import urllib.request
from http.server import BaseHTTPRequestHandler

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from extension_support import BLIND_MARGIN_CSS, snap

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PAGE = """<!doctype html><meta charset="utf-8"><title>read</title>
<style>
  body { margin: 0; padding: 40px; font: 16px "Liberation Sans", sans-serif; background: #fff; }
  .box { position: relative; width: 420px; margin-bottom: 40px; }
  img { display: block; }
  /* a link lying under the text layer's background, beside the card's second line; no ink, so no line of text over it */
  #link { position: absolute; right: 4px; bottom: 4px; width: 60px; height: 20px; }
  #live { width: 420px; filter: blur(2px); }
</style>
<div class="box"><img id="card" src="card.png" alt="a card"><a id="link" href="#followed" aria-label="more"></a></div>
<div class="box"><img id="thumb" src="thumb.png" alt="a thumbnail" width="32" height="10"></div>
<p id="live">Live words the page itself holds under a blur.</p>
<script>document.getElementById('link').addEventListener('click', () => { document.body.dataset.linkClicked = 'yes'; });</script>
"""
# The stub's reading: posted-image pixels, one character below 0.9 in the first line.
STUB_LINES = [{"text": "Invoice 42", "box": [14, 14, 160, 16], "confidence": [0.99, 0.98, 0.97, 0.5, 0.99, 0.99, 0.99, 0.99, 0.95, 0.3]},
              {"text": "Total due", "box": [14, 50, 130, 16], "confidence": [0.99] * 9}]


# The card's lines and their ink: the dark grey, which the text layer once drew rgb(93, 93, 93).
CARD_LINES = [("pictures of words", (12, 12)), ("a second line", (12, 52))]
CARD_INK = (25, 25, 25)
CARD_FONT_PX = 22


def card():
    image = Image.new("RGB", (420, 90), "white")
    draw = ImageDraw.Draw(image)
    for text, origin in CARD_LINES:
        draw.text(origin, text, font=ImageFont.truetype(FONT, CARD_FONT_PX), fill=CARD_INK)
    return image.filter(ImageFilter.GaussianBlur(2.5))


def card_ink_boxes():
    """Each card line's sharp letters' box {x, y, width, height} in the card's px (its CSS px: the
    picture is shown at its own size), from the drawing before the blur."""
    boxes = []
    for text, origin in CARD_LINES:
        mask = Image.new("L", (420, 90), 0)
        ImageDraw.Draw(mask).text(origin, text, font=ImageFont.truetype(FONT, CARD_FONT_PX), fill=255)
        boxes.append(ink_box(np.asarray(mask) >= 128))
    return boxes


def ink_box(mask):
    """The box {x, y, width, height} of a boolean mask's True pixels, or None when there are none."""
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return None
    return {"x": int(xs.min()), "y": int(ys.min()), "width": int(xs.max() - xs.min() + 1), "height": int(ys.max() - ys.min() + 1)}


# A region to read: an article's line of live text under a CSS blur, a sharp blue button beside it.
REGION_PAGE = """<!doctype html><meta charset="utf-8"><title>region</title>
<style>
  body { margin: 0; padding: 40px; background: #fff; }
  #row { display: flex; align-items: center; gap: 28px; width: 520px; }
  #article { font: 22px "DejaVu Sans", sans-serif; color: rgb(31, 31, 34); filter: blur(1.5px); margin: 0; }
  #pay { font: 16px "DejaVu Sans", sans-serif; color: #fff; background: rgb(26, 95, 180); border: 0; border-radius: 4px; padding: 10px 18px; }
</style>
<div id="row"><p id="article">Total due today</p><button id="pay">Pay</button></div>
"""
REGION_INK = (31, 31, 34)
REGION_TEXTS = ["Total due today", "Pay"]


class KnownTextReader:
    """Stands in for a Reader that reads right: the real line finder's lines, read as ``texts`` in
    reading order (the rest as "x"), each character sure. The boxes, colours and sizes are the
    server's own; only the words are given."""

    def __init__(self, texts):
        self.texts = list(texts)

    def read(self, image, sigma=None):
        from models.reading.line_finder import find_lines, text_box
        from models.reading.pipeline import Reading, ReadLine

        lines = []
        for index, box in enumerate(find_lines(image)):
            text = self.texts[index] if index < len(self.texts) else "x"
            lines.append(ReadLine(text, text_box(box, sigma), [0.99] * len(text)))
        return Reading(lines, "readable" if lines else "unreadable")


def delta_e(a, b):
    """CIE76 colour difference of two sRGB colours [r, g, b]."""
    def lab(rgb):
        c = np.asarray(rgb, np.float64) / 255
        c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
        xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ c / np.array([0.95047, 1.0, 1.08883])
        f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
        return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])
    return float(np.linalg.norm(lab(a) - lab(b)))


def css_rgb(value):
    """[r, g, b] of a computed CSS colour 'rgb(r, g, b)'."""
    return [int(float(part)) for part in value[value.index("(") + 1:value.index(")")].split(",")[:3]]


def drawn_ink_box(shot, rect, ink, paper, dpr, reach=4):
    """Where a text layer line's glyphs are drawn, in CSS px: the box of the screenshot's pixels
    (device px) nearer the line's ink than its paper, within its rect grown by ``reach`` CSS px."""
    x0, y0 = max(0, int((rect["x"] - reach) * dpr)), max(0, int((rect["y"] - reach) * dpr))
    x1, y1 = int((rect["x"] + rect["width"] + reach) * dpr), int((rect["y"] + rect["height"] + reach) * dpr)
    pixels = np.asarray(shot.convert("RGB").crop((x0, y0, x1, y1)), np.float64)
    nearer_ink = np.linalg.norm(pixels - ink, axis=2) < np.linalg.norm(pixels - paper, axis=2)
    box = ink_box(nearer_ink)
    return box and {"x": (x0 + box["x"]) / dpr, "y": (y0 + box["y"]) / dpr, "width": box["width"] / dpr, "height": box["height"] / dpr}


def assert_drawn_like_the_original(shot, line, original, ink, dpr):
    """A text layer line drawn in the original's ink (dE under 10) and as large: its letters' box
    within 2 CSS px of the original's on every side. shot: the screen with the layer showing (a PIL
    image, device px); line: LAYER_JS's description; original: the sharp letters' box, CSS px.
    Says what it measured (pytest -s shows it)."""
    drawn_ink, paper = css_rgb(line["color"]), css_rgb(line["backgroundColor"])
    assert delta_e(drawn_ink, ink) < 10, (line["text"], drawn_ink, ink, delta_e(drawn_ink, ink))
    drawn = drawn_ink_box(shot, line["rect"], drawn_ink, paper, dpr)
    edges = lambda box: (box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"])
    print(f"  DPR {dpr} {line['text']!r}: ink {drawn_ink} (dE {delta_e(drawn_ink, ink):.1f}), letters {drawn} for {original}")
    assert all(abs(a - b) <= 2 for a, b in zip(edges(drawn), edges(original))), (line["text"], drawn, original)


def card_originals(card_rect):
    """The card's lines' sharp letters' boxes in the page's CSS px, the card shown at card_rect."""
    return [{**box, "x": card_rect["x"] + box["x"], "y": card_rect["y"] + box["y"]} for box in card_ink_boxes()]


def region_original(evaluate, screenshot, article_rect, dpr):
    """The region page's article letters' box in CSS px, from the screen with the article's blur taken
    off and then put back. evaluate(js) runs a function in the page; screenshot() shoots it (device px)."""
    evaluate("() => { document.getElementById('article').style.filter = 'none'; }")
    sharp = screenshot()
    evaluate("() => { document.getElementById('article').style.filter = ''; }")
    return drawn_ink_box(sharp, article_rect, REGION_INK, (255, 255, 255), dpr, reach=0)


def region_around(rect, margin=6):
    """The rectangle a user drags around ``rect`` (CSS px), ``margin`` px outside it on every side."""
    return {"x": rect["x"] - margin, "y": rect["y"] - margin, "width": rect["width"] + 2 * margin,
            "height": rect["height"] + 2 * margin}


# Find-in-page from the start of the page: window.find(words) searches on from the selection.
FIND_JS = "(words) => { getSelection().removeAllRanges(); return window.find(words); }"


def assert_the_card_is_drawn_like_the_original_and_found(text_layer, shot, card_rect, dpr, evaluate):
    """The card read as CARD_LINES: its text layer (LAYER_JS's description) has their texts, each line
    drawn like the sharp original (assert_drawn_like_the_original, shot: the screen) with lang "en",
    and find-in-page finds the layer's words and not words it lacks. evaluate(js, arg) runs a function in the page."""
    assert [line["text"].rstrip("\n") for line in text_layer["lines"]] == [text for text, _ in CARD_LINES]
    for line, original in zip(text_layer["lines"], card_originals(card_rect)):
        assert_drawn_like_the_original(shot, line, original, CARD_INK, dpr)
        assert line["lang"] == "en"  # a Latin line on a page that names no language
    # the page itself has none of these words: only the layer can hold them
    assert evaluate(FIND_JS, "second line")
    assert not evaluate(FIND_JS, "third line")


def assert_the_region_read_drew_the_articles_ink(result, state, region, shot, original, dpr):
    """"Read a region…" over the region page's row (region, CSS px) read as REGION_TEXTS: the text
    layer over the rectangle (assert_region_read), its first line the article's, on white, drawn
    like the article's sharp letters (original, CSS px; shot: the screen), not in the button's blue.
    result: the region read's answer; state: LAYER_JS's description."""
    assert_region_read(result, state, region)
    article_line = state["layers"][0]["lines"][0]
    assert article_line["text"].rstrip("\n") == REGION_TEXTS[0]
    assert css_rgb(article_line["backgroundColor"]) == [255, 255, 255]
    assert_drawn_like_the_original(shot, article_line, original, REGION_INK, dpr)
# Which of the text layer's bar buttons has the focus (its class), or null.
FOCUSED_BAR_BUTTON_JS = "() => document.getElementById('anti-aging-layer')?.shadowRoot.activeElement?.className ?? null"
TOGGLE_PRESSED_JS = "() => document.getElementById('anti-aging-layer').shadowRoot.querySelector('.text-layer .show').getAttribute('aria-pressed')"
LAYER_SHOWING_JS = "() => document.getElementById('anti-aging-layer').shadowRoot.querySelector('.text-layer').dataset.showing"
# Tab presses from the top of the page, at the most, to reach the bar's Copy text.
TABS_TO_COPY = 6


def tab_to_copy_text(press, evaluate):
    """Tab from the top of the page until the text layer's Copy text has the focus, which it must
    within TABS_TO_COPY presses. press(key) presses a key in the page; evaluate(js) runs a function there."""
    evaluate("() => { getSelection().removeAllRanges(); document.activeElement?.blur(); }")
    for _ in range(TABS_TO_COPY):
        press("Tab")
        if evaluate(FOCUSED_BAR_BUTTON_JS) == "copy":
            break
    assert evaluate(FOCUSED_BAR_BUTTON_JS) == "copy"


def assert_copy_and_toggle_work_from_the_keyboard(press, evaluate, copied):
    """Tab from the top of the page reaches the text layer's Copy text, Enter copies, the next Tab
    reaches the toggle, and Space switches it to the pixels (aria-pressed) and back. press and
    evaluate as for tab_to_copy_text; copied() checks that Enter copied the reading."""
    tab_to_copy_text(press, evaluate)
    press("Enter")
    copied()
    press("Tab")
    assert evaluate(FOCUSED_BAR_BUTTON_JS) == "show"
    assert evaluate(TOGGLE_PRESSED_JS) == "false"
    press("Space")
    assert (evaluate(LAYER_SHOWING_JS), evaluate(TOGGLE_PRESSED_JS)) == ("pixels", "true")
    press("Space")
    assert (evaluate(LAYER_SHOWING_JS), evaluate(TOGGLE_PRESSED_JS)) == ("text", "false")


def thumbnail():
    """A line of text too small to read: the server's line finder boxes its ink (ascenders and
    descenders since the connected-ink finder) 5 px tall at DPR 1, under the reader's MIN_LINE_PX.
    (At 40x12 that box is 7 px: the x reader would read it.)"""
    image = Image.new("RGB", (240, 72), "white")
    ImageDraw.Draw(image).text((10, 16), "Invoice 42", fill="black", font=ImageFont.truetype(FONT, 40))
    return image.resize((32, 10), Image.LANCZOS)


def save_x_reader(path):
    """A tiny untrained reader whose classifier always says "x", confidently: every line found reads "x"."""
    import torch

    from models import save_checkpoint
    from models.reading.recognizer import READER_CHARSET, build_recognizer

    model = build_recognizer(channels=(8, 8, 8, 8), hidden=8, charset=READER_CHARSET, sigma_input=True)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(-20)
        model.classifier.bias[READER_CHARSET.index("x") + 1] = 20  # class 0 is CTC's blank
    save_checkpoint(path, model)
    return path


class StubReadHandler(BaseHTTPRequestHandler):
    """A server that answers every read with STUB_LINES and sharpens by sending the image back."""

    def _json(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._json({"status": "ok", "model": "nafunet", "device": "cpu", "version": "stub", "reader": True})

    def do_POST(self):
        images = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["images"]
        if self.path == "/v1/read/batch":
            text = "\n".join(line["text"] for line in STUB_LINES)
            self._json({"results": [{"text": text, "lines": STUB_LINES, "verdict": "partly"} for _ in images]})
        else:
            self._json({"results": [{"image": image["image"]} for image in images]})

    def log_message(self, *args):
        pass


LAYER_JS = """() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
    const root = document.getElementById('anti-aging-layer')?.shadowRoot;
    if (!root) return resolve(null);
    const rect = (node) => { const r = node.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; };
    resolve({
      layers: [...root.querySelectorAll('.text-layer')].map((layer) => ({
        target: layer.dataset.target, verdict: layer.dataset.verdict, showing: layer.dataset.showing, rect: rect(layer),
        background: getComputedStyle(layer).backgroundColor, visible: getComputedStyle(layer).display !== 'none',
        bar: layer.querySelector('.bar')?.textContent ?? '',
        pixelsShown: !!layer.querySelector('.pixels') && getComputedStyle(layer.querySelector('.pixels')).display !== 'none',
        lines: [...layer.querySelectorAll('.line')].map((line) => ({
          text: line.textContent, rect: rect(line), lang: line.lang, color: getComputedStyle(line).color, backgroundColor: getComputedStyle(line).backgroundColor, shown: getComputedStyle(line).display !== 'none' && line.offsetParent !== null,
          pointerEvents: getComputedStyle(line).pointerEvents, userSelect: getComputedStyle(line).userSelect,
          font: getComputedStyle(line).fontFamily,
          uncertain: [...line.querySelectorAll('.uncertain')].map((mark) => ({ text: mark.textContent, title: mark.title,
            opacity: Number(getComputedStyle(mark).opacity), decoration: getComputedStyle(mark).textDecorationStyle })) })),
      })),
      panel: root.querySelector('.panel')?.textContent.trim() ?? '',
    });
})))"""


def blind_crop(browser, element_id, dpr, size):
    """The crop the extension posts for a picture (blind: the box in device px widened by BLIND_MARGIN_CSS)."""
    x0, y0, x1, y1 = snap(browser.rect(element_id), dpr)
    margin = int(np.ceil(BLIND_MARGIN_CSS * dpr))
    return max(0, x0 - margin), max(0, y0 - margin), min(size[0], x1 + margin), min(size[1], y1 + margin)


def expected_boxes(lines, crop, dpr):
    return [{"x": (crop[0] + x) / dpr, "y": (crop[1] + y) / dpr, "width": w / dpr, "height": h / dpr} for x, y, w, h in (line["box"] for line in lines)]


def within(rect, expected, tolerance=2):
    return all(abs(rect[k] - expected[k]) <= tolerance for k in ("x", "y", "width", "height"))


def read_via_server(server_url, image):
    """The server's own reading of an image (a PIL image), as /v1/read answers it."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    request = urllib.request.Request(f"{server_url}/v1/read", data=buffer.getvalue(), headers={"Content-Type": "image/png"}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


# After "Read text on this page" with the stub's reading: the card read, the live text revealed.
READ_ALL_SUMMARY = "1 element read as text; 1 showing the page\u2019s own text"


def assert_read_all_read_the_card_and_revealed_the_live_text(result, state, card_rect, crop, dpr):
    """"Read text on this page" (the popup's button, the service worker's readAll) on the read page
    with the stub's reading: the picture is read, the live text revealed rather than read; the
    thumbnail is not among the blurred elements the scan finds. result: readAll's answer; state:
    LAYER_JS's description of the page afterwards; card_rect: the card's box."""
    assert result["ok"], result
    assert (result["read"], result["partly"], result["unreadable"], result["revealed"]) == (1, 1, 0, 1), result
    [reading] = result["readings"]
    assert reading["verdict"] == "partly" and reading["text"] == "\n".join(line["text"] for line in STUB_LINES)
    [placement] = result["status"]["placements"]
    assert placement["method"] == "read" and within(placement["element"], card_rect), (placement, card_rect)
    [revealed] = result["status"]["pageText"]
    assert revealed["kind"] == "css-blur" and revealed["label"].startswith("Live words")
    assert READ_ALL_SUMMARY in result["message"] and READ_ALL_SUMMARY in state["panel"], (result["message"], state["panel"])

    [text_layer] = state["layers"]
    assert text_layer["target"] == placement["id"] and text_layer["visible"] and text_layer["showing"] == "text"
    assert [line["text"] for line in text_layer["lines"]] == ["Invoice 42\n", "Total due"]
    for line, box in zip(text_layer["lines"], expected_boxes(STUB_LINES, crop, dpr)):
        assert within(line["rect"], box), (line["text"], line["rect"], box)
        assert line["pointerEvents"] == "auto" and line["userSelect"] == "text"
    assert [mark["text"] for mark in text_layer["lines"][0]["uncertain"]] == ["o", "2"]


def assert_region_read(result, state, region):
    """"Read a region…" over the card: one element read (or found unreadable), its text layer over
    the dragged rectangle (region, CSS px), its lines the reading's. state: LAYER_JS's description."""
    assert result["ok"], result
    assert result["read"] + result["unreadable"] == 1 and result["revealed"] == 0, result
    [text_layer] = state["layers"]
    rect = text_layer["rect"]
    # the layer covers the dragged rectangle (the overlay may reach a little past it: the blur's halo)
    assert rect["x"] <= region["x"] + 2 and rect["y"] <= region["y"] + 2, (rect, region)
    assert rect["x"] + rect["width"] >= region["x"] + region["width"] - 2 and rect["y"] + rect["height"] >= region["y"] + region["height"] - 2
    if text_layer["verdict"] == "unreadable":
        assert text_layer["lines"] == [] and text_layer["bar"] == "This text cannot be read"
    else:
        [reading] = result["readings"]
        assert [line["text"].rstrip("\n") for line in text_layer["lines"]] == reading["text"].split("\n")
        assert "Copy text" in text_layer["bar"] and "Show pixels" in text_layer["bar"]
        assert "1 element read as text" in state["panel"]
