// The service worker's notices after "Read text" and "Read a region…", made of several messages.
// Words come from _locales/ through i18n.js, looked up when shown; tested under node --test with
// a stand-in chrome.i18n (tests/extension/chrome-i18n.mjs).
import { countMessage, listOf, message } from "./i18n.js";

/** "Try “Read a region…” (in the right-click menu or the toolbar popup) and drag over the text." */
export const readRegionHint = () => message("hint_sharpen_region", message("menu_read_region"));

/** Nothing was read: why (the first element skipped), and what to try. */
export function nothingToRead(reason) {
  return message("nothing_to_read", reason, readRegionHint());
}

/** What was read, revealed or could not be read; null when nothing was. */
export function readSummary({ read = 0, partly = 0, unreadable = 0, revealed = 0 }) {
  if (read + unreadable === 0) return revealed ? message("read_as_page_text") : null;
  if (read === 0 && unreadable === 1 && revealed === 0) return message("read_unreadable");
  const parts = [];
  if (read) parts.push(countMessage("read_summary_read", read));
  if (unreadable) parts.push(message("read_summary_unreadable", unreadable));
  if (revealed) parts.push(message("read_summary_revealed", revealed));
  return partly ? message("read_summary_partly", listOf(parts)) : message("read_summary", listOf(parts));
}
