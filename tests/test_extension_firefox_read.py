"""End to end "Read text" in Firefox: the Firefox package in Debian's firefox-esr, driven over
WebDriver BiDi as in tests/test_extension_firefox.py, on the read page of
tests/test_extension_read_e2e.py (tests/read_page.py: a blurred picture of text, a thumbnail too
small to read and live text under a CSS blur).

The picture is read by the stub server's fixed reading (STUB_LINES), which has uncertain
characters to mark, and by the real server with the tiny "x" reader; the thumbnail by the real
server, whose line finder finds its lines too small to read. As in the Chromium tests, these
check where the text goes, that it is real, selectable text, the bar's buttons, how uncertain
characters and each verdict are shown, Read a region and the popup's Read all; not what is read.
Menu items are run through `antiAging.handleMenuClick` in the background page.

Issue 23's look and reach of the text layer, as in the Chromium tests, with the server's app in this
process and a reader that reads the right words (read_page.KnownTextReader), at DPR 1 and 2 (Firefox's
layout.css.devPixelsPerPx): the ink colour (CIE76 dE under 10 to the original ink) and the drawn
letters' box (within 2 CSS px of the sharp original's) on the picture of text and on a region read
beside a blue button; window.find, each line's lang, and Tab reaching Copy text and the toggle.
"""
import pytest

from extension_support import FIREFOX, PUPPETEER, launch_firefox
from read_page import (CARD_LINES, FOCUSED_BAR_BUTTON_JS, LAYER_JS, REGION_TEXTS, STUB_LINES, TOGGLE_PRESSED_JS,
                       assert_read_all_read_the_card_and_revealed_the_live_text, assert_region_read, assert_the_card_is_drawn_like_the_original_and_found,
                       assert_the_region_read_drew_the_articles_ink, blind_crop, expected_boxes, read_via_server, region_around, region_original, tab_to_copy_text, within)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not FIREFOX.exists(), reason="Debian firefox-esr (/usr/bin/firefox-esr) is not installed"),
    pytest.mark.skipif(not PUPPETEER.is_dir(), reason="puppeteer-core is not installed: run `npm ci`"),
]

# The devicePixelRatio of the tests that run at one only.
DPR = 1
CANNOT_BE_READ = "This text cannot be read"
VIEWPORT_JS = "() => [innerWidth * devicePixelRatio, innerHeight * devicePixelRatio]"
# Select the text layer's lines as a user's select-all over them would, and say what is selected.
SELECT_LINES_JS = """() => { const root = document.getElementById('anti-aging-layer').shadowRoot;
    getSelection().selectAllChildren(root.querySelector('.text-layer .lines')); return getSelection().toString(); }"""
FILTER_JS = "(id) => getComputedStyle(document.getElementById(id)).filter"
# The clipboard, read by the harness page (the test build's clipboardRead spares it Firefox's paste prompt).
CLIPBOARD_JS = "() => navigator.clipboard.readText()"
# Click a button of the text layer's bar (the bridge's mouse cannot aim inside the shadow root by selector).
BAR_BUTTON_JS = """(name) => { const button = document.getElementById('anti-aging-layer').shadowRoot.querySelector(`.text-layer .${name}`);
    const r = button.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2, label: button.textContent }; }"""


@pytest.fixture(scope="module")
def firefoxes(firefox_build, read_server, tmp_path_factory):
    """firefoxes(dpr): firefox-esr at that devicePixelRatio, started when first asked for."""
    started = {}

    def get(dpr):
        if dpr not in started:
            launch = launch_firefox(firefox_build, read_server, tmp_path_factory, dpr)
            started[dpr] = (next(launch), launch)
        return started[dpr][0]

    yield get
    for _, launch in started.values():
        next(launch, None)


@pytest.fixture(scope="module")
def firefox(firefoxes):
    return firefoxes(DPR)


def text_layers(firefox):
    """The read page's text layers as read_page.LAYER_JS describes them, or None without a layer."""
    return firefox.page(LAYER_JS)


def click_at(firefox, point):
    firefox.command("mouse", action="move", x=point["x"], y=point["y"])
    firefox.command("mouse", action="down")
    firefox.command("mouse", action="up")


