// Frames messaging: each child frame's agent posts a random key to its parent; the parent's agent
// finds the <iframe> that message came from (contentWindow === event.source works across
// origins) and reports where that iframe sits, by key, so that the service worker can chain the
// frames up to the top one (lib/frames.js).
import { frameOrigins } from "../lib/frames.js";
import { frameBoundary } from "../lib/geometry.js";
import { plainRect, viewState } from "./dom.js";

// The message a child frame sends its parent so the parent can tell which <iframe> it is.
const FRAME_HELLO = "anti-aging-frame-hello";

export class FrameLinks {
  constructor(doc) {
    this.doc = doc;
    this.win = doc.defaultView;
    this.key = `f${Math.random().toString(36).slice(2)}`;
    this.childFrames = new Map(); // key a child frame sent -> its <iframe>
    this.onMessage = (event) => {
      if (event.data?.type !== FRAME_HELLO || typeof event.data.key !== "string") return;
      const frame = [...this.doc.querySelectorAll("iframe, frame")].find((el) => el.contentWindow === event.source);
      if (frame) this.childFrames.set(event.data.key, frame);
    };
    this.win.addEventListener("message", this.onMessage);
  }

  /** Tell the parent frame which <iframe> this document is in; returns the key it will know us by. */
  helloToParent() {
    if (this.win.parent !== this.win) this.win.parent.postMessage({ type: FRAME_HELLO, key: this.key }, "*");
    return this.key;
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
    return { key: this.key, boundaries, silent: this.silentFrameOrigins(), view: viewState(this.win) };
  }

  /** Origins of child frames whose page agent never said hello: frames Chrome did not let us script. */
  silentFrameOrigins() {
    const heard = new Set(this.childFrames.values());
    const sources = [...this.doc.querySelectorAll("iframe, frame")].filter((frame) => !heard.has(frame) && frame.src).map((frame) => frame.src);
    return frameOrigins(sources, this.doc.baseURI);
  }
}
