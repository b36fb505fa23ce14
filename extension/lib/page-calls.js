// Calling the page agent (content/page.js) in a tab from the service worker.

export class PageError extends Error {
  constructor(message) {
    super(message);
    this.name = "PageError";
  }
}

/** Load the page agent into the tab's top frame (once per document; later calls are no-ops). */
export async function injectPageAgent(tabId) {
  try {
    await chrome.scripting.executeScript({ target: { tabId }, files: ["content/inject.js"] });
  } catch (error) {
    throw new PageError(`Anti-aging cannot work on this page (${error.message}). Browser pages, the Chrome Web Store and PDF viewers cannot be captured.`);
  }
}

/** Run `method(...args)` on the tab's page agent and return its (JSON-serialisable) result. */
export async function callPage(tabId, method, ...args) {
  const [frame] = await chrome.scripting.executeScript({
    target: { tabId },
    func: async (name, values) => {
      try {
        const agent = await globalThis.antiAgingPage;
        return { ok: true, value: await agent[name](...values) };
      } catch (error) {
        return { ok: false, error: String(error?.message ?? error) };
      }
    },
    args: [method, args],
  });
  const answer = frame?.result;
  if (!answer) throw new PageError(`The page did not answer ${method}; was it reloaded?`);
  if (!answer.ok) throw new PageError(`The page failed at ${method}: ${answer.error}`);
  return answer.value;
}
