// "Read text": the targets and captures of sharpening (sharpen.js), read by the server's reader
// (/v1/read/batch) and laid over their elements as selectable text (content/text-overlay.js).
// Where the page has the text itself under a CSS blur or the text-shadow trick, its blur comes
// off instead: that is exact, and no model is needed.
import { tabToFrame } from "./geometry.js";
import { message } from "./i18n.js";
import { decodeDataUrl, pixelsOf } from "./imaging.js";
import { callFrame, TOP_FRAME } from "./page-calls.js";
import { nothingToRead, readRegionHint, readSummary } from "./read-notices.js";
import { layoutReading, linesOnElement, sampleColors } from "./reading.js";
import { checkHealth, readImages, sharpenImages } from "./requests.js";
import {
  buildOverlays, capturePieces, locateAtCursor, placeFrameTargets, run, scanTab, tabStatus,
} from "./sharpen.js";

function byFrame(list) {
  const groups = new Map();
  for (const entry of list) groups.set(entry.frameId, [...(groups.get(entry.frameId) ?? []), entry]);
  return groups;
}

/** Take the blur off targets whose text is in the page. */
async function revealLive(tab, targets) {
  for (const [frameId, list] of byFrame(targets)) await callFrame(tab.id, frameId, "revealOwnText", list.map((target) => target.id), { quiet: true });
}

/** Tab CSS px per CSS px of a frame (1 unless CSS scales the frame). */
function frameScaleOf(chain) {
  const unit = tabToFrame({ x: 0, y: 0, width: 1, height: 1 }, chain);
  return { x: 1 / unit.width, y: 1 / unit.height };
}

/** The background and ink colours of a captured crop, for the text layer. */
async function colorsOf(piece) {
  const bitmap = await decodeDataUrl(piece.image);
  const colors = sampleColors(pixelsOf(bitmap, { x: 0, y: 0, width: bitmap.width, height: bitmap.height }), bitmap.width, bitmap.height);
  bitmap.close();
  return colors;
}

/**
 * What the page shows for each element read: its pixels (sharpened) under the overlay's rectangle,
 * as sharpening would show them, and its reading with line boxes on that rectangle.
 */
async function buildReadings(pieces, readings, pixels) {
  const overlays = await buildOverlays(pieces, pixels);
  const items = [];
  for (const overlay of overlays) {
    const parts = pieces.map((piece, i) => ({ piece, reading: readings[i] })).filter(({ piece }) => piece.target.id === overlay.id)
      .sort((a, b) => a.piece.part.top - b.piece.part.top);
    const several = parts.length > 1;
    const placed = parts.map(({ piece, reading }) => {
      const partOffset = piece.part.top - piece.target.top;
      const lines = linesOnElement(reading, { crop: piece.crop.crop, box: piece.box, scale: piece.scale, partOffset, frameScale: frameScaleOf(piece.chain),
        span: several ? [partOffset, piece.part.bottom - piece.target.top] : null });
      return { reading, lines };
    });
    const offset = { x: overlay.overlay.x - overlay.elementRect.x, y: overlay.overlay.y - overlay.elementRect.y };
    items.push({ ...overlay, reading: layoutReading(placed, offset), colors: await colorsOf(parts[0].piece) });
  }
  return items;
}

