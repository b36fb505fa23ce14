"""Line finding in blurred captures: where the text lines are, as boxes, from the ink alone.

Ink is how far each pixel lies from the surface it is drawn on: the page, or a filled shape on it
(a button, a badge, a card), each a flat area of its own grey level. The edges between surfaces,
outlines, underlines and rules are not text. Connected ink is a word of sharp text, or a whole
line, or at strong blur several lines whose bands touch; those are split at the valleys of their
row profile of ink, not at empty rows, unless the bands' letters line up (the stroke rows of one
large line). Pieces that share most of their height and lie
near each other form one line; a horizontal gap of several line heights separates columns and
table cells.
A line's box is where its row profile stays above a quarter of its peak: the ascenders and
descenders of sharp text, a little of the spread of blurred text.
"""
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.signal import find_peaks

MIN_LINE_PX = 4           # a band thinner than this is a rule, a border or noise, not text
PEAK_PROMINENCE = 0.15    # of the peak's own height: smaller bumps are ascenders, not lines
COLUMN_GAP_LINES = 1.6    # a horizontal gap wider than this many line heights splits a band
BAND_LEVEL = 0.25         # of the peak: a line's box reaches its ascenders and descenders
NARROW_PEAKS = 0.55       # two peaks narrower than this share of their distance ...
FILLED_VALLEY = 0.45      # ... with ink between them of at least this share: one sharp line
WIDTH_PER_FILL = 1.5      # how much wider the peaks may be per share of ink between them
LIKE_HEIGHTS = 0.6        # bands split out of one piece are lines only if none is below this share of the tallest
SAME_LINE_COLUMNS = 0.7   # neighbouring bands whose column profiles correlate this well are one line's stroke rows
BLUR_SPREAD = 1.0         # sigmas a found box reaches past a blurred line's sharp edge (measured: 0.9-1.3)
SAME_ROW = 0.5            # boxes sharing this share of the lower one's height are in one row
ARTICLE_GUTTER = 0.25     # a gutter narrower than this share of the columns beside it parts an article's columns ...
ARTICLE_FILL = 0.6        # ... whose lines mostly fill this share of their column's width (a table's cells are ragged)
ARTICLE_ALIGN = 0.5       # ... and start within this many line heights of one left edge
SLIVER_SHARE = 0.5        # a box cut by the capture's top or bottom edge, under this share of the other lines' height: a sliver
FLAT_RANGE = 4.0          # grey levels a surface's neighbourhood spans at most (more where the capture is noisy)
FLAT_WINDOW = 3           # px: the neighbourhood that must be flat
SAME_SURFACE_LEVEL = FLAT_RANGE  # grey levels: flat areas nearer than this in level are one surface
SURFACE_SHARE = 0.01      # of the capture: a smaller flat area is a letter's counter or a blurred blob's core
HOLE_SHARE = 0.1          # a flat area inside the capture is a filled shape only if it holds this much else
EDGE_RATIO, EDGE_SLACK = 1.5, 4.0  # a pixel no farther from another surface than this times its own distance, plus this (px): an edge
EDGE_SHARE = 0.5          # connected ink this much on such edges is a shape's edge
HOLLOW = 3.5              # ink whose filled outline is this many times its area is a shape's edge, not text
OUTLINE_HOLLOW = 1.5      # ... or this many, if it is this much wider than tall and holds other ink
OUTLINE_WIDE = 1.5
RULE_LENGTH = 31          # px: a horizontal run of ink this long and ...
RULE_THICKNESS = 3        # ... thinner than this many rows is an underline or a rule ...
RULE_ALONE = 0.15         # ... where ink lies along less than this share of it on one side
RULE_ASPECT = 20          # a found box this many times wider than tall ...
RULE_EVENNESS = 0.05      # ... whose column profile varies less than this (std / mean) is a blurred rule


@dataclass(frozen=True)
class LineBox:
    x: int
    y: int
    w: int
    h: int

    def as_list(self):
        return [self.x, self.y, self.w, self.h]


def overlap_area(a, b):
    """The px two LineBoxes share."""
    width = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    height = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return max(0, width) * max(0, height)


