// "Read text": where the lines of a /v1/read answer go over their element, how each line's font
// is fitted to its box, which characters are marked uncertain, and the colours the text layer is
// drawn in. Pure: no DOM, no chrome.*; tested with node --test.

// Characters the reader is less sure of than this are marked (issue 15: of the characters at or
// above it, at most 1 % may be wrong).
export const UNCERTAIN_BELOW = 0.9;
// The server's line box is the line's ink, from the tops of its tall letters to the bottoms of its
// hanging ones (when it knows sigma it takes the blur's spread off). A line without ink metrics
// (an old browser) is taken to be this tall per px of font size.
export const INK_HEIGHT_PER_EM = 0.9;
// Letter-spacing closes a width difference up to this share of the font size per character
// (glyphs keep their shape); a horizontal scale does the rest, within these bounds.
export const MAX_LETTER_SPACING_EM = 0.08;
export const MIN_SCALE_X = 0.5;
export const MAX_SCALE_X = 2;
export const VERDICTS = Object.freeze(["readable", "partly", "unreadable"]);

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

/**
 * A line's text cut into runs of sure and uncertain characters: [{text, uncertain}]. The server
 * gives one confidence per character (code point, as Python counts); a character without one is
 * uncertain.
 */
export function markRuns(text, confidence = [], threshold = UNCERTAIN_BELOW) {
  const runs = [];
  Array.from(text).forEach((character, i) => {
    const uncertain = !(Number(confidence[i]) >= threshold);
    const last = runs.at(-1);
    if (last && last.uncertain === uncertain) last.text += character;
    else runs.push({ text: character, uncertain });
  });
  return runs;
}

/** How many characters of a reading's lines are marked uncertain. */
export function uncertainCount(lines) {
  return lines.reduce((sum, line) => sum + line.runs.filter((run) => run.uncertain).reduce((n, run) => n + Array.from(run.text).length, 0), 0);
}

/** One verdict for an element read in several parts: unreadable only when every part is. */
export function combineVerdicts(verdicts) {
  const known = verdicts.filter((verdict) => VERDICTS.includes(verdict));
  if (!known.length || known.every((verdict) => verdict === "unreadable")) return "unreadable";
  return known.every((verdict) => verdict === "readable") ? "readable" : "partly";
}

/**
 * The lines of one part's reading, on its element: boxes in CSS px from the element's top left.
 * crop: the rectangle posted to the server (device px of the capture); box: the part's box in the
 * tab's viewport (CSS px) at that capture; scale: device px per CSS px; partOffset: how far below
 * the element's top the part starts (CSS px); frameScale: tab CSS px per CSS px of the element's
 * frame (1 unless a frame is scaled by CSS); span: [top, bottom) of the part on the element, so
 * that a line read in two overlapping parts is kept once, by the part holding its centre.
 */
export function linesOnElement(reading, { crop, box, scale, partOffset = 0, frameScale = { x: 1, y: 1 }, span = null }) {
  const lines = [];
  for (const line of reading.lines ?? []) {
    const [bx, by, bw, bh] = line.box;
    const x = ((crop.x + bx) / scale - box.x) / frameScale.x;
    const y = ((crop.y + by) / scale - box.y + partOffset) / frameScale.y;
    const placed = { text: line.text, runs: markRuns(line.text, line.confidence), box: { x, y, width: bw / scale / frameScale.x, height: bh / scale / frameScale.y },
      ink: colourOrNull(line.ink), background: colourOrNull(line.background), row: Number.isInteger(line.row) ? line.row : null };
    const centre = placed.box.y + placed.box.height / 2;
    if (span && (centre < span[0] / frameScale.y || centre >= span[1] / frameScale.y)) continue;
    lines.push(placed);
  }
  return lines;
}

/**
 * The reading of an element from its parts' readings ([{reading, lines (linesOnElement)}], top
 * first), with line boxes moved from the element's top left to the overlay's (offset: the
 * overlay's top left on the element, CSS px). An unreadable reading keeps no lines: its letters
 * would be invented.
 */
