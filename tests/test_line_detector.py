"""The learned line detector: the net's size contract and checkpoint, decoding boxes from its maps,
its trainer (two steps on a tiny fake layouts shard, then a resume), and its use as a line_eval finder."""
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from models import CheckpointError, build_model, read_checkpoint, save_checkpoint
from models.data.chromium_devset import RASTER_ARGS
from models.data.chromium_layouts import LayoutPages, build_layouts, write_shard
from models.evaluation import line_eval
from models.evaluation.line_eval import evaluate_pages, rates, summarize
from models.nets.line_detector import LineDetectorConfig, build_line_detector, load_line_detector
from models.reading.line_detector import (SMALL_LINE_PX, ZOOM, ZOOM_MAX_PIXELS, LineDetector, core_box, decode_lines,
                                          join_pieces, needs_zoom, unshrink, unzoomed, zoomed)
from models.reading.line_finder import MIN_LINE_PX, LineBox
from models.training import train_detector
from models.training.train_detector import DetectorTrainConfig, detector_batch, line_targets

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHRINK = LineDetectorConfig.core_shrink
PAGE_LINES = ([12, 14, 150, 24], [12, 32, 120, 42], [30, 50, 100, 60])  # ink boxes (x0, y0, x1, y1) of the fake page
PAGE_RULE = (8, 74, 160, 75)                                          # a one-pixel rule under them: not a line


# ---------------------------------------------------------------- the net

@pytest.mark.parametrize("height, width", [(1, 1), (17, 33), (40, 100), (64, 48)])
def test_the_net_maps_any_capture_to_two_full_size_maps(height, width):
    model = build_line_detector().eval()
    with torch.no_grad():
        maps = model(torch.rand(2, 3, height, width))
    assert maps.shape == (2, 2, height, width)
    assert torch.isfinite(maps).all()


def test_every_stage_needs_its_depth_and_kernel():
    with pytest.raises(ValueError, match="one depth and one kernel per stage"):
        build_line_detector(widths=(8, 16, 32))


def test_the_net_is_small_and_its_checkpoint_alone_rebuilds_it(tmp_path):
    model = build_line_detector(widths=(8, 16, 32), depths=(1, 1, 1), kernels=(3, 3, 3), neck=8).eval()
    assert sum(p.numel() for p in build_line_detector().parameters()) <= 1_000_000
    path = tmp_path / "detector.pt"
    save_checkpoint(path, model, half=True)
    loaded = load_line_detector(path)
    assert loaded.config == model.config
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=2e-2)
    save_checkpoint(tmp_path / "deblur.pt", build_model("nafunet", width=8))
    with pytest.raises(CheckpointError):
        load_line_detector(tmp_path / "deblur.pt")


def png(image):
    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG")
    return out.getvalue()


# ---------------------------------------------------------------- decoding

def maps_of(shape, cores, height):
    """A core probability map with ``cores`` (top, bottom, left, right, probability) and a flat height map."""
    probability = np.zeros(shape, np.float32)
    for top, bottom, left, right, value in cores:
        probability[top:bottom, left:right] = value
    return probability, np.full(shape, float(height), np.float32)


@pytest.mark.parametrize("box", [(10.0, 20.0, 90.0, 30.0), (3.0, 4.0, 5.0, 40.0), (0.0, 0.0, 200.0, 7.0)])
def test_unshrink_undoes_core_box_whenever_the_core_keeps_its_share(box):
    core = core_box(box, SHRINK)
    assert core[0] >= box[0] and core[1] > box[1] and core[2] <= box[2] and core[3] < box[3]
    if box[2] - box[0] > 2 * SHRINK * (box[3] - box[1]) + 1:
        assert np.allclose(unshrink(core, box[3] - box[1], SHRINK), box)


def test_two_lines_whose_cores_are_apart_decode_as_two_boxes_top_first_unshrunk_by_the_read_height():
    probability, heights = maps_of((60, 120), [(30, 34, 20, 80, 0.9), (10, 14, 20, 100, 0.95)], 10)
    lines = decode_lines(probability, heights, SHRINK)
    # cores 4 rows tall centred on rows 12 and 32: boxes 10 tall around them, 3 px (0.3 x 10) past each end
    assert lines == [LineBox(17, 7, 86, 10), LineBox(17, 27, 66, 10)]


def test_a_thin_rule_and_a_faint_blob_are_not_lines():
    probability, heights = maps_of((60, 200), [(20, 21, 5, 195, 0.9), (40, 44, 20, 60, 0.55)], MIN_LINE_PX - 1)
    heights[40:44] = 10
    assert decode_lines(probability, heights, SHRINK) == []
    probability[40:44, 20:60] = 0.9  # the blob made confident is a line
    assert decode_lines(probability, heights, SHRINK) == [LineBox(17, 37, 46, 10)]


