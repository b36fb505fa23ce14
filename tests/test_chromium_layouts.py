"""The Chromium layouts (pages labelled from the DOM) and the line-finding benchmark on them."""
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from models.data import chromium_layouts as layouts
from models.data.blur import box3_blur, gaussian_blur
from models.data.chromium_devset import CHROMIUM, launch, psnr_uint8, to_tensor, to_uint8
from models.data.lexicon import load_lexicon
from models.data.korean import KOREAN_HADA, KOREAN_PAIRED_PARTICLES, KOREAN_PARTICLES, KOREAN_PREDICATES
from models.data.synth import CODE_LINES, UI_LABELS
from models.evaluation import line_eval

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def visible_text(spec):
    parser = _Text()
    parser.feed(spec["body"])
    return " ".join(parser.parts)  # text nodes apart: a heading and the paragraph after it are two words


def first_page_of(family, seed=0):
    return layouts.make_page(seed, layouts.FAMILIES.index(family))


# ---------------------------------------------------------------- pages, without a browser

def test_a_page_is_a_pure_function_of_seed_and_index():
    assert layouts.make_page(0, 7) == layouts.make_page(0, 7)
    assert layouts.make_page(0, 7) != layouts.make_page(1, 7)
    assert layouts.make_page(0, 7)["body"] != layouts.make_page(0, 7 + len(layouts.FAMILIES))["body"]
    for index in range(3 * len(layouts.FAMILIES)):
        assert layouts.make_page(0, index)["family"] == layouts.FAMILIES[index % len(layouts.FAMILIES)]


def test_families_are_split_whole_and_disjointly():
    assert set(layouts.BUILDERS) == set(layouts.FAMILY_SPLIT)
    split_sets = [set(layouts.families_of(split)) for split in layouts.SPLITS]
    assert all(split_sets)
    assert set().union(*split_sets) == set(layouts.FAMILIES)
    assert sum(len(s) for s in split_sets) == len(layouts.FAMILIES)
    for held_out in ("quotation", "code_block", "chat", "receipt"):  # the layouts issue 22 saw fail
        assert layouts.family_split(held_out) == "test"
    test_ids = layouts.page_indices(200, ("test",))
    assert test_ids and all(layouts.make_page(0, i)["split"] == "test" for i in test_ids)
    assert not set(test_ids) & set(layouts.page_indices(200, ("train", "tune")))


PUNCTUATION = "。.,:;!?()[]{}\"'·—–•▪©|#$%>"


def _word(token):
    return token.strip(PUNCTUATION).lower()


def _allowed_words():
    words = {w for lang in ("en", "ko") for w, _ in load_lexicon(lang)}
    words.update(_word(token) for text in UI_LABELS + CODE_LINES for token in text.split())
    return words


def _korean_eojeol_of(token, words):
    """Whether a Korean token is a lexicon word, a predicate of our pools, or a lexicon word with a
    particle or ending of our pools on it (``lines.korean_word``)."""
    if token in words or token in KOREAN_PREDICATES:
        return True
    endings = set(sum(KOREAN_PAIRED_PARTICLES, ())) | set(KOREAN_PARTICLES) | set(KOREAN_HADA)
    return any(token.endswith(e) and token[:-len(e)] in words for e in endings)


def test_words_come_only_from_the_shipped_lexicons_and_pools():
    words = _allowed_words()
    cjk = {lang: set("".join(w for w, _ in load_lexicon(lang))) for lang in ("ja", "zh")}
    checked = 0
    for index in range(120):
        spec = layouts.make_page(3, index)
        for token in visible_text(spec).split():
            if not _word(token) or re.search(r"\d", token):  # numbers and prices are drawn, not words
                continue
            checked += 1
            if spec["lang"] in cjk and not token.isascii():
                assert set(token) - set(PUNCTUATION) <= cjk[spec["lang"]], (spec["family"], token)
            elif spec["lang"] == "ko":
                assert _korean_eojeol_of(_word(token), words), (spec["family"], token)
            else:
                assert _word(token) in words, (spec["family"], token)
    assert checked > 1000


