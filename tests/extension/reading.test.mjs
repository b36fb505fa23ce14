import { test } from "node:test";
import assert from "node:assert/strict";
import {
  colourOrNull, combineVerdicts, INK_HEIGHT_PER_EM, fitLine, joinLines, layoutReading, lineLanguage, lineSeparator, linesOnElement, markRuns, MAX_SCALE_X, sampleColors,
  uncertainCount,
} from "../../extension/lib/reading.js";
import { panelView } from "../../extension/content/panel-view.js";
import { nothingToRead, readSummary } from "../../extension/lib/read-notices.js";
import { readImages } from "../../extension/lib/requests.js";
import { useLocale } from "./chrome-i18n.mjs";

useLocale("en");

test("markRuns groups sure and uncertain characters, counting code points as the server does", () => {
  assert.deepEqual(markRuns("Hello", [0.99, 0.95, 0.5, 0.89, 0.9]), [
    { text: "He", uncertain: false }, { text: "ll", uncertain: true }, { text: "o", uncertain: false },
  ]);
  // one confidence per character, not per UTF-16 unit
  assert.deepEqual(markRuns("a\u{1F600}b", [1, 0.2, 1]).map((run) => run.uncertain), [false, true, false]);
  // a character without a confidence is not claimed to be sure
  assert.deepEqual(markRuns("ab", [0.99]), [{ text: "a", uncertain: false }, { text: "b", uncertain: true }]);
  assert.deepEqual(markRuns("", []), []);
  assert.equal(uncertainCount([{ runs: markRuns("abcd", [1, 0, 0, 1]) }, { runs: markRuns("xy", [0, 1]) }]), 3);
});

test("verdicts combine: unreadable only when every part is", () => {
  assert.equal(combineVerdicts(["readable", "readable"]), "readable");
  assert.equal(combineVerdicts(["readable", "partly"]), "partly");
  assert.equal(combineVerdicts(["readable", "unreadable"]), "partly");
  assert.equal(combineVerdicts(["unreadable"]), "unreadable");
  assert.equal(combineVerdicts([]), "unreadable");
});

const reading = (lines, verdict = "readable") => ({ verdict, text: lines.map((l) => l.text).join("\n"), lines });

test("line boxes go from the posted crop's device px to CSS px on the element", () => {
  // DPR 2: the crop starts 12 device px left of and above the element at (100, 50) CSS px.
  const read = reading([{ text: "Hi", box: [20, 16, 80, 24], confidence: [1, 1] }]);
  const [line] = linesOnElement(read, { crop: { x: 188, y: 88, width: 300, height: 100 }, box: { x: 100, y: 50, width: 150, height: 50 }, scale: 2 });
  assert.deepEqual(line.box, { x: 4, y: 2, width: 40, height: 12 });
  assert.deepEqual(line.runs, [{ text: "Hi", uncertain: false }]);
  // a frame scaled by CSS to half size: the element's own CSS px are twice the tab's
  const [scaled] = linesOnElement(read, { crop: { x: 188, y: 88 }, box: { x: 100, y: 50 }, scale: 2, frameScale: { x: 0.5, y: 0.5 } });
  assert.deepEqual(scaled.box, { x: 8, y: 4, width: 80, height: 24 });
});

test("each line keeps the ink and background the server measured for it; a line without them, or with a bad one, has none", () => {
  const read = { lines: [
    { text: "on the page", box: [0, 0, 10, 10], ink: [25, 25, 25], background: [255, 255, 255] },
    { text: "on the button", box: [0, 20, 10, 10], ink: [255, 255, 255], background: [26, 95, 180] },
    { text: "an older server", box: [0, 40, 10, 10] },
    { text: "garbled", box: [0, 60, 10, 10], ink: [0, 0, 256], background: "white" },
  ] };
  const lines = linesOnElement(read, { crop: { x: 0, y: 0 }, box: { x: 0, y: 0 }, scale: 1 });
  assert.deepEqual(lines.map(({ ink, background }) => ({ ink, background })), [
    { ink: [25, 25, 25], background: [255, 255, 255] },
    { ink: [255, 255, 255], background: [26, 95, 180] },
    { ink: null, background: null },
    { ink: null, background: null },
  ]);
  // layoutReading keeps them with the moved boxes
  const { lines: laid } = layoutReading([{ reading: { verdict: "readable" }, lines }], { x: 1, y: 1 });
  assert.deepEqual(laid[1].ink, [255, 255, 255]);
  assert.deepEqual(laid[1].background, [26, 95, 180]);
});

