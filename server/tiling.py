"""Tile geometry and seam blending, as pure functions of sizes (no torch, no state).

The image is reflect-padded by a context ``margin`` on every side (plus up to the network's
size multiple at the bottom and right), then cut into windows whose starts are multiples of
that size multiple, so a window sees the same pixel grid as a whole-image pass. Each window's
output is weighted 0 over its outer ``margin`` (context only), rises along a cosine ramp over
``blend`` pixels, and is 1 inside; neighbouring windows overlap by at least 2 * margin + blend,
and the weighted sum is divided by the sum of weights, so seams are blended, never pasted.
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


def plan_tiles(height, width, *, tile, margin, multiple, blend=None):
    """Plan the windows for a height x width image; ``blend`` defaults to the size multiple.

    ``tile`` is raised when needed so that each window's stride is at least 4 size multiples.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image must have pixels, got {width}x{height}")
    blend = multiple if blend is None else blend
    tile = max(round_up(tile, multiple), round_up(2 * margin + blend, multiple) + 4 * multiple)
    rows = axis_windows(height, tile, margin, blend, multiple)
    cols = axis_windows(width, tile, margin, blend, multiple)
    return TilePlan(height, width, margin, blend, rows[-1][1], cols[-1][1], tuple(rows), tuple(cols))


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


def window_pixels(rgb, plan, window):
    """The window's (h, w, C) pixels of the reflect-padded canvas, read from the unpadded image
    (the padded canvas itself is never built: memory stays at the size of one window)."""
    r0, r1, c0, c1 = window
    rows = reflect_indices(r0, r1, plan.margin, plan.height)
    cols = reflect_indices(c0, c1, plan.margin, plan.width)
    return rgb[rows[:, None], cols[None, :]]


def pad_image(rgb, plan):
    """Reflect-pad an (H, W, C) array to the plan's canvas (repeated reflection for tiny images)."""
    top, bottom, left, right = plan.padding
    return np.pad(rgb, ((top, bottom), (left, right), (0, 0)), mode="reflect")


def accumulate_window(plan, window, output, total, weight_sum):
    """Add one window's weighted output into image-sized ``total`` (H, W, C) and ``weight_sum``
    (H, W, 1); only the part of the window inside the image counts."""
    r0, r1, c0, c1 = window
    top, left = plan.margin, plan.margin
    rows = slice(max(r0, top), min(r1, top + plan.height))
    cols = slice(max(c0, left), min(c1, left + plan.width))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        return
    weights = plan.weights(window)[rows.start - r0:rows.stop - r0, cols.start - c0:cols.stop - c0, None]
    target = np.s_[rows.start - top:rows.stop - top, cols.start - left:cols.stop - left]
    total[target] += output[rows.start - r0:rows.stop - r0, cols.start - c0:cols.stop - c0] * weights
    weight_sum[target] += weights


def blend_windows(plan, outputs, channels=3):
    """Combine window outputs ((h, w, C) arrays in ``plan.windows`` order) into the (H, W, C) image."""
    total = np.zeros((plan.height, plan.width, channels), dtype=np.float32)
    weight_sum = np.zeros((plan.height, plan.width, 1), dtype=np.float32)
    for window, output in zip(plan.windows, outputs, strict=True):
        accumulate_window(plan, window, output, total, weight_sum)
    return total / weight_sum
