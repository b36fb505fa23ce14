import { test } from "node:test";
import assert from "node:assert/strict";
import { countsWithFrames, frameChains, frameOrigins, placeInTab } from "../../extension/lib/frames.js";

const boundary = (x, y, width, height) => ({ origin: { x, y }, scale: { x: 1, y: 1 }, clip: { x, y, width, height } });

test("frameChains links each frame to the top through the keys its parent reported", () => {
  const top = { frameId: 0, key: "t", boundaries: { a: boundary(100, 50, 300, 200) } };
  const child = { frameId: 7, key: "a", boundaries: { b: boundary(10, 10, 100, 100) } };
  const grandchild = { frameId: 9, key: "b", boundaries: {} };
  const orphan = { frameId: 4, key: "z", boundaries: {} }; // its parent frame did not answer
  const chains = frameChains([grandchild, orphan, top, child]);
  assert.deepEqual(chains.get(0), []);
  assert.deepEqual(chains.get(7), [boundary(100, 50, 300, 200)]);
  assert.deepEqual(chains.get(9), [boundary(10, 10, 100, 100), boundary(100, 50, 300, 200)]);
  assert.equal(chains.get(4), null);
});

test("placeInTab puts a frame's rectangle on the tab with the frame's visible box as bounds", () => {
  const chain = [boundary(100, 50, 300, 200)];
  const placed = placeInTab({ x: 20, y: 180, width: 100, height: 40 }, chain, { width: 300, height: 200 });
  assert.deepEqual(placed.rect, { x: 120, y: 230, width: 100, height: 40 });
  assert.deepEqual(placed.bounds, { x: 100, y: 50, width: 300, height: 200 });
  assert.deepEqual(placeInTab({ x: 1, y: 2, width: 3, height: 4 }, [], { width: 800, height: 600 }), { rect: { x: 1, y: 2, width: 3, height: 4 }, bounds: null });
});

test("frame origins: http(s) only, each once, relative addresses resolved", () => {
  const sources = ["https://a.example/x", "https://a.example/y", "/local.html", "about:blank", "javascript:void 0", "http://[bad"];
  assert.deepEqual(frameOrigins(sources, "http://page.example/dir/"), ["https://a.example", "http://page.example"]);
});

test("countsWithFrames adds the overlays and reveals each child frame reported to the frame's own", () => {
  const own = { sharpened: 6, read: 1, revealed: 0 };
  const sameOrigin = { sharpened: 1, read: 0, revealed: 0 };
  const crossOrigin = { sharpened: 0, read: 2, revealed: 1 };
  assert.deepEqual(countsWithFrames(own, [sameOrigin, crossOrigin]), { sharpened: 7, read: 3, revealed: 1 });
  assert.deepEqual(countsWithFrames(own, []), own);
});

test("countsWithFrames counts nothing for a report that is not a tally (a page can post one)", () => {
  const own = { sharpened: 2, read: 0, revealed: 0 };
  const forged = [null, "7", { sharpened: "3" }, { sharpened: -4 }, { sharpened: 1.5 }, { read: 1e9 }, { revealed: NaN }];
  assert.deepEqual(countsWithFrames(own, forged), own);
});
