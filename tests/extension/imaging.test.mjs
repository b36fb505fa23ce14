import { test } from "node:test";
import assert from "node:assert/strict";
import { bytesToBase64 } from "../../extension/lib/imaging.js";

test("bytesToBase64 matches Buffer's encoding, across chunk boundaries", () => {
  const bytes = new Uint8Array(70000).map((_, i) => (i * 7919) % 256);
  assert.equal(bytesToBase64(bytes), Buffer.from(bytes).toString("base64"));
  assert.equal(bytesToBase64(new Uint8Array()), "");
});