def test_korean_prose_carries_its_particles_on_its_words_and_table_cells_stay_bare():
    pages = [layouts.make_page(5, i) for i in range(400)]
    prose = [p for p in pages if p["lang"] == "ko" and p["family"] in ("article", "chat", "bullet_list")]
    tables = [p for p in pages if p["lang"] == "ko" and p["family"] == "table_ruled"]
    assert prose and tables
    particles = set(sum(KOREAN_PAIRED_PARTICLES, ())) | set(KOREAN_PARTICLES)
    tokens = [t.strip(PUNCTUATION) for p in prose for t in visible_text(p).split()]
    assert not particles & set(tokens)  # a particle never stands alone after its word
    with_particle = sum(any(t.endswith(p) and len(t) > len(p) for p in particles) for t in tokens)
    assert with_particle > 0.25 * len(tokens)
    vocabulary = set(layouts._vocabulary("ko"))
    cells = [t.strip(PUNCTUATION) for p in tables for t in re.findall(r"<td[^>]*>([^<]*)</td>", p["body"])]
    assert cells and all(w in vocabulary for cell in cells for w in cell.split() if not re.search(r"\d", w))


def test_each_page_is_captured_once_per_blur_stratum_one_of_them_as_a_picture():
    for index in range(60):
        spec = layouts.make_page(0, index)
        plan = spec["captures"]
        assert len(plan) == len(layouts.RATIO_STRATA)
        assert sum(capture["mode"] == "picture" for capture in plan) == 1
        for capture, (low, high) in zip(plan, layouts.RATIO_STRATA):
            assert low <= capture["ratio"] <= high
            if capture["mode"] == "css":
                assert capture["blur_css"] == pytest.approx(capture["ratio"] * spec["style"]["size"],
                                                           abs=0.0005 * spec["style"]["size"] + 0.0051)
                assert layouts.capture_meta(spec, capture, np.zeros((1, 1, 3)))["sigma_px"] == capture["blur_css"] * spec["dpr"]
            else:
                assert 0.5 <= capture["scale"] <= 1 and 50 <= capture["jpeg"] <= 95
    sizes = [layouts.make_page(0, i)["style"]["size"] for i in range(200)]
    assert min(sizes) >= 9 and np.mean(np.array(sizes) <= 14) > 0.35
    specs = [layouts.make_page(0, i) for i in range(200)]
    assert {s["lang"] for s in specs} == set(layouts.LANGS) and {s["dpr"] for s in specs} == {1, 2}
    assert {s["raster"] for s in specs} == {"software", "gpu"} and {s["style"]["dark"] for s in specs} == {True, False}


def test_ink_box_is_the_lines_own_ink_not_the_descenders_above_it():
    image = np.full((40, 60, 3), 240, np.uint8)
    image[2:4, 10:14] = 30     # a descender of the line above, inside this line's DOM box
    image[14:26, 8:50] = 20    # this line's glyphs
    assert layouts.ink_box(image, [5, 1, 52, 30], font_px=20) == [8, 14, 50, 26]
    assert layouts.ink_box(np.full((40, 60, 3), 240, np.uint8), [5, 1, 52, 30], font_px=20) is None


# ---------------------------------------------------------------- the benchmark's matching, without a browser

def test_iou_of_hand_made_boxes():
    assert line_eval.iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert line_eval.iou((0, 0, 10, 10), (10, 0, 20, 10)) == 0.0
    assert line_eval.iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert line_eval.iou((0, 0, 10, 10), (2, 2, 8, 8)) == pytest.approx(36 / 100)


def test_matching_is_one_to_one_best_first_and_at_the_threshold():
    lines = [(0, 0, 100, 10), (0, 14, 100, 24)]
    merged = [(0, 0, 100, 24)]  # one box over both lines: IoU 10/24 with each, below 0.5
    assert line_eval.match_boxes(lines, merged) == {}
    assert len(line_eval.match_boxes(lines, merged, threshold=0.4)) == 1  # still only one of them
    found = [(0, 15, 100, 24), (0, 1, 100, 10), (0, 0, 100, 11)]
    assert line_eval.match_boxes(lines, found) == {0: 2, 1: 0}