test("colourOrNull takes three integers 0..255 and nothing else", () => {
  assert.deepEqual(colourOrNull([0, 128, 255]), [0, 128, 255]);
  for (const bad of [null, undefined, "rgb(0, 0, 0)", [0, 0], [0, 0, 0, 0], [0, 0, -1], [0, 0, 1.5], [0, "0", 0], [NaN, 0, 0]]) {
    assert.equal(colourOrNull(bad), null, JSON.stringify(bad));
  }
});

test("a line's language comes from its script, a Latin line's from the page unless the page is Korean, Japanese or Chinese", () => {
  assert.equal(lineLanguage("합계 42,000원", "en"), "ko");
  assert.equal(lineLanguage("東京タワーへ", "en"), "ja");
  assert.equal(lineLanguage("北京欢迎你", "en"), "zh");
  assert.equal(lineLanguage("東京都", "ja-JP"), "ja"); // Han alone on a Japanese page is Japanese
  assert.equal(lineLanguage("Total due", "fr-CA"), "fr-CA");
  assert.equal(lineLanguage("Total due", "ko"), "en");
  assert.equal(lineLanguage("Total due", ""), "en");
  assert.equal(lineLanguage("Total due", undefined), "en");
  assert.equal(lineLanguage("42.00 $", "de"), ""); // no letters: the line says nothing of its language
});

test("a tall element's parts keep each line once, in the part holding its centre", () => {
  const part = (by) => reading([{ text: "x", box: [0, by, 10, 10], confidence: [1] }]);
  // the second part starts 300 CSS px down; its crop starts 6 px above it
  const second = linesOnElement(part(0), { crop: { x: 0, y: 294 }, box: { x: 0, y: 300 }, scale: 1, partOffset: 300, span: [300, 600] });
  assert.equal(second.length, 0, "a line centred above the part belongs to the part above");
  const kept = linesOnElement(part(10), { crop: { x: 0, y: 294 }, box: { x: 0, y: 300 }, scale: 1, partOffset: 300, span: [300, 600] });
  assert.deepEqual(kept[0].box, { x: 0, y: 304, width: 10, height: 10 });
});

test("layoutReading moves lines onto the overlay and paints no letters for an unreadable reading", () => {
  const lines = [{ text: "ab", runs: markRuns("ab", [1, 0.3]), box: { x: 4, y: 2, width: 40, height: 12 } },
    { text: "cd", runs: markRuns("cd", [1, 1]), box: { x: 4, y: 20, width: 40, height: 12 } }];
  const laid = layoutReading([{ reading: { verdict: "partly" }, lines }], { x: -6, y: -6 });
  assert.equal(laid.verdict, "partly");
  assert.equal(laid.text, "ab\ncd");
  assert.deepEqual(laid.lines.map((line) => line.box.y), [8, 26]);
  assert.equal(laid.lines[0].box.x, 10);
  assert.equal(laid.uncertain, 1);
  const unreadable = layoutReading([{ reading: { verdict: "unreadable" }, lines }], { x: 0, y: 0 });
  assert.deepEqual(unreadable, { verdict: "unreadable", text: "", lines: [], uncertain: 0 });
});

test("cells of a row are joined by tabs, rows and parts by newlines", () => {
  const line = (text, row, y) => ({ text, runs: markRuns(text, [1]), box: { x: 0, y, width: 10, height: 10 }, row });
  const receipt = [line("Milk", 0, 0), line("$2.10", 0, 0), line("Total", 1, 20), line("$2.10", 1, 20)];
  const next = [line("Thank you", 0, 40)];
  const laid = layoutReading([{ reading: { verdict: "readable" }, lines: receipt }, { reading: { verdict: "readable" }, lines: next }], { x: 0, y: 0 });
  assert.equal(laid.text, "Milk\t$2.10\nTotal\t$2.10\nThank you", "row 0 of the second part is not row 0 of the first");
  assert.equal(lineSeparator(laid.lines[0], laid.lines[1]), "\t");
  assert.equal(lineSeparator(laid.lines[1], laid.lines[2]), "\n");
  assert.equal(joinLines([line("a", null, 0), line("b", null, 0)]), "a\nb", "an older server gives no rows: one line each");
  const placed = linesOnElement({ lines: [{ text: "x", box: [0, 0, 4, 4], confidence: [1], row: 3 }, { text: "y", box: [0, 9, 4, 4], confidence: [1] }] },
    { crop: { x: 0, y: 0 }, box: { x: 0, y: 0 }, scale: 1 });
  assert.deepEqual(placed.map((l) => l.row), [3, null]);
});

