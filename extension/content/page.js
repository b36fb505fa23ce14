// The extension's hands in the page (isolated world): finds blurred elements, scrolls and
// hides its own layer for captures, and shows the sharpened images over the elements.
// Loaded once per document by content/inject.js; the service worker calls its methods.
import { blurOfChain } from "../lib/filters.js";
import { looksBlurred } from "../lib/sharpness.js";

const LAYER_ID = "anti-aging-layer";
// Images smaller than this (CSS px) are icons, not text worth sharpening.
const MIN_IMAGE_WIDTH = 40;
const MIN_IMAGE_HEIGHT = 16;
// Pixels read back from an image to judge its sharpness are capped to keep scans fast.
const MAX_PROBE_SIZE = 512;
const NOTICE_MS = 8000;

const LAYER_CSS = `
  :host { all: initial; position: absolute; left: 0; top: 0; width: 0; height: 0; z-index: 2147483647; pointer-events: none; }
  .overlay { position: absolute; margin: 0; padding: 0; border: 0; max-width: none; max-height: none; pointer-events: none; user-select: none; }
  .hidden { display: none; }
  .panel { position: fixed; right: 12px; bottom: 12px; display: flex; gap: 6px; align-items: center; max-width: 420px;
    padding: 6px 8px; border-radius: 6px; background: rgba(32, 33, 36, 0.92); color: #fff; pointer-events: auto;
    font: 13px/1.35 system-ui, sans-serif; box-shadow: 0 2px 8px rgba(0, 0, 0, 0.3); }
  .panel[data-level="error"] { background: rgba(165, 29, 29, 0.95); }
  .panel button { font: inherit; color: inherit; background: rgba(255, 255, 255, 0.16); border: 0; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
  .panel button:hover { background: rgba(255, 255, 255, 0.3); }
  .message { flex: 1; }
`;

function nextFrame(win) {
  return new Promise((resolve) => win.requestAnimationFrame(() => resolve()));
}

function plainRect(rect) {
  return { x: rect.left, y: rect.top, width: rect.width, height: rect.height };
}

/** Every element under root, including those inside open shadow roots (web components). */
function* allElements(root) {
  for (const element of root.querySelectorAll("*")) {
    yield element;
    if (element.shadowRoot) yield* allElements(element.shadowRoot);
  }
}

/** The innermost hovered element, looking into open shadow roots, which :hover does not cross. */
function innermostHovered(root, skip) {
  const hovered = [...root.querySelectorAll(":hover")].filter((el) => !skip(el));
  const last = hovered.at(-1) ?? null;
  return last?.shadowRoot ? innermostHovered(last.shadowRoot, skip) ?? last : last;
}

function parentOf(element) {
  return element.parentElement ?? (element.parentNode instanceof ShadowRoot ? element.parentNode.host : null);
}

export class PageAgent {
  constructor(doc) {
    this.doc = doc;
    this.win = doc.defaultView;
    this.ids = new WeakMap();
    this.elements = new Map(); // id -> element, for the elements the service worker works on
    this.overlays = new Map(); // id -> {element, image, offset, size}
    this.nextId = 1;
    this.host = null;
    this.showingOriginal = false;
    this.updateScheduled = false;
    this.noticeTimer = 0;
    this.scheduleUpdate = () => {
      if (this.updateScheduled) return;
      this.updateScheduled = true;
      this.win.requestAnimationFrame(() => {
        this.updateScheduled = false;
        this.reposition();
      });
    };
    this.onKeyDown = (event) => {
      if (event.key === "Escape" && this.host) this.restore();
    };
    this.onMutations = (records) => {
      if (records.some((record) => record.target !== this.host)) this.scheduleUpdate();
    };
  }

  // ----- what is blurred -----

  viewState() {
    const { win, doc } = this;
    const scrolling = doc.scrollingElement ?? doc.documentElement;
    return {
      width: win.innerWidth,
      height: win.innerHeight,
      scrollX: win.scrollX,
      scrollY: win.scrollY,
      maxScrollY: Math.max(0, scrolling.scrollHeight - win.innerHeight),
      devicePixelRatio: win.devicePixelRatio,
    };
  }

