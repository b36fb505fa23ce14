// What the context menu, the popup and automatic mode run: find blurred elements (in every frame
// Chrome lets us script), capture them, have the local server sharpen them, and overlay the
// results in the page; or take the page's own blur off its live text. read.js reads them as text
// with the same finding and capturing, exported here.
import { countMessage, message } from "./i18n.js";
import { planShots, captureDelay, recordCapture, stitchLayout } from "./capture-plan.js";
import { frameChains, placeInTab } from "./frames.js";
import { blurReach, deviceScale, planCrop, scaleRect, tabToFrame } from "./geometry.js";
import { decodeDataUrl, cropToDataUrl, pixelsOf, stitchToDataUrl } from "./imaging.js";
import { callFrame, callFrames, injectPageAgent, TOP_FRAME } from "./page-calls.js";
import { checkHealth, sharpenImages } from "./requests.js";
import { normalizeSettings } from "./settings.js";
import { judgingPitch, looksBlurred } from "./sharpness.js";

const CAPTURE_QUOTA_ERROR = "MAX_CAPTURE_VISIBLE_TAB_CALLS_PER_SECOND";
const CAPTURE_RETRIES = 3;
// Child frames post their keys to their parents; this lets those messages arrive.
const FRAME_HELLO_MS = 50;
const NO_SPREAD = Object.freeze({ left: 0, right: 0, top: 0, bottom: 0 });

/** "Try Sharpen a region…", said wherever detection came up empty. */
const regionHint = () => message("hint_sharpen_region", message("menu_sharpen_region"));

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

/** frameId -> chain of frame boundaries up to the top frame (frames.js), from the frames' reports. */
function chainsOf(reports) {
  return frameChains(reports.map(({ frameId, value }) => ({ frameId, key: value.key, boundaries: value.boundaries })), TOP_FRAME);
}

/** Ask every frame where its child frames are: {chains: frameId -> chain, silentOrigins: frames out of reach}. */
export async function locateFrames(tabId) {
  await callFrames(tabId, "helloToParent");
  await sleep(FRAME_HELLO_MS);
  const reports = await callFrames(tabId, "childFrameBoundaries");
  return { chains: chainsOf(reports), silentOrigins: [...new Set(reports.flatMap(({ value }) => value.silent))] };
}

/** Targets found in frames, placed on the tab (frameId, and rect/top/bottom in the top frame's terms). */
export function placeTargets(found, chains, topView) {
  const placed = [];
  let unplaced = 0;
  for (const { frameId, targets, view } of found) {
    const chain = chains.get(frameId);
    for (const target of targets) {
      if (!chain) {
        unplaced += 1;
        continue;
      }
      const { rect } = placeInTab(target.rect, chain, view);
      placed.push({ ...target, frameId, rect, top: rect.y + topView.scrollY, bottom: rect.y + rect.height + topView.scrollY });
    }
  }
  return { placed, unplaced };
}

function reachOf(target, scale) {
  return blurReach({ sigmaCss: target.sigmaCss, reachSigmaCss: target.reachSigmaCss ?? null, spread: target.spread ?? NO_SPREAD }, scale);
}

/**
 * Capture every part of every target: scroll as planned, hide the extension's layers in every
 * frame, capture, cut the widened crops. The page's scroll position is restored whatever happens.
 */
