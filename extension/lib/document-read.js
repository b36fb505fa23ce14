// "Read the document": the popup opens the document view (document/document.html) in a window of
// its own, beside the tab, so the tab stays on screen for its captures. The view connects a port;
// here, in the service worker, the page agent finds the document's pages (scrolling through it so
// that lazily loaded pages load), then each page in order is brought into view, captured and read
// by the server's /v1/read, and reported to the view as it comes. Cancelling (or closing the view)
// stops before the next capture, not waiting for the server; the page's scroll position comes
// back whatever happens.
import { DOCUMENT_PORT, pageReading } from "./document.js";
import { message } from "./i18n.js";
import { callFrame, injectPageAgent, TOP_FRAME } from "./page-calls.js";
import { linesOnElement } from "./reading.js";
import { checkHealth, readImages } from "./requests.js";
import { capturePieces, loadSettings } from "./sharpen.js";

export { DOCUMENT_PORT };
export const DOCUMENT_VIEW = "document/document.html";
// The view's window: this wide, at the right edge of the tab's window (overlapping it: captures
// take the tab's own pixels, not the screen's, and a window partly in view keeps painting).
const VIEW_WIDTH = 520;

/** Open the document view for `tab` (the popup's "Read the whole document"). */
export async function openDocumentView(tab) {
  const url = `${chrome.runtime.getURL(DOCUMENT_VIEW)}?tab=${tab.id}`;
  const source = await chrome.windows.get(tab.windowId);
  const beside = { left: Math.max(0, source.left + source.width - VIEW_WIDTH), top: source.top, width: VIEW_WIDTH, height: source.height };
  let view;
  try {
    view = await chrome.windows.create({ url, type: "popup", ...beside });
  } catch {
    // Bounds the screen cannot show (the window is off screen, or bigger than it): let the browser place it.
    view = await chrome.windows.create({ url, type: "popup", width: VIEW_WIDTH });
  }
  return { ok: true, windowId: view.id };
}

class Cancelled extends Error {}

/** `promise`, or a Cancelled rejection as soon as `signal` aborts (the work itself finishes unheard). */
function unlessCancelled(promise, signal) {
  if (signal.aborted) return Promise.reject(new Cancelled());
  return new Promise((resolve, reject) => {
    const cancel = () => reject(new Cancelled());
    signal.addEventListener("abort", cancel, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", cancel));
  });
}

/** One page, in view: captured (in parts when taller than the window) and read. */
async function readPage(tab, target, view, settings, signal) {
  // Not cut short: a capture puts the scroll position back when it ends, and ends within a second.
  const { pieces, skipped } = await capturePieces(tab, [target], view);
  if (!pieces.length) return { status: "skipped", reason: skipped[0]?.reason ?? message("skipped_element_not_visible") };
  const readings = await unlessCancelled(readImages(fetch, settings.serverUrl, pieces.map(({ image, sigma }) => ({ image, sigma })), settings.token), signal);
  const several = pieces.length > 1;
  const parts = pieces.map((piece, i) => {
    const partOffset = piece.part.top - piece.target.top;
    const lines = linesOnElement(readings[i], { crop: piece.crop.crop, box: piece.box, scale: piece.scale, partOffset,
      span: several ? [partOffset, piece.part.bottom - piece.target.top] : null });
    return { reading: readings[i], lines, top: piece.part.top };
  }).sort((a, b) => a.top - b.top);
  return pageReading(parts);
}

/**
 * Read every page of the document in `tab`, in order; report(event) gets applyEvent's events
 * (lib/document.js) as they happen. signal: an AbortSignal that cancels.
 */
export async function readDocument(tab, { report, signal }) {
  let found = null;
  let reading = 0;
  try {
    await injectPageAgent(tab.id);
    const settings = await loadSettings();
    await checkHealth(fetch, settings.serverUrl, settings.token);
    // Not cut short either: the page agent scrolls through the document and back (cancelled right after).
    found = await callFrame(tab.id, TOP_FRAME, "findDocumentPages");
    report({ type: "found", title: found.title, url: found.url, lang: found.lang, total: found.pages.length });
    for (const [i, page] of found.pages.entries()) {
      if (signal.aborted) throw new Cancelled();
      reading = i + 1;
      report({ type: "reading", number: reading });
      const ready = await unlessCancelled(callFrame(tab.id, TOP_FRAME, "preparePage", page.id), signal);
      let result = { status: "skipped", reason: message("skipped_element_left_page") };
      if (ready) {
        result = await readPage(tab, { ...ready.target, frameId: TOP_FRAME }, ready.view, settings, signal);
        // A page still loading when its time was up was read as it showed: say why it may be unreadable.
        if (!ready.loaded && result.status === "unreadable") result = { ...result, reason: message("document_page_not_loaded") };
      }
      report({ type: "page", number: reading, page: result });
    }
    report({ type: "done" });
  } catch (error) {
    if (error instanceof Cancelled) report({ type: "cancelled" });
    else report({ type: "error", message: String(error?.message ?? error), number: reading });
  } finally {
    if (found) await callFrame(tab.id, TOP_FRAME, "finishDocument").catch(() => null);
  }
}

/** The service worker's side of a document view's port: {type: "start", tabId} reads, {type: "cancel"} (or closing the view) cancels. */
export function serveDocumentPort(port) {
  const controller = new AbortController();
  const report = (event) => {
    // The view may have gone: nobody to tell.
    try {
      port.postMessage(event);
    } catch {
      controller.abort();
    }
  };
  port.onDisconnect.addListener(() => controller.abort());
  port.onMessage.addListener(async (request) => {
    if (request?.type === "cancel") controller.abort();
    if (request?.type !== "start") return;
    try {
      await readDocument(await chrome.tabs.get(request.tabId), { report, signal: controller.signal });
    } catch (error) {
      report({ type: "error", message: String(error?.message ?? error) });
    }
  });
}
