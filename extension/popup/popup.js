// The toolbar popup: server status, the page's blurred elements, sharpen all, read all, read the
// whole document, a region, the page's own text, originals, restore, what each element got, and
// the keyboard shortcuts.
// Opening the popup grants activeTab, which the service worker needs to capture the page.
import { countMessage, fillWithMessage, localizePage, message } from "../lib/i18n.js";
import { matchesSite, normalizeSettings, parseRegionSigma } from "../lib/settings.js";
import { listShortcuts } from "../lib/shortcuts.js";

const $ = (id) => document.getElementById(id);

const getMessage = (key, substitutions) => chrome.i18n.getMessage(key, substitutions);

const send = (type, extra = {}) => chrome.runtime.sendMessage({ type, ...extra });

const METHOD_NAMES = { sharpened: () => message("method_sharpened"), read: () => message("method_read"), "page-text": () => message("method_page_text") };

function showMessage(text, level = "info") {
  $("message").textContent = text;
  $("message").dataset.level = level;
}

function showPage(state) {
  const shown = state.overlays + (state.revealed ?? 0);
  const nothing = state.found + state.unchecked === 0 && shown === 0;
  // One sentence a line (popup.css: pre-line), so no locale has to say how its sentences join.
  const lines = nothing ? [message("popup_nothing_found", message("menu_sharpen_region"))] : [
    countMessage("popup_found", state.found),
    ...(state.unchecked ? [countMessage("popup_unchecked", state.unchecked)] : []),
    message("popup_shown_counts", state.overlays, state.revealed ?? 0),
  ];
  $("found").textContent = lines.join("\n");
  const silent = state.silentOrigins ?? [];
  $("frames").hidden = silent.length === 0;
  $("frames-text").textContent = countMessage("popup_frames_out_of_reach", silent.length, silent.join(", "));
  $("show-original").checked = state.showingOriginal;
  $("show-original").disabled = shown === 0;
  $("restore").disabled = shown === 0;
  const list = $("elements");
  list.replaceChildren(...[...(state.placements ?? []), ...(state.pageText ?? [])].map((entry) => {
    const item = document.createElement("li");
    item.textContent = message("popup_element_method", entry.label || entry.kind || message("popup_element"), METHOD_NAMES[entry.method]());
    item.dataset.method = entry.method;
    return item;
  }));
}

async function showServer() {
  const health = await send("health");
  const server = $("server");
  if (health.ok) {
    server.dataset.state = "ok";
    server.textContent = message("popup_server_ready", health.serverUrl, health.model, health.device);
  } else {
    server.dataset.state = "down";
    server.textContent = health.error;
  }
  return health.ok;
}

/** The shortcuts as the user bound them (the browser's shortcut settings can change the manifest's suggestions). */
async function showShortcuts() {
  const shortcuts = listShortcuts(await chrome.commands.getAll());
  $("shortcuts").replaceChildren(...shortcuts.map(({ name, label, keys }) => {
    const item = document.createElement("li");
    item.dataset.command = name;
    const command = document.createElement("span");
    command.textContent = label;
    const key = document.createElement(keys ? "kbd" : "span");
    key.textContent = keys ?? message("popup_no_key_set");
    fillWithMessage(item, getMessage, "popup_shortcut", [command, key]);
    return item;
  }));
  $("keyboard").hidden = shortcuts.length === 0;
  $("change-shortcuts").addEventListener("click", (event) => {
    event.preventDefault();
    // Firefox opens its own shortcut settings; Chrome has a page for them.
    if (chrome.commands.openShortcutSettings) chrome.commands.openShortcutSettings();
    else chrome.tabs.create({ url: "chrome://extensions/shortcuts" });
  });
}