export async function capturePieces(tab, targets, view) {
  const byId = new Map(targets.map((target) => [target.id, target]));
  const items = targets.map((target) => {
    const reach = reachOf(target, 1);
    return { id: target.id, top: target.top, bottom: target.bottom, margin: Math.max(reach.top, reach.bottom) };
  });
  const plan = planShots(items, view);
  const partCounts = new Map();
  for (const shot of plan.shots) for (const part of shot.parts) partCounts.set(part.id, Math.max(partCounts.get(part.id) ?? 0, part.index + 1));
  const pieces = [];
  const skipped = [];
  try {
    for (const shot of plan.shots) {
      const reports = await callFrames(tab.id, "prepareShot", { scrollX: view.scrollX, scrollY: shot.scrollY, ids: shot.parts.map((part) => part.id) });
      const chains = chainsOf(reports);
      const fresh = new Map();
      for (const { frameId, value } of reports) {
        for (const [id, rect] of Object.entries(value.rects)) fresh.set(id, { frameId, rect, view: value.view });
      }
      const topView = reports[0].value.view;
      // captureVisibleTab takes whatever tab is on screen: never capture another tab by mistake.
      const current = await chrome.tabs.get(tab.id);
      if (!current.active) throw new Error(message("error_tab_not_on_screen"));
      const bitmap = await decodeDataUrl(await captureVisibleTab(current.windowId));
      const scale = deviceScale({ captureWidth: bitmap.width, viewportWidth: topView.width, devicePixelRatio: topView.devicePixelRatio });
      for (const part of shot.parts) {
        const target = byId.get(part.id);
        const now = fresh.get(part.id);
        const chain = now ? chains.get(now.frameId) : null;
        if (!now || !chain) {
          skipped.push({ id: part.id, reason: now ? message("skipped_frame_not_placed") : message("skipped_element_left_page") });
          continue;
        }
        const { rect: elementRect, bounds } = placeInTab(now.rect, chain, now.view);
        const partBox = { x: elementRect.x, y: elementRect.y + (part.top - target.top), width: elementRect.width, height: part.bottom - part.top };
        const sigma = target.sigmaCss === null ? null : target.sigmaCss * scale;
        const reach = reachOf(target, scale);
        // The overlay covers the blur's halo too; a tall element's parts show it only at its ends,
        // and a picked region is exactly the rectangle the user drew.
        const last = part.index === partCounts.get(part.id) - 1;
        const show = target.kind === "region" ? NO_SPREAD : { ...reach, top: part.index === 0 ? reach.top : 0, bottom: last ? reach.bottom : 0 };
        const crop = planCrop({ box: partBox, reach, show, scale, capture: { width: bitmap.width, height: bitmap.height },
          bounds: bounds ? scaleRect(bounds, scale) : null });
        if (!crop) {
          skipped.push({ id: part.id, reason: message("skipped_element_not_visible") });
          continue;
        }
        // Judged at the pitch of the picture's own pixels or of CSS pixels, not of the screen's (sharpness.js).
        const pitch = judgingPitch(scale, target.imagePerCss);
        if (target.kind === "image-unchecked" && !looksBlurred(pixelsOf(bitmap, crop.box), crop.box.width, crop.box.height, pitch)) {
          skipped.push({ id: part.id, reason: message("skipped_image_looks_sharp") });
          continue;
        }
        pieces.push({ target, part, box: partBox, crop, scale, chain, frameId: now.frameId, elementRect: now.rect, sigma, image: await cropToDataUrl(bitmap, crop.crop) });
      }
      bitmap.close();
    }
  } finally {
    await callFrames(tab.id, "endCapture", { scrollX: view.scrollX, scrollY: view.scrollY });
  }
  return { pieces, skipped, capped: plan.capped };
}

