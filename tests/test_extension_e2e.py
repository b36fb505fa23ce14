"""End to end: the unpacked extension in Debian's Chromium, a local page with CSS-blurred text,
and the real sharpening server on loopback.

Native context menus cannot be clicked by automation, so the tests hover the element and call
the very function the "Sharpen text" menu item runs (`antiAging.handleMenuClick`) inside the
extension's service worker. The extension is loaded from a temporary test build whose only
change is `<all_urls>` in host_permissions: Chrome grants captureVisibleTab only with that or
with activeTab, and activeTab comes from a real user gesture, which automation cannot make.

Geometry and pixel tests run with the shipped checkpoint when it exists, else with a tiny random
one (they check where pixels go, not how good they are); the OCR test needs the shipped model.
Set ANTI_AGING_SAVE_SCREENSHOTS=1 to (re)write docs/img/extension-{before,after}.png.
"""
import base64
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "extension"
FIXTURES = ROOT / "tests" / "fixtures" / "extension"
CHROMIUM = Path("/usr/bin/chromium")
SHIPPED_CHECKPOINT = ROOT / "models" / "checkpoints" / "nafunet.pt"
SCREENSHOT_DIR = ROOT / "docs" / "img"
TCMALLOC = Path("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")
WINDOW = {"width": 1000, "height": 800}
# An element by id, in the document or in an open shadow root (the fixture's web component).
FIND_ELEMENT_JS = ("(id) => document.getElementById(id) ?? [...document.querySelectorAll('*')]"
                   ".map((el) => el.shadowRoot?.getElementById(id)).find(Boolean)")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]

# The blurred text elements of the fixture page and their CSS blur sigma (nested ones combined).
TEXT_ELEMENTS = {
    "serif": 2.5,
    "sans": 2.7,  # blur(0.15em) at 18px
    "mono": (1.5**2 + 2.0**2) ** 0.5,  # blur(calc(1.5px + .5px)) inside a blur(1.5px) parent
    "wide": 3.0,  # 600x200 CSS px: the latency target's size
    "linked": 2.0,
    "below": 2.5,  # below the fold: the page scrolls to it
    "shadowed": 2.0,  # inside a web component's open shadow root
}
# How far past its box each element's blur reaches, for the overlay's halo: sigma in CSS px, or
# None when it is sharpened blind (pictures: BLIND_MARGIN_CSS of extension/lib/geometry.js).
SIGMA_CSS = {**TEXT_ELEMENTS, "nested-outer": 1.5, "tall": 2.0, "frosted": 3.0, "teaser": 2.5}
BLIND_MARGIN_CSS = 8
# What "Sharpen all" must find: CSS blur, backdrop blur, and a picture that looks blurred.
ALL_BLURRED = ["serif", "sans", "nested-outer", "mono", "wide", "linked", "below", "tall", "frosted", "shadowed", "blurred-img",
               "blurred-img-cross-origin"]


# ----- helpers -----

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(url, process, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                return json.load(response)
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not become healthy within {timeout} s")


def decode_data_url(data_url):
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB")


def snap(rect, scale):
    """The extension's snapRect (extension/lib/geometry.js): whole device pixels covering a CSS rect."""
    eps = 1e-6
    x0 = int(np.floor(rect["x"] * scale + eps))
    y0 = int(np.floor(rect["y"] * scale + eps))
    x1 = int(np.ceil((rect["x"] + rect["width"]) * scale - eps))
    y1 = int(np.ceil((rect["y"] + rect["height"]) * scale - eps))
    return x0, y0, x1, y1


def halo(rect, scale, sigma_css=None, spread=None, reach_sigma_css=None):
    """The extension's overlay for an element (blurReach + planCrop in extension/lib/geometry.js):
    its box in whole device px widened by 3 sigma (+ a text shadow's offset) per side, in CSS px."""
    spread = spread or {}
    known = sigma_css if sigma_css is not None else reach_sigma_css
    blur = BLIND_MARGIN_CSS * scale if known is None else 3 * known * scale
    reach = {side: int(np.ceil(blur + spread.get(side, 0) * scale - 1e-6)) for side in ("left", "right", "top", "bottom")}
    x0, y0, x1, y1 = snap(rect, scale)
    x0, y0, x1, y1 = x0 - reach["left"], y0 - reach["top"], x1 + reach["right"], y1 + reach["bottom"]
    return {"x": x0 / scale, "y": y0 / scale, "width": (x1 - x0) / scale, "height": (y1 - y0) / scale}


def near(a, b, tolerance=1):
    return all(abs(a[k] - b[k]) <= tolerance for k in ("x", "y", "width", "height"))


def sharpen_via_server(server_url, image, sigma):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    request = urllib.request.Request(f"{server_url}/v1/sharpen?sigma={sigma}", data=buffer.getvalue(),
                                     headers={"Content-Type": "image/png"}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return Image.open(io.BytesIO(response.read())).convert("RGB")


def text_card(text, blur=0):
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 22)
    image = Image.new("RGB", (420, 60), "white")
    ImageDraw.Draw(image).text((12, 16), text, font=font, fill="black")
    return image.filter(ImageFilter.GaussianBlur(blur)) if blur else image


# ----- servers -----

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The fixture page and its pictures, served on loopback; yields the page's URL."""
    root = tmp_path_factory.mktemp("site")
    for page in FIXTURES.glob("*.html"):
        shutil.copy(page, root / page.name)
    (root / "plain.html").write_text("<!doctype html><title>plain</title><p id='plain'>Nothing on this page is blurred.</p>")
    text_card("pictures of words, blurred", blur=2.5).save(root / "blurred-text.png")
    text_card("pictures of words, sharp").save(root / "sharp-text.png")
    # Sharp pixels shown three times their size by CSS: soft on screen. (Four times: the blind model
    # made Tesseract read it worse, CER 0.19 -> 0.67; see docs/extension.md, known limits.)
    text_card("small words scaled up").resize((140, 20), Image.LANCZOS).save(root / "small-text.png")
    photo_like().save(root / "photo.png")
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietFileHandler, directory=str(root))) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    # The second server is another origin: the cross-origin frame of round2.html comes from it.
    OTHER_ORIGIN_PORT["port"] = servers[1].server_port
    yield f"http://127.0.0.1:{servers[0].server_port}/blurred.html"
    for server in servers:
        server.shutdown()


