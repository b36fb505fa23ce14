"""End to end "Read text" in Firefox: the Firefox package in Debian's firefox-esr, driven over
WebDriver BiDi as in tests/test_extension_firefox.py, on the read page of
tests/test_extension_read_e2e.py (tests/read_page.py: a blurred picture of text, a thumbnail too
small to read and live text under a CSS blur).

The picture is read by the stub server's fixed reading (STUB_LINES), which has uncertain
characters to mark; the thumbnail by the real server with the tiny reader, whose line finder
finds its lines too small to read. As in the Chromium tests, these check where the text goes,
that it is real, selectable text, how uncertain characters and each verdict are shown; not what
is read. Menu items are run through `antiAging.handleMenuClick` in the background page.
"""
import pytest

from extension_support import FIREFOX, PUPPETEER, launch_firefox
from read_page import LAYER_JS, STUB_LINES, blind_crop, expected_boxes, within

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not FIREFOX.exists(), reason="Debian firefox-esr (/usr/bin/firefox-esr) is not installed"),
    pytest.mark.skipif(not PUPPETEER.is_dir(), reason="puppeteer-core is not installed: run `npm ci`"),
]

# The bridge's Firefox shows pages at devicePixelRatio 1.
DPR = 1
CANNOT_BE_READ = "This text cannot be read"
VIEWPORT_JS = "() => [innerWidth * devicePixelRatio, innerHeight * devicePixelRatio]"
# Select the text layer's lines as a user's select-all over them would, and say what is selected.
SELECT_LINES_JS = """() => { const root = document.getElementById('anti-aging-layer').shadowRoot;
    getSelection().selectAllChildren(root.querySelector('.text-layer .lines')); return getSelection().toString(); }"""
FILTER_JS = "(id) => getComputedStyle(document.getElementById(id)).filter"


@pytest.fixture(scope="module")
def firefox(firefox_build, read_server, tmp_path_factory):
    yield from launch_firefox(firefox_build, read_server, tmp_path_factory)


def text_layers(firefox):
    """The read page's text layers as read_page.LAYER_JS describes them, or None without a layer."""
    return firefox.page(LAYER_JS)


def escape_removes_the_layer(firefox):
    firefox.command("key", key="Escape")
    return text_layers(firefox) is None


def test_firefox_reads_a_blurred_picture_into_marked_selectable_text(firefox, read_site, stub_server, read_server):
    firefox.open(read_site)
    crop = blind_crop(firefox, "card", DPR, firefox.page(VIEWPORT_JS))
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
    for line, box in zip(text_layer["lines"], expected_boxes(STUB_LINES, crop, DPR)):
        assert within(line["rect"], box), (line["text"], line["rect"], box)
        assert line["shown"] and line["pointerEvents"] == "auto" and line["userSelect"] == "text"
    first, second = text_layer["lines"]
    assert [mark["text"] for mark in first["uncertain"]] == ["o", "2"]
    for mark in first["uncertain"]:
        assert mark["title"] == "uncertain" and mark["opacity"] < 1 and mark["decoration"] == "dotted"
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
