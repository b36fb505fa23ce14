import { test } from "node:test";
import assert from "node:assert/strict";
import {
  deviceScale, snapRect, widenRect, clampRect, cropMargin, planCrop, blurReach, frameToTab, tabToFrame, frameBoundary, dragRegion,
  spanRect, overlayBox,
  BLIND_MARGIN_CSS, MIN_REGION_CSS,
} from "../../extension/lib/geometry.js";

test("deviceScale follows devicePixelRatio, including page zoom, and measures odd captures", () => {
  assert.equal(deviceScale({ captureWidth: 1600, viewportWidth: 800, devicePixelRatio: 2 }), 2);
  // 125 % zoom at DPR 1: devicePixelRatio is 1.25 and the capture is 1000 px for 800 CSS px.
  assert.equal(deviceScale({ captureWidth: 1000, viewportWidth: 800, devicePixelRatio: 1.25 }), 1.25);
  // a capture rounded to whole pixels still maps to the exact ratio
  assert.equal(deviceScale({ captureWidth: 1001, viewportWidth: 801, devicePixelRatio: 1.25 }), 1.25);
  // devicePixelRatio disagreeing with the capture: the capture wins
  assert.equal(deviceScale({ captureWidth: 1600, viewportWidth: 800, devicePixelRatio: 1 }), 2);
  assert.equal(deviceScale({ captureWidth: 0, viewportWidth: 0, devicePixelRatio: 3 }), 3);
});

test("snapRect covers the CSS rectangle with whole device pixels", () => {
  assert.deepEqual(snapRect({ x: 10, y: 20, width: 30, height: 40 }, 2), { x: 20, y: 40, width: 60, height: 80 });
  assert.deepEqual(snapRect({ x: 10.3, y: 0.5, width: 10, height: 1 }, 1), { x: 10, y: 0, width: 11, height: 2 });
  // float noise does not add a pixel
  assert.deepEqual(snapRect({ x: 0.1 * 3, y: 0, width: 100.00000001, height: 10 }, 10), { x: 3, y: 0, width: 1000, height: 100 });
});

test("widenRect and clampRect", () => {
  assert.deepEqual(widenRect({ x: 10, y: 10, width: 5, height: 5 }, 3), { x: 7, y: 7, width: 11, height: 11 });
  assert.deepEqual(clampRect({ x: -5, y: 90, width: 20, height: 20 }, { x: 0, y: 0, width: 100, height: 100 }), { x: 0, y: 90, width: 15, height: 10 });
  assert.deepEqual(clampRect({ x: 200, y: 0, width: 20, height: 20 }, { x: 0, y: 0, width: 100, height: 100 }).width, 0);
});

test("cropMargin is 3 sigma, or a fixed CSS margin when blind", () => {
  assert.equal(cropMargin(4, 2), 12);
  assert.equal(cropMargin(1.1, 1), 4);
  assert.equal(cropMargin(null, 2), BLIND_MARGIN_CSS * 2);
});

test("planCrop widens by 3 sigma at DPR 2, and the overlay covers the element and its halo", () => {
  const plan = planCrop({ box: { x: 100, y: 50, width: 600, height: 200 }, sigmaDevice: 8, scale: 2, capture: { width: 2560, height: 1600 } });
  assert.deepEqual(plan.box, { x: 200, y: 100, width: 1200, height: 400 });
  assert.deepEqual(plan.crop, { x: 176, y: 76, width: 1248, height: 448 });
  assert.deepEqual(plan.area, plan.crop);
  assert.deepEqual(plan.inner, { x: 0, y: 0, width: 1248, height: 448 });
  assert.deepEqual(plan.overlay, { x: 88, y: 38, width: 624, height: 224 });
  assert.equal(plan.clipped, false);
});

