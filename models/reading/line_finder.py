"""Line finding in blurred captures: where the text lines are, as boxes, from the ink alone.

Blur spreads each line into a soft band, and at strong blur neighbouring lines' bands touch, so
lines are found as peaks of the row profile of ink (how far each pixel is from the background)
and split at the valleys between peaks, not at empty rows. Inside a band, columns of ink
separated by a wide gap (several line heights) are separate lines: columns, table cells.
A line's box is where its profile stays above half its peak, which for a blurred edge is where
the sharp edge was.
"""
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.signal import find_peaks

MIN_LINE_PX = 4           # a band thinner than this is a rule, a border or noise, not text
PEAK_PROMINENCE = 0.15    # of the peak's own height: smaller bumps are ascenders, not lines
COLUMN_GAP_LINES = 1.6    # a horizontal gap wider than this many line heights splits a band


@dataclass(frozen=True)
class LineBox:
    x: int
    y: int
    w: int
    h: int

    def as_list(self):
        return [self.x, self.y, self.w, self.h]


def to_grey(image):
    """uint8 (H, W, 3) -> float32 (H, W) luma in 0..255."""
    return image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def ink_map(grey):
    """How far each pixel lies from the background (the most common grey level), in grey levels."""
    histogram = np.bincount(np.clip(grey, 0, 255).astype(np.int64).ravel(), minlength=256)
    background = float(np.argmax(ndimage.uniform_filter1d(histogram.astype(np.float64), 5)))
    return np.abs(grey - background)


def _runs(mask):
    """(start, stop) of each run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def _split_rows(profile):
    """Row bands (top, bottom) of text lines from a row profile of ink."""
    profile = ndimage.gaussian_filter1d(profile, 1.0)
    if profile.max() <= 0:
        return []
    bands = []
    for start, stop in _runs(profile > 0.06 * profile.max()):
        block = profile[start:stop]
        padded = np.concatenate([[0], block, [0]])
        peaks, properties = find_peaks(padded, prominence=0.02 * block.max())
        # a line's peak must stand out against its own height: a short last line is still a line
        peaks = sorted(int(p) - 1 for p, prominence in zip(peaks, properties["prominences"])
                       if prominence >= PEAK_PROMINENCE * padded[p]) or [int(np.argmax(block))]
        cuts = [0] + [a + int(np.argmin(block[a:b + 1])) for a, b in zip(peaks, peaks[1:])] + [len(block)]
        for (top, bottom), peak in zip(zip(cuts, cuts[1:]), peaks):
            level = 0.5 * block[peak]
            inside = np.flatnonzero(block[top:bottom] >= level)
            if len(inside):
                bands.append((start + top + int(inside[0]), start + top + int(inside[-1]) + 1))
    return bands


def _split_columns(ink, height):
    """Column spans (left, right) of ink inside one band, split at gaps wider than the line allows."""
    profile = ndimage.gaussian_filter1d(ink.sum(0), 1.0)
    if profile.max() <= 0:
        return []
    present = profile > 0.12 * np.percentile(profile[profile > 0], 90)
    spans = []
    for left, right in _runs(present):
        if spans and left - spans[-1][1] < COLUMN_GAP_LINES * height:
            spans[-1] = (spans[-1][0], right)
        else:
            spans.append((left, right))
    return spans


def find_lines(image, min_contrast=6.0):
    """Text lines of a capture (uint8 (H, W, 3)), top to bottom and left to right, as LineBoxes.

    ``min_contrast``: ink fainter than this many grey levels is not text (JPEG noise, gradients)."""
    ink = ink_map(to_grey(image))
    strong = np.percentile(ink, 99.5)
    if strong < min_contrast:
        return []
    ink = np.where(ink >= max(min_contrast, 0.15 * strong), ink, 0.0)
    boxes = []
    for top, bottom in _split_rows(ink.sum(1)):
        height = bottom - top
        if height < MIN_LINE_PX:
            continue
        for left, right in _split_columns(ink[top:bottom], height):
            if right - left >= MIN_LINE_PX:
                boxes.append(LineBox(int(left), int(top), int(right - left), int(height)))
    return sorted(boxes, key=lambda b: (b.y, b.x))


def reading_window(box, shape, sigma=None):
    """The crop (top, bottom, left, right) the reader sees for a line: its box plus the context its
    blur spread into, clipped to the image of ``shape`` (H, W, ...)."""
    spread = 1.5 * sigma if sigma and sigma > 0 else 0.0
    pad_y = int(round(max(0.3 * box.h, spread)))
    pad_x = int(round(max(0.5 * box.h, spread)))
    return (max(0, box.y - pad_y), min(shape[0], box.y + box.h + pad_y),
            max(0, box.x - pad_x), min(shape[1], box.x + box.w + pad_x))
