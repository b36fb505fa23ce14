import { test } from "node:test";
import assert from "node:assert/strict";
import { splitIntoParts, planShots, captureDelay, recordCapture, stitchLayout, MAX_PARTS } from "../../extension/lib/capture-plan.js";

const view = { scrollY: 0, height: 600, maxScrollY: 3000 };

test("elements visible without scrolling share the first shot at the current scroll", () => {
  const items = [
    { id: "a", top: 10, bottom: 60, margin: 6 },
    { id: "b", top: 300, bottom: 500, margin: 6 },
  ];
  const { shots, capped } = planShots(items, view);
  assert.equal(shots.length, 1);
  assert.equal(shots[0].scrollY, 0);
  assert.deepEqual(shots[0].parts.map((p) => p.id), ["a", "b"]);
  assert.deepEqual(capped, []);
});

test("elements further down are grouped into as few scrolled shots as possible", () => {
  const items = [
    { id: "top", top: 100, bottom: 150, margin: 10 },
    { id: "low1", top: 1000, bottom: 1100, margin: 10 },
    { id: "low2", top: 1400, bottom: 1550, margin: 10 },
    { id: "far", top: 2500, bottom: 2600, margin: 10 },
  ];
  const { shots } = planShots(items, { scrollY: 50, height: 600, maxScrollY: 2200 });
  assert.deepEqual(shots.map((s) => s.scrollY), [50, 990, 2200]);
  assert.deepEqual(shots.map((s) => s.parts.map((p) => p.id)), [["top"], ["low1", "low2"], ["far"]]);
  for (const shot of shots) {
    for (const part of shot.parts) assert.ok(part.top >= shot.scrollY && part.bottom <= shot.scrollY + 600);
  }
});

test("an element above the viewport scrolls back up, leaving room for its margin", () => {
  const { shots } = planShots([{ id: "x", top: 200, bottom: 260, margin: 12 }], { scrollY: 900, height: 600, maxScrollY: 3000 });
  assert.deepEqual(shots, [{ scrollY: 188, parts: [{ id: "x", index: 0, top: 200, bottom: 260, margin: 12 }] }]);
});

test("an element taller than the viewport is cut into parts that fit with their margin", () => {
  const { parts, capped } = splitIntoParts({ id: "t", top: 100, bottom: 1500, margin: 20 }, 600);
  assert.equal(capped, false);
  assert.equal(parts[0].top, 100);
  assert.equal(parts.at(-1).bottom, 1500);
  for (let i = 1; i < parts.length; i += 1) assert.equal(parts[i].top, parts[i - 1].bottom);
  for (const part of parts) assert.ok(part.bottom - part.top + 2 * part.margin <= 600);
  const { shots } = planShots([{ id: "t", top: 100, bottom: 1500, margin: 20 }], view);
  assert.equal(shots.flatMap((s) => s.parts).length, parts.length);
});

test("an element taller than MAX_PARTS viewports is capped and reported", () => {
  const { parts, capped } = splitIntoParts({ id: "huge", top: 0, bottom: 100000, margin: 0 }, 600);
  assert.equal(capped, true);
  assert.equal(parts.length, MAX_PARTS);
  assert.deepEqual(planShots([{ id: "huge", top: 0, bottom: 100000, margin: 0 }], { scrollY: 0, height: 600, maxScrollY: 99400 }).capped, ["huge"]);
});

test("an element beyond the scrollable range is still planned once", () => {
  const { shots } = planShots([{ id: "tail", top: 900, bottom: 1000, margin: 0 }], { scrollY: 0, height: 600, maxScrollY: 300 });
  assert.deepEqual(shots.map((s) => [s.scrollY, s.parts.length]), [[300, 1]]);
});

test("captureDelay keeps to two captures a second", () => {
  assert.equal(captureDelay([], 1000), 0);
  assert.equal(captureDelay([1000], 1100), 0);
  assert.equal(captureDelay([1000, 1200], 1300), 750);
  assert.equal(captureDelay([1000, 1200], 2100), 0);
  assert.equal(captureDelay([0, 1000, 1200], 1300), 750);
  let history = [];
  let now = 0;
  const times = [];
  for (let i = 0; i < 5; i += 1) {
    now += captureDelay(history, now);
    times.push(now);
    history = recordCapture(history, now);
  }
  for (let i = 2; i < times.length; i += 1) assert.ok(times[i] - times[i - 2] >= 1000, `captures ${times}`);
  assert.ok(history.length <= 3);
});

test("stitchLayout places parts edge to edge at fractional scales", () => {
  const parts = [
    { index: 1, top: 433.3, bottom: 766.6 },
    { index: 0, top: 100, bottom: 433.3 },
    { index: 2, top: 766.6, bottom: 900.1 },
  ];
  const { height, placements } = stitchLayout(parts, 1.5);
  assert.deepEqual(placements.map((p) => p.index), [0, 1, 2]);
  assert.equal(placements[0].y, 0);
  for (let i = 1; i < placements.length; i += 1) assert.equal(placements[i].y, placements[i - 1].y + placements[i - 1].height);
  assert.equal(height, Math.round((900.1 - 100) * 1.5));
});

test("planShots scrolls so that an element's halo shows too, except past the document's edges", () => {
  const view = { scrollY: 0, height: 600, maxScrollY: 2000 };
  // visible, but its 10 px halo runs past the bottom of the window: a shot of its own, scrolled
  const low = planShots([{ id: "low", top: 580, bottom: 595, margin: 10 }], view);
  assert.equal(low.shots.length, 1);
  assert.ok(low.shots[0].scrollY > 0 && 595 + 10 <= low.shots[0].scrollY + 600 && 580 - 10 >= low.shots[0].scrollY);
  // at the top of the document the halo above cannot show anyway: no scrolling
  const top = planShots([{ id: "top", top: 4, bottom: 40, margin: 10 }], view);
  assert.deepEqual(top.shots.map((shot) => shot.scrollY), [0]);
  // likewise at the bottom of the document
  const end = planShots([{ id: "end", top: 2590, bottom: 2598, margin: 10 }], { scrollY: 2000, height: 600, maxScrollY: 2000 });
  assert.deepEqual(end.shots.map((shot) => shot.scrollY), [2000]);
});
