"""The reading pipeline's stages: line finding, CTC decoding with and without the prior, confidences,
the verdict, reading lines for training, and the reader's training entry point."""
import math
import re
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from models import read_checkpoint, save_checkpoint
from models.data.blur import gaussian_blur
from models.data.lexicon import load_lexicon
from models.data.lines import ReadingLineConfig, make_reading_line
from models.reading import decode
from models.reading.line_detector import missed_lines
from models.reading.line_finder import (LineBox, article_columns, find_lines, reading_order, reading_rows, reading_window,
                                        text_box, without_slivers)
from models.reading.pipeline import UNSURE_LINE, LineReading, Reader, Reading, ReadLine, join_word_gaps, verdict
from models.reading.prior import (CharacterPrior, LanguagePrior, WordPrior, korean_word_score, nearby_korean_words,
                                  nearby_words)
from models.reading.recognizer import READER_CHARSET, SYMBOLS, build_recognizer, encode, line_input
from models.training import train_recognizer
from models.training.train_recognizer import located_boxes

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SANS = "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"


def paragraph(px=16, leading=1.5, columns=(10, 380), rows=4, width=700):
    """A two-column paragraph; returns (uint8 image, the text lines' boxes as (x, y, w, h))."""
    font = ImageFont.truetype(FONT, px)
    image = Image.new("RGB", (width, int(rows * px * leading + 4 * px)), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    boxes = []
    for row in range(rows):
        for column, x in enumerate(columns):
            text = ["The quick brown fox", "jumps over a lazy dog", "and reads it again", "Last line"][row]
            y = 2 * px + row * px * leading
            draw.text((x, y), text, font=font, fill=(20, 20, 30))
            left, top, right, bottom = draw.textbbox((x, y), text, font=font)
            boxes.append((left, top, right - left, bottom - top))
    return np.asarray(image), boxes


def blur(image, sigma):
    x = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255
    return gaussian_blur(x, sigma)[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()


@pytest.mark.parametrize("ratio", [0.0, 0.15, 0.3, 0.4])
def test_line_finder_finds_each_line_of_a_two_column_paragraph(ratio):
    image, truth = paragraph()
    found = find_lines(blur(image, ratio * 16) if ratio else image)
    assert len(found) == len(truth)
    for box, (x, y, w, h) in zip(found, sorted(truth, key=lambda b: (b[1], b[0]))):
        centre_found, centre_true = box.y + box.h / 2, y + h / 2
        assert abs(centre_found - centre_true) < 0.4 * 16
        assert abs(box.x - x) < 0.5 * 16 + 2 and abs((box.x + box.w) - (x + w)) < 0.5 * 16 + 2


def filled_shape(lines, px=16, pad=(10, 14), margin=20, underline=False, fill=(220, 60, 70), ink=(255, 255, 255)):
    """Lines of text in a filled rounded shape (a button, a badge, a card) on a page; returns
    (uint8 image, the text lines' boxes as (x, y, w, h))."""
    font = ImageFont.truetype(FONT, px)
    widths = [font.getbbox(text)[2] for text in lines]
    width, height = max(widths) + 2 * (margin + pad[1]), int(len(lines) * px * 1.5) + 2 * (margin + pad[0])
    image = Image.new("RGB", (width, height), (246, 244, 240))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle([margin, margin, width - margin, height - margin], radius=px // 2, fill=fill)
    boxes = []
    for row, text in enumerate(lines):
        x, y = margin + pad[1], margin + pad[0] + row * px * 1.5
        draw.text((x, y), text, font=font, fill=ink)
        left, top, right, bottom = draw.textbbox((x, y), text, font=font)
        if underline:
            draw.line([left, bottom + 1, right, bottom + 1], fill=ink, width=1)
        boxes.append((left, top, right - left, bottom - top))
    return np.asarray(image), boxes


def assert_found(found, truth, px=16):
    assert len(found) == len(truth)
    for box, (x, y, w, h) in zip(found, truth):
        assert abs((box.y + box.h / 2) - (y + h / 2)) < 0.4 * px
        assert abs(box.x - x) < 0.5 * px + 2 and abs((box.x + box.w) - (x + w)) < 0.5 * px + 2


@pytest.mark.parametrize("ratio, pad", [(0.0, (6, 10)), (0.1, (10, 14)), (0.2, (16, 20))])
def test_line_finder_reads_the_text_inside_a_button_not_the_button(ratio, pad):
    """Wherever the blur leaves some of the button's fill flat around its text."""
    image, truth = filled_shape(["Download now"], pad=pad)
    assert_found(find_lines(blur(image, ratio * 16) if ratio else image), truth)


@pytest.mark.parametrize("ratio", [0.0, 0.05])
def test_line_finder_reads_inside_a_pill_padded_too_thinly_for_a_flat_fill(ratio):
    image, truth = filled_shape(["balance due"], px=13, pad=(3, 8), margin=18)
    assert_found(find_lines(blur(image, ratio * 13) if ratio else image), truth, px=13)


def test_line_finder_splits_the_lines_of_a_card_that_fills_most_of_its_capture():
    image, truth = filled_shape(["Results are updated every", "fifteen minutes. Bring a", "valid photo ID"],
                                margin=6, fill=(240, 130, 30))
    assert_found(find_lines(image), truth)


@pytest.mark.parametrize("ratio", [0.0, 0.1])
def test_line_finder_keeps_underlined_lines_apart(ratio):
    image, truth = filled_shape(["We use cookies to improve your", "experience. Your order has shipped",
                                 "and will arrive Tuesday."], pad=(4, 4), underline=True,
                                fill=(246, 244, 240), ink=(40, 40, 160))
    assert_found(find_lines(blur(image, ratio * 16) if ratio else image), truth)


def test_line_finder_sees_nothing_on_a_blank_or_faint_image():
    assert find_lines(np.full((60, 200, 3), 240, np.uint8)) == []
    faint = np.full((60, 200, 3), 240, np.uint8)
    faint[20:30, 20:120] = 237  # three grey levels: JPEG noise, not text
    assert find_lines(faint) == []


def test_lines_come_row_by_row_even_where_a_taller_box_on_the_row_starts_higher():
    total, amount = LineBox(25, 186, 45, 12), LineBox(210, 185, 54, 15)  # a receipt's bold total row
    title, thanks = LineBox(90, 37, 100, 18), LineBox(36, 205, 214, 15)
    assert reading_order([thanks, amount, title, total]) == [title, total, amount, thanks]
    upper, lower = LineBox(20, 100, 80, 15), LineBox(120, 108, 80, 15)  # half a line apart: two rows
    assert reading_order([lower, upper]) == [upper, lower]
    assert reading_order([]) == []


def small_line(text="Free shipping on orders over $35", px=12, pad=2, ink=(34, 139, 34)):
    """One line of coloured product text cropped a few pixels around its ink, as a region read of it is."""
    font = ImageFont.truetype(SANS, px)
    _, _, right, bottom = font.getbbox(text)
    image = Image.new("RGB", (right + 2 * pad, bottom + 2 * pad), "white")
    ImageDraw.Draw(image).text((pad, pad), text, font=font, fill=ink)
    return np.asarray(image)


@pytest.mark.parametrize("px, sigma", [(10, 1.0), (11, 0.5), (11, 1.0), (12, 0.5)])
def test_a_small_line_cropped_tightly_is_found_whole(px, sigma):
    # The page above and below the line are two flat areas of one grey level, parted by the text:
    # taken for two surfaces, the whole line lay "between" them as a shape's edge and was dropped.
    image = blur(small_line(px=px), sigma)
    found = find_lines(image)
    assert len(found) == 1
    assert found[0].x <= 4 and found[0].x + found[0].w >= image.shape[1] - 4  # "Free ..." to "$35"


def text_block(rows, px=14, width=640, gap=None):
    """Rows of cells drawn left-aligned at each cell's x (None: a cell right-aligned to the right
    margin), one row per line; returns (uint8 image, each cell's text and its box as (x, y, w, h))."""
    font = ImageFont.truetype(FONT, px)
    image = Image.new("RGB", (width, int((len(rows) + 2) * px * 1.6)), (252, 252, 250))
    draw = ImageDraw.Draw(image)
    cells = []
    for row, texts in enumerate(rows):
        y = px + row * px * 1.6
        for x, text in texts:
            x = width - px - font.getlength(text) if x is None else x
            draw.text((x, y), text, font=font, fill=(25, 25, 30))
            left, top, right, bottom = draw.textbbox((x, y), text, font=font)
            cells.append((text, (left, top, right - left, bottom - top)))
    return np.asarray(image), cells


RECEIPT = [[(14, "Greek yogurt"), (None, "$7.31")], [(14, "Oat milk latte x3"), (None, "$24.75")],
           [(14, "Dish soap"), (None, "$5.34")], [(14, "TOTAL"), (None, "$37.40")]]
ARTICLE = [["The tenant agrees to pay rent on the", "first day of each month. Either party",
            "may end this agreement with thirty", "days of written notice to the other."],
           ["All samples were stored at four", "degrees before the analysis began, and",
            "the survey was sent to every member", "of the committee in the same week."]]


def article():
    """Two columns of wrapped text with a gutter of two and a half ems, their lines side by side."""
    left, right = ARTICLE
    gutter_at = 14 + max(ImageFont.truetype(FONT, 14).getlength(line) for line in left) + 35
    return text_block([[(14, a), (gutter_at, b)] for a, b in zip(left, right)], width=640)


def reader_naming_each_box_by(cells, sure=1.0):
    """A Reader that reads each box as the text of the cell it covers, at probability ``sure``."""
    def read_boxes(_image, boxes, _sigma=None):
        named = []
        for box in boxes:
            text = max(cells, key=lambda cell: overlap(box, cell[1]))[0]
            named.append(LineReading(text, [sure] * len(text), sure))
        return named
    reader = Reader.__new__(Reader)
    reader.max_lines, reader.read_boxes, reader.detector, reader.rules_too = 200, read_boxes, None, True
    return reader


def overlap(box, xywh):
    x, y, w, h = xywh
    return max(0, min(box.x + box.w, x + w) - max(box.x, x)) * max(0, min(box.y + box.h, y + h) - max(box.y, y))


@pytest.mark.parametrize("ratio", [0.0, 0.1])
def test_a_two_column_receipt_is_read_row_by_row_with_a_tab_between_item_and_price(ratio):
    image, cells = text_block(RECEIPT)
    image = blur(image, ratio * 14) if ratio else image
    rows = reading_rows(find_lines(image))
    assert [[max(cells, key=lambda cell: overlap(box, cell[1]))[0] for box in row] for row in rows] == \
        [[item, price] for (_, item), (_, price) in RECEIPT]
    reading = reader_naming_each_box_by(cells).read(image)
    assert reading.text == "\n".join(f"{item}\t{price}" for (_, item), (_, price) in RECEIPT)
    assert [line["row"] for line in reading.as_dict()["lines"]] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_pieces_of_a_row_closer_than_a_word_space_are_joined_and_cells_stay_apart():
    def piece(text, x, row, width=None, sure=0.9):
        width = width if width is not None else 10 * len(text)  # 20 px an em: a Latin character half of it
        return ReadLine(text, LineBox(x, 0, width, 20), [sure] * len(text), row, LineBox(x - 3, -3, width + 6, 26))

    # a word space of 0.5 em inside a line, cells 3 em apart, and a next row
    lines = [piece("Quarterly", 0, 0), piece("revenue", 100, 0, sure=0.5), piece("$4.70", 230, 0), piece("rose", 0, 1)]
    joined = join_word_gaps(lines)
    assert [line.text for line in joined] == ["Quarterly revenue", "$4.70", "rose"]
    assert joined[0].box == LineBox(0, 0, 170, 20) and joined[0].found == LineBox(-3, -3, 176, 26)
    assert joined[0].confidence == [0.9] * 9 + [0.5] + [0.5] * 7  # the space no surer than the letters beside it
    assert Reading(joined, "readable").text == "Quarterly revenue\t$4.70\nrose"
    # a wide character is an em of its own: two 20 px ideographs a box, 8 px apart, are 0.4 em apart
    cjk = [piece("価格", 0, 0, width=40), piece("送料", 48, 0, width=40)]
    assert len(join_word_gaps(cjk)) == 1 and len(join_word_gaps(cjk, max_gap_em=0.3)) == 2
    assert join_word_gaps([piece("a", 0, None), piece("b", 12, None)])[1].text == "b"  # no row: never joined


@pytest.mark.parametrize("ratio", [0.0, 0.1])
def test_a_two_column_article_is_read_column_after_column(ratio):
    image, cells = article()
    image = blur(image, ratio * 14) if ratio else image
    found = find_lines(image)
    assert [max(cells, key=lambda cell: overlap(box, cell[1]))[0] for box in found] == ARTICLE[0] + ARTICLE[1]
    reading = reader_naming_each_box_by(cells).read(image)
    assert reading.text == "\n".join(ARTICLE[0] + ARTICLE[1])


def test_article_columns_need_wide_filled_columns_and_a_narrow_gutter():
    def column(x, widths):
        return [LineBox(x, 20 * row, width, 14) for row, width in enumerate(widths)]
    left, right = column(0, [300, 290, 296, 180]), column(330, [298, 300, 240, 296])
    assert article_columns(left + right) == [left, right]
    assert reading_rows(left + right) == [[box] for box in left + right]
    assert article_columns(left + column(400, [298, 300, 240, 296])) is None  # a gutter as wide as a third of a column
    assert article_columns(column(0, [120, 40, 200, 60]) + column(330, [298, 300, 240, 296])) is None  # ragged cells
    assert article_columns(left + column(330, [298])) is None  # one line is no column
    pieces = [LineBox(330, 0, 298, 14), LineBox(372, 20, 256, 14), LineBox(330, 40, 296, 14), LineBox(350, 60, 280, 14)]
    assert article_columns(left + pieces) is None  # the pieces a strong blur broke lines into start anywhere
    assert article_columns(left) is None and reading_rows([]) == []
    heading = LineBox(0, -30, 620, 20)  # spans the gutter: read first, then the columns
    assert reading_rows([heading] + right + left) == [[heading]] + [[box] for box in left + right]


def test_slivers_cut_by_the_capture_edge_are_not_lines():
    sliver, first, second = LineBox(30, 0, 200, 4), LineBox(10, 20, 300, 22), LineBox(10, 60, 280, 22)
    assert without_slivers([sliver, first, second], height=100) == [first, second]
    foot = LineBox(10, 90, 300, 10)  # the top of a line cut by the bottom edge
    assert without_slivers([first, second, foot], height=100) == [first, second]
    assert without_slivers([LineBox(30, 2, 200, 4), first], height=100) == [LineBox(30, 2, 200, 4), first]  # not cut
    assert without_slivers([sliver], height=100) == [sliver]  # nothing to compare it with
    assert without_slivers([LineBox(0, 0, 300, 20), second], height=100) == [LineBox(0, 0, 300, 20), second]


def region_below_a_heading(dpr=2, cut=2):
    """A region read at DPR ``dpr`` whose top edge cuts a heading ``cut`` CSS px above its foot,
    and the paragraph below; returns (uint8 image, the paragraph's lines' texts and boxes)."""
    heading, body = ImageFont.truetype(FONT, 26 * dpr), ImageFont.truetype(FONT, 14 * dpr)
    page = Image.new("RGB", (460 * dpr, 140 * dpr), "white")
    draw = ImageDraw.Draw(page)
    draw.text((10 * dpr, 10 * dpr), "Quarterly highlights", font=heading, fill=(20, 20, 20))
    foot = draw.textbbox((10 * dpr, 10 * dpr), "Quarterly highlights", font=heading)[3]
    cells = []
    for row, text in enumerate(["Revenue grew in every region this", "quarter, led by the new stores."]):
        y = foot + (16 + 24 * row) * dpr
        draw.text((10 * dpr, y), text, font=body, fill=(20, 20, 20))
        left, top, right, bottom = draw.textbbox((10 * dpr, y), text, font=body)
        cells.append((text, (left, top - (foot - cut * dpr), right - left, bottom - top)))
    return np.asarray(page)[foot - cut * dpr:], cells


@pytest.mark.parametrize("sigma", [0.0, 2.0, 4.0])
def test_a_sliver_of_the_heading_above_a_region_is_not_read(sigma):
    image, cells = region_below_a_heading()
    image = blur(image, sigma) if sigma else image
    found = find_lines(image)
    assert len(found) == 2 and all(overlap(box, xywh) for box, (_, xywh) in zip(found, cells))
    # a reader sure of every box it is handed: only the finder can keep the sliver out of the text
    reading = reader_naming_each_box_by(cells).read(image, sigma)
    assert reading.text == "\n".join(text for text, _ in cells) and reading.verdict == "readable"


def test_a_line_read_as_junk_is_unread_never_copied():
    image, cells = region_below_a_heading()
    junk = reader_naming_each_box_by(cells, sure=0.5 * UNSURE_LINE)
    reading = junk.read(image)
    assert (reading.text, reading.lines, reading.verdict) == ("", [], "unreadable")
    assert reader_naming_each_box_by(cells, sure=UNSURE_LINE).read(image).text  # at the threshold: read


def test_reading_window_adds_the_blur_spread_and_stays_inside_the_image():
    box = LineBox(10, 20, 100, 16)
    assert reading_window(box, (100, 200)) == (15, 41, 2, 118)
    top, bottom, left, right = reading_window(box, (100, 200), sigma=8.0)
    assert (top, left) == (8, 0) and bottom == 48 and right == 122
    assert reading_window(LineBox(0, 0, 30, 10), (12, 30), sigma=4.0) == (0, 12, 0, 30)


def test_text_box_takes_a_known_blur_s_spread_off_the_found_box():
    image, truth = paragraph()
    x, y, w, h = sorted(truth, key=lambda b: (b[1], b[0]))[0]
    found = find_lines(blur(image, 4.0))[0]
    assert found.h > h + 4  # the blurred band reaches past the sharp line
    sharp = text_box(found, 4.0)
    assert abs(sharp.y - y) <= 2 and abs(sharp.y + sharp.h - (y + h)) <= 2
    assert text_box(found, None) == found
    assert text_box(LineBox(0, 0, 5, 3), 10.0).h >= 1


def test_line_input_scales_sigma_with_the_crop():
    image, _ = paragraph()
    normalised, sigma = line_input(image, LineBox(10, 30, 200, 16), 3.0)
    top, bottom, _, _ = reading_window(LineBox(10, 30, 200, 16), image.shape, 3.0)
    assert normalised.shape[:2] == (1, 32) and math.isclose(sigma, 3.0 * 32 / (bottom - top))
    assert line_input(image, LineBox(10, 30, 200, 16), None)[1] == -1.0


# --- decoding on a toy alphabet: blank, "a", "b", "t", " " ---

TOY = "abt "


def columns(*rows):
    """Log-probabilities from per-column probability rows (blank first)."""
    p = np.array(rows, dtype=np.float64) + 1e-6
    return np.log(p / p.sum(1, keepdims=True))


def test_greedy_and_beam_search_agree_on_a_clear_line_and_merge_repeats_only_without_a_blank():
    log_probs = columns([0, 1, 0, 0, 0], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0])
    assert decode.greedy(log_probs, TOY) == "aab"
    assert decode.beam_search(log_probs, TOY)[0][0] == "aab"


def test_beam_search_sums_the_paths_of_a_prefix():
    # best single path reads "a" then "b"; but "ab" vs "b": the two paths of "b" ("-b", "bb") outweigh
    log_probs = columns([0.45, 0.0, 0.55, 0, 0], [0.0, 0.0, 1.0, 0, 0])
    assert decode.beam_search(log_probs, TOY)[0][0] == "b"


class ToyPrior:
    """Knows one word, "tab"; everything else is unknown."""

    def __call__(self, text, final=False):
        words = text.split(" ") if final else text.split(" ")[:-1]
        return sum(2.0 if w == "tab" else -2.0 for w in words if w)

    @staticmethod
    def settles(ch):
        return ch == " "


def test_the_prior_decides_where_the_pixels_leave_a_character_open():
    # "t a ?" where the third character is "b" or "t" with nearly equal probability
    log_probs = columns([0, 0, 0, 1, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0.48, 0.52, 0])
    assert decode.beam_search(log_probs, TOY)[0][0] == "tat"
    assert decode.beam_search(log_probs, TOY, prior=ToyPrior())[0][0] == "tab"
    clear = columns([0, 0, 0, 1, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0.001, 0.999, 0])
    assert decode.beam_search(clear, TOY, prior=ToyPrior())[0][0] == "tat"  # clear pixels win over the prior


def test_align_gives_each_character_its_columns_and_confidences_follow_the_model():
    log_probs = columns([0, 0.9, 0.1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0.6, 0.4, 0], [0, 0, 0.7, 0.3, 0])
    labels = encode("ab", TOY)
    spans = decode.align(log_probs, labels)
    assert spans == [(0, 0), (2, 3)]
    confidences = decode.character_confidences(np.exp(log_probs), labels, spans)
    assert confidences[0] == pytest.approx(0.9, abs=1e-3) and confidences[1] == pytest.approx(0.7, abs=1e-3)
    assert decode.align(log_probs[:1], encode("ab", TOY)) is None  # one column cannot hold two characters


def test_align_puts_a_blank_between_a_repeated_character_and_never_skips_it():
    a, blank = [0, 1, 0, 0, 0], [1, 0, 0, 0, 0]
    assert decode.align(columns(a, a, blank, a), encode("aa", TOY)) == [(0, 1), (3, 3)]
    assert decode.align(columns(a, a), encode("aa", TOY)) is None  # "aa" needs a blank column between
    assert decode.align(columns(a, [0, 0, 1, 0, 0]), encode("ab", TOY)) == [(0, 0), (1, 1)]  # no blank needed


def spelled(text, charset, doubt=None):
    """Log-probabilities of columns that spell ``text`` (a blank after each character); ``doubt``
    maps a position to the (character, probability) the network half-believes instead."""
    rows = []
    for position, ch in enumerate(text):
        row = [0.0] * (len(charset) + 1)
        row[charset.index(ch) + 1] = 1.0
        if doubt and position in doubt:
            other, p = doubt[position]
            row[charset.index(ch) + 1], row[charset.index(other) + 1] = 1.0 - p, p
        rows += [row, [1.0] + [0.0] * len(charset)]
    return columns(*rows)


def test_nearby_words_reach_two_edits_keep_the_case_and_skip_codes():
    assert "between" in nearby_words("betveen") and "Results" in nearby_words("Resolts")
    assert nearby_words("SETINGS")[0] == "SETTINGS"
    assert nearby_words("A1B2") == () and "betveen" not in nearby_words("betveen")


def test_refine_words_replaces_an_uncertain_word_by_a_near_frequent_one_and_leaves_sure_words():
    charset = "abcdefghijklmnopqrstuvwxyz "
    encode_toy = partial(encode, charset=charset)
    # the network half-sees "w" where it reads "v": between is 0.45 likely by the pixels, and a word
    log_probs = spelled("betveen here", charset, doubt={3: ("w", 0.45)})
    confidences = [1.0] * 12
    confidences[3] = 0.55
    assert decode.refine_words(log_probs, "betveen here", confidences, encode_toy, WordPrior()) == "between here"
    # without a prior the pixels decide, and a word read with confidence is never touched
    assert decode.refine_words(log_probs, "betveen here", confidences, encode_toy, None) == "betveen here"
    assert decode.refine_words(log_probs, "betveen here", [1.0] * 12, encode_toy, WordPrior()) == "betveen here"


def test_nearby_korean_words_change_a_jamo_of_the_stem_and_keep_its_ending():
    # 종전 (the end of a war) read 중전, its particle 과 kept; 포지션 read 포지선 before 에서
    assert "종전과" in nearby_korean_words("중전과") and "포지션에서" in nearby_korean_words("포지선에서")
    # two-syllable stems reach one jamo: 옵션 is three letters from 음선
    assert "옵션" not in nearby_korean_words("음선") and "중전과" not in nearby_korean_words("중전과")
    assert nearby_korean_words("price") == () and nearby_korean_words("3층") == ()


def test_korean_word_score_rewards_a_known_stem_under_any_ending_and_scores_nothing_else():
    assert korean_word_score("포지션에서") > korean_word_score("포지선에서")
    assert korean_word_score("포지션에서") == korean_word_score("포지션")  # the stem is what the list knows
    assert korean_word_score("website") == 0.0 and korean_word_score("3층") == 0.0


def test_refine_words_puts_a_known_korean_stem_where_the_pixels_half_see_it():
    charset = "중종전과 "
    encode_toy = partial(encode, charset=charset)
    log_probs = spelled("중전과 ", charset, doubt={0: ("종", 0.45)})
    confidences = [0.55, 1.0, 1.0, 1.0]
    assert decode.refine_words(log_probs, "중전과", confidences, encode_toy, None) == "종전과"
    # where the pixels are all but sure of the syllable, the list does not overrule them
    clear = spelled("중전과 ", charset, doubt={0: ("종", 0.02)})
    assert decode.refine_words(clear, "중전과", confidences, encode_toy, None) == "중전과"


def test_word_prior_prefers_frequent_words_and_leaves_codes_and_numbers_alone():
    prior = WordPrior()
    assert prior.word_score("the") > prior.word_score("account") > prior.word_score("acount")
    assert prior.word_score("The,") == prior.word_score("the")
    assert prior.word_score("$12.99") == 0.0 and prior.word_score("A7X-9") == 0.0
    assert prior("the acount", final=False) == prior.word_score("the")
    assert prior("the acount", final=True) == prior.word_score("the") + prior.word_score("acount")
    assert len(load_lexicon("en")) > 10_000


class MorphemeWords(WordPrior):
    """The word prior as it was before session 21: Korean tokens scored by wordfreq's Korean list."""

    def __init__(self, **settings):
        super().__init__(**settings)
        self.korean = dict(load_lexicon("ko"))

    def word_score(self, token):
        zipf = self.korean.get(token.strip(".,"))
        return super().word_score(token) if zipf is None else self.weight * (zipf - 3.0) * math.log(10)


def test_a_space_the_pixels_half_suggest_before_a_korean_particle_is_not_read():
    charset = "계획을 "
    at = {ch: charset.index(ch) + 1 for ch in charset}

    def column(ch):
        row = [0.0] * (len(charset) + 1)
        row[at[ch]] = 1.0
        return row

    blank = [1.0] + [0.0] * len(charset)
    half_space = [0.6] + [0.4 if ch == " " else 0.0 for ch in charset]  # a gap between syllables, a little wide
    log_probs = columns(column("계"), blank, column("획"), blank, half_space, column("을"), blank)
    assert WordPrior().word_score("을") == WordPrior().word_score("계획을") == 0.0  # Korean: no word score
    assert decode.beam_search(log_probs, charset, WordPrior())[0][0] == "계획을"
    # the Korean list's particle "을" (zipf ~6) scored as a word paid ~3.5 nats for the space
    assert decode.beam_search(log_probs, charset, MorphemeWords())[0][0] == "계획 을"


def test_a_list_marker_opening_a_line_weighs_as_much_as_a_frequent_word_and_a_leading_amount_is_no_marker():
    charset = "2고. 가격"
    # the network leans to the digit; scored as a word, the Korean list's "고" earned ~4.8 nats
    log_probs = spelled("2. 가격", charset, doubt={0: ("고", 0.4)})
    assert decode.beam_search(log_probs, charset, MorphemeWords(marker_zipf=None))[0][0] == "고. 가격"
    assert decode.beam_search(log_probs, charset, MorphemeWords(marker_zipf=7.0))[0][0] == "2. 가격"
    assert decode.beam_search(log_probs, charset, WordPrior(marker_zipf=None))[0][0] == "2. 가격"
    prior = WordPrior(marker_zipf=7.0)
    marker = prior.weight * (7.0 - 3.0) * math.log(10)
    assert prior("3. word", final=True) == pytest.approx(marker + prior.word_score("word"))
    assert prior("3. ", final=False) == 0.0  # known once the word after it is
    assert prior("word 3. word", final=True) == pytest.approx(2 * prior.word_score("word"))  # inside a line: no marker
    assert prior("93. 73", final=True) == 0.0  # an amount split at its point is no marker


def test_the_stroke_rows_of_one_large_line_stay_one_line():
    # Chromium's pixels (dev set): '<div class="card">' in 64 px monospace under sigma 2 px. Its row
    # profile has a valley between the x-height and the brackets' tails, but the rows above and
    # below it lie over the same letters
    image = np.asarray(Image.open(Path(__file__).resolve().parents[1] / "models/devset/003_d2_gpu_r1.png").convert("RGB"))
    assert any(box.y <= 50 and box.y + box.h >= 90 for box in find_lines(image))


def test_a_pill_whose_blurred_text_covers_most_of_its_fill_is_searched_inside():
    # Chromium's pixels (dev set): white Korean text on a blue pill at DPR 2 under sigma 3 px; so
    # little of the fill stays one grey level that only its ring tells it is a shape. The sharp
    # twin's text box is (52, 43, 263, 21); the pill spans (28, 29, 310, 50)
    image = np.asarray(Image.open(Path(__file__).resolve().parents[1] / "models/devset/036_d2_gpu_r1p5.png").convert("RGB"))
    (box,) = find_lines(image)
    assert 45 <= box.x <= 56 and 36 <= box.y <= 46 and box.h <= 30 and 250 <= box.w <= 275


def test_a_blurred_outlined_button_is_not_a_line_but_its_label_is():
    # pixels-only set: a filled and an outlined button side by side (시작하기, 취소) under sigma / font
    # 0.19; the outline, thickened by the blur into a wide ring around its label, joined both labels
    # into one box the height of the buttons. The labels' boxes: (47, 27, 95, 37) and (225, 27, 48, 37)
    image = np.asarray(Image.open(Path(__file__).resolve().parents[1] / "models/pixset/px061_blurred.png").convert("RGB"))
    assert_found(find_lines(image), [(47, 27, 95, 37), (225, 27, 48, 37)], px=25)


def test_a_rule_or_shadow_thickened_by_blur_is_not_a_line():
    devset, pixset = (Path(__file__).resolve().parents[1] / "models" / name for name in ("devset", "pixset"))
    # a DPR-2 link's underline under sigma 2 px, 10 rows thick, below its 64 px code line
    underlined = np.asarray(Image.open(devset / "003_d2_gpu_r1.png").convert("RGB"))
    assert [box.y for box in find_lines(underlined)] == [44]
    # a profile card's three lines, and the shadow along its bottom edge (y 264, 732 px long)
    card = find_lines(np.asarray(Image.open(pixset / "px008_blurred.png").convert("RGB")))
    assert len(card) == 4 and all(box.y < 240 for box in card)
    # a line of text 30 times longer than tall, blurred to 0.35 of its size, is uneven enough
    long_line = Image.new("RGB", (560, 40), (250, 250, 245))
    ImageDraw.Draw(long_line).text((10, 14), "jumps over the lazy dog and reads it again " * 2,
                                   font=ImageFont.truetype(FONT, 10), fill=(20, 20, 30))
    (box,) = find_lines(blur(np.asarray(long_line), 3.5))
    assert box.w >= 20 * box.h


def test_character_prior_prefers_the_pairs_cjk_words_hold_and_leaves_latin_alone():
    prior = CharacterPrior(weight=1.0)
    assert prior("다릅니다") > prior("다름니다") + 2  # 릅니 (as in 다릅니다) is common, 름니 is not
    assert prior("地区") > prior("地匹") + 2 and prior("查看答案") > prior("青看基来") + 2
    assert prior("price 12.99") == 0.0 and not prior.settles("a") and prior.settles("区") and prior.settles("다")
    assert prior("地区", final=True) == prior("地区") == pytest.approx(prior.character_score("", "地")
                                                                   + prior.character_score("地", "区"))
    both = LanguagePrior(WordPrior(), prior)
    assert both("the 地区", final=True) == both.words("the 地区", final=True) + prior("the 地区")
    assert both.settles(" ") and both.settles("区") and not both.settles("x")


def test_the_character_prior_decides_between_cjk_characters_the_pixels_leave_open():
    charset = "地区匹"
    # "地" clear, then "匹" a little likelier than "区" by the pixels
    log_probs = np.log(np.array([[0.001, 0.997, 0.001, 0.001], [0.997, 0.001, 0.001, 0.001],
                                 [0.001, 0.001, 0.45, 0.548]]))
    assert decode.beam_search(log_probs, charset)[0][0] == "地匹"
    assert decode.beam_search(log_probs, charset, prior=CharacterPrior())[0][0] == "地区"


def test_verdict_from_confident_shares():
    box = LineBox(0, 0, 10, 10)
    assert verdict([]) == "unreadable"
    assert verdict([ReadLine("abc", box, [0.99, 0.95, 0.97])]) == "readable"
    assert verdict([ReadLine("abc", box, [0.99, 0.5, 0.97])]) == "partly"
    assert verdict([ReadLine("abc", box, [0.2, 0.5, 0.3])]) == "unreadable"
    assert verdict([ReadLine("abc", box, [0.99, 0.95, 0.97])], unread=3) == "partly"


@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory):
    path = tmp_path_factory.mktemp("reader") / "reader.pt"
    torch.manual_seed(0)
    save_checkpoint(path, build_recognizer(channels=(8, 8, 8, 8), hidden=8, charset=READER_CHARSET,
                                           sigma_input=True), half=True)
    return Reader(path)


def test_reader_answers_one_entry_per_found_line_with_a_confidence_per_character(tiny_reader):
    image, truth = paragraph()
    reading = tiny_reader.read(blur(image, 3.0), sigma=3.0)
    answer = reading.as_dict()
    assert set(answer) >= {"text", "lines", "verdict"} and answer["verdict"] in ("readable", "partly", "unreadable")
    assert answer["text"] == "\n".join(line["text"] for line in answer["lines"])
    for line in answer["lines"]:
        assert len(line["confidence"]) == len(line["text"]) and all(0 <= c <= 1 for c in line["confidence"])
        assert len(line["box"]) == 4
    assert len(answer["lines"]) <= len(truth)
    with pytest.raises(ValueError):
        tiny_reader.read(np.zeros((10, 10), np.uint8))


def test_a_thumbnail_whose_lines_are_a_few_pixels_tall_is_unreadable(tiny_reader, monkeypatch):
    from models.reading.pipeline import MIN_LINE_PX

    image, _ = paragraph()
    thumbnail = np.asarray(Image.fromarray(image).resize((image.shape[1] // 5, image.shape[0] // 5), Image.BILINEAR))
    found = find_lines(thumbnail)
    assert found and all(box.h < MIN_LINE_PX for box in found)  # the text is there, too small to read
    # A reader sure of every line it is handed: only the size rule can leave the thumbnail unread.
    monkeypatch.setattr(tiny_reader, "read_line", lambda *_: LineReading("text", [1.0] * 4, 1.0))
    assert tiny_reader.read(image).verdict == "readable"
    assert tiny_reader.read(thumbnail).verdict == "unreadable"


def test_a_found_line_thinner_than_letters_is_a_rule_neither_read_nor_counted_as_unread(tiny_reader, monkeypatch):
    from models.reading.pipeline import MIN_SHARP_PX

    image, truth = paragraph()
    line = LineBox(*map(int, truth[0]))
    rule = LineBox(line.x, line.y + line.h + 8, line.w, MIN_SHARP_PX - 1)  # a dashed rule taken for a line
    monkeypatch.setattr(tiny_reader, "detector", lambda _: [line, rule])
    monkeypatch.setattr(tiny_reader, "rules_too", False)
    assert [sharp for _, sharp in tiny_reader.find(blur(image, 3.0), 3.0)] == [line]
    monkeypatch.setattr(tiny_reader, "read_line", lambda *_: LineReading("text", [1.0] * 4, 1.0))
    reading = tiny_reader.read(blur(image, 3.0), sigma=3.0)
    assert [read.box for read in reading.lines] == [line]
    assert reading.verdict == "readable"  # a rule is no text left unread


def test_with_a_detector_lines_are_read_in_their_blurred_extent_and_answered_at_their_sharp_ink(tiny_reader, monkeypatch):
    image, truth = paragraph()
    sharp = [LineBox(*box) for box in truth]
    monkeypatch.setattr(tiny_reader, "detector", lambda _: sharp)  # a detector that finds every line's ink box
    read_in = []
    monkeypatch.setattr(tiny_reader, "read_boxes",
                        lambda _, boxes, __: read_in.extend(boxes) or [LineReading("text", [1.0] * 4, 1.0)] * len(boxes))
    reading = tiny_reader.read(blur(image, 3.0), sigma=3.0)
    assert {line.box for line in reading.lines} == set(sharp)
    for line in reading.lines:  # read in the box the finder would find: the ink plus the blur's spread
        assert line.found in read_in and line.found.h > line.box.h + 4 and line.found.w > line.box.w + 4
    assert {(box.x, box.y) for box in read_in} == {(box.x - 4, box.y - 4) for box in sharp}  # 1.2 / 1.08 + 1.14 sigma


def test_lines_the_detector_missed_are_taken_from_the_rule_finder_unless_told_not_to(tiny_reader, monkeypatch):
    image, truth = paragraph()
    capture = blur(image, 2.0)
    found = find_lines(capture)
    detected = [LineBox(*box) for box in truth[::2]]  # a detector that sees every other line
    monkeypatch.setattr(tiny_reader, "detector", lambda _: detected)
    lines = tiny_reader.find(capture, 2.0)
    assert {sharp for _, sharp in lines} >= set(detected) and len(lines) == len(found) == len(truth)
    monkeypatch.setattr(tiny_reader, "rules_too", False)
    assert {sharp for _, sharp in tiny_reader.find(capture, 2.0)} == set(detected)


def test_missed_lines_are_those_overlapping_no_detected_line():
    detected = [LineBox(10, 10, 100, 20)]
    assert missed_lines([LineBox(12, 12, 90, 18), LineBox(10, 40, 100, 20), LineBox(100, 25, 50, 20)], detected) == \
        [LineBox(10, 40, 100, 20), LineBox(100, 25, 50, 20)]  # the last shares 50 of its 1000 px: under a fifth
    assert missed_lines([LineBox(0, 0, 5, 5)], []) == [LineBox(0, 0, 5, 5)]


def test_reading_lines_are_pure_functions_of_seed_and_index_and_blurred_relative_to_the_font():
    chars = frozenset(READER_CHARSET)
    a, b = make_reading_line(4, 9, chars), make_reading_line(4, 9, chars)
    assert a.text == b.text and np.array_equal(a.blurred, b.blurred)
    config = ReadingLineConfig(p_rescale=0.0, p_sharp=0.0)
    for index in range(12):
        line = make_reading_line(2, index, chars, config)
        encode(line.text, READER_CHARSET)
        assert 0.06 <= line.sigma / line.px <= config.max_ratio + 0.05
        assert line.blurred.shape == line.sharp.shape
        top, bottom, left, right = line.box
        assert 0 < top < bottom <= line.blurred.shape[0] and 0 < left < right <= line.blurred.shape[1]


def test_reading_lines_on_filled_shapes_are_cropped_at_their_text_and_spell_within_the_charset():
    chars = frozenset(READER_CHARSET)
    config = ReadingLineConfig(p_rescale=0.0, p_sharp=1.0, p_shape=1.0, p_jpeg=0.0, p_noise=0.0)
    symbols, at_text = set(), 0
    for index in range(40):
        line = make_reading_line(3, index, chars, config)
        encode(line.text, READER_CHARSET)
        symbols |= set(line.text) & set(SYMBOLS)
        top, bottom, left, right = line.box
        found = located_boxes(line.blurred, [line.box])[0]
        # the box found is the text's, not its button's: no wider than the text and a few pixels
        at_text += (found.x >= left - 0.5 * line.px - 2 and found.x + found.w <= right + 0.5 * line.px + 2
                    and found.y >= top - 0.3 * line.px - 2 and found.y + found.h <= bottom + 0.3 * line.px + 2)
    assert at_text >= 36, "a button whose padding is thinner than a few pixels may still be read whole"
    assert symbols, "amounts and typography bring the reader's currency and punctuation symbols"


def test_two_step_reader_training_warm_starts_and_exports_a_reader(tmp_path, capsys):
    recognizer = tmp_path / "recognizer.pt"
    save_checkpoint(recognizer, build_recognizer(channels=(8, 8, 8, 8), hidden=8))
    train_recognizer.main(["--task", "reader", "--steps", "2", "--batch-size", "3", "--val-lines", "4",
                           "--log-every", "1", "--warmup", "1", "--out", str(tmp_path), "--precision", "bf16",
                           "--init-from", str(recognizer), "--model-overrides", '{"channels": [8, 8, 8, 8], "hidden": 8}'])
    out = capsys.readouterr().out
    assert "warm start" in out and "val cer" in out
    payload = read_checkpoint(tmp_path / "reader.pt")
    assert payload["config"]["sigma_input"] and payload["config"]["charset"] == READER_CHARSET
    assert payload["step"] == 2 and "all" in payload["extra"]["val_cer"]
    train_recognizer.main(["--task", "reader", "--steps", "3", "--batch-size", "3", "--val-lines", "4",
                           "--log-every", "1", "--warmup", "1", "--out", str(tmp_path), "--resume",
                           str(tmp_path / "last.pt")])
    resumed = read_checkpoint(tmp_path / "last.pt")  # the run's own shape, not the reader's default
    assert resumed["step"] == 3 and tuple(resumed["config"]["channels"]) == (8, 8, 8, 8)


def test_reader_lines_can_be_located_by_the_detector_cut_from_paragraphs_and_weighted_to_korean(tmp_path):
    from models.reading.line_detector import DEFAULT_DETECTOR
    from models.reading.routing import has_hangul

    korean = train_recognizer.reader_batch(5, 0, 24, korean_weight=1.0)[2]
    assert all(has_hangul(text) for text in korean)
    assert not any(has_hangul(text) for text in train_recognizer.reader_batch(5, 0, 24, korean_weight=0.0)[2])
    lines, sigmas, texts, langs, ratios = train_recognizer.reader_batch(3, 1, 6, sigma_dropout=0.0,
                                                                         locate_with=str(DEFAULT_DETECTOR),
                                                                         paragraph_share=0.5)
    again = train_recognizer.reader_batch(3, 1, 6, sigma_dropout=0.0, locate_with=str(DEFAULT_DETECTOR),
                                          paragraph_share=0.5)
    assert texts == again[2] and all(torch.equal(a, b) for a, b in zip(lines, again[0]))  # pure in (seed, step)
    assert len(lines) == 6 and (sigmas > 0).all()  # every sigma told at no dropout
    # half the batch is lines of paragraphs, drawn under their own stream, so not the single lines' texts
    singles = train_recognizer.reader_batch(3, 1, 6, sigma_dropout=0.0)[2]
    assert texts[3:] == singles[3:] and texts[:3] != singles[:3]
    train_recognizer.main(["--task", "reader", "--steps", "2", "--batch-size", "2", "--val-lines", "2",
                           "--log-every", "1", "--warmup", "1", "--out", str(tmp_path), "--locate-with",
                           str(DEFAULT_DETECTOR), "--paragraph-share", "0.5", "--document-share", "0.5",
                           "--korean-weight", "0.5",
                           "--model-overrides", '{"channels": [8, 8, 8, 8], "hidden": 8}'])
    assert read_checkpoint(tmp_path / "reader.pt")["step"] == 2


def test_calibration_picks_the_smallest_power_that_keeps_confident_characters_right():
    from models.training.calibrate_reader import fit_power

    # the network says 0.95 for characters that are right 9 times in 10, and 0.999 for always-right ones
    outcomes = [(0.95, i % 10 != 0) for i in range(100)] + [(0.999, True)] * 100
    power = fit_power(outcomes, target=0.005)
    assert 0.95 ** power < 0.9 <= 0.999 ** power
    assert fit_power([(0.99, True)] * 10) == 1.0


def test_korean_reading_lines_carry_list_markers_numbers_and_punctuation_in_the_readers_charset():
    from models.data.lines import reading_text

    chars = frozenset(READER_CHARSET)
    texts = [reading_text(np.random.default_rng((5, i)), "ko", chars)[0] for i in range(300)]
    assert texts == [reading_text(np.random.default_rng((5, i)), "ko", chars)[0] for i in range(300)]
    assert all(set(text) <= chars and any("\uac00" <= ch <= "\ud7a3" for ch in text) for text in texts)
    assert sum(bool(re.match(r"\d{1,2}[.)] ", text)) for text in texts) >= 15  # "2. " read as "고." before
    assert sum(any(ch.isdigit() for ch in text) for text in texts) >= 60
    assert sum(text[-1] in ".?!" for text in texts) >= 60


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_data_workers_draw_each_step_of_a_run_once_and_in_order(workers, monkeypatch):
    def batch_naming_its_step(config, seed, step, batch_size):
        return [torch.zeros(1, 32, 40)], torch.tensor([-1.0]), [str(step)], ["latin"]

    monkeypatch.setattr(train_recognizer, "task_batch", batch_naming_its_step)
    loader = torch.utils.data.DataLoader(train_recognizer.StepBatches(train_recognizer.RecognizerTrainConfig(steps=9), 2),
                                         batch_size=None, num_workers=workers)
    assert [texts[0] for _, _, texts in loader] == [str(step) for step in range(2, 9)]
