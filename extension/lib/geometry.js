// Geometry between the page (CSS pixels, viewport coordinates) and a captureVisibleTab image
// (device pixels). Rectangles are {x, y, width, height}.

// Widening the crop by 3 sigma keeps nearly all of the blur's spread (99.7 %) inside it.
export const SIGMA_WIDENING = 3;
// Margin around the element when the blur is unknown (blind), in CSS pixels.
export const BLIND_MARGIN_CSS = 8;
// Float noise such as 100.00000001 * 2 must not grow a snapped rectangle by a whole pixel.
const EPSILON = 1e-6;

/** Device pixels per CSS pixel of a capture: its width over the viewport's, else devicePixelRatio. */
export function deviceScale({ captureWidth, viewportWidth, devicePixelRatio = 1 }) {
  if (captureWidth > 0 && viewportWidth > 0) {
    const measured = captureWidth / viewportWidth;
    // Rounded capture sizes are off by less than a pixel; trust devicePixelRatio when it agrees.
    if (Math.abs(measured - devicePixelRatio) * viewportWidth < 1) return devicePixelRatio;
    return measured;
  }
  return devicePixelRatio > 0 ? devicePixelRatio : 1;
}

/** The smallest whole-device-pixel rectangle covering a CSS rectangle. */
export function snapRect(rect, scale) {
  const x0 = Math.floor(rect.x * scale + EPSILON);
  const y0 = Math.floor(rect.y * scale + EPSILON);
  const x1 = Math.ceil((rect.x + rect.width) * scale - EPSILON);
  const y1 = Math.ceil((rect.y + rect.height) * scale - EPSILON);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

export function widenRect(rect, margin) {
  return { x: rect.x - margin, y: rect.y - margin, width: rect.width + 2 * margin, height: rect.height + 2 * margin };
}

/** The intersection of two rectangles (width/height 0 when they do not overlap). */
export function clampRect(rect, bounds) {
  const x0 = Math.max(rect.x, bounds.x);
  const y0 = Math.max(rect.y, bounds.y);
  const x1 = Math.min(rect.x + rect.width, bounds.x + bounds.width);
  const y1 = Math.min(rect.y + rect.height, bounds.y + bounds.height);
  return { x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0) };
}

export function scaleRect(rect, factor) {
  return { x: rect.x * factor, y: rect.y * factor, width: rect.width * factor, height: rect.height * factor };
}

/** Crop margin in device pixels for a blur of `sigmaDevice` (null: unknown). */
export function cropMargin(sigmaDevice, scale) {
  const spread = sigmaDevice === null || sigmaDevice === undefined ? BLIND_MARGIN_CSS * scale : SIGMA_WIDENING * sigmaDevice;
  return Math.ceil(spread);
}

const NO_SPREAD = Object.freeze({ left: 0, right: 0, top: 0, bottom: 0 });

/**
 * How far past an element's box its blurred pixels reach, per side, in whole device pixels:
 * 3 sigma, plus the offset of a text shadow on that side. sigmaCss null: unknown, then
 * `reachSigmaCss` (the widest shadow's sigma) when known, else the blind margin.
 */
export function blurReach({ sigmaCss = null, reachSigmaCss = null, spread = NO_SPREAD }, scale) {
  const known = sigmaCss ?? reachSigmaCss;
  const blur = known === null ? BLIND_MARGIN_CSS * scale : SIGMA_WIDENING * known * scale;
  const side = (offset) => Math.ceil(blur + offset * scale - EPSILON);
  return { left: side(spread.left), right: side(spread.right), top: side(spread.top), bottom: side(spread.bottom) };
}

function widenBy(rect, reach) {
  return { x: rect.x - reach.left, y: rect.y - reach.top, width: rect.width + reach.left + reach.right, height: rect.height + reach.top + reach.bottom };
}

/**
 * Where to cut an element out of a capture, and where its overlay goes.
 * box: the element's box in viewport CSS px; capture: {width, height} of the image in device px;
 * reach: the blur's reach past the box per side in device px (blurReach), or sigmaDevice for the
 * same 3 sigma on every side; show: how much of that reach the overlay covers (default all of
 * it, so the overlay hides the blur's halo; parts of tall elements show it only at their ends).
 * bounds: where the element can be seen, in device px (default the whole capture; a frame's box
 * for an element inside a frame).
 * Returns null when the box is not visible at all, else
 *   box:     the box in device px, clamped to the bounds,
 *   crop:    the box widened by the reach and clamped to the capture (what the server sharpens),
 *   area:    the box widened by `show`, clamped (what the overlay shows), in device px,
 *   inner:   the area relative to the crop (where to cut the server's answer),
 *   overlay: the area back in viewport CSS px, snapped to whole device pixels,
 *   clipped: whether part of the element lay outside the bounds.
 */
