// Injected with chrome.scripting.executeScript({files}) into the page's isolated world.
// Content scripts cannot be ES modules, so this loads content/page.js once per document; the
// service worker then calls its methods through globalThis.antiAgingPage.
globalThis.antiAgingPage ??= import(chrome.runtime.getURL("content/page.js")).then((module) => module.install(document));
globalThis.antiAgingPage.then(() => true);
