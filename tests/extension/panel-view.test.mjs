import { test } from "node:test";
import assert from "node:assert/strict";
import { panelView } from "../../extension/content/panel-view.js";
import { summary, regionLabel } from "../../extension/content/messages.js";
import { useLocale } from "./chrome-i18n.mjs";

useLocale("en");

const idle = { sharpened: 0, revealed: 0, showingOriginal: false, canReveal: false, isTop: true };

test("the panel stays hidden, with only Close, while the page shows nothing of ours", () => {
  const view = panelView(idle);
  assert.equal(view.visible, false);
  assert.equal(view.showToggle, false);
  assert.equal(view.restoreLabel, "Close");
});

test("the panel sums up what the page shows and offers the page's own text where there is some", () => {
  const view = panelView({ ...idle, sharpened: 2, revealed: 1, canReveal: true });
  assert.equal(view.text, "Anti-aging: 2 elements sharpened; 1 showing the page\u2019s own text.");
  assert.deepEqual([view.visible, view.showToggle, view.showReveal, view.toggleLabel, view.restoreLabel, view.level],
    [true, true, true, "Show original", "Restore", "info"]);
  assert.equal(panelView({ ...idle, sharpened: 1 }).text, "Anti-aging: 1 element sharpened.");
});

test("with the originals shown the toggle offers what was shown, and no page text", () => {
  assert.equal(panelView({ ...idle, sharpened: 1, showingOriginal: true, canReveal: true }).toggleLabel, "Show sharpened");
  assert.equal(panelView({ ...idle, sharpened: 1, showingOriginal: true, canReveal: true }).showReveal, false);
  assert.equal(panelView({ ...idle, revealed: 1, showingOriginal: true }).toggleLabel, "Show unblurred");
});

test("a message replaces the summary with its level; frames' panels never show", () => {
  const error = panelView({ ...idle, sharpened: 1 }, "The server is not running.", "error");
  assert.deepEqual([error.text, error.level, error.visible], ["The server is not running.", "error", true]);
  assert.equal(panelView({ ...idle, sharpened: 1, isTop: false }).visible, false);
  assert.equal(panelView({ ...idle, isTop: false }, "a notice").visible, false);
});

test("texts: counts and region labels", () => {
  assert.equal(summary(0, 0), "");
  assert.equal(summary(0, 3), "Anti-aging: 3 showing the page\u2019s own text.");
  assert.equal(regionLabel(199.6, 40.2), "200\u00d740 region");
});

test("the panel speaks the user's language", () => {
  try {
    useLocale("ko");
    const view = panelView({ ...idle, sharpened: 2, revealed: 1, showingOriginal: true });
    assert.equal(view.text, "Anti-aging: 선명하게 만든 요소 2개 / 페이지 원래 글자를 보여 주는 요소 1개");
    assert.deepEqual([view.toggleLabel, view.restoreLabel], ["선명한 글자 보기", "원래대로"]);
    assert.equal(panelView(idle).restoreLabel, "닫기");
    assert.equal(regionLabel(320, 120), "320\u00d7120 영역");
    useLocale("zh_CN");
    assert.equal(summary(1, 0), "Anti-aging：已变清晰 1 个。");
  } finally {
    useLocale("en");
  }
});