async function main() {
  localizePage(document, getMessage);
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  showShortcuts();
  $("options").addEventListener("click", (event) => {
    event.preventDefault();
    chrome.runtime.openOptionsPage();
  });
  const settings = normalizeSettings(await chrome.storage.sync.get(null));
  $("region-sigma").value = settings.regionSigmaCss ?? "";
  const serverReady = showServer();
  let state;
  try {
    state = await send("inspect", { tabId: tab.id });
    if (state.ok === false) throw new Error(state.error);
    showPage(state);
  } catch (error) {
    $("found").textContent = message("popup_cannot_inspect", error.message);
    return;
  }
  const ready = await serverReady;
  $("sharpen-all").disabled = !ready || state.found + state.unchecked === 0;
  $("sharpen-region").disabled = !ready;
  $("read-all").disabled = !ready || state.found + state.unchecked === 0;
  $("read-region").disabled = !ready;
  // Lazily loaded pages are found only by scrolling through the document: no count to wait for.
  $("read-document").disabled = !ready;
  $("show-page-text").disabled = state.found === 0;

  const report = (result, done) => {
    if (result.ok) {
      showMessage(result.message ?? done(result));
      state = { ...state, ...result.status };
      showPage(state);
    } else {
      showMessage(result.error, "error");
    }
  };
  const sharpenAll = async () => {
    $("sharpen-all").disabled = true;
    showMessage(message("popup_sharpening"));
    report(await send("sharpen-all", { tabId: tab.id }),
      (result) => countMessage("popup_sharpened_in", result.sharpened, (result.elapsedMs / 1000).toFixed(1)));
    $("sharpen-all").disabled = false;
  };
  $("sharpen-all").addEventListener("click", sharpenAll);
  $("read-all").addEventListener("click", async () => {
    $("read-all").disabled = true;
    showMessage(message("popup_reading"));
    report(await send("read-all", { tabId: tab.id }), (result) => countMessage("popup_read_in", result.read, (result.elapsedMs / 1000).toFixed(1)));
    $("read-all").disabled = false;
  });
  $("read-document").addEventListener("click", async () => {
    // The view opens in a window of its own beside the tab, which stays on screen for the captures.
    const result = await send("read-document", { tabId: tab.id });
    if (result?.ok === false) showMessage(result.error, "error");
    else window.close();
  });
  $("show-page-text").addEventListener("click", async () => {
    report(await send("show-page-text", { tabId: tab.id }), (result) => countMessage("popup_revealed", result.revealed));
  });
  $("allow-frames").addEventListener("click", async () => {
    // Asked per frame origin, from this click (Chrome wants a user gesture); optional_host_permissions allows it.
    const granted = await chrome.permissions.request({ origins: state.silentOrigins.map((origin) => `${origin}/*`) });
    if (!granted) return showMessage(message("popup_frames_refused", message("menu_sharpen_region")));
    state = await send("inspect", { tabId: tab.id });
    showPage(state);
    $("sharpen-all").disabled = !ready || state.found + state.unchecked === 0;
  });
  $("region-sigma").addEventListener("change", (event) => chrome.storage.sync.set({ regionSigmaCss: parseRegionSigma(event.target.value) }));
  for (const type of ["sharpen-region", "read-region"]) {
    $(type).addEventListener("click", async () => {
      const sigmaCss = parseRegionSigma($("region-sigma").value);
      await chrome.storage.sync.set({ regionSigmaCss: sigmaCss });
      // The service worker runs the picker in the page; the popup closes so the page can be dragged over.
      send(type, { tabId: tab.id, sigmaCss });
      window.close();
    });
  }
  // On a site in automatic mode, opening the popup is the click Chrome wants before it allows a capture.
  if (!$("sharpen-all").disabled && state.overlays === 0 && matchesSite(tab.url, settings.autoSites)) sharpenAll();
  $("show-original").addEventListener("change", async (event) => {
    state = { ...state, ...(await send("show-original", { tabId: tab.id, value: event.target.checked })) };
    showPage(state);
  });
  $("restore").addEventListener("click", async () => {
    state = { ...state, ...(await send("restore", { tabId: tab.id })) };
    showPage(state);
    showMessage(message("popup_restored"));
  });
}

main();