OTHER_ORIGIN_PORT = {}


def photo_like(size=(240, 160), seed=3):
    """A smooth, colourful picture with no plain background: soft, but not text."""
    rng = np.random.default_rng(seed)
    noise = Image.fromarray((rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8))
    return noise.resize(size, Image.BICUBIC).filter(ImageFilter.GaussianBlur(3))


class QuietFileHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class FailingSharpenHandler(BaseHTTPRequestHandler):
    """A server that is up but refuses to sharpen, the way the real one reports errors."""

    def _json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._json(200, {"status": "ok", "model": "nafunet", "device": "cpu", "version": "test"})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._json(503, {"error": {"code": "overloaded", "message": "the model queue is full"}}, [("Retry-After", "3")])

    def log_message(self, *args):
        pass


def serve_stub(handler):
    """A stand-in HTTP server on a free loopback port for as long as the generator runs: yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def failing_server():
    yield from serve_stub(FailingSharpenHandler)


@pytest.fixture(scope="module")
def sharpen_server(tmp_path_factory):
    """The real server (`python -m server serve`) on a free loopback port."""
    checkpoint = SHIPPED_CHECKPOINT
    if not checkpoint.is_file():
        import torch

        from models import build_model, save_checkpoint
        torch.manual_seed(0)
        model = build_model("nafunet", width=8)
        with torch.no_grad():  # visibly not the identity, so overlays cannot pass for the originals
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.05)
        checkpoint = tmp_path_factory.mktemp("checkpoint") / "tiny.pt"
        save_checkpoint(checkpoint, model)
    env = dict(os.environ)
    if TCMALLOC.exists():  # as `make run` does: a faster allocator for CPU inference
        env["LD_PRELOAD"] = str(TCMALLOC)
    yield from serve_real(["--checkpoint", str(checkpoint)], tmp_path_factory.mktemp("server") / "server.log", env)


def serve_real(arguments, log, env=None):
    """`python -m server serve ARGUMENTS` on a free loopback port for as long as the generator runs:
    yields its URL once /healthz answers; its output goes to ``log``."""
    port = free_port()
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port), *arguments],
                                   cwd=ROOT, env=env or dict(os.environ), stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


# ----- the browser -----

@pytest.fixture(scope="module")
def test_build(tmp_path_factory):
    """A copy of extension/ whose manifest adds <all_urls> (see the module docstring)."""
    build = tmp_path_factory.mktemp("build") / "extension"
    shutil.copytree(EXTENSION, build)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["host_permissions"].append("<all_urls>")
    (build / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return build


class ExtensionBrowser:
    """Chromium with the extension loaded, one page, at one devicePixelRatio."""

    def __init__(self, playwright, build, profile, dpr):
        self.dpr = dpr
        # A real devicePixelRatio: Playwright's device_scale_factor only emulates it for the page,
        # while captureVisibleTab keeps capturing at the window's true scale.
        self.context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, no_viewport=True,
            # --lang: the tests read the extension's English messages, whatever the machine's language.
            args=["--headless=new", f"--disable-extensions-except={build}", f"--load-extension={build}", "--no-sandbox", "--lang=en-US",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic", "--hide-scrollbars", f"--force-device-scale-factor={dpr}",
                  f"--window-size={WINDOW['width']},{WINDOW['height']}"])
        workers = self.context.service_workers
        self.worker = workers[0] if workers else self.context.wait_for_event("serviceworker", timeout=20_000)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()

    def close(self):
        self.context.close()

    def resize_window(self, width, height):
        self.worker.evaluate(
            "async ([width, height]) => { const win = await chrome.windows.getLastFocused();"
            " await chrome.windows.update(win.id, { width, height }); }", [width, height])
        self.page.wait_for_function("([w, h]) => outerWidth === w && outerHeight === h", arg=[width, height])

    @property
    def extension_origin(self):
        return self.worker.url.split("/service-worker.js")[0]

    def open_extension_page(self, path):
        """An extension page in a window of its own, leaving the test page the active tab of its window."""
        with self.context.expect_page() as opened:
            self.worker.evaluate("(url) => chrome.windows.create({ url, focused: false }).then(() => true)",
                                 f"{self.extension_origin}/{path}")
        page = opened.value
        page.wait_for_load_state("load")
        return page

    def set_zoom(self, factor):
        """Page zoom, which Chrome folds into the page's devicePixelRatio."""
        self.worker.evaluate(
            "async (factor) => { const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });"
            " await chrome.tabs.setZoom(tab.id, factor); }", factor)
        self.page.wait_for_function("(ratio) => devicePixelRatio === ratio", arg=self.dpr * factor)

    def set_server(self, url):
        self.worker.evaluate("(url) => chrome.storage.sync.set({ serverUrl: url })", url)

    def open(self, url):
        self.page.goto(url)
        self.page.wait_for_load_state("load")
        self.page.evaluate("document.fonts.ready.then(() => true)")

    def rect(self, element_id):
        return self.page.evaluate(
            f"(id) => {{ const r = ({FIND_ELEMENT_JS})(id).getBoundingClientRect();"
            " return { x: r.x, y: r.y, width: r.width, height: r.height }; }", element_id)

    def right_click(self, element_id):
        """Hover the element (scrolled into view if needed) and run the menu item's code path."""
        self.page.evaluate(f"(id) => ({FIND_ELEMENT_JS})(id).scrollIntoView({{ block: 'nearest' }})", element_id)
        rect = self.rect(element_id)
        self.page.mouse.move(rect["x"] + min(40, rect["width"] / 2), rect["y"] + rect["height"] / 2)
        started = time.perf_counter()
        result = self.worker.evaluate(
            "async () => { const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });"
            " return antiAging.handleMenuClick({ menuItemId: 'sharpen-text', pageUrl: tab.url }, tab); }")
        return result, time.perf_counter() - started

    def sharpen_all(self):
        return self.worker.evaluate(
            "async () => { const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });"
            " return antiAging.sharpenAll(tab); }")

    def status(self):
        """The overlays' and their elements' rectangles, read from the page after a frame."""
        return self.page.evaluate("""() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
            const host = document.getElementById('anti-aging-layer');
            if (!host) return resolve({ layer: false, overlays: [] });
            const overlays = [...host.shadowRoot.querySelectorAll('img.overlay')].map((img) => {
              const r = img.getBoundingClientRect();
              return { target: img.dataset.target, src: img.src, visible: getComputedStyle(img).display !== 'none',
                       rect: { x: r.x, y: r.y, width: r.width, height: r.height } };
            });
            const panel = host.shadowRoot.querySelector('.panel');
            resolve({ layer: true, overlays, panelText: panel.textContent.trim(), panelLevel: panel.dataset.level,
                      panelVisible: !panel.classList.contains('hidden') });
        })))""")

    def overlay_over(self, element_id, expected=None):
        """The overlay within a pixel of the element's box widened by its blur's halo, or None."""
        if expected is None:
            expected = halo(self.rect(element_id), self.page.evaluate("devicePixelRatio"), SIGMA_CSS.get(element_id))
        for overlay in self.status()["overlays"]:
            if near(overlay["rect"], expected):
                return overlay
        return None

    def screenshot(self):
        return Image.open(io.BytesIO(self.page.screenshot())).convert("RGB")