def test_recall_and_precision_per_bucket_of_a_hand_made_capture():
    truth = [(0, 0, 100, 10), (0, 20, 100, 30), (0, 40, 50, 60)]
    buckets = ["<=.1", "<=.1", ".2-.3"]
    found = [(0, 0, 100, 10), (0, 40, 50, 45), (200, 200, 220, 210)]  # a hit, half of line 3, junk far off
    counts = line_eval.capture_outcome(truth, buckets, found, fallback_bucket=">.3")
    assert counts["<=.1"] == {"lines": 2, "recalled": 1, "boxes": 1, "correct": 1}
    assert counts[".2-.3"] == {"lines": 1, "recalled": 0, "boxes": 1, "correct": 0}  # counted where it overlaps
    assert counts[">.3"] == {"lines": 0, "recalled": 0, "boxes": 1, "correct": 0}
    total = line_eval.pooled(counts)
    assert line_eval.rates(total) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert line_eval.rates(counts[".1-.2"]) == (None, None)


def test_ratio_buckets_at_their_edges():
    assert [line_eval.ratio_bucket(r) for r in (0.0, 0.1, 0.1001, 0.2, 0.3, 0.31, 0.5, 2.0)] == [
        "<=.1", "<=.1", ".1-.2", ".1-.2", ".2-.3", ">.3", ">.3", ">.3"]


class _Pages:
    """A stand-in for LayoutPages: each capture's 'image' is its number, so a finder can look up boxes."""

    def __init__(self, pages):
        self.pages = pages

    def image(self, number):
        return number


def _fake_page(split, scale):
    # the first line's DOM box is much taller than its ink (a font's ascent and descent)
    lines = [{"text": "a", "font_css": 10, "box": [0, -6, 100, 20], "ink": [2, 2, 98, 12]},
             {"text": "b", "font_css": 20, "box": [0, 30, 100, 58], "ink": [2, 32, 98, 56]},
             {"text": " ", "font_css": 10, "box": [0, 70, 10, 84], "ink": None}]
    captures = [{"mode": "css", "ratio": 0.15, "scale": 1.0, "sigma_px": 1.5, "image": 0},
                {"mode": "picture", "ratio": 0.15, "scale": scale, "sigma_px": 1.5 * scale, "image": 1}]
    return {"id": 0, "family": "quotation", "split": split, "lang": "en", "dpr": 1, "lines": lines, "captures": captures}


def test_evaluate_pages_scales_picture_captures_and_buckets_lines_by_their_own_font():
    page = _fake_page("test", 0.5)
    exact = {0: [(2, 2, 96, 10), (2, 32, 96, 24)], 1: [(1, 1, 48, 5), (1, 16, 48, 12)]}

    class Box:
        def __init__(self, x, y, w, h):
            self.x, self.y, self.w, self.h = x, y, w, h

    records = line_eval.evaluate_pages(_Pages([page, _fake_page("train", 1.0)]),
                                       finder=lambda image: [Box(*b) for b in exact[image]], log=lambda *_: None)
    assert len(records) == 2  # the train page is left out
    for record in records:
        # sigma / font: 0.15 for the 10 px line, 0.075 for the 20 px one; the line without ink is no line
        assert record["ink"][".1-.2"] == {"lines": 1, "recalled": 1, "boxes": 1, "correct": 1}
        assert record["ink"]["<=.1"] == {"lines": 1, "recalled": 1, "boxes": 1, "correct": 1}
    summary = line_eval.summarize(records, "dom")["test"]["all"]
    assert summary["lines"] == 4 and summary["recalled"] == 2  # the ink boxes found miss the first tall DOM box


# ---------------------------------------------------------------- rendered by Chromium

def test_tables_in_train_are_ruled_in_full_or_between_rows_and_the_tune_table_is_not_ruled():
    ruled = [layouts.make_page(0, i)["body"] for i in range(400) if layouts.page_family(i) == "table_ruled"]
    grid = [body for body in ruled if "border:1px solid" in body]
    rows = [body for body in ruled if "border-bottom:1px solid" in body]
    assert grid and rows and len(grid) + len(rows) == len(ruled)
    assert not any("border:1px solid" in body for body in rows)  # cells apart by whitespace alone
    plain = [layouts.make_page(0, i)["body"] for i in range(400) if layouts.page_family(i) == "table_plain"]
    assert plain and not any("border:1px" in body or "border-bottom" in body for body in plain)


