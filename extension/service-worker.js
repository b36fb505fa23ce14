// Thin entry point: wires Chrome events to the feature modules. No state lives here; a
// service worker can be stopped at any moment.
import { syncAutoMode } from "./lib/auto-mode.js";
import { DOCUMENT_PORT, openDocumentView, readDocument, serveDocumentPort } from "./lib/document-read.js";
import { message } from "./lib/i18n.js";
import { readAll, readAtCursor, readRegion, readShown } from "./lib/read.js";
import {
  inspectTab, restoreTab, revealOwnText, serverHealth, setShowOriginal, sharpenAll, sharpenAtCursor, sharpenRegion, tabStatus,
} from "./lib/sharpen.js";

const MENU_CONTEXTS = ["page", "selection", "image", "link", "frame", "video"];

/** The context menu in the browser's language at this start (a language change takes a browser restart). */
function createMenus() {
  const items = [
    { id: "sharpen-text", title: message("menu_sharpen_text") },
    { id: "read-text", title: message("menu_read_text") },
    { id: "sharpen-region", title: message("menu_sharpen_region") },
    { id: "read-region", title: message("menu_read_region") },
    { id: "show-page-text", title: message("menu_show_page_text") },
  ];
  // Chrome keeps menu items across restarts: replace them rather than add duplicates. The callback
  // form works in every Chrome this manifest allows (promises came in 123).
  chrome.contextMenus.removeAll(() => {
    for (const item of items) chrome.contextMenus.create({ ...item, contexts: MENU_CONTEXTS });
  });
}

chrome.runtime.onInstalled.addListener(() => {
  createMenus();
  syncAutoMode();
});
chrome.runtime.onStartup.addListener(createMenus);

const menuActions = {
  "sharpen-text": (info, tab) => sharpenAtCursor(tab, info),
  "read-text": (info, tab) => readAtCursor(tab, info),
  "sharpen-region": (_, tab) => sharpenRegion(tab),
  "read-region": (_, tab) => readRegion(tab),
  "show-page-text": (info, tab) => revealOwnText(tab, info),
};

/** What the context menu items run. */
function handleMenuClick(info, tab) {
  const action = menuActions[info.menuItemId];
  if (!action || !tab || tab.id < 0) return Promise.resolve(null);
  return action(info, tab);
}

chrome.contextMenus.onClicked.addListener(handleMenuClick);

const commandActions = {
  "sharpen-all": (tab) => sharpenAll(tab),
  "sharpen-region": (tab) => sharpenRegion(tab),
};

/** What the keyboard shortcuts (the manifest's `commands`) run, on the tab they were pressed in. */
async function handleCommand(command, tab) {
  const action = commandActions[command];
  // Browsers that do not pass the tab: the shortcut was pressed in the focused window's tab.
  const [target] = tab ? [tab] : await chrome.tabs.query({ active: true, lastFocusedWindow: true });
  if (!action || !target || target.id < 0) return null;
  return action(target);
}

chrome.commands.onCommand.addListener(handleCommand);

const messageHandlers = {
  health: () => serverHealth(),
  inspect: ({ tabId }) => inspectTab(tabId),
  "sharpen-all": async ({ tabId }) => sharpenAll(await chrome.tabs.get(tabId)),
  "sharpen-region": async ({ tabId, sigmaCss }) => sharpenRegion(await chrome.tabs.get(tabId), { sigmaCss }),
  "read-all": async ({ tabId }) => readAll(await chrome.tabs.get(tabId)),
  // The popup's "Read the whole document": the view it opens connects a port (below) and reads.
  "read-document": async ({ tabId }) => openDocumentView(await chrome.tabs.get(tabId)),
  "read-region": async ({ tabId, sigmaCss }) => readRegion(await chrome.tabs.get(tabId), { sigmaCss }),
  // The page panel's "Read text", sent by the page agent of the frame it was pressed in.
  "read-shown": (_, sender) => readShown(sender.tab, sender.frameId),
  "show-page-text": async ({ tabId }) => revealOwnText(await chrome.tabs.get(tabId)),
  "show-original": ({ tabId, value }) => setShowOriginal(tabId, value),
  restore: ({ tabId }) => restoreTab(tabId),
  // The page panel's toggle and Restore, for every frame of the tab it was pressed in.
  "panel-show-original": ({ value }, sender) => setShowOriginal(sender.tab.id, value),
  "panel-restore": (_, sender) => restoreTab(sender.tab.id),
  "auto-sharpen": (_, sender) => autoSharpen(sender.tab),
};

/** Automatic mode on a page that just loaded: the badge counts its blurred elements until they are sharpened. */
async function autoSharpen(tab) {
  const found = await inspectTab(tab.id);
  if (found.found + found.unchecked === 0) return { ok: true, sharpened: 0 };
  const result = await sharpenAll(tab);
  // Without a click on this tab Chrome refuses the capture: the count on the icon invites that click.
  if (!result.ok) await chrome.action.setBadgeText({ tabId: tab.id, text: String(found.found + found.unchecked) });
  return result;
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  const handler = messageHandlers[message?.type];
  if (!handler) return false;
  Promise.resolve()
    .then(() => handler(message, sender))
    .then(sendResponse, (error) => sendResponse({ ok: false, error: String(error?.message ?? error) }));
  return true; // the answer comes asynchronously
});

chrome.runtime.onConnect.addListener((port) => {
  if (port.name === DOCUMENT_PORT) serveDocumentPort(port);
});

chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "sync" && changes.autoSites) syncAutoMode();
});
chrome.permissions.onRemoved.addListener(() => syncAutoMode());

// The same entry points, for the service worker's DevTools console and for browser tests.
globalThis.antiAging = {
  handleMenuClick, handleCommand, sharpenAtCursor, sharpenAll, sharpenRegion, readAtCursor, readAll, readRegion, readShown, revealOwnText, inspectTab, tabStatus,
  setShowOriginal, restoreTab, serverHealth, openDocumentView, readDocument,
};
