// What the context menu, the popup and automatic mode run: find blurred elements, capture
// them, have the local server sharpen them, and overlay the results in the page.
import { planShots, captureDelay, recordCapture, stitchLayout } from "./capture-plan.js";
import { deviceScale, planCrop, BLIND_MARGIN_CSS, SIGMA_WIDENING } from "./geometry.js";
import { decodeDataUrl, cropToDataUrl, pixelsOf, stitchToDataUrl } from "./imaging.js";
import { callPage, injectPageAgent } from "./page-calls.js";
import { checkHealth, sharpenImages } from "./requests.js";
import { normalizeSettings } from "./settings.js";
import { looksBlurred } from "./sharpness.js";

const CAPTURE_QUOTA_ERROR = "MAX_CAPTURE_VISIBLE_TAB_CALLS_PER_SECOND";
const CAPTURE_RETRIES = 3;
export const CAPTURE_PERMISSION_HINT =
  "Chrome lets an extension capture a page only after you invoke it there: click the Anti-aging toolbar button, then \"Sharpen all blurred text on this page\".";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function loadSettings() {
  return normalizeSettings(await chrome.storage.sync.get(null));
}

/** captureVisibleTab as PNG, keeping to Chrome's two calls a second across the whole extension. */
async function captureVisibleTab(windowId) {
  for (let attempt = 0; ; attempt += 1) {
    const { captureHistory = [] } = await chrome.storage.session.get("captureHistory");
    const wait = captureDelay(captureHistory, Date.now());
    if (wait > 0) await sleep(wait);
    await chrome.storage.session.set({ captureHistory: recordCapture(captureHistory, Date.now()) });
    try {
      return await chrome.tabs.captureVisibleTab(windowId, { format: "png" });
    } catch (error) {
      // Another capture (a second right-click) can slip between our check and our call.
      if (!String(error.message).includes(CAPTURE_QUOTA_ERROR) || attempt >= CAPTURE_RETRIES) throw error;
    }
  }
}

function marginCss(target) {
  return target.sigmaCss === null ? BLIND_MARGIN_CSS : SIGMA_WIDENING * target.sigmaCss;
}

/**
 * Capture every part of every target: scroll as planned, hide the extension's layer, capture,
 * cut the widened crops. The page's scroll position is restored whatever happens.
 */
async function capturePieces(tab, targets, view) {
  const byId = new Map(targets.map((target) => [target.id, target]));
  const plan = planShots(targets.map((t) => ({ id: t.id, top: t.top, bottom: t.bottom, margin: marginCss(t) })), view);
  const pieces = [];
  const skipped = [];
  try {
    for (const shot of plan.shots) {
      const ids = [...new Set(shot.parts.map((part) => part.id))];
      const fresh = await callPage(tab.id, "prepareShot", { scrollX: view.scrollX, scrollY: shot.scrollY, ids });
      // captureVisibleTab takes whatever tab is on screen: never capture another tab by mistake.
      const current = await chrome.tabs.get(tab.id);
      if (!current.active) throw new Error("Anti-aging captures only the tab on screen; stay on this tab until it is sharpened.");
      const bitmap = await decodeDataUrl(await captureVisibleTab(current.windowId));
      const scale = deviceScale({ captureWidth: bitmap.width, viewportWidth: fresh.view.width, devicePixelRatio: fresh.view.devicePixelRatio });
      for (const part of shot.parts) {
        const target = byId.get(part.id);
        const elementRect = fresh.rects[part.id];
        if (!elementRect) {
          skipped.push({ id: part.id, reason: "the element left the page" });
          continue;
        }
        const partBox = { x: elementRect.x, y: elementRect.y + (part.top - target.top), width: elementRect.width, height: part.bottom - part.top };
        const sigma = target.sigmaCss === null ? null : target.sigmaCss * scale;
        const crop = planCrop({ box: partBox, sigmaDevice: sigma, scale, capture: { width: bitmap.width, height: bitmap.height } });
        if (!crop) {
          skipped.push({ id: part.id, reason: "the element is not visible" });
          continue;
        }
        if (target.kind === "image-unchecked" && !looksBlurred(pixelsOf(bitmap, crop.box), crop.box.width, crop.box.height)) {
          skipped.push({ id: part.id, reason: "the image looks sharp" });
          continue;
        }
        pieces.push({ target, part, crop, scale, elementRect, sigma, image: await cropToDataUrl(bitmap, crop.crop) });
      }
      bitmap.close();
    }
  } finally {
    await callPage(tab.id, "endCapture", { scrollX: view.scrollX, scrollY: view.scrollY });
  }
  return { pieces, skipped, capped: plan.capped };
}