def test_broken_rules_divide_train_layouts_only():
    def rules(family):
        bodies = [layouts.make_page(0, i)["body"] for i in range(660) if layouts.page_family(i) == family]
        return {style for body in bodies for style in re.findall(r"border-(?:top|bottom):\dpx (\w+)", body)}
    for family in ("article", "card", "price_list"):  # a detector learns a row of dashes is no text
        assert {"dashed", "dotted"} <= rules(family), family
    for family in layouts.families_of("tune") + layouts.families_of("test"):
        assert "dotted" not in rules(family) and (family == "receipt") == ("dashed" in rules(family)), family


def test_layout_pages_read_several_folders_one_after_the_other_and_refuse_a_missing_one(tmp_path):
    def page(page_id, shade):
        image = np.full((8, 12, 3), shade, np.uint8)
        spec = {"id": page_id, "family": "article", "split": "train", "lang": "en", "style": {"size": 12.0},
                "body": "", "raster": "software", "dpr": 1, "captures": [{"mode": "css", "ratio": 0.1, "blur_css": 1.2}]}
        return spec, image, [image + 1], [{"text": "x", "box": [0, 0, 4, 4], "ink": [0, 0, 4, 4], "font_css": 12.0}]

    first, second = tmp_path / "a", tmp_path / "b"
    for folder, pages in ((first, [page(0, 10), page(1, 20)]), (second, [page(7, 30)])):
        folder.mkdir()
        layouts.write_shard(folder, pages[0][0]["id"], len(pages), pages, seed=0)
    both = layouts.LayoutPages(f"{first},{second}")
    assert [p["id"] for p in both.pages] == [0, 1, 7]
    assert [int(both.image(p["sharp"])[0, 0, 0]) for p in both.pages] == [10, 20, 30]
    assert [int(both.image(p["captures"][0]["image"])[0, 0, 0]) for p in both.pages] == [11, 21, 31]
    assert [p["id"] for p in layouts.LayoutPages([second]).pages] == [7]
    with pytest.raises(FileNotFoundError, match="no layouts folder"):
        layouts.LayoutPages(f"{first},{tmp_path / 'gone'}")


@pytest.fixture(scope="module")
def browsers():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        opened = {raster: launch(playwright, raster) for raster in ("software", "gpu")}
        yield opened
        for browser in opened.values():
            browser.close()


@pytest.mark.browser
@needs_chromium
@pytest.mark.parametrize("family", ["receipt", "links", "multi_column", "chips", "table_ruled"])
def test_every_dom_line_holds_ink_and_the_lines_hold_the_pages_text(browsers, family):
    spec = first_page_of(family)
    sharp, captures, lines = layouts.render_page(browsers[spec["raster"]], spec)
    assert lines and all(capture.ndim == 3 for capture in captures)
    assert [c.shape for c, plan in zip(captures, spec["captures"]) if plan["mode"] == "css"] == \
        [sharp.shape] * (len(captures) - 1)
    for line in lines:
        x0, y0, x1, y1 = line["ink"]
        pad = 0.15 * line["font_css"] * spec["dpr"] + 1
        assert line["box"][0] - pad <= x0 < x1 <= line["box"][2] + pad and line["box"][1] - 1 <= y0 < y1 <= line["box"][3] + 1
        assert y1 - y0 >= 0.3 * line["font_css"] * spec["dpr"]  # the glyphs' ink, not a stray pixel
    # every character of the page's text lies in exactly one line, in document order
    assert "".join(line["text"] for line in lines).replace(" ", "") == re.sub(r"\s", "", visible_text(spec))


@pytest.mark.browser
@needs_chromium
def test_a_code_lines_ink_is_as_wide_as_its_text(browsers):
    for family in ("code_block", "terminal"):
        spec = first_page_of(family)
        _, _, lines = layouts.render_page(browsers[spec["raster"]], spec)
        assert len(lines) == visible_text(spec).strip().count("\n") + 1
        for line in lines:
            # monospace: 0.6 em a character, the first and last glyph's side bearings aside
            advance = 0.6 * line["font_css"] * spec["dpr"]
            width = line["ink"][2] - line["ink"][0]
            assert abs(width - len(line["text"]) * advance) <= advance + 2, line