test("planCrop shows only the part of the reach it is told to (a region, the middle of a tall element)", () => {
  const reach = { left: 6, right: 6, top: 6, bottom: 6 };
  const region = planCrop({ box: { x: 10, y: 10, width: 50, height: 20 }, reach, show: { left: 0, right: 0, top: 0, bottom: 0 }, scale: 1, capture: { width: 200, height: 100 } });
  assert.deepEqual(region.crop, { x: 4, y: 4, width: 62, height: 32 });
  assert.deepEqual(region.overlay, { x: 10, y: 10, width: 50, height: 20 });
  assert.deepEqual(region.inner, { x: 6, y: 6, width: 50, height: 20 });
  const middle = planCrop({ box: { x: 10, y: 10, width: 50, height: 20 }, reach, show: { ...reach, top: 0, bottom: 0 }, scale: 1, capture: { width: 200, height: 100 } });
  assert.deepEqual(middle.overlay, { x: 4, y: 10, width: 62, height: 20 });
});

test("planCrop clamps the widening and the box to the viewport", () => {
  const plan = planCrop({ box: { x: -10, y: 5, width: 100, height: 50 }, sigmaDevice: 3, scale: 1, capture: { width: 800, height: 600 } });
  assert.deepEqual(plan.box, { x: 0, y: 5, width: 90, height: 50 });
  assert.deepEqual(plan.crop, { x: 0, y: 0, width: 99, height: 64 });
  assert.deepEqual(plan.inner, { x: 0, y: 0, width: 99, height: 64 });
  assert.deepEqual(plan.overlay, { x: 0, y: 0, width: 99, height: 64 });
  assert.equal(plan.clipped, true);
  assert.equal(planCrop({ box: { x: 0, y: 700, width: 10, height: 10 }, scale: 1, capture: { width: 800, height: 600 } }), null);
});

test("planCrop keeps an element in a frame inside the frame's bounds", () => {
  const bounds = { x: 100, y: 100, width: 300, height: 200 };
  const plan = planCrop({ box: { x: 150, y: 250, width: 100, height: 100 }, sigmaDevice: 2, scale: 1, capture: { width: 800, height: 600 }, bounds });
  assert.deepEqual(plan.box, { x: 150, y: 250, width: 100, height: 50 });
  assert.deepEqual(plan.crop, { x: 144, y: 244, width: 112, height: 62 }); // context from outside the frame is fine
  assert.deepEqual(plan.area, { x: 144, y: 244, width: 112, height: 56 }); // the overlay stays in the frame
  assert.equal(plan.clipped, true);
});

test("planCrop at a fractional zoom snaps the overlay to device pixels", () => {
  const plan = planCrop({ box: { x: 10.2, y: 3.3, width: 50.5, height: 20 }, sigmaDevice: null, scale: 1.5, capture: { width: 1200, height: 900 } });
  assert.deepEqual(plan.box, { x: 15, y: 4, width: 77, height: 31 });
  assert.equal(plan.crop.x, 15 - 12);
  assert.deepEqual(plan.overlay, { x: 2, y: 0, width: (77 + 24) / 1.5, height: (4 + 31 + 12) / 1.5 });
});

test("blurReach is 3 sigma in device px, plus a text shadow's offset on its side", () => {
  assert.deepEqual(blurReach({ sigmaCss: 3 }, 1), { left: 9, right: 9, top: 9, bottom: 9 });
  assert.deepEqual(blurReach({ sigmaCss: 3 }, 2), { left: 18, right: 18, top: 18, bottom: 18 });
  // text-shadow: 4px 2px 6px -> sigma 3, moved 4 right and 2 down
  assert.deepEqual(blurReach({ sigmaCss: 3, spread: { left: 0, right: 4, top: 0, bottom: 2 } }, 2), { left: 18, right: 26, top: 18, bottom: 22 });
  // several shadows: sigma unknown, the widest shadow's reach still bounds the halo
  assert.deepEqual(blurReach({ sigmaCss: null, reachSigmaCss: 4 }, 1), { left: 12, right: 12, top: 12, bottom: 12 });
  const blind = BLIND_MARGIN_CSS * 1.5;
  assert.deepEqual(blurReach({ sigmaCss: null }, 1.5), { left: blind, right: blind, top: blind, bottom: blind });
});

