// Options: server URL, token, and the sites for automatic mode (with Chrome's permission for them).
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
    showMessage(`Not saved: ${error.message}.`, "error");
    return;
  }
  const { patterns, errors } = parseSiteList($("sites").value);
  if (errors.length) {
    showMessage(`Not saved: ${errors.join("; ")}.`, "error");
    return;
  }
  // Chrome shows its permission prompt only inside the click, so ask before anything else is awaited.
  const granted = patterns.length ? await chrome.permissions.request({ origins: patterns }) : true;
  if (!granted) {
    showMessage("Not saved: Chrome's access to those sites was refused, so automatic mode cannot run there.", "error");
    return;
  }
  const previous = normalizeSettings(await chrome.storage.sync.get(null)).autoSites;
  const dropped = previous.filter((pattern) => !patterns.includes(pattern));
  if (dropped.length) await chrome.permissions.remove({ origins: dropped });
  await chrome.storage.sync.set({ serverUrl, token: $("token").value.trim(), autoSites: patterns });
  $("server-url").value = serverUrl;
  showMessage("Saved.", "ok");
}

async function check() {
  showMessage("Checking…");
  const health = await chrome.runtime.sendMessage({ type: "health" });
  if (health.ok) showMessage(`The server at ${health.serverUrl} is ready: ${health.model} on ${health.device}, version ${health.version}. (Save first if you changed the URL.)`, "ok");
  else showMessage(health.error, "error");
}

$("form").addEventListener("submit", save);
$("check").addEventListener("click", check);
load();
