import { test } from "node:test";
import assert from "node:assert/strict";
import { splitFilterList, parseLength, combineSigmas, blurSigmaOfFilter, blurOfChain } from "../../extension/lib/filters.js";

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
