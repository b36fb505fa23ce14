import { test } from "node:test";
import assert from "node:assert/strict";
import {
  applyEvent, documentMarkdown, documentText, emptyDocument, fileNameFor, isPageShaped, markedMarkdown, markedText, pageNote, pageReading,
  pagesInOrder, progressText, tally,
} from "../../extension/lib/document.js";
import { markRuns } from "../../extension/lib/reading.js";
import { useLocale } from "./chrome-i18n.mjs";

useLocale("en");

const page = (id, left, top, width = 520, height = 735) => ({ id, left, top, width, height });

test("pages are page-shaped pictures: thumbnails, logos and banners are not", () => {
  assert.ok(isPageShaped({ width: 520, height: 735 }));
  assert.ok(isPageShaped({ width: 800, height: 450 })); // a slide
  assert.ok(!isPageShaped({ width: 90, height: 127 })); // a thumbnail of a page
  assert.ok(!isPageShaped({ width: 180, height: 48 })); // a logo
  assert.ok(!isPageShaped({ width: 960, height: 220 })); // a banner
});

test("pages come in reading order: rows from the top, left to right within a spread, whatever order they were found in", () => {
  const found = [page("p3", 20, 1600), page("p1", 20, 40), page("right", 560, 812), page("left", 20, 800), page("p5", 20, 2400)];
  assert.deepEqual(pagesInOrder(found).map(({ id }) => id), ["p1", "left", "right", "p3", "p5"]);
});

test("a page's frame gives way to the picture it holds, and non-pages are left out", () => {
  const found = [page("frame", 10, 30, 540, 760), page("picture", 20, 40), page("thumb", 600, 40, 90, 127), page("next", 20, 820)];
  assert.deepEqual(pagesInOrder(found).map(({ id }) => id), ["picture", "next"]);
});

const reading = (lines, verdict = "readable") => ({ verdict, text: lines.map((line) => line.text).join("\n"), lines });
const placed = (texts, confidence = null) => texts.map((text) => ({ text, runs: markRuns(text, confidence ?? Array.from(text, () => 0.99)), box: { x: 0, y: 0, width: 1, height: 1 } }));

test("a page's reading keeps its parts' lines in order, and an unreadable page keeps no letters", () => {
  const two = pageReading([
    { reading: reading([], "readable"), lines: placed(["First line", "Second line"]) },
    { reading: reading([], "partly"), lines: placed(["Thrid"], [0.99, 0.99, 0.4, 0.5, 0.99]) },
  ]);
  assert.equal(two.status, "read");
  assert.equal(two.verdict, "partly");
  assert.deepEqual(two.lines.map((line) => line.text), ["First line", "Second line", "Thrid"]);
  assert.equal(two.uncertain, 2);
  const none = pageReading([{ reading: reading([], "unreadable"), lines: placed(["xxxx"]) }]);
  assert.deepEqual([none.status, none.lines], ["unreadable", []]);
});

/** A document of three pages as the events of its reading make it. */
function readDocument(events) {
  return events.reduce(applyEvent, emptyDocument());
}

const FOUND = { type: "found", title: "Harbour report", url: "https://docs.example/harbour", lang: "en", total: 3 };
const readable = { status: "read", verdict: "readable", lines: placed(["Tides [rise] at dawn.", "*Keep* out_of #3"]), uncertain: 0 };
const partly = { status: "read", verdict: "partly", lines: placed(["Invoice 42"], [0.99, 0.98, 0.97, 0.5, 0.99, 0.99, 0.99, 0.99, 0.95, 0.3]), uncertain: 2 };
const unreadable = { status: "unreadable", verdict: "unreadable", lines: [], uncertain: 0 };

test("progress says what is happening: finding, page N of M, then how it went", () => {
  let doc = emptyDocument();
  assert.match(progressText(doc), /^Finding the document’s pages/);
  doc = applyEvent(doc, FOUND);
  doc = applyEvent(doc, { type: "reading", number: 1 });
  assert.equal(progressText(doc), "Reading page 1 of 3…");
  doc = applyEvent(doc, { type: "page", number: 1, page: readable });
  doc = applyEvent(doc, { type: "reading", number: 2 });
  assert.equal(progressText(doc), "Reading page 2 of 3…");
  assert.equal(pageNote(doc.pages[2], doc.phase), "waiting");
  doc = readDocument([FOUND, { type: "page", number: 1, page: readable }, { type: "page", number: 2, page: partly }, { type: "page", number: 3, page: unreadable }, { type: "done" }]);
  assert.deepEqual(tally(doc), { readable: 1, partly: 1, unreadable: 1, done: 3 });
  assert.equal(progressText(doc), "Read 3 pages: 1 readable; 1 with uncertain characters; 1 cannot be read.");
});