/** Cut each sharpened crop back to its element and halo, and stitch parts of tall elements. */
export async function buildOverlays(pieces, results) {
  const decoded = await Promise.all(results.map((result) => decodeDataUrl(result.image)));
  decoded.forEach((bitmap, i) => {
    const { crop } = pieces[i].crop;
    if (bitmap.width !== crop.width || bitmap.height !== crop.height) {
      throw new Error(message("error_server_image_size", `${crop.width}\u00d7${crop.height}`, `${bitmap.width}\u00d7${bitmap.height}`));
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
    let overlay = first.crop.overlay;
    if (group.length === 1) {
      image = await cropToDataUrl(first.bitmap, first.crop.inner);
    } else {
      // Parts stitch edge to edge; the first part's top halo and the last part's bottom one extend them.
      const last = group[group.length - 1];
      const parts = group.map((piece) => ({ index: piece.part.index, top: piece.crop.area.y / piece.scale + piece.part.top - piece.crop.box.y / piece.scale,
        bottom: (piece.crop.area.y + piece.crop.area.height) / piece.scale + piece.part.top - piece.crop.box.y / piece.scale }));
      const layout = stitchLayout(parts, first.scale);
      const placements = new Map(layout.placements.map((p) => [p.index, p]));
      const stitched = group.map((piece) => ({ bitmap: piece.bitmap, source: piece.crop.inner, ...placements.get(piece.part.index) }));
      image = await stitchToDataUrl(stitched, first.crop.inner.width, layout.height);
      overlay = { ...first.crop.overlay, height: layout.height / first.scale };
      if (last.crop.area.x !== first.crop.area.x) throw new Error(message("error_tall_element_moved"));
    }
    overlays.push({ id, frameId: first.frameId, image, overlay: tabToFrame(overlay, first.chain), elementRect: first.elementRect });
  }
  decoded.forEach((bitmap) => bitmap.close());
  return overlays;
}

/** The panel's note after a run, when something was left out; null when all went as asked. */
function describeOutcome(count, skipped, capped, clipped) {
  const notes = [];
  if (capped.length) notes.push(countMessage("outcome_capped", capped.length));
  if (clipped) notes.push(message("outcome_clipped"));
  if (skipped.length && !count) notes.push(message("outcome_nothing_needed", skipped[0].reason, regionHint()));
  return notes.length ? countMessage("outcome_summary", count, notes.join(message("list_separator"))) : null;
}

/** The extension's state in every frame of the tab, added up. */
export async function tabStatus(tabId) {
  const frames = await callFrames(tabId, "status");
  const tag = (list, frameId) => list.map((entry) => ({ ...entry, frameId }));
  return {
    overlays: frames.reduce((sum, { value }) => sum + value.overlays, 0),
    revealed: frames.reduce((sum, { value }) => sum + value.revealed, 0),
    showingOriginal: frames.some(({ value }) => value.showingOriginal),
    placements: frames.flatMap(({ frameId, value }) => tag(value.placements, frameId)),
    pageText: frames.flatMap(({ frameId, value }) => tag(value.pageText, frameId)),
  };
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
  if (pieces.length) {
    const results = await sharpenImages(fetch, settings.serverUrl, pieces.map(({ image, sigma }) => ({ image, sigma })), settings.token);
    mark = lap("serverMs", mark);
    const overlays = await buildOverlays(pieces, results);
    const byFrame = new Map();
    for (const overlay of overlays) byFrame.set(overlay.frameId, [...(byFrame.get(overlay.frameId) ?? []), overlay]);
    for (const [frameId, items] of byFrame) await callFrame(tab.id, frameId, "showOverlays", items);
    lap("overlayMs", mark);
  }
  const sharpened = new Set(pieces.map((piece) => piece.target.id)).size;
  const note = describeOutcome(sharpened, skipped, capped, pieces.some((piece) => piece.crop.clipped));
  if (note) await callFrame(tab.id, TOP_FRAME, "notify", note, "info");
  return { ok: true, sharpened, skipped, capped, elapsedMs: Math.round(performance.now() - started), timings, status: await tabStatus(tab.id) };
}

async function reportFailure(tab, error) {
  let text = String(error?.message ?? error);
  // Chrome's own words for a capture without a user gesture: say what to click instead.
  if (/'<all_urls>' or 'activeTab' permission/.test(text)) text = message("capture_permission_hint", message("popup_sharpen_all"));
  try {
    await callFrame(tab.id, TOP_FRAME, "notify", text, "error");
  } catch {
    // The page itself is out of reach (a browser page): the toolbar badge carries the message.
    await chrome.action.setBadgeText({ tabId: tab.id, text: "!" });
    await chrome.action.setTitle({ tabId: tab.id, title: message("action_title_error", text) });
  }
  return { ok: false, error: text };
}

export async function run(tab, work) {
  try {
    await chrome.action.setBadgeText({ tabId: tab.id, text: "" });
    await injectPageAgent(tab.id);
    return await work(await loadSettings());
  } catch (error) {
    return reportFailure(tab, error);
  }
}

/** The element the context menu was opened on, in its frame, placed on the tab. */
export async function locateAtCursor(tab, info) {
  const frameId = info.frameId ?? TOP_FRAME;
  const found = await callFrame(tab.id, frameId, "locate", { srcUrl: info.srcUrl ?? null, selectionText: info.selectionText ?? null });
  if (found.error) throw new Error(found.error);
  return { frameId, found };
}

/** Targets found in one frame ({targets, view} in its terms), placed on the tab: {placed, view: the top frame's}. */
export async function placeFrameTargets(tab, frameId, found) {
  const topView = frameId === TOP_FRAME ? found.view : (await callFrame(tab.id, TOP_FRAME, "viewState"));
  const chains = frameId === TOP_FRAME ? new Map([[TOP_FRAME, []]]) : (await locateFrames(tab.id)).chains;
  const { placed } = placeTargets([{ frameId, targets: found.targets, view: found.view }], chains, topView);
  if (!placed.length) throw new Error(message("error_frame_not_placed", regionHint()));
  return { placed, view: topView };
}

/** The context menu's action: the blurred element under the cursor (or the clicked image). */
export async function sharpenAtCursor(tab, info = {}) {
  return run(tab, async (settings) => {
    const { frameId, found } = await locateAtCursor(tab, info);
    const { placed, view } = await placeFrameTargets(tab, frameId, found);
    return sharpenTargets(tab, placed, view, settings);
  });
}

/** Every blurred element in every reachable frame, placed on the tab: {targets, view, unplaced}. */
export async function scanTab(tabId) {
  const frames = await callFrames(tabId, "scan");
  const topView = frames[0].value.view;
  const { chains, silentOrigins } = await locateFrames(tabId);
  const found = frames.map(({ frameId, value }) => ({ frameId, targets: [...value.targets, ...value.uncertain], view: value.view }));
  const { placed, unplaced } = placeTargets(found, chains, topView);
  const uncertain = placed.filter((target) => target.kind === "image-unchecked");
  return { targets: placed.filter((target) => target.kind !== "image-unchecked"), uncertain, view: topView, unplaced, frames: frames.length, silentOrigins };
}

/** The popup's (and automatic mode's) action: every blurred element of the page. */
export async function sharpenAll(tab) {
  return run(tab, async (settings) => {
    const found = await scanTab(tab.id);
    const targets = [...found.targets, ...found.uncertain];
    if (!targets.length) {
      const nothingFound = message("nothing_found", regionHint());
      await callFrame(tab.id, TOP_FRAME, "notify", nothingFound, "info");
      return { ok: true, sharpened: 0, skipped: [], capped: [], message: nothingFound, status: await tabStatus(tab.id) };
    }
    return sharpenTargets(tab, targets, found.view, settings);
  });
}

/**
 * "Sharpen a region…": the user drags a rectangle over the page (Escape cancels), which is
 * sharpened blind, or with the sigma (CSS px) set in the popup.
 */
export async function sharpenRegion(tab, { sigmaCss = undefined } = {}) {
  return run(tab, async (settings) => {
    const sigma = sigmaCss === undefined ? settings.regionSigmaCss : sigmaCss;
    const rect = await callFrame(tab.id, TOP_FRAME, "pickRegion");
    if (!rect) return { ok: true, cancelled: true, sharpened: 0, skipped: [], capped: [], status: await tabStatus(tab.id) };
    const target = await callFrame(tab.id, TOP_FRAME, "regionTarget", rect, sigma);
    const view = await callFrame(tab.id, TOP_FRAME, "viewState");
    return sharpenTargets(tab, [{ ...target, frameId: TOP_FRAME }], view, settings);
  });
}

/**
 * "Show the page's own text": take the page's blur off its live text, in place, with no model.
 * From the context menu, the element under the cursor; from the popup, every such element.
 */
export async function revealOwnText(tab, info = null) {
  return run(tab, async () => {
    if (info) {
      const { frameId, found } = await locateAtCursor(tab, info);
      const ids = found.targets.filter((target) => target.ownText).map((target) => target.id);
      await callFrame(tab.id, frameId, "revealOwnText", ids, { quiet: true });
    } else {
      await callFrames(tab.id, "revealOwnText", null, { quiet: true });
    }
    const status = await tabStatus(tab.id);
    if (status.revealed) return { ok: true, revealed: status.revealed, status };
    const noPageText = message("no_page_text", message("menu_sharpen_text"), regionHint());
    await callFrame(tab.id, TOP_FRAME, "notify", noPageText, "info");
    return { ok: true, revealed: 0, status, message: noPageText };
  });
}

/** How many blurred elements the page has and what the extension shows there now. */
export async function inspectTab(tabId) {
  await injectPageAgent(tabId);
  const found = await scanTab(tabId);
  const status = await tabStatus(tabId);
  return { found: found.targets.length, unchecked: found.uncertain.length, frames: found.frames, silentOrigins: found.silentOrigins, ...status };
}

export async function setShowOriginal(tabId, showOriginal) {
  await injectPageAgent(tabId);
  await callFrames(tabId, "setShowOriginal", showOriginal);
  return tabStatus(tabId);
}

export async function restoreTab(tabId) {
  await injectPageAgent(tabId);
  await callFrames(tabId, "restore");
  return tabStatus(tabId);
}

export async function serverHealth() {
  const settings = await loadSettings();
  try {
    return { ok: true, serverUrl: settings.serverUrl, ...(await checkHealth(fetch, settings.serverUrl, settings.token)) };
  } catch (error) {
    return { ok: false, serverUrl: settings.serverUrl, error: error.message };
  }
}