def bar_button(firefox, name):
    """Where the text layer's bar button (class name) is, and its label."""
    return firefox.page(BAR_BUTTON_JS, name)


def escape_removes_the_layer(firefox):
    firefox.command("key", key="Escape")
    return text_layers(firefox) is None


@pytest.mark.parametrize("dpr", [1, 2])
def test_firefox_reads_a_blurred_picture_into_marked_selectable_text(firefoxes, read_site, stub_server, read_server, dpr):
    firefox = firefoxes(dpr)
    firefox.open(read_site)
    crop = blind_crop(firefox, "card", dpr, firefox.page(VIEWPORT_JS))
    firefox.hover("card")
    firefox.set_server(stub_server)
    try:
        result = firefox.menu("read-text")
    finally:
        firefox.set_server(read_server)
    assert result["ok"], result
    assert (result["read"], result["partly"], result["revealed"]) == (1, 1, 0), result
    assert result["readings"][0]["uncertain"] == 2

    state = text_layers(firefox)
    [text_layer] = state["layers"]
    assert text_layer["visible"] and text_layer["showing"] == "text" and text_layer["verdict"] == "partly"
    assert "Some characters are uncertain" in text_layer["bar"] and "Some characters are uncertain" in state["panel"]
    # one line of DOM text per line of the reading, at its box, selectable
    assert [line["text"] for line in text_layer["lines"]] == ["Invoice 42\n", "Total due"]
    for line, box in zip(text_layer["lines"], expected_boxes(STUB_LINES, crop, dpr)):
        assert within(line["rect"], box), (line["text"], line["rect"], box)
        assert line["shown"] and line["pointerEvents"] == "auto" and line["userSelect"] == "text"
    first, second = text_layer["lines"]
    assert [mark["text"] for mark in first["uncertain"]] == ["o", "2"]
    for mark in first["uncertain"]:
        # marked to the eye only: no title for a screen reader to read out after each letter
        assert mark["title"] == "" and mark["opacity"] < 1 and mark["decoration"] == "dotted"
    assert second["uncertain"] == []

    # selecting the layer's lines gives the reading's text, line by line
    text = "\n".join(line["text"] for line in STUB_LINES)
    assert firefox.page(SELECT_LINES_JS) == text
    # and so does a drag with the mouse across the first line
    firefox.page("() => getSelection().removeAllRanges()")
    rect = first["rect"]
    middle = rect["y"] + rect["height"] / 2
    firefox.command("mouse", action="move", x=rect["x"] + 1, y=middle)
    firefox.command("mouse", action="down")
    firefox.command("mouse", action="move", x=rect["x"] + rect["width"] - 1, y=middle, steps=5)
    firefox.command("mouse", action="up")
    assert firefox.page("() => getSelection().toString()").strip() == STUB_LINES[0]["text"]

    assert escape_removes_the_layer(firefox)


