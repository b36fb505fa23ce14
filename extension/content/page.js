// The extension's hands in the page (isolated world), loaded once per document by
// content/inject.js; the service worker calls the PageAgent's methods (lib/page-calls.js).
// The agent only coordinates; each concern has its module:
//   scanner.js        what is blurred, and what a right-click meant
//   capture.js        hiding the layer and scrolling for each capture
//   overlay-layer.js  the layer and the overlays in it, kept over their elements
//   panel.js          the panel at the bottom right (panel-view.js: what it says)
//   region-picker.js  "Sharpen a region…"
//   reveal.js         "Show the page's own text"
//   text-overlay.js   "Read text": the recovered text laid over an element
//   document-pages.js "Read the whole document": the document's pages, found and brought into view
//   frames.js         telling parent frames which <iframe> this document is in
//   targets.js        the elements worked on, by id; messages.js: texts made of several messages
import { countsWithFrames } from "../lib/frames.js";
import { CaptureStage } from "./capture.js";
import { DocumentPages } from "./document-pages.js";
import { isTopFrame, labelOf, plainRect, viewState } from "./dom.js";
import { FrameLinks } from "./frames.js";
import { noPageText, pickerHint, regionStatusLabel } from "./messages.js";
import { imageOverlay, OverlayLayer } from "./overlay-layer.js";
import { Panel } from "./panel.js";
import { RegionPicker } from "./region-picker.js";
import { Reveal } from "./reveal.js";
import { Scanner } from "./scanner.js";
import { Targets, targetDescriptor } from "./targets.js";
import { TEXT_LAYER_CSS, textOverlay } from "./text-overlay.js";

// Kinds of target whose text the page draws itself, in a font it names; pictures and regions
// show text in a font the page does not say.
const PAGE_FONT_KINDS = new Set(["css-blur", "text-shadow"]);
const FALLBACK_FONT = "sans-serif";
const METHODS = { image: "sharpened", text: "read" };

export class PageAgent {
  /**
   * requestRead(): ask the service worker to read this frame's sharpened elements (the panel's "Read text").
   * requestShowOriginal(value), requestRestore(): ask it to do the same in every frame of the tab,
   * whose overlays the panel counts too.
   */
  constructor(doc, { requestRead = () => null, requestShowOriginal = () => null, requestRestore = () => null } = {}) {
    this.doc = doc;
    this.win = doc.defaultView;
    this.showingOriginal = false;
    this.frames = new FrameLinks(doc, { onChildCounts: (counts) => this.childFrameCounted(counts) });
    this.targets = new Targets(this.frames.key);
    this.layer = new OverlayLayer(doc, {
      overlaysHidden: () => this.showingOriginal,
      onEscape: () => {
        if (!this.picker.active) this.restore();
      },
      onOverlaysRemoved: () => this.countsChanged(),
      styles: [TEXT_LAYER_CSS],
    });
    const isOurs = (element) => this.layer.isOurs(element);
    this.scanner = new Scanner(doc, this.targets, isOurs);
    this.documentPages = new DocumentPages(doc, { scanner: this.scanner, isOurs });
    this.capture = new CaptureStage(this.win, { layer: this.layer, targets: this.targets, frames: this.frames });
    this.reveal = new Reveal(this.win, this.targets);
    this.panel = new Panel(doc, {
      state: () => this.panelState(),
      // This frame at once, the tab's other frames through the service worker (a frame cannot reach a cross-origin one).
      onToggle: () => {
        const value = !this.showingOriginal;
        this.setShowOriginal(value);
        requestShowOriginal(value);
      },
      onReveal: () => this.revealOwnText(),
      onRead: () => requestRead(),
      onRestore: () => {
        this.restore();
        requestRestore();
      },
    });
    this.picker = new RegionPicker(doc, {
      surface: () => {
        this.ensureLayer();
        this.layer.setCaptureHidden(false);
        return this.layer.root;
      },
      isOurs,
      targets: this.targets,
    });
  }

  // ----- what is blurred (scanner.js) -----

