// The document view: opened by the popup's "Read the whole document" for one tab (?tab=<id>), it
// asks the service worker over a port to read that tab's document (lib/document-read.js) and shows
// each page's text as it comes, with its verdict and its uncertain characters marked; the progress;
// Cancel; and, once reading is over, "Copy all" and "Save as .txt" / ".md" (lib/document.js words
// and formats them). Pages that cannot be read are listed as such, with no text.
import {
  applyEvent, DOCUMENT_PORT, documentMarkdown, documentText, emptyDocument, fileNameFor, pageNote, progressText, tally,
} from "../lib/document.js";
import { localizePage, message } from "../lib/i18n.js";

const $ = (id) => document.getElementById(id);
const getMessage = (key, substitutions) => chrome.i18n.getMessage(key, substitutions);
// Object URLs of saved files are released once the browser has surely taken them.
const RELEASE_URL_MS = 60_000;
const COPIED_MS = 1500;

const busy = (doc) => doc.phase === "finding" || doc.phase === "reading";

/** An element with these attributes and children (strings become text), built without parsing HTML. */
function build(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

/** One page: its heading (number, verdict) and its lines, uncertain characters marked; no text when it has none. */
function pageSection(page, doc) {
  const headingId = `page-${page.number}`;
  const section = build("section", { class: "page", "data-number": String(page.number), "data-status": page.status, "aria-labelledby": headingId },
    build("h2", { id: headingId }, message("document_page", page.number, doc.total), build("span", { class: "note" }, pageNote(page, doc.phase))));
  if (page.verdict) section.dataset.verdict = page.verdict;
  if (busy(doc) && doc.reading === page.number) {
    section.dataset.reading = "";
    section.setAttribute("aria-busy", "true");
  }
  if (page.status === "read") {
    // The text is in the document's language (the page's own <html lang>), not the user's.
    const text = build("div", { class: "text", ...(doc.lang ? { lang: doc.lang } : {}) }, ...page.lines.map((line) => build("div", { class: "line" },
      ...line.runs.map((run) => (run.uncertain ? build("span", { class: "uncertain", title: message("text_layer_uncertain") }, run.text) : run.text)))));
    section.append(text);
  }
  return section;
}

function render(doc, previous) {
  $("status").textContent = progressText(doc);
  const counts = tally(doc);
  $("progress").max = Math.max(1, doc.total);
  $("progress").value = counts.done;
  if (doc.phase === "finding") $("progress").removeAttribute("value");
  if (doc.title || doc.url) {
    $("title").textContent = doc.title || doc.url;
    document.title = message("document_window_title", doc.title || doc.url);
    $("source-link").textContent = doc.url;
    $("source-link").href = doc.url;
  }
  $("cancel").disabled = !busy(doc);
  for (const id of ["copy", "save-txt", "save-md"]) $(id).disabled = busy(doc) || counts.done === 0;
  $("legend").hidden = !doc.pages.some((page) => page.uncertain > 0);
  const pages = $("pages");
  // Only pages whose state changed are built again; a new total rebuilds them all.
  if (doc.pages.length !== pages.children.length) pages.replaceChildren(...doc.pages.map((page) => pageSection(page, doc)));
  else {
    doc.pages.forEach((page, i) => {
      const was = previous.pages[i];
      const wasReading = previous.reading === page.number && busy(previous);
      const isReading = doc.reading === page.number && busy(doc);
      if (page !== was || wasReading !== isReading || busy(doc) !== busy(previous)) pages.children[i].replaceWith(pageSection(page, doc));
    });
  }
}

function save(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = build("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), RELEASE_URL_MS);
}

function main() {
  localizePage(document, getMessage);
  const tabId = Number(new URLSearchParams(location.search).get("tab"));
  let doc = emptyDocument();
  render(doc, doc);
  const port = chrome.runtime.connect({ name: DOCUMENT_PORT });
  port.onMessage.addListener((event) => {
    const previous = doc;
    doc = applyEvent(doc, event);
    render(doc, previous);
  });
  port.onDisconnect.addListener(() => {
    if (!busy(doc)) return;
    const previous = doc;
    doc = applyEvent(doc, { type: "error", message: message("document_connection_lost") });
    render(doc, previous);
  });
  port.postMessage({ type: "start", tabId });
  $("cancel").addEventListener("click", () => port.postMessage({ type: "cancel" }));
  $("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(documentText(doc));
      $("copy").textContent = message("text_layer_copied");
      setTimeout(() => { $("copy").textContent = message("document_copy_all"); }, COPIED_MS);
    } catch {
      getSelection().selectAllChildren($("pages"));
      $("notice").textContent = message("text_layer_copy_failed");
    }
  });
  $("save-txt").addEventListener("click", () => save(documentText(doc), fileNameFor(doc.title, "txt"), "text/plain"));
  $("save-md").addEventListener("click", () => save(documentMarkdown(doc), fileNameFor(doc.title, "md"), "text/markdown"));
}

main();
