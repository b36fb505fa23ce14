// The modules in lib/ are the layer everything else builds on (the service worker, the pages and
// the page agent in content/ import them); they import only each other, never upward.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

const lib = new URL("../../extension/lib/", import.meta.url);

test("lib/ modules import only other lib/ modules", () => {
  const upward = [];
  for (const name of readdirSync(lib).filter((file) => file.endsWith(".js"))) {
    const source = readFileSync(new URL(name, lib), "utf8");
    for (const [, specifier] of source.matchAll(/(?:^(?:import|export)\s[^;]*?\sfrom\s+|\bimport\s*\(\s*)["']([^"']+)["']/gms)) {
      if (!new URL(specifier, new URL(name, lib)).href.startsWith(lib.href)) upward.push(`${name} imports ${specifier}`);
    }
  }
  assert.deepEqual(upward, []);
});
