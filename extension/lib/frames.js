// Frames inside the tab: which frame sits in which, and where, from what each frame's page agent
// reports. The agent in a child frame posts its key to its parent, whose agent finds the <iframe>
// that message came from (this works across origins) and reports that iframe's box by the key.
import { frameToTab } from "./geometry.js";

/**
 * For each frame, the chain of frame boundaries from it up to the top frame (innermost first, as
 * geometry.js frameToTab takes it): [] for the top frame, null for a frame whose parents did not
 * all answer (it cannot be placed on the tab's capture).
 * reports: [{frameId, key, boundaries: {childKey: boundary}}].
 */
export function frameChains(reports, topFrameId = 0) {
  const links = new Map(); // child key -> {parent report, boundary}
  for (const report of reports) {
    for (const [childKey, boundary] of Object.entries(report.boundaries ?? {})) links.set(childKey, { parent: report, boundary });
  }
  const chains = new Map();
  for (const report of reports) {
    let chain = [];
    const seen = new Set();
    for (let current = report; current.frameId !== topFrameId; ) {
      const link = links.get(current.key);
      if (!link || seen.has(current.key)) {
        chain = null;
        break;
      }
      seen.add(current.key);
      chain.push(link.boundary);
      current = link.parent;
    }
    chains.set(report.frameId, chain);
  }
  return chains;
}

/**
 * A frame's rectangle on the tab: {rect, bounds} in the top frame's viewport CSS px, where bounds is
 * the part of the tab where that frame can be seen (null for the top frame: the whole viewport).
 */
export function placeInTab(rect, chain, frameView) {
  if (!chain.length) return { rect, bounds: null };
  const { rect: mapped } = frameToTab(rect, chain);
  const { visible } = frameToTab({ x: 0, y: 0, width: frameView.width, height: frameView.height }, chain);
  return { rect: mapped, bounds: visible };
}

/** The http(s) origins of frame addresses (relative to baseUrl), each once: what access can be asked for. */
export function frameOrigins(sources, baseUrl) {
  const origins = new Set();
  for (const source of sources) {
    try {
      const url = new URL(source, baseUrl);
      if (url.protocol === "http:" || url.protocol === "https:") origins.add(url.origin);
    } catch {
      // not a URL: nothing to ask permission for
    }
  }
  return [...origins];
}

// What a frame's panel counts, and the most one frame may report: a framed page can post its own
// counts to its parent, so a report is only believed as far as it is a plausible tally.
const PANEL_COUNTS = ["sharpened", "read", "revealed"];
const MOST_PER_FRAME = 10000;

/**
 * The panel's counts for a frame: its own overlays and reveals plus what each of its child frames
 * reported (each child's own and its descendants'). Reports that are not counts count as nothing.
 * own and each report: {sharpened, read, revealed}.
 */
export function countsWithFrames(own, childReports) {
  const total = { ...own };
  for (const report of childReports) {
    for (const name of PANEL_COUNTS) {
      const value = report?.[name];
      if (Number.isInteger(value) && value > 0 && value <= MOST_PER_FRAME) total[name] += value;
    }
  }
  return total;
}