test("frameToTab maps through nested frames and clips to each frame's box", () => {
  // an iframe at (100, 50) in the tab (border 2, so its viewport starts at 102, 52), 300x200
  const outer = frameBoundary({ x: 100, y: 50, width: 304, height: 204 }, { left: 2, right: 2, top: 2, bottom: 2 }, { width: 300, height: 200 });
  assert.deepEqual(outer, { origin: { x: 102, y: 52 }, scale: { x: 1, y: 1 }, clip: { x: 102, y: 52, width: 300, height: 200 } });
  // inside it, a frame at (10, 20) of 100x80 shown at half size by a CSS transform: 200x160 of its own px
  const inner = frameBoundary({ x: 10, y: 20, width: 100, height: 80 }, { left: 0, right: 0, top: 0, bottom: 0 }, { width: 200, height: 160 });
  assert.deepEqual(inner.scale, { x: 0.5, y: 0.5 });
  const { rect, visible } = frameToTab({ x: 20, y: 40, width: 300, height: 20 }, [inner, outer]);
  assert.deepEqual(rect, { x: 102 + 10 + 10, y: 52 + 20 + 20, width: 150, height: 10 });
  // clipped by the inner frame's right edge (x 112 + 100)
  assert.deepEqual(visible, { x: 122, y: 92, width: 90, height: 10 });
  assert.deepEqual(tabToFrame(rect, [inner, outer]), { x: 20, y: 40, width: 300, height: 20 });
  assert.deepEqual(frameToTab({ x: 5, y: 5, width: 1, height: 1 }, []).rect, { x: 5, y: 5, width: 1, height: 1 });
  // an element scrolled out of its frame is not visible on the tab at all
  assert.equal(frameToTab({ x: 0, y: 500, width: 50, height: 20 }, [outer]).visible.height, 0);
});

test("dragRegion spans a drag in any direction, clamps it to the viewport and ignores clicks", () => {
  const viewport = { width: 800, height: 600 };
  assert.deepEqual(dragRegion({ x: 300, y: 200 }, { x: 100, y: 120 }, viewport), { x: 100, y: 120, width: 200, height: 80 });
  assert.deepEqual(dragRegion({ x: 700, y: 500 }, { x: 900, y: 650 }, viewport), { x: 700, y: 500, width: 100, height: 100 });
  assert.equal(dragRegion({ x: 10, y: 10 }, { x: 12, y: 300 }, viewport), null);
  assert.equal(dragRegion({ x: 10, y: 10 }, { x: 10 + MIN_REGION_CSS, y: 10 + MIN_REGION_CSS }, viewport).width, MIN_REGION_CSS);
});

test("spanRect spans two points in any direction", () => {
  assert.deepEqual(spanRect({ x: 50, y: 40 }, { x: 10, y: 60 }), { x: 10, y: 40, width: 40, height: 20 });
});

test("an overlay follows its element and stretches with it, its halo keeping its width", () => {
  const placement = { offset: { x: -6, y: -6 }, size: { width: 212, height: 62 }, capturedSize: { width: 200, height: 50 } };
  const origin = { left: -30, top: -400 }; // the layer sits at the document's origin, scrolled by 30, 400
  assert.deepEqual(overlayBox({ left: 100, top: 20, width: 200, height: 50 }, origin, placement), { left: 124, top: 414, width: 212, height: 62 });
  assert.deepEqual(overlayBox({ left: 100, top: 20, width: 150, height: 80 }, origin, placement), { left: 124, top: 414, width: 162, height: 92 });
  assert.deepEqual(overlayBox({ left: 0, top: 0, width: 0, height: 0 }, { left: 0, top: 0 }, { ...placement, size: { width: 10, height: 10 } }),
    { left: -6, top: -6, width: 0, height: 0 });
});
