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

/** content/page.js and every module it imports, directly or not (paths relative to extension/). */
function pageAgentModules() {
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    const source = readFileSync(new URL(path, root), "utf8");
    for (const [, specifier] of source.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+"(\.{1,2}\/[^"]+)"/gms)) {
      visit(new URL(specifier, new URL(path, root)).href.slice(root.href.length));
    }
  };
  visit("content/page.js");
  return seen;
}

test("every module the injected page agent loads is web-accessible, and only those", () => {
  const exposed = new Set(manifest.web_accessible_resources.flatMap((entry) => entry.resources));
  const modules = pageAgentModules();
  assert.ok(modules.has("content/scanner.js") && modules.has("lib/filters.js"), [...modules].join(", "));
  assert.deepEqual([...exposed].sort(), [...modules].sort());
});
