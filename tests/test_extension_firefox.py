"""End to end in Firefox: the Firefox package (`make extension`) in Debian's firefox-esr, driven
over WebDriver BiDi by puppeteer-core (tests/firefox/bridge.mjs; `npm ci` installs it, and it
downloads no browser), against the real sharpening server and the Chromium tests' pages.

As in tests/test_extension_e2e.py, native context menus cannot be clicked by automation, so the
tests hover the element and call the function the menu item runs (`antiAging.handleMenuClick`)
in the background page, and the test build adds `<all_urls>` because activeTab needs a real user
gesture. It also adds a harness page (see bridge.mjs) from which the tests reach the extension.
"""
import json
import os
import select
import subprocess
import zipfile
from pathlib import Path

import pytest

from test_extension_e2e import (  # noqa: F401 (site and sharpen_server are fixtures used here)
    ALL_BLURRED, FIND_ELEMENT_JS, OTHER_ORIGIN_PORT, SIGMA_CSS, WINDOW, halo, near, sharpen_server, site)
from test_extension_pack import load_pack

ROOT = Path(__file__).resolve().parents[1]
FIREFOX = Path("/usr/bin/firefox-esr")
BRIDGE = ROOT / "tests" / "firefox" / "bridge.mjs"
PUPPETEER = ROOT / "node_modules" / "puppeteer-core"
EXTENSION_UUID = "0b8e5c36-1c2a-4c57-9a5e-6a7f3f1e2d10"
COMMAND_TIMEOUT_S = 120
SHORTCUTS = {"sharpen-all": "Alt+Shift+S", "sharpen-region": "Alt+Shift+R"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not FIREFOX.exists(), reason="Debian firefox-esr (/usr/bin/firefox-esr) is not installed"),
    pytest.mark.skipif(not PUPPETEER.is_dir(), reason="puppeteer-core is not installed: run `npm ci`"),
]

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
# What the extension shows in the page, read after the overlays' next layout.
LAYER_JS = """() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
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
    """firefox-esr with the extension's Firefox package installed, one test page."""

    def __init__(self, build, env):
        config = {"firefox": str(FIREFOX), "extension": str(build), "id": load_pack().GECKO_ID, "uuid": EXTENSION_UUID,
                  "width": WINDOW["width"], "height": WINDOW["height"], "dpr": 1}
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

    def hover(self, element_id):
        self.page(f"(id) => ({FIND_ELEMENT_JS})(id).scrollIntoView({{ block: 'nearest' }})", element_id)
        r = self.rect(element_id)
        self.command("mouse", action="move", x=r["x"] + min(40, r["width"] / 2), y=r["y"] + r["height"] / 2)

    def menu(self, item):
        return self.ext(MENU_CLICK_JS, {"item": item, "url": self.url})

    def send(self, message_type):
        """A message as the popup sends it."""
        return self.ext(SEND_JS, {"type": message_type, "url": self.url})

    def layer(self):
        return self.page(LAYER_JS)

    def overlay_near(self, expected):
        return any(near(overlay, expected) for overlay in self.layer()["overlays"])

    def restore(self):
        self.command("key", key="Escape")
        assert self.layer()["layer"] is False


