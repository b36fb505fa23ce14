"""Tile geometry and seam blending, as pure functions of sizes (no torch, no state).

The image is reflect-padded by a context ``margin`` on every side (plus up to the network's
size multiple at the bottom and right), then cut into windows whose starts are multiples of
that size multiple, so a window sees the same pixel grid as a whole-image pass. Each window's
output is weighted 0 over its outer ``margin`` (context only), rises along a cosine ramp over
``blend`` pixels, and is 1 inside; neighbouring windows overlap by at least 2 * margin + blend,
and each window contributes its weight divided by the sum of all weights at that pixel (its
share), so seams are blended, never pasted.
"""
import math
from dataclasses import dataclass

import numpy as np


def round_up(value, multiple):
    return -(-value // multiple) * multiple


def context_margin(sigma, multiple, min_margin=16, blind_margin=32):
    """Context pixels each window needs: at least 3 sigma, never less than a fixed minimum
    (a larger one in blind mode, where sigma is unknown), rounded up to the size multiple."""
    need = blind_margin if sigma is None else max(min_margin, math.ceil(3 * sigma))
    return round_up(need, multiple)


def axis_windows(length, tile, margin, blend, multiple):
    """Windows [start, stop) along one axis of the padded image.

    ``length`` is the unpadded size; the padded axis is round_up(length + 2 * margin, multiple)
    long. As few windows as windows of at most ``tile`` allow, all of one size, spread evenly
    (no nearly-empty last window); starts are multiples of ``multiple``, the last window ends at
    the padded end, and consecutive windows overlap by at least 2 * margin + blend.
    """
    padded = round_up(length + 2 * margin, multiple)
    if padded <= tile:
        return [(0, padded)]
    overlap = 2 * margin + blend
    if tile % multiple or tile - overlap < multiple:
        raise ValueError(f"tile {tile} must be a multiple of {multiple} and exceed the overlap {overlap}")
    count = -(-(padded - overlap) // (tile - overlap))
    size = round_up(-(-(padded - overlap) // count) + overlap, multiple)
    stride = (size - overlap) // multiple * multiple
    windows = []
    start = 0
    while start + size < padded:
        windows.append((start, start + size))
        start += stride
    windows.append((padded - size, padded))
    return windows


def axis_weights(start, stop, padded, margin, blend):
    """Blend weights (stop - start,) of one window: 0 over an inner edge's margin, cosine ramp
    over ``blend``, 1 elsewhere; edges at the padded image's border are not ramped."""
    weights = np.ones(stop - start, dtype=np.float32)
    ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(blend, dtype=np.float32) + 0.5) / blend)) if blend else None
    if start > 0:
        weights[:margin] = 0.0
        if blend:
            weights[margin:margin + blend] = ramp
    if stop < padded:
        weights[len(weights) - margin:] = 0.0
        if blend:
            weights[len(weights) - margin - blend:len(weights) - margin] = ramp[::-1]
    return weights


@dataclass(frozen=True)
class TilePlan:
    height: int
    width: int
    margin: int
    blend: int
    padded_height: int
    padded_width: int
    rows: tuple
    cols: tuple

    @property
    def padding(self):
        """(top, bottom, left, right) reflect padding that turns the image into the padded canvas."""
        return (self.margin, self.padded_height - self.height - self.margin,
                self.margin, self.padded_width - self.width - self.margin)

    @property
    def windows(self):
        """(top, bottom, left, right) of every window, row-major."""
        return [(r0, r1, c0, c1) for r0, r1 in self.rows for c0, c1 in self.cols]

    def weights(self, window):
        r0, r1, c0, c1 = window
        rows = axis_weights(r0, r1, self.padded_height, self.margin, self.blend)
        cols = axis_weights(c0, c1, self.padded_width, self.margin, self.blend)
        return rows[:, None] * cols[None, :]

    def shares(self, window):
        """(row shares, column shares) of a window over the image: its blend weights along each axis
        divided by the sum of all windows' weights there. The windows form a grid, so the weight sum
        at a pixel is (row sum) x (column sum), and a window's share of a pixel is the outer product
        of its two shares: the shares of all windows sum to 1 at every pixel of the image."""
        r0, r1, c0, c1 = window
        return (_axis_share(r0, r1, self.rows, self.padded_height, self.margin, self.blend, self.height),
                _axis_share(c0, c1, self.cols, self.padded_width, self.margin, self.blend, self.width))


def _axis_share(start, stop, windows, padded, margin, blend, length):
    """The window [start, stop)'s share along one axis, for the image positions it covers
    (the image spans [margin, margin + length) of the padded axis); (first image position, shares)."""
    total = np.zeros(padded, np.float32)
    for a, b in windows:
        total[a:b] += axis_weights(a, b, padded, margin, blend)
    lo, hi = max(start, margin), min(stop, margin + length)
    own = axis_weights(start, stop, padded, margin, blend)[lo - start:hi - start]
    return lo - margin, own / total[lo:hi]


def plan_tiles(height, width, *, tile, margin, multiple, blend=None, max_pixels=None):
    """Plan the windows for a height x width image; ``blend`` defaults to the size multiple.

    Windows hold at most ``max_pixels`` pixels (default ``tile`` squared), in whatever shape
    computes the fewest pixels in all (fewest windows on a tie): the rows and columns of windows
    are cut as axis_windows() cuts an axis, so under an 800x800 budget a 1024x1024 image (sigma 2,
    16 px margins) becomes two 1056x560 windows (1.18 MP computed), not four 560x560 ones (1.25 MP)
    as square 768 px tiles cut it. ``tile`` (and with
    it the smallest budget) is raised when needed so that each window's stride is at least 4 size
    multiples.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image must have pixels, got {width}x{height}")
    blend = multiple if blend is None else blend
    smallest = round_up(2 * margin + blend, multiple) + 4 * multiple
    tile = max(round_up(tile, multiple), smallest)
    max_pixels = max(max_pixels or tile * tile, smallest * smallest)
    best, best_key = None, None
    for row_tile in range(max(round_up(height + 2 * margin, multiple), smallest), smallest - 1, -multiple):
        rows = axis_windows(height, row_tile, margin, blend, multiple)
        row_size = rows[0][1] - rows[0][0]
        col_tile = max_pixels // row_size // multiple * multiple
        if col_tile < smallest and round_up(width + 2 * margin, multiple) > col_tile:
            continue  # too narrow to cut the columns, and they do not fit in one window
        cols = axis_windows(width, col_tile, margin, blend, multiple)
        col_size = cols[0][1] - cols[0][0]
        key = (len(rows) * len(cols) * row_size * col_size, len(rows) * len(cols))
        if best_key is None or key < best_key:
            best, best_key = (rows, cols), key
    rows, cols = best
    return TilePlan(height, width, margin, blend, rows[-1][1], cols[-1][1], tuple(rows), tuple(cols))


def computed_pixels(plan):
    """Pixels the network computes for the plan: every window's, overlaps and context included."""
    return sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in plan.windows)