test("fitLine makes the text's ink as tall as the box and fills the box's width", () => {
  // a 10-character line 5 em wide whose ink reaches 0.72 em up and 0.2 em down
  const metrics = { ascent: 0.9, descent: 0.25, inkAscent: 0.72, inkDescent: 0.2, width: 5 };
  const fit = fitLine({ x: 0, y: 0, width: 70, height: 11.6 }, metrics, 10);
  assert.ok(Math.abs(fit.fontSize - 11.6 / 0.92) < 1e-9);
  const { inkAscent, inkDescent, ...noInk } = metrics;
  assert.ok(Math.abs(fitLine({ x: 0, y: 0, width: 100, height: 9 }, noInk, 10).fontSize - 9 / INK_HEIGHT_PER_EM) < 1e-9);
  const drawn = (metrics.width * fit.fontSize + fit.letterSpacing * 10) * fit.scaleX;
  assert.ok(Math.abs(drawn - 70) < 1e-9, drawn);
  // close widths are met by letter-spacing alone, far ones by scaling too
  assert.equal(fit.scaleX, 1);
  const wide = fitLine({ x: 0, y: 0, width: 130, height: 11.6 }, metrics, 10);
  assert.ok(wide.scaleX > 1 && Math.abs((metrics.width * wide.fontSize + wide.letterSpacing * 10) * wide.scaleX - 130) < 1e-9);
  assert.equal(fitLine({ x: 0, y: 0, width: 1e4, height: 10 }, metrics, 10).scaleX, MAX_SCALE_X);
  // the ink's top lands on the box's top edge: baseline (line box top + half-leading + ascent + shift) - ink ascent
  const ascent = metrics.ascent * fit.fontSize;
  const descent = metrics.descent * fit.fontSize;
  const baseline = (fit.height - ascent - descent) / 2 + ascent + fit.shift;
  assert.ok(Math.abs(baseline - metrics.inkAscent * fit.fontSize) < 1e-9);
  assert.ok(Math.abs(baseline + metrics.inkDescent * fit.fontSize - fit.height) < 1e-9);
  assert.equal(fitLine({ x: 0, y: 0, width: 10, height: 10 }, metrics, 1).letterSpacing, 0);
  assert.equal(fit.shiftX, 0); // no ink widths measured: the advance is fitted, from the pen's start
});

test("fitLine fits the ink's width to the box, not the advance: bearings and the last letter's spacing leave no ink", () => {
  // a 10-character line 5 em wide whose ink starts 0.1 em right of the pen and ends 4.8 em right of it
  const metrics = { ascent: 0.9, descent: 0.25, inkAscent: 0.72, inkDescent: 0.2, inkLeft: -0.1, inkRight: 4.8, width: 5 };
  const box = { x: 0, y: 0, width: 60, height: 11.6 };
  const fit = fitLine(box, metrics, 10);
  const inkStart = (-metrics.inkLeft * fit.fontSize + fit.shiftX) * fit.scaleX;
  const inkEnd = ((metrics.inkRight * fit.fontSize + fit.letterSpacing * 9) + fit.shiftX) * fit.scaleX;
  assert.ok(Math.abs(inkStart) < 1e-9, inkStart);
  assert.ok(Math.abs(inkEnd - box.width) < 1e-9, inkEnd);
  // the same box fitted by the advance would leave the ink short of the box's right edge
  const { inkLeft, inkRight, ...advanceOnly } = metrics;
  const byAdvance = fitLine(box, advanceOnly, 10);
  assert.ok((metrics.inkRight * byAdvance.fontSize + byAdvance.letterSpacing * 9) * byAdvance.scaleX < box.width - 1);
});