def test_pieces_of_one_row_join_where_the_gap_is_small_for_their_height():
    word, next_word = (10, 20, 60, 30), (66, 21, 120, 30)          # 6 px apart, 9-10 px tall
    cell, other_row = (150, 20, 200, 30), (10, 40, 60, 50)        # 30 px along the row; a row below
    assert join_pieces([next_word, cell, word, other_row], gap=1.0) == [[2, 0], [3], [1]]
    assert join_pieces([next_word, cell, word], gap=4.0) == [[2, 0, 1]]
    assert join_pieces([word, next_word], gap=None) == [[0], [1]]
    assert join_pieces([word, (66, 28, 120, 38)], gap=1.0) == [[0], [1]]  # overlapping 2 of 10 rows: not one row


def test_a_core_broken_at_a_wide_space_decodes_as_one_line():
    probability, heights = maps_of((40, 200), [(18, 22, 20, 80, 0.9), (18, 22, 88, 150, 0.9)], 10)
    assert decode_lines(probability, heights, SHRINK, gap=1.0) == [LineBox(17, 15, 136, 10)]
    assert len(decode_lines(probability, heights, SHRINK, gap=None)) == 2


def test_the_detector_is_the_named_one_or_the_shipped_one(tmp_path, monkeypatch):
    from server import reading

    monkeypatch.delenv(reading.DETECTOR_ENV, raising=False)
    shipped = tmp_path / "line_detector.pt"
    monkeypatch.setattr(reading, "DEFAULT_DETECTOR", shipped)
    assert reading.resolve_detector(None) is None                    # none shipped: find_lines
    shipped.write_bytes(b"")
    assert reading.resolve_detector(None) == str(shipped)
    assert reading.resolve_detector("mine.pt") == "mine.pt"
    assert reading.resolve_detector("none") is None
    monkeypatch.setenv(reading.DETECTOR_ENV, "from-env.pt")
    assert reading.resolve_detector(None) == "from-env.pt"
    assert reading.resolve_detector("none") is None


def test_the_server_reads_with_the_detector_it_is_given_and_says_which_cannot_be_used(engine, reader_checkpoint, tmp_path):
    from server.errors import ReaderUnavailable
    from server.reading import ReadService
    from server_support import make_app

    detector = tmp_path / "detector.pt"
    save_checkpoint(detector, build_line_detector(widths=(8, 16, 32), depths=(1, 1, 1), kernels=(3, 3, 3), neck=8))
    service = ReadService(reader_checkpoint, detector=detector)
    client = make_app(engine, READER=service).test_client()
    image = np.full((60, 200, 3), 255, np.uint8)
    image[25:35, 20:180] = 0
    assert client.post("/v1/read", data=png(image), content_type="image/png").status_code == 200
    assert isinstance(service.load().detector, LineDetector)
    assert client.get("/v1/models").get_json()["reader"]["detector"] == str(detector)
    service.close()
    for wrong, message in ((tmp_path / "missing.pt", "not found: .*missing.pt"), (tmp_path / "deblur.pt", "not hold a line detector")):
        if wrong.name == "deblur.pt":
            save_checkpoint(wrong, build_model("nafunet", width=8))
        with pytest.raises(ReaderUnavailable, match=message):
            ReadService(reader_checkpoint, detector=wrong).load()


def test_boxes_stay_inside_the_capture():
    probability, heights = maps_of((30, 50), [(12, 16, 0, 50, 0.9)], 12)
    [line] = decode_lines(probability, heights, SHRINK)
    assert (line.x, line.y, line.x + line.w, line.y + line.h) == (0, 8, 50, 20)


def test_a_capture_of_small_lines_is_searched_again_larger_unless_it_would_grow_too_big():
    small, tall = LineBox(0, 0, 80, int(SMALL_LINE_PX) - 1), LineBox(0, 20, 80, int(SMALL_LINE_PX) + 4)
    assert needs_zoom([small, small, tall], (200, 300, 3))
    assert not needs_zoom([small, tall, tall], (200, 300, 3))       # the median line is tall enough
    assert not needs_zoom([], (200, 300, 3))                        # nothing found: nothing to measure
    side = int((ZOOM_MAX_PIXELS / ZOOM ** 2) ** 0.5) + 1
    assert not needs_zoom([small], (side, side, 3))                 # the zoomed capture would be too large


