"""Text lines from the learned line detector's maps (``models.nets.line_detector``): pure decoding
functions, and ``LineDetector``, a line finder (image -> LineBoxes in reading order) like
``line_finder.find_lines``.

A line's core is its ink box less ``shrink`` of the box's height on every side (``core_box``); the
net marks cores and, on them, the line's height. Decoding thresholds the core probability, takes
each connected component as one line, keeps the confident ones, and grows each back by the height
the net read there (``unshrink``): the box of the line's sharp ink, even where blur spread it.
"""
import math

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from models import CHECKPOINT_DIR
from models.nets.common import resolve_precision
from models.nets.line_detector import load_line_detector
from models.reading.line_finder import MIN_LINE_PX, LineBox, overlap_area, reading_order, without_slivers

DEFAULT_DETECTOR = CHECKPOINT_DIR / "line_detector.pt"
CORE_THRESHOLD = 0.4   # a pixel whose core probability is above this is in a core (chosen on tune, EXPERIMENTS 22-3d)
MIN_SCORE = 0.75       # a component whose mean core probability is below this is noise, not a line (tune)
JOIN_GAP = 0.5         # pieces of one row nearer than this many line heights are one line the core broke at a space (what the shipped figures use; 1.0 was better at step 4 750, EXPERIMENTS 22-3h)
SAME_ROW = 0.5         # ... pieces "of one row" share this much of the shorter one's height
MISSED_OVERLAP = 0.2   # a find_lines line overlapping no detected line by more than this share of the smaller box is one the detector missed
SMALL_LINE_PX = 12.0   # a capture whose lines are mostly shorter than this (median box height) is searched again at ZOOM x (tune, EXPERIMENTS 35-1a)
ZOOM = 2               # ... the net, trained on pages zoomed 0.6-1.6 x, finds small and blurred lines better at twice the size
ZOOM_MAX_PIXELS = 4_000_000  # ... unless the zoomed capture would be larger than this (its time grows with its area)


def core_box(box, shrink):
    """The core of an ink box (x0, y0, x1, y1): ``shrink`` x its height off every side, never
    thinner or narrower than a pixel (a one-letter line keeps its middle)."""
    x0, y0, x1, y1 = box
    inset = shrink * (y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = max(0.5, (x1 - x0) / 2 - inset), max(0.5, (y1 - y0) / 2 - inset)
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def unshrink(core, height, shrink):
    """The ink box (x0, y0, x1, y1) of a core (x0, y0, x1, y1) on a line ``height`` tall: the
    core's middle row, the height around it, and ``shrink`` x the height past either end."""
    x0, y0, x1, y1 = core
    cy = (y0 + y1) / 2
    return x0 - shrink * height, cy - height / 2, x1 + shrink * height, cy + height / 2


def _joinable(a, b, gap):
    """Whether boxes ``a`` and ``b`` (x0, y0, x1, y1) are pieces of one line: on one row, and
    their facing ends at most ``gap`` x the shorter one's height apart."""
    shorter = min(a[3] - a[1], b[3] - b[1])
    shared = min(a[3], b[3]) - max(a[1], b[1])
    apart = max(a[0], b[0]) - min(a[2], b[2])
    return shared >= SAME_ROW * shorter and apart <= gap * shorter


def join_pieces(boxes, gap=JOIN_GAP):
    """The pieces of each line among ``boxes`` (x0, y0, x1, y1), as lists of their indices, left
    to right: a core breaks where a wide space or a blurred gap leaves the net unsure, and each
    piece read alone reads its neighbours' letters at its ends. ``gap`` None joins nothing."""
    groups = [([i], tuple(box)) for i, box in sorted(enumerate(boxes), key=lambda item: item[1][0])]
    joined = gap is not None
    while joined:
        joined = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if _joinable(groups[i][1], groups[j][1], gap):
                    (members, a), (others, b) = groups[i], groups.pop(j)
                    groups[i] = (members + others, (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])))
                    joined = True
                    break
            if joined:
                break
    return [members for members, _ in groups]


def core_components(core_probability, threshold=CORE_THRESHOLD):
    """(slices, mask) of each connected region above ``threshold``, in label order."""
    labels, _ = ndimage.label(core_probability > threshold)
    return [(window, labels[window] == index) for index, window in enumerate(ndimage.find_objects(labels), start=1)
            if window is not None]