@pytest.fixture(scope="module")
def firefox_build(tmp_path_factory):
    """The Firefox package as `make extension` builds it, unpacked, plus <all_urls> and the harness."""
    pack = load_pack()
    package = pack.build_firefox(tmp_path_factory.mktemp("package"))
    build = tmp_path_factory.mktemp("firefox") / "extension"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(build)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["host_permissions"].append("<all_urls>")
    manifest["background"]["scripts"].append("test/open-harness.js")
    (build / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (build / "test").mkdir()
    (build / "test" / "harness.html").write_text("<!doctype html><title>harness</title>")
    (build / "test" / "open-harness.js").write_text(
        'chrome.windows.create({ url: chrome.runtime.getURL("test/harness.html"), focused: false });\n')
    return build


def launch_firefox(build, server_url, tmp_path_factory):
    """firefox-esr with `build` installed and set to use the server at `server_url`, for as long as
    the generator runs: yields the Firefox."""
    # puppeteer makes the Firefox profile under TMPDIR: it goes with the test's other temporary files.
    env = {**os.environ, "TMPDIR": str(tmp_path_factory.mktemp("firefox-profile"))}
    browser = Firefox(build, env)
    try:
        browser.set_server(server_url)
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def firefox(firefox_build, sharpen_server, tmp_path_factory):
    yield from launch_firefox(firefox_build, sharpen_server, tmp_path_factory)


def test_firefox_sharpen_all_covers_every_blurred_element(firefox, site):
    firefox.open(site)
    result = firefox.send("sharpen-all")
    assert result["ok"] and result["sharpened"] == len(ALL_BLURRED), result
    firefox.page("() => window.scrollTo(0, 0)")
    missing = [element_id for element_id in ALL_BLURRED if element_id not in ("below", "tall")
               and not firefox.overlay_near(halo(firefox.rect(element_id), 1, SIGMA_CSS.get(element_id)))]
    assert not missing, (missing, firefox.layer()["overlays"])
    assert firefox.page("() => window.scrollY") == 0
    firefox.restore()


def test_firefox_right_click_sharpens_the_element_under_the_cursor(firefox, site):
    firefox.open(site)
    for element_id in ("serif", "shadowed"):
        firefox.hover(element_id)
        result = firefox.menu("sharpen-text")
        assert result["ok"] and result["sharpened"] == 1, result
        assert firefox.overlay_near(halo(firefox.rect(element_id), 1, SIGMA_CSS[element_id])), (element_id, firefox.layer())
    firefox.restore()


def test_firefox_region_picker_sharpens_the_dragged_rectangle_and_escape_cancels(firefox, site):
    firefox.open(site)
    run_region = ("async (url) => { const tab = await (" + FIND_TAB_JS + ")(url);"
                  " const background = await chrome.runtime.getBackgroundPage();"
                  " window.regionRun = background.antiAging.handleMenuClick({ menuItemId: 'sharpen-region', frameId: 0, pageUrl: url }, tab);"
                  " return true; }")
    picker_shown = "() => !!document.getElementById('anti-aging-layer')?.shadowRoot.querySelector('.picker')"

    firefox.ext(run_region, firefox.url)
    firefox.command("waitFor", fn=picker_shown)
    firefox.command("key", key="Escape")
    result = firefox.ext("() => window.regionRun")
    assert result["ok"] and result["cancelled"], result
    assert firefox.layer()["overlays"] == [] and not firefox.layer().get("picker")

    box = firefox.rect("wide")
    region = {"x": box["x"] - 4, "y": box["y"] - 4, "width": 300, "height": 120}
    firefox.ext(run_region, firefox.url)
    firefox.command("waitFor", fn=picker_shown)
    firefox.command("mouse", action="move", x=region["x"] + region["width"], y=region["y"] + region["height"])
    firefox.command("mouse", action="down")
    firefox.command("mouse", action="move", x=region["x"] + 50, y=region["y"] + 30, steps=4)
    firefox.command("mouse", action="move", x=region["x"], y=region["y"], steps=4)
    firefox.command("mouse", action="up")
    result = firefox.ext("() => window.regionRun")
    assert result["ok"] and result["sharpened"] == 1, result
    assert firefox.overlay_near(region), (region, firefox.layer())
    firefox.restore()


def test_firefox_shows_the_pages_own_text_and_escape_puts_the_blur_back(firefox, site):
    firefox.open(site.replace("blurred.html", f"round2.html?other={OTHER_ORIGIN_PORT['port']}"))
    filter_of = "(id) => getComputedStyle(document.getElementById(id)).filter"
    firefox.hover("filtered")
    result = firefox.menu("show-page-text")
    assert result["ok"] and result["revealed"] == 1, result
    assert firefox.page(filter_of, "filtered") == "none"
    assert firefox.layer()["overlays"] == []
    firefox.restore()
    assert firefox.page(filter_of, "filtered") == "blur(2px)"


def test_firefox_says_what_it_looked_for_on_a_page_with_nothing_blurred(firefox, site):
    firefox.open(site.replace("blurred.html", "plain.html"))
    result = firefox.send("sharpen-all")
    assert result["ok"] and result["sharpened"] == 0, result
    assert "CSS blur" in result["message"] and "Sharpen a region" in result["message"]
    layer = firefox.layer()
    assert layer["panelVisible"] and layer["panelText"].startswith(result["message"])
    firefox.restore()


def test_firefox_keyboard_shortcuts_are_bound_listed_in_the_popup_and_sharpen(firefox, site):
    bound = {command["name"]: command["shortcut"] for command in firefox.ext("() => chrome.commands.getAll()")}
    assert {name: bound.get(name) for name in SHORTCUTS} == SHORTCUTS
    # the popup lists the keys the browser reports (in a frame of the harness: BiDi may not open extension pages)
    listed = firefox.ext("""() => new Promise((resolve) => {
      const frame = document.createElement('iframe');
      frame.src = chrome.runtime.getURL('popup/popup.html');
      frame.onload = () => setTimeout(() => resolve([...frame.contentDocument.querySelectorAll('#shortcuts li')]
        .map((item) => [item.dataset.command, item.querySelector('kbd')?.textContent ?? null])), 500);
      document.body.append(frame);
    })""")
    assert dict(listed) == SHORTCUTS
    # What the keys run, on the page (a synthesized key press stays in the page: WebDriver BiDi
    # dispatches input in the content process, where the browser's own shortcuts are not seen).
    firefox.open(site)
    result = firefox.ext(f"""async (url) => {{
      const tab = await ({FIND_TAB_JS})(url);
      const background = await chrome.runtime.getBackgroundPage();
      if (!background.chrome.commands.onCommand.hasListener(background.antiAging.handleCommand)) return null;
      return background.antiAging.handleCommand('sharpen-all', tab);
    }}""", firefox.url)
    assert result is not None, "the shortcut handler is not listening"
    assert result["ok"] and result["sharpened"] == len(ALL_BLURRED), result
    firefox.restore()
