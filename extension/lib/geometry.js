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

/**
 * Where to cut an element out of a capture.
 * box: the element's box in viewport CSS px; capture: {width, height} of the image in device px.
 * Returns null when the box is not visible at all, else
 *   box:     the box in device px, clamped to the capture (what the overlay shows),
 *   crop:    the box widened by the blur's spread and clamped (what the server sharpens),
 *   inner:   the box relative to the crop (where to cut the server's answer),
 *   overlay: the box back in viewport CSS px, snapped to whole device pixels,
 *   clipped: whether part of the element lay outside the viewport.
 */
export function planCrop({ box, sigmaDevice = null, scale, capture }) {
  const bounds = { x: 0, y: 0, width: capture.width, height: capture.height };
  const snapped = snapRect(box, scale);
  const visible = clampRect(snapped, bounds);
  if (visible.width === 0 || visible.height === 0) return null;
  const crop = clampRect(widenRect(visible, cropMargin(sigmaDevice, scale)), bounds);
  return {
    box: visible,
    crop,
    inner: { x: visible.x - crop.x, y: visible.y - crop.y, width: visible.width, height: visible.height },
    overlay: scaleRect(visible, 1 / scale),
    clipped: visible.width !== snapped.width || visible.height !== snapped.height,
  };
}