def to_grey(image):
    """uint8 (H, W, 3) -> float32 (H, W) luma in 0..255."""
    return image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def surface_map(grey):
    """(the grey level of the surface under each pixel, where two surfaces meet), or None where the
    capture has no flat area.

    Surfaces are flat areas (the page, a filled shape) that either reach the capture's edge or hold
    something (text makes holes in its button's fill); each pixel lies on the nearest one. A pixel
    about as near another surface as its own lies on the edge between them, not on text."""
    smooth = ndimage.uniform_filter(grey, 3)
    spread = ndimage.maximum_filter(smooth, FLAT_WINDOW) - ndimage.minimum_filter(smooth, FLAT_WINDOW)
    labels, _ = ndimage.label(spread <= max(FLAT_RANGE, 2.0 * float(np.percentile(spread, 25))))
    height, width = grey.shape
    levels = {}
    for index, window in enumerate(ndimage.find_objects(labels), start=1):
        own = labels[window] == index
        area = int(own.sum())
        if area < max(64, SURFACE_SHARE * grey.size):
            continue
        at_edge = window[0].start == 0 or window[1].start == 0 or window[0].stop == height or window[1].stop == width
        if at_edge or ndimage.binary_fill_holes(own).sum() - area >= HOLE_SHARE * area:
            levels[index] = float(np.median(grey[window][own]))
    if not levels:
        return None
    surface = np.isin(labels, list(levels))
    # chessboard distances: a third of the Euclidean transform's time, and near enough for a ratio
    distance, (rows, cols) = ndimage.distance_transform_cdt(~surface, metric="chessboard", return_indices=True)
    nearest = labels[rows, cols]
    level_of = np.zeros(labels.max() + 1, np.float32)
    level_of[list(levels)] = list(levels.values())
    between = np.zeros(grey.shape, bool)
    for index, level in levels.items():
        # flat areas of one grey level are one surface, cut apart by the text on it: the page above
        # and below a tightly cropped line meets no shape's edge between them
        others = [other for other, other_level in levels.items() if abs(other_level - level) > SAME_SURFACE_LEVEL]
        if others:
            to_others = ndimage.distance_transform_cdt(~np.isin(labels, others), metric="chessboard")
            between |= (nearest == index) & (to_others <= EDGE_RATIO * distance + EDGE_SLACK)
    return level_of[nearest], between & ~surface


def ink_map(grey):
    """(how far each pixel lies from its surface in grey levels, where two surfaces meet); from the
    most common grey level, with no edges, where the capture has no flat area."""
    surfaces = surface_map(grey)
    if surfaces is None:
        histogram = np.bincount(np.clip(grey, 0, 255).astype(np.int64).ravel(), minlength=256)
        background = float(np.argmax(ndimage.uniform_filter1d(histogram.astype(np.float64), 5)))
        return np.abs(grey - background), np.zeros(grey.shape, bool)
    background, between = surfaces
    return np.abs(grey - background), between


def _opening(mask, rows, columns):
    """Binary opening by a rows x columns box (odd sizes), as separable min/max filters: fast for long boxes."""
    def along(filter1d, image, size, axis):  # outside the image is no ink, as in binary_opening
        return filter1d(image, size, axis=axis, mode="constant", cval=0)
    eroded = along(ndimage.minimum_filter1d, along(ndimage.minimum_filter1d, mask.view(np.uint8), columns, 1), rows, 0)
    return along(ndimage.maximum_filter1d, along(ndimage.maximum_filter1d, eroded, columns, 1), rows, 0).astype(bool)


def _rules(inked):
    """Underlines and rules: horizontal runs of ink, long, thin and with little ink along them just
    above or below (thick long runs are blurred lines; a run along the bottoms of touching letters
    has the letters above it)."""
    long_runs = _opening(inked, 1, RULE_LENGTH)
    thin = long_runs & ~_opening(inked, RULE_THICKNESS, RULE_LENGTH)
    labels, _ = ndimage.label(thin)
    rules = np.zeros(inked.shape, bool)
    for index, window in enumerate(ndimage.find_objects(labels), start=1):
        top, bottom, columns = window[0].start, window[0].stop, window[1]
        above = inked[max(0, top - RULE_THICKNESS):top, columns].any(0).mean() if top else 0.0
        below = inked[bottom:bottom + RULE_THICKNESS, columns].any(0).mean() if bottom < inked.shape[0] else 0.0
        if min(above, below) < RULE_ALONE:
            rules[window] |= labels[window] == index
    return rules


