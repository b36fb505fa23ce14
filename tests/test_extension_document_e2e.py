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
The document, its site and the stub are in tests/document_page.py, their fixtures in tests/extension_fixtures.py.
"""
import os
import time
from pathlib import Path

import pytest

from document_page import PAGE_COUNT, VIEW_STATE_JS, check_document_text, check_read_view
from extension_support import CHROMIUM, SCREENSHOT_DIR, ExtensionBrowser

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]

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
VIEW_JS = f"() => ({VIEW_STATE_JS})(document)"
# Cancel is there only while the view is finding or reading pages.
READING_OVER_JS = "() => document.getElementById('cancel').disabled"


@pytest.fixture(scope="module")
def document_browsers(playwright, test_build, document_site, tmp_path_factory):
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


def start_reading(browser, site, stub_url, scroll_y=300):
    browser.worker.evaluate("(url) => chrome.storage.sync.set({ serverUrl: url })", stub_url)
    browser.open(site)
    browser.page.evaluate("(y) => window.scrollTo(0, y)", scroll_y)
    return open_document_view(browser, site)


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