test("a cancelled or failed reading says how far it got, and the pages it did not reach are not read", () => {
  const cancelled = readDocument([FOUND, { type: "page", number: 1, page: readable }, { type: "reading", number: 2 }, { type: "cancelled" }]);
  assert.equal(progressText(cancelled), "Cancelled: 1 of 3 pages read.");
  assert.deepEqual(cancelled.pages.map((one) => pageNote(one, cancelled.phase)), ["readable", "not read", "not read"]);
  const failed = readDocument([FOUND, { type: "page", number: 1, page: readable }, { type: "error", message: "The server answered 503." }]);
  assert.equal(progressText(failed), "Stopped after 1 of 3 pages: The server answered 503.");
  // before any page was found there is only the error to tell
  assert.equal(progressText(readDocument([{ type: "error", message: "The server is not running." }])), "The server is not running.");
  const none = readDocument([{ ...FOUND, total: 0 }]);
  assert.match(progressText(none), /^No pages found: .*200×150 CSS px.*Read a region…/);
});

test("uncertain characters are marked in [brackets], brackets read are escaped, as the command line marks them", () => {
  assert.equal(markedText(markRuns("Invoice 42", [0.99, 0.98, 0.97, 0.5, 0.99, 0.99, 0.99, 0.99, 0.95, 0.3])), "Inv[o]ice 4[2]");
  assert.equal(markedText(markRuns("a[b]\\", [1, 1, 0.2, 1, 1])), "a\\[[b]\\]\\\\");
  // Markdown renders as the plain text reads: markup characters escaped, a list marker or numbered item at the start too
  assert.equal(markedMarkdown(markRuns("*Keep* out_of #3", Array(16).fill(1))), "\\*Keep\\* out\\_of \\#3");
  assert.equal(markedMarkdown(markRuns("- 1. item", Array(9).fill(1))), "\\- 1. item");
  assert.equal(markedMarkdown(markRuns("12. [x]", [1, 1, 1, 1, 1, 0.1, 1])), "12\\. \\\\\\[[x]\\\\\\]");
});

test("the document as text: title, source, legend, each page in order with its heading, unreadable pages said so and empty", () => {
  const doc = readDocument([FOUND, { type: "page", number: 1, page: readable }, { type: "page", number: 2, page: partly }, { type: "page", number: 3, page: unreadable }, { type: "done" }]);
  assert.equal(documentText(doc), [
    "Harbour report",
    "Source: https://docs.example/harbour",
    "Characters in [brackets] were read with less confidence; \\[ and \\] are brackets that were read.",
    "",
    "--- Page 1 of 3 ---",
    "Tides \\[rise\\] at dawn.",
    "*Keep* out_of #3",
    "",
    "--- Page 2 of 3 ---",
    "Inv[o]ice 4[2]",
    "",
    "--- Page 3 of 3 ---",
    "This page cannot be read.",
    "",
  ].join("\n"));
  // no legend when nothing is uncertain
  const sure = readDocument([{ ...FOUND, total: 1 }, { type: "page", number: 1, page: readable }, { type: "done" }]);
  assert.doesNotMatch(documentText(sure), /brackets/);
});

test("a receipt page's rows keep their cells together: a tab between them in the text and the Markdown", () => {
  const cells = (texts, row) => placed(texts).map((line) => ({ ...line, row }));
  const receipt = pageReading([{ reading: reading([], "readable"), lines: [...cells(["Milk", "$2.10"], 0), ...cells(["Total", "$2.10"], 1)] }]);
  const doc = readDocument([{ ...FOUND, total: 1 }, { type: "page", number: 1, page: receipt }, { type: "done" }]);
  assert.match(documentText(doc), /--- Page 1 of 1 ---\nMilk\t\$2\.10\nTotal\t\$2\.10\n$/);
  assert.match(documentMarkdown(doc), /## Page 1 of 1\n\nMilk\t\$2\.10  \nTotal\t\$2\.10\n$/);
});

test("the document as Markdown: headings, escaped text, line breaks kept, unreadable and unread pages in italics", () => {
  const doc = readDocument([FOUND, { type: "page", number: 1, page: readable }, { type: "page", number: 2, page: partly }, { type: "cancelled" }]);
  assert.equal(documentMarkdown(doc), [
    "# Harbour report",
    "",
    "Source: <https://docs.example/harbour>",
    "",
    "Characters in \\[brackets\\] were read with less confidence; \\\\\\[ and \\\\\\] are brackets that were read.",
    "",
    "## Page 1 of 3",
    "",
    "Tides \\\\\\[rise\\\\\\] at dawn.  ",
    "\\*Keep\\* out\\_of \\#3",
    "",
    "## Page 2 of 3",
    "",
    "Inv[o]ice 4[2]",
    "",
    "## Page 3 of 3",
    "",
    "*not read*",
    "",
  ].join("\n"));
});

test("file names come from the title, made safe for every file system", () => {
  assert.equal(fileNameFor("Harbour report: 2024/25", "txt"), "Harbour report 2024 25.txt");
  assert.equal(fileNameFor("  ", "md"), "document.md");
  assert.equal(fileNameFor("..hidden", "txt"), "hidden.txt");
  assert.equal(fileNameFor("x".repeat(200), "txt").length, 84);
});
