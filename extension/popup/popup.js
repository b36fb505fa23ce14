// The toolbar popup: server status, the page's blurred elements, sharpen all, originals, restore.
// Opening the popup grants activeTab, which the service worker needs to capture the page.
import { matchesSite, normalizeSettings } from "../lib/settings.js";

const $ = (id) => document.getElementById(id);

const send = (type, extra = {}) => chrome.runtime.sendMessage({ type, ...extra });

function showMessage(text, level = "info") {
  $("message").textContent = text;
  $("message").dataset.level = level;
}

function showPage(state) {
  const unchecked = state.unchecked ? ` (and ${state.unchecked} image${state.unchecked === 1 ? "" : "s"} to check)` : "";
  $("found").textContent = `${state.found} blurred element${state.found === 1 ? "" : "s"} found on this page${unchecked}; ${state.overlays} sharpened.`;
  $("show-original").checked = state.showingOriginal;
  $("show-original").disabled = state.overlays === 0;
  $("restore").disabled = state.overlays === 0;
}

async function showServer() {
  const health = await send("health");
  const server = $("server");
  if (health.ok) {
    server.dataset.state = "ok";
    server.textContent = `Server ready at ${health.serverUrl} (${health.model} on ${health.device}).`;
  } else {
    server.dataset.state = "down";
    server.textContent = health.error;
  }
  return health.ok;
}

async function main() {
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  $("options").addEventListener("click", (event) => {
    event.preventDefault();
    chrome.runtime.openOptionsPage();
  });
  const serverReady = showServer();
  let state;
  try {
    state = await send("inspect", { tabId: tab.id });
    if (state.ok === false) throw new Error(state.error);
    showPage(state);
  } catch (error) {
    $("found").textContent = `This page cannot be inspected: ${error.message}`;
    return;
  }
  $("sharpen-all").disabled = !(await serverReady) || state.found + state.unchecked === 0;

  const sharpenAll = async () => {
    $("sharpen-all").disabled = true;
    showMessage("Sharpening…");
    const result = await send("sharpen-all", { tabId: tab.id });
    if (result.ok) {
      showMessage(`Sharpened ${result.sharpened} element${result.sharpened === 1 ? "" : "s"} in ${(result.elapsedMs / 1000).toFixed(1)} s.`);
      showPage({ ...state, ...result.status });
    } else {
      showMessage(result.error, "error");
    }
    $("sharpen-all").disabled = false;
  };
  $("sharpen-all").addEventListener("click", sharpenAll);
  // On a site in automatic mode, opening the popup is the click Chrome wants before it allows a capture.
  const { autoSites } = normalizeSettings(await chrome.storage.sync.get(null));
  if (!$("sharpen-all").disabled && state.overlays === 0 && matchesSite(tab.url, autoSites)) sharpenAll();
  $("show-original").addEventListener("change", async (event) => {
    showPage({ ...state, ...(await send("show-original", { tabId: tab.id, value: event.target.checked })) });
  });
  $("restore").addEventListener("click", async () => {
    showPage({ ...state, ...(await send("restore", { tabId: tab.id })) });
    showMessage("The page is back to its original.");
  });
}

main();
