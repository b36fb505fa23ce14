// The region picker ("Sharpen a region…", "Read a region…"): the page dims, the user drags a
// rectangle, and that rectangle becomes a target anchored to the element under its centre.
import { dragRegion, spanRect } from "../lib/geometry.js";
import { message } from "../lib/i18n.js";
import { build, nextFrame, styleSheet } from "./dom.js";
import { pickerHint, regionLabel } from "./messages.js";
import { targetDescriptor } from "./targets.js";

const PICKER_CSS = `
  .picker { position: fixed; inset: 0; pointer-events: auto; cursor: crosshair; background: rgba(0, 0, 0, 0.08); }
  .picker .band { position: absolute; border: 2px dashed #1a73e8; background: rgba(26, 115, 232, 0.12); box-sizing: border-box; }
  .picker .hint { position: fixed; left: 50%; top: 12px; transform: translateX(-50%); padding: 4px 10px; border-radius: 4px;
    background: rgba(32, 33, 36, 0.92); color: #fff; font: 13px/1.35 system-ui, sans-serif; }
`;

/** A picked region of the page, followed as its anchor element moves: it quacks like an element. */
export class RegionAnchor {
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

export class RegionPicker {
  /** surface(): the shown layer's shadow root to draw in; isOurs(element): the extension's own layer. */
  constructor(doc, { surface, isOurs, targets }) {
    this.doc = doc;
    this.win = doc.defaultView;
    this.surface = surface;
    this.isOurs = isOurs;
    this.targets = targets;
    this.picking = null;
  }

  get active() {
    return this.picking !== null;
  }

  cancel() {
    this.picking?.cancel();
  }

  /** Let the user drag a rectangle over the page; resolves to it (viewport CSS px), or null on Escape. hint: what the picker says. */
  pick(hint = pickerHint()) {
    if (this.picking) return this.picking.promise;
    const band = build(this.doc, "div", { class: "band hidden" });
    const picker = build(this.doc, "div", { class: "picker" }, styleSheet(this.doc, PICKER_CSS), build(this.doc, "div", { class: "hint", lang: message("language_tag") }, hint), band);
    this.surface().append(picker);
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
      const { x, y, width, height } = spanRect(start, { x: event.clientX, y: event.clientY });
      Object.assign(band.style, { left: `${x}px`, top: `${y}px`, width: `${width}px`, height: `${height}px` });
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
  target(rect, sigmaCss = null) {
    const centre = { x: rect.x + rect.width / 2, y: rect.y + rect.height / 2 };
    const anchor = this.doc.elementsFromPoint(centre.x, centre.y).find((el) => !this.isOurs(el)) ?? this.doc.documentElement;
    const found = { kind: "region", ownText: false, shadowColor: null };
    const id = this.targets.add(new RegionAnchor(anchor, rect), found);
    found.descriptor = targetDescriptor({ id, kind: "region", tag: "region", label: regionLabel(rect.width, rect.height), sigmaCss, rect, scrollY: this.win.scrollY });
    return found.descriptor;
  }
}