@pytest.fixture(scope="module")
def playwright():
    """One Playwright for the module: its sync API runs one instance at a time."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browsers(playwright, test_build, sharpen_server, tmp_path_factory):
    """browsers(dpr) -> an ExtensionBrowser at that devicePixelRatio, started once per module."""
    started = {}

    def get(dpr):
        if dpr not in started:
            started[dpr] = ExtensionBrowser(playwright, test_build, tmp_path_factory.mktemp(f"profile-dpr{dpr}"), dpr)
            started[dpr].set_server(sharpen_server)
        return started[dpr]

    yield get
    for browser in started.values():
        browser.close()


LATENCIES = {}  # (dpr, zoom) -> {element id: (seconds from the menu call to the overlay, seconds in the server)}


@pytest.fixture(scope="module", autouse=True)
def report_latency():
    """Print the right-click-to-overlay latency (a figure, not an assertion; see it with -s)."""
    yield
    for (dpr, zoom), figures in sorted(LATENCIES.items()):
        totals = [total for total, _ in figures.values()]
        own = [total - server for total, server in figures.values()]
        line = ", ".join(f"{name} {total * 1000:.0f}" for name, (total, _) in figures.items())
        print(f"\nright-click to overlay, DPR {dpr} zoom {zoom}: p50 {statistics.median(totals) * 1000:.0f} ms"
              f" (of which outside the server: p50 {statistics.median(own) * 1000:.0f} ms); per element, ms: {line}")


def open_and_sharpen(browser, site, element_id):
    browser.open(site)
    result, _ = browser.right_click(element_id)
    assert result["ok"], result
    assert browser.overlay_over(element_id) is not None
    return result


# ----- tests -----

@pytest.mark.parametrize("dpr, zoom", [(1, 1), (2, 1), (1, 1.25)])
def test_right_click_overlays_each_elements_box(browsers, site, dpr, zoom):
    browser = browsers(dpr)
    browser.open(site)
    browser.set_zoom(zoom)
    try:
        assert browser.page.evaluate("devicePixelRatio") == dpr * zoom
        latencies = {}
        # Page zoom exercises fractional scales; three elements (one below the fold) are enough for that.
        elements = list(TEXT_ELEMENTS) if zoom == 1 else ["serif", "mono", "below"]
        for element_id in elements:
            result, seconds = browser.right_click(element_id)
            assert result["ok"], result
            assert result["sharpened"] == 1
            latencies[element_id] = (seconds, result["timings"]["serverMs"] / 1000)
            overlay = browser.overlay_over(element_id)
            assert overlay is not None, f"no overlay within 1 px of #{element_id}'s box: {browser.status()['overlays']}"
            assert overlay["visible"]
            # the overlay image has the box's size in device pixels: shown 1:1, not rescaled
            image = decode_data_url(overlay["src"])
            assert abs(image.width - overlay["rect"]["width"] * dpr * zoom) <= 1
            assert abs(image.height - overlay["rect"]["height"] * dpr * zoom) <= 1
        LATENCIES[(dpr, zoom)] = latencies
        assert len(browser.status()["overlays"]) == len(elements)
        # the nested case: the inner element (own blur) was chosen, not its blurred parent
        assert browser.overlay_over("nested-outer") is None

        scroll = browser.page.evaluate("scrollY")
        browser.page.keyboard.press("Escape")
        assert browser.status() == {"layer": False, "overlays": []}
        assert browser.page.evaluate("scrollY") == scroll
    finally:
        browser.set_zoom(1)


@pytest.mark.parametrize("dpr, element_id", [(1, "serif"), (2, "mono")])
def test_overlay_pixels_are_the_servers_answer_for_the_widened_crop(browsers, site, sharpen_server, dpr, element_id):
    browser = browsers(dpr)
    browser.open(site)
    before = browser.screenshot()
    box = snap(browser.rect(element_id), dpr)
    sigma = TEXT_ELEMENTS[element_id] * dpr
    margin = int(np.ceil(3 * sigma))
    crop = (max(0, box[0] - margin), max(0, box[1] - margin), min(before.width, box[2] + margin), min(before.height, box[3] + margin))
    expected = np.asarray(sharpen_via_server(sharpen_server, before.crop(crop), sigma), dtype=np.float32)
    blurred = np.asarray(before.crop(crop), dtype=np.float32)

    result, _ = browser.right_click(element_id)
    assert result["ok"], result
    overlay = browser.overlay_over(element_id)
    assert overlay is not None
    shown = np.asarray(decode_data_url(overlay["src"]), dtype=np.float32)
    # The overlay is the server's answer for the whole widened crop: the element and its halo.
    assert shown.shape == expected.shape
    assert np.abs(shown - expected).mean() < 1.5
    assert np.abs(shown - blurred).mean() > 4 * np.abs(shown - expected).mean() + 1
    # And the page shows it pixel for pixel over the element's box and halo.
    on_screen = np.asarray(browser.screenshot().crop(crop), dtype=np.float32)
    assert np.abs(on_screen - shown).mean() < 1.5


def test_overlay_follows_layout_changes_scrolling_and_resizing(browsers, site):
    browser = browsers(1)
    open_and_sharpen(browser, site, "sans")

    browser.page.evaluate("""() => { const banner = document.createElement('div');
        banner.style.height = '37px'; document.body.prepend(banner); }""")
    assert browser.overlay_over("sans") is not None, "after content was inserted above"
    browser.page.evaluate("window.scrollBy(0, 53)")
    assert browser.overlay_over("sans") is not None, "after scrolling"
    browser.resize_window(700, 650)
    assert browser.overlay_over("sans") is not None, "after resizing the window"
    browser.page.evaluate("document.getElementById('sans').style.width = '400px'")
    assert browser.overlay_over("sans") is not None, "after the element itself was resized"
    browser.page.evaluate("document.getElementById('sans').remove()")
    assert browser.status()["overlays"] == [], "an element removed from the page takes its overlay along"
    browser.resize_window(WINDOW["width"], WINDOW["height"])


def test_links_under_an_overlay_keep_working(browsers, site):
    browser = browsers(1)
    open_and_sharpen(browser, site, "linked")
    link = browser.rect("link")
    x, y = link["x"] + link["width"] / 2, link["y"] + link["height"] / 2
    assert browser.page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", [x, y]) == "link"
    browser.page.mouse.click(x, y)
    assert browser.page.evaluate("document.body.dataset.linkClicked") == "yes"
    assert browser.page.evaluate("location.hash") == "#followed"


def test_toggle_shows_originals_and_escape_restores(browsers, site):
    browser = browsers(1)
    open_and_sharpen(browser, site, "serif")
    assert "1 element sharpened" in browser.status()["panelText"]
    toggle = browser.page.locator("#anti-aging-layer .toggle")
    toggle.click()
    assert [o["visible"] for o in browser.status()["overlays"]] == [False]
    assert toggle.text_content() == "Show sharpened"
    toggle.click()
    assert [o["visible"] for o in browser.status()["overlays"]] == [True]
    browser.page.keyboard.press("Escape")
    assert browser.status()["layer"] is False
    # the page works as before: the extension can run again on it
    result, _ = browser.right_click("serif")
    assert result["ok"], result
    browser.page.locator("#anti-aging-layer .restore").click()
    assert browser.status()["layer"] is False


@pytest.mark.parametrize("dpr, zoom", [(1, 1), (2, 1), (1, 1.25)])
def test_sharpen_all_from_the_popup_finds_every_blurred_element(browsers, site, dpr, zoom):
    """The popup's protocol (runtime messages to the service worker), sent from an extension page.
    Pictures are judged at every scale: sharp ones stay, blurred ones are sharpened."""
    from playwright.sync_api import expect

    browser = browsers(dpr)
    browser.open(site)
    browser.set_zoom(zoom)
    browser.page.evaluate("window.scrollTo(0, 120)")
    tab_id = browser.worker.evaluate("chrome.tabs.query({ active: true, lastFocusedWindow: true }).then(([tab]) => tab.id)")
    popup = browser.open_extension_page("popup/popup.html")  # opened as a page, so its own tab is not the test page
    try:
        def send(message):
            return popup.evaluate("(message) => chrome.runtime.sendMessage(message)", message)

        health = send({"type": "health"})
        assert health["ok"] and health["status"] == "ok"
        expect(popup.locator("#server")).to_contain_text(f"Server ready at {health['serverUrl']}")
        found = send({"type": "inspect", "tabId": tab_id})
        # Same-origin pictures are judged from their pixels in the page; cross-origin ones (tainted
        # canvas) only after capture, from the screen's pixels.
        assert found["found"] == len(ALL_BLURRED) - 1, found
        assert found["unchecked"] == 2, found

        result = send({"type": "sharpen-all", "tabId": tab_id})
        assert result["ok"], result
        assert result["sharpened"] == len(ALL_BLURRED)
        assert [skip["reason"] for skip in result["skipped"]] == ["the image looks sharp"]
        assert result["capped"] == []
        assert browser.page.evaluate("scrollY") == 120, "the scroll position is restored after capturing"
        assert len(browser.status()["overlays"]) == len(ALL_BLURRED)
        for element_id in ALL_BLURRED:
            browser.page.evaluate(f"(id) => ({FIND_ELEMENT_JS})(id).scrollIntoView({{ block: 'nearest' }})", element_id)
            assert browser.overlay_over(element_id) is not None, f"#{element_id}"
        assert browser.overlay_over("sharp-img") is None
        assert browser.overlay_over("sharp-img-cross-origin") is None
        # the tall element was captured in parts and stitched into one overlay of its full height
        assert browser.rect("tall")["height"] > browser.page.evaluate("innerHeight")

        assert send({"type": "show-original", "tabId": tab_id, "value": True})["showingOriginal"] is True
        assert not any(overlay["visible"] for overlay in browser.status()["overlays"])
        assert send({"type": "restore", "tabId": tab_id})["overlays"] == 0
        assert browser.status()["layer"] is False
    finally:
        popup.close()
        browser.set_zoom(1)


def test_automatic_mode_sharpens_picked_sites_as_they_load(browsers, site):
    browser = browsers(1)
    registered = "chrome.scripting.getRegisteredContentScripts().then((scripts) => scripts.length)"
    # The test build's <all_urls> already grants the site, so no permission prompt is involved.
    browser.worker.evaluate("chrome.storage.sync.set({ autoSites: ['*://127.0.0.1/*'] })")
    try:
        deadline = time.monotonic() + 10
        while browser.worker.evaluate(registered) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        browser.open(site.replace("blurred.html", "auto.html"))
        deadline = time.monotonic() + 120
        while not browser.status()["overlays"] and time.monotonic() < deadline:
            time.sleep(0.25)
        assert browser.overlay_over("teaser") is not None
    finally:
        browser.worker.evaluate("chrome.storage.sync.set({ autoSites: [] })")
        deadline = time.monotonic() + 10
        while browser.worker.evaluate(registered) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert browser.worker.evaluate(registered) == 0


def test_server_not_running_says_how_to_start_it(browsers, site, sharpen_server):
    browser = browsers(1)
    browser.open(site)
    browser.set_server(f"http://127.0.0.1:{free_port()}")
    try:
        browser.page.evaluate("window.scrollTo(0, 40)")
        result, _ = browser.right_click("serif")
    finally:
        browser.set_server(sharpen_server)
    assert result["ok"] is False
    assert "make run" in result["error"] and "python -m server serve" in result["error"]
    status = browser.status()
    assert status["overlays"] == []
    assert status["panelLevel"] == "error" and status["panelVisible"]
    assert "make run" in status["panelText"]


def test_server_error_is_reported_and_nothing_is_half_applied(browsers, site, failing_server, sharpen_server):
    browser = browsers(1)
    browser.open(site)
    browser.page.evaluate("window.scrollTo(0, 40)")
    browser.set_server(failing_server)
    try:
        result = browser.sharpen_all()
    finally:
        browser.set_server(sharpen_server)
    assert result["ok"] is False
    assert "the model queue is full" in result["error"]
    status = browser.status()
    assert status["overlays"] == []
    assert "the model queue is full" in status["panelText"]
    assert browser.page.evaluate("scrollY") == 40, "the scroll position is restored after capturing"


def test_options_page_validates_and_saves_the_server(browsers, sharpen_server):
    from playwright.sync_api import expect

    browser = browsers(1)
    options = browser.open_extension_page("options/options.html")
    try:
        message = options.locator("#message")
        expect(options.locator("#server-url")).to_have_value(sharpen_server)
        options.fill("#server-url", "http://192.168.0.5:8765")
        options.click("button[type=submit]")
        expect(message).to_contain_text("this computer")
        assert browser.worker.evaluate("chrome.storage.sync.get('serverUrl')")["serverUrl"] == sharpen_server

        port = sharpen_server.rsplit(":", 1)[1]
        options.fill("#server-url", f" http://localhost:{port}/ ")
        options.click("button[type=submit]")
        expect(message).to_have_text("Saved.")
        assert browser.worker.evaluate("chrome.storage.sync.get('serverUrl')")["serverUrl"] == f"http://localhost:{port}"
        options.click("#check")
        expect(message).to_contain_text("is ready")
    finally:
        options.close()
        browser.set_server(sharpen_server)


@pytest.mark.skipif(not SHIPPED_CHECKPOINT.is_file(), reason=f"needs the trained model {SHIPPED_CHECKPOINT.relative_to(ROOT)} (not trained yet)")
@pytest.mark.parametrize("dpr", [1, 2])
def test_tesseract_reads_the_overlay_better_than_the_blurred_text(browsers, site, dpr):
    from models.evaluation.ocr import cer, ocr_scale, read_text

    browser = browsers(dpr)
    browser.open(site)
    visible = [e for e in TEXT_ELEMENTS if e not in ("below", "shadowed")]  # those two lie below the fold
    before = browser.screenshot()
    boxes = {e: snap(browser.rect(e), dpr) for e in visible}
    texts = {e: browser.page.evaluate("(id) => document.getElementById(id).innerText", e) for e in visible}
    font_px = {e: browser.page.evaluate("(id) => parseFloat(getComputedStyle(document.getElementById(id)).fontSize)", e) for e in visible}
    for element_id in visible:
        result, _ = browser.right_click(element_id)
        assert result["ok"], result
    browser.page.evaluate("window.scrollTo(0, 0)")
    after = browser.screenshot()

    rates = {}
    for element_id in visible:
        scale = ocr_scale(font_px[element_id] * dpr)
        read = {name: read_text(shot.crop(boxes[element_id]), single_line=False, scale=scale) for name, shot in (("blurred", before), ("sharpened", after))}
        rates[element_id] = {name: cer(text, texts[element_id]) for name, text in read.items()}
        print(f"\n#{element_id} at DPR {dpr}: CER {rates[element_id]['blurred']:.2f} -> {rates[element_id]['sharpened']:.2f}; "
              f"Tesseract read {read['sharpened']!r}")
    mean_before = statistics.mean(r["blurred"] for r in rates.values())
    mean_after = statistics.mean(r["sharpened"] for r in rates.values())
    print(f"\nDPR {dpr}: mean character error rate {mean_before:.3f} blurred -> {mean_after:.3f} sharpened")
    # The figures README.md quotes, held both ways so that the README changes with them. Tolerances:
    # a few characters Tesseract reads differently in one of the five elements move the mean by a
    # few hundredths (the sharpened pixels differ with the CPU's precision, the blurred ones with
    # Chromium's and Tesseract's versions). Measured: 0.672 -> 0.059 at DPR 1, 0.622 -> 0.039 at DPR 2.
    quoted_before, quoted_after = {1: (0.67, 0.06), 2: (0.62, 0.04)}[dpr]
    assert abs(mean_before - quoted_before) <= 0.05, f"blurred: CER {mean_before:.3f}, README says {quoted_before}"
    assert abs(mean_after - quoted_after) <= 0.03, f"sharpened: CER {mean_after:.3f}, README says {quoted_after}"

    if dpr == 2 and os.environ.get("ANTI_AGING_SAVE_SCREENSHOTS") == "1":
        # Full resolution (downscaling would hide the blur), around the first four elements.
        shown = [boxes[e] for e in ("serif", "sans", "mono", "wide")]
        region = (min(b[0] for b in shown) - 24, min(b[1] for b in shown) - 24, max(b[2] for b in shown) + 24, max(b[3] for b in shown) + 24)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        for name, image in (("before", before), ("after", after)):
            shot = image.crop(region).quantize(colors=64, dither=Image.Dither.NONE)  # keeps the PNGs small
            shot.save(SCREENSHOT_DIR / f"extension-{name}.png", optimize=True)


# ----- round 2: every way pages blur text (tests/fixtures/extension/round2.html) -----

# Blurred elements of round2.html in the top frame: (sigma CSS px or None, text-shadow offset spread, widest sigma).
ROUND2 = {
    "shadow": (3.0, None, None),  # nearly transparent glyphs; text-shadow: 0 0 6px
    "shadow-offset": (2.0, {"right": 3, "bottom": 2}, None),  # text-shadow: 3px 2px 4px
    "shadow-multi": (None, None, 5.0),  # two radii (5px, 10px): no single Gaussian, blind
    "filtered": (2.0, None, None),
    "canvas": (None, None, None),  # pixels only: blind
    "bg-text": (None, None, None),
    "picture-img": (None, None, None),
    "scaled-img": (None, None, None),
}
# In frames: frame URL suffix -> (element id, sigma CSS px).
ROUND2_FRAMES = {"frame.html": ("framed", 2.0), "frame-cross.html": ("framed-cross", 2.5)}
PICTURE_TEXT = {"canvas": "canvas words, blurred", "bg-text": "pictures of words, blurred",
                "picture-img": "pictures of words, blurred", "scaled-img": "small words scaled up"}
STATUS_JS = """() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
    const host = document.getElementById('anti-aging-layer');
    if (!host) return resolve([]);
    resolve([...host.shadowRoot.querySelectorAll('img.overlay')].map((img) => {
      const r = img.getBoundingClientRect();
      return { target: img.dataset.target, visible: getComputedStyle(img).display !== 'none', x: r.x, y: r.y, width: r.width, height: r.height };
    }));
})))"""


def round2_url(site):
    return site.replace("blurred.html", f"round2.html?other={OTHER_ORIGIN_PORT['port']}")


def open_round2(browser, site):
    browser.open(round2_url(site))
    browser.page.wait_for_function("() => document.getElementById('frame-cross').contentWindow && [...document.images].every((i) => i.complete)")
    for suffix in ROUND2_FRAMES:
        frame = frame_of(browser, suffix)
        frame.wait_for_load_state("load")
        frame.evaluate("document.fonts.ready.then(() => true)")


def frame_of(browser, suffix):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for frame in browser.page.frames:
            if frame.url.endswith(suffix):
                return frame
        time.sleep(0.1)
    raise AssertionError(f"no frame {suffix}: {[f.url for f in browser.page.frames]}")


def element_rect(frame, element_id):
    return frame.evaluate("(id) => { const r = document.getElementById(id).getBoundingClientRect();"
                          " return { x: r.x, y: r.y, width: r.width, height: r.height }; }", element_id)


def frame_origin(browser, iframe_id):
    """Where a frame's viewport starts in the tab: its iframe's box inside the 2 px border."""
    box = browser.rect(iframe_id)
    return box["x"] + 2, box["y"] + 2


def clamp_to(rect, size):
    x0, y0 = max(0, rect["x"]), max(0, rect["y"])
    x1, y1 = min(size[0], rect["x"] + rect["width"]), min(size[1], rect["y"] + rect["height"])
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}


def overlay_near(frame, expected):
    return next((o for o in frame.evaluate(STATUS_JS) if near(o, expected)), None)


def full_page(browser):
    """The whole page (overlays included, the extension's panel hidden), as the user would scroll through it."""
    browser.page.evaluate("() => { const panel = document.getElementById('anti-aging-layer')?.shadowRoot.querySelector('.panel');"
                          " if (panel) panel.style.visibility = 'hidden'; }")
    shot = Image.open(io.BytesIO(browser.page.screenshot(full_page=True))).convert("RGB")
    browser.page.evaluate("() => { const panel = document.getElementById('anti-aging-layer')?.shadowRoot.querySelector('.panel');"
                          " if (panel) panel.style.visibility = ''; }")
    return shot


def layout_of(browser, ids):
    return browser.page.evaluate("""(ids) => ({ width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
        rects: ids.map((id) => { const r = document.getElementById(id).getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }) })""", ids)


def ocr_rates(before, after, boxes, texts, font_px, dpr):
    from models.evaluation.ocr import cer, ocr_scale, read_text

    rates = {}
    for name, box in boxes.items():
        scale = ocr_scale(font_px * dpr)
        read = {label: read_text(shot.crop(box), single_line=False, scale=scale) for label, shot in (("blurred", before), ("sharpened", after))}
        rates[name] = {label: cer(text, texts[name]) for label, text in read.items()}
        print(f"\n#{name} at DPR {dpr}: CER {rates[name]['blurred']:.2f} -> {rates[name]['sharpened']:.2f}; read {read['sharpened']!r}")
    return rates


def test_text_shadow_blur_is_a_gaussian_of_half_its_radius(playwright):
    """CSS: a text-shadow blur radius R is a Gaussian of sigma R/2. Chromium's own pixels, both raster paths."""
    from models.data.blur import box3_blur, gaussian_blur
    from models.data.chromium_devset import RASTER_ARGS, psnr_uint8, to_tensor, to_uint8

    html = ("<style>body{margin:0;background:#fff} p{margin:40px;padding:30px;width:560px;font:22px 'Liberation Serif',serif;color:#000}</style>"
            "<p id=t>Quiet harbour lights reflect seven copper boats while the morning ferry waits at the pier.</p>")
    for raster, args in RASTER_ARGS.items():
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        for dpr in (1, 2):
            page = chromium.new_page(viewport={"width": 800, "height": 400}, device_scale_factor=dpr)
            page.set_content(html)
            page.evaluate("document.fonts.ready.then(() => true)")
            sharp = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
            for radius in (2, 4, 6, 8):
                page.evaluate(f"document.getElementById('t').style.cssText = 'color: transparent; text-shadow: 0 0 {radius}px #000'")
                shadow = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("RGB"))
                x = to_tensor(sharp)
                fit = {}
                for factor in (0.75, 1.0, 1.33):
                    sigma = radius / 2 * dpr * factor
                    fit[factor] = {name: psnr_uint8(to_uint8(kernel(x, sigma)), shadow) for name, kernel in (("gaussian", gaussian_blur), ("box3", box3_blur))}
                print(f"\n{raster} DPR {dpr} R {radius}px: sigma R/2 x DPR gaussian {fit[1.0]['gaussian']:.1f} dB, box3 {fit[1.0]['box3']:.1f} dB; "
                      f"unblurred {psnr_uint8(sharp, shadow):.1f} dB; 0.75x {max(fit[0.75].values()):.1f}, 1.33x {max(fit[1.33].values()):.1f}")
                best = max(fit[1.0].values())
                assert best > max(fit[0.75].values()) and best > max(fit[1.33].values()), (raster, dpr, radius, fit)
                if radius * dpr >= 4:
                    assert best >= 50, (raster, dpr, radius, fit)
            page.close()
        chromium.close()


