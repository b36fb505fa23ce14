// The text kind of overlay ("Read text"): the recovered text laid over its element as real DOM
// text, one absolutely placed line per line box, on an opaque background so the blurred pixels
// do not show through. Uncertain characters are marked; a small bar over the element copies the
// text and switches between the text and the sharpened pixels. An unreadable element gets no
// letters at all, only the bar saying so.
//
// Pointer events: the layer and the overlay's box let clicks through to the page, so a link
// under the background still works; only the lines themselves (to select them) and the bar take
// the pointer.
import { message } from "../lib/i18n.js";
import { cssColor, fitLine, lineLanguage, lineSeparator } from "../lib/reading.js";
import { build } from "./dom.js";
import { Overlay } from "./overlay-layer.js";

export const TEXT_LAYER_CSS = `
  .text-layer { overflow: visible; }
  .text-layer[data-showing="text"] { background: var(--paper); }
  .text-layer .line { position: absolute; margin: 0; padding: 0; white-space: pre; transform-origin: 0 0; pointer-events: auto;
    user-select: text; -webkit-user-select: text; cursor: text; color: var(--ink); font-kerning: normal; }
  .text-layer .glyphs { position: relative; }
  .text-layer .eol { position: absolute; white-space: pre; }
  .text-layer .uncertain { text-decoration: underline dotted; text-decoration-thickness: 1px; text-underline-offset: 2px; opacity: 0.6; }
  .text-layer .pixels { position: absolute; left: 0; top: 0; width: 100%; height: 100%; pointer-events: none; user-select: none; }
  .text-layer[data-showing="text"] .pixels, .text-layer[data-showing="pixels"] .lines { display: none; }
  .text-layer .bar { position: absolute; right: 0; bottom: 100%; display: flex; gap: 4px; align-items: center; padding: 2px 4px;
    border-radius: 4px; background: rgba(32, 33, 36, 0.92); color: #fff; font: 12px/1.3 system-ui, sans-serif; white-space: nowrap;
    pointer-events: auto; user-select: none; }
  .text-layer.bar-below .bar { bottom: auto; top: 100%; }
  .text-layer .bar button { font: inherit; color: inherit; background: rgba(255, 255, 255, 0.16); border: 0; border-radius: 3px; padding: 1px 6px; cursor: pointer; }
  .text-layer .bar button:hover, .text-layer .bar button:focus-visible { background: rgba(255, 255, 255, 0.3); }
  .text-layer .bar button:focus-visible { outline: 2px solid #8ab4f8; outline-offset: 1px; }
`;

// Font metrics are measured at this size and scaled: canvas text metrics are linear in the size.
const MEASURE_PX = 100;
// The bar goes below the element when there is less room than this above it (CSS px).
const BAR_ROOM = 24;
const COPIED_MS = 1500;

/** The font's ascent and descent, the text's ink above and below the baseline and left and right
 * of its start, and its advance width, per px of font size, from a canvas. */
function measure(context, family, line) {
  context.font = `${MEASURE_PX}px ${family}`;
  const metrics = context.measureText(line);
  return {
    ascent: (metrics.fontBoundingBoxAscent ?? MEASURE_PX * 0.8) / MEASURE_PX,
    descent: (metrics.fontBoundingBoxDescent ?? MEASURE_PX * 0.2) / MEASURE_PX,
    inkAscent: (metrics.actualBoundingBoxAscent ?? 0) / MEASURE_PX,
    inkDescent: (metrics.actualBoundingBoxDescent ?? 0) / MEASURE_PX,
    inkLeft: metrics.actualBoundingBoxLeft === undefined ? undefined : metrics.actualBoundingBoxLeft / MEASURE_PX,
    inkRight: metrics.actualBoundingBoxRight === undefined ? undefined : metrics.actualBoundingBoxRight / MEASURE_PX,
    width: metrics.width / MEASURE_PX,
  };
}

/**
 * One line of text at its box, fitted to it, in its own ink on its own background where the server
 * measured them, with its uncertain runs marked (only to the eye: a screen reader reads the words,
 * not a mark per letter) and the language of its script. next: the line after it, if any:
 * selections join absolutely placed lines without a break, so each line but the last ends in its
 * own separator (a tab before the next cell of its row, else a newline), out of the flow so that
 * it does not add a line box.
 */
