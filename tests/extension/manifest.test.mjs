import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";

const root = new URL("../../extension/", import.meta.url);
const text = readFileSync(new URL("manifest.json", root), "utf8");
const manifest = JSON.parse(text);

test("the shipped manifest asks for the minimal permissions", () => {
  assert.equal(manifest.manifest_version, 3);
  assert.deepEqual([...manifest.permissions].sort(), ["activeTab", "contextMenus", "scripting", "storage"]);
  assert.deepEqual(manifest.host_permissions, ["http://127.0.0.1/*", "http://localhost/*"]);
  assert.ok(!text.includes("<all_urls>"), "no <all_urls> anywhere in the shipped manifest");
  assert.deepEqual(manifest.background, { service_worker: "service-worker.js", type: "module" });
});

test("every file the manifest names exists", () => {
  const files = [
    manifest.background.service_worker,
    manifest.action.default_popup,
    manifest.options_ui.page,
    ...Object.values(manifest.icons),
    ...Object.values(manifest.action.default_icon),
    ...manifest.web_accessible_resources.flatMap((entry) => entry.resources),
  ];
  for (const file of files) assert.ok(existsSync(new URL(file, root)), file);
});

test("the page agent's imports are all web-accessible", () => {
  const exposed = new Set(manifest.web_accessible_resources.flatMap((entry) => entry.resources));
  const agent = readFileSync(new URL("content/page.js", root), "utf8");
  const imports = [...agent.matchAll(/from "\.\.\/(.+?)"/g)].map((match) => match[1]);
  assert.ok(imports.length > 0);
  for (const path of imports) assert.ok(exposed.has(path), `${path} is imported by content/page.js`);
  assert.ok(exposed.has("content/page.js"));
});
