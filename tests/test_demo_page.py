"""The demo page in real Chromium (Playwright driving Debian's /usr/bin/chromium)."""
import io
from pathlib import Path

import numpy as np
import pytest
from flask import request
from PIL import Image

from server import create_app
from server.live import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")]


@pytest.fixture(scope="module")
def live(engine, read_service):
    app = create_app({"ENGINE": engine, "READER": read_service})
    app.sigmas_seen = []

    @app.before_request
    def record_sigma():
        if request.path == "/v1/sharpen":
            app.sigmas_seen.append(request.form.get("sigma"))

    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live):
    # Clipboard permissions as a person's click on "Copy image" gets them on 127.0.0.1 (a secure context).
    context = browser.new_context(accept_downloads=True, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Console errors too (a missing asset, a CSP violation), except the 400 a test provokes on purpose.
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "status of 400" not in message.text else None)
    page.goto(live.url + "/")
    yield page
    context.close()
    assert errors == []


def natural_size(page, selector):
    return page.eval_on_selector(selector, "img => [img.naturalWidth, img.naturalHeight]")


def wait_for_result(page):
    page.wait_for_function("() => document.getElementById('result').naturalWidth > 0", timeout=60_000)


def test_upload_sharpens_blind_by_default_and_shows_result_at_input_size(page, live, tmp_path):
    source = tmp_path / "blurred text.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (37, 123, 3), dtype=np.uint8)).save(source)
    assert page.is_checked("#blind") and page.is_disabled("#sigma")
    page.set_input_files("#file-input", str(source))
    wait_for_result(page)
    assert live.app.sigmas_seen[-1] is None  # blind: no sigma sent
    assert natural_size(page, "#result") == [123, 37]
    assert natural_size(page, "#before") == [123, 37]
    status = page.text_content("#status")
    assert "Done" in status and "blind" in status  # it says which it used
    assert page.text_content("#result-caption") == "after (blind)"

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "blurred text-sharpened.png"
    assert Image.open(io.BytesIO(Path(download.path()).read_bytes())).size == (123, 37)


def test_a_sigma_the_person_sets_slider_view_and_errors(page, live, tmp_path):
    source = tmp_path / "small.png"
    Image.new("RGBA", (20, 10), (10, 20, 30, 200)).save(source)
    page.set_input_files("#file-input", str(source))
    wait_for_result(page)
    page.uncheck("#blind")  # sharpens again, with the slider's sigma
    assert page.is_enabled("#sigma")
    page.wait_for_function("() => document.getElementById('result-caption').textContent === 'after (\u03c3 2.0 px)'",
                           timeout=30_000)
    assert live.app.sigmas_seen[-1] == "2"
    page.fill("#sigma", "2.5")
    page.dispatch_event("#sigma", "change")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Done')"
                           " && document.getElementById('status').textContent.includes('\u03c3 2.5 px')",
                           timeout=30_000)
    assert live.app.sigmas_seen[-1] == "2.5"
    assert page.text_content("#sigma-value") == "2.5"

    page.check('input[name="view"][value="slider"]')
    assert page.is_visible("#slider-view") and not page.is_visible("#side-view")
    page.fill("#compare", "25")
    page.dispatch_event("#compare", "input")
    assert page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--split').trim()") == "25%"
    assert natural_size(page, "#compare-after") == [20, 10]

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    page.set_input_files("#file-input", str(bad))
    page.wait_for_function("() => document.getElementById('status').classList.contains('error')", timeout=30_000)
    assert "Failed" in page.text_content("#status")


