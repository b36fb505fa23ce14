// "Read the document": which pictures are pages of a document and in what order, the document's
// state as its pages are read, the words the document view shows, and the document as .txt and
// Markdown. Pure: no DOM, no chrome.* but chrome.i18n (through i18n.js); tested with node --test.
import { countMessage, listOf, message } from "./i18n.js";
import { combineVerdicts, joinLines, layoutReading } from "./reading.js";

// The name of the port a document view reads its document over (lib/document-read.js serves it).
export const DOCUMENT_PORT = "read-document";

// A page is a picture at least this big (CSS px), no wider or taller than this ratio: thumbnails,
// logos and banners are not pages.
export const MIN_PAGE_WIDTH = 200;
export const MIN_PAGE_HEIGHT = 150;
export const MAX_PAGE_ASPECT = 2.5;
// Two pages are side by side (one row of a spread) when they overlap vertically by this share of the shorter one.
const SAME_ROW_OVERLAP = 0.5;
// A candidate containing another (within this many CSS px) is its frame, not a page of its own.
const CONTAINS_SLACK = 1;

/** Whether a box ({width, height}, CSS px) is shaped like a page of a document or a slide. */
export function isPageShaped({ width, height }) {
  if (width < MIN_PAGE_WIDTH || height < MIN_PAGE_HEIGHT) return false;
  return Math.max(width / height, height / width) <= MAX_PAGE_ASPECT;
}

const contains = (outer, inner) => outer !== inner
  && inner.left >= outer.left - CONTAINS_SLACK && inner.top >= outer.top - CONTAINS_SLACK
  && inner.left + inner.width <= outer.left + outer.width + CONTAINS_SLACK && inner.top + inner.height <= outer.top + outer.height + CONTAINS_SLACK;

/**
 * The pages among candidates ({id, left, top, width, height}: document CSS px), in reading order:
 * rows from the top, and left to right within a row (a spread). A candidate that holds another
 * (a page's frame with a background around its picture) gives way to the picture.
 */
export function pagesInOrder(candidates) {
  const pages = candidates.filter((page) => isPageShaped(page) && !candidates.some((other) => contains(page, other)));
  const byTop = [...pages].sort((a, b) => a.top - b.top || a.left - b.left);
  const rows = [];
  for (const page of byTop) {
    const row = rows.at(-1);
    const sameRow = row?.some((other) => {
      const overlap = Math.min(other.top + other.height, page.top + page.height) - Math.max(other.top, page.top);
      return overlap >= SAME_ROW_OVERLAP * Math.min(other.height, page.height);
    });
    if (sameRow) row.push(page);
    else rows.push([page]);
  }
  return rows.flatMap((row) => row.sort((a, b) => a.left - b.left));
}

/**
 * One page's reading from the server's readings of its parts ([{reading, lines}] as reading.js
 * layoutReading takes them, top first): {status: "read" | "unreadable", verdict, lines: [{text,
 * runs}], uncertain}. An unreadable page keeps no letters: they would be invented.
 */
export function pageReading(parts) {
  const verdict = combineVerdicts(parts.map(({ reading }) => reading.verdict));
  const laid = layoutReading(parts, { x: 0, y: 0 });
  const lines = laid.lines.map(({ text, runs, row }) => ({ text, runs, row }));
  return { status: verdict === "unreadable" ? "unreadable" : "read", verdict, lines, uncertain: laid.uncertain };
}

/** The document before anything is known of it. */
export function emptyDocument() {
  return { phase: "finding", title: "", url: "", lang: "", total: 0, reading: 0, pages: [], error: null };
}

const pending = (number) => ({ number, status: "pending", verdict: null, lines: [], uncertain: 0, reason: null });

/**
 * The document after one event of its reading (what the service worker reports):
 * {type: "found", title, url, lang, total}, {type: "reading", number}, {type: "page", number, page},
 * {type: "done"}, {type: "cancelled"}, {type: "error", message}.
 */
export function applyEvent(doc, event) {
  switch (event.type) {
    case "found":
      return { ...doc, phase: event.total ? "reading" : "done", title: event.title ?? "", url: event.url ?? "", lang: event.lang ?? "", total: event.total,
        pages: Array.from({ length: event.total }, (_, i) => pending(i + 1)) };
    case "reading":
      return { ...doc, reading: event.number };
    case "page":
      return { ...doc, pages: doc.pages.map((page) => (page.number === event.number ? { ...pending(page.number), ...event.page, number: page.number } : page)) };
    case "done":
      return { ...doc, phase: "done", reading: 0 };
    case "cancelled":
      return { ...doc, phase: "cancelled", reading: 0 };
    case "error":
      return { ...doc, phase: "failed", reading: 0, error: event.message };
    default:
      return doc;
  }
}

/** How many pages have each outcome so far. */
export function tally(doc) {
  const count = (test) => doc.pages.filter(test).length;
  return {
    readable: count((page) => page.status === "read" && page.verdict === "readable"),
    partly: count((page) => page.status === "read" && page.verdict !== "readable"),
    unreadable: count((page) => page.status === "unreadable" || page.status === "skipped"),
    done: count((page) => page.status !== "pending"),
  };
}