@pytest.mark.parametrize("dpr", [1, 2])
def test_round2_sharpen_all_finds_every_case_and_reads_better(browsers, site, dpr):
    browser = browsers(dpr)
    open_round2(browser, site)
    ids = [*ROUND2, "sharp", "photo"]
    layout_before = layout_of(browser, ids)
    before = full_page(browser)
    started = time.perf_counter()
    result = browser.sharpen_all()
    seconds = time.perf_counter() - started
    assert result["ok"], result
    print(f"\nSharpen all on round2.html at DPR {dpr} (10 elements, 2 of them in frames): {seconds * 1000:.0f} ms "
          f"(extension's own timing {result['elapsedMs']} ms: {result['timings']})")
    assert result["sharpened"] == len(ROUND2) + len(ROUND2_FRAMES), result
    after = full_page(browser)

    # every blurred element has an overlay over its box and its blur's halo, and the layout did not move
    for element_id, (sigma, spread, widest) in ROUND2.items():
        expected = halo(browser.rect(element_id), dpr, sigma, spread, widest)
        assert browser.overlay_over(element_id, expected) is not None, (element_id, expected, browser.status()["overlays"])
    for suffix, (element_id, sigma) in ROUND2_FRAMES.items():
        frame = frame_of(browser, suffix)
        # the halo stops at the frame's edges: the overlay lives in the frame and is clipped by it
        expected = clamp_to(halo(element_rect(frame, element_id), dpr, sigma), frame.evaluate("[innerWidth, innerHeight]"))
        assert overlay_near(frame, expected) is not None, (suffix, expected, json.dumps(frame.evaluate(STATUS_JS)))
    assert layout_of(browser, ids) == layout_before
    # the sharp paragraph and the photo are untouched: no overlay over them, their styles as they were
    for untouched in ("sharp", "photo"):
        box = browser.rect(untouched)
        for overlay in browser.status()["overlays"]:
            r = overlay["rect"]
            assert r["x"] + r["width"] <= box["x"] or r["x"] >= box["x"] + box["width"] or r["y"] + r["height"] <= box["y"] or r["y"] >= box["y"] + box["height"], (untouched, overlay)
    assert browser.page.evaluate("document.getElementById('sharp').getAttribute('style')") is None

    # the popup's list says what each element got
    status = browser.worker.evaluate("chrome.tabs.query({ active: true, lastFocusedWindow: true }).then(([tab]) => antiAging.tabStatus(tab.id))")
    assert {p["method"] for p in status["placements"]} == {"sharpened"} and len(status["placements"]) == 10

    if not SHIPPED_CHECKPOINT.is_file():
        return
    # OCR reads what the overlay covers (element and halo), before and after, on the whole page
    boxes, texts = {}, {}
    scroll_y = browser.page.evaluate("scrollY")
    for element_id, (sigma, spread, widest) in ROUND2.items():
        area = halo(browser.rect(element_id), dpr, sigma, spread, widest)
        boxes[element_id] = snap({**area, "y": area["y"] + scroll_y}, dpr)
        texts[element_id] = PICTURE_TEXT.get(element_id) or browser.page.evaluate("(id) => document.getElementById(id).innerText", element_id)
    for suffix, (element_id, sigma) in ROUND2_FRAMES.items():
        frame = frame_of(browser, suffix)
        x, y = frame_origin(browser, "frame-same" if suffix == "frame.html" else "frame-cross")
        area = clamp_to(halo(element_rect(frame, element_id), dpr, sigma), frame.evaluate("[innerWidth, innerHeight]"))
        boxes[element_id] = snap({**area, "x": area["x"] + x, "y": area["y"] + y + scroll_y}, dpr)
        texts[element_id] = frame.evaluate("(id) => document.getElementById(id).innerText", element_id)
    rates = ocr_rates(before, after, boxes, texts, 20, dpr)
    # lower for each element, or both next to perfect (then there is nothing to gain)
    worse = {name: rate for name, rate in rates.items() if rate["sharpened"] >= rate["blurred"] and rate["blurred"] > 0.05}
    assert not worse, worse


