"""Helpers the extension's browser tests share: paths, the local servers, the facts of the blurred
fixture page (tests/fixtures/extension/blurred.html) and their geometry, Chromium with the unpacked
extension (ExtensionBrowser) and firefox-esr with the Firefox package (Firefox, launch_firefox).

The fixtures built from them are in tests/extension_fixtures.py."""
import base64
import importlib.util
import io
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "extension"
FIXTURES = ROOT / "tests" / "fixtures" / "extension"
SHIPPED_CHECKPOINT = ROOT / "models" / "checkpoints" / "nafunet.pt"
SCREENSHOT_DIR = ROOT / "docs" / "img"
TCMALLOC = Path("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")
CHROMIUM = Path("/usr/bin/chromium")
FIREFOX = Path("/usr/bin/firefox-esr")
BRIDGE = ROOT / "tests" / "firefox" / "bridge.mjs"
PUPPETEER = ROOT / "node_modules" / "puppeteer-core"
EXTENSION_UUID = "0b8e5c36-1c2a-4c57-9a5e-6a7f3f1e2d10"
COMMAND_TIMEOUT_S = 120
WINDOW = {"width": 1000, "height": 800}
# An element by id, in the document or in an open shadow root (the fixture's web component).
FIND_ELEMENT_JS = ("(id) => document.getElementById(id) ?? [...document.querySelectorAll('*')]"
                   ".map((el) => el.shadowRoot?.getElementById(id)).find(Boolean)")

# ----- the blurred page -----

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

# The site fixture's second server (another origin: the cross-origin frame of round2.html), set when it starts.
OTHER_ORIGIN_PORT = {}


def text_card(text, blur=0):
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 22)
    image = Image.new("RGB", (420, 60), "white")
    ImageDraw.Draw(image).text((12, 16), text, font=font, fill="black")
    return image.filter(ImageFilter.GaussianBlur(blur)) if blur else image


def photo_like(size=(240, 160), seed=3):
    """A smooth, colourful picture with no plain background: soft, but not text."""
    rng = np.random.default_rng(seed)
    noise = Image.fromarray((rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8))
    return noise.resize(size, Image.BICUBIC).filter(ImageFilter.GaussianBlur(3))


# ----- geometry: where the extension puts an overlay -----

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


# ----- servers on loopback -----

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


class QuietFileHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_files(root, page, handler=QuietFileHandler):
    """The files under `root` on a free loopback port for as long as the generator runs: yields `page`'s URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/{page}"
    server.shutdown()


def serve_stub(handler):
    """A stand-in HTTP server on a free loopback port for as long as the generator runs: yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


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


# ----- Chromium -----

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


# ----- Firefox -----

