"""models.reading.line_colours: each read line's ink and background from its own pixels, its blur
measured from its edges in blind reads and its box with the blur's spread taken off; and /v1/read
answering them per line. Lines are drawn sharp with PIL, blurred with Chromium's Gaussian, and
found by the real line finder; what the module says is checked against the sharp drawing."""
import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from models.data.blur import chromium_blur
from models.reading.line_colours import (background_around, blurred_box, estimate_sigma, found_extent, found_extents,
                                         measure_ink, measure_lines, sharp_box)
from models.reading.line_finder import LineBox, find_lines
from models.reading.pipeline import Reading, ReadLine
from server.reading import ReadService
from server_support import make_app

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LIBERATION = "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"
WHITE = (255, 255, 255)
BUTTON_BLUE = (26, 95, 180)


def lab(rgb):
    """CIE L*a*b* (D65) of an sRGB colour."""
    c = np.asarray(rgb, np.float64) / 255
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ c
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a, b):
    """CIE76 colour difference."""
    return float(np.linalg.norm(lab(a) - lab(b)))


def drawn(lines, size=(420, 100), paper=WHITE, font=DEJAVU, font_px=22, shapes=()):
    """A sharp picture: lines [(text, (x, y), ink)], shapes [(box, fill)] drawn first; and each
    line's sharp ink box [x, y, w, h], from its own drawing."""
    image = Image.new("RGB", size, paper)
    draw = ImageDraw.Draw(image)
    for box, fill in shapes:
        draw.rectangle(box, fill=fill)
    face = ImageFont.truetype(font, font_px)
    boxes = []
    for text, origin, ink in lines:
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).text(origin, text, font=face, fill=255)
        draw.text(origin, text, font=face, fill=ink)
        ys, xs = np.nonzero(np.asarray(mask) >= 128)
        boxes.append([int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)])
    return np.asarray(image), boxes


def blurred(image, sigma):
    pixels = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
    return chromium_blur(pixels, sigma)[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def read_blind(image):
    """The lines a blind read reports (the pipeline's found boxes), measured."""
    return measure_lines(image, [{"text": "x", "box": box.as_list(), "confidence": [0.99]} for box in find_lines(image)])


TWO_LINES = [("pictures of words", (12, 12), None), ("a second line", (12, 56), None)]


def two_lines(ink, **options):
    return drawn([(text, origin, ink) for text, origin, _ in TWO_LINES], **options)


@pytest.mark.parametrize("font", [DEJAVU, LIBERATION])
@pytest.mark.parametrize("font_px", [16, 22, 30])
@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.5])
def test_a_blind_read_measures_the_blur_and_takes_its_spread_off_the_box(font, font_px, sigma):
    sharp, ink_boxes = two_lines((25, 25, 25), font=font, font_px=font_px, size=(460, 130))
    lines = read_blind(blurred(sharp, sigma))
    assert len(lines) == 2
    for line, ink_box in zip(lines, ink_boxes):
        assert abs(line["sigma"] - sigma) <= 0.2 * sigma + 0.3, (line["sigma"], sigma)
        # within 2 px of the sharp letters' box on every side, where the found box reached 1-2 sigma past them
        x, y, w, h = line["box"]
        left, top, width, height = ink_box
        assert abs(x - left) <= 2 and abs(y - top) <= 2 and abs(x + w - left - width) <= 2 and abs(y + h - top - height) <= 2, (line["box"], ink_box)


def test_the_found_box_is_taller_than_the_ink_by_the_blur_the_module_takes_off():
    """What the measured spread is for: unmeasured, a blind box is 1-2 sigma too big each side."""
    sharp, ink_boxes = two_lines((25, 25, 25))
    found = find_lines(blurred(sharp, 3.0))
    assert all(box.h - ink[3] >= 5 for box, ink in zip(found, ink_boxes))
    assert sharp_box(LineBox(10, 10, 200, 30), 2.0) == LineBox(13, 12, 194, 26)  # 3 px (1.08 + 1.14 sigma) across, 2 px (1.2 sigma) down
    assert sharp_box(LineBox(10, 10, 4, 3), 3.0) == LineBox(11, 11, 2, 1)  # never thinner than a pixel
    assert sharp_box(LineBox(10, 10, 200, 30), 0.0) == LineBox(10, 10, 200, 30)


@pytest.mark.parametrize("ink", [(25, 25, 25), (0, 0, 0), (20, 20, 40)])
@pytest.mark.parametrize("sigma", [1.5, 2.5, 4.0])
def test_dark_ink_is_measured_from_each_line_within_delta_e_10(ink, sigma):
    sharp, _ = two_lines(ink)
    for line in read_blind(blurred(sharp, sigma)):
        assert delta_e(line["ink"], ink) < 10, (line["ink"], ink, sigma)
        assert line["background"] == list(WHITE)