def _runs(mask):
    """(start, stop) of each run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def _outer_width(block, peak, step):
    """Twice the rows from ``peak`` to where the profile falls below half of it, walking away from
    the neighbour (``step`` -1: upwards, +1: downwards): the peak's own width, not its neighbour's."""
    level, row = 0.5 * block[peak], peak
    while 0 <= row + step < len(block) and block[row + step] >= level:
        row += step
    return 2 * (abs(row - peak) + 1)


def _line_peaks(block):
    """Rows of the block's line centres. Peaks must stand out against their own height (a short
    last line is still a line). Sharp text shows two narrow peaks per line, the top of its
    x-height and its baseline, with ink between: such a pair is one line. Two blurred lines also
    keep ink between them, but their peaks are wide for their distance."""
    padded = np.concatenate([[0], block, [0]])
    found, properties = find_peaks(padded, prominence=0.02 * block.max())
    peaks = sorted(int(p) - 1 for p, prominence in zip(found, properties["prominences"])
                   if prominence >= PEAK_PROMINENCE * padded[p]) or [int(np.argmax(block))]
    lines = [peaks[0]]
    for peak in peaks[1:]:
        upper = lines[-1]
        filled = block[upper:peak + 1].min() / min(block[upper], block[peak])
        width = max(_outer_width(block, upper, -1), _outer_width(block, peak, 1)) / (peak - upper)
        # the fuller the valley, the wider the peaks may be and still be one line's
        if filled >= FILLED_VALLEY and width < NARROW_PEAKS + WIDTH_PER_FILL * (filled - FILLED_VALLEY):
            if block[peak] > block[upper]:
                lines[-1] = peak
            continue
        lines.append(peak)
    return lines


def _split_rows(profile):
    """Row bands (top, bottom) of text lines from a row profile of ink."""
    profile = ndimage.gaussian_filter1d(profile, 1.0)
    if profile.max() <= 0:
        return []
    bands = []
    for start, stop in _runs(profile > 0.06 * profile.max()):
        block = profile[start:stop]
        peaks = _line_peaks(block)
        cuts = [0] + [a + int(np.argmin(block[a:b + 1])) for a, b in zip(peaks, peaks[1:])] + [len(block)]
        for (top, bottom), peak in zip(zip(cuts, cuts[1:]), peaks):
            inside = np.flatnonzero(block[top:bottom] >= BAND_LEVEL * block[peak])
            if len(inside):
                bands.append((start + top + int(inside[0]), start + top + int(inside[-1]) + 1))
    return bands


def _pieces(ink):
    """Boxes [top, bottom, left, right] of connected ink, letters a few pixels apart joined."""
    joined = ndimage.binary_dilation(ink > 0, structure=np.ones((1, 3), bool))
    labels, _ = ndimage.label(joined)
    return [[s[0].start, s[0].stop, s[1].start, s[1].stop] for s in ndimage.find_objects(labels)
            if (s[0].stop - s[0].start) * (s[1].stop - s[1].start) >= 4]


def _shape_edges(inked, edges):
    """Connected ink that is a filled shape's edge, not text: mostly where two surfaces meet, or
    hollow (an outline around the text, enclosing nothing of itself), or a blurred outlined
    button: a wide ring, thickened by the blur, holding other ink (its label)."""
    labels, _ = ndimage.label(inked, structure=np.ones((3, 3), bool))
    found = np.zeros(inked.shape, bool)
    for index, window in enumerate(ndimage.find_objects(labels), start=1):
        own = labels[window] == index
        area = own.sum()
        if edges[window][own].sum() >= EDGE_SHARE * area:
            found[window] |= own
            continue
        filled = ndimage.binary_fill_holes(own)
        enclosed = filled.sum()
        wide_ring = (enclosed >= OUTLINE_HOLLOW * area and own.shape[1] >= OUTLINE_WIDE * own.shape[0]
                     and inked[window][filled & ~own].any())  # a glyph such as 国 holds ink too, but is not wide
        if enclosed >= HOLLOW * area or wide_ring:
            found[window] |= own
    return found


def _bands_of_piece(ink, piece):
    """A piece split into the lines blur merged into it, or the piece itself. A split counts only
    when its bands are of like height: the x-height and descender bands of one sharp word, or the
    stroke rows of one CJK glyph, are not lines."""
    top, bottom, left, right = piece
    if right - left < bottom - top:  # a glyph: blur merges lines into wide pieces
        return [piece]
    bands = _split_rows(ink[top:bottom, left:right].sum(1))
    heights = [b - a for a, b in bands]
    if len(bands) < 2 or min(heights) < max(LIKE_HEIGHTS * max(heights), 2 * MIN_LINE_PX):
        return [piece]
    # the stroke rows of one large line (the bars of "5", a CJK glyph's strokes) lie over the same
    # letters; two lines' letters do not line up
    merged = [bands[0]]
    for a, b in bands[1:]:
        upper = ink[top + merged[-1][0]:top + merged[-1][1], left:right].sum(0)
        lower = ink[top + a:top + b, left:right].sum(0)
        if np.corrcoef(upper, lower)[0, 1] >= SAME_LINE_COLUMNS:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    if len(merged) < 2:
        return [piece]
    bands = merged
    split = []
    for a, b in bands:  # each line as wide as its own ink: a short last line is short
        columns = ink[top + a:top + b, left:right].sum(0)
        inked = np.flatnonzero(columns > BAND_LEVEL * columns.max())
        split.append([top + a, top + b, left + int(inked[0]), left + int(inked[-1]) + 1])
    return split


def _group_into_lines(boxes):
    """Boxes that share most of their height and lie near each other in one row form one line,
    until no two lines do (a line that grew may now hold one started before it)."""
    lines = _group_once(boxes)
    while True:
        regrouped = _group_once(lines)
        if len(regrouped) == len(lines):
            return regrouped
        lines = regrouped


def _group_once(boxes):
    lines = []
    for top, bottom, left, right in sorted(boxes, key=lambda b: (b[2], b[0])):
        height = bottom - top
        for line in lines:
            overlap = min(bottom, line[1]) - max(top, line[0])
            gap = max(left - line[3], line[2] - right)
            if overlap >= SAME_ROW * min(height, line[1] - line[0]) and gap < COLUMN_GAP_LINES * max(height, line[1] - line[0]):
                line[:] = [min(top, line[0]), max(bottom, line[1]), min(left, line[2]), max(right, line[3])]
                break
        else:
            lines.append([top, bottom, left, right])
    return lines


def find_lines(image, min_contrast=6.0, fill=None):
    """Text lines of a capture (uint8 (H, W, 3)), top to bottom and left to right, as LineBoxes.

    Connected ink (a word of sharp text, a whole line or paragraph of blurred text) is split at
    the row-profile valleys of the lines blur merged, then grouped into lines by shared height.
    ``min_contrast``: ink fainter than this many grey levels is not text (JPEG noise, gradients).
    ``fill``: the grey level every pixel lies on (inside a filled shape), instead of the surfaces."""
    grey = to_grey(image)
    ink, edges = ink_map(grey) if fill is None else (np.abs(grey - fill), np.zeros(grey.shape, bool))
    strong = np.percentile(ink, 99.5)
    if strong < min_contrast:
        return []
    inked = ink >= max(min_contrast, 0.15 * strong)
    inked &= ~_shape_edges(inked, edges)
    if fill is not None:  # inside a filled shape: ink reaching the crop's border is the shape's own edge
        inked &= ~_touching_border(inked)
    inked &= ~_rules(inked)
    contrast, ink = ink, np.where(inked, ink, 0.0)
    bands = []
    for piece in _pieces(ink):
        inside = None if fill is not None else _lines_inside_fill(image, grey, piece, strong, min_contrast)
        bands += inside if inside else _bands_of_piece(ink, piece)
    boxes = [LineBox(int(left), int(top), int(right - left), int(bottom - top))
             for top, bottom, left, right in _group_into_lines(bands)
             if bottom - top >= MIN_LINE_PX and right - left >= MIN_LINE_PX]
    lines = [box for box in boxes if not _is_blurred_rule(contrast, box)]
    return reading_order(lines if fill is not None else without_slivers(lines, image.shape[0]))


def _is_blurred_rule(ink, box):
    """A long thin box whose ink (every pixel's contrast, not only what counts as inked: a
    rounded end fades) is even along its length: a rule, an underline or a card's shadow that
    blur made too thick for ``_rules``; letters and the gaps between words make a line's column
    profile uneven however blurred."""
    if box.w < RULE_ASPECT * box.h:
        return False
    columns = ink[box.y:box.y + box.h, box.x:box.x + box.w].sum(0)
    return float(columns.std()) < RULE_EVENNESS * float(columns.mean())


def reading_order(boxes):
    """Line boxes in reading order: ``reading_rows`` one after another."""
    return [box for row in reading_rows(boxes) for box in row]


def reading_rows(boxes):
    """Line boxes as rows of cells in reading order: top to bottom, and left to right within a
    row (the item and the price of a receipt's row, a table's cells). Rows that share a gutter
    whose sides are an article's columns (wide, filled with lines, the gutter narrow beside them)
    are read column after column instead, each line a row of its own."""
    ordered, run = [], []
    for row in _rows(boxes):
        # a row that bridges every gap of the rows before it (a heading, a full-width line) ends their run
        if run and not _gutters([box for cells in run + [row] for box in cells]):
            ordered += _run_in_order(run)
            run = []
        run.append(row)
    return ordered + _run_in_order(run)


def _rows(boxes):
    """Boxes grouped into rows, top to bottom, each left to right. A row is the boxes sharing most
    of their height: a receipt's bold "TOTAL" one pixel below its taller amount is on its row
    (sorting by top edge alone read the amount first)."""
    rows = []
    for box in sorted(boxes, key=lambda b: b.y + b.h / 2):
        row = rows[-1] if rows else None
        if row is not None:
            top, bottom = min(b.y for b in row), max(b.y + b.h for b in row)
            if min(bottom, box.y + box.h) - max(top, box.y) >= SAME_ROW * min(box.h, min(b.h for b in row)):
                row.append(box)
                continue
        rows.append([box])
    return [sorted(row, key=lambda b: (b.x, b.y)) for row in rows]


def _run_in_order(run):
    """Consecutive rows sharing a gutter: column after column if they are an article's, else as they are."""
    columns = article_columns([box for row in run for box in row]) if len(run) > 1 else None
    if columns is None:
        return run
    return [row for column in columns for row in reading_rows(column)]


