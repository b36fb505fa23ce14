import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { COMMAND_NAMES, listShortcuts } from "../../extension/lib/shortcuts.js";

const manifest = JSON.parse(readFileSync(new URL("../../extension/manifest.json", import.meta.url), "utf8"));

test("the manifest suggests a key for each command the popup lists", () => {
  assert.deepEqual(Object.keys(manifest.commands).sort(), [...COMMAND_NAMES].sort());
  const keys = Object.values(manifest.commands).map((command) => command.suggested_key.default);
  assert.equal(new Set(keys).size, keys.length, "no two commands share a key");
  // Chrome and Firefox both take Alt+Shift+<letter>; Ctrl+Shift+<letter> clashes with many of their own shortcuts.
  for (const key of keys) assert.match(key, /^Alt\+Shift\+[A-Z]$/);
});

test("listShortcuts shows the keys the user bound, in the popup's order, and says when one is unset", () => {
  const commands = [
    { name: "sharpen-region", description: "Sharpen a region\u2026", shortcut: "" },
    { name: "_execute_action", description: "", shortcut: "Ctrl+Shift+Y" },
    { name: "sharpen-all", description: "Sharpen all blurred text on this page", shortcut: "Alt+Shift+S" },
  ];
  assert.deepEqual(listShortcuts(commands), [
    { name: "sharpen-all", label: "Sharpen all blurred text on this page", keys: "Alt+Shift+S" },
    { name: "sharpen-region", label: "Sharpen a region\u2026", keys: null },
  ]);
  assert.deepEqual(listShortcuts([]), []);
});
