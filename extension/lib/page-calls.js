// Calling the page agent (content/page.js) in a tab's frames from the service worker.
import { message } from "./i18n.js";

export class PageError extends Error {
  constructor(message) {
    super(message);
    this.name = "PageError";
  }
}

export const TOP_FRAME = 0;

/**
 * Load the page agent into every frame of the tab that Chrome lets the extension script (once
 * per document; later calls are no-ops). Frames it refuses are skipped; the top frame must work.
 */
export async function injectPageAgent(tabId) {
  try {
    await chrome.scripting.executeScript({ target: { tabId, allFrames: true }, files: ["content/inject.js"] });
  } catch (error) {
    throw new PageError(message("error_page_not_scriptable", error.message));
  }
}

// Runs in the page's frame (serialized by executeScript): it can reach no module, so a missing agent is
// reported as error null, which the worker words.
async function agentCall(name, values) {
  try {
    const agent = await globalThis.antiAgingPage;
    if (!agent) return { ok: false, error: null };
    return { ok: true, value: await agent[name](...values) };
  } catch (error) {
    return { ok: false, error: String(error?.message ?? error) };
  }
}

function pageFailure(method, error) {
  return new PageError(message("error_page_failed", method, error ?? message("error_no_page_agent")));
}

/** Run `method(...args)` on the page agent of one frame (the top one by default) and return its result. */
export async function callFrame(tabId, frameId, method, ...args) {
  const [frame] = await chrome.scripting.executeScript({ target: { tabId, frameIds: [frameId] }, func: agentCall, args: [method, args] });
  const answer = frame?.result;
  if (!answer) throw new PageError(message("error_page_no_answer", method));
  if (!answer.ok) throw pageFailure(method, answer.error);
  return answer.value;
}

export function callPage(tabId, method, ...args) {
  return callFrame(tabId, TOP_FRAME, method, ...args);
}

/**
 * Run `method(...args)` in every frame that has the page agent: [{frameId, value}], top frame
 * first. Frames that fail (no agent, a frame Chrome does not let us script) are left out; the
 * top frame's failure is an error.
 */
export async function callFrames(tabId, method, ...args) {
  const frames = await chrome.scripting.executeScript({ target: { tabId, allFrames: true }, func: agentCall, args: [method, args] });
  const top = frames.find((frame) => frame.frameId === TOP_FRAME);
  if (!top?.result) throw new PageError(message("error_page_no_answer", method));
  if (!top.result.ok) throw pageFailure(method, top.result.error);
  return frames
    .filter((frame) => frame.result?.ok)
    .sort((a, b) => (a.frameId === TOP_FRAME ? -1 : b.frameId === TOP_FRAME ? 1 : 0))
    .map((frame) => ({ frameId: frame.frameId, value: frame.result.value }));
}
