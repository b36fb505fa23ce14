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