@pytest.mark.parametrize("dpr", [1, 2])
def test_right_click_finds_the_text_shadow_trick_and_covers_its_moved_halo(browsers, site, dpr):
    browser = browsers(dpr)
    open_round2(browser, site)
    for element_id in ("shadow", "shadow-offset"):
        sigma, spread, _ = ROUND2[element_id]
        result, _ = browser.right_click(element_id)
        assert result["ok"] and result["sharpened"] == 1, result
        expected = halo(browser.rect(element_id), dpr, sigma, spread)
        overlay = browser.overlay_over(element_id, expected)
        assert overlay is not None, (element_id, expected, browser.status()["overlays"])
        image = decode_data_url(overlay["src"])
        assert abs(image.width - expected["width"] * dpr) <= 1 and abs(image.height - expected["height"] * dpr) <= 1
    browser.page.keyboard.press("Escape")


def test_region_picker_sharpens_the_dragged_rectangle_and_escape_cancels(browsers, site):
    browser = browsers(1)
    open_round2(browser, site)
    start_region = ("async () => { const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });"
                    " globalThis.regionRun = antiAging.handleMenuClick({ menuItemId: 'sharpen-region', pageUrl: tab.url }, tab); return true; }")
    picker_shown = "() => !!document.getElementById('anti-aging-layer')?.shadowRoot.querySelector('.picker')"

    # Escape cancels: nothing is captured, nothing is shown
    browser.worker.evaluate(start_region)
    browser.page.wait_for_function(picker_shown)
    browser.page.keyboard.press("Escape")
    result = browser.worker.evaluate("globalThis.regionRun")
    assert result["ok"] and result["cancelled"], result
    assert not browser.page.evaluate(picker_shown)
    assert browser.status()["overlays"] == []

    # a drag over the picture of text (bottom right to top left works too)
    box = browser.rect("bg-text")
    region = {"x": box["x"] - 4, "y": box["y"] - 4, "width": box["width"] + 8, "height": box["height"] + 8}
    browser.worker.evaluate(start_region)
    browser.page.wait_for_function(picker_shown)
    browser.page.mouse.move(region["x"] + region["width"], region["y"] + region["height"])
    browser.page.mouse.down()
    browser.page.mouse.move(region["x"] + 50, region["y"] + 30, steps=4)
    browser.page.mouse.move(region["x"], region["y"], steps=4)
    browser.page.mouse.up()
    result = browser.worker.evaluate("globalThis.regionRun")
    assert result["ok"] and result["sharpened"] == 1, result
    assert not browser.page.evaluate(picker_shown)
    overlay = browser.overlay_over("bg-text", region)
    assert overlay is not None, (region, browser.status()["overlays"])
    # it follows the page when it scrolls, like every overlay
    browser.page.evaluate("window.scrollBy(0, 40)")
    assert browser.overlay_over("bg-text", {**region, "y": region["y"] - 40}) is not None
    browser.page.keyboard.press("Escape")
    assert browser.status()["layer"] is False