/** The view's status line: what is happening, or how it went. */
export function progressText(doc) {
  const counts = tally(doc);
  if (doc.phase === "finding") return message("document_finding");
  if (doc.phase === "reading") return message("document_reading", doc.reading || counts.done + 1, doc.total);
  if (doc.phase === "failed") return doc.total ? message("document_failed", counts.done, doc.total, doc.error ?? "") : doc.error ?? "";
  if (doc.phase === "cancelled") return message("document_cancelled", counts.done, doc.total);
  if (!doc.total) return message("document_no_pages", MIN_PAGE_WIDTH, MIN_PAGE_HEIGHT, message("hint_sharpen_region", message("menu_read_region")));
  const parts = [];
  if (counts.readable) parts.push(message("document_summary_readable", counts.readable));
  if (counts.partly) parts.push(message("document_summary_partly", counts.partly));
  if (counts.unreadable) parts.push(message("document_summary_unreadable", counts.unreadable));
  return countMessage("document_done", doc.total, listOf(parts));
}

/** What a page's heading says besides its number: its verdict, or why it has no text (or none yet, in the document's phase). */
export function pageNote(page, phase = "done") {
  if (page.status === "pending") return phase === "finding" || phase === "reading" ? message("document_page_waiting") : message("document_page_not_read");
  if (page.status === "skipped") return message("document_page_skipped", page.reason ?? "");
  if (page.status === "unreadable") return page.reason ? message("document_page_unreadable_reason", page.reason) : message("document_page_unreadable");
  return page.verdict === "readable" ? message("document_page_readable") : message("document_page_partly");
}

const hasUncertain = (doc) => doc.pages.some((page) => page.status === "read" && page.uncertain > 0);

// Brackets and backslashes the reader read are escaped, so the marks stay unambiguous (as the command line's `read` does).
const escapeBrackets = (text) => text.replace(/[[\]\\]/g, (character) => `\\${character}`);

/** A line as plain text, uncertain runs in [brackets]. */
export function markedText(runs) {
  return runs.map((run) => (run.uncertain ? `[${escapeBrackets(run.text)}]` : escapeBrackets(run.text))).join("");
}

// Characters Markdown could take for markup anywhere in a line.
const MARKDOWN_SPECIAL = /[\\`*_{}[\]()<>#|~!]/g;
const escapeMarkdown = (text) => text.replace(MARKDOWN_SPECIAL, (character) => `\\${character}`);
// At a line's start: a list marker, a heading rule or a numbered item's dot.
const escapeLineStart = (line) => line.replace(/^(\s*)([-+=])/, "$1\\$2").replace(/^(\s*\d+)\./, "$1\\.");

/** A line as Markdown that renders as markedText reads: the text escaped, uncertain runs in [brackets]. */
export function markedMarkdown(runs) {
  return escapeLineStart(runs.map((run) => {
    const text = escapeMarkdown(escapeBrackets(run.text));
    return run.uncertain ? `[${text}]` : text;
  }).join(""));
}

/** The document as plain text: what "Copy all" copies and "Save as .txt" saves. */
export function documentText(doc) {
  const head = [doc.title || doc.url, ...(doc.url && doc.title ? [message("document_source", doc.url)] : []), ...(hasUncertain(doc) ? [message("document_legend")] : [])];
  const pages = doc.pages.map((page) => {
    const heading = `--- ${message("document_page", page.number, doc.total)} ---`;
    if (page.status !== "read") return [heading, pageNote(page)].join("\n");
    return `${heading}\n${joinLines(page.lines, (line) => markedText(line.runs))}`;
  });
  return `${[head.join("\n"), ...pages].join("\n\n")}\n`;
}

/** The document as Markdown: "Save as .md". */
export function documentMarkdown(doc) {
  const title = `# ${escapeLineStart(escapeMarkdown(doc.title || doc.url))}`;
  const head = [title, ...(doc.url && doc.title ? [message("document_source", `<${doc.url}>`)] : []), ...(hasUncertain(doc) ? [escapeMarkdown(message("document_legend"))] : [])];
  const pages = doc.pages.map((page) => {
    const heading = `## ${escapeMarkdown(message("document_page", page.number, doc.total))}`;
    // A page's lines stay lines: two spaces end each one but the last.
    const body = page.status === "read" ? joinLines(page.lines, (line) => markedMarkdown(line.runs), "  \n") : `*${escapeMarkdown(pageNote(page))}*`;
    return `${heading}\n\n${body}`;
  });
  return `${[head.join("\n\n"), ...pages].join("\n\n")}\n`;
}

// Characters no file system takes in a name, and control characters.
const UNSAFE_IN_NAMES = /[\\/:*?"<>|\u0000-\u001f]+/g;
const MAX_NAME_LENGTH = 80;

/** A file name for the document: its title made safe, or the fallback word, with the extension. */
export function fileNameFor(title, extension) {
  const safe = (title ?? "").replace(UNSAFE_IN_NAMES, " ").replace(/\s+/g, " ").trim().replace(/^\.+/, "").slice(0, MAX_NAME_LENGTH).trim();
  return `${safe || message("document_file_name")}.${extension}`;
}
