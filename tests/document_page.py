"""The test document of the "Read the whole document" tests (Chromium and Firefox): its twelve pages
drawn from tests/fixtures/extension/document-pages.json, the site serving them late, the stub server
that recognises which page it was sent (see tests/test_extension_document_e2e.py), and the checks
of what the document view shows and saves."""
import base64
import io
import json
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from extension_support import FIXTURES, QuietFileHandler, photo_like
from read_page import StubReadHandler

DOCUMENT = json.loads((FIXTURES / "document-pages.json").read_text())
PAGE_COUNT = len(DOCUMENT["pages"])
UNREADABLE_PAGE = DOCUMENT["unreadable_page"]
UNCERTAIN_PAGE = DOCUMENT["uncertain_page"]
# The page pictures: twice their CSS size (452 x 640), sharp on a DPR 2 screen before their blur.
PAGE_SIZE = (904, 1280)
MARGIN = 72
SERIF = "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"
SERIF_BOLD = "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf"
BLUR = 3.0
UNREADABLE_BLUR = 14.0
# Lazy pictures arrive this long after they are asked for, as over a network.
PICTURE_DELAY_S = 0.8
THUMBNAIL = (90, 128)
# A crop matches a page when its shrunk paper differs from that page's by less than this (0-255; other pages differ by 1 or more).
MATCH_BELOW = 0.6
# What the document view shows, from its document (a parameter, so Firefox's harness page can pass the view's).
VIEW_STATE_JS = """(document) => ({
  status: document.getElementById('status').textContent,
  pages: [...document.querySelectorAll('#pages .page')].map((page) => ({
    number: Number(page.dataset.number), status: page.dataset.status, verdict: page.dataset.verdict ?? null,
    heading: page.querySelector('h2').textContent,
    lines: [...page.querySelectorAll('.line')].map((line) => line.textContent),
    lang: page.querySelector('.text')?.lang ?? null,
    uncertain: [...page.querySelectorAll('.uncertain')].map((mark) => mark.textContent) })),
  buttons: Object.fromEntries(['cancel', 'copy', 'save-txt', 'save-md'].map((id) => [id, !document.getElementById(id).disabled])),
})"""