def test_show_the_pages_own_text_and_undo(browsers, site):
    browser = browsers(1)
    open_round2(browser, site)
    filter_of = "(id) => getComputedStyle(document.getElementById(id)).filter"

    def menu(item, element_id):
        browser.page.evaluate("(id) => document.getElementById(id).scrollIntoView({ block: 'nearest' })", element_id)
        r = browser.rect(element_id)
        browser.page.mouse.move(r["x"] + 40, r["y"] + r["height"] / 2)
        return browser.worker.evaluate(
            "async (item) => { const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });"
            " return antiAging.handleMenuClick({ menuItemId: item, pageUrl: tab.url }, tab); }", item)

    # CSS filter: the blur comes off in place, other filters stay; the model is not involved
    result = menu("show-page-text", "filtered")
    assert result["ok"] and result["revealed"] == 1, result
    assert browser.page.evaluate(filter_of, "filtered") == "none"
    assert [entry["method"] for entry in result["status"]["pageText"]] == ["page-text"]
    assert browser.status()["overlays"] == []
    # the text-shadow trick: the glyphs get the shadow's colour and the shadow goes
    result = menu("show-page-text", "shadow")
    assert result["revealed"] == 2
    style = browser.page.evaluate("() => { const s = getComputedStyle(document.getElementById('shadow')); return [s.color, s.textShadow]; }")
    assert style == ["rgb(0, 0, 0)", "none"]
    if SHIPPED_CHECKPOINT.is_file():
        from models.evaluation.ocr import cer, read_text
        shot = browser.screenshot()
        for element_id in ("filtered", "shadow"):
            text = browser.page.evaluate("(id) => document.getElementById(id).innerText", element_id)
            assert cer(read_text(shot.crop(snap(browser.rect(element_id), 1)), single_line=False), text) < 0.1
    # the toggle puts the blur back and takes it off again, like it does for overlays
    toggle = browser.page.locator("#anti-aging-layer .toggle")
    toggle.click()
    assert browser.page.evaluate(filter_of, "filtered") == "blur(2px)"
    toggle.click()
    assert browser.page.evaluate(filter_of, "filtered") == "none"
    # Escape undoes it: computed styles and inline styles as they were
    browser.page.keyboard.press("Escape")
    assert browser.page.evaluate(filter_of, "filtered") == "blur(2px)"
    assert browser.page.evaluate("() => ['filtered', 'shadow'].map((id) => document.getElementById(id).getAttribute('style') ?? '')") == ["", ""]
    assert browser.status()["layer"] is False

    # shown next to a sharpened overlay: the panel's button swaps the overlay for the page's text
    result, _ = browser.right_click("filtered")
    assert result["ok"], result
    button = browser.page.locator("#anti-aging-layer .reveal")
    assert button.is_visible()
    button.click()
    assert browser.status()["overlays"] == []
    assert browser.page.evaluate(filter_of, "filtered") == "none"
    browser.page.keyboard.press("Escape")
    assert browser.page.evaluate(filter_of, "filtered") == "blur(2px)"


def test_nothing_found_says_what_was_looked_for_and_what_to_try(browsers, site):
    browser = browsers(1)
    browser.open(site.replace("blurred.html", "plain.html"))
    result = browser.sharpen_all()
    assert result["ok"] and result["sharpened"] == 0
    for words in ("CSS blur", "text-shadow", "pictures of text", "Sharpen a region"):
        assert words in result["message"], result["message"]
        assert words in browser.status()["panelText"]
    result, _ = browser.right_click("plain")
    assert result["ok"] is False
    assert "text-shadow" in result["error"] and "Sharpen a region" in result["error"]