test("sampleColors finds the paper and pushes pale blurred ink to a legible contrast", () => {
  const pixels = (colors) => Uint8ClampedArray.from(colors.flatMap((c) => [...c, 255]));
  const paper = [250, 248, 240];
  const { background, ink } = sampleColors(pixels([...Array(20).fill(paper), [180, 180, 180], [200, 200, 200]]), 22, 1);
  assert.deepEqual(background, paper);
  const luma = ([r, g, b]) => 0.299 * r + 0.587 * g + 0.114 * b;
  assert.ok(luma(background) - luma(ink) >= 159, ink);
  // light text on a dark card stays light; ink that has contrast enough is kept as it is
  const dark = sampleColors(pixels([...Array(10).fill([20, 30, 60]), [250, 250, 250]]), 11, 1);
  assert.deepEqual(dark, { background: [20, 30, 60], ink: [250, 250, 250] });
});

test("the notices say what was read, what cannot be, and what the page showed itself", () => {
  assert.equal(readSummary({ unreadable: 1 }), "This text cannot be read.");
  assert.equal(readSummary({ read: 1 }), "Anti-aging: 1 element read as text.");
  assert.match(readSummary({ read: 2, partly: 1, unreadable: 1 }), /2 elements read as text; 1 cannot be read\. Some characters are uncertain/);
  assert.match(readSummary({ revealed: 1 }), /in the page itself.*no model/);
  assert.equal(readSummary({}), null);
  assert.match(nothingToRead("the image looks sharp"), /the image looks sharp.*Read a region/);
});

test("the reading notices come in the user's language, their lists joined the locale's way", () => {
  try {
    useLocale("ko");
    assert.equal(readSummary({ read: 2, unreadable: 1 }), "Anti-aging: 글자로 읽은 요소 2개 / 읽을 수 없는 요소 1개");
    assert.match(readSummary({ read: 1, partly: 1 }), /점선 밑줄/);
    assert.match(nothingToRead("이미지가 이미 선명함"), /“영역 선택해서 읽기…”/);
    useLocale("ja");
    assert.equal(readSummary({ unreadable: 1 }), "この文字は読み取れません。");
  } finally {
    useLocale("en");
  }
});

test("the panel offers Read text next to sharpened pixels and counts what was read", () => {
  const idle = { sharpened: 0, revealed: 0, read: 0, showingOriginal: false, canReveal: false, canRead: false, isTop: true };
  assert.equal(panelView(idle).showRead, false);
  const view = panelView({ ...idle, sharpened: 1, read: 2, canRead: true });
  assert.equal(view.text, "Anti-aging: 1 element sharpened; 2 read as text.");
  assert.equal(view.showRead, true);
  assert.equal(panelView({ ...idle, sharpened: 1, canRead: true, showingOriginal: true }).showRead, false);
  assert.equal(panelView({ ...idle, read: 1 }).showToggle, true);
});

test("readImages posts to /v1/read/batch and refuses answers without lines or a verdict", async () => {
  const calls = [];
  const answer = { text: "Hi", lines: [{ text: "Hi", box: [1, 2, 3, 4], confidence: [0.9, 0.99] }], verdict: "readable" };
  const fetchImpl = async (url, init) => {
    calls.push({ url, body: JSON.parse(init.body) });
    return new Response(JSON.stringify({ results: [answer] }), { status: 200 });
  };
  const [result] = await readImages(fetchImpl, "http://127.0.0.1:8765", [{ image: "data:image/png;base64,AA", sigma: 2 }], "t");
  assert.deepEqual(result, answer);
  assert.equal(calls[0].url, "http://127.0.0.1:8765/v1/read/batch");
  assert.deepEqual(calls[0].body, { images: [{ image: "data:image/png;base64,AA", sigma: 2 }] });
  const old = async () => new Response(JSON.stringify({ results: [{ image: "data:," }] }), { status: 200 });
  await assert.rejects(readImages(old, "http://127.0.0.1:1", [{ image: "a", sigma: null }]), /no lines or no verdict/);
  const missing = async () => new Response(JSON.stringify({ error: { code: "reader_unavailable", message: "reading needs a reader checkpoint" } }), { status: 503 });
  await assert.rejects(readImages(missing, "http://127.0.0.1:1", [{ image: "a", sigma: null }]), /503: reading needs a reader checkpoint/);
});
