// The overlay layer: one host element appended to <html>, with a shadow root that page CSS cannot
// reach, positioned at the document's origin. It holds the overlays and keeps each over its
// element as the page scrolls, resizes and changes; the panel and the region picker live in the
// same shadow root. Overlays ignore the pointer, so the page under them keeps working.
import { overlayBox } from "../lib/geometry.js";
import { build, styleSheet } from "./dom.js";

export const LAYER_ID = "anti-aging-layer";

const LAYER_CSS = `
  :host { all: initial; position: absolute; left: 0; top: 0; width: 0; height: 0; overflow: clip; z-index: 2147483647; pointer-events: none; }
  .overlay { position: absolute; margin: 0; padding: 0; border: 0; max-width: none; max-height: none; pointer-events: none; user-select: none; }
  .hidden { display: none !important; }
`;

/**
 * An overlay: a node laid over its element's box and the blur's halo. `kind` says what it shows:
 * "image" (imageOverlay) or "text" (text-overlay.js); each kind brings its own node and may place
 * it its own way by overriding place().
 * item: the service worker's {overlay, elementRect}: the overlay's rectangle and its element's,
 * in viewport CSS px at capture time.
 */
export class Overlay {
  constructor(kind, node, { overlay, elementRect }) {
    this.kind = kind;
    this.node = node;
    this.placement = {
      offset: { x: overlay.x - elementRect.x, y: overlay.y - elementRect.y },
      size: { width: overlay.width, height: overlay.height },
      capturedSize: { width: elementRect.width, height: elementRect.height },
    };
  }

  /** Put the node at box ({left, top, width, height}, CSS px in the layer), or hide it. */
  place(box, hidden) {
    const style = this.node.style;
    style.left = `${box.left}px`;
    style.top = `${box.top}px`;
    style.width = `${box.width}px`;
    style.height = `${box.height}px`;
    this.node.classList.toggle("hidden", hidden);
  }
}

/** The server's sharpened image (item.image, a PNG data URL), decoded before it is shown. */
export async function imageOverlay(doc, item) {
  const image = build(doc, "img", { class: "overlay", alt: "", draggable: "false", decoding: "sync", src: item.image });
  await image.decode();
  return new Overlay("image", image, item);
}

export class OverlayLayer {
  /**
   * overlaysHidden(): whether the originals are shown instead; onEscape(): Escape was pressed
   * while the layer is up; onOverlaysRemoved(): overlays left with their elements; styles: more
   * CSS for the shadow root (the overlay kinds' own).
   */
  constructor(doc, { overlaysHidden, onEscape, onOverlaysRemoved, styles = [] }) {
    this.styles = styles;
    this.doc = doc;
    this.win = doc.defaultView;
    this.overlaysHidden = overlaysHidden;
    this.onOverlaysRemoved = onOverlaysRemoved;
    this.host = null;
    this.container = null;
    this.entries = new Map(); // id -> {element, overlay}
    this.updateScheduled = false;
    this.scheduleUpdate = () => {
      if (this.updateScheduled) return;
      this.updateScheduled = true;
      this.win.requestAnimationFrame(() => {
        this.updateScheduled = false;
        this.reposition();
      });
    };
    this.onKeyDown = (event) => {
      if (event.key === "Escape" && this.host) onEscape();
    };
    this.onMutations = (records) => {
      if (records.some((record) => record.target !== this.host)) this.scheduleUpdate();
    };
  }

  get root() {
    return this.host?.shadowRoot ?? null;
  }

  get size() {
    return this.entries.size;
  }

  ids() {
    return [...this.entries.keys()];
  }

  /** [{id, element, overlay}] of the overlays shown, of one kind or all. */
  shown(kind = null) {
    return [...this.entries].filter(([, { overlay }]) => !kind || overlay.kind === kind).map(([id, { element, overlay }]) => ({ id, element, overlay }));
  }

  isOurs(element) {
    return element === this.host || element.id === LAYER_ID;
  }

  /** Put the layer in the page unless it is there; true when it was built (its other parts are to be mounted). */
  ensure() {
    if (this.host?.isConnected) return false;
    const host = build(this.doc, "div", { id: LAYER_ID });
    this.container = build(this.doc, "div", { class: "overlays" });
    host.attachShadow({ mode: "open" }).append(...[LAYER_CSS, ...this.styles].map((css) => styleSheet(this.doc, css)), this.container);
    this.doc.documentElement.append(host);
    this.host = host;
    this.win.addEventListener("scroll", this.scheduleUpdate, { capture: true, passive: true });
    this.win.addEventListener("resize", this.scheduleUpdate, { passive: true });
    this.win.addEventListener("keydown", this.onKeyDown, true);
    this.resizeObserver = new ResizeObserver(this.scheduleUpdate);
    this.resizeObserver.observe(this.doc.documentElement);
    this.mutationObserver = new MutationObserver(this.onMutations);
    this.mutationObserver.observe(this.doc.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
    return true;
  }

  /** Captures must not see the extension's own layer. */
  setCaptureHidden(hidden) {
    if (this.host) this.host.style.visibility = hidden ? "hidden" : "";
  }

  /** Show an overlay over an element (an element or a region anchor), replacing the one it had. */
  add(id, element, overlay) {
    this.entries.get(id)?.overlay.node.remove();
    overlay.node.dataset.target = id;
    this.container.append(overlay.node);
    this.entries.set(id, { element, overlay });
    if (element instanceof Element) this.resizeObserver.observe(element);
  }

  remove(id) {
    this.entries.get(id)?.overlay.node.remove();
    this.entries.delete(id);
  }

  reposition() {
    if (!this.host) return;
    // The layer clips to the document's own size, so an overlay's halo can never grow the page.
    this.host.style.width = "0px";
    this.host.style.height = "0px";
    const scrolling = this.doc.scrollingElement ?? this.doc.documentElement;
    this.host.style.width = `${scrolling.scrollWidth}px`;
    this.host.style.height = `${scrolling.scrollHeight}px`;
    const origin = this.host.getBoundingClientRect();
    const hidden = this.overlaysHidden();
    let removed = false;
    for (const [id, { element, overlay }] of this.entries) {
      if (!element.isConnected) {
        this.remove(id);
        removed = true;
        continue;
      }
      const rect = element.getBoundingClientRect();
      overlay.place(overlayBox(rect, origin, overlay.placement), hidden || rect.width === 0 || rect.height === 0);
    }
    if (removed) this.onOverlaysRemoved();
  }

  /** Take the layer, its overlays, listeners and observers out of the page. */
  destroy() {
    this.win.removeEventListener("scroll", this.scheduleUpdate, { capture: true });
    this.win.removeEventListener("resize", this.scheduleUpdate);
    this.win.removeEventListener("keydown", this.onKeyDown, true);
    this.resizeObserver?.disconnect();
    this.mutationObserver?.disconnect();
    this.host?.remove();
    this.host = null;
    this.container = null;
    this.entries.clear();
  }
}
