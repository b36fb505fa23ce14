// User settings (chrome.storage.sync) and their validation; pure but for the errors' wording (lib/i18n.js).
import { message } from "./i18n.js";

export const DEFAULT_SERVER_URL = "http://127.0.0.1:8765";
export const DEFAULT_SETTINGS = Object.freeze({ serverUrl: DEFAULT_SERVER_URL, token: "", autoSites: [], regionSigmaCss: null });
// The manifest grants host access to these only: the server has to run on this machine.
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost"]);

/** A server URL reduced to its origin; throws an Error saying what is wrong. */
export function normalizeServerUrl(text) {
  const value = String(text ?? "").trim() || DEFAULT_SERVER_URL;
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new Error(message("error_url_invalid", value, DEFAULT_SERVER_URL));
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(message("error_url_scheme", url.protocol));
  if (!LOOPBACK_HOSTS.has(url.hostname)) throw new Error(message("error_url_not_local", url.hostname));
  if (url.pathname !== "/" || url.search || url.hash) throw new Error(message("error_url_has_path"));
  return url.origin;
}

/**
 * Parse the options page's site list (one per line: `example.com`, `*.example.com` or a URL)
 * into Chrome match patterns. Returns {patterns, errors}.
 */
export function parseSiteList(text) {
  const patterns = [];
  const errors = [];
  for (const raw of String(text ?? "").split(/[\n,]/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const pattern = sitePattern(line);
    if (pattern) {
      if (!patterns.includes(pattern)) patterns.push(pattern);
    } else {
      errors.push(message("error_not_a_site", line));
    }
  }
  return { patterns, errors };
}

function sitePattern(line) {
  let host = line;
  let scheme = "*";
  const withScheme = /^(https?):\/\/([^/?#]+)/i.exec(line);
  if (withScheme) {
    scheme = withScheme[1].toLowerCase();
    host = withScheme[2];
  }
  host = host.toLowerCase().replace(/:\d+$/, "");
  const wildcard = host.startsWith("*.");
  const bare = wildcard ? host.slice(2) : host;
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(bare)) return null;
  return `${scheme}://${wildcard ? "*." : ""}${bare}/*`;
}

/** Whether a page URL belongs to one of the match patterns made by parseSiteList. */
export function matchesSite(pageUrl, patterns) {
  let url;
  try {
    url = new URL(pageUrl);
  } catch {
    return false;
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== "http" && scheme !== "https") return false;
  return patterns.some((pattern) => {
    const match = /^(\*|https?):\/\/(\*\.)?([^/]+)\/\*$/.exec(pattern);
    if (!match) return false;
    const [, patternScheme, wildcard, host] = match;
    if (patternScheme !== "*" && patternScheme !== scheme) return false;
    return url.hostname === host || (Boolean(wildcard) && url.hostname.endsWith(`.${host}`));
  });
}

/** Settings as stored, with defaults filled in and bad values replaced. */
export function normalizeSettings(stored = {}) {
  let serverUrl = DEFAULT_SERVER_URL;
  try {
    serverUrl = normalizeServerUrl(stored.serverUrl);
  } catch {
    // A broken stored URL falls back to the default; the options page refuses to save one.
  }
  const token = typeof stored.token === "string" ? stored.token.trim() : "";
  const autoSites = Array.isArray(stored.autoSites) ? stored.autoSites.filter((p) => typeof p === "string") : [];
  return { serverUrl, token, autoSites, regionSigmaCss: parseRegionSigma(stored.regionSigmaCss) };
}

/** The blur sigma (CSS px) the user set for "Sharpen a region…": a positive number, or null (blind). */
export function parseRegionSigma(value) {
  if (value === null || value === undefined || String(value).trim() === "") return null;
  const sigma = Number(value);
  return Number.isFinite(sigma) && sigma > 0 ? sigma : null;
}
