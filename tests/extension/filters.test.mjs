import { test } from "node:test";
import assert from "node:assert/strict";
import {
  splitFilterList, parseLength, combineSigmas, blurSigmaOfFilter, blurOfChain, colorAlpha, parseTextShadow, textShadowBlur, withoutBlur,
  shadowUnderFilter, revealStyles,
} from "../../extension/lib/filters.js";

const close = (actual, expected, tolerance = 1e-9) => assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} != ${expected}`);

test("splitFilterList keeps nested parentheses inside one function", () => {
  assert.deepEqual(splitFilterList("drop-shadow(rgba(0, 0, 0, 0.5) 1px 2px 3px) blur(2px)"), [
    { name: "drop-shadow", args: "rgba(0, 0, 0, 0.5) 1px 2px 3px" },
    { name: "blur", args: "2px" },
  ]);
  assert.deepEqual(splitFilterList("none"), []);
  assert.deepEqual(splitFilterList(""), []);
  assert.deepEqual(splitFilterList(undefined), []);
  assert.deepEqual(splitFilterList('url("#f") BLUR(1px)'), [{ name: "url", args: '"#f"' }, { name: "blur", args: "1px" }]);
  assert.throws(() => splitFilterList("blur(2px"), SyntaxError);
});

test("parseLength converts every CSS length unit to CSS pixels", () => {
  const ctx = { fontSize: 20, rootFontSize: 10, viewportWidth: 1000, viewportHeight: 500 };
  const cases = {
    "3px": 3, "1in": 96, "2.54cm": 96, "25.4mm": 96, "101.6Q": 96, "72pt": 96, "1pc": 16,
    "0.5em": 10, "2rem": 20, "1ex": 10, "1ch": 10, "1vw": 10, "2vh": 10, "1vmin": 5, "1vmax": 10,
    "0": 0, ".5px": 0.5, "1e1px": 10, "calc(1em + 2px)": 22, "calc(1rem - 2px)": 8,
  };
  for (const [text, expected] of Object.entries(cases)) close(parseLength(text, ctx), expected, 1e-9);
  assert.equal(parseLength("3furlongs", ctx), null);
  assert.equal(parseLength("calc(2px * 2)", ctx), null);
  assert.equal(parseLength("auto", ctx), null);
});

test("combineSigmas adds Gaussian blurs as the square root of the sum of squares", () => {
  close(combineSigmas([3, 4]), 5);
  close(combineSigmas([2]), 2);
  assert.equal(combineSigmas([]), 0);
  close(combineSigmas([0, 3, -1, NaN, 4]), 5);
});

test("blurSigmaOfFilter reads blur() out of filter lists", () => {
  close(blurSigmaOfFilter("blur(2px) brightness(0.8)"), 2);
  close(blurSigmaOfFilter("brightness(.8) blur(0.25em)", { fontSize: 16 }), 4);
  close(blurSigmaOfFilter("blur(3px) contrast(1.2) blur(4px)"), 5);
  assert.equal(blurSigmaOfFilter("none"), 0);
  assert.equal(blurSigmaOfFilter("blur()"), 0);
  assert.equal(blurSigmaOfFilter("grayscale(1)"), 0);
  assert.equal(blurSigmaOfFilter("blur(var(--x))"), null);
});

test("blurOfChain combines the element's filter, its backdrop blur and its ancestors'", () => {
  const chain = [
    { filter: "blur(3px)", backdropFilter: "none", fontSize: 16 },
    { filter: "none", backdropFilter: "blur(100px)", fontSize: 16 }, // an ancestor's backdrop does not blur this element
    { filter: "blur(0.25em) saturate(2)", backdropFilter: "none", fontSize: 16 },
  ];
  const blur = blurOfChain(chain);
  close(blur.sigma, 5);
  close(blur.ownSigma, 3);
  assert.equal(blur.backdropSigma, 0);
  assert.equal(blur.blurred, true);

  const backdrop = blurOfChain([{ filter: "none", backdropFilter: "blur(6px)" }]);
  close(backdrop.sigma, 6);
  close(backdrop.backdropSigma, 6);

  const sharp = blurOfChain([{ filter: "none", backdropFilter: "none" }, { filter: "brightness(2)" }]);
  assert.equal(sharp.sigma, 0);
  assert.equal(sharp.blurred, false);

  const unknown = blurOfChain([{ filter: "blur(calc(2px * 3))" }]);
  assert.equal(unknown.sigma, null);
  assert.equal(unknown.blurred, true);
});

test("colorAlpha reads the alpha of computed colours", () => {
  assert.equal(colorAlpha("rgba(0, 0, 0, 0)"), 0);
  assert.equal(colorAlpha("rgb(17, 17, 17)"), 1);
  assert.equal(colorAlpha("rgba(0, 0, 0, 0.1)"), 0.1);
  assert.equal(colorAlpha("transparent"), 0);
  assert.equal(colorAlpha("color(srgb 0 0 0 / 0.05)"), 0.05);
  assert.equal(colorAlpha("oklch(0.5 0.1 30 / 20%)"), 0.2);
  assert.equal(colorAlpha("#0000"), 0);
  assert.equal(colorAlpha("#00000080"), 128 / 255);
  assert.equal(colorAlpha("black"), 1);
  assert.equal(colorAlpha("rgba(0, 0, 0, nonsense)"), null);
});

test("parseTextShadow reads one or several shadows, colour first or last, in any unit", () => {
  assert.deepEqual(parseTextShadow("none"), []);
  assert.deepEqual(parseTextShadow("rgb(0, 0, 0) 0px 0px 6px"), [{ color: "rgb(0, 0, 0)", alpha: 1, x: 0, y: 0, blur: 6 }]);
  assert.deepEqual(parseTextShadow("1px 2px #000"), [{ color: "#000", alpha: 1, x: 1, y: 2, blur: 0 }]);
  const two = parseTextShadow("rgba(0, 0, 0, 0.5) 2px 3px 0.5em, 0 0 4px red", { fontSize: 10 });
  assert.deepEqual(two, [
    { color: "rgba(0, 0, 0, 0.5)", alpha: 0.5, x: 2, y: 3, blur: 5 },
    { color: "red", alpha: 1, x: 0, y: 0, blur: 4 },
  ]);
  assert.equal(parseTextShadow("rgb(0, 0, 0) 1px"), null);
  assert.equal(parseTextShadow("rgb(0, 0, 0) 1px 1px -3px"), null);
});

test("textShadowBlur: transparent glyphs with a blurred shadow are blurred text of sigma R/2", () => {
  const shadow = (text) => parseTextShadow(text);
  const trick = textShadowBlur(shadow("rgb(0, 0, 0) 0px 0px 6px"), 0);
  assert.equal(trick.blurred, true);
  assert.equal(trick.sigma, 3);
  assert.deepEqual(trick.spread, { left: 0, right: 0, top: 0, bottom: 0 });
  // an offset shadow: still one Gaussian, moved; the halo reaches further on that side
  const moved = textShadowBlur(shadow("rgb(0, 0, 0) 3px -2px 8px"), 0);
  assert.equal(moved.sigma, 4);
  assert.deepEqual(moved.offset, { x: 3, y: -2 });
  assert.deepEqual(moved.spread, { left: 0, right: 3, top: 2, bottom: 0 });
  // nearly transparent glyphs count; visible glyphs with a soft shadow are just a shadow effect
  assert.equal(textShadowBlur(shadow("rgb(0, 0, 0) 0px 0px 6px"), 0.1).blurred, true);
  assert.equal(textShadowBlur(shadow("rgb(0, 0, 0) 0px 0px 6px"), 1).blurred, false);
  // no blur radius: crisp (if odd) text, nothing to sharpen
  assert.equal(textShadowBlur(shadow("rgb(0, 0, 0) 1px 1px 0px"), 0).blurred, false);
  // several shadows of one radius at one place: one Gaussian
  assert.equal(textShadowBlur(shadow("rgb(0, 0, 0) 0px 0px 4px, rgb(0, 0, 0) 0px 0px 4px"), 0).sigma, 2);
  // several radii, or copies at different places: no single Gaussian, sharpen blind, reach the widest
  const mixed = textShadowBlur(shadow("rgb(0, 0, 0) 0px 0px 4px, rgb(0, 0, 0) 0px 0px 10px"), 0);
  assert.equal(mixed.blurred, true);
  assert.equal(mixed.sigma, null);
  assert.equal(mixed.reachSigma, 5);
  assert.equal(textShadowBlur(shadow("rgb(0, 0, 0) -4px 0px 4px, rgb(0, 0, 0) 4px 0px 4px"), 0).sigma, null);
  // an invisible shadow does not count
  assert.equal(textShadowBlur(shadow("rgba(0, 0, 0, 0) 0px 0px 4px, rgb(0, 0, 0) 0px 0px 6px"), 0).sigma, 3);
  // a shadow that cannot be read: blurred, blind
  assert.deepEqual([textShadowBlur(null, 0).blurred, textShadowBlur(null, 0).sigma], [true, null]);
});

test("withoutBlur takes only the blur out of a filter list", () => {
  assert.equal(withoutBlur("blur(2px)"), "none");
  assert.equal(withoutBlur("blur(2px) brightness(0.95)"), "brightness(0.95)");
  assert.equal(withoutBlur("drop-shadow(rgba(0, 0, 0, 0.5) 1px 1px 2px) blur(1px)"), "drop-shadow(rgba(0, 0, 0, 0.5) 1px 1px 2px)");
});

test("a filter blur over the text-shadow trick composes with the shadow's, unknown stays unknown", () => {
  const trick = { sigma: 3, reachSigma: 3, spread: { left: 0, right: 3, top: 0, bottom: 2 } };
  assert.deepEqual(shadowUnderFilter(trick, { blurred: true, sigma: 4 }), { sigmaCss: 5, reachSigmaCss: 5, spread: trick.spread });
  assert.equal(shadowUnderFilter(trick, { blurred: false, sigma: 0 }).sigmaCss, 3);
  assert.equal(shadowUnderFilter(trick, { blurred: true, sigma: null }).sigmaCss, null);
  const blind = shadowUnderFilter({ sigma: null, reachSigma: 5, spread: trick.spread }, { blurred: false, sigma: 0 });
  assert.deepEqual([blind.sigmaCss, blind.reachSigmaCss], [null, 5]);
});

test("revealing takes every blur off the element and its ancestors, keeping their other filters", () => {
  const chain = [
    { filter: "blur(2px) brightness(0.9)", backdropFilter: "none" },
    { filter: "none", backdropFilter: "none" },
    { filter: "blur(1px)", backdropFilter: "blur(3px) saturate(2)" },
  ];
  assert.deepEqual(revealStyles(chain, { kind: "css-blur" }), [
    { depth: 0, property: "filter", value: "brightness(0.9)" },
    { depth: 2, property: "filter", value: "none" },
    { depth: 2, property: "backdrop-filter", value: "saturate(2)" },
  ]);
});

test("revealing the text-shadow trick paints the glyphs in the shadow's colour and drops the shadow", () => {
  const plain = [{ filter: "none", backdropFilter: "none" }];
  assert.deepEqual(revealStyles(plain, { kind: "text-shadow", shadowColor: "rgb(20, 30, 40)" }), [
    { depth: 0, property: "color", value: "rgb(20, 30, 40)" },
    { depth: 0, property: "-webkit-text-fill-color", value: "rgb(20, 30, 40)" },
    { depth: 0, property: "text-shadow", value: "none" },
  ]);
  for (const shadowColor of [null, "currentcolor"]) {
    assert.equal(revealStyles(plain, { kind: "text-shadow", shadowColor })[0].value, "#000");
  }
});