/** Cut each sharpened crop back to its element's box and stitch parts of tall elements. */
async function buildOverlays(pieces, results) {
  const decoded = await Promise.all(results.map((result) => decodeDataUrl(result.image)));
  decoded.forEach((bitmap, i) => {
    const { crop } = pieces[i].crop;
    if (bitmap.width !== crop.width || bitmap.height !== crop.height) {
      throw new Error(`The server answered a ${crop.width}x${crop.height} crop with a ${bitmap.width}x${bitmap.height} image.`);
    }
  });
  const groups = new Map();
  pieces.forEach((piece, i) => {
    if (!groups.has(piece.target.id)) groups.set(piece.target.id, []);
    groups.get(piece.target.id).push({ ...piece, bitmap: decoded[i] });
  });
  const overlays = [];
  for (const [id, group] of groups) {
    group.sort((a, b) => a.part.top - b.part.top);
    const first = group[0];
    let image;
    let height = first.crop.overlay.height;
    if (group.length === 1) {
      image = await cropToDataUrl(first.bitmap, first.crop.inner);
    } else {
      const layout = stitchLayout(group.map((piece) => piece.part), first.scale);
      const placements = new Map(layout.placements.map((p) => [p.index, p]));
      const stitched = group.map((piece) => ({ bitmap: piece.bitmap, source: piece.crop.inner, ...placements.get(piece.part.index) }));
      image = await stitchToDataUrl(stitched, first.crop.inner.width, layout.height);
      height = layout.height / first.scale;
    }
    overlays.push({ id, image, overlay: { ...first.crop.overlay, height }, elementRect: first.elementRect });
  }
  decoded.forEach((bitmap) => bitmap.close());
  return overlays;
}

function describeOutcome(count, skipped, capped, clipped) {
  const notes = [];
  if (capped.length) notes.push(`${capped.length} very tall element${capped.length === 1 ? " was" : "s were"} sharpened only down to six screens`);
  if (clipped) notes.push("parts outside the window's width were left as they are");
  if (skipped.length && !count) notes.push(`nothing needed sharpening (${skipped[0].reason})`);
  return notes.length ? `Anti-aging: ${count} sharpened; ${notes.join("; ")}.` : null;
}

/** Capture, sharpen and overlay `targets` found in the tab; all or nothing per call. */
async function sharpenTargets(tab, targets, view, settings) {
  const started = performance.now();
  const timings = {};
  const lap = (name, since) => {
    timings[name] = Math.round(performance.now() - since);
    return performance.now();
  };
  let mark = started;
  // Asking the server first means a stopped server costs no scrolling or capturing.
  await checkHealth(fetch, settings.serverUrl, settings.token);
  mark = lap("healthMs", mark);
  const { pieces, skipped, capped } = await capturePieces(tab, targets, view);
  mark = lap("captureMs", mark);
  let status = await callPage(tab.id, "status");
  if (pieces.length) {
    const results = await sharpenImages(fetch, settings.serverUrl, pieces.map(({ image, sigma }) => ({ image, sigma })), settings.token);
    mark = lap("serverMs", mark);
    const overlays = await buildOverlays(pieces, results);
    status = await callPage(tab.id, "showOverlays", overlays);
    lap("overlayMs", mark);
  }
  const sharpened = new Set(pieces.map((piece) => piece.target.id)).size;
  const note = describeOutcome(sharpened, skipped, capped, pieces.some((piece) => piece.crop.clipped));
  if (note) await callPage(tab.id, "notify", note, "info");
  return { ok: true, sharpened, skipped, capped, elapsedMs: Math.round(performance.now() - started), timings, status };
}

async function reportFailure(tab, error) {
  let message = String(error?.message ?? error);
  if (/'<all_urls>' or 'activeTab' permission/.test(message)) message = CAPTURE_PERMISSION_HINT;
  try {
    await callPage(tab.id, "notify", message, "error");
  } catch {
    // The page itself is out of reach (a browser page): the toolbar badge carries the message.
    await chrome.action.setBadgeText({ tabId: tab.id, text: "!" });
    await chrome.action.setTitle({ tabId: tab.id, title: `Anti-aging: ${message}` });
  }
  return { ok: false, error: message };
}

async function run(tab, work) {
  try {
    await chrome.action.setBadgeText({ tabId: tab.id, text: "" });
    await injectPageAgent(tab.id);
    return await work(await loadSettings());
  } catch (error) {
    return reportFailure(tab, error);
  }
}

/** The context menu's action: the blurred element under the cursor (or the clicked image). */
export async function sharpenAtCursor(tab, info = {}) {
  return run(tab, async (settings) => {
    const found = await callPage(tab.id, "locate", { srcUrl: info.srcUrl ?? null, selectionText: info.selectionText ?? null });
    if (found.error) throw new Error(found.error);
    return sharpenTargets(tab, found.targets, found.view, settings);
  });
}

/** The popup's (and automatic mode's) action: every blurred element of the page. */
export async function sharpenAll(tab) {
  return run(tab, async (settings) => {
    const found = await callPage(tab.id, "scan");
    const targets = [...found.targets, ...found.uncertain];
    if (!targets.length) {
      await callPage(tab.id, "notify", "Anti-aging found no blurred text on this page.", "info");
      return { ok: true, sharpened: 0, skipped: [], capped: [], status: await callPage(tab.id, "status") };
    }
    return sharpenTargets(tab, targets, found.view, settings);
  });
}

/** How many blurred elements the page has and what the extension shows there now. */
export async function inspectTab(tabId) {
  await injectPageAgent(tabId);
  const found = await callPage(tabId, "scan");
  const status = await callPage(tabId, "status");
  return { found: found.targets.length, unchecked: found.uncertain.length, ...status };
}

export async function setShowOriginal(tabId, showOriginal) {
  await injectPageAgent(tabId);
  return callPage(tabId, "setShowOriginal", showOriginal);
}

export async function restoreTab(tabId) {
  await injectPageAgent(tabId);
  return callPage(tabId, "restore");
}

export async function serverHealth() {
  const settings = await loadSettings();
  try {
    return { ok: true, serverUrl: settings.serverUrl, ...(await checkHealth(fetch, settings.serverUrl, settings.token)) };
  } catch (error) {
    return { ok: false, serverUrl: settings.serverUrl, error: error.message };
  }
}