function lineNode(doc, context, family, line, next) {
  const fit = fitLine(line.box, measure(context, family, line.text), Array.from(line.text).length);
  const runs = line.runs.map((run) => (run.uncertain ? build(doc, "span", { class: "uncertain" }, run.text) : run.text));
  const glyphs = build(doc, "span", { class: "glyphs" }, ...runs);
  glyphs.style.top = `${fit.shift}px`;
  glyphs.style.left = `${fit.shiftX}px`;
  const language = lineLanguage(line.text, doc.documentElement.lang);
  const node = build(doc, "div", { class: "line", ...(language ? { lang: language } : {}) }, glyphs, ...(next ? [build(doc, "span", { class: "eol" }, lineSeparator(line, next))] : []));
  if (line.ink) node.style.color = cssColor(line.ink);
  if (line.background) node.style.background = cssColor(line.background);
  Object.assign(node.style, {
    left: `${line.box.x}px`,
    top: `${line.box.y}px`,
    // As wide as the box once scaled, even where the scale is clamped: the selectable area is the box.
    width: `${line.box.width / fit.scaleX}px`,
    height: `${fit.height}px`,
    lineHeight: `${fit.height}px`,
    fontFamily: family,
    fontSize: `${fit.fontSize}px`,
    letterSpacing: `${fit.letterSpacing}px`,
    transform: `scaleX(${fit.scaleX})`,
  });
  return node;
}

/** A text overlay: place() also puts the bar where there is room for it. */
class TextOverlay extends Overlay {
  place(box, hidden) {
    super.place(box, hidden);
    this.node.classList.toggle("bar-below", box.top < BAR_ROOM);
  }
}

/**
 * The text overlay for an element's reading. item: the service worker's {overlay, elementRect,
 * image (the sharpened pixels, a PNG data URL), reading: {verdict, text, lines: [{text, runs,
 * box}] (boxes in CSS px on the overlay)}, colors: {background, ink}}; family: the CSS
 * font-family to draw the text in; notify(message): a notice in the page's panel.
 */
export async function textOverlay(doc, item, family, notify) {
  const { reading, colors } = item;
  const unreadable = reading.verdict === "unreadable";
  const node = build(doc, "div", { class: "overlay text-layer", "data-verdict": reading.verdict, "data-showing": unreadable ? "none" : "text" });
  node.style.setProperty("--paper", cssColor(colors.background));
  node.style.setProperty("--ink", cssColor(colors.ink));
  const bar = build(doc, "div", { class: "bar", lang: message("language_tag") });
  if (unreadable) {
    bar.append(build(doc, "span", { class: "verdict" }, message("text_layer_unreadable")));
    node.append(bar);
    return new TextOverlay("text", node, item);
  }
  const context = doc.createElement("canvas").getContext("2d");
  const lines = build(doc, "div", { class: "lines" }, ...reading.lines.map((line, i) => lineNode(doc, context, family, line, reading.lines[i + 1])));
  const pixels = build(doc, "img", { class: "pixels", alt: "", draggable: "false", decoding: "sync", src: item.image });
  await pixels.decode();
  const copy = build(doc, "button", { class: "copy", type: "button" }, message("text_layer_copy"));
  copy.addEventListener("click", async () => {
    try {
      await doc.defaultView.navigator.clipboard.writeText(reading.text);
      copy.textContent = message("text_layer_copied");
      doc.defaultView.setTimeout(() => { copy.textContent = message("text_layer_copy"); }, COPIED_MS);
    } catch {
      // The page's permissions policy can forbid the clipboard: leave the text selected to copy by hand.
      doc.defaultView.getSelection()?.selectAllChildren(lines);
      notify(message("text_layer_copy_failed"));
    }
  });
  const toggle = build(doc, "button", { class: "show", type: "button", "aria-pressed": "false" }, message("text_layer_show_pixels"));
  toggle.addEventListener("click", () => {
    const showText = node.dataset.showing !== "text";
    node.dataset.showing = showText ? "text" : "pixels";
    toggle.textContent = showText ? message("text_layer_show_pixels") : message("text_layer_show_text");
    toggle.setAttribute("aria-pressed", String(!showText));
  });
  if (reading.verdict === "partly") bar.append(build(doc, "span", { class: "verdict" }, message("read_partly")));
  bar.append(copy, toggle);
  node.append(pixels, lines, bar);
  return new TextOverlay("text", node, item);
}
