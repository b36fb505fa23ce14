// Scanning and detection: which elements of the page are blurred (a CSS filter or backdrop-filter
// blur, the text-shadow trick, pictures whose own pixels look blurred), and the element a
// right-click meant. Found elements are registered in Targets and described for the service worker.
import { blurOfChain, colorAlpha, parseTextShadow, shadowUnderFilter, textShadowBlur } from "../lib/filters.js";
import { looksBlurred, ownPixelsShowAsDrawn } from "../lib/sharpness.js";
import { allElements, innermostHovered, labelOf, parentOf, plainRect, viewState } from "./dom.js";
import { lookedFor, noBlurUnderCursor, nothingUnderCursor } from "./messages.js";
import { targetDescriptor } from "./targets.js";

// Images smaller than this (CSS px) are icons, not text worth sharpening.
const MIN_IMAGE_WIDTH = 40;
const MIN_IMAGE_HEIGHT = 16;
// Pixels read back from an image to judge its sharpness are capped to keep scans fast.
const MAX_PROBE_SIZE = 512;

export class Scanner {
  /** targets: the frame's Targets; isOurs(element): the extension's own layer, never scanned. */
  constructor(doc, targets, isOurs) {
    this.doc = doc;
    this.win = doc.defaultView;
    this.targets = targets;
    this.isOurs = isOurs;
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

  /** Register an element as a target and describe it for the service worker (`more`: fields of its own). */
  describe(element, kind, more = {}) {
    const blur = this.blurOf(element);
    let blurs = { sigmaCss: blur.blurred ? blur.sigma : null };
    let shadowColor = null;
    if (kind === "text-shadow") {
      const trick = this.shadowTrickOf(element);
      blurs = shadowUnderFilter(trick, blur);
      shadowColor = trick.color;
    }
    const ownText = (kind === "css-blur" || kind === "text-shadow") && this.hasOwnText(element);
    const found = { kind, ownText, shadowColor };
    const id = this.targets.add(element, found);
    // Kept so that a shown target can be worked on again later ("Read text" from the panel).
    found.descriptor = targetDescriptor({ id, kind, tag: element.localName, label: labelOf(element), ...blurs, ownText,
      rect: plainRect(element.getBoundingClientRect()), scrollY: this.win.scrollY, ...more });
    return found.descriptor;
  }

  /** An <img>'s or <canvas>'s own pixel size, or null (background images, images not loaded). */
  pixelSizeOf(element) {
    if (element.localName !== "img" && element.localName !== "canvas") return null;
    const width = element.naturalWidth ?? element.width;
    const height = element.naturalHeight ?? element.height;
    return width && height ? { width, height } : null;
  }

  /** A picture's own pixels per CSS px as it is shown, or null when unknown (background images). */
  imagePerCss(element) {
    const size = this.pixelSizeOf(element);
    const shown = element.getBoundingClientRect();
    return size && shown.width > 0 ? size.width / shown.width : null;
  }

  /**
   * An image's own pixels as shown ({data: RGBA, width, height}, at most MAX_PROBE_SIZE a side), or
   * null when they cannot be read (cross-origin: a tainted canvas; background images; not loaded)
   * or do not show as they are drawn (scaled up by CSS).
   */
  ownPixels(element) {
    const size = this.pixelSizeOf(element);
    if (!size) return null;
    const shown = element.getBoundingClientRect();
    if (!ownPixelsShowAsDrawn({ naturalWidth: size.width, naturalHeight: size.height, shownWidth: shown.width, shownHeight: shown.height })) return null;
    const factor = Math.min(1, MAX_PROBE_SIZE / Math.max(size.width, size.height));
    const canvas = this.doc.createElement("canvas");
    canvas.width = Math.max(1, Math.round(size.width * factor));
    canvas.height = Math.max(1, Math.round(size.height * factor));
    try {
      const context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(element, 0, 0, canvas.width, canvas.height);
      return { data: context.getImageData(0, 0, canvas.width, canvas.height).data, width: canvas.width, height: canvas.height };
    } catch {
      return null;
    }
  }

  /** Sharpness of an image's own pixels: true/false, or null when ownPixels cannot tell (the service worker then judges the screen's). */
  imageLooksBlurred(element) {
    const pixels = this.ownPixels(element);
    return pixels ? looksBlurred(pixels.data, pixels.width, pixels.height) : null;
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
    if (!element) return { error: nothingUnderCursor() };
    const target = this.isImageLike(element) ? this.describe(element, "image") : this.blurredTargetOf(element);
    if (target) return { targets: [target], view: viewState(this.win) };
    return { error: noBlurUnderCursor() };
  }

  pointedElement(hint) {
    if (hint.srcUrl) {
      const hovered = [...this.doc.querySelectorAll(":hover")].filter((el) => !this.isOurs(el));
      const images = [...this.doc.images].filter((img) => img.currentSrc === hint.srcUrl || img.src === hint.srcUrl);
      const image = images.find((img) => hovered.includes(img)) ?? images[0];
      if (image) return image;
    }
    const selection = this.win.getSelection();
    if (hint.selectionText && selection && selection.rangeCount && !selection.isCollapsed) {
      const node = selection.getRangeAt(0).commonAncestorContainer;
      return node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    }
    return innermostHovered(this.doc, this.isOurs);
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
      else if (blurred === null) uncertain.push(this.describe(element, "image-unchecked", { imagePerCss: this.imagePerCss(element) }));
    }
    return { targets, uncertain, view: viewState(this.win), lookedFor: lookedFor() };
  }
}