def wrap(text, font, width):
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if font.getlength(candidate) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def render_page(blocks, number):
    """One page of the document, sharp: (picture, its lines of text in reading order)."""
    image = Image.new("RGB", PAGE_SIZE, "white")
    draw = ImageDraw.Draw(image)
    heading, body = ImageFont.truetype(SERIF_BOLD, 40), ImageFont.truetype(SERIF, 30)
    width = PAGE_SIZE[0] - 2 * MARGIN
    y, lines = MARGIN, []
    for block in blocks:
        font, text = (heading, block["h"]) if "h" in block else (body, block["p"])
        for line in wrap(text, font, width):
            draw.text((MARGIN, y), line, font=font, fill=(20, 20, 20))
            lines.append(line)
            y += int(font.size * 1.45)
        y += int(body.size * 0.8)
    if number == UNREADABLE_PAGE:  # the survey drawings: boxes and wheels with tiny labels
        for i in range(6):
            x0, y0 = MARGIN + (i % 3) * 250, y + 40 + (i // 3) * 300
            draw.ellipse((x0, y0, x0 + 200, y0 + 200), outline=(30, 30, 30), width=4)
            draw.text((x0 + 60, y0 + 230), f"fig. {i + 1}", font=ImageFont.truetype(SERIF, 14), fill=(30, 30, 30))
    footer = ImageFont.truetype(SERIF, 24)
    draw.text((PAGE_SIZE[0] // 2 - 10, PAGE_SIZE[1] - MARGIN), str(number), font=footer, fill=(90, 90, 90))
    lines.append(str(number))
    return image, lines


def document_pages():
    """[(blurred picture, lines)] for every page, in order."""
    pages = []
    for number, blocks in enumerate(DOCUMENT["pages"], start=1):
        image, lines = render_page(blocks, number)
        pages.append((image.filter(ImageFilter.GaussianBlur(UNREADABLE_BLUR if number == UNREADABLE_PAGE else BLUR)), lines))
    return pages


def paper_thumbnail(image):
    """The page's paper (the white rectangle) cut out of a picture or a crop, shrunk: what identifies a page."""
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    paper = gray > 240
    rows, cols = np.where(paper.mean(axis=1) > 0.3)[0], np.where(paper.mean(axis=0) > 0.3)[0]
    if not len(rows) or not len(cols):
        return None
    cut = Image.fromarray(gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.uint8))
    return np.asarray(cut.resize(THUMBNAIL, Image.BILINEAR), dtype=np.float32)


class DelayedFileHandler(QuietFileHandler):
    """Serves the site; the page pictures late and not to be cached, as preview sites do, so a page
    dropped out of view takes as long to come back."""

    def do_GET(self):
        if self.path.startswith("/pages/"):
            time.sleep(PICTURE_DELAY_S)
        super().do_GET()

    def end_headers(self):
        if self.path.startswith("/pages/"):
            self.send_header("Cache-Control", "no-store")
        super().end_headers()


def write_site(root, pages):
    (root / "document.html").write_text((FIXTURES / "document.html").read_text())
    (root / "pages").mkdir()
    for number, (image, _) in enumerate(pages, start=1):
        image.save(root / "pages" / f"{number}.jpg", quality=85)
    logo = Image.new("RGB", (120, 32), (26, 115, 232))
    ImageDraw.Draw(logo).text((10, 6), "DocShelf", font=ImageFont.truetype(SERIF_BOLD, 18), fill="white")
    logo.save(root / "logo.png")
    photo_like((210, 210), seed=5).save(root / "author.jpg", quality=85)
    for i in range(1, 4):
        pages[i][0].resize((90, 127), Image.LANCZOS).save(root / f"related-{i}.jpg", quality=85)


def stub_reading(number, lines):
    """The stub's answer for page `number`: its lines, all sure but a few characters of UNCERTAIN_PAGE; nothing for UNREADABLE_PAGE."""
    if number == UNREADABLE_PAGE or number is None:
        # What a reader would guess at a page it cannot read: the extension must show none of it.
        guess = [{"text": "Fjg. 1 gcar", "box": [10, 10, 100, 14], "confidence": [0.2] * 11}]
        return {"text": "Fjg. 1 gcar", "lines": guess, "verdict": "unreadable"}
    answer = []
    for i, text in enumerate(lines):
        confidence = [0.99] * len(text)
        if number == UNCERTAIN_PAGE and i == 1:
            confidence[0] = confidence[5] = 0.4
        answer.append({"text": text, "box": [10, 10 + 20 * i, 100, 14], "confidence": confidence})
    verdict = "partly" if number == UNCERTAIN_PAGE else "readable"
    return {"text": "\n".join(lines), "lines": answer, "verdict": verdict}


def stub_handler(pages, log, delay_s, sizes):
    """A handler class answering /v1/read/batch with the recognised page's lines (see the module docstring);
    `log` gets each page number read, `sizes` each crop's size."""
    references = [paper_thumbnail(image) for image, _ in pages]

    def recognise(data_url):
        crop = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
        sizes.append(crop.size)
        thumb = paper_thumbnail(crop)
        if thumb is None:
            return None
        differences = [float(np.abs(thumb - reference).mean()) for reference in references]
        best = int(np.argmin(differences))
        return best + 1 if differences[best] < MATCH_BELOW else None

    class DocumentStubHandler(StubReadHandler):
        def do_POST(self):
            images = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["images"]
            numbers = [recognise(image["image"]) for image in images]
            log.extend(numbers)
            time.sleep(delay_s)
            self._json({"results": [stub_reading(number, pages[number - 1][1] if number else []) for number in numbers]})

    return DocumentStubHandler


def expected_lines(pages, number):
    return pages[number - 1][1]


def check_read_view(state, pages):
    """The view after the whole document was read: every page in order with its text, page 4 marked, page 10 said unreadable."""
    assert state["status"] == f"Read {PAGE_COUNT} pages: {PAGE_COUNT - 2} readable; 1 with uncertain characters; 1 cannot be read."
    assert [page["number"] for page in state["pages"]] == list(range(1, PAGE_COUNT + 1))
    for page in state["pages"]:
        number = page["number"]
        assert page["heading"].startswith(f"Page {number} of {PAGE_COUNT}"), page
        if number == UNREADABLE_PAGE:
            # said so, and no letters at all
            assert (page["status"], page["lines"]) == ("unreadable", []), page
            assert "This page cannot be read." in page["heading"]
            continue
        assert page["status"] == "read" and page["lines"] == expected_lines(pages, number), page
        assert page["lang"] == "en"
    uncertain = state["pages"][UNCERTAIN_PAGE - 1]
    second_line = expected_lines(pages, UNCERTAIN_PAGE)[1]
    assert uncertain["verdict"] == "partly" and uncertain["uncertain"] == [second_line[0], second_line[5]]
    assert "some characters uncertain" in uncertain["heading"]


def check_document_text(text, pages, read_up_to=PAGE_COUNT):
    """The .txt: a head, then each page under its heading in order, with its lines or what became of it."""
    head, *sections = text.rstrip("\n").split("\n\n")
    assert head.splitlines()[0] == DOCUMENT["title"] + " · DocShelf"
    assert [section.splitlines()[0] for section in sections] == [f"--- Page {n} of {PAGE_COUNT} ---" for n in range(1, PAGE_COUNT + 1)]
    for number, section in enumerate(sections, start=1):
        body = section.splitlines()[1:]
        if number > read_up_to:
            assert body == ["not read"], section
        elif number == UNREADABLE_PAGE:
            assert body == ["This page cannot be read."], section
        elif number == UNCERTAIN_PAGE:
            lines = list(pages[number - 1][1])
            lines[1] = f"[{lines[1][0]}]{lines[1][1:5]}[{lines[1][5]}]{lines[1][6:]}"
            assert body == lines, section
        else:
            assert body == pages[number - 1][1], section
