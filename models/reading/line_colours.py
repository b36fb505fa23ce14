"""Each read line's own colours and the size of its sharp text, measured from its pixels.

The extension draws a read line's text over its element in the line's ink, on the line's
background, as large as the sharp text was (issue 23). Blur spreads a line's ink over its
surroundings: its darkest pixels are paler than the ink was, and the line finder's box reaches
past the sharp letters. So, per line:

- background: the most common colour of a ring just beyond the line's blurred ink (other lines'
  boxes left out), so a button or a card beside the line does not count;
- blur: the sigma the reader was given, or else one measured from the ink's edges (a blurred
  edge's steepest slope is its contrast over about 2.3 sigma; the constants below were fitted on
  synthetic lines, see ``SIGMA_*``);
- ink: the line's darkest run (its most distant 0.5 % of pixels from the background), pushed away
  from the background by as much as blur pales the strokes of letters that size at that sigma
  (``COVERAGE_*``), never past what a channel can show;
- box: in blind reads, the found box less the blur's measured spread, as the pipeline already does
  when it is told sigma.

The fits: 1 050 lines (DejaVu Sans, Serif and Sans Condensed, Liberation Sans, Serif and Mono,
regular weight; 12-44 px; five texts; sigma 0.7-6 px, Chromium's Gaussian and, for a third of
those from 2 px, its box blur: ``models.data.blur.chromium_blur``) found by ``find_lines``, grey ink
230 levels below white. Sigma from the edges: log error sd 0.085. Spread past the sharp ink: rows
1.20 sigma (sd 0.7 px), columns 1.08 px + 1.14 sigma (sd 0.7 px). Darkest run over the ink's
contrast, with ``core`` the blurred x-height (the rows at least half as inked as the densest, the
same for a line with or without ascenders and descenders), fitted on the three sans-serif
fonts (web text is mostly sans): erf(0.101 (core / sigma) ** 0.824), log error sd 0.15, quartiles
-0.05 and +0.08 (the stroke widths of fonts, sizes and
texts, which blur leaves no trace of: bold grey ink and regular black ink blur alike). So a dark
grey ink may be drawn black; on the read page's card (DejaVu Sans 22 px) the fit is 0.1-0.25 low.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import erf

from models.reading.line_finder import BLUR_SPREAD, LineBox

INK_PERCENTILE = 99.5        # a line's darkest run: its pixels this far up the distances from the background
EDGE_PERCENTILE = 99.0       # a line's steepest edges: this far up its slopes
SIGMA_SCALE = math.exp(-0.997)  # sigma = SIGMA_SCALE * (contrast / slope) ** SIGMA_POWER * found height ** SIGMA_HEIGHT_POWER
SIGMA_POWER = 1.193
SIGMA_HEIGHT_POWER = -0.059
ROW_SPREAD = 1.20            # sigmas the found box reaches above and below the sharp ink
COLUMN_SPREAD, COLUMN_SPREAD_PX = 1.14, 1.08  # ... and left and right of it: this many sigmas plus px
COVERAGE_SCALE, COVERAGE_POWER = 0.101, 0.824  # the darkest run's share of the ink's contrast: erf(SCALE (core / sigma) ** POWER)
RING_GAP = 2.0               # sigmas beyond the found box where the line's blurred ink has faded
RING_WIDTH_PX = 4            # how wide the ring around a line that the background is taken from is, at least
BUCKET = 16                  # grey levels per bucket when finding the most common colour
MIN_CONTRAST = 6.0           # a line whose darkest run is nearer its background than this has no ink to measure


def _check_image(image):
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be a uint8 array of shape (H, W, 3), got "
                         f"{getattr(image, 'dtype', type(image).__name__)} {getattr(image, 'shape', '')}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")


def _check_sigma(sigma):
    if sigma is None:
        return None
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0 or None (blind), got {sigma!r}")
    return float(sigma)


def _check_box(box, shape):
    if len(box) != 4 or not all(isinstance(v, (int, np.integer)) for v in box):
        raise ValueError(f"a line's box must be four integers [x, y, w, h], got {box!r}")
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > shape[1] or y + h > shape[0]:
        raise ValueError(f"box {list(box)} is not inside the {shape[1]}x{shape[0]} image")
    return LineBox(x, y, w, h)


def _grow(box, dx, dy, shape):
    """``box`` grown by dx and dy px each side, clipped to an image of ``shape``, as (top, bottom, left, right)."""
    return max(0, box.y - dy), min(shape[0], box.y + box.h + dy), max(0, box.x - dx), min(shape[1], box.x + box.w + dx)


def most_common_colour(pixels):
    """The most common colour of (N, 3) pixels, by buckets of BUCKET levels, averaged inside its bucket."""
    pixels = np.asarray(pixels, np.float64).reshape(-1, 3)
    if not len(pixels):
        raise ValueError("no pixels to take a colour from")
    keys = (pixels // BUCKET).astype(np.int64) @ np.array([256 * 256 // BUCKET // BUCKET, 256 // BUCKET, 1])
    values, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return pixels[inverse.ravel() == np.argmax(counts)].mean(0)


def found_box(box, sigma, shape):
    """The box the line finder found, from a reported one: blind reads report it as found; told
    sigma, the pipeline took BLUR_SPREAD sigmas off each side (line_finder.text_box)."""
    if not sigma:
        return box
    spread = int(round(BLUR_SPREAD * sigma))
    top, bottom, left, right = _grow(box, spread, spread, shape)
    return LineBox(left, top, right - left, bottom - top)


def background_around(image, box, sigma, others=()):
    """The colour a line lies on: the most common colour of a ring beyond its blurred ink (``box``
    the found box, ``sigma`` its blur), outside the ``others`` (other lines' found boxes). Where the
    ring has no pixels (a line filling its capture), the most common colour of the box itself."""
    gap = int(math.ceil(RING_GAP * sigma))
    width = max(RING_WIDTH_PX, box.h // 2)
    outer_top, outer_bottom, outer_left, outer_right = _grow(box, gap + width, gap + width, image.shape)
    keep = np.ones((outer_bottom - outer_top, outer_right - outer_left), bool)
    for other in (box, *others):
        top, bottom, left, right = _grow(other, gap, gap, image.shape)
        keep[max(0, top - outer_top):max(0, bottom - outer_top), max(0, left - outer_left):max(0, right - outer_left)] = False
    ring = image[outer_top:outer_bottom, outer_left:outer_right][keep]
    if not len(ring):
        ring = image[box.y:box.y + box.h, box.x:box.x + box.w]
    return most_common_colour(ring)


@dataclass(frozen=True)
class InkMeasure:
    """A line's ink against its background: distances in RGB from it, slopes in distance per px."""
    darkest: np.ndarray    # the mean colour of the line's darkest run
    contrast: float        # its distance from the background
    slope: float           # the line's steep edges' slope
    core_height: int       # rows where the line's ink is at least half its densest row's: its x-height, blurred


def measure_ink(image, box, background):
    """The InkMeasure of the line in ``box`` (its found box) on ``background``."""
    pixels = image[box.y:box.y + box.h, box.x:box.x + box.w].astype(np.float64)
    distance = np.linalg.norm(pixels - background, axis=2)
    level = np.percentile(distance, INK_PERCENTILE)
    darkest = pixels[distance >= level].mean(0)
    rows, columns = np.gradient(distance) if min(distance.shape) > 1 else (np.zeros_like(distance),) * 2
    slope = float(np.percentile(np.hypot(rows, columns), EDGE_PERCENTILE))
    profile = distance.mean(1)
    core = int((profile >= 0.5 * profile.max()).sum()) if profile.max() > 0 else 0
    return InkMeasure(darkest, float(np.linalg.norm(darkest - background)), slope, core)


def estimate_sigma(contrast, slope, height):
    """A line's blur sigma (px) from its darkest run's ``contrast`` over its steepest ``slope``
    (both in the same units) and its found box's ``height`` (px); 0 for a line with no slope."""
    if contrast <= 0 or slope <= 0 or height <= 0:
        return 0.0
    sigma = SIGMA_SCALE * (contrast / slope) ** SIGMA_POWER * height ** SIGMA_HEIGHT_POWER
    return float(min(sigma, height / 2))


def sharp_box(box, sigma):
    """A found box (blind read) less the blur's measured spread each side, never thinner than a pixel."""
    dy = min(int(round(ROW_SPREAD * sigma)), (box.h - 1) // 2)
    dx = min(int(round(COLUMN_SPREAD_PX + COLUMN_SPREAD * sigma)) if sigma > 0 else 0, (box.w - 1) // 2)
    return LineBox(box.x + dx, box.y + dy, box.w - 2 * dx, box.h - 2 * dy)


def blurred_box(box, sigma, shape):
    """A sharp ink box grown by a blur of ``sigma`` px's spread each side (the inverse of
    ``sharp_box``): the box ``find_lines`` finds around the blurred line, clipped to ``shape``."""
    dy = int(round(ROW_SPREAD * sigma))
    dx = int(round(COLUMN_SPREAD_PX + COLUMN_SPREAD * sigma)) if sigma > 0 else 0
    top, bottom, left, right = _grow(box, dx, dy, shape)
    return LineBox(left, top, right - left, bottom - top)


def found_extent(image, box, sigma=None):
    """The box ``find_lines`` would find around a line whose sharp ink is ``box`` (a LineBox):
    grown by the told ``sigma``'s spread, or in a blind read by the sigma measured from the ink's
    edges in the box grown by a quarter of its height (where blurred ink still lies)."""
    if sigma is None:
        top, bottom, left, right = _grow(box, box.h // 4, box.h // 4, image.shape)
        around = LineBox(left, top, right - left, bottom - top)
        ink = measure_ink(image, around, background_around(image, around, around.h / 4))
        sigma = estimate_sigma(ink.contrast, ink.slope, around.h) if ink.contrast >= MIN_CONTRAST else 0.0
    return blurred_box(box, sigma, image.shape)


def found_extents(image, boxes, sigma=None):
    """``found_extent`` of each sharp ink box, each kept to its side of the middle of the gap to a
    line above or below it (sharing columns), as ``find_lines`` parts blurred lines at the valley
    between them: a line's crop is then no more its neighbour's than the finder's was."""
    extents = [found_extent(image, box, sigma) for box in boxes]
    parted = []
    for box, extent in zip(boxes, extents):
        top, bottom = extent.y, extent.y + extent.h
        for other in boxes:
            if other is box or min(box.x + box.w, other.x + other.w) <= max(box.x, other.x):
                continue
            if other.y >= box.y + box.h:  # below
                bottom = min(bottom, max(box.y + box.h, (box.y + box.h + other.y + 1) // 2))
            elif other.y + other.h <= box.y:  # above
                top = max(top, min(box.y, (other.y + other.h + box.y) // 2))
        parted.append(LineBox(extent.x, top, extent.w, bottom - top))
    return parted


def darkest_share(sigma, core_height):
    """How much of its ink's contrast a line's darkest run keeps under a blur of ``sigma`` px, for
    a line whose densest rows (its x-height, blurred) are ``core_height`` px: strokes are thinner
    the smaller the letters, and paler once blurred."""
    if sigma <= 0:
        return 1.0
    share = erf(COVERAGE_SCALE * (max(core_height, 1) / sigma) ** COVERAGE_POWER)
    return float(min(1.0, share))


def unblurred_ink(darkest, background, share):
    """The ink a darkest run of colour ``darkest`` came from, were it ``share`` of the ink's
    contrast: pushed away from ``background`` along their line, stopping where a channel reaches 0 or 255."""
    step = np.asarray(darkest, np.float64) - background
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(step > 0, (255 - background) / step, np.where(step < 0, -background / step, np.inf))
    factor = min(1 / max(share, 1e-6), float(room.min()))
    return background + step * max(factor, 1.0)


def _rgb(colour):
    return [int(v) for v in np.clip(np.round(colour), 0, 255)]


def measure_lines(image, lines, sigma=None, found=None):
    """Each line of a reading with its colours and sharp size measured from ``image`` (uint8 (H, W,
    3), the pixels read). lines: the reading's lines ({"box": [x, y, w, h], ...}, boxes as the
    pipeline reports them); sigma: the blur the reader was told (image px), None for a blind read;
    found: the LineBoxes the lines were found in (the blurred ink's extent), by default the
    reported boxes grown back by the told sigma's spread (``found_box``: ``find_lines``' boxes).
    Returns new line dicts, each with ``ink`` and ``background`` ([r, g, b]) and ``sigma`` (the one
    told, or the one measured), and, in a blind read whose reported box is still the found one,
    ``box`` less the measured blur's spread."""
    _check_image(image)
    sigma = _check_sigma(sigma)
    reported = [_check_box(line["box"], image.shape) for line in lines]
    if found is None:
        found = [found_box(box, sigma, image.shape) for box in reported]
    elif len(found) != len(lines):
        raise ValueError(f"{len(found)} found boxes for {len(lines)} lines")
    measured = []
    for index, (line, box) in enumerate(zip(lines, found)):
        others = found[:index] + found[index + 1:]
        if sigma is None:
            # the ring needs a sigma before the line's own is measured: a quarter of the found height bounds it
            first = measure_ink(image, box, background_around(image, box, box.h / 4, others))
            blur = estimate_sigma(first.contrast, first.slope, box.h)
        else:
            blur = sigma
        background = background_around(image, box, blur, others)
        ink = measure_ink(image, box, background)
        has_ink = ink.contrast >= MIN_CONTRAST
        colour = unblurred_ink(ink.darkest, background, darkest_share(blur, ink.core_height)) if has_ink else ink.darkest
        entry = {**line, "ink": _rgb(colour), "background": _rgb(background), "sigma": round(blur, 2)}
        if sigma is None and has_ink and box == reported[index]:
            entry["box"] = sharp_box(box, blur).as_list()
        measured.append(entry)
    return measured
