// Parsing of CSS `filter` / `backdrop-filter` values into the Gaussian sigma of their blur().
// The CSS blur() argument is the standard deviation of the Gaussian, in CSS pixels.

const ABSOLUTE_UNITS = {
  px: 1,
  in: 96,
  cm: 96 / 2.54,
  mm: 96 / 25.4,
  q: 96 / 101.6,
  pt: 96 / 72,
  pc: 16,
};

const DEFAULT_CONTEXT = { fontSize: 16, rootFontSize: 16, viewportWidth: 0, viewportHeight: 0 };

/** Split a filter list such as `blur(2px) drop-shadow(rgba(0,0,0,.5) 1px 1px)` into functions. */
export function splitFilterList(text) {
  const functions = [];
  const source = String(text ?? "").trim();
  let i = 0;
  while (i < source.length) {
    while (i < source.length && /\s/.test(source[i])) i += 1;
    const nameMatch = /^[a-zA-Z-]+/.exec(source.slice(i));
    if (!nameMatch) {
      // url(#id) and other tokens without a function name in front: skip one token.
      const next = source.slice(i).search(/\s/);
      i = next < 0 ? source.length : i + next;
      continue;
    }
    const name = nameMatch[0].toLowerCase();
    i += name.length;
    if (source[i] !== "(") continue; // a keyword such as `none`
    let depth = 0;
    const start = i + 1;
    for (; i < source.length; i += 1) {
      if (source[i] === "(") depth += 1;
      else if (source[i] === ")" && --depth === 0) break;
    }
    if (depth !== 0) throw new SyntaxError(`unbalanced parentheses in filter list: ${source}`);
    functions.push({ name, args: source.slice(start, i).trim() });
    i += 1;
  }
  return functions;
}

/** A CSS length in CSS pixels; null when the text is not a length. Handles calc() sums. */
export function parseLength(text, context = {}) {
  const ctx = { ...DEFAULT_CONTEXT, ...context };
  const value = String(text ?? "").trim().toLowerCase();
  if (value === "" || value === "0") return 0;
  const calc = /^calc\((.*)\)$/.exec(value);
  if (calc) return parseCalcSum(calc[1], ctx);
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)([a-z%]*)$/.exec(value);
  if (!match) return null;
  const number = Number(match[1]);
  const factor = unitFactor(match[2], ctx);
  return factor === null ? null : number * factor;
}

function unitFactor(unit, ctx) {
  if (unit in ABSOLUTE_UNITS) return ABSOLUTE_UNITS[unit];
  switch (unit) {
    case "em": return ctx.fontSize;
    case "rem": return ctx.rootFontSize;
    case "ex": return ctx.fontSize / 2; // the CSS fallback when the font's x-height is unknown
    case "ch": return ctx.fontSize / 2;
    case "vw": return ctx.viewportWidth / 100;
    case "vh": return ctx.viewportHeight / 100;
    case "vmin": return Math.min(ctx.viewportWidth, ctx.viewportHeight) / 100;
    case "vmax": return Math.max(ctx.viewportWidth, ctx.viewportHeight) / 100;
    default: return null;
  }
}

function parseCalcSum(expression, ctx) {
  const terms = expression.replace(/\s+([+-])\s+/g, " $1").trim().split(/\s+/);
  let total = 0;
  for (const term of terms) {
    const length = parseLength(term.replace(/^\+/, ""), ctx);
    if (length === null) return null;
    total += length;
  }
  return total;
}

/** Nested or chained Gaussian blurs compose into one Gaussian: sigma = sqrt(sum of squares). */
export function combineSigmas(sigmas) {
  const squares = sigmas.filter((s) => Number.isFinite(s) && s > 0).reduce((sum, s) => sum + s * s, 0);
  return Math.sqrt(squares);
}

/**
 * The combined blur sigma (CSS px) of every blur() in one filter list: 0 when there is none,
 * null when a blur() argument cannot be resolved (the caller then sharpens blind).
 */
export function blurSigmaOfFilter(filterText, context = {}) {
  const sigmas = [];
  for (const fn of splitFilterList(filterText)) {
    if (fn.name !== "blur") continue;
    const sigma = fn.args === "" ? 0 : parseLength(fn.args, context);
    if (sigma === null || sigma < 0) return null;
    sigmas.push(sigma);
  }
  return combineSigmas(sigmas);
}