def decode_lines(core_probability, heights, shrink, threshold=CORE_THRESHOLD, min_score=MIN_SCORE, gap=JOIN_GAP):
    """LineBoxes in reading order from a core probability map and a height map (px), both (H, W).

    Each core above ``threshold`` whose mean probability reaches ``min_score`` is a piece of a
    line as tall as the median height the net read over it; the pieces of one line are joined
    (``join_pieces``); a box under ``MIN_LINE_PX`` either way (a rule, a speck) is not a line,
    nor is a sliver cut by the capture's top or bottom edge."""
    rows, columns = core_probability.shape
    pieces = []
    for (ys, xs), mask in core_components(core_probability, threshold):
        if float(core_probability[ys, xs][mask].mean()) >= min_score:
            pieces.append(unshrink((xs.start, ys.start, xs.stop, ys.stop), float(np.median(heights[ys, xs][mask])), shrink))
    boxes = []
    for members in join_pieces(pieces, gap):
        x0, y0 = min(pieces[i][0] for i in members), min(pieces[i][1] for i in members)
        x1, y1 = max(pieces[i][2] for i in members), max(pieces[i][3] for i in members)
        left, top = max(0, math.floor(x0 + 0.5)), max(0, math.floor(y0 + 0.5))
        right, bottom = min(columns, math.floor(x1 + 0.5)), min(rows, math.floor(y1 + 0.5))
        if right - left >= MIN_LINE_PX and bottom - top >= MIN_LINE_PX:
            boxes.append(LineBox(left, top, right - left, bottom - top))
    return reading_order(without_slivers(boxes, rows))


def missed_lines(found, detected, share=MISSED_OVERLAP):
    """The boxes of ``found`` (``find_lines``') that overlap no box of ``detected`` (the detector's
    lines) by more than ``share`` of the smaller of the two: what the rules see and the net
    missed (a small button in a downscaled picture, pale text)."""
    return [box for box in found
            if not any(overlap_area(box, other) > share * min(box.w * box.h, other.w * other.h) for other in detected)]


def needs_zoom(boxes, shape, small_line_px=SMALL_LINE_PX, zoom=ZOOM, max_pixels=ZOOM_MAX_PIXELS):
    """Whether a capture of ``shape`` (H, W, ...) whose lines were found as ``boxes`` is to be
    searched again ``zoom`` x larger: its lines are mostly under ``small_line_px`` tall, and the
    larger capture stays within ``max_pixels``."""
    return (bool(boxes) and float(np.median([box.h for box in boxes])) < small_line_px
            and shape[0] * shape[1] * zoom * zoom <= max_pixels)


def zoomed(image, zoom):
    """``image`` (uint8 (H, W, 3) or (H, W)) ``zoom`` x larger, bicubic."""
    array = np.asarray(image)
    array = np.ascontiguousarray(array[..., :3] if array.ndim == 3 else array)
    picture = Image.fromarray(array)
    return np.asarray(picture.resize((picture.width * zoom, picture.height * zoom), Image.BICUBIC))


def unzoomed(boxes, zoom):
    """LineBoxes found on a capture ``zoom`` x larger, in the capture's own pixels: each the
    smallest whole-pixel box around the scaled one."""
    scaled = []
    for box in boxes:
        left, top = math.floor(box.x / zoom), math.floor(box.y / zoom)
        right, bottom = math.ceil((box.x + box.w) / zoom), math.ceil((box.y + box.h) / zoom)
        scaled.append(LineBox(left, top, right - left, bottom - top))
    return scaled


def image_tensor(image):
    """uint8 (H, W, 3) RGB or (H, W) grey -> float (1, 3, H, W) in [0, 1]."""
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    return torch.from_numpy(np.array(array[..., :3], dtype=np.float32)).permute(2, 0, 1)[None] / 255


@torch.inference_mode()
def line_maps(model, image, precision="fp32"):
    """(core probability, line height in px), numpy (H, W) each, of one capture; ``precision``
    "bf16" runs the net under bf16 autocast."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        maps = model(image_tensor(image).contiguous(memory_format=torch.channels_last))[0].float()
    return torch.sigmoid(maps[0]).numpy(), (torch.exp(maps[1]) * model.config.height_scale).numpy()


class LineDetector:
    """A line finder backed by the learned detector: ``detector(image) -> [LineBox]``. Built once
    (from a checkpoint path or a net) and shared by threads: a call keeps no state. A capture
    whose lines are small is searched again at ``ZOOM`` x (``needs_zoom``; ``small_line_px`` 0
    never zooms), and the lines found there are its lines when there are any."""

    def __init__(self, checkpoint, threshold=CORE_THRESHOLD, min_score=MIN_SCORE, gap=JOIN_GAP, precision="fp32",
                 small_line_px=SMALL_LINE_PX):
        if isinstance(checkpoint, torch.nn.Module):  # a net in training: used as it is
            self.model = checkpoint.eval()
        else:
            self.model = load_line_detector(checkpoint).to(memory_format=torch.channels_last)
        self.precision = resolve_precision(precision, "cpu")
        self.threshold, self.min_score, self.gap = threshold, min_score, gap
        self.small_line_px = small_line_px

    def lines_at_scale(self, image):
        core, heights = line_maps(self.model, image, self.precision)
        return decode_lines(core, heights, self.model.config.core_shrink, self.threshold, self.min_score,
                            self.gap)

    def __call__(self, image):
        shape = np.asarray(image).shape
        if min(shape[:2]) < 1:
            return []
        boxes = self.lines_at_scale(image)
        if needs_zoom(boxes, shape, self.small_line_px):
            boxes = unzoomed(self.lines_at_scale(zoomed(image, ZOOM)), ZOOM) or boxes
        return boxes