@pytest.mark.parametrize("dpr", [1, 2])
def test_firefox_read_text_lays_the_servers_reading_over_the_picture_with_copy_and_toggle(firefoxes, read_site, read_server, dpr):
    """With the real server and its "x" reader, as in the Chromium test: the lines are the server's
    own reading of the same crop, at its line boxes, on an opaque background; a link under the
    background still takes the click; Copy text copies (the bar says so: reading the clipboard
    back by the harness page, which the test build lets read it); the toggle swaps the text for the
    pixels and back."""
    firefox = firefoxes(dpr)
    firefox.open(read_site)
    shot = firefox.screenshot()
    crop = blind_crop(firefox, "card", dpr, shot.size)
    expected = read_via_server(read_server, shot.crop(crop))
    assert expected["verdict"] == "readable" and len(expected["lines"]) == 2, expected

    firefox.hover("card")
    result = firefox.menu("read-text")
    assert result["ok"] and (result["read"], result["revealed"]) == (1, 0), result
    [reading] = result["readings"]
    assert reading["verdict"] == expected["verdict"] and reading["text"] == expected["text"]
    [text_layer] = text_layers(firefox)["layers"]
    assert text_layer["visible"] and text_layer["showing"] == "text"
    assert text_layer["background"] == "rgb(255, 255, 255)", text_layer["background"]
    assert [line["text"].rstrip("\n") for line in text_layer["lines"]] == [line["text"] for line in expected["lines"]]
    for line, box in zip(text_layer["lines"], expected_boxes(expected["lines"], crop, dpr)):
        assert within(line["rect"], box), (line["rect"], box)
        assert line["uncertain"] == [] and "sans-serif" in line["font"]
    assert firefox.page(SELECT_LINES_JS) == expected["text"]

    link = firefox.rect("link")
    click_at(firefox, {"x": link["x"] + link["width"] / 2, "y": link["y"] + link["height"] / 2})
    assert firefox.page("() => document.body.dataset.linkClicked ?? null") == "yes"

    click_at(firefox, bar_button(firefox, "copy"))
    firefox.command("waitFor", fn=f"() => ({BAR_BUTTON_JS})('copy').label === 'Copied'")
    assert firefox.ext(CLIPBOARD_JS) == expected["text"]
    show = bar_button(firefox, "show")
    assert show["label"] == "Show pixels"
    click_at(firefox, show)
    [text_layer] = text_layers(firefox)["layers"]
    assert text_layer["showing"] == "pixels" and text_layer["pixelsShown"]
    assert not any(line["shown"] for line in text_layer["lines"])
    assert bar_button(firefox, "show")["label"] == "Show text"
    click_at(firefox, bar_button(firefox, "show"))
    assert text_layers(firefox)["layers"][0]["showing"] == "text"
    assert escape_removes_the_layer(firefox)


def test_firefox_says_an_unreadable_thumbnail_cannot_be_read_and_paints_no_letters(firefox, read_site):
    firefox.open(read_site)
    firefox.hover("thumb")
    result = firefox.menu("read-text")
    assert result["ok"], result
    assert (result["read"], result["unreadable"]) == (0, 1), result
    assert result["readings"][0]["verdict"] == "unreadable" and result["readings"][0]["text"] == ""
    state = text_layers(firefox)
    [text_layer] = state["layers"]
    assert text_layer["lines"] == [] and not text_layer["pixelsShown"]
    assert text_layer["bar"] == CANNOT_BE_READ and CANNOT_BE_READ in state["panel"]
    assert escape_removes_the_layer(firefox)


def test_firefox_reveals_live_text_under_a_blur_instead_of_reading_it(firefox, read_site):
    firefox.open(read_site)
    firefox.hover("live")
    result = firefox.menu("read-text")
    assert result["ok"], result
    assert (result["revealed"], result["read"]) == (1, 0), result
    assert "in the page itself" in result["message"]
    assert firefox.page(FILTER_JS, "live") == "none"
    state = text_layers(firefox)
    assert state["layers"] == [] and "in the page itself" in state["panel"]
    firefox.command("key", key="Escape")
    assert firefox.page(FILTER_JS, "live") == "blur(2px)"



def test_firefox_read_all_reads_every_picture_and_reveals_live_text(firefox, read_site, stub_server, read_server):
    """The popup's "Read text on this page" (the message it sends the service worker), with the stub's reading."""
    firefox.open(read_site)
    crop = blind_crop(firefox, "card", DPR, firefox.page(VIEWPORT_JS))
    card_rect = firefox.rect("card")
    firefox.set_server(stub_server)
    try:
        result = firefox.send("read-all")
    finally:
        firefox.set_server(read_server)
    assert_read_all_read_the_card_and_revealed_the_live_text(result, text_layers(firefox), card_rect, crop, DPR)
    assert firefox.page(FILTER_JS, "live") == "none"
    assert escape_removes_the_layer(firefox)
    assert firefox.page(FILTER_JS, "live") == "blur(2px)"


