// What the page's panel shows for the page agent's state. Pure: no DOM, tested with node --test.
import * as text from "./messages.js";

/**
 * state: {sharpened, revealed, read (counts), showingOriginal, canReveal (a sharpened element has
 * live text), canRead (an element shows sharpened pixels, which can be read as text), isTop (only
 * the top frame's panel shows: it speaks for the tab)}; message and level: a notice instead of
 * the summary ("error" stays until closed).
 */
export function panelView({ sharpened, revealed, read = 0, showingOriginal, canReveal, canRead = false, isTop }, message = null, level = "info") {
  const shown = sharpened + revealed + read;
  const content = message ?? text.summary(sharpened, revealed, read);
  let toggleLabel = text.SHOW_ORIGINAL_BUTTON;
  if (showingOriginal) toggleLabel = sharpened || read ? text.SHOW_SHARPENED_BUTTON : text.SHOW_UNBLURRED_BUTTON;
  return {
    text: content,
    level: message ? level : "info",
    toggleLabel,
    showToggle: shown > 0,
    showReveal: canReveal && !showingOriginal,
    showRead: canRead && !showingOriginal,
    restoreLabel: shown ? text.RESTORE_BUTTON : text.CLOSE_BUTTON,
    visible: Boolean(content) && isTop,
  };
}
