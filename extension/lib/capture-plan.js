// Planning of captureVisibleTab shots: which scroll positions show which elements (or parts of
// elements taller than the viewport), the rate limit between shots, and stitching of parts.
// Coordinates are document CSS pixels (top/bottom); only the window scrolls vertically.

// Chrome allows at most two captureVisibleTab calls a second per extension
// (MAX_CAPTURE_VISIBLE_TAB_CALLS_PER_SECOND); the extra slack absorbs timer jitter.
export const CAPTURES_PER_SECOND = 2;
export const CAPTURE_WINDOW_MS = 1050;
// An element taller than this many viewport-sized parts is sharpened down to that height only.
export const MAX_PARTS = 6;
const EPSILON = 0.5;

/** Cut an item {id, top, bottom, margin} into parts that each fit the viewport with their margin. */
export function splitIntoParts(item, viewportHeight, maxParts = MAX_PARTS) {
  const height = item.bottom - item.top;
  if (height <= viewportHeight) return { parts: [{ id: item.id, index: 0, top: item.top, bottom: item.bottom, margin: item.margin }], capped: false };
  const step = Math.floor(Math.max(viewportHeight - 2 * item.margin, viewportHeight / 2));
  const count = Math.ceil(height / step);
  const parts = [];
  for (let index = 0; index < Math.min(count, maxParts); index += 1) {
    const top = item.top + index * step;
    parts.push({ id: item.id, index, top, bottom: Math.min(top + step, item.bottom), margin: item.margin });
  }
  return { parts, capped: count > maxParts };
}

/**
 * Whether a part and its margin (the blur's halo, which the overlay covers) show at this scroll
 * position. A margin beyond the document's top or bottom edge cannot show anyway: at the first and
 * last scroll positions only the part itself has to fit.
 */
function fits(part, scrollY, view) {
  const top = scrollY <= EPSILON ? part.top : part.top - part.margin;
  const bottom = scrollY >= view.maxScrollY - EPSILON ? part.bottom : part.bottom + part.margin;
  return top >= scrollY - EPSILON && bottom <= scrollY + view.height + EPSILON;
}

/**
 * Group items into as few shots as possible, starting with what is visible without scrolling.
 * view: {scrollY, height, maxScrollY}. Returns {shots: [{scrollY, parts}], capped: [ids]}.
 */
export function planShots(items, view) {
  const capped = [];
  let remaining = [];
  for (const item of items) {
    const split = splitIntoParts(item, view.height);
    if (split.capped) capped.push(item.id);
    remaining.push(...split.parts);
  }
  remaining.sort((a, b) => a.top - b.top || a.bottom - b.bottom);
  const shots = [];
  const take = (scrollY) => {
    const parts = remaining.filter((part) => fits(part, scrollY, view));
    remaining = remaining.filter((part) => !parts.includes(part));
    if (parts.length) shots.push({ scrollY, parts });
    return parts.length;
  };
  take(view.scrollY);
  while (remaining.length) {
    const first = remaining[0];
    const slack = view.height - (first.bottom - first.top);
    const wanted = first.top - Math.min(first.margin, Math.max(0, slack / 2));
    const scrollY = Math.min(Math.max(0, wanted), Math.max(0, view.maxScrollY));
    if (!take(scrollY)) {
      // Out of the scrollable range (e.g. below the end of the document): capture what shows.
      shots.push({ scrollY, parts: [first] });
      remaining.shift();
    }
  }
  return { shots, capped };
}

/** Milliseconds to wait before the next capture, given the times of earlier ones. */
export function captureDelay(history, now, limit = CAPTURES_PER_SECOND, windowMs = CAPTURE_WINDOW_MS) {
  const recent = history.filter((t) => now - t < windowMs).sort((a, b) => a - b);
  if (recent.length < limit) return 0;
  return Math.max(0, recent[recent.length - limit] + windowMs - now);
}

/** Keep only the capture times that still matter for the rate limit, plus `now`. */
export function recordCapture(history, now, windowMs = CAPTURE_WINDOW_MS) {
  return [...history.filter((t) => now - t < windowMs), now];
}

/**
 * Where each sharpened part goes in the stitched image of its element, in device pixels.
 * parts: [{index, top, bottom}] in document CSS px. Rounding from one shared origin keeps
 * neighbouring parts edge to edge, with neither gaps nor overlaps.
 */
export function stitchLayout(parts, scale) {
  const sorted = [...parts].sort((a, b) => a.top - b.top);
  const origin = sorted[0].top;
  const placements = sorted.map((part) => {
    const y = Math.round((part.top - origin) * scale);
    const end = Math.round((part.bottom - origin) * scale);
    return { index: part.index, y, height: end - y };
  });
  const last = placements[placements.length - 1];
  return { height: last.y + last.height, placements };
}