def test_zoomed_captures_keep_their_colours_and_their_lines_come_back_in_capture_pixels():
    image = np.zeros((10, 20, 3), np.uint8)
    image[:, 10:] = (200, 40, 90)
    big = zoomed(image, 2)
    assert big.shape == (20, 40, 3) and tuple(big[5, 35]) == (200, 40, 90)
    assert zoomed(image[..., 0], 2).shape == (20, 40)               # a grey capture stays grey
    assert unzoomed([LineBox(21, 9, 40, 13)], 2) == [LineBox(10, 4, 21, 7)]  # the smallest box around the scaled one


class TwoScaleOracle(torch.nn.Module):
    """Stands in for a net that finds small lines only at twice their size: on a 60 x 240 capture
    it sees one small line over a label and its value; at 120 x 480, the two apart."""

    def __init__(self):
        super().__init__()
        self.config = LineDetectorConfig()

    def forward(self, x):
        boxes = [[10, 20, 220, 30]] if x.shape[-1] == 240 else [[20, 40, 200, 60], [260, 40, 440, 60]]
        core, log_height = line_targets(boxes, x.shape[-2], x.shape[-1], SHRINK, 16.0)
        return torch.stack([torch.from_numpy(core) * 20 - 10, torch.from_numpy(log_height)])[None]


def test_small_lines_are_the_ones_found_at_twice_the_size():
    image = np.full((60, 240, 3), 255, np.uint8)
    found = LineDetector(TwoScaleOracle())(image)
    assert [(box.x, box.y, box.x + box.w, box.y + box.h) for box in found] == [(10, 20, 100, 30), (130, 20, 220, 30)]
    assert len(LineDetector(TwoScaleOracle(), small_line_px=0)(image)) == 1


def test_line_targets_decode_back_to_the_lines_they_were_made_from():
    boxes = [list(b) for b in PAGE_LINES]
    core, log_height = line_targets(boxes, 90, 170, SHRINK, 16.0)
    assert core[int(PAGE_RULE[1]), :].sum() == 0
    found = decode_lines(core, np.exp(log_height) * 16.0, SHRINK)
    assert [[b.x, b.y, b.x + b.w, b.y + b.h] for b in found] == boxes


# ---------------------------------------------------------------- a tiny fake layouts folder

def fake_page(page_id, split):
    """A light page with three dark lines of 'ink' and a rule, as chromium_layouts records one, with
    one CSS capture (the same pixels: the trainer and the benchmark read only the image and its boxes)."""
    image = np.full((90, 170, 3), 245, np.uint8)
    for x0, y0, x1, y1 in PAGE_LINES:
        image[y0:y1, x0:x1:3] = 30  # strokes with gaps, as letters are
    image[PAGE_RULE[1]:PAGE_RULE[3], PAGE_RULE[0]:PAGE_RULE[2]] = 30
    lines = [{"text": "x", "font_css": 12.0, "layout_box": k, "box": [x0, y0 - 2, x1, y1 + 2], "ink": [x0, y0, x1, y1]}
             for k, (x0, y0, x1, y1) in enumerate(PAGE_LINES)]
    spec = {"id": page_id, "family": "article" if split == "train" else "form", "split": split, "lang": "en",
            "style": {"size": 12.0}, "body": "", "raster": "software", "dpr": 1,
            "captures": [{"mode": "css", "ratio": 0.05, "blur_css": 0.6}]}
    return spec, image, [image.copy()], lines


@pytest.fixture
def fake_layouts(tmp_path):
    folder = tmp_path / "layouts"
    folder.mkdir()
    write_shard(folder, 0, 2, [fake_page(0, "train"), fake_page(1, "tune")], seed=0)
    return folder


class OracleNet(torch.nn.Module):
    """Stands in for a perfectly trained net on the fake page: the target maps of its lines."""

    def __init__(self):
        super().__init__()
        self.config = LineDetectorConfig()

    def forward(self, x):
        core, log_height = line_targets([list(b) for b in PAGE_LINES], x.shape[-2], x.shape[-1], SHRINK, 16.0)
        logits = torch.from_numpy(core) * 20 - 10
        return torch.stack([logits, torch.from_numpy(log_height)])[None]


def test_the_detector_is_a_line_eval_finder(fake_layouts, tmp_path):
    pages = LayoutPages(fake_layouts)
    records = evaluate_pages(pages, finder=LineDetector(OracleNet(), small_line_px=0), splits=("tune",), log=lambda *_: None)
    assert rates(summarize(records)["tune"]["all"]) == (1.0, 1.0)
    path = tmp_path / "untrained.pt"
    save_checkpoint(path, build_line_detector())
    untrained = evaluate_pages(pages, finder=LineDetector(path), splits=("tune",), log=lambda *_: None)
    assert untrained[0]["ink"]["<=.1"]["lines"] == len(PAGE_LINES)


