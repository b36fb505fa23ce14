"""End to end "Read the whole document" in Firefox: the Firefox package in Debian's firefox-esr,
driven over WebDriver BiDi as in tests/test_extension_firefox.py, on the lazy document page and
with the recognising stub server of tests/test_extension_document_e2e.py (tests/document_page.py).

WebDriver BiDi may not open extension pages, so the test reaches the document view the extension
opens from its harness page (chrome.extension.getViews: both are the extension's pages). For the
same reason a click there is no user gesture, which Firefox's clipboard wants: Copy all is checked
in Chromium only. "Save as" is caught at the download link's click, and the saved file read from
its blob URL.
"""
import time

import pytest

from document_page import PAGE_COUNT, VIEW_STATE_JS, check_document_text, check_read_view
from extension_support import FIND_TAB_JS, FIREFOX, PUPPETEER, launch_firefox

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not FIREFOX.exists(), reason="Debian firefox-esr (/usr/bin/firefox-esr) is not installed"),
    pytest.mark.skipif(not PUPPETEER.is_dir(), reason="puppeteer-core is not installed: run `npm ci`"),
]

READ_TIMEOUT_S = 180
FIND_VIEW_JS = "() => chrome.extension.getViews().find((view) => view.location.pathname.endsWith('/document/document.html'))"
OPEN_VIEW_JS = f"""async (url) => {{
  for (const view of chrome.extension.getViews()) if (view.location.pathname.endsWith('/document/document.html')) view.close();
  const tab = await ({FIND_TAB_JS})(url);
  const background = await chrome.runtime.getBackgroundPage();
  return background.antiAging.openDocumentView(tab);
}}"""
# Every status line the view shows from now on, and the files its "Save as" buttons would save.
WATCH_VIEW_JS = f"""() => {{
  const view = ({FIND_VIEW_JS})();
  if (!view?.document.getElementById('status')) return false;
  window.statusLog = [view.document.getElementById('status').textContent];
  new view.MutationObserver(() => {{
    const text = view.document.getElementById('status').textContent;
    if (window.statusLog.at(-1) !== text) window.statusLog.push(text);
  }}).observe(view.document.getElementById('status'), {{ childList: true, characterData: true, subtree: true }});
  window.saved = [];
  view.HTMLAnchorElement.prototype.click = function () {{
    window.saved.push(fetch(this.href).then((response) => response.text()).then((text) => ({{ name: this.download, text }})));
  }};
  return true;
}}"""
VIEW_STATE = f"() => {{ const view = ({FIND_VIEW_JS})(); return view ? ({VIEW_STATE_JS})(view.document) : null; }}"
CLICK_JS = f"(id) => {{ ({FIND_VIEW_JS})().document.getElementById(id).click(); return true; }}"


@pytest.fixture(scope="module")
def firefox(firefox_build, document_stub, tmp_path_factory):
    url, *_ = document_stub(delay_s=0.3)
    yield from launch_firefox(firefox_build, url, tmp_path_factory)


def wait_for(check, timeout=READ_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_firefox_reads_the_whole_document_in_page_order_and_saves_it(firefox, document_site, document_stub, document_pages_drawn):
    _, log, sizes = document_stub(delay_s=0.3)
    firefox.open(document_site)
    firefox.page("() => { window.scrollTo(0, 300); return true; }")
    firefox.ext(OPEN_VIEW_JS, document_site)
    wait_for(lambda: firefox.ext(WATCH_VIEW_JS))
    state = wait_for(lambda: (state := firefox.ext(VIEW_STATE)) and not state["buttons"]["cancel"] and state)
    assert log == list(range(1, PAGE_COUNT + 1)), log
    assert set(sizes) == {(452, 640)}, sizes
    check_read_view(state, document_pages_drawn)
    # page by page: the statuses seen (from a moment after the view opened) count up to the last page
    reading = [status for status in firefox.ext("() => window.statusLog") if status.startswith("Reading page")]
    numbers = [int(status.split()[2]) for status in reading]
    assert numbers == list(range(numbers[0], PAGE_COUNT + 1)) and numbers[0] <= 3, reading
    assert firefox.page("() => window.scrollY") == 300

    firefox.ext(CLICK_JS, "save-txt")
    firefox.ext(CLICK_JS, "save-md")
    saved = firefox.ext("() => Promise.all(window.saved)")
    assert [file["name"] for file in saved] == ["The Lindqvist Tide Mill Restoration Report · DocShelf.txt", "The Lindqvist Tide Mill Restoration Report · DocShelf.md"]
    check_document_text(saved[0]["text"], document_pages_drawn)
    assert "*This page cannot be read.*" in saved[1]["text"]
    firefox.ext(f"() => {{ ({FIND_VIEW_JS})().close(); return true; }}")
