// Automatic mode: a content script registered for the sites the user picked in the options
// asks the service worker to sharpen each of their pages as it loads.
import { loadSettings } from "./sharpen.js";

const SCRIPT_ID = "anti-aging-auto";

/** Register the automatic-mode content script for the picked sites the user granted access to. */
export async function syncAutoMode() {
  const { autoSites } = await loadSettings();
  const granted = [];
  for (const pattern of autoSites) {
    if (await chrome.permissions.contains({ origins: [pattern] })) granted.push(pattern);
  }
  const script = { id: SCRIPT_ID, matches: granted, js: ["content/auto.js"], runAt: "document_idle" };
  const existing = await chrome.scripting.getRegisteredContentScripts({ ids: [SCRIPT_ID] });
  if (existing.length && granted.length) await chrome.scripting.updateContentScripts([script]);
  else if (existing.length) await chrome.scripting.unregisterContentScripts({ ids: [SCRIPT_ID] });
  else if (granted.length) await chrome.scripting.registerContentScripts([script]);
  return granted;
}