def reflect_indices(start, stop, offset, length):
    """Source indices of padded positions [start, stop) when the padded axis is the source
    (``length`` long) shifted by ``offset`` and reflected at its ends, repeatedly for tiny sources
    (what np.pad's "reflect" mode does)."""
    positions = np.arange(start, stop) - offset
    if length == 1:
        return np.zeros_like(positions)
    period = 2 * (length - 1)
    positions = np.mod(positions, period)
    return np.where(positions < length, positions, period - positions)


def axis_crop(start, stop, offset, length):
    """Padded positions [start, stop) as (source slice, reflected before, reflected after) when one
    reflection at the source's ends covers them (np.pad's "reflect" of the slice gives the same
    pixels), else None (tiny sources reflect repeatedly)."""
    lo, hi = max(start - offset, 0), min(stop - offset, length)
    before, after = lo - (start - offset), (stop - offset) - hi
    if hi <= lo or (before and (lo or before >= hi)) or (after and (hi < length or after >= hi - lo)):
        return None
    return slice(lo, hi), before, after


def window_pixels(rgb, plan, window):
    """The window's (h, w, C) pixels of the reflect-padded canvas, read from the unpadded image
    (the padded canvas itself is never built: memory stays at the size of one window). A view of
    ``rgb`` where the window needs no reflection; else a slice padded by reflection (np.pad: 1 ms
    for a whole 1024x1024 image, where gathering by reflected indices took 14)."""
    r0, r1, c0, c1 = window
    rows = axis_crop(r0, r1, plan.margin, plan.height)
    cols = axis_crop(c0, c1, plan.margin, plan.width)
    if rows is None or cols is None:
        rows = reflect_indices(r0, r1, plan.margin, plan.height)
        cols = reflect_indices(c0, c1, plan.margin, plan.width)
        return rgb[rows[:, None], cols[None, :]]
    (row_slice, top, bottom), (col_slice, left, right) = rows, cols
    crop = rgb[row_slice, col_slice]
    if top or bottom or left or right:
        return np.pad(crop, ((top, bottom), (left, right), (0, 0)), mode="reflect")
    return crop