def test_firefox_read_a_region_reads_the_dragged_rectangle_and_escape_cancels(firefox, read_site):
    """"Read a region…", as in the Chromium test: the picker's hint says it is for reading, Escape
    cancels, and a drag over the card lays a text layer over the rectangle (or the unreadable bar)."""
    firefox.open(read_site)
    picker_hint = "() => document.getElementById('anti-aging-layer')?.shadowRoot.querySelector('.picker .hint')?.textContent ?? null"

    firefox.start_region("read-region")
    firefox.command("waitFor", fn=picker_hint)
    assert firefox.page(picker_hint) == "Drag over the text to read \u00b7 Esc cancels"
    firefox.command("key", key="Escape")
    result = firefox.region_result()
    assert result["ok"] and result["cancelled"], result

    box = firefox.rect("card")
    region = {"x": box["x"] - 4, "y": box["y"] - 4, "width": box["width"] + 8, "height": box["height"] + 8}
    firefox.start_region("read-region")
    firefox.command("waitFor", fn=picker_hint)
    firefox.drag((region["x"], region["y"]), (region["x"] + 50, region["y"] + 30), (region["x"] + region["width"], region["y"] + region["height"]))
    assert_region_read(firefox.region_result(), text_layers(firefox), region)
    assert firefox.page(picker_hint) is None
    assert escape_removes_the_layer(firefox)


def read_with(firefox, server_url, read_server, read):
    """Run read() with the extension set to use the server at server_url, then the read server again."""
    firefox.set_server(server_url)
    try:
        return read()
    finally:
        firefox.set_server(read_server)


@pytest.mark.parametrize("dpr", [1, 2])
def test_firefox_text_layer_draws_the_pictures_ink_at_its_size_and_is_found_and_used_from_the_keyboard(firefoxes, read_site, known_text_server,
                                                                                                       read_server, dpr):
    """As in the Chromium test, with the server's app in this process and a reader that reads the
    card's words: each line in the card's ink (dE under 10) with its letters within 2 CSS px of the
    sharp original's, a lang per line, found by window.find, and Copy text and the toggle from the
    keyboard's Tab."""
    server_url, reader = known_text_server
    reader.texts = [text for text, _ in CARD_LINES]
    firefox = firefoxes(dpr)
    firefox.open(read_site)
    assert firefox.page("() => devicePixelRatio") == dpr
    card_rect = firefox.rect("card")
    firefox.hover("card")
    result = read_with(firefox, server_url, read_server, lambda: firefox.menu("read-text"))
    assert result["ok"] and result["read"] == 1, result
    [text_layer] = text_layers(firefox)["layers"]
    assert_the_card_is_drawn_like_the_original_and_found(text_layer, firefox.screenshot(), card_rect, dpr, firefox.page)

    # The keyboard reaches Copy text and then the toggle. (Enter and Space themselves are not
    # checked here: headless firefox-esr delivers them to the focused button over WebDriver BiDi,
    # but runs no click for them, not even on a page's own <button>.)
    tab_to_copy_text(firefox.press, firefox.page)
    firefox.press("Tab")
    assert firefox.page(FOCUSED_BAR_BUTTON_JS) == "show"
    assert firefox.page(TOGGLE_PRESSED_JS) == "false"
    assert escape_removes_the_layer(firefox)


@pytest.mark.parametrize("dpr", [1, 2])
def test_firefox_region_read_beside_a_blue_button_draws_the_articles_ink_not_the_buttons(firefoxes, read_site, known_text_server, read_server, dpr):
    server_url, reader = known_text_server
    reader.texts = REGION_TEXTS
    firefox = firefoxes(dpr)
    firefox.open(read_site.rsplit("/", 1)[0] + "/region.html")
    original = region_original(firefox.page, firefox.screenshot, firefox.rect("article"), dpr)

    region = region_around(firefox.rect("row"))

    def read_region():
        firefox.start_region("read-region")
        firefox.command("waitFor", fn="() => document.getElementById('anti-aging-layer')?.shadowRoot.querySelector('.picker .hint')")
        firefox.drag((region["x"], region["y"]), (region["x"] + region["width"] / 2, region["y"] + region["height"] / 2),
                     (region["x"] + region["width"], region["y"] + region["height"]))
        return firefox.region_result()

    result = read_with(firefox, server_url, read_server, read_region)
    assert_the_region_read_drew_the_articles_ink(result, text_layers(firefox), region, firefox.screenshot(), original, dpr)
    assert escape_removes_the_layer(firefox)
