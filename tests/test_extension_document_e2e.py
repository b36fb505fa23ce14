"""End to end "Read the whole document" (issue 23 part 1) in Chromium at DPR 1 and 2: a
document-preview page (tests/fixtures/extension/document.html) whose twelve pages are blurred
JPEGs, canvases and background images that load only as they scroll into view, next to a logo, a
photo and thumbnails that are not pages; the document view the extension opens; and a stub server.

The stub reads nothing: it recognises which page it was sent (the page's paper, cut out of the
crop and shrunk, against each page's own picture) and answers that page's lines as the test wrote
them, so the view's order shows the order the extension read the pages in. Page 4 comes back with
uncertain characters and page 10 (small drawings, blurred beyond reading) as unreadable, with a
guess the extension must not show; a crop it cannot recognise (a page captured before its picture
arrived) is unreadable too. ANTI_AGING_SAVE_SCREENSHOTS=1 rewrites docs/img/extension-document.png.
"""
import base64
import io
import json
import os
import threading
import time
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from test_extension_e2e import (CHROMIUM, FIXTURES, SCREENSHOT_DIR, ExtensionBrowser, QuietFileHandler, photo_like, playwright,  # noqa: F401
                                serve_stub, test_build)
from test_extension_read_e2e import StubReadHandler

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]

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
STATUS_JS = "() => document.getElementById('status').textContent"
# Every status line the view shows, recorded from its first moment (an init script of the context).
RECORD_STATUS_JS = """if (location.pathname.endsWith('/document/document.html')) {
  window.statusLog = [];
  const record = () => {
    const text = document.getElementById('status')?.textContent;
    if (text && window.statusLog.at(-1) !== text) window.statusLog.push(text);
  };
  record();
  new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true });
}"""
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
VIEW_JS = f"() => ({VIEW_STATE_JS})(document)"
# Cancel is there only while the view is finding or reading pages.
READING_OVER_JS = "() => document.getElementById('cancel').disabled"


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


@pytest.fixture(scope="module")
def document_pages_drawn():
    return document_pages()


@pytest.fixture(scope="module")
def document_site(tmp_path_factory, document_pages_drawn):
    root = tmp_path_factory.mktemp("document-site")
    write_site(root, document_pages_drawn)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(DelayedFileHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/document.html"
    server.shutdown()


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


@pytest.fixture(scope="module")
def document_stub(document_pages_drawn):
    """stub(delay_s) -> (server URL, the page numbers it was sent, the sizes of the crops): one stub per delay."""
    started = {}

    def get(delay_s=0.0):
        if delay_s not in started:
            log, sizes = [], []
            server = serve_stub(stub_handler(document_pages_drawn, log, delay_s, sizes))
            started[delay_s] = (next(server), log, sizes, server)
        url, log, sizes, _ = started[delay_s]
        log.clear()
        sizes.clear()
        return url, log, sizes

    yield get
    for *_, server in started.values():
        next(server, None)


@pytest.fixture(scope="module")
def document_browsers(playwright, test_build, document_site, tmp_path_factory):  # noqa: F811
    started = {}

    def get(dpr):
        if dpr not in started:
            browser = ExtensionBrowser(playwright, test_build, tmp_path_factory.mktemp(f"document-profile-dpr{dpr}"), dpr)
            browser.context.add_init_script(RECORD_STATUS_JS)
            # Extension origins cannot be granted permissions: the clipboard is read back from the site's page.
            browser.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=document_site.rsplit("/", 1)[0])
            started[dpr] = browser
        return started[dpr]

    yield get
    for browser in started.values():
        browser.close()


def open_document_view(browser, url):
    """The popup's "Read the whole document" on the tab showing `url`: the view's page, once it has loaded."""
    with browser.context.expect_page() as opened:
        browser.worker.evaluate("""async (url) => { const tab = (await chrome.tabs.query({})).find((tab) => tab.url === url);
            return antiAging.openDocumentView(tab); }""", url)
    view = opened.value
    view.wait_for_load_state("load")
    return view


def clipboard(browser):
    """The clipboard's text, read from the site's page (which may read it)."""
    browser.page.bring_to_front()
    return browser.page.evaluate("navigator.clipboard.readText()")


def expected_lines(pages, number):
    return pages[number - 1][1]


def start_reading(browser, site, stub_url, scroll_y=300):
    browser.worker.evaluate("(url) => chrome.storage.sync.set({ serverUrl: url })", stub_url)
    browser.open(site)
    browser.page.evaluate("(y) => window.scrollTo(0, y)", scroll_y)
    return open_document_view(browser, site)


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