export function layoutReading(parts, offset) {
  const verdict = combineVerdicts(parts.map(({ reading }) => reading.verdict));
  if (verdict === "unreadable") return { verdict, text: "", lines: [], uncertain: 0 };
  const lines = parts.flatMap((part, index) => part.lines.map((line) => ({ ...line, row: line.row == null ? null : `${index}:${line.row}` })))
    .map((line) => ({ ...line, box: { ...line.box, x: line.box.x - offset.x, y: line.box.y - offset.y } }));
  return { verdict, text: joinLines(lines), lines, uncertain: uncertainCount(lines) };
}

/**
 * What follows a line in the text: a tab before the next cell of its row (a receipt's price, a
 * table's cell: the server gives the cells of a row one row number), a newline before anything else.
 */
export function lineSeparator(line, next) {
  return line.row != null && next?.row === line.row ? "\t" : "\n";
}

/**
 * The lines in reading order, each as write(line) gives it (its text by default), cells of a row
 * joined by tabs and rows by newline (lineSeparator's "\n", or another line break, e.g. Markdown's).
 */
export function joinLines(lines, write = (line) => line.text, newline = "\n") {
  return lines.map((line, i) => write(line) + (i === lines.length - 1 ? "" : lineSeparator(line, lines[i + 1]).replace("\n", newline))).join("");
}

/**
 * Fit a line of text to its box. metrics: the font's ascent and descent, this text's ink above and
 * below the baseline (inkAscent, inkDescent) and left and right of its start (inkLeft: how far the
 * ink reaches left of the pen's start, negative when it starts right of it; inkRight: how far right
 * of it the ink ends) and its advance width, all at a font size of 1 px (canvas measureText at any
 * size, divided by it); chars: how many characters the line has. The server's box is the ink's, so
 * the ink is fitted to it, not the advance (side bearings and the spacing after the last letter
 * leave no ink). Returns the font size that makes the text's ink as tall as the box, the
 * letter-spacing and horizontal scale (px) that make it as wide, and shift and shiftX: how far to
 * move the glyphs down and right (before the scale) so that the ink's top left lies on the box's.
 */
export function fitLine(box, metrics, chars) {
  const inkHeight = (metrics.inkAscent ?? 0) + (metrics.inkDescent ?? 0);
  const fontSize = box.height / (inkHeight > 0 ? inkHeight : INK_HEIGHT_PER_EM);
  const inkWidth = (metrics.inkLeft ?? 0) + (metrics.inkRight ?? 0);
  const hasInkWidth = metrics.inkLeft !== undefined && metrics.inkRight !== undefined && inkWidth > 0;
  const natural = (hasInkWidth ? inkWidth : metrics.width) * fontSize;
  // letter-spacing follows every character; only the gaps between them widen the ink
  const gaps = hasInkWidth ? chars - 1 : chars;
  const limit = MAX_LETTER_SPACING_EM * fontSize;
  const letterSpacing = chars > 1 ? clamp((box.width - natural) / gaps, -limit, limit) : 0;
  const spaced = natural + letterSpacing * Math.max(0, gaps);
  const scaleX = spaced > 0 ? clamp(box.width / spaced, MIN_SCALE_X, MAX_SCALE_X) : 1;
  const ascent = metrics.ascent * fontSize;
  const descent = metrics.descent * fontSize;
  // CSS puts the glyphs' ascent + descent in the middle of the line box (half-leading each side).
  const baseline = (box.height - (ascent + descent)) / 2 + ascent;
  const wanted = inkHeight > 0 ? metrics.inkAscent * fontSize : box.height;
  return { fontSize, letterSpacing, scaleX, height: box.height, shift: wanted - baseline, shiftX: hasInkWidth ? metrics.inkLeft * fontSize : 0 };
}

/** An [r, g, b] colour of 0..255 integers as the server sends one per line, or null for anything else (an older server sends none). */
export function colourOrNull(colour) {
  return Array.isArray(colour) && colour.length === 3 && colour.every((channel) => Number.isInteger(channel) && channel >= 0 && channel <= 255) ? [...colour] : null;
}