  blurOf(element) {
    const chain = [];
    for (let node = element; node; node = parentOf(node)) {
      const style = this.win.getComputedStyle(node);
      chain.push({ filter: style.filter, backdropFilter: style.backdropFilter, fontSize: parseFloat(style.fontSize) });
    }
    const root = this.win.getComputedStyle(this.doc.documentElement);
    return blurOfChain(chain, { rootFontSize: parseFloat(root.fontSize), viewportWidth: this.win.innerWidth, viewportHeight: this.win.innerHeight });
  }

  ownBlur(element) {
    const style = this.win.getComputedStyle(element);
    return /blur\(/i.test(style.filter) || /blur\(/i.test(style.backdropFilter);
  }

  isImageLike(element) {
    const tag = element.localName;
    if (tag === "img" || tag === "canvas") return true;
    return /url\(/i.test(this.win.getComputedStyle(element).backgroundImage);
  }

  isOurs(element) {
    return element === this.host || element.id === LAYER_ID;
  }

  idOf(element) {
    let id = this.ids.get(element);
    if (!id) {
      id = `aa-${this.nextId++}`;
      this.ids.set(element, id);
    }
    this.elements.set(id, element);
    return id;
  }

  describe(element, kind) {
    const blur = this.blurOf(element);
    const rect = plainRect(element.getBoundingClientRect());
    return {
      id: this.idOf(element),
      kind,
      tag: element.localName,
      sigmaCss: blur.blurred ? blur.sigma : null, // null: unknown, the server sharpens blind
      rect,
      top: rect.y + this.win.scrollY,
      bottom: rect.y + rect.height + this.win.scrollY,
    };
  }

  /** Sharpness of an image's own pixels: true/false, or null when they cannot be read (cross-origin). */
  imageLooksBlurred(element) {
    const source = element.localName === "img" ? element : element.localName === "canvas" ? element : null;
    if (!source) return null;
    const width = source.naturalWidth ?? source.width;
    const height = source.naturalHeight ?? source.height;
    if (!width || !height) return null;
    const factor = Math.min(1, MAX_PROBE_SIZE / Math.max(width, height));
    const canvas = this.doc.createElement("canvas");
    canvas.width = Math.max(1, Math.round(width * factor));
    canvas.height = Math.max(1, Math.round(height * factor));
    try {
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(source, 0, 0, canvas.width, canvas.height);
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
      return looksBlurred(data, canvas.width, canvas.height);
    } catch {
      return null; // a tainted canvas: the service worker judges the captured pixels instead
    }
  }

  /** The element a right-click meant: the blurred element under the cursor or its blurred ancestor. */
  locate(hint = {}) {
    const element = this.pointedElement(hint);
    if (!element) return { error: "Nothing to sharpen under the cursor. Right-click directly on the blurred text." };
    if (this.isImageLike(element)) {
      const target = this.describe(element, "image");
      return { targets: [target], view: this.viewState() };
    }
    for (let node = element; node; node = parentOf(node)) {
      if (node.nodeType === Node.ELEMENT_NODE && this.ownBlur(node) && this.blurOf(node).blurred) {
        return { targets: [this.describe(node, "css-blur")], view: this.viewState() };
      }
    }
    return { error: "No blurred text under the cursor. Right-click directly on it, or use \"Sharpen all\" in the toolbar popup." };
  }

  pointedElement(hint) {
    const isOurs = (el) => this.isOurs(el);
    if (hint.srcUrl) {
      const hovered = [...this.doc.querySelectorAll(":hover")].filter((el) => !isOurs(el));
      const images = [...this.doc.images].filter((img) => img.currentSrc === hint.srcUrl || img.src === hint.srcUrl);
      const image = images.find((img) => hovered.includes(img)) ?? images[0];
      if (image) return image;
    }
    const selection = this.win.getSelection();
    if (hint.selectionText && selection && selection.rangeCount && !selection.isCollapsed) {
      const node = selection.getRangeAt(0).commonAncestorContainer;
      return node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    }
    return innermostHovered(this.doc, isOurs);
  }

  /** Every blurred element on the page, outermost first, and images to check for blur. */
  scan() {
    const targets = [];
    const uncertain = [];
    for (const element of this.doc.body ? allElements(this.doc.body) : []) {
      if (this.isOurs(element)) continue;
      const rect = element.getBoundingClientRect();
      if (rect.width < 1 || rect.height < 1) continue;
      if (this.ownBlur(element)) {
        if (this.blurOf(element).blurred) targets.push(this.describe(element, "css-blur"));
        continue;
      }
      if (rect.width < MIN_IMAGE_WIDTH || rect.height < MIN_IMAGE_HEIGHT || !this.isImageLike(element)) continue;
      if (this.blurOf(element).blurred) continue; // inside a blurred ancestor, which is a target already
      const blurred = this.imageLooksBlurred(element);
      if (blurred === true) targets.push(this.describe(element, "image"));
      else if (blurred === null) uncertain.push(this.describe(element, "image-unchecked"));
    }
    return { targets, uncertain, view: this.viewState() };
  }

  // ----- capturing -----

  ensureLayer() {
    if (this.host?.isConnected) return this.host;
    const host = this.doc.createElement("div");
    host.id = LAYER_ID;
    const root = host.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${LAYER_CSS}</style><div class="overlays"></div>
      <div class="panel hidden" role="status"><span class="message"></span>
      <button class="toggle" type="button"></button><button class="restore" type="button" title="Restore the page (Esc)">Restore</button></div>`;
    root.querySelector(".toggle").addEventListener("click", () => this.setShowOriginal(!this.showingOriginal));
    root.querySelector(".restore").addEventListener("click", () => this.restore());
    this.doc.documentElement.append(host);
    this.host = host;
    this.win.addEventListener("scroll", this.scheduleUpdate, { capture: true, passive: true });
    this.win.addEventListener("resize", this.scheduleUpdate, { passive: true });
    this.win.addEventListener("keydown", this.onKeyDown, true);
    this.resizeObserver = new ResizeObserver(this.scheduleUpdate);
    this.resizeObserver.observe(this.doc.documentElement);
    this.mutationObserver = new MutationObserver(this.onMutations);
    this.mutationObserver.observe(this.doc.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
    return host;
  }

  /** Scroll to a shot's position with the extension's own layer hidden; return fresh rectangles. */
  async prepareShot({ scrollX, scrollY, ids }) {
    if (this.host) this.host.style.visibility = "hidden";
    this.win.scrollTo({ left: scrollX, top: scrollY, behavior: "instant" });
    // Two frames: the first lays out the scrolled page, the second has it composited on screen.
    await nextFrame(this.win);
    await nextFrame(this.win);
    const rects = {};
    for (const id of ids) {
      const element = this.elements.get(id);
      if (element?.isConnected) rects[id] = plainRect(element.getBoundingClientRect());
    }
    return { view: this.viewState(), rects };
  }

  async endCapture({ scrollX, scrollY }) {
    this.win.scrollTo({ left: scrollX, top: scrollY, behavior: "instant" });
    if (this.host) this.host.style.visibility = "";
    await nextFrame(this.win);
    return true;
  }

  // ----- overlays -----

  /**
   * Show sharpened images. Each item: {id, image (PNG data URL), overlay, elementRect}: the
   * overlay's rectangle and the element's, both in viewport CSS px at capture time.
   */
  async showOverlays(items) {
    const host = this.ensureLayer();
    const layer = host.shadowRoot.querySelector(".overlays");
    const loaded = await Promise.all(items.map(async (item) => {
      const image = this.doc.createElement("img");
      image.className = "overlay";
      image.alt = "";
      image.draggable = false;
      image.decoding = "sync";
      image.src = item.image;
      await image.decode();
      return { item, image };
    }));
    for (const { item, image } of loaded) {
      const element = this.elements.get(item.id);
      if (!element?.isConnected) continue;
      this.overlays.get(item.id)?.image.remove();
      image.dataset.target = item.id;
      layer.append(image);
      this.overlays.set(item.id, {
        element,
        image,
        offset: { x: item.overlay.x - item.elementRect.x, y: item.overlay.y - item.elementRect.y },
        size: { width: item.overlay.width, height: item.overlay.height },
        capturedSize: { width: item.elementRect.width, height: item.elementRect.height },
      });
      this.resizeObserver.observe(element);
    }
    this.showingOriginal = false;
    this.reposition();
    this.updatePanel();
    return this.status();
  }

  reposition() {
    if (!this.host) return;
    const origin = this.host.getBoundingClientRect();
    let removed = false;
    for (const [id, overlay] of this.overlays) {
      if (!overlay.element.isConnected) {
        overlay.image.remove();
        this.overlays.delete(id);
        removed = true;
        continue;
      }
      const rect = overlay.element.getBoundingClientRect();
      // A resized element stretches its overlay with it until it is sharpened again.
      const sx = overlay.capturedSize.width ? rect.width / overlay.capturedSize.width : 1;
      const sy = overlay.capturedSize.height ? rect.height / overlay.capturedSize.height : 1;
      const style = overlay.image.style;
      style.left = `${rect.left + overlay.offset.x * sx - origin.left}px`;
      style.top = `${rect.top + overlay.offset.y * sy - origin.top}px`;
      style.width = `${overlay.size.width * sx}px`;
      style.height = `${overlay.size.height * sy}px`;
      overlay.image.classList.toggle("hidden", this.showingOriginal || rect.width === 0 || rect.height === 0);
    }
    if (removed) this.updatePanel();
  }

  setShowOriginal(showOriginal) {
    this.showingOriginal = Boolean(showOriginal);
    this.reposition();
    this.updatePanel();
    return this.status();
  }

  updatePanel(message = null, level = "info") {
    if (!this.host) return;
    const panel = this.host.shadowRoot.querySelector(".panel");
    const count = this.overlays.size;
    const text = message ?? (count ? `Anti-aging: ${count} element${count === 1 ? "" : "s"} sharpened.` : "");
    this.panelLevel = message ? level : "info";
    panel.dataset.level = this.panelLevel;
    panel.querySelector(".message").textContent = text;
    const toggle = panel.querySelector(".toggle");
    toggle.textContent = this.showingOriginal ? "Show sharpened" : "Show original";
    toggle.classList.toggle("hidden", count === 0);
    panel.querySelector(".restore").textContent = count ? "Restore" : "Close";
    panel.classList.toggle("hidden", !text);
  }

  /** A message in the page's panel; errors stay until closed, notices fade. */
  notify(message, level = "info") {
    this.ensureLayer();
    this.win.clearTimeout(this.noticeTimer);
    this.updatePanel(message, level);
    if (level !== "error") this.noticeTimer = this.win.setTimeout(() => this.updatePanel(), NOTICE_MS);
    return true;
  }

  status() {
    return {
      overlays: this.overlays.size,
      showingOriginal: this.showingOriginal,
      placements: [...this.overlays].map(([id, overlay]) => ({
        id,
        overlay: plainRect(overlay.image.getBoundingClientRect()),
        element: plainRect(overlay.element.getBoundingClientRect()),
      })),
    };
  }

  /** Remove every overlay, listener and observer: the page is as it was. */
  restore() {
    this.win.clearTimeout(this.noticeTimer);
    this.win.removeEventListener("scroll", this.scheduleUpdate, { capture: true });
    this.win.removeEventListener("resize", this.scheduleUpdate);
    this.win.removeEventListener("keydown", this.onKeyDown, true);
    this.resizeObserver?.disconnect();
    this.mutationObserver?.disconnect();
    this.host?.remove();
    this.host = null;
    this.overlays.clear();
    this.elements.clear();
    this.showingOriginal = false;
    return this.status();
  }
}

export function install(doc = document) {
  return new PageAgent(doc);
}
