// The extension's hands in the page (isolated world): finds blurred elements, scrolls and
// hides its own layer for captures, and shows the sharpened images over the elements.
// Loaded once per document by content/inject.js; the service worker calls its methods.
import { blurOfChain, colorAlpha, parseTextShadow, textShadowBlur, withoutBlur } from "../lib/filters.js";
import { dragRegion, frameBoundary } from "../lib/geometry.js";
import { looksBlurred } from "../lib/sharpness.js";

const LAYER_ID = "anti-aging-layer";
// Images smaller than this (CSS px) are icons, not text worth sharpening.
const MIN_IMAGE_WIDTH = 40;
const MIN_IMAGE_HEIGHT = 16;
// Pixels read back from an image to judge its sharpness are capped to keep scans fast.
const MAX_PROBE_SIZE = 512;
const NOTICE_MS = 8000;
// An image shown this much larger than its own pixels is judged from the screen, as it is seen.
const UPSCALED_ABOVE = 1.25;
// The message a child frame sends its parent so the parent can tell which <iframe> it is.
const FRAME_HELLO = "anti-aging-frame-hello";
export const NOTHING_FOUND_HINT = "Try \u201cSharpen a region\u2026\u201d (in the right-click menu or the toolbar popup) and drag over the text.";
const LOOKED_FOR = "a CSS blur (filter or backdrop-filter), text drawn only as a blurred text-shadow, and blurry pictures of text";

const LAYER_CSS = `
  :host { all: initial; position: absolute; left: 0; top: 0; width: 0; height: 0; overflow: clip; z-index: 2147483647; pointer-events: none; }
  .overlay { position: absolute; margin: 0; padding: 0; border: 0; max-width: none; max-height: none; pointer-events: none; user-select: none; }
  .hidden { display: none !important; }
  .panel { position: fixed; right: 12px; bottom: 12px; display: flex; gap: 6px; align-items: center; max-width: 420px;
    padding: 6px 8px; border-radius: 6px; background: rgba(32, 33, 36, 0.92); color: #fff; pointer-events: auto;
    font: 13px/1.35 system-ui, sans-serif; box-shadow: 0 2px 8px rgba(0, 0, 0, 0.3); }
  .panel[data-level="error"] { background: rgba(165, 29, 29, 0.95); }
  .panel button { font: inherit; color: inherit; background: rgba(255, 255, 255, 0.16); border: 0; border-radius: 4px; padding: 2px 8px; cursor: pointer; }
  .panel button:hover { background: rgba(255, 255, 255, 0.3); }
  .message { flex: 1; }
  .picker { position: fixed; inset: 0; pointer-events: auto; cursor: crosshair; background: rgba(0, 0, 0, 0.08); }
  .picker .band { position: absolute; border: 2px dashed #1a73e8; background: rgba(26, 115, 232, 0.12); box-sizing: border-box; }
  .picker .hint { position: fixed; left: 50%; top: 12px; transform: translateX(-50%); padding: 4px 10px; border-radius: 4px;
    background: rgba(32, 33, 36, 0.92); color: #fff; font: 13px/1.35 system-ui, sans-serif; }
`;

/** A picked region of the page, followed as its anchor element moves: it quacks like an element. */
class RegionAnchor {
  constructor(anchor, rect) {
    this.anchor = anchor;
    const at = anchor.getBoundingClientRect();
    this.offset = { x: rect.x - at.left, y: rect.y - at.top };
    this.size = { width: rect.width, height: rect.height };
  }

  get isConnected() {
    return this.anchor.isConnected;
  }

  getBoundingClientRect() {
    const at = this.anchor.getBoundingClientRect();
    const x = at.left + this.offset.x;
    const y = at.top + this.offset.y;
    return { left: x, top: y, x, y, width: this.size.width, height: this.size.height };
  }
}

