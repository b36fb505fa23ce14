"""End-to-end reading on the layouts, scored line by line (models.evaluation.layout_reading)."""
import pytest

from models.evaluation import layout_reading
from models.reading.line_finder import LineBox
from models.reading.pipeline import Reading, ReadLine


def test_a_line_scores_its_edits_a_missed_line_its_length_and_an_invented_line_its_length():
    truth = [((0, 0, 100, 10), "hello", "<=.1"), ((0, 20, 100, 30), "world", ".1-.2")]
    found = [((0, 1, 100, 11), "hallo"), ((0, 50, 100, 60), "junk")]
    assert layout_reading.line_errors(truth, found, "en", ">.3") == {"<=.1": [1, 5], ".1-.2": [5, 5], ">.3": [4, 0]}


def test_each_true_line_keeps_what_was_read_over_it_and_the_invented_lines_theirs():
    truth = [((0, 0, 100, 10), "hello", "<=.1"), ((0, 20, 100, 30), "world", ".1-.2")]
    matched, invented = layout_reading.match_lines(truth, [((0, 1, 100, 11), "hallo"), ((0, 50, 100, 60), "junk")], "en")
    assert [(line["text"], line["read"], line["errors"], line["characters"]) for line in matched] == \
        [("hello", "hallo", 1, 5), ("world", None, 5, 5)]
    assert invented == [{"read": "junk", "errors": 4}]


def test_a_box_too_far_from_the_line_does_not_carry_its_text():
    truth = [((0, 0, 100, 10), "hello", "<=.1")]
    assert layout_reading.line_errors(truth, [((0, 8, 100, 18), "hello")], "en", "<=.1") == {"<=.1": [10, 5]}
    assert layout_reading.line_errors(truth, [((0, 2, 100, 12), "hello")], "en", "<=.1") == {"<=.1": [0, 5]}


def test_pooled_cer_by_bucket_and_overall():
    records = [{"counts": {"<=.1": [1, 10], ">.3": [6, 10]}}, {"counts": {"<=.1": [0, 10]}}]
    assert layout_reading.pooled_cer(records, "<=.1") == pytest.approx(0.05)
    assert layout_reading.pooled_cer(records) == round(7 / 30, 4)
    assert layout_reading.pooled_cer(records, ".1-.2") is None


class _Pages:
    def __init__(self, pages):
        self.pages = pages

    def image(self, number):
        return number


def test_css_captures_are_read_with_their_sigma_and_pictures_blind_at_their_scale():
    lines = [{"text": "ab", "font_css": 10, "box": [0, 0, 100, 12], "ink": [2, 2, 98, 12]},
             {"text": " ", "font_css": 10, "box": [0, 20, 10, 30], "ink": None}]
    captures = [{"mode": "css", "ratio": 0.15, "scale": 1.0, "sigma_px": 1.5, "image": 0},
                {"mode": "picture", "ratio": 0.15, "scale": 0.5, "sigma_px": 0.75, "image": 1}]
    page = {"id": 0, "family": "quotation", "split": "test", "lang": "en", "dpr": 1, "lines": lines,
            "captures": captures}
    boxes = {0: LineBox(2, 2, 96, 10), 1: LineBox(1, 1, 48, 5)}
    told = []

    class Reader:
        def read(self, image, sigma=None):
            told.append((image, sigma))
            return Reading([ReadLine("ab" if image == 0 else "a", boxes[image], [1.0])], "readable")

    records = layout_reading.read_pages(_Pages([page, {**page, "split": "train"}]), Reader(), ("test",),
                                        log=lambda *_: None)
    assert told == [(0, 1.5), (1, None)]  # the train page is left out
    assert [r["counts"] for r in records] == [{".1-.2": [0, 2]}, {".1-.2": [1, 2]}]
    assert "lines" not in records[0]
    kept = layout_reading.read_pages(_Pages([page]), Reader(), ("test",), log=lambda *_: None, keep_lines=True)
    assert [[line["read"] for line in r["lines"]] for r in kept] == [["ab"], ["a"]]
    assert layout_reading.summarize(records, lambda r: r["mode"])["picture"][".1-.2"] == pytest.approx(0.5)
    text = layout_reading.markdown({"header": "h", "splits": ("test",), **layout_reading.summaries(records, ("test",))})
    assert "| test / picture / en | – | 0.500 | – | – | 0.500 |" in text and "| quotation | – | 0.250 |" in text