// Scripts the reader reads, in the order a line's letters are tried: kana before Han, since
// Japanese lines mix both and Chinese ones have no kana.
const SCRIPT_LANGUAGES = [[/[\p{Script=Hangul}]/u, "ko"], [/[\p{Script=Hiragana}\p{Script=Katakana}]/u, "ja"], [/[\p{Script=Han}]/u, "zh"]];
const CJK_LANGUAGES = new Set(["ko", "ja", "zh"]);

/**
 * The language tag of a read line, from its script, so that a screen reader speaks it in the
 * right voice: Hangul ko, kana ja, Han zh (ja on a Japanese page); a Latin line takes the page's
 * language unless that is one of those (then en). An empty string: no letters to tell by.
 */
export function lineLanguage(text, pageLanguage = "") {
  const page = String(pageLanguage ?? "").trim();
  const pagePrimary = page.toLowerCase().split("-")[0];
  for (const [pattern, language] of SCRIPT_LANGUAGES) {
    if (!pattern.test(text)) continue;
    return language === "zh" && pagePrimary === "ja" ? "ja" : language;
  }
  if (!/\p{L}/u.test(text)) return "";
  return page && !CJK_LANGUAGES.has(pagePrimary) ? page : "en";
}

const luma = ([r, g, b]) => 0.299 * r + 0.587 * g + 0.114 * b;
const BUCKET = 16;
// Blurred ink is paler than the glyphs were: the darkest (or lightest) pixel is pushed away from
// the background until it has at least this much contrast, never past black or white.
const MIN_INK_CONTRAST = 160;

/**
 * The colours of a capture of text (RGBA bytes): the background (the most common colour, by
 * buckets of 16 levels, averaged inside its bucket) and the ink (the pixel farthest from it in
 * brightness, pushed to a legible contrast). Colours are [r, g, b], 0..255.
 */
export function sampleColors(rgba, width, height) {
  const counts = new Map();
  for (let i = 0; i < width * height * 4; i += 4) {
    const key = ((rgba[i] / BUCKET) | 0) * 256 + ((rgba[i + 1] / BUCKET) | 0) * 16 + ((rgba[i + 2] / BUCKET) | 0);
    const entry = counts.get(key) ?? { n: 0, r: 0, g: 0, b: 0 };
    entry.n += 1;
    entry.r += rgba[i];
    entry.g += rgba[i + 1];
    entry.b += rgba[i + 2];
    counts.set(key, entry);
  }
  let top = { n: 0, r: 255, g: 255, b: 255 };
  for (const entry of counts.values()) if (entry.n > top.n) top = entry;
  const background = top.n ? [top.r / top.n, top.g / top.n, top.b / top.n].map(Math.round) : [255, 255, 255];
  const paper = luma(background);
  let ink = paper > 127 ? [0, 0, 0] : [255, 255, 255];
  let farthest = -1;
  for (let i = 0; i < width * height * 4; i += 4) {
    const distance = Math.abs(luma([rgba[i], rgba[i + 1], rgba[i + 2]]) - paper);
    if (distance > farthest) {
      farthest = distance;
      ink = [rgba[i], rgba[i + 1], rgba[i + 2]];
    }
  }
  if (farthest > 0 && farthest < MIN_INK_CONTRAST) {
    // Push along the line from the background through the ink as far as contrast wants and
    // every channel allows.
    const wanted = MIN_INK_CONTRAST / farthest;
    const allowed = Math.min(...ink.map((channel, c) => {
      const step = channel - background[c];
      return step > 0 ? (255 - background[c]) / step : step < 0 ? -background[c] / step : Infinity;
    }));
    const factor = Math.min(wanted, allowed);
    ink = ink.map((channel, c) => Math.round(background[c] + (channel - background[c]) * factor));
  }
  return { background, ink };
}

export function cssColor([r, g, b]) {
  return `rgb(${r}, ${g}, ${b})`;
}
