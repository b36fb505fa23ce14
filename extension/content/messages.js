// The texts the page agent shows in the page or hands back to the service worker that are made of
// several messages (counts, lists, hints inside sentences), and the hints they share. Every word
// comes from _locales/ through lib/i18n.js, looked up when it is shown, never at import: this
// module runs in the page's isolated world (chrome.i18n is there), in the service worker, and
// under node --test with a stand-in chrome.i18n (tests/extension/chrome-i18n.mjs). Single
// messages (button labels, tooltips) are asked for where they are used.
import { countMessage, message } from "../lib/i18n.js";

/** "Try “Sharpen a region…” (in the right-click menu or the toolbar popup) and drag over the text." */
export const sharpenRegionHint = () => message("hint_sharpen_region", message("menu_sharpen_region"));

/** The same hint for reading: "Try “Read a region…” …". */
export const readRegionHint = () => message("hint_sharpen_region", message("menu_read_region"));

/** What the scanner looks for, in words. */
export const lookedFor = () => message("looked_for");

export const nothingUnderCursor = () => message("nothing_under_cursor", sharpenRegionHint());
export const noBlurUnderCursor = () => message("no_blur_under_cursor", sharpenRegionHint());
export const noPageText = () => message("no_page_text", message("menu_sharpen_text"), sharpenRegionHint());

/** The region picker's hint; purpose: "sharpen" or "read". */
export const pickerHint = (purpose = "sharpen") => (purpose === "read" ? message("picker_hint_read") : message("picker_hint_sharpen"));

/** Parts of a summary, already in words, as one list. */
const joined = (parts) => parts.join(message("list_separator"));

/** Nothing was read: why (the first element skipped), and what to try. */
export function nothingToRead(reason) {
  return message("nothing_to_read", reason, readRegionHint());
}

/** The service worker's notice after "Read text": what was read, revealed or could not be read. */
export function readSummary({ read = 0, partly = 0, unreadable = 0, revealed = 0 }) {
  if (read + unreadable === 0) return revealed ? message("read_as_page_text") : null;
  if (read === 0 && unreadable === 1 && revealed === 0) return message("read_unreadable");
  const parts = [];
  if (read) parts.push(countMessage("read_summary_read", read));
  if (unreadable) parts.push(message("read_summary_unreadable", unreadable));
  if (revealed) parts.push(message("read_summary_revealed", revealed));
  return partly ? message("read_summary_partly", joined(parts)) : message("read_summary", joined(parts));
}

/** The panel's summary of what the page shows, or "" when it shows nothing of ours. */
export function summary(sharpened, revealed, read = 0) {
  const parts = [];
  if (sharpened) parts.push(countMessage("summary_sharpened", sharpened));
  if (read) parts.push(message("summary_read", read));
  if (revealed) parts.push(message("summary_revealed", revealed));
  return parts.length ? message("panel_summary", joined(parts)) : "";
}

/** How a picked region is named in the popup's list while it is being sharpened. */
export function regionLabel(width, height) {
  return message("region_label", Math.round(width), Math.round(height));
}

/** How a region is named in the page's status (the popup's list of elements). */
export const regionStatusLabel = () => message("region_status_label");
