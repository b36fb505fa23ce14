// The texts the page agent shows in the page or hands back to the service worker that are made of
// several messages (counts, lists, hints inside sentences), and the hints they share (the service
// worker's own, after Read text, are in lib/read-notices.js). Every word comes from _locales/
// through lib/i18n.js, looked up when it is shown, never at import: this module runs in the page's
// isolated world (chrome.i18n is there) and under node --test with a stand-in chrome.i18n
// (tests/extension/chrome-i18n.mjs). Single messages (button labels, tooltips) are asked for where
// they are used.
import { countMessage, listOf, message } from "../lib/i18n.js";

/** "Try “Sharpen a region…” (in the right-click menu or the toolbar popup) and drag over the text." */
export const sharpenRegionHint = () => message("hint_sharpen_region", message("menu_sharpen_region"));

/** What the scanner looks for, in words. */
export const lookedFor = () => message("looked_for");

export const nothingUnderCursor = () => message("nothing_under_cursor", sharpenRegionHint());
export const noBlurUnderCursor = () => message("no_blur_under_cursor", sharpenRegionHint());
export const noPageText = () => message("no_page_text", message("menu_sharpen_text"), sharpenRegionHint());

/** The region picker's hint; purpose: "sharpen" or "read". */
export const pickerHint = (purpose = "sharpen") => (purpose === "read" ? message("picker_hint_read") : message("picker_hint_sharpen"));

/** The panel's summary of what the page shows, or "" when it shows nothing of ours. */
export function summary(sharpened, revealed, read = 0) {
  const parts = [];
  if (sharpened) parts.push(countMessage("summary_sharpened", sharpened));
  if (read) parts.push(message("summary_read", read));
  if (revealed) parts.push(message("summary_revealed", revealed));
  return parts.length ? message("panel_summary", listOf(parts)) : "";
}

/** How a picked region is named in the popup's list while it is being sharpened. */
export function regionLabel(width, height) {
  return message("region_label", Math.round(width), Math.round(height));
}

/** How a region is named in the page's status (the popup's list of elements). */
export const regionStatusLabel = () => message("region_status_label");