  viewState() {
    return viewState(this.win);
  }

  locate(hint = {}) {
    return this.scanner.locate(hint);
  }

  scan() {
    return this.scanner.scan();
  }

  // ----- the document's pages (document-pages.js) -----

  findDocumentPages() {
    return this.documentPages.find();
  }

  preparePage(id) {
    return this.documentPages.prepare(id);
  }

  finishDocument() {
    return this.documentPages.finish();
  }

  // ----- frames (frames.js) -----

  helloToParent() {
    return this.frames.helloToParent();
  }

  childFrameBoundaries() {
    return this.frames.childFrameBoundaries();
  }

  // ----- capturing (capture.js) -----

  prepareShot(shot) {
    return this.capture.prepareShot(shot);
  }

  endCapture(position) {
    return this.capture.endCapture(position);
  }

  // ----- the region picker (region-picker.js) -----

  /** purpose: "sharpen" or "read", which the picker's hint says. */
  pickRegion(purpose = "sharpen") {
    return this.picker.pick(pickerHint(purpose));
  }

  regionTarget(rect, sigmaCss = null) {
    return this.picker.target(rect, sigmaCss);
  }

  // ----- overlays (overlay-layer.js) -----

  ensureLayer() {
    if (this.layer.ensure()) this.panel.mount(this.layer.root);
  }

  /**
   * Show sharpened images. Each item: {id, image (PNG data URL), overlay, elementRect}: the
   * overlay's rectangle (the element and its blur's halo) and the element's, both in viewport CSS
   * px at capture time.
   */
  async showOverlays(items) {
    this.ensureLayer();
    const overlays = await Promise.all(items.map((item) => imageOverlay(this.doc, item)));
    return this.placeOverlays(items, overlays);
  }

  /** Lay each item's overlay over its element (still on the page), in place of any reveal. */
  placeOverlays(items, overlays) {
    items.forEach((item, i) => {
      const element = this.targets.element(item.id);
      if (!element?.isConnected) return;
      this.reveal.drop(item.id);
      this.layer.add(item.id, element, overlays[i]);
    });
    this.showingOriginal = false;
    this.layer.reposition();
    this.countsChanged();
    return this.status();
  }

  /**
   * Show recovered text ("Read text"). Each item: {id, overlay, elementRect} as for showOverlays,
   * image (the sharpened pixels), reading {verdict, text, lines} and colors {background, ink}
   * (see text-overlay.js). The text is drawn in the element's own font where the page names it.
   */
  async showReadings(items) {
    this.ensureLayer();
    const notify = (message) => this.panel.notify(message);
    const overlays = await Promise.all(items.map((item) => textOverlay(this.doc, item, this.fontOf(item.id), notify)));
    return this.placeOverlays(items, overlays);
  }

  fontOf(id) {
    const element = this.targets.element(id);
    if (!(element instanceof Element) || !PAGE_FONT_KINDS.has(this.targets.info(id)?.kind)) return FALLBACK_FONT;
    return this.win.getComputedStyle(element).fontFamily || FALLBACK_FONT;
  }

  /** The targets shown with an overlay of this kind, described afresh for the service worker (where they are now). */
  shownTargets(kind = "image") {
    return {
      targets: this.layer.shown(kind).flatMap(({ id, element }) => {
        const described = this.targets.info(id)?.descriptor;
        if (!described) return [];
        const { top, bottom, ...rest } = described;
        return [targetDescriptor({ ...rest, rect: plainRect(element.getBoundingClientRect()), scrollY: this.win.scrollY })];
      }),
      view: viewState(this.win),
    };
  }

  // ----- the page's own text (reveal.js) -----

