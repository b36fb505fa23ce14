import { test } from "node:test";
import assert from "node:assert/strict";
import { buildBatchRequest, buildHealthRequest, chunkItems, errorFromResponse, sharpenImages, checkHealth, unreachableMessage, ServerError } from "../../extension/lib/requests.js";
import { useLocale } from "./chrome-i18n.mjs";

useLocale("en");

const SERVER = "http://127.0.0.1:8765";

test("buildBatchRequest sends data URLs with sigma, blind as null, and the token", () => {
  const { url, init } = buildBatchRequest(SERVER, [{ image: "data:image/png;base64,AAA", sigma: 4 }, { image: "data:image/png;base64,BBB", sigma: null }, { image: "x", sigma: 0 }], "secret");
  assert.equal(url, `${SERVER}/v1/sharpen/batch`);
  assert.equal(init.method, "POST");
  assert.equal(init.headers["Content-Type"], "application/json");
  assert.equal(init.headers.Authorization, "Bearer secret");
  assert.deepEqual(JSON.parse(init.body), { images: [{ image: "data:image/png;base64,AAA", sigma: 4 }, { image: "data:image/png;base64,BBB", sigma: null }, { image: "x", sigma: null }] });
  assert.equal(buildBatchRequest(SERVER, [], "").init.headers.Authorization, undefined);
  assert.equal(buildHealthRequest(SERVER).url, `${SERVER}/healthz`);
});

test("chunkItems splits by count and by bytes, keeping order", () => {
  const items = Array.from({ length: 5 }, (_, i) => ({ image: "x".repeat(10 * (i + 1)), sigma: i }));
  assert.deepEqual(chunkItems(items, { maxItems: 2, maxBytes: 1e9 }).map((b) => b.map((i) => i.sigma)), [[0, 1], [2, 3], [4]]);
  assert.deepEqual(chunkItems(items, { maxItems: 10, maxBytes: 60 }).map((b) => b.map((i) => i.sigma)), [[0, 1, 2], [3], [4]]);
  // one item bigger than the limit still goes, alone
  assert.deepEqual(chunkItems([{ image: "x".repeat(100) }], { maxItems: 10, maxBytes: 10 }).length, 1);
});

test("errorFromResponse carries the server's message", () => {
  const error = errorFromResponse(400, JSON.stringify({ error: { code: "bad_image", message: "cannot decode image" } }));
  assert.ok(error instanceof ServerError);
  assert.equal(error.code, "bad_image");
  assert.match(error.message, /400: cannot decode image/);
  const busy = errorFromResponse(503, JSON.stringify({ error: { code: "busy", message: "queue full" } }), "2");
  assert.equal(busy.retryAfter, 2);
  assert.match(busy.message, /retry in 2 s/);
  assert.match(errorFromResponse(403, "{}").message, /token/);
  assert.match(errorFromResponse(500, "<html>Internal</html>").message, /500: <html>Internal/);
});

function fakeFetch(handler) {
  const calls = [];
  const impl = async (url, init) => {
    calls.push({ url, init });
    return handler(url, init, calls.length);
  };
  return { impl, calls };
}

const json = (body, status = 200, headers = {}) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

test("sharpenImages batches and returns results in order", async () => {
  const { impl, calls } = fakeFetch((url, init) => {
    const { images } = JSON.parse(init.body);
    return json({ results: images.map((img) => ({ image: `${img.image}!`, width: 1, height: 1, sigma: img.sigma, elapsed_ms: 1 })) });
  });
  const items = Array.from({ length: 11 }, (_, i) => ({ image: `img${i}`, sigma: i + 1 }));
  const results = await sharpenImages(impl, SERVER, items, "t");
  assert.deepEqual(results.map((r) => r.image), items.map((i) => `${i.image}!`));
  assert.equal(calls.length, 2);
  assert.equal(calls[0].init.headers.Authorization, "Bearer t");
});

test("sharpenImages: server not running names the command that starts it", async () => {
  const { impl } = fakeFetch(() => {
    throw new TypeError("Failed to fetch");
  });
  await assert.rejects(sharpenImages(impl, SERVER, [{ image: "a", sigma: 1 }]), (error) => {
    assert.equal(error.code, "unreachable");
    assert.equal(error.message, unreachableMessage(SERVER));
    assert.match(error.message, /make run/);
    assert.match(error.message, /python -m server serve/);
    return true;
  });
});

test("sharpenImages: a server error surfaces its message; bad answers are refused", async () => {
  const failing = fakeFetch(() => json({ error: { code: "too_large", message: "image larger than 4096x4096" } }, 413));
  await assert.rejects(sharpenImages(failing.impl, SERVER, [{ image: "a", sigma: 1 }]), /413: image larger than 4096x4096/);
  const short = fakeFetch(() => json({ results: [] }));
  await assert.rejects(sharpenImages(short.impl, SERVER, [{ image: "a", sigma: 1 }]), /0 results for 1 images/);
  const html = fakeFetch(() => new Response("<html></html>", { status: 200 }));
  await assert.rejects(sharpenImages(html.impl, SERVER, [{ image: "a", sigma: 1 }]), /not JSON/);
});

test("checkHealth returns the server's status", async () => {
  const { impl, calls } = fakeFetch(() => json({ status: "ok", model: "nafunet", device: "cpu", version: "0.1.0" }));
  assert.equal((await checkHealth(impl, SERVER)).model, "nafunet");
  assert.equal(calls[0].url, `${SERVER}/healthz`);
});

test("a sigma out of the server's range reads as text blurred too much", async () => {
  const error = errorFromResponse(422, JSON.stringify({ error: { code: "sigma_out_of_range", message: "sigma 60 is above 50" } }));
  assert.equal(error.code, "sigma_out_of_range");
  assert.match(error.message, /blurred too much/);
  assert.match(error.message, /sigma 60 is above 50/);
  const fetchImpl = async () => new Response(JSON.stringify({ results: [{ error: { code: "sigma_out_of_range", message: "too wide" } }] }), { status: 200 });
  await assert.rejects(sharpenImages(fetchImpl, "http://127.0.0.1:1", [{ image: "data:,", sigma: 80 }]), /blurred too much/);
});