export function planCrop({ box, sigmaDevice = null, reach = null, show = null, scale, capture, bounds = null }) {
  const whole = { x: 0, y: 0, width: capture.width, height: capture.height };
  const seen = bounds ? clampRect(snapRect(bounds, 1), whole) : whole;
  const snapped = snapRect(box, scale);
  const visible = clampRect(snapped, seen);
  if (visible.width === 0 || visible.height === 0) return null;
  const margin = cropMargin(sigmaDevice, scale);
  const fullReach = reach ?? { left: margin, right: margin, top: margin, bottom: margin };
  const crop = clampRect(widenBy(visible, fullReach), whole);
  const area = clampRect(widenBy(visible, show ?? fullReach), seen);
  return {
    box: visible,
    crop,
    area,
    inner: { x: area.x - crop.x, y: area.y - crop.y, width: area.width, height: area.height },
    overlay: scaleRect(area, 1 / scale),
    clipped: visible.width !== snapped.width || visible.height !== snapped.height,
  };
}

// ----- frames: a frame's viewport inside the tab's -----

/**
 * Map a rectangle from a frame's viewport to the tab's viewport (CSS px of the top frame).
 * chain: one entry per frame boundary, innermost first: {origin: {x, y}, scale: {x, y}, clip}:
 * where the frame's viewport (its iframe's content box) starts in its parent's viewport, how many
 * parent CSS px one frame CSS px covers (CSS transforms, zoom), and that content box itself.
 * Returns {rect, visible}: the whole rectangle in tab coordinates, and the part of it that the
 * frames' boxes let through (width/height 0 when none).
 */
export function frameToTab(rect, chain) {
  let mapped = { ...rect };
  let visible = { ...rect };
  for (const { origin, scale = { x: 1, y: 1 }, clip } of chain) {
    const up = (r) => ({ x: origin.x + r.x * scale.x, y: origin.y + r.y * scale.y, width: r.width * scale.x, height: r.height * scale.y });
    mapped = up(mapped);
    visible = up(visible);
    if (clip) visible = clampRect(visible, clip);
  }
  return { rect: mapped, visible };
}

/** The inverse of frameToTab's rect: a tab-viewport rectangle in the innermost frame's viewport. */
export function tabToFrame(rect, chain) {
  let mapped = { ...rect };
  for (const { origin, scale = { x: 1, y: 1 } } of [...chain].reverse()) {
    mapped = { x: (mapped.x - origin.x) / scale.x, y: (mapped.y - origin.y) / scale.y, width: mapped.width / scale.x, height: mapped.height / scale.y };
  }
  return mapped;
}

/**
 * The frame boundary of an <iframe> from its border box and its border and padding widths (all
 * in the parent's CSS px) and the frame's own viewport width and height (its CSS px).
 */
export function frameBoundary(borderBox, edges, inner) {
  const clip = {
    x: borderBox.x + edges.left,
    y: borderBox.y + edges.top,
    width: Math.max(0, borderBox.width - edges.left - edges.right),
    height: Math.max(0, borderBox.height - edges.top - edges.bottom),
  };
  const scale = {
    x: inner.width > 0 ? clip.width / inner.width : 1,
    y: inner.height > 0 ? clip.height / inner.height : 1,
  };
  return { origin: { x: clip.x, y: clip.y }, scale, clip };
}

// ----- the region picker -----

// A drag shorter than this (CSS px) either way is a click, not a region.
export const MIN_REGION_CSS = 8;

/** The rectangle between two points (any direction). */
export function spanRect(a, b) {
  return { x: Math.min(a.x, b.x), y: Math.min(a.y, b.y), width: Math.abs(b.x - a.x), height: Math.abs(b.y - a.y) };
}

/**
 * The rectangle a drag from `start` to `end` (viewport CSS px, any direction) spans, clamped to
 * the viewport {width, height}; null when it is too small to be meant as a region.
 */
export function dragRegion(start, end, viewport, minSize = MIN_REGION_CSS) {
  const region = clampRect(spanRect(start, end), { x: 0, y: 0, width: viewport.width, height: viewport.height });
  return region.width < minSize || region.height < minSize ? null : region;
}

// ----- overlays -----

/**
 * Where an overlay goes in the extension's layer: {left, top, width, height} in CSS px from the
 * layer's origin. elementRect and origin: the element's and the layer's client rects now; offset,
 * size: the overlay's place and size relative to the element when it was captured, and
 * capturedSize the element's size then. A resized element stretches its overlay by as much; the
 * halo around it keeps its width.
 */
export function overlayBox(elementRect, origin, { offset, size, capturedSize }) {
  return {
    left: elementRect.left + offset.x - origin.left,
    top: elementRect.top + offset.y - origin.top,
    width: Math.max(0, size.width + elementRect.width - capturedSize.width),
    height: Math.max(0, size.height + elementRect.height - capturedSize.height),
  };
}
