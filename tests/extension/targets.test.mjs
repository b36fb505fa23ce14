import { test } from "node:test";
import assert from "node:assert/strict";
import { Targets, targetDescriptor } from "../../extension/content/targets.js";

test("an element keeps its id; ids carry the frame's key; what was found is kept per id", () => {
  const targets = new Targets("fabc");
  const [a, b] = [{ name: "a" }, { name: "b" }];
  const idA = targets.add(a, { kind: "css-blur", ownText: true, shadowColor: null });
  const idB = targets.add(b, { kind: "image", ownText: false, shadowColor: null });
  assert.ok(idA.startsWith("fabc-") && idB.startsWith("fabc-") && idA !== idB);
  assert.equal(targets.add(a, { kind: "text-shadow", ownText: true, shadowColor: "red" }), idA);
  assert.equal(targets.element(idA), a);
  assert.equal(targets.info(idA).kind, "text-shadow");
});

test("clearing forgets the elements, and a later id is still new", () => {
  const targets = new Targets("f1");
  const element = {};
  const first = targets.add(element, { kind: "css-blur" });
  targets.clear();
  assert.equal(targets.element(first), undefined);
  assert.equal(targets.info(first), undefined);
  const region = targets.add({}, { kind: "region" });
  assert.notEqual(region, first);
});

test("a descriptor places the target in the document and defaults to blind with no spread", () => {
  const rect = { x: 10, y: 30, width: 200, height: 40 };
  const target = targetDescriptor({ id: "f1-1", kind: "region", tag: "region", label: "200\u00d740 region", rect, scrollY: 500 });
  assert.deepEqual(target, {
    id: "f1-1", kind: "region", tag: "region", label: "200\u00d740 region", sigmaCss: null, reachSigmaCss: null,
    spread: { left: 0, right: 0, top: 0, bottom: 0 }, ownText: false, rect, top: 530, bottom: 570,
  });
  assert.equal(targetDescriptor({ id: "x", kind: "css-blur", tag: "p", label: "", rect, scrollY: 0, sigmaCss: 2 }).sigmaCss, 2);
});