def load_pack():
    """extension/pack.py, which builds the store packages (`make extension`)."""
    spec = importlib.util.spec_from_file_location("extension_pack", EXTENSION / "pack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The tab showing the test page, whatever window has the focus (the harness has a window of its own).
FIND_TAB_JS = "async (url) => (await chrome.tabs.query({})).find((tab) => tab.url === url)"
MENU_CLICK_JS = f"""async ({{ item, url }}) => {{
  const tab = await ({FIND_TAB_JS})(url);
  const background = await chrome.runtime.getBackgroundPage();
  return background.antiAging.handleMenuClick({{ menuItemId: item, frameId: 0, pageUrl: url }}, tab);
}}"""
SEND_JS = f"""async ({{ type, url }}) => {{
  const tab = await ({FIND_TAB_JS})(url);
  return chrome.runtime.sendMessage({{ type, tabId: tab.id }});
}}"""
# Start a region picker's menu item ("sharpen-region", "read-region") without waiting for it: its
# answer, once the user drags or presses Escape, is left as window.regionRun in the harness.
START_REGION_JS = f"""async ({{ item, url }}) => {{
  const tab = await ({FIND_TAB_JS})(url);
  const background = await chrome.runtime.getBackgroundPage();
  window.regionRun = background.antiAging.handleMenuClick({{ menuItemId: item, frameId: 0, pageUrl: url }}, tab);
  return true;
}}"""
# What the extension shows in the page, read after the overlays' next layout.
FIREFOX_LAYER_JS = """() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
  const root = document.getElementById('anti-aging-layer')?.shadowRoot;
  if (!root) return resolve({ layer: false, overlays: [] });
  const panel = root.querySelector('.panel');
  resolve({
    layer: true,
    overlays: [...root.querySelectorAll('img.overlay')].filter((img) => getComputedStyle(img).display !== 'none').map((img) => {
      const r = img.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    }),
    picker: !!root.querySelector('.picker'),
    panelText: panel.textContent.trim(),
    panelVisible: !panel.classList.contains('hidden'),
  });
})))"""


class Firefox:
    """firefox-esr with the extension's Firefox package installed, one test page, at one
    devicePixelRatio (Firefox's layout.css.devPixelsPerPx: a real ratio, which its captures keep)."""

    def __init__(self, build, env, dpr=1):
        self.dpr = dpr
        config = {"firefox": str(FIREFOX), "extension": str(build), "id": load_pack().GECKO_ID, "uuid": EXTENSION_UUID,
                  "width": WINDOW["width"], "height": WINDOW["height"], "dpr": dpr}
        self.process = subprocess.Popen(["node", str(BRIDGE), json.dumps(config)], cwd=ROOT, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._answer().get("ready"), "the Firefox bridge did not start"
        self.url = None

    def _answer(self):
        ready, _, _ = select.select([self.process.stdout], [], [], COMMAND_TIMEOUT_S)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the Firefox bridge gave no answer (exit code {self.process.poll()})")
        return json.loads(line)

    def command(self, op, **fields):
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()
        answer = self._answer()
        if not answer["ok"]:
            raise RuntimeError(answer["error"])
        return answer["value"]

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"op": "close"}) + "\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)

    def open(self, url):
        self.command("goto", url=url)
        self.url = url

    def set_server(self, url):
        self.ext("(url) => chrome.storage.sync.set({ serverUrl: url }).then(() => true)", url)

    def page(self, fn, arg=None):
        return self.command("page", fn=fn, arg=arg)

    def ext(self, fn, arg=None):
        return self.command("ext", fn=fn, arg=arg)

    def rect(self, element_id):
        return self.page(f"(id) => {{ const r = ({FIND_ELEMENT_JS})(id).getBoundingClientRect();"
                         " return { x: r.x, y: r.y, width: r.width, height: r.height }; }", element_id)

    def press(self, key):
        self.command("key", key=key)

    def screenshot(self):
        """The page as shown, in device px."""
        return Image.open(io.BytesIO(base64.b64decode(self.command("screenshot")))).convert("RGB")

    def hover(self, element_id):
        self.page(f"(id) => ({FIND_ELEMENT_JS})(id).scrollIntoView({{ block: 'nearest' }})", element_id)
        r = self.rect(element_id)
        self.command("mouse", action="move", x=r["x"] + min(40, r["width"] / 2), y=r["y"] + r["height"] / 2)

    def menu(self, item):
        return self.ext(MENU_CLICK_JS, {"item": item, "url": self.url})

    def start_region(self, item):
        """Start a region picker's menu item; region_result() waits for its answer."""
        self.ext(START_REGION_JS, {"item": item, "url": self.url})

    def region_result(self):
        return self.ext("() => window.regionRun")

    def drag(self, *points):
        """Press the mouse at the first point, move through the others and let go at the last."""
        first, *rest = points
        self.command("mouse", action="move", x=first[0], y=first[1])
        self.command("mouse", action="down")
        for x, y in rest:
            self.command("mouse", action="move", x=x, y=y, steps=4)
        self.command("mouse", action="up")

    def send(self, message_type):
        """A message as the popup sends it."""
        return self.ext(SEND_JS, {"type": message_type, "url": self.url})

    def layer(self):
        return self.page(FIREFOX_LAYER_JS)

    def overlay_near(self, expected):
        return any(near(overlay, expected) for overlay in self.layer()["overlays"])

    def restore(self):
        self.command("key", key="Escape")
        assert self.layer()["layer"] is False


def launch_firefox(build, server_url, tmp_path_factory, dpr=1):
    """firefox-esr with `build` installed, at devicePixelRatio `dpr`, set to use the server at
    `server_url`, for as long as the generator runs: yields the Firefox."""
    # puppeteer makes the Firefox profile under TMPDIR: it goes with the test's other temporary files.
    env = {**os.environ, "TMPDIR": str(tmp_path_factory.mktemp("firefox-profile"))}
    browser = Firefox(build, env, dpr)
    try:
        browser.set_server(server_url)
        yield browser
    finally:
        browser.close()