@pytest.mark.parametrize("dpr", [1, 2])
def test_the_whole_document_is_read_in_page_order_into_the_view(document_browsers, document_site, document_stub, document_pages_drawn, dpr):
    browser = document_browsers(dpr)
    stub_url, log, sizes = document_stub()
    view = start_reading(browser, document_site, stub_url)
    try:
        view.wait_for_function(READING_OVER_JS, timeout=120_000)
        state = view.evaluate(VIEW_JS)
        # every page was read once, in order, each after its picture had arrived; no logo, photo or thumbnail
        assert log == list(range(1, PAGE_COUNT + 1)), log
        # each page posted whole and alone: its blur is in its pixels, so no margin of the viewer around it
        assert set(sizes) == {(452 * dpr, 640 * dpr)}, sizes
        check_read_view(state, document_pages_drawn)
        if dpr == 1 and os.environ.get("ANTI_AGING_SAVE_SCREENSHOTS"):
            view.set_viewport_size({"width": 560, "height": 900})
            view.evaluate("""() => { const page = document.querySelector('#pages .page[data-number="3"]');
                scrollTo(0, page.offsetTop - document.querySelector('header').offsetHeight - 8); }""")
            view.screenshot(path=str(SCREENSHOT_DIR / "extension-document.png"))
        # the progress went page by page
        statuses = view.evaluate("window.statusLog")
        assert statuses[0].startswith("Finding the document’s pages"), statuses
        reading = [status for status in statuses if status.startswith("Reading page")]
        assert reading == [f"Reading page {n} of {PAGE_COUNT}…" for n in range(1, PAGE_COUNT + 1)], statuses
        assert state["buttons"] == {"cancel": False, "copy": True, "save-txt": True, "save-md": True}
        # the page is back where the reader left it
        assert browser.page.evaluate("window.scrollY") == 300

        # the text is the view's own text: find-in-page finds it
        assert view.evaluate("window.find('a single oak felled on the Berg farm')")
        # Copy all from the keyboard (the source link, then Cancel, now disabled, is skipped), and the saved files
        view.evaluate("getSelection().removeAllRanges(); document.activeElement?.blur()")
        for _ in range(2):
            view.keyboard.press("Tab")
        assert view.evaluate("document.activeElement.id") == "copy"
        view.keyboard.press("Enter")
        view.wait_for_function("() => document.getElementById('copy').textContent === 'Copied'")
        copied = clipboard(browser)
        with view.expect_download() as download:
            view.click("#save-txt")
        saved = Path(download.value.path()).read_text()
        assert download.value.suggested_filename == "The Lindqvist Tide Mill Restoration Report · DocShelf.txt"
        assert saved == copied
        check_document_text(saved, document_pages_drawn)
        with view.expect_download() as download:
            view.click("#save-md")
        markdown = Path(download.value.path()).read_text()
        assert download.value.suggested_filename.endswith(".md")
        assert markdown.startswith("# The Lindqvist Tide Mill: Restoration Report · DocShelf\n")
        headings = [line for line in markdown.splitlines() if line.startswith("## ")]
        assert headings == [f"## Page {n} of {PAGE_COUNT}" for n in range(1, PAGE_COUNT + 1)]
        assert "*This page cannot be read.*" in markdown
    finally:
        view.close()


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


def test_cancel_stops_reading_keeps_the_pages_read_and_lists_the_rest_as_not_read(document_browsers, document_site, document_stub, document_pages_drawn):
    browser = document_browsers(1)
    stub_url, log, _ = document_stub(delay_s=0.6)
    view = start_reading(browser, document_site, stub_url, scroll_y=0)
    try:
        view.wait_for_function("() => document.querySelector('#pages .page[data-number=\"3\"]')?.dataset.status === 'read'", timeout=60_000)
        assert view.evaluate(VIEW_JS)["buttons"]["cancel"]
        view.click("#cancel")
        view.wait_for_function("() => document.getElementById('status').textContent.startsWith('Cancelled')", timeout=30_000)
        state = view.evaluate(VIEW_JS)
        done = [page["number"] for page in state["pages"] if page["status"] != "pending"]
        # the page being read when Cancel was pressed may have arrived; nothing after it was asked for
        assert done in ([1, 2, 3], [1, 2, 3, 4]), state["pages"]
        assert state["status"] == f"Cancelled: {len(done)} of {PAGE_COUNT} pages read."
        time.sleep(1.5)
        assert log == list(range(1, len(done) + 1)) or log == list(range(1, len(done) + 2)), log
        assert all(page["heading"].endswith("not read") for page in state["pages"][len(done):])
        assert state["buttons"] == {"cancel": False, "copy": True, "save-txt": True, "save-md": True}
        assert browser.page.evaluate("window.scrollY") == 0
        view.click("#copy")
        view.wait_for_function("() => document.getElementById('copy').textContent === 'Copied'")
        check_document_text(clipboard(browser), document_pages_drawn, read_up_to=len(done))
    finally:
        view.close()