def pad_image(rgb, plan):
    """Reflect-pad an (H, W, C) array to the plan's canvas (repeated reflection for tiny images)."""
    top, bottom, left, right = plan.padding
    return np.pad(rgb, ((top, bottom), (left, right), (0, 0)), mode="reflect")


def _runs_of_one(shares):
    """[start, stop) of the run where ``shares`` is exactly 1 (the window alone), else (0, 0)."""
    ones = np.flatnonzero(shares == 1)
    if not len(ones) or ones[-1] - ones[0] + 1 != len(ones):  # none, or (never seen) not one run
        return 0, 0
    return int(ones[0]), int(ones[-1]) + 1


def accumulate_window(plan, window, output, total):
    """Add one window's output, weighted by its share (TilePlan.shares), into the image-sized
    ``total`` (H, W, C); once every window is in, ``total`` is the blended image (no division).
    Where the window is alone (share 1 in both axes) its pixels are added as they are: only the
    overlap strips are multiplied by their weights."""
    r0, _, c0, _ = window
    (top, row_shares), (left, col_shares) = plan.shares(window)
    if not len(row_shares) or not len(col_shares):
        return
    source = output[top + plan.margin - r0:, left + plan.margin - c0:]
    (ra, rb), (ca, cb) = _runs_of_one(row_shares), _runs_of_one(col_shares)
    height, width = len(row_shares), len(col_shares)
    if rb == ra or cb == ca:  # no pixel of its own: weight it all
        ra = rb = ca = cb = 0
    blocks = [(0, ra, 0, width), (rb, height, 0, width), (ra, rb, 0, ca), (ra, rb, cb, width)]  # the strips
    for y0, y1, x0, x1 in blocks:
        if y1 > y0 and x1 > x0:
            weights = row_shares[y0:y1, None, None] * col_shares[None, x0:x1, None]
            total[top + y0:top + y1, left + x0:left + x1] += source[y0:y1, x0:x1] * weights
    if rb > ra and cb > ca:
        total[top + ra:top + rb, left + ca:left + cb] += source[ra:rb, ca:cb]


def blend_windows(plan, outputs, channels=3):
    """Combine window outputs ((h, w, C) arrays in ``plan.windows`` order) into the (H, W, C) image."""
    total = np.zeros((plan.height, plan.width, channels), dtype=np.float32)
    for window, output in zip(plan.windows, outputs, strict=True):
        accumulate_window(plan, window, output, total)
    return total
