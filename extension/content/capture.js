// Capture preparation: before each captureVisibleTab, every frame hides the extension's layer
// and the top frame scrolls to the shot; afterwards the scroll position and the layer come back.
import { isTopFrame, nextFrame, plainRect } from "./dom.js";

export class CaptureStage {
  /** layer: the OverlayLayer to hide; targets: the frame's Targets; frames: its FrameLinks. */
  constructor(win, { layer, targets, frames }) {
    this.win = win;
    this.layer = layer;
    this.targets = targets;
    this.frames = frames;
  }

  /**
   * Hide the layer; the top frame scrolls to the shot's position. Returns fresh rectangles of the
   * ids this frame knows and where its child frames are (both in this frame's viewport).
   */
  async prepareShot({ scrollX = 0, scrollY = null, ids = [] }) {
    this.layer.setCaptureHidden(true);
    if (isTopFrame(this.win) && scrollY !== null) this.win.scrollTo({ left: scrollX, top: scrollY, behavior: "instant" });
    // Two frames: the first lays out the scrolled page, the second has it composited on screen.
    await nextFrame(this.win);
    await nextFrame(this.win);
    return { ...this.frames.childFrameBoundaries(), rects: this.rectsOf(ids) };
  }

  async endCapture({ scrollX = 0, scrollY = null } = {}) {
    if (isTopFrame(this.win) && scrollY !== null) this.win.scrollTo({ left: scrollX, top: scrollY, behavior: "instant" });
    this.layer.setCaptureHidden(false);
    await nextFrame(this.win);
    return true;
  }

  /** Rectangles (viewport CSS px) of the elements with these ids that are still in the page. */
  rectsOf(ids) {
    const rects = {};
    for (const id of ids) {
      const element = this.targets.element(id);
      if (element?.isConnected) rects[id] = plainRect(element.getBoundingClientRect());
    }
    return rects;
  }
}