/** Read `targets` (placed on the tab); those with text of their own are revealed instead. */
async function readTargets(tab, targets, view, settings) {
  const started = performance.now();
  const timings = {};
  const live = targets.filter((target) => target.ownText);
  const pictures = targets.filter((target) => !target.ownText);
  if (live.length) await revealLive(tab, live);
  let shown = [];
  let skipped = [];
  let capped = [];
  if (pictures.length) {
    // Asking the server first means a stopped server costs no scrolling or capturing.
    await checkHealth(fetch, settings.serverUrl, settings.token);
    let mark = performance.now();
    let pieces;
    ({ pieces, skipped, capped } = await capturePieces(tab, pictures, view));
    timings.captureMs = Math.round(performance.now() - mark);
    if (pieces.length) {
      mark = performance.now();
      const items = pieces.map(({ image, sigma }) => ({ image, sigma }));
      const [readings, pixels] = await Promise.all([
        readImages(fetch, settings.serverUrl, items, settings.token),
        // The pixels behind each text layer's toggle; a blur beyond the model's range shows the capture.
        sharpenImages(fetch, settings.serverUrl, items, settings.token).catch(() => items),
      ]);
      timings.serverMs = Math.round(performance.now() - mark);
      mark = performance.now();
      shown = await buildReadings(pieces, readings, pixels);
      for (const [frameId, list] of byFrame(shown)) await callFrame(tab.id, frameId, "showReadings", list);
      timings.overlayMs = Math.round(performance.now() - mark);
    }
  }
  const count = (verdict) => shown.filter((item) => item.reading.verdict === verdict).length;
  const tally = { read: shown.length - count("unreadable"), partly: count("partly"), unreadable: count("unreadable"), revealed: live.length };
  const notice = readSummary(tally) ?? (skipped.length ? nothingToRead(skipped[0].reason) : null);
  if (notice) await callFrame(tab.id, TOP_FRAME, "notify", notice, "info");
  return {
    ok: true,
    ...tally,
    readings: shown.map(({ id, reading }) => ({ id, verdict: reading.verdict, text: reading.text, lines: reading.lines.length, uncertain: reading.uncertain })),
    skipped,
    capped,
    message: notice,
    elapsedMs: Math.round(performance.now() - started),
    timings,
    status: await tabStatus(tab.id),
  };
}

/** The context menu's "Read text": the blurred element under the cursor (or the clicked image). */
export async function readAtCursor(tab, info = {}) {
  return run(tab, async (settings) => {
    const { frameId, found } = await locateAtCursor(tab, info);
    const { placed, view } = await placeFrameTargets(tab, frameId, found);
    return readTargets(tab, placed, view, settings);
  });
}

/** The popup's "Read text": every blurred element of the page. */
export async function readAll(tab) {
  return run(tab, async (settings) => {
    const found = await scanTab(tab.id);
    const targets = [...found.targets, ...found.uncertain];
    if (!targets.length) {
      const nothingFound = message("nothing_found", readRegionHint());
      await callFrame(tab.id, TOP_FRAME, "notify", nothingFound, "info");
      return { ok: true, read: 0, revealed: 0, readings: [], message: nothingFound, status: await tabStatus(tab.id) };
    }
    return readTargets(tab, targets, found.view, settings);
  });
}

/** "Read a region…": the rectangle the user drags, read blind or with the sigma (CSS px) set in the popup. */
export async function readRegion(tab, { sigmaCss = undefined } = {}) {
  return run(tab, async (settings) => {
    const sigma = sigmaCss === undefined ? settings.regionSigmaCss : sigmaCss;
    const rect = await callFrame(tab.id, TOP_FRAME, "pickRegion", "read");
    if (!rect) return { ok: true, cancelled: true, read: 0, readings: [], status: await tabStatus(tab.id) };
    const target = await callFrame(tab.id, TOP_FRAME, "regionTarget", rect, sigma);
    const view = await callFrame(tab.id, TOP_FRAME, "viewState");
    return readTargets(tab, [{ ...target, frameId: TOP_FRAME }], view, settings);
  });
}

/** The page panel's "Read text": the elements of that frame that show sharpened pixels. */
export async function readShown(tab, frameId = TOP_FRAME) {
  return run(tab, async (settings) => {
    const found = await callFrame(tab.id, frameId, "shownTargets", "image");
    if (!found.targets.length) return { ok: true, read: 0, readings: [], status: await tabStatus(tab.id) };
    const { placed, view } = await placeFrameTargets(tab, frameId, found);
    return readTargets(tab, placed, view, settings);
  });
}
