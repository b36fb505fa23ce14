// What the page's panel shows for the page agent's state. Pure: no DOM, tested with node --test.
import * as text from "./messages.js";

/**
 * state: {sharpened, revealed (counts), showingOriginal, canReveal (a sharpened element has live
 * text), isTop (only the top frame's panel shows: it speaks for the tab)}; message and level: a
 * notice instead of the summary ("error" stays until closed).
 */
export function panelView({ sharpened, revealed, showingOriginal, canReveal, isTop }, message = null, level = "info") {
  const shown = sharpened + revealed;
  const content = message ?? text.summary(sharpened, revealed);
  let toggleLabel = text.SHOW_ORIGINAL_BUTTON;
  if (showingOriginal) toggleLabel = sharpened ? text.SHOW_SHARPENED_BUTTON : text.SHOW_UNBLURRED_BUTTON;
  return {
    text: content,
    level: message ? level : "info",
    toggleLabel,
    showToggle: shown > 0,
    showReveal: canReveal && !showingOriginal,
    restoreLabel: shown ? text.RESTORE_BUTTON : text.CLOSE_BUTTON,
    visible: Boolean(content) && isTop,
  };
}