/**
 * Blur seen on an element, from its computed styles up to the root.
 * chain[0] is the element itself; each entry {filter, backdropFilter, fontSize}.
 * Returns {sigma, ownSigma, backdropSigma, blurred}: sigma combines the element's own filter,
 * its ancestors' filters and its backdrop blur (which applies to what shows through it); it is
 * null when some blur() could not be resolved, while `blurred` still says a blur is present.
 */
export function blurOfChain(chain, context = {}) {
  const sigmas = [];
  let ownSigma = 0;
  let backdropSigma = 0;
  let blurred = false;
  chain.forEach((style, depth) => {
    const ctx = { ...context, fontSize: style.fontSize ?? context.fontSize };
    const filters = depth === 0 ? [style.filter, style.backdropFilter] : [style.filter];
    filters.forEach((text, index) => {
      const sigma = blurSigmaOfFilter(text, ctx);
      if (sigma === null || sigma > 0) blurred = true;
      if (depth === 0 && index === 0) ownSigma = sigma;
      if (depth === 0 && index === 1) backdropSigma = sigma;
      sigmas.push(sigma);
    });
  });
  const sigma = sigmas.includes(null) ? null : combineSigmas(sigmas);
  return { sigma, ownSigma, backdropSigma, blurred };
}

// ----- the text-shadow trick: `color: transparent; text-shadow: 0 0 6px #000` -----

// Glyphs this transparent leave only their shadow to read (alpha 0-1).
export const TRANSPARENT_GLYPHS_BELOW = 0.2;
// Shadows offset by less than this many CSS px from each other read as one (rounding).
const SAME_OFFSET_CSS = 0.5;