// Chrome pauses animation frames in frames scrolled out of view: never wait for one longer than this.
const FRAME_WAIT_MS = 100;

function nextFrame(win) {
  return new Promise((resolve) => {
    win.requestAnimationFrame(() => resolve());
    win.setTimeout(resolve, FRAME_WAIT_MS);
  });
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
    this.found = new Map(); // id -> what detection saw: {kind, ownText, shadowColor}
    this.overlays = new Map(); // id -> {element, image, offset, size}
    this.revealed = new Map(); // id -> {element, saved: [{element, property, value, priority}]}
    this.nextId = 1;
    this.host = null;
    this.showingOriginal = false;
    this.updateScheduled = false;
    this.noticeTimer = 0;
    this.picking = null;
    this.childFrames = new Map(); // key a child frame sent -> its <iframe>
    this.frameKey = `f${Math.random().toString(36).slice(2)}`;
    this.scheduleUpdate = () => {
      if (this.updateScheduled) return;
      this.updateScheduled = true;
      this.win.requestAnimationFrame(() => {
        this.updateScheduled = false;
        this.reposition();
      });
    };
    this.onKeyDown = (event) => {
      if (event.key === "Escape" && this.host && !this.picking) this.restore();
    };
    this.onMutations = (records) => {
      if (records.some((record) => record.target !== this.host)) this.scheduleUpdate();
    };
    this.onMessage = (event) => {
      if (event.data?.type !== FRAME_HELLO || typeof event.data.key !== "string") return;
      const frame = [...this.doc.querySelectorAll("iframe, frame")].find((el) => el.contentWindow === event.source);
      if (frame) this.childFrames.set(event.data.key, frame);
    };
    this.win.addEventListener("message", this.onMessage);
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

  lengthContext() {
    const root = this.win.getComputedStyle(this.doc.documentElement);
    return { rootFontSize: parseFloat(root.fontSize), viewportWidth: this.win.innerWidth, viewportHeight: this.win.innerHeight };
  }

  blurOf(element) {
    const chain = [];
    for (let node = element; node; node = parentOf(node)) {
      const style = this.win.getComputedStyle(node);
      chain.push({ filter: style.filter, backdropFilter: style.backdropFilter, fontSize: parseFloat(style.fontSize) });
    }
    return blurOfChain(chain, this.lengthContext());
  }

  ownBlur(element) {
    const style = this.win.getComputedStyle(element);
    return /blur\(/i.test(style.filter) || /blur\(/i.test(style.backdropFilter);
  }

  /** The text-shadow trick on an element: transparent glyphs whose shadow is blurred. */
  shadowTrickOf(element) {
    const style = this.win.getComputedStyle(element);
    const context = { ...this.lengthContext(), fontSize: parseFloat(style.fontSize) };
    const shadows = parseTextShadow(style.textShadow, context);
    const trick = textShadowBlur(shadows, colorAlpha(style.webkitTextFillColor || style.color));
    const color = shadows?.find((shadow) => shadow.alpha === null || shadow.alpha > 0)?.color ?? null;
    return { ...trick, color };
  }

  /** Where the trick is declared: text-shadow and color are inherited, so the outermost element that has it. */
  shadowTrickRoot(element) {
    let root = null;
    for (let node = element; node && node.nodeType === Node.ELEMENT_NODE; node = parentOf(node)) {
      if (!this.shadowTrickOf(node).blurred) break;
      root = node;
    }
    return root;
  }

  hasOwnText(element) {
    const walker = this.doc.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (node.data.trim()) return true;
    }
    return Boolean(element.shadowRoot?.textContent.trim());
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
      id = `${this.frameKey}-${this.nextId++}`; // unique across the tab's frames
      this.ids.set(element, id);
    }
    this.elements.set(id, element);
    return id;
  }

  /** A target for the service worker: its blur (sigma in CSS px, null = unknown) and where it is. */
  describe(element, kind) {
    const blur = this.blurOf(element);
    const rect = plainRect(element.getBoundingClientRect());
    let sigmaCss = blur.blurred ? blur.sigma : null;
    let reachSigmaCss = null;
    let spread = { left: 0, right: 0, top: 0, bottom: 0 };
    let shadowColor = null;
    if (kind === "text-shadow") {
      const trick = this.shadowTrickOf(element);
      // A filter blur on top of the shadow's: Gaussians compose, sqrt of the sum of squares.
      const filterSigma = blur.blurred ? blur.sigma : 0;
      sigmaCss = trick.sigma === null || filterSigma === null ? null : Math.hypot(trick.sigma, filterSigma);
      reachSigmaCss = trick.reachSigma === null || filterSigma === null ? null : Math.hypot(trick.reachSigma, filterSigma);
      spread = trick.spread;
      shadowColor = trick.color;
    }
    const ownText = (kind === "css-blur" || kind === "text-shadow") && this.hasOwnText(element);
    const id = this.idOf(element);
    this.found.set(id, { kind, ownText, shadowColor });
    return {
      id,
      kind,
      tag: element.localName,
      label: (element.innerText ?? element.getAttribute?.("alt") ?? "").trim().slice(0, 40),
      sigmaCss,
      reachSigmaCss,
      spread,
      ownText,
      rect,
      top: rect.y + this.win.scrollY,
      bottom: rect.y + rect.height + this.win.scrollY,
    };
  }

  /**
   * Sharpness of an image's own pixels: true/false, or null when they cannot be read (cross-origin)
   * or do not show as they are drawn (scaled up by CSS): the service worker then judges the screen's.
   */
  imageLooksBlurred(element) {
    const source = element.localName === "img" || element.localName === "canvas" ? element : null;
    if (!source) return null;
    const width = source.naturalWidth ?? source.width;
    const height = source.naturalHeight ?? source.height;
    if (!width || !height) return null;
    const shown = element.getBoundingClientRect();
    const upscale = Math.max(shown.width / width, shown.height / height) * this.win.devicePixelRatio;
    if (upscale > UPSCALED_ABOVE) return null;
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

  /** The blurred element a node belongs to: its own or an ancestor's CSS blur, or the text-shadow trick. */
  blurredTargetOf(element) {
    for (let node = element; node; node = parentOf(node)) {
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      if (this.ownBlur(node) && this.blurOf(node).blurred) return this.describe(node, "css-blur");
      if (this.shadowTrickOf(node).blurred) return this.describe(this.shadowTrickRoot(node), "text-shadow");
    }
    return null;
  }

  /** The element a right-click meant: the blurred element under the cursor or its blurred ancestor. */
  locate(hint = {}) {
    const element = this.pointedElement(hint);
    if (!element) return { error: `Nothing to sharpen under the cursor. Right-click directly on the blurred text. ${NOTHING_FOUND_HINT}` };
    const target = this.isImageLike(element) ? this.describe(element, "image") : this.blurredTargetOf(element);
    if (target) return { targets: [target], view: this.viewState() };
    return { error: `No blurred text under the cursor: looked for ${LOOKED_FOR} on the element and its ancestors. ${NOTHING_FOUND_HINT}` };
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
      if (this.shadowTrickOf(element).blurred) {
        // Only where the trick starts: its descendants inherit it and are inside that target.
        const parent = parentOf(element);
        if (!(parent && this.shadowTrickOf(parent).blurred) && this.hasOwnText(element)) targets.push(this.describe(element, "text-shadow"));
        continue;
      }
      if (rect.width < MIN_IMAGE_WIDTH || rect.height < MIN_IMAGE_HEIGHT || !this.isImageLike(element)) continue;
      if (this.blurOf(element).blurred) continue; // inside a blurred ancestor, which is a target already
      const blurred = this.imageLooksBlurred(element);
      if (blurred === true) targets.push(this.describe(element, "image"));
      else if (blurred === null) uncertain.push(this.describe(element, "image-unchecked"));
    }
    return { targets, uncertain, view: this.viewState(), lookedFor: LOOKED_FOR };
  }

  // ----- frames -----

  /** Tell the parent frame which <iframe> this document is in; returns the key it will know us by. */
  helloToParent() {
    if (this.win.parent !== this.win) this.win.parent.postMessage({ type: FRAME_HELLO, key: this.frameKey }, "*");
    return this.frameKey;
  }

  /** Where each child frame that said hello sits in this frame's viewport (see geometry.js frameBoundary). */
  childFrameBoundaries() {
    const boundaries = {};
    for (const [key, frame] of this.childFrames) {
      if (!frame.isConnected) continue;
      const style = this.win.getComputedStyle(frame);
      const edge = (side) => parseFloat(style[`border${side}Width`]) + parseFloat(style[`padding${side}`]);
      const edges = { left: edge("Left"), right: edge("Right"), top: edge("Top"), bottom: edge("Bottom") };
      // The frame's viewport is the iframe's content box: clientWidth less the padding.
      const inner = { width: frame.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
        height: frame.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom) };
      boundaries[key] = frameBoundary(plainRect(frame.getBoundingClientRect()), edges, inner);
    }
    return { key: this.frameKey, boundaries, silent: this.silentFrameOrigins(), view: this.viewState() };
  }

  /** Origins of child frames whose page agent never said hello: frames Chrome did not let us script. */
  silentFrameOrigins() {
    const heard = new Set(this.childFrames.values());
    const origins = new Set();
    for (const frame of this.doc.querySelectorAll("iframe, frame")) {
      if (heard.has(frame) || !frame.src) continue;
      try {
        const url = new URL(frame.src, this.doc.baseURI);
        if (url.protocol === "http:" || url.protocol === "https:") origins.add(url.origin);
      } catch {
        // not a URL: nothing to ask permission for
      }
    }
    return [...origins];
  }

  // ----- the region picker -----

  /** Let the user drag a rectangle over the page; resolves to it (viewport CSS px), or null on Escape. */
  pickRegion() {
    if (this.picking) return this.picking.promise;
    const host = this.ensureLayer();
    const picker = this.doc.createElement("div");
    picker.className = "picker";
    picker.innerHTML = '<div class="hint">Drag over the text to sharpen \u00b7 Esc cancels</div><div class="band hidden"></div>';
    host.style.visibility = "";
    host.shadowRoot.append(picker);
    const band = picker.querySelector(".band");
    let start = null;
    let resolve;
    const promise = new Promise((done) => { resolve = done; });
    const finish = async (region) => {
      picker.remove();
      this.win.removeEventListener("keydown", onKey, true);
      this.picking = null;
      // The picker must be gone from the screen before anything is captured.
      await nextFrame(this.win);
      await nextFrame(this.win);
      resolve(region);
    };
    const onKey = (event) => {
      if (event.key !== "Escape") return;
      event.stopImmediatePropagation();
      event.preventDefault();
      finish(null);
    };
    picker.addEventListener("pointerdown", (event) => {
      start = { x: event.clientX, y: event.clientY };
      picker.setPointerCapture(event.pointerId);
    });
    picker.addEventListener("pointermove", (event) => {
      if (!start) return;
      const x = Math.min(start.x, event.clientX);
      const y = Math.min(start.y, event.clientY);
      Object.assign(band.style, { left: `${x}px`, top: `${y}px`, width: `${Math.abs(event.clientX - start.x)}px`, height: `${Math.abs(event.clientY - start.y)}px` });
      band.classList.remove("hidden");
    });
    picker.addEventListener("pointerup", (event) => {
      if (!start) return;
      const region = dragRegion(start, { x: event.clientX, y: event.clientY }, { width: this.win.innerWidth, height: this.win.innerHeight });
      start = null;
      band.classList.add("hidden");
      if (region) finish(region);
    });
    this.win.addEventListener("keydown", onKey, true);
    this.picking = { promise, cancel: () => finish(null) };
    return promise;
  }

  /** A target for a picked region, anchored to the element under its centre so it follows scrolling and layout. */
  regionTarget(rect, sigmaCss = null) {
    const centre = { x: rect.x + rect.width / 2, y: rect.y + rect.height / 2 };
    const anchor = this.doc.elementsFromPoint(centre.x, centre.y).find((el) => !this.isOurs(el)) ?? this.doc.documentElement;
    const region = new RegionAnchor(anchor, rect);
    const id = `${this.frameKey}-${this.nextId++}`;
    this.elements.set(id, region);
    this.found.set(id, { kind: "region", ownText: false, shadowColor: null });
    return {
      id, kind: "region", tag: "region", label: `${Math.round(rect.width)}\u00d7${Math.round(rect.height)} region`, sigmaCss,
      reachSigmaCss: null, spread: { left: 0, right: 0, top: 0, bottom: 0 }, ownText: false,
      rect, top: rect.y + this.win.scrollY, bottom: rect.y + rect.height + this.win.scrollY,
    };
  }

  // ----- capturing -----

  ensureLayer() {
    if (this.host?.isConnected) return this.host;
    const host = this.doc.createElement("div");
    host.id = LAYER_ID;
    const root = host.attachShadow({ mode: "open" });
    // The stylesheet goes in as text: markup assigned to innerHTML stays a constant.
    const style = this.doc.createElement("style");
    style.textContent = LAYER_CSS;
    root.innerHTML = `<div class="overlays"></div>
      <div class="panel hidden" role="status"><span class="message"></span>
      <button class="reveal hidden" type="button" title="Remove the page's blur: its own text, no model">Show the page\u2019s own text</button>
      <button class="toggle" type="button"></button><button class="restore" type="button" title="Restore the page (Esc)">Restore</button></div>`;
    root.prepend(style);
    root.querySelector(".toggle").addEventListener("click", () => this.setShowOriginal(!this.showingOriginal));
    root.querySelector(".restore").addEventListener("click", () => this.restore());
    root.querySelector(".reveal").addEventListener("click", () => this.revealOwnText());
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

  /** Rectangles (viewport CSS px) of the elements with these ids that are still in the page. */
  rectsOf(ids) {
    const rects = {};
    for (const id of ids) {
      const element = this.elements.get(id);
      if (element?.isConnected) rects[id] = plainRect(element.getBoundingClientRect());
    }
    return rects;
  }

  get isTop() {
    return this.win === this.win.top;
  }

  /**
   * Before a capture, in every frame: hide the extension's layer; the top frame scrolls to the
   * shot's position. Returns fresh rectangles of the ids this frame knows and where its child
   * frames are (both in this frame's viewport).
   */
  async prepareShot({ scrollX = 0, scrollY = null, ids = [] }) {
    if (this.host) this.host.style.visibility = "hidden";
    if (this.isTop && scrollY !== null) this.win.scrollTo({ left: scrollX, top: scrollY, behavior: "instant" });
    // Two frames: the first lays out the scrolled page, the second has it composited on screen.
    await nextFrame(this.win);
    await nextFrame(this.win);
    return { ...this.childFrameBoundaries(), rects: this.rectsOf(ids) };
  }

  async endCapture({ scrollX = 0, scrollY = null } = {}) {
    if (this.isTop && scrollY !== null) this.win.scrollTo({ left: scrollX, top: scrollY, behavior: "instant" });
    if (this.host) this.host.style.visibility = "";
    await nextFrame(this.win);
    return true;
  }

  // ----- overlays -----

  /**
   * Show sharpened images. Each item: {id, image (PNG data URL), overlay, elementRect}: the
   * overlay's rectangle (the element and its blur's halo) and the element's, both in viewport CSS
   * px at capture time.
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
      this.unreveal(item.id);
      this.revealed.delete(item.id);
      image.dataset.target = item.id;
      layer.append(image);
      this.overlays.set(item.id, {
        element,
        image,
        offset: { x: item.overlay.x - item.elementRect.x, y: item.overlay.y - item.elementRect.y },
        size: { width: item.overlay.width, height: item.overlay.height },
        capturedSize: { width: item.elementRect.width, height: item.elementRect.height },
      });
      if (element instanceof Element) this.resizeObserver.observe(element);
    }
    this.showingOriginal = false;
    this.reposition();
    this.updatePanel();
    return this.status();
  }

  reposition() {
    if (!this.host) return;
    // The layer clips to the document's own size, so an overlay's halo can never grow the page.
    this.host.style.width = "0px";
    this.host.style.height = "0px";
    const scrolling = this.doc.scrollingElement ?? this.doc.documentElement;
    const pageSize = { width: scrolling.scrollWidth, height: scrolling.scrollHeight };
    this.host.style.width = `${pageSize.width}px`;
    this.host.style.height = `${pageSize.height}px`;
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
      // A resized element stretches its overlay with it until it is sharpened again; the halo
      // around it keeps its width.
      const style = overlay.image.style;
      style.left = `${rect.left + overlay.offset.x - origin.left}px`;
      style.top = `${rect.top + overlay.offset.y - origin.top}px`;
      style.width = `${Math.max(0, overlay.size.width + rect.width - overlay.capturedSize.width)}px`;
      style.height = `${Math.max(0, overlay.size.height + rect.height - overlay.capturedSize.height)}px`;
      overlay.image.classList.toggle("hidden", this.showingOriginal || rect.width === 0 || rect.height === 0);
    }
    if (removed) this.updatePanel();
  }

  // ----- the page's own text -----

  /** Take the blur off a target's live text in place (its styles are kept to be put back). */
  applyReveal(id) {
    const element = this.elements.get(id);
    const found = this.found.get(id);
    if (!element?.isConnected || !found?.ownText) return false;
    const saved = [];
    const set = (node, property, value) => {
      saved.push({ element: node, property, value: node.style.getPropertyValue(property), priority: node.style.getPropertyPriority(property) });
      node.style.setProperty(property, value, "important");
    };
    // Blurs on ancestors blur this text too; text-shadow and color are inherited from the trick's root.
    for (let node = element; node && node.nodeType === Node.ELEMENT_NODE; node = parentOf(node)) {
      const style = this.win.getComputedStyle(node);
      if (/blur\(/i.test(style.filter)) set(node, "filter", withoutBlur(style.filter));
      if (/blur\(/i.test(style.backdropFilter)) set(node, "backdrop-filter", withoutBlur(style.backdropFilter));
    }
    if (found.kind === "text-shadow") {
      const color = found.shadowColor && found.shadowColor !== "currentcolor" ? found.shadowColor : "#000";
      set(element, "color", color);
      set(element, "-webkit-text-fill-color", color);
      set(element, "text-shadow", "none");
    }
    this.revealed.set(id, { element, saved });
    return true;
  }

  unreveal(id) {
    const entry = this.revealed.get(id);
    if (!entry) return;
    for (const { element, property, value, priority } of [...entry.saved].reverse()) {
      if (value) element.style.setProperty(property, value, priority);
      else element.style.removeProperty(property);
    }
    entry.saved = [];
  }

  /**
   * "Show the page's own text": remove the blur in place from these targets (default: the
   * sharpened ones that have live text, else every blurred text element of the page). Their
   * overlays go; Escape, Restore and the toggle put the blur back like they hide overlays.
   * quiet: say nothing when there is nothing to show (the service worker speaks for all frames).
   */
  revealOwnText(ids = null, { quiet = false } = {}) {
    let chosen = ids ?? [...this.overlays.keys()].filter((id) => this.found.get(id)?.ownText);
    if (!chosen.length && ids === null) chosen = this.scan().targets.filter((target) => target.ownText).map((target) => target.id);
    this.ensureLayer();
    let count = 0;
    for (const id of chosen) {
      if (this.revealed.has(id) && this.revealed.get(id).saved.length) {
        count += 1;
        continue;
      }
      if (!this.applyReveal(id)) continue;
      count += 1;
      this.overlays.get(id)?.image.remove();
      this.overlays.delete(id);
    }
    this.showingOriginal = false;
    this.reposition();
    if (count || quiet) this.updatePanel();
    else this.notify(`No page text to show: looked for text in the page itself under a CSS blur or the text-shadow trick; pictures and canvases have none. Use \u201cSharpen text\u201d for those, or ${NOTHING_FOUND_HINT[0].toLowerCase()}${NOTHING_FOUND_HINT.slice(1)}`);
    return this.status();
  }

  setShowOriginal(showOriginal) {
    this.showingOriginal = Boolean(showOriginal);
    for (const id of this.revealed.keys()) {
      if (this.showingOriginal) this.unreveal(id);
      else if (!this.revealed.get(id).saved.length) this.applyReveal(id);
    }
    this.reposition();
    this.updatePanel();
    return this.status();
  }

  updatePanel(message = null, level = "info") {
    if (!this.host) return;
    const panel = this.host.shadowRoot.querySelector(".panel");
    const sharpened = this.overlays.size;
    const revealed = this.revealed.size;
    const parts = [];
    if (sharpened) parts.push(`${sharpened} element${sharpened === 1 ? "" : "s"} sharpened`);
    if (revealed) parts.push(`${revealed} showing the page\u2019s own text`);
    const text = message ?? (parts.length ? `Anti-aging: ${parts.join("; ")}.` : "");
    this.panelLevel = message ? level : "info";
    panel.dataset.level = this.panelLevel;
    panel.querySelector(".message").textContent = text;
    const toggle = panel.querySelector(".toggle");
    toggle.textContent = this.showingOriginal ? (sharpened ? "Show sharpened" : "Show unblurred") : "Show original";
    toggle.classList.toggle("hidden", sharpened + revealed === 0);
    const canReveal = [...this.overlays.keys()].some((id) => this.found.get(id)?.ownText);
    panel.querySelector(".reveal").classList.toggle("hidden", !canReveal || this.showingOriginal);
    panel.querySelector(".restore").textContent = sharpened + revealed ? "Restore" : "Close";
    // One panel per tab: frames' agents keep theirs hidden (the top page's and the popup speak for them).
    panel.classList.toggle("hidden", !text || !this.isTop);
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
    const describe = (id, element, method) => ({
      id,
      method,
      kind: this.found.get(id)?.kind ?? null,
      label: element instanceof Element ? (element.innerText ?? element.getAttribute("alt") ?? "").trim().slice(0, 40) : "region",
      element: plainRect(element.getBoundingClientRect()),
    });
    return {
      overlays: this.overlays.size,
      revealed: this.revealed.size,
      showingOriginal: this.showingOriginal,
      placements: [...this.overlays].map(([id, overlay]) => ({
        ...describe(id, overlay.element, "sharpened"),
        overlay: plainRect(overlay.image.getBoundingClientRect()),
      })),
      pageText: [...this.revealed].map(([id, entry]) => describe(id, entry.element, "page-text")),
    };
  }

  /** Remove every overlay, listener and observer, and put back every blur: the page is as it was. */
  restore() {
    this.picking?.cancel();
    for (const id of this.revealed.keys()) this.unreveal(id);
    this.revealed.clear();
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
    this.found.clear();
    this.showingOriginal = false;
    return this.status();
  }
}

export function install(doc = document) {
  return new PageAgent(doc);
}
