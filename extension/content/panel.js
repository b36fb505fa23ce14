// The page's panel, at the bottom right: what the extension shows on the page, its notices and
// errors, and the buttons "Read text", "Show the page's own text", "Show original" and "Restore".
import { build, styleSheet } from "./dom.js";
import * as text from "./messages.js";
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
    const button = (className, label, action, attributes = {}) => {
      const node = build(this.doc, "button", { class: className, type: "button", ...attributes }, label);
      node.addEventListener("click", () => action());
      return node;
    };
    this.message = build(this.doc, "span", { class: "message" });
    this.revealButton = button("reveal hidden", text.REVEAL_BUTTON, this.actions.onReveal, { title: text.REVEAL_TITLE });
    this.readButton = button("read hidden", text.READ_BUTTON, this.actions.onRead, { title: text.READ_TITLE });
    this.toggleButton = button("toggle", "", this.actions.onToggle);
    this.restoreButton = button("restore", text.RESTORE_BUTTON, this.actions.onRestore, { title: text.RESTORE_TITLE });
    this.node = build(this.doc, "div", { class: "panel hidden", role: "status" }, this.message, this.readButton, this.revealButton, this.toggleButton, this.restoreButton);
    root.append(styleSheet(this.doc, PANEL_CSS), this.node);
  }

  /** Show the state's summary, or a message instead. */
  update(message = null, level = "info") {
    if (!this.node) return;
    const view = panelView(this.state(), message, level);
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
  notify(message, level = "info") {
    this.win.clearTimeout(this.noticeTimer);
    this.update(message, level);
    if (level !== "error") this.noticeTimer = this.win.setTimeout(() => this.update(), NOTICE_MS);
  }

  /** The layer is going: forget the panel and its pending notice. */
  unmount() {
    this.win.clearTimeout(this.noticeTimer);
    this.node = null;
  }
}
