import { test } from "node:test";
import assert from "node:assert/strict";
import { deviceScale, snapRect, widenRect, clampRect, cropMargin, planCrop, BLIND_MARGIN_CSS } from "../../extension/lib/geometry.js";

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

test("planCrop widens by 3 sigma at DPR 2 and keeps the box inside the crop", () => {
  const plan = planCrop({ box: { x: 100, y: 50, width: 600, height: 200 }, sigmaDevice: 8, scale: 2, capture: { width: 2560, height: 1600 } });
  assert.deepEqual(plan.box, { x: 200, y: 100, width: 1200, height: 400 });
  assert.deepEqual(plan.crop, { x: 176, y: 76, width: 1248, height: 448 });
  assert.deepEqual(plan.inner, { x: 24, y: 24, width: 1200, height: 400 });
  assert.deepEqual(plan.overlay, { x: 100, y: 50, width: 600, height: 200 });
  assert.equal(plan.clipped, false);
});

test("planCrop clamps the widening and the box to the viewport", () => {
  const plan = planCrop({ box: { x: -10, y: 5, width: 100, height: 50 }, sigmaDevice: 3, scale: 1, capture: { width: 800, height: 600 } });
  assert.deepEqual(plan.box, { x: 0, y: 5, width: 90, height: 50 });
  assert.deepEqual(plan.crop, { x: 0, y: 0, width: 99, height: 64 });
  assert.deepEqual(plan.inner, { x: 0, y: 5, width: 90, height: 50 });
  assert.deepEqual(plan.overlay, { x: 0, y: 5, width: 90, height: 50 });
  assert.equal(plan.clipped, true);
  assert.equal(planCrop({ box: { x: 0, y: 700, width: 10, height: 10 }, scale: 1, capture: { width: 800, height: 600 } }), null);
});

test("planCrop at a fractional zoom snaps the overlay to device pixels", () => {
  const plan = planCrop({ box: { x: 10.2, y: 3.3, width: 50.5, height: 20 }, sigmaDevice: null, scale: 1.5, capture: { width: 1200, height: 900 } });
  assert.deepEqual(plan.box, { x: 15, y: 4, width: 77, height: 31 });
  assert.ok(Math.abs(plan.overlay.x - 10.2) < 1 && Math.abs(plan.overlay.width - 50.5) < 1);
  assert.equal(plan.crop.x, 15 - 12);
});