def _gutters(boxes):
    """(left, right) of each stretch of columns no box covers, between the boxes."""
    spans = sorted((box.x, box.x + box.w) for box in boxes)
    gutters, reach = [], spans[0][1] if spans else 0
    for left, right in spans[1:]:
        if left > reach:
            gutters.append((reach, left))
        reach = max(reach, right)
    return gutters


def article_columns(boxes):
    """The boxes split at their gutters into an article's columns, left to right, or None when
    they are not one: each column at least two lines starting at one left edge, most of them
    filling the column's width (a table's or a receipt's cells are ragged, or as narrow as a price;
    the pieces of a paragraph blur broke up start anywhere), and each gutter narrow beside the
    columns it parts."""
    gutters = _gutters(boxes)
    if not gutters:
        return None
    columns = [[box for box in boxes if left <= box.x < right]
               for left, right in zip([-1] + [g[1] for g in gutters], [g[1] for g in gutters] + [np.inf])]
    widths = [max(b.x + b.w for b in column) - min(b.x for b in column) for column in columns]
    if any(len(column) < 2 or np.median([b.w for b in column]) < ARTICLE_FILL * width
           or max(b.x for b in column) - min(b.x for b in column) > ARTICLE_ALIGN * np.median([b.h for b in column])
           for column, width in zip(columns, widths)):
        return None
    if any(right - left >= ARTICLE_GUTTER * min(widths[i], widths[i + 1]) for i, (left, right) in enumerate(gutters)):
        return None
    return columns


