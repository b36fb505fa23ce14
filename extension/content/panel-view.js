// What the page's panel shows for the page agent's state. Pure: no DOM, tested with node --test
// (its words from chrome.i18n, which tests/extension/chrome-i18n.mjs stands in for).
import { message } from "../lib/i18n.js";
import { summary } from "./messages.js";

/**
 * state: {sharpened, revealed, read (counts), showingOriginal, canReveal (a sharpened element has
 * live text), canRead (an element shows sharpened pixels, which can be read as text), isTop (only
 * the top frame's panel shows: it speaks for the tab)}; notice and level: a notice instead of
 * the summary ("error" stays until closed).
 */
export function panelView({ sharpened, revealed, read = 0, showingOriginal, canReveal, canRead = false, isTop }, notice = null, level = "info") {
  const shown = sharpened + revealed + read;
  const content = notice ?? summary(sharpened, revealed, read);
  let toggleLabel = message("panel_show_original");
  if (showingOriginal) toggleLabel = sharpened || read ? message("panel_show_sharpened") : message("panel_show_unblurred");
  return {
    text: content,
    level: notice ? level : "info",
    toggleLabel,
    showToggle: shown > 0,
    showReveal: canReveal && !showingOriginal,
    showRead: canRead && !showingOriginal,
    restoreLabel: shown ? message("panel_restore") : message("panel_close"),
    visible: Boolean(content) && isTop,
  };
}