def test_blurred_ink_is_drawn_darker_than_its_palest_reading_and_a_pale_grey_stays_grey():
    """The darkest blurred pixel of black text at sigma 2.5 is mid grey; the ink is pushed back
    towards black. Text drawn light grey, unblurred, keeps its own grey."""
    sharp, _ = two_lines((25, 25, 25))
    image = blurred(sharp, 2.5)
    darkest = int(image.min())
    assert darkest > 70  # blur paled the ink a lot
    assert all(line["ink"][0] < darkest - 40 for line in read_blind(image))
    pale, _ = two_lines((150, 150, 150))
    for line in measure_lines(pale, [{"text": "x", "box": box.as_list()} for box in find_lines(pale)], sigma=0):
        assert delta_e(line["ink"], (150, 150, 150)) < 6, line["ink"]


def test_coloured_ink_keeps_its_hue_and_light_ink_on_a_dark_page_stays_light():
    blue = (30, 60, 200)
    sharp, _ = two_lines(blue)
    for line in read_blind(blurred(sharp, 1.5)):
        assert delta_e(line["ink"], blue) < 15, line["ink"]
        assert line["ink"][2] > line["ink"][1] > line["ink"][0]
    night, _ = two_lines((235, 235, 235), paper=(20, 24, 32))
    for line in read_blind(blurred(night, 2.0)):
        assert delta_e(line["ink"], (235, 235, 235)) < 10, line["ink"]
        assert delta_e(line["background"], (20, 24, 32)) < 3, line["background"]


def test_a_line_beside_a_blue_button_takes_neither_its_ink_nor_its_background_from_the_button():
    """The issue's case: a capture's darkest pixels were the button's, and every line got its blue."""
    sharp, _ = drawn([("Total due 42.00", (12, 14), (25, 25, 25)), ("Pay", (332, 14), WHITE)],
                     size=(420, 60), shapes=[((300, 4, 410, 52), BUTTON_BLUE)])
    lines = read_blind(blurred(sharp, 2.0))
    text_line = min(lines, key=lambda line: line["box"][0])
    assert text_line["box"][0] + text_line["box"][2] < 300  # the finder kept the text apart from the button
    assert delta_e(text_line["ink"], (25, 25, 25)) < 10, text_line["ink"]
    assert text_line["background"] == list(WHITE)
    label = [line for line in lines if line["box"][0] > 300]
    if label:  # the button's own label, when the finder sees it, is white on the button's blue
        assert delta_e(label[0]["background"], BUTTON_BLUE) < 5 and min(label[0]["ink"]) > 200, label[0]


def test_told_sigma_the_box_is_the_pipelines_and_the_sigma_is_the_one_told():
    sharp, _ = two_lines((25, 25, 25))
    image = blurred(sharp, 2.0)
    found = find_lines(image)
    # as the pipeline reports a told sigma's boxes: BLUR_SPREAD (1) sigma off each side
    told = [{"text": "x", "box": [box.x + 2, box.y + 2, box.w - 4, box.h - 4], "row": 0} for box in found]
    lines = measure_lines(image, told, sigma=2.0)
    assert [line["box"] for line in lines] == [line["box"] for line in told]
    assert all(line["sigma"] == 2.0 and line["row"] == 0 and line["text"] == "x" for line in lines)
    assert all(delta_e(line["ink"], (25, 25, 25)) < 10 for line in lines)


def test_the_background_is_the_lines_surroundings_not_the_captures_most_common_colour():
    """A dark card taking most of the capture, a line on white beside it."""
    sharp, _ = drawn([("on white", (10, 30), (25, 25, 25))], size=(400, 90), shapes=[((150, 0, 399, 89), (40, 40, 40))])
    image = blurred(sharp, 1.0)
    [box] = [box for box in find_lines(image) if box.x < 140]
    assert background_around(image, box, 1.0).round().tolist() == list(WHITE)


def test_a_flat_line_keeps_its_box_and_its_own_colour():
    image = np.full((40, 100, 3), 200, np.uint8)
    [line] = measure_lines(image, [{"text": "x", "box": [10, 10, 50, 12]}])
    assert line["box"] == [10, 10, 50, 12] and line["ink"] == [200, 200, 200] and line["background"] == [200, 200, 200]
    assert measure_ink(image, LineBox(10, 10, 50, 12), np.full(3, 200.0)).contrast == 0
    assert estimate_sigma(0.0, 0.0, 12) == 0.0


def test_a_reading_without_lines_measures_nothing():
    assert measure_lines(np.zeros((10, 10, 3), np.uint8), []) == []


