// Every text the page agent shows in the page or hands back to the service worker, gathered so
// that a translation can replace them in one place.

export const NOTHING_FOUND_HINT = "Try \u201cSharpen a region\u2026\u201d (in the right-click menu or the toolbar popup) and drag over the text.";
export const READ_REGION_HINT = "Try \u201cRead a region\u2026\u201d (in the right-click menu or the toolbar popup) and drag over the text.";
export const LOOKED_FOR = "a CSS blur (filter or backdrop-filter), text drawn only as a blurred text-shadow, and blurry pictures of text";

export const NOTHING_UNDER_CURSOR = `Nothing to sharpen under the cursor. Right-click directly on the blurred text. ${NOTHING_FOUND_HINT}`;
export const NO_BLUR_UNDER_CURSOR = `No blurred text under the cursor: looked for ${LOOKED_FOR} on the element and its ancestors. ${NOTHING_FOUND_HINT}`;
export const NO_PAGE_TEXT =
  "No page text to show: looked for text in the page itself under a CSS blur or the text-shadow trick; pictures and canvases have none. " +
  `Use \u201cSharpen text\u201d for those, or ${NOTHING_FOUND_HINT[0].toLowerCase()}${NOTHING_FOUND_HINT.slice(1)}`;

export const PICKER_HINT = "Drag over the text to sharpen \u00b7 Esc cancels";
export const READ_PICKER_HINT = "Drag over the text to read \u00b7 Esc cancels";

export const REVEAL_BUTTON = "Show the page\u2019s own text";
export const REVEAL_TITLE = "Remove the page's blur: its own text, no model";
export const RESTORE_BUTTON = "Restore";
export const CLOSE_BUTTON = "Close";
export const RESTORE_TITLE = "Restore the page (Esc)";
export const SHOW_ORIGINAL_BUTTON = "Show original";
export const SHOW_SHARPENED_BUTTON = "Show sharpened";
export const SHOW_UNBLURRED_BUTTON = "Show unblurred";

// "Read text": the page's panel, each text layer's bar, and the service worker's notices.
export const READ_BUTTON = "Read text";
export const READ_TITLE = "Read the sharpened elements as text you can select and copy";
export const COPY_TEXT_BUTTON = "Copy text";
export const COPIED = "Copied";
export const COPY_FAILED = "The browser did not allow copying: the text is selected, press Ctrl+C (\u2318C).";
export const SHOW_PIXELS_BUTTON = "Show pixels";
export const SHOW_TEXT_BUTTON = "Show text";
export const UNCERTAIN_TITLE = "uncertain";
export const UNREADABLE = "This text cannot be read";
export const PARTLY_READ = "Some characters are uncertain: they are underlined with dots.";
export const READ_AS_PAGE_TEXT =
  "This text is in the page itself: its blur was taken off instead of reading it (exact, no model needed).";

/** Nothing was read: why (the first element skipped), and what to try. */
export function nothingToRead(reason) {
  return `Anti-aging: nothing to read (${reason}). ${READ_REGION_HINT}`;
}

/** The service worker's notice after "Read text": what was read, revealed or could not be read. */
export function readSummary({ read = 0, partly = 0, unreadable = 0, revealed = 0 }) {
  if (read + unreadable === 0) return revealed ? READ_AS_PAGE_TEXT : null;
  if (read === 0 && unreadable === 1 && revealed === 0) return `${UNREADABLE}.`;
  const parts = [];
  if (read) parts.push(`${read} element${read === 1 ? "" : "s"} read as text`);
  if (unreadable) parts.push(`${unreadable} cannot be read`);
  if (revealed) parts.push(`${revealed} showing the page\u2019s own text (exact, no model needed)`);
  return `Anti-aging: ${parts.join("; ")}.${partly ? ` ${PARTLY_READ}` : ""}`;
}

/** The panel's summary of what the page shows, or "" when it shows nothing of ours. */
export function summary(sharpened, revealed, read = 0) {
  const parts = [];
  if (sharpened) parts.push(`${sharpened} element${sharpened === 1 ? "" : "s"} sharpened`);
  if (read) parts.push(`${read} read as text`);
  if (revealed) parts.push(`${revealed} showing the page\u2019s own text`);
  return parts.length ? `Anti-aging: ${parts.join("; ")}.` : "";
}

/** How a picked region is named in the popup's list while it is being sharpened. */
export function regionLabel(width, height) {
  return `${Math.round(width)}\u00d7${Math.round(height)} region`;
}

export const REGION_STATUS_LABEL = "region";
