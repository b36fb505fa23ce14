// Options: server URL, token, and the sites for automatic mode (with Chrome's permission for them).
import { localizePage, message } from "../lib/i18n.js";
import { normalizeServerUrl, normalizeSettings, parseSiteList } from "../lib/settings.js";

const $ = (id) => document.getElementById(id);

function showMessage(text, level = "info") {
  $("message").textContent = text;
  $("message").dataset.level = level;
}

function sitesToText(patterns) {
  return patterns.map((pattern) => pattern.replace(/^\*:\/\//, "").replace(/\/\*$/, "")).join("\n");
}

async function load() {
  const settings = normalizeSettings(await chrome.storage.sync.get(null));
  $("server-url").value = settings.serverUrl;
  $("token").value = settings.token;
  $("sites").value = sitesToText(settings.autoSites);
}

async function save(event) {
  event.preventDefault();
  let serverUrl;
  try {
    serverUrl = normalizeServerUrl($("server-url").value);
  } catch (error) {
    showMessage(message("options_not_saved", error.message), "error");
    return;
  }
  const { patterns, errors } = parseSiteList($("sites").value);
  if (errors.length) {
    showMessage(message("options_not_saved", errors.join(message("list_separator"))), "error");
    return;
  }
  // Chrome shows its permission prompt only inside the click, so ask before anything else is awaited.
  const granted = patterns.length ? await chrome.permissions.request({ origins: patterns }) : true;
  if (!granted) {
    showMessage(message("options_sites_refused"), "error");
    return;
  }
  const previous = normalizeSettings(await chrome.storage.sync.get(null)).autoSites;
  const dropped = previous.filter((pattern) => !patterns.includes(pattern));
  if (dropped.length) await chrome.permissions.remove({ origins: dropped });
  await chrome.storage.sync.set({ serverUrl, token: $("token").value.trim(), autoSites: patterns });
  $("server-url").value = serverUrl;
  showMessage(message("options_saved"), "ok");
}

async function check() {
  showMessage(message("options_checking"));
  const health = await chrome.runtime.sendMessage({ type: "health" });
  if (health.ok) showMessage(message("options_server_ready", health.serverUrl, health.model, health.device, health.version), "ok");
  else showMessage(health.error, "error");
}

localizePage(document, (key, substitutions) => chrome.i18n.getMessage(key, substitutions));
$("form").addEventListener("submit", save);
$("check").addEventListener("click", check);
load();