def test_a_batch_is_a_pure_function_of_seed_and_step(fake_layouts):
    config = DetectorTrainConfig(batch_size=3, tile=64, layouts=str(fake_layouts))
    pages = train_detector.train_pages(fake_layouts)
    images = train_detector.cached_images(pages, 4)
    first = detector_batch(pages, images, 0, 5, config, SHRINK, 16.0)
    again = detector_batch(pages, images, 0, 5, config, SHRINK, 16.0)
    other = detector_batch(pages, images, 0, 6, config, SHRINK, 16.0)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    assert first[0].shape == (3, 3, 64, 64) and first[1].shape == (3, 64, 64)
    assert first[1].sum() > 0  # tiles centred near lines hold cores


def test_element_steps_cut_small_tiles_around_one_line_with_its_core_inside(fake_layouts):
    config = DetectorTrainConfig(batch_size=4, crop_share=1.0, layouts=str(fake_layouts))
    pages = train_detector.train_pages(fake_layouts)
    images = train_detector.cached_images(pages, 4)
    for step in range(6):
        tiles, core, _ = detector_batch(pages, images, 0, step, config, SHRINK, 16.0)
        height, width = train_detector.element_shape(0, step)
        assert tiles.shape == (4, 3, height, width) and height % 16 == 0 and width % 16 == 0 and height * width <= 256 * 256
        assert all(tile_core.sum() > 0 for tile_core in core)  # every element capture holds its line's core
    boxes = [[10.0, 20.0, 110.0, 30.0]]
    tile, moved = train_detector.cut_tile(np.full((60, 200, 3), 255, np.uint8), boxes, (60.0, 25.0), (20, 100), (40, 200))
    assert tile.shape == (3, 40, 200) and np.allclose(moved, [[0.0, 10.0, 200.0, 30.0]])  # from (10, 15), scaled 2x


def test_training_runs_two_steps_saves_and_resumes(fake_layouts, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--layouts", str(fake_layouts), "--val-layouts", str(fake_layouts), "--val-pages", "1",
              "--batch-size", "2", "--tile", "64", "--log-every", "1", "--threads", "1", "--out", str(out),
              "--model-overrides", '{"widths": [8, 16, 32], "depths": [1, 1, 1], "kernels": [3, 3, 3], "neck": 8}']
    train_detector.main(common + ["--steps", "2"])
    first = read_checkpoint(out / "last.pt")
    assert first["step"] == 2 and first["optimizer"]["state"]
    assert first["config"]["widths"] == (8, 16, 32)
    assert set(first["extra"]["val"]) >= {"recall all", "precision all"}
    train_detector.main(common + ["--steps", "3", "--resume", str(out / "last.pt")])
    resumed = read_checkpoint(out / "last.pt")
    assert resumed["step"] == 3
    assert not torch.equal(resumed["model"]["head.weight"], first["model"]["head.weight"])
    log = capsys.readouterr().out
    assert "steps 0->2" in log and "steps 2->3" in log and "step 3 loss" in log
    shipped = tmp_path / "line_detector.pt"
    train_detector.main(common + ["--steps", "3", "--resume", str(out / "last.pt"), "--export", str(shipped)])
    exported = read_checkpoint(shipped)
    assert exported["step"] == 3 and "optimizer" not in exported and exported["model"]["head.weight"].dtype == torch.float16
    assert list(exported["extra"]["history"]) == [f"{out} steps 0-2", f"{out} steps 2-3"]  # exporting trained nothing more
    assert isinstance(LineDetector(shipped).model, torch.nn.Module)
    restarted = tmp_path / "restarted.pt"
    train_detector.main(common + ["--steps", "0", "--init-from", str(shipped), "--out", str(tmp_path / "stage"),
                                  "--export", str(restarted)])  # a new stage starts from the shipped fp16 weights
    assert torch.equal(read_checkpoint(restarted)["model"]["head.weight"], exported["model"]["head.weight"])
    assert "steps 0->0" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="give one of them"):
        train_detector.main(common + ["--steps", "1", "--init-from", str(shipped), "--resume", str(out / "last.pt")])


def test_line_eval_measures_a_detector_checkpoint_on_the_tune_pages_of_a_tune_and_test_folder(fake_layouts, tmp_path):
    build_layouts(fake_layouts, 2, ("tune", "test"), browsers=dict.fromkeys(RASTER_ARGS), log=lambda *_: None)
    checkpoint = tmp_path / "detector.pt"
    save_checkpoint(checkpoint, build_line_detector())
    out = tmp_path / "eval"
    line_eval.main(["--layouts", str(fake_layouts), "--pages", "2", "--splits", "tune", "--detector", str(checkpoint),
                    "--out", str(out)])
    report = json.loads((out / "lines.json").read_text())
    assert str(checkpoint) in report["header"]
    assert [record["split"] for record in report["records"]] == ["tune"]