@pytest.mark.browser
@needs_chromium
def test_the_same_seed_and_index_render_the_same_page_and_blur_it_by_the_recorded_sigma(browsers):
    spec = first_page_of("card")
    sharp, captures, lines = layouts.render_page(browsers[spec["raster"]], spec)
    again_sharp, again_captures, again_lines = layouts.render_page(browsers[spec["raster"]], layouts.make_page(0, spec["id"]))
    assert lines == again_lines and np.array_equal(sharp, again_sharp)
    assert all(np.array_equal(a, b) for a, b in zip(captures, again_captures))
    kernel = box3_blur if spec["raster"] == "software" else gaussian_blur
    checked = 0
    for plan, capture in zip(spec["captures"], captures):
        meta = layouts.capture_meta(spec, plan, capture)
        if plan["mode"] != "css" or meta["sigma_px"] < 1:
            continue
        assert psnr_uint8(to_uint8(kernel(to_tensor(sharp), meta["sigma_px"])), capture) > 40, meta
        assert psnr_uint8(sharp, capture) < 35, meta
        checked += 1
    assert checked >= 1


@pytest.mark.browser
@needs_chromium
def test_built_shards_hold_only_the_chosen_splits_and_a_rerun_renders_nothing(browsers, tmp_path):
    count = layouts.page_indices(40, ("test",))[1] + 1  # the first two test pages
    quiet = dict(log=lambda *_: None, browsers={"software": browsers["software"]})
    first = layouts.build_layouts(tmp_path, count, ("test",), seed=0, shard_size=count, **quiet)
    assert first["rendered"] == 2
    assert layouts.build_layouts(tmp_path, count, ("test",), seed=0, **quiet)["rendered"] == 0
    with pytest.raises(SystemExit, match="other settings"):
        layouts.build_layouts(tmp_path, count, ("train",), seed=0, **quiet)
    pages = layouts.LayoutPages(tmp_path)
    assert [p["split"] for p in pages.pages] == ["test", "test"]
    for page in pages.pages:
        assert page["lines"] and page["raster"] == "software"
        for capture in page["captures"]:
            image = pages.image(capture["image"])
            assert list(image.shape) == capture["shape"]
            assert capture["sigma_px"] == pytest.approx(capture["ratio"] * page["style"]["size"] * page["dpr"] * capture["scale"], abs=0.011)


@pytest.mark.browser
@needs_chromium
def test_a_build_of_some_families_from_a_first_id_holds_only_those_pages(browsers, tmp_path):
    first = 2 * len(layouts.FAMILIES)
    tables = [i for i in range(first, first + 2 * len(layouts.FAMILIES)) if layouts.page_family(i) == "table_ruled"]
    quiet = dict(log=lambda *_: None, browsers={"software": browsers["software"]})
    built = layouts.build_layouts(tmp_path, tables[-1] + 1, ("train",), families=("table_ruled",), first=first, **quiet)
    assert built["rendered"] == len(tables) == 2
    assert [p["id"] for p in layouts.LayoutPages(tmp_path).pages] == tables
    for wrong in ("tables", "table_plain"):  # no such family; a tune family asked of the train split
        with pytest.raises(ValueError, match="unknown families"):
            layouts.build_layouts(tmp_path / "other", 1, ("train",), families=(wrong,), **quiet)
    assert not (tmp_path / "other").exists()


def test_a_missed_line_is_told_apart_as_not_found_merged_oversized_split_or_misplaced():
    line, below = (0, 0, 100, 10), (0, 16, 100, 26)
    assert line_eval.miss_kind(line, []) == "not found"
    assert line_eval.miss_kind(line, [(0, 0, 20, 10)]) == "not found"  # a fifth of it
    assert line_eval.miss_kind(line, [(-10, -2, 110, 30)], [below]) == "merged"  # inside a box with the line below
    assert line_eval.miss_kind(line, [(-10, -2, 110, 30)], [(0, 60, 100, 70)]) == "oversized"  # a shape's box
    assert line_eval.miss_kind(line, [(0, 0, 45, 10), (55, 0, 100, 10)]) == "split"
    assert line_eval.miss_kind(line, [(40, 0, 100, 14)]) == "misplaced"  # IoU 0.48
    assert line_eval.capture_misses([line, below], [below]) == ["not found"]
    assert line_eval.capture_misses([line, below], [(0, 0, 100, 26)]) == ["merged", "merged"]
