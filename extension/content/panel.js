// The page's panel, at the bottom right: what the extension shows on the page, its notices and
// errors, and the buttons "Read text", "Show the page's own text", "Show original" and "Restore".
import { message } from "../lib/i18n.js";
import { build, styleSheet } from "./dom.js";
import { panelView } from "./panel-view.js";

const NOTICE_MS = 8000;

const PANEL_CSS = `
  .panel { position: fixed; right: 12px; bottom: 12px; display: flex; gap: 6px; align-items: center; max-width: 420px;
    padding: 6px 8px; border-radius: 6px; background: rgba(32, 33, 36, 0.92); color: #fff; pointer-events: auto;
    font: 13px/1.35 system-ui, sans-serif; box-shadow: 0 2px 8px rgba(0, 0, 0, 0.3); }
  .panel[data-level="error"] { background: rgba(165, 29, 29, 0.95); }
  .panel button { font: inherit; color: inherit; background: rgba(255, 255, 255, 0.16); border: 0; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
  .panel button:hover { background: rgba(255, 255, 255, 0.3); }
  .message { flex: 1; }
  /* Korean breaks lines between words, not inside them. */
  .panel:lang(ko) { word-break: keep-all; }
`;

export class Panel {
  /** state(): the agent's state as panelView takes it; the callbacks are the buttons' actions. */
  constructor(doc, { state, onToggle, onReveal, onRead, onRestore }) {
    this.doc = doc;
    this.win = doc.defaultView;
    this.state = state;
    this.actions = { onToggle, onReveal, onRead, onRestore };
    this.node = null;
    this.noticeTimer = 0;
  }

  /** Build the panel into the layer's shadow root, hidden until there is something to say. */
  mount(root) {
    const button = (attributes, label, action) => {
      const node = build(this.doc, "button", { type: "button", ...attributes }, label);
      node.addEventListener("click", () => action());
      return node;
    };
    this.message = build(this.doc, "span", { class: "message" });
    this.revealButton = button({ class: "reveal hidden", title: message("popup_show_page_text_tip") }, message("menu_show_page_text"), this.actions.onReveal);
    this.readButton = button({ class: "read hidden", title: message("panel_read_tip") }, message("menu_read_text"), this.actions.onRead);
    this.toggleButton = button({ class: "toggle" }, "", this.actions.onToggle);
    this.restoreButton = button({ class: "restore", title: message("panel_restore_tip") }, message("panel_restore"), this.actions.onRestore);
    this.node = build(this.doc, "div", { class: "panel hidden", role: "status", lang: message("language_tag") }, this.message, this.readButton, this.revealButton, this.toggleButton, this.restoreButton);
    root.append(styleSheet(this.doc, PANEL_CSS), this.node);
  }

  /** Show the state's summary, or a notice instead. */
  update(notice = null, level = "info") {
    if (!this.node) return;
    const view = panelView(this.state(), notice, level);
    this.node.dataset.level = view.level;
    this.message.textContent = view.text;
    this.toggleButton.textContent = view.toggleLabel;
    this.toggleButton.classList.toggle("hidden", !view.showToggle);
    this.revealButton.classList.toggle("hidden", !view.showReveal);
    this.readButton.classList.toggle("hidden", !view.showRead);
    this.restoreButton.textContent = view.restoreLabel;
    this.node.classList.toggle("hidden", !view.visible);
  }

  /** A message; errors stay until closed, notices fade back to the summary. */
  notify(notice, level = "info") {
    this.win.clearTimeout(this.noticeTimer);
    this.update(notice, level);
    if (level !== "error") this.noticeTimer = this.win.setTimeout(() => this.update(), NOTICE_MS);
  }

  /** The layer is going: forget the panel and its pending notice. */
  unmount() {
    this.win.clearTimeout(this.noticeTimer);
    this.node = null;
  }
}
