// Every text the page agent shows in the page or hands back to the service worker, gathered so
// that a translation can replace them in one place.

export const NOTHING_FOUND_HINT = "Try \u201cSharpen a region\u2026\u201d (in the right-click menu or the toolbar popup) and drag over the text.";
export const LOOKED_FOR = "a CSS blur (filter or backdrop-filter), text drawn only as a blurred text-shadow, and blurry pictures of text";

export const NOTHING_UNDER_CURSOR = `Nothing to sharpen under the cursor. Right-click directly on the blurred text. ${NOTHING_FOUND_HINT}`;
export const NO_BLUR_UNDER_CURSOR = `No blurred text under the cursor: looked for ${LOOKED_FOR} on the element and its ancestors. ${NOTHING_FOUND_HINT}`;
export const NO_PAGE_TEXT =
  "No page text to show: looked for text in the page itself under a CSS blur or the text-shadow trick; pictures and canvases have none. " +
  `Use \u201cSharpen text\u201d for those, or ${NOTHING_FOUND_HINT[0].toLowerCase()}${NOTHING_FOUND_HINT.slice(1)}`;

export const PICKER_HINT = "Drag over the text to sharpen \u00b7 Esc cancels";

export const REVEAL_BUTTON = "Show the page\u2019s own text";
export const REVEAL_TITLE = "Remove the page's blur: its own text, no model";
export const RESTORE_BUTTON = "Restore";
export const CLOSE_BUTTON = "Close";
export const RESTORE_TITLE = "Restore the page (Esc)";
export const SHOW_ORIGINAL_BUTTON = "Show original";
export const SHOW_SHARPENED_BUTTON = "Show sharpened";
export const SHOW_UNBLURRED_BUTTON = "Show unblurred";

/** The panel's summary of what the page shows, or "" when it shows nothing of ours. */
export function summary(sharpened, revealed) {
  const parts = [];
  if (sharpened) parts.push(`${sharpened} element${sharpened === 1 ? "" : "s"} sharpened`);
  if (revealed) parts.push(`${revealed} showing the page\u2019s own text`);
  return parts.length ? `Anti-aging: ${parts.join("; ")}.` : "";
}

/** How a picked region is named in the popup's list while it is being sharpened. */
export function regionLabel(width, height) {
  return `${Math.round(width)}\u00d7${Math.round(height)} region`;
}

export const REGION_STATUS_LABEL = "region";
