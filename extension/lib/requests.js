// Requests to the local sharpening server and the messages its failures turn into.
// `fetchImpl` is injected so that node --test can exercise this without a server.
import { message } from "./i18n.js";

export const START_COMMAND = "make run";
export const START_COMMAND_ALT = "python -m server serve";
// The server refuses huge bodies (413); several smaller batches go through instead.
export const MAX_BATCH_ITEMS = 8;
export const MAX_BATCH_BYTES = 12 * 1024 * 1024;
export const REQUEST_TIMEOUT_MS = 60_000;

export class ServerError extends Error {
  constructor(message, { status = 0, code = "unreachable", retryAfter = null } = {}) {
    super(message);
    this.name = "ServerError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

function headers(token, extra = {}) {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : { ...extra };
}

export function buildHealthRequest(serverUrl, token = "") {
  return { url: `${serverUrl}/healthz`, init: { method: "GET", headers: headers(token) } };
}

export const SHARPEN_BATCH = "/v1/sharpen/batch";
export const READ_BATCH = "/v1/read/batch";

/** One batch request (/v1/sharpen/batch or /v1/read/batch); items are {image: data URL, sigma: number|null}. */
export function buildBatchRequest(serverUrl, items, token = "", route = SHARPEN_BATCH) {
  const images = items.map(({ image, sigma }) => ({ image, sigma: Number.isFinite(sigma) && sigma > 0 ? sigma : null }));
  return {
    url: `${serverUrl}${route}`,
    init: { method: "POST", headers: headers(token, { "Content-Type": "application/json" }), body: JSON.stringify({ images }) },
  };
}

/** Split items into batches under the server's size limits, keeping their order. */
export function chunkItems(items, { maxItems = MAX_BATCH_ITEMS, maxBytes = MAX_BATCH_BYTES } = {}) {
  const batches = [];
  let current = [];
  let bytes = 0;
  for (const item of items) {
    const size = item.image.length;
    if (current.length && (current.length >= maxItems || bytes + size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length) batches.push(current);
  return batches;
}

export const SIGMA_OUT_OF_RANGE = "sigma_out_of_range";

/** What the user reads when the server says the blur is beyond what its model handles. */
export function tooBlurredMessage(detail = "") {
  const showPageText = message("menu_show_page_text");
  return detail ? message("error_too_blurred_detail", detail, showPageText) : message("error_too_blurred", showPageText);
}

export function unreachableMessage(serverUrl) {
  return message("error_server_not_running", serverUrl, START_COMMAND, START_COMMAND_ALT);
}

/** A ServerError from an HTTP error response: the server's own message when it sent one. */
export function errorFromResponse(status, bodyText, retryAfterHeader = null) {
  let code = `http_${status}`;
  let detail = "";
  try {
    const body = JSON.parse(bodyText);
    if (body && body.error) {
      code = body.error.code ?? code;
      detail = body.error.message ?? "";
    }
  } catch {
    detail = String(bodyText ?? "").trim().slice(0, 200);
  }
  const header = retryAfterHeader === null || retryAfterHeader === "" ? NaN : Number(retryAfterHeader);
  const retryAfter = Number.isFinite(header) ? header : null;
  if (code === SIGMA_OUT_OF_RANGE) return new ServerError(tooBlurredMessage(detail), { status, code });
  return new ServerError(statusMessage(status, detail, retryAfter), { status, code, retryAfter });
}

/** "The server answered <status>", with its message and, for 403 and 503, what to do: whole sentences per case for translators. */
function statusMessage(status, detail, retryAfter) {
  if (status === 403) return detail ? message("error_server_forbidden_detail", detail) : message("error_server_forbidden");
  if (status === 503 && retryAfter !== null) {
    return detail ? message("error_server_busy_detail", detail, retryAfter) : message("error_server_busy", retryAfter);
  }
  return detail ? message("error_server_status_detail", status, detail) : message("error_server_status", status);
}

async function send(fetchImpl, serverUrl, request, timeoutMs) {
  let response;
  try {
    response = await fetchImpl(request.url, { ...request.init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    if (error && (error.name === "TimeoutError" || error.name === "AbortError")) {
      throw new ServerError(message("error_server_timeout", serverUrl, Math.round(timeoutMs / 1000)), { code: "timeout" });
    }
    throw new ServerError(unreachableMessage(serverUrl));
  }
  const text = await response.text();
  if (!response.ok) throw errorFromResponse(response.status, text, response.headers.get("Retry-After"));
  try {
    return JSON.parse(text);
  } catch {
    throw new ServerError(message("error_server_not_json", serverUrl), { status: response.status, code: "bad_response" });
  }
}

export async function checkHealth(fetchImpl, serverUrl, token = "", timeoutMs = 3000) {
  return send(fetchImpl, serverUrl, buildHealthRequest(serverUrl, token), timeoutMs);
}

/** Post items [{image, sigma}] to a batch route in as few batches as the limits allow; check(result) vets each answer. */
async function inBatches(fetchImpl, serverUrl, items, token, timeoutMs, route, check) {
  const results = [];
  for (const batch of chunkItems(items)) {
    const body = await send(fetchImpl, serverUrl, buildBatchRequest(serverUrl, batch, token, route), timeoutMs);
    if (!body || !Array.isArray(body.results) || body.results.length !== batch.length) {
      throw new ServerError(message("error_server_result_count", serverUrl, body?.results?.length ?? 0, batch.length), { code: "bad_response" });
    }
    for (const result of body.results) {
      if (result.error?.code === SIGMA_OUT_OF_RANGE) throw new ServerError(tooBlurredMessage(result.error.message ?? ""), { code: SIGMA_OUT_OF_RANGE });
      check(result);
    }
    results.push(...body.results);
  }
  return results;
}

/** Sharpen items [{image, sigma}]; results keep the order. */
export function sharpenImages(fetchImpl, serverUrl, items, token = "", timeoutMs = REQUEST_TIMEOUT_MS) {
  return inBatches(fetchImpl, serverUrl, items, token, timeoutMs, SHARPEN_BATCH, (result) => {
    if (result.error) throw new ServerError(message("error_server_image_failed", result.error.message ?? result.error), { code: result.error.code ?? "error" });
    if (typeof result.image !== "string") throw new ServerError(message("error_server_no_image"), { code: "bad_response" });
  });
}

/** Read the text of items [{image, sigma}]: {text, lines: [{text, box, confidence}], verdict} each, in order. */
export function readImages(fetchImpl, serverUrl, items, token = "", timeoutMs = REQUEST_TIMEOUT_MS) {
  return inBatches(fetchImpl, serverUrl, items, token, timeoutMs, READ_BATCH, (result) => {
    if (result.error) throw new ServerError(message("error_server_read_failed", result.error.message ?? result.error), { code: result.error.code ?? "error" });
    const wellFormed = Array.isArray(result.lines) && typeof result.verdict === "string"
      && result.lines.every((line) => typeof line.text === "string" && Array.isArray(line.box) && line.box.length === 4 && Array.isArray(line.confidence));
    if (!wellFormed) throw new ServerError(message("error_server_no_reading"), { code: "bad_response" });
  });
}
