"""End to end in Firefox: the Firefox package (`make extension`) in Debian's firefox-esr, driven
over WebDriver BiDi by puppeteer-core (tests/firefox/bridge.mjs; `npm ci` installs it, and it
downloads no browser), against the real sharpening server and the Chromium tests' pages.

As in tests/test_extension_e2e.py, native context menus cannot be clicked by automation, so the
tests hover the element and call the function the menu item runs (`antiAging.handleMenuClick`)
in the background page, and the test build adds `<all_urls>` because activeTab needs a real user
gesture. It also adds a harness page (see bridge.mjs) from which the tests reach the extension.
The Firefox driver is in tests/extension_support.py, the build and the pages in tests/extension_fixtures.py.
"""
import time

import pytest

from extension_support import ALL_BLURRED, FIND_TAB_JS, FIREFOX, OTHER_ORIGIN_PORT, PUPPETEER, SIGMA_CSS, halo, launch_firefox

SHORTCUTS = {"sharpen-all": "Alt+Shift+S", "sharpen-region": "Alt+Shift+R"}
# Wait until the page's panel has the words, ten seconds at most: the panel's notices fade after eight.
WAIT_FOR_PANEL_JS = """(words) => new Promise((resolve) => {
  const started = performance.now();
  const check = () => {
    const text = document.getElementById('anti-aging-layer')?.shadowRoot.querySelector('.panel')?.textContent ?? '';
    if (text.includes(words) || performance.now() - started > 10000) resolve(true);
    else setTimeout(check, 50);
  };
  check();
})"""
# Where a button of the page's panel is (class name), to click it.
PANEL_BUTTON_JS = """(name) => { const r = document.getElementById('anti-aging-layer').shadowRoot.querySelector(`.panel .${name}`).getBoundingClientRect();
  return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; }"""
# For each child frame of the test page's tab, in frame order, whether each of its overlays shows (the harness can script cross-origin frames).
FRAME_OVERLAYS_JS = f"""async (url) => {{
  const tab = await ({FIND_TAB_JS})(url);
  const frames = await chrome.scripting.executeScript({{ target: {{ tabId: tab.id, allFrames: true }}, func: () =>
    [...(document.getElementById('anti-aging-layer')?.shadowRoot.querySelectorAll('img.overlay') ?? [])].map((img) => getComputedStyle(img).display !== 'none') }});
  return frames.filter((frame) => frame.frameId !== 0).sort((a, b) => a.frameId - b.frameId).map((frame) => frame.result);
}}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not FIREFOX.exists(), reason="Debian firefox-esr (/usr/bin/firefox-esr) is not installed"),
    pytest.mark.skipif(not PUPPETEER.is_dir(), reason="puppeteer-core is not installed: run `npm ci`"),
]


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


def test_firefox_panel_counts_and_acts_on_the_overlays_inside_frames(firefox, site):
    """round2.html: eight blurred elements in the page, one in a same-origin frame, one in a
    cross-origin frame; the page's panel counts all ten, once its notice (parts outside the
    bridge's narrower window were left as they are) has faded, and its buttons act on all ten."""
    firefox.open(site.replace("blurred.html", f"round2.html?other={OTHER_ORIGIN_PORT['port']}"))
    result = firefox.send("sharpen-all")
    assert result["ok"] and result["sharpened"] == 10, result
    framed = [p for p in result["status"]["placements"] if p["frameId"] != 0]
    assert len(framed) == 2, result["status"]["placements"]
    firefox.page(WAIT_FOR_PANEL_JS, "10 elements sharpened")
    layer = firefox.layer()
    assert layer["panelVisible"] and "10 elements sharpened" in layer["panelText"], layer

    # so its Show original and Restore reach the frames' overlays too
    click_panel_button(firefox, "toggle")
    hidden = frame_overlays_when(firefox, lambda frames: all(shown == [False] for shown in frames))
    assert hidden == [[False], [False]], hidden
    click_panel_button(firefox, "toggle")
    shown = frame_overlays_when(firefox, lambda frames: all(shown == [True] for shown in frames))
    assert shown == [[True], [True]], shown
    click_panel_button(firefox, "restore")
    restored = frame_overlays_when(firefox, lambda frames: frames == [[], []])
    assert restored == [[], []], restored
    assert firefox.layer()["layer"] is False


def click_panel_button(firefox, name):
    point = firefox.page(PANEL_BUTTON_JS, name)
    firefox.command("mouse", action="move", x=point["x"], y=point["y"])
    firefox.command("mouse", action="down")
    firefox.command("mouse", action="up")


def frame_overlays_when(firefox, condition, timeout_s=5):
    """For each child frame, whether each of its overlays shows, once the condition holds or after
    timeout_s (the service worker relays the panel's buttons to the frames)."""
    deadline = time.monotonic() + timeout_s
    while not condition(frames := firefox.ext(FRAME_OVERLAYS_JS, firefox.url)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return frames


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
    picker_shown = "() => !!document.getElementById('anti-aging-layer')?.shadowRoot.querySelector('.picker')"

    firefox.start_region("sharpen-region")
    firefox.command("waitFor", fn=picker_shown)
    firefox.command("key", key="Escape")
    result = firefox.region_result()
    assert result["ok"] and result["cancelled"], result
    assert firefox.layer()["overlays"] == [] and not firefox.layer().get("picker")

    box = firefox.rect("wide")
    region = {"x": box["x"] - 4, "y": box["y"] - 4, "width": 300, "height": 120}
    firefox.start_region("sharpen-region")
    firefox.command("waitFor", fn=picker_shown)
    firefox.drag((region["x"] + region["width"], region["y"] + region["height"]), (region["x"] + 50, region["y"] + 30), (region["x"], region["y"]))
    result = firefox.region_result()
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