def test_a_failed_request_clears_the_previous_result(page, live, tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(good)
    page.set_input_files("#file-input", str(good))
    wait_for_result(page)
    old_before = page.get_attribute("#before", "src")
    assert page.get_attribute("#download", "href") and page.is_visible("#download")

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png either")
    page.set_input_files("#file-input", str(bad))
    page.wait_for_function("() => document.getElementById('status').classList.contains('error')", timeout=30_000)
    assert "Failed" in page.text_content("#status")
    assert page.get_attribute("#before", "src") not in (None, old_before)  # "before" shows the new file
    for selector in ("#result", "#compare-after"):  # "after" no longer shows the previous result
        assert page.get_attribute(selector, "src") is None
        assert natural_size(page, selector) == [0, 0]
    assert page.get_attribute("#download", "href") is None and not page.is_visible("#download")

    page.set_input_files("#file-input", str(good))  # and the next success shows its result again
    wait_for_result(page)
    assert natural_size(page, "#result") == [30, 20] and page.is_visible("#download")


def test_copy_image_puts_the_result_on_the_clipboard(page, live, tmp_path):
    source = tmp_path / "copy me.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (24, 56, 3), dtype=np.uint8)).save(source)
    assert not page.is_visible("#copy")  # nothing to copy yet
    page.set_input_files("#file-input", str(source))
    wait_for_result(page)
    page.click("#copy")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Copied')", timeout=10_000)
    copied = page.evaluate("""async () => {
        const [item] = await navigator.clipboard.read();
        const bitmap = await createImageBitmap(await item.getType('image/png'));
        return [bitmap.width, bitmap.height];
    }""")
    assert copied == [56, 24]


def test_copy_image_says_so_where_the_browser_cannot(browser, live, tmp_path):
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script("delete window.ClipboardItem")  # as in browsers without it
    page.goto(live.url + "/")
    source = tmp_path / "small.png"
    Image.new("RGB", (20, 10), "white").save(source)
    page.set_input_files("#file-input", str(source))
    wait_for_result(page)
    page.click("#copy")
    assert page.evaluate("document.getElementById('status').classList.contains('error')")
    assert "cannot copy images" in page.text_content("#status") and "Download result" in page.text_content("#status")
    context.close()


# --- Read text ------------------------------------------------------------------------------------

def wait_for_reading(page):
    page.wait_for_function("() => !document.getElementById('reading-panel').hidden", timeout=60_000)


def test_read_text_says_plainly_that_a_thumbnail_cannot_be_read(page, live, tmp_path):
    from PIL import ImageDraw, ImageFont

    text = Image.new("RGB", (240, 72), "white")
    ImageDraw.Draw(text).text((10, 16), "Invoice 42", fill="black",
                              font=ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 40))
    source = tmp_path / "thumbnail.png"
    text.resize((40, 12), Image.LANCZOS).save(source)
    assert page.is_disabled("#read")  # nothing to read yet
    page.set_input_files("#file-input", str(source))
    page.click("#read")
    wait_for_reading(page)
    verdict = page.text_content("#reading-verdict")
    assert verdict.startswith("This cannot be read") and "read blind" in verdict
    assert page.text_content("#reading-text") == ""  # no invented letters
    assert not page.is_visible("#copy-text") and not page.is_visible("#reading-legend")
    assert natural_size(page, "#reading-image") == [40, 12]  # the text sits beside the image it came from


PARTLY_READ = {"text": "Total due\n$42.00", "verdict": "partly", "confident_share": 0.8, "sigma": 2.0,
               "lines": [{"text": "Total due", "box": [10, 8, 90, 14], "confidence": [0.99] * 6 + [0.42, 0.5, 0.99]},
                         {"text": "$42.00", "box": [10, 30, 60, 14], "confidence": [0.95] * 6}]}


def test_read_text_marks_uncertain_characters_and_copies_the_text(page, live, tmp_path):
    import json

    sent = []

    def answer(route):
        sent.append(route.request.post_data_buffer)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(PARTLY_READ))

    page.route("**/v1/read", answer)
    source = tmp_path / "receipt.png"
    Image.new("RGB", (120, 50), "white").save(source)
    page.set_input_files("#file-input", str(source))
    wait_for_result(page)
    page.uncheck("#blind")  # read with the slider's sigma, as sharpening does
    page.click("#read")
    wait_for_reading(page)
    assert b'name="sigma"' in sent[-1] and b'name="image"' in sent[-1]
    assert page.text_content("#reading-verdict").startswith("Partly readable: 80% of the characters")
    lines = page.eval_on_selector_all("#reading-text .line", "rows => rows.map(row => row.textContent)")
    assert lines == ["Total due", "$42.00"]
    marks = page.eval_on_selector_all("#reading-text .uncertain", "spans => spans.map(s => [s.textContent, s.title])")
    assert marks == [["d", "uncertain: read with 42% confidence"], ["u", "uncertain: read with 50% confidence"]]
    assert page.evaluate("getComputedStyle(document.querySelector('#reading-text .uncertain')).textDecorationLine") \
        == "underline"
    assert page.is_visible("#reading-legend")

    page.click("#copy-text")
    page.wait_for_function("() => document.getElementById('status').textContent === 'Copied the text.'",
                           timeout=10_000)
    assert page.evaluate("navigator.clipboard.readText()") == "Total due\n$42.00"

    other = tmp_path / "other.png"
    Image.new("RGB", (30, 20), "white").save(other)
    page.set_input_files("#file-input", str(other))  # another image: the old reading is not its text
    assert not page.is_visible("#reading-panel")


def test_read_text_failure_is_said_and_shows_no_text(page, live, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    page.set_input_files("#file-input", str(bad))
    page.wait_for_function("() => document.getElementById('status').classList.contains('error')", timeout=30_000)
    page.click("#read")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Could not read')",
                           timeout=30_000)
    assert "not a supported image" in page.text_content("#status")
    assert not page.is_visible("#reading-panel")
