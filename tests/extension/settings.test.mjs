import { test } from "node:test";
import assert from "node:assert/strict";
import { normalizeServerUrl, parseSiteList, matchesSite, normalizeSettings, parseRegionSigma, DEFAULT_SERVER_URL } from "../../extension/lib/settings.js";
import { useLocale } from "./chrome-i18n.mjs";

useLocale("en");

test("normalizeServerUrl keeps loopback origins and explains what it refuses", () => {
  assert.equal(DEFAULT_SERVER_URL, "http://127.0.0.1:8765");
  assert.equal(normalizeServerUrl(""), DEFAULT_SERVER_URL);
  assert.equal(normalizeServerUrl(" http://localhost:9000/ "), "http://localhost:9000");
  assert.equal(normalizeServerUrl("http://127.0.0.1:8765"), "http://127.0.0.1:8765");
  assert.throws(() => normalizeServerUrl("example.com"), /not a URL/);
  assert.throws(() => normalizeServerUrl("ftp://127.0.0.1"), /http/);
  assert.throws(() => normalizeServerUrl("http://192.168.1.2:8765"), /this computer/);
  assert.throws(() => normalizeServerUrl("http://127.0.0.1:8765/v1"), /no path/);
});

test("parseSiteList turns hosts and URLs into match patterns", () => {
  const { patterns, errors } = parseSiteList("example.com\nhttps://news.example.org/article/1\n*.medium.com, # comment\n\nexample.com\nnot a site!");
  assert.deepEqual(patterns, ["*://example.com/*", "https://news.example.org/*", "*://*.medium.com/*"]);
  assert.deepEqual(errors, ["not a site: not a site!"]);
});

test("matchesSite follows scheme, host and subdomain wildcards", () => {
  const patterns = ["*://example.com/*", "https://secure.example.org/*", "*://*.medium.com/*"];
  assert.equal(matchesSite("https://example.com/a?b", patterns), true);
  assert.equal(matchesSite("http://example.com/", patterns), true);
  assert.equal(matchesSite("https://www.example.com/", patterns), false);
  assert.equal(matchesSite("http://secure.example.org/", patterns), false);
  assert.equal(matchesSite("https://secure.example.org/x", patterns), true);
  assert.equal(matchesSite("https://blog.medium.com/x", patterns), true);
  assert.equal(matchesSite("https://medium.com/x", patterns), true);
  assert.equal(matchesSite("chrome://settings", patterns), false);
  assert.equal(matchesSite("nonsense", patterns), false);
});

test("normalizeSettings fills defaults and drops bad values", () => {
  assert.deepEqual(normalizeSettings(), { serverUrl: DEFAULT_SERVER_URL, token: "", autoSites: [], regionSigmaCss: null });
  assert.deepEqual(normalizeSettings({ serverUrl: "http://evil.example", token: " t ", autoSites: ["*://a.com/*", 3], regionSigmaCss: "2.5" }),
    { serverUrl: DEFAULT_SERVER_URL, token: "t", autoSites: ["*://a.com/*"], regionSigmaCss: 2.5 });
});

test("parseRegionSigma keeps positive numbers and makes anything else blind", () => {
  assert.equal(parseRegionSigma("3"), 3);
  assert.equal(parseRegionSigma(1.5), 1.5);
  for (const blind of ["", " ", null, undefined, "0", "-2", "abc", Infinity]) assert.equal(parseRegionSigma(blind), null, String(blind));
});