  /**
   * "Show the page's own text": remove the blur in place from these targets (default: the
   * sharpened ones that have live text, else every blurred text element of the page). Their
   * overlays go; Escape, Restore and the toggle put the blur back like they hide overlays.
   * quiet: say nothing when there is nothing to show (the service worker speaks for all frames).
   */
  revealOwnText(ids = null, { quiet = false } = {}) {
    let chosen = ids ?? this.layer.ids().filter((id) => this.targets.info(id)?.ownText);
    if (!chosen.length && ids === null) chosen = this.scan().targets.filter((target) => target.ownText).map((target) => target.id);
    this.ensureLayer();
    let count = 0;
    for (const id of chosen) {
      if (!this.reveal.isApplied(id) && !this.reveal.apply(id)) continue;
      count += 1;
      this.layer.remove(id);
    }
    this.showingOriginal = false;
    this.layer.reposition();
    if (count || quiet) this.countsChanged();
    else this.panel.notify(noPageText());
    return this.status();
  }

  // ----- the panel (panel.js) and the page's state -----

  setShowOriginal(showOriginal) {
    this.showingOriginal = Boolean(showOriginal);
    this.reveal.showOriginals(this.showingOriginal);
    this.layer.reposition();
    this.panel.update();
    return this.status();
  }

  /** This frame's overlays and reveals with those of the frames inside it: what its panel counts. */
  counts() {
    const own = { sharpened: this.layer.shown("image").length, read: this.layer.shown("text").length, revealed: this.reveal.size };
    return countsWithFrames(own, this.frames.childCounts());
  }

  /** The counts may have changed: the panel says so, and the parent frame hears them for its panel. */
  countsChanged() {
    this.panel.update();
    this.frames.reportCounts(this.counts());
  }

  /**
   * A child frame reported its counts: the top frame shows its panel for that frame's overlays even
   * with none of its own; a frame reporting none does not bring it back (after Restore, another
   * frame's last report may still count until that frame restores too).
   */
  childFrameCounted(reported) {
    const { sharpened, read, revealed } = countsWithFrames({ sharpened: 0, read: 0, revealed: 0 }, [reported]);
    if (isTopFrame(this.win) && sharpened + read + revealed > 0) this.ensureLayer();
    this.countsChanged();
  }

  panelState() {
    return {
      ...this.counts(),
      // The panel's buttons act on this frame's own elements.
      canRead: this.layer.shown("image").length > 0,
      showingOriginal: this.showingOriginal,
      canReveal: this.layer.ids().some((id) => this.targets.info(id)?.ownText),
      isTop: isTopFrame(this.win),
    };
  }

  /** A message in the page's panel; errors stay until closed, notices fade. */
  notify(message, level = "info") {
    this.ensureLayer();
    this.panel.notify(message, level);
    return true;
  }

  status() {
    const describe = (id, element, method) => ({
      id,
      method,
      kind: this.targets.info(id)?.kind ?? null,
      label: element instanceof Element ? labelOf(element) : regionStatusLabel(),
      element: plainRect(element.getBoundingClientRect()),
    });
    return {
      overlays: this.layer.size,
      revealed: this.reveal.size,
      showingOriginal: this.showingOriginal,
      placements: this.layer.shown().map(({ id, element, overlay }) => ({
        ...describe(id, element, METHODS[overlay.kind]),
        overlay: plainRect(overlay.node.getBoundingClientRect()),
        ...(overlay.kind === "text" ? { verdict: overlay.node.dataset.verdict } : {}),
      })),
      pageText: this.reveal.shown().map(({ id, element }) => describe(id, element, "page-text")),
    };
  }

  /** Remove every overlay, listener and observer, and put back every blur: the page is as it was. */
  restore() {
    this.picker.cancel();
    this.reveal.clear();
    this.panel.unmount();
    this.layer.destroy();
    this.targets.clear();
    this.showingOriginal = false;
    this.frames.reportCounts(this.counts());
    return this.status();
  }
}

export function install(doc = document) {
  return new PageAgent(doc, {
    requestRead: () => chrome.runtime.sendMessage({ type: "read-shown" }),
    requestShowOriginal: (value) => chrome.runtime.sendMessage({ type: "panel-show-original", value }),
    requestRestore: () => chrome.runtime.sendMessage({ type: "panel-restore" }),
  });
}