def without_slivers(boxes, height):
    """The boxes less the slivers of lines outside a capture of ``height`` rows: cut by its top or
    bottom edge and far shorter than its other lines (the foot of a heading above a region)."""
    kept = []
    for index, box in enumerate(boxes):
        others = [other.h for i, other in enumerate(boxes) if i != index]
        cut = box.y <= 0 or box.y + box.h >= height
        if not (cut and others and box.h < SLIVER_SHARE * float(np.median(others))):
            kept.append(box)
    return kept


def _touching_border(inked):
    labels, _ = ndimage.label(inked, structure=np.ones((3, 3), bool))
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.isin(labels, border[border > 0])


FILL_SHARE = 0.35   # a piece this much one grey level (unlike the page around it) ...
FILL_RING = 0.5     # ... and this much of it all round just inside its outline is a filled shape;
FILL_SHARE_BLURRED = 0.12  # a blurred pill's text spreads over its fill: less of it, but ...
FILL_RING_BLURRED = 0.85   # ... then nearly all of the ring must be the fill


def _lines_inside_fill(image, grey, piece, strong, min_contrast):
    """The lines inside a piece that is a filled shape the surfaces missed (a pill padded too thinly
    for a flat fill to show), as bands; None for a piece that is not one or holds no smaller line."""
    top, bottom, left, right = piece
    if bottom - top < 3 * MIN_LINE_PX or right - left < 2 * (bottom - top):  # a glyph is no pill
        return None
    inside = grey[top:bottom, left:right]
    histogram = ndimage.uniform_filter1d(np.bincount(np.clip(inside, 0, 255).astype(np.int64).ravel(),
                                                     minlength=256).astype(np.float64), 7) * 7
    level = int(np.argmax(histogram))
    y0, x0 = max(0, top - 2), max(0, left - 2)
    around = grey[y0:bottom + 2, x0:right + 2]
    outside = np.ones(around.shape, bool)
    outside[top - y0:bottom - y0, left - x0:right - x0] = False
    share = histogram[level] / inside.size
    if share < FILL_SHARE_BLURRED or not outside.any() \
            or abs(level - float(np.median(around[outside]))) < 0.5 * strong:
        return None
    # a shape's fill runs all round just inside its outline; bold text's strokes touch it here and there
    inset = max(2, (bottom - top) // 5)  # past a blurred outline's ramp
    ring = np.concatenate([inside[inset, inset:-inset], inside[-inset - 1, inset:-inset],
                           inside[inset:-inset, inset], inside[inset:-inset, -inset - 1]])
    if np.mean(np.abs(ring - level) <= 12) < (FILL_RING if share >= FILL_SHARE else FILL_RING_BLURRED):
        return None
    lines = find_lines(image[top:bottom, left:right], min_contrast, fill=float(level))
    # a bold glyph is mostly one level too: what it "holds" are its counters, small beside it
    if (not lines or any(line.h >= 0.8 * (bottom - top) for line in lines)
            or max(line.x + line.w for line in lines) - min(line.x for line in lines) < 0.5 * (right - left)):
        return None
    return [[top + line.y, top + line.y + line.h, left + line.x, left + line.x + line.w] for line in lines]


def reading_window(box, shape, sigma=None):
    """The crop (top, bottom, left, right) the reader sees for a line: its box plus the context its
    blur spread into, clipped to the image of ``shape`` (H, W, ...)."""
    spread = 1.5 * sigma if sigma and sigma > 0 else 0.0
    pad_y = int(round(max(0.3 * box.h, spread)))
    pad_x = int(round(max(0.5 * box.h, spread)))
    return (max(0, box.y - pad_y), min(shape[0], box.y + box.h + pad_y),
            max(0, box.x - pad_x), min(shape[1], box.x + box.w + pad_x))


def text_box(box, sigma=None):
    """Where the sharp text of a found line lies: its box less the spread of a known blur (the
    finder's thresholds sit about one sigma outside a blurred edge), never thinner than a pixel."""
    if not sigma or sigma <= 0:
        return box
    spread = int(round(BLUR_SPREAD * sigma))
    dx, dy = min(spread, (box.w - 1) // 2), min(spread, (box.h - 1) // 2)
    return LineBox(box.x + dx, box.y + dy, box.w - 2 * dx, box.h - 2 * dy)
