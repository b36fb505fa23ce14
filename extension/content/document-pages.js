// "Read the document": the pictures of a document's pages in this page. Document sites load their
// pages lazily as the reader scrolls (an <img> gets its src, a <canvas> is drawn, a background
// image is set when it comes into view), so finding them means scrolling through the document, and
// reading one means bringing it into view and waiting until it has loaded. A page is a picture, a
// canvas or a background image shaped like a page (lib/document.js) whose pixels, where they can
// be read, have a plain background (paper, not a photo).
import { isPageShaped, pagesInOrder } from "../lib/document.js";
import { backgroundShare, TEXT_BACKGROUND_SHARE } from "../lib/sharpness.js";
import { allElements, nextFrame, viewState } from "./dom.js";

// Each scroll step moves this share of the window, so consecutive views overlap.
const STEP_SHARE = 0.8;
// Enough steps for hundreds of pages; an endless feed stops here.
const MAX_STEPS = 400;
// After each step, lazy pictures in view are given this long to load (ms) before moving on.
const STEP_LOAD_MS = 1500;
// A page brought into view is given this long to load before it is captured as it is.
const PAGE_LOAD_MS = 8000;
const POLL_MS = 50;

const sleep = (win, ms) => new Promise((resolve) => win.setTimeout(resolve, ms));

/** Resolves true once predicate() holds (polled), false after timeoutMs. */
async function waitUntil(win, predicate, timeoutMs) {
  const deadline = win.performance.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (win.performance.now() >= deadline) return false;
    await sleep(win, POLL_MS);
  }
}

/** The first url(...) of a computed background-image, or null. */
function backgroundUrl(style) {
  const match = /url\(\s*(["']?)(.*?)\1\s*\)/i.exec(style.backgroundImage);
  return match ? match[2] : null;
}

export class DocumentPages {
  /** scanner: the frame's Scanner (what is a picture, and targets for its elements); isOurs(element): the extension's layer. */
  constructor(doc, { scanner, isOurs }) {
    this.doc = doc;
    this.win = doc.defaultView;
    this.scanner = scanner;
    this.isOurs = isOurs;
    this.start = null;
  }

  /** What scrolls the document: the page itself, or the inner scroller (a viewer's pane) with the most to scroll. */
  scroller() {
    const page = this.doc.scrollingElement ?? this.doc.documentElement;
    let best = page;
    let most = page.scrollHeight - this.win.innerHeight;
    for (const element of this.doc.body ? allElements(this.doc.body) : []) {
      const extra = element.scrollHeight - element.clientHeight;
      if (extra <= most || element.clientHeight < this.win.innerHeight / 3) continue;
      const overflow = this.win.getComputedStyle(element).overflowY;
      if (overflow === "auto" || overflow === "scroll") {
        best = element;
        most = extra;
      }
    }
    return best;
  }

  scrollTo(scroller, top) {
    if (scroller === (this.doc.scrollingElement ?? this.doc.documentElement)) this.win.scrollTo({ left: this.win.scrollX, top, behavior: "instant" });
    else scroller.scrollTo({ left: scroller.scrollLeft, top, behavior: "instant" });
  }

  /** Whether an element of the page looks like one of the document's pages now. */
  isPage(element) {
    if (this.isOurs(element) || !this.scanner.isImageLike(element)) return false;
    if (!isPageShaped(element.getBoundingClientRect())) return false;
    const pixels = this.scanner.ownPixels(element);
    return !pixels || backgroundShare(pixels.data, pixels.width, pixels.height) >= TEXT_BACKGROUND_SHARE;
  }

  /** Whether a page's picture has arrived: an image loaded and decoded, a canvas drawn on, a background image loaded. */
  async loaded(element) {
    if (!element.isConnected) return false;
    if (element.localName === "img") {
      if (!element.complete || !element.naturalWidth) return false;
      return element.decode().then(() => true, () => false);
    }
    if (element.localName === "canvas") {
      const pixels = this.scanner.ownPixels(element);
      // Unreadable (tainted) pixels were drawn by someone: it is not blank.
      return !pixels || pixels.data.some((value, i) => i % 4 === 3 && value > 0);
    }
    const url = backgroundUrl(this.win.getComputedStyle(element));
    if (!url) return false;
    const probe = new this.win.Image();
    probe.src = url;
    return probe.decode().then(() => true, () => false);
  }

  /** Give the lazy pictures now in view a moment to arrive. */
  async settle() {
    await nextFrame(this.win);
    await nextFrame(this.win);
    const inView = (element) => {
      const rect = element.getBoundingClientRect();
      return rect.bottom > 0 && rect.top < this.win.innerHeight && rect.width > 0;
    };
    const images = [...this.doc.images].filter((image) => inView(image) && image.getAttribute("loading") !== "eager");
    await waitUntil(this.win, () => images.every((image) => image.complete), STEP_LOAD_MS);
  }

  /**
   * Scroll through the whole document (then back) so that every lazy page shows itself: the
   * pages found, as target descriptors in reading order, and the document's title, address and language.
   */
  async find() {
    const scroller = this.scroller();
    this.start = { scroller, top: scroller.scrollTop, windowX: this.win.scrollX, windowY: this.win.scrollY };
    const found = new Set();
    let top = 0;
    for (let step = 0; step < MAX_STEPS; step += 1) {
      this.scrollTo(scroller, top);
      await this.settle();
      for (const element of allElements(this.doc.body)) if (!found.has(element) && this.isPage(element)) found.add(element);
      const end = scroller.scrollHeight - scroller.clientHeight;
      if (top >= end) break;
      top = Math.min(end, top + Math.max(1, Math.round(scroller.clientHeight * STEP_SHARE)));
    }
    await this.finish();
    // Described where they are now: pages loaded above may have moved the others.
    const scrollX = this.win.scrollX;
    const candidates = [...found].filter((element) => element.isConnected).map((element) => {
      const target = this.scanner.describe(element, "image");
      return { id: target.id, left: target.rect.x + scrollX, top: target.top, width: target.rect.width, height: target.rect.height };
    });
    return {
      pages: pagesInOrder(candidates).map(({ id }) => ({ id })),
      title: this.doc.title,
      url: this.doc.location.href,
      lang: this.doc.documentElement.lang || "",
      view: viewState(this.win),
    };
  }

  /** Bring page `id` into view and wait until it has loaded: {target, view, loaded}, or null when it left the page. */
  async prepare(id) {
    const element = this.scanner.targets.element(id);
    if (!element?.isConnected) return null;
    element.scrollIntoView({ block: "start", inline: "nearest", behavior: "instant" });
    const loaded = await waitUntil(this.win, () => this.loaded(element), PAGE_LOAD_MS);
    await nextFrame(this.win);
    await nextFrame(this.win);
    if (!element.isConnected) return null;
    // A blur in the picture's own pixels stays inside it, so the crop is the page itself: a margin of
    // the viewer's background around a sparse page makes the reader take the page for one filled card.
    // A CSS blur on it spills past it; its sigma is known and widens the crop as usual.
    return { target: this.scanner.describe(element, "image", { reachSigmaCss: 0 }), view: viewState(this.win), loaded };
  }

  /** Put the document's scroll positions back where find() found them. */
  async finish() {
    if (!this.start) return true;
    const { scroller, top, windowX, windowY } = this.start;
    this.scrollTo(scroller, top);
    this.win.scrollTo({ left: windowX, top: windowY, behavior: "instant" });
    await nextFrame(this.win);
    return true;
  }
}