/** Split a comma-separated CSS list at its top-level commas (not those inside rgb(...)). */
export function splitTopLevel(text, separator = ",") {
  const parts = [];
  let depth = 0;
  let start = 0;
  const source = String(text ?? "");
  for (let i = 0; i < source.length; i += 1) {
    if (source[i] === "(") depth += 1;
    else if (source[i] === ")") depth -= 1;
    else if (source[i] === separator && depth === 0) {
      parts.push(source.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(source.slice(start).trim());
  return parts.filter(Boolean);
}

/**
 * The alpha (0-1) of a CSS colour as getComputedStyle writes it (`rgb(...)`, `rgba(...)`,
 * `color(srgb r g b / a)`, `oklch(l c h / a)`, `transparent`, a hex or a keyword); null when unknown.
 */
export function colorAlpha(text) {
  const value = String(text ?? "").trim().toLowerCase();
  if (value === "transparent") return 0;
  if (/^#[0-9a-f]{3,8}$/.test(value)) {
    const hex = value.slice(1);
    if (hex.length === 4) return parseInt(hex[3] + hex[3], 16) / 255;
    if (hex.length === 8) return parseInt(hex.slice(6), 16) / 255;
    return 1;
  }
  const fn = /^([a-z-]+)\((.*)\)$/.exec(value);
  if (!fn) return /^[a-z]+$/.test(value) ? 1 : null; // a named colour, currentcolor
  const args = fn[2].trim();
  let alpha = null;
  if (args.includes("/")) alpha = args.split("/").pop().trim();
  else if (args.includes(",")) {
    const values = args.split(",").map((v) => v.trim());
    if (values.length === 4) alpha = values[3];
  }
  if (alpha === null) return 1;
  const number = alpha.endsWith("%") ? Number(alpha.slice(0, -1)) / 100 : Number(alpha);
  return Number.isFinite(number) ? Math.min(1, Math.max(0, number)) : null;
}

/**
 * Parse a `text-shadow` value into [{color, alpha, x, y, blur}] (lengths in CSS px). Colour and
 * lengths may come in either order; `none` is []. Returns null when a shadow cannot be read.
 */
export function parseTextShadow(text, context = {}) {
  const value = String(text ?? "").trim();
  if (value === "" || value.toLowerCase() === "none") return [];
  const shadows = [];
  for (const part of splitTopLevel(value)) {
    const tokens = splitTopLevel(part.replace(/\s+/g, " "), " ");
    const lengths = [];
    let color = "currentcolor";
    for (const token of tokens) {
      const length = parseLength(token, context);
      if (length !== null) lengths.push(length);
      else color = token;
    }
    if (lengths.length < 2 || lengths.length > 3) return null;
    const [x, y, blur = 0] = lengths;
    if (blur < 0) return null;
    shadows.push({ color, alpha: colorAlpha(color), x, y, blur });
  }
  return shadows;
}

/**
 * Whether text is blurred by the text-shadow trick, and how. glyphAlpha: the alpha of the glyphs'
 * own fill (color, or -webkit-text-fill-color). Per the CSS spec a shadow's blur radius R is a
 * Gaussian of standard deviation R/2 (measured against Chromium: docs/chromium-blur.md).
 * Returns {blurred, sigma (CSS px, null when no single Gaussian describes it), reachSigma (the
 * widest shadow's sigma: how far the blur spreads), offset {x, y}, spread {left, right, top,
 * bottom}: how far past the element's box the shadows are moved before blurring}.
 */
export function textShadowBlur(shadows, glyphAlpha) {
  const none = { blurred: false, sigma: 0, reachSigma: 0, offset: { x: 0, y: 0 }, spread: { left: 0, right: 0, top: 0, bottom: 0 } };
  if (glyphAlpha === null || glyphAlpha >= TRANSPARENT_GLYPHS_BELOW) return none;
  if (shadows === null) return { ...none, blurred: true, sigma: null, reachSigma: null };
  const visible = shadows.filter((shadow) => shadow.alpha === null || shadow.alpha > 0);
  if (!visible.some((shadow) => shadow.blur > 0)) return none;
  const first = visible[0];
  // One Gaussian only when every visible shadow has the same radius and (about) the same offset;
  // shadows of several radii sum to no Gaussian, offset copies to a ghosted image.
  const single = visible.every((shadow) => shadow.blur === first.blur
    && Math.abs(shadow.x - first.x) <= SAME_OFFSET_CSS && Math.abs(shadow.y - first.y) <= SAME_OFFSET_CSS);
  const spread = {
    left: Math.max(0, ...visible.map((s) => -s.x)),
    right: Math.max(0, ...visible.map((s) => s.x)),
    top: Math.max(0, ...visible.map((s) => -s.y)),
    bottom: Math.max(0, ...visible.map((s) => s.y)),
  };
  const widest = Math.max(...visible.map((s) => s.blur)) / 2;
  return {
    blurred: true,
    sigma: single ? first.blur / 2 : null,
    reachSigma: widest,
    offset: single ? { x: first.x, y: first.y } : { x: 0, y: 0 },
    spread,
  };
}

/** A filter list with its blur() functions taken out (`none` when nothing else is left). */
export function withoutBlur(filterText) {
  const kept = splitFilterList(filterText).filter((fn) => fn.name !== "blur");
  return kept.length ? kept.map((fn) => `${fn.name}(${fn.args})`).join(" ") : "none";
}

/**
 * The blur of text drawn with the text-shadow trick (textShadowBlur) under a filter blur as well
 * (blurOfChain): Gaussians compose, sigma = sqrt of the sum of squares; unknown stays unknown (null).
 */
export function shadowUnderFilter(trick, filterBlur) {
  const filterSigma = filterBlur.blurred ? filterBlur.sigma : 0;
  const compose = (sigma) => (sigma === null || filterSigma === null ? null : Math.hypot(sigma, filterSigma));
  return { sigmaCss: compose(trick.sigma), reachSigmaCss: compose(trick.reachSigma), spread: trick.spread };
}

/**
 * The inline styles that take the blur off live text in place: [{depth, property, value}], depth
 * 0 the element, 1 its parent, and so on. chain: computed {filter, backdropFilter} of the element
 * and its ancestors, whose blurs blur this text too; the text-shadow trick also gets its glyphs in
 * the shadow's colour (shadowColor, black when unknown) and its shadow taken away.
 */
export function revealStyles(chain, { kind, shadowColor = null }) {
  const styles = [];
  chain.forEach(({ filter, backdropFilter }, depth) => {
    if (/blur\(/i.test(filter)) styles.push({ depth, property: "filter", value: withoutBlur(filter) });
    if (/blur\(/i.test(backdropFilter)) styles.push({ depth, property: "backdrop-filter", value: withoutBlur(backdropFilter) });
  });
  if (kind === "text-shadow") {
    const color = shadowColor && shadowColor !== "currentcolor" ? shadowColor : "#000";
    styles.push({ depth: 0, property: "color", value: color }, { depth: 0, property: "-webkit-text-fill-color", value: color },
      { depth: 0, property: "text-shadow", value: "none" });
  }
  return styles;
}