@pytest.mark.parametrize("image, lines, sigma, message", [
    (np.zeros((10, 10, 3), np.float32), [], None, "uint8"),
    (np.zeros((10, 10), np.uint8), [], None, "(H, W, 3)"),
    (np.zeros((0, 10, 3), np.uint8), [], None, "empty"),
    (np.zeros((10, 10, 3), np.uint8), [{"box": [0, 0, 20, 5]}], None, "not inside the 10x10 image"),
    (np.zeros((10, 10, 3), np.uint8), [{"box": [0, 0, 0, 5]}], None, "not inside"),
    (np.zeros((10, 10, 3), np.uint8), [{"box": [0, 0, 5]}], None, "four integers"),
    (np.zeros((10, 10, 3), np.uint8), [{"box": [0, 0, 5.5, 5]}], None, "four integers"),
    (np.zeros((10, 10, 3), np.uint8), [], -1, "sigma must be"),
    (np.zeros((10, 10, 3), np.uint8), [], float("nan"), "sigma must be"),
    (np.zeros((10, 10, 3), np.uint8), [], "2", "sigma must be"),
])
def test_bad_input_is_refused_with_a_clear_error(image, lines, sigma, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        measure_lines(image, lines, sigma)


class FoundLinesReader:
    """Stands in for a Reader: the real line finder's boxes, each read as "x"."""

    def read(self, image, sigma=None):
        return Reading([ReadLine("x", box, [0.99]) for box in find_lines(image)], "readable")


def test_read_answers_each_lines_ink_background_and_blur(engine):
    service = ReadService(reader=FoundLinesReader())
    client = make_app(engine, READER=service).test_client()
    sharp, ink_boxes = two_lines((25, 25, 25))
    png = io.BytesIO()
    Image.fromarray(blurred(sharp, 2.5)).save(png, "PNG")
    body = client.post("/v1/read", data=png.getvalue(), content_type="image/png").get_json()
    service.close()
    assert len(body["lines"]) == 2 and body["sigma"] is None
    for line, ink_box in zip(body["lines"], ink_boxes):
        assert delta_e(line["ink"], (25, 25, 25)) < 10 and line["background"] == [255, 255, 255]
        assert abs(line["sigma"] - 2.5) < 0.6
        assert all(abs(a - b) <= 2 for a, b in zip(line["box"], ink_box)), (line["box"], ink_box)


def test_blurred_box_undoes_sharp_box_and_stays_inside_the_image():
    box = LineBox(30, 20, 200, 24)
    for sigma in (0.0, 1.5, 4.0):
        grown = blurred_box(box, sigma, (100, 400, 3))
        assert sharp_box(grown, sigma) == box
    assert blurred_box(LineBox(1, 1, 50, 10), 10.0, (14, 60, 3)).as_list() == [0, 0, 60, 14]


@pytest.mark.parametrize("sigma", [1.5, 3.0])
def test_a_sharp_box_grown_blind_reaches_about_where_the_finder_finds_the_blurred_line(sigma):
    image, (ink_box,) = drawn([("Quarterly revenue rose", (30, 30), (20, 20, 20))])
    capture = blurred(image, sigma)
    (found,) = find_lines(capture)
    told, measured = found_extent(capture, LineBox(*ink_box), sigma), found_extent(capture, LineBox(*ink_box))
    for extent in (told, measured):
        assert abs(extent.h - found.h) <= max(2, sigma) and abs(extent.w - found.w) <= 2 * max(2, sigma)
    assert measured.h > ink_box[3]  # blind, the blur was measured and its spread added


def test_a_line_reported_at_its_sharp_box_keeps_it_in_a_blind_read():
    image, (ink_box,) = drawn([("Quarterly revenue rose", (30, 30), (20, 20, 20))])
    capture = blurred(image, 3.0)
    found = found_extent(capture, LineBox(*ink_box))
    line = {"text": "Quarterly revenue rose", "box": list(ink_box), "confidence": [0.9] * 22}
    (kept,) = measure_lines(capture, [line], None, found=[found])
    (narrowed,) = measure_lines(capture, [{**line, "box": found.as_list()}], None, found=[found])
    assert kept["box"] == list(ink_box) and narrowed["box"] != found.as_list()
    assert kept["ink"] == narrowed["ink"] and kept["sigma"] == narrowed["sigma"]
    with pytest.raises(ValueError, match="found boxes"):
        measure_lines(capture, [line], None, found=[])


def test_the_extents_of_lines_one_above_another_part_at_the_middle_of_their_gap():
    image, inks = drawn([("Quarterly revenue rose", (30, 20), (20, 20, 20)), ("twelve percent again", (30, 46), (20, 20, 20))])
    capture = blurred(image, 4.0)
    upper, lower = (LineBox(*box) for box in inks)
    alone = [found_extent(capture, box, 4.0) for box in (upper, lower)]
    parted = found_extents(capture, [upper, lower], 4.0)
    assert alone[0].y + alone[0].h > lower.y - 2  # grown alone, each would reach into the other's rows
    middle = (upper.y + upper.h + lower.y + 1) // 2
    assert parted[0].y + parted[0].h <= middle <= parted[1].y
    assert parted[0].y == alone[0].y and parted[1].y + parted[1].h == alone[1].y + alone[1].h  # the outer sides stay
