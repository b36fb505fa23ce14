// Frames messaging: each child frame's agent posts a random key to its parent; the parent's agent
// finds the <iframe> that message came from (contentWindow === event.source works across
// origins) and reports where that iframe sits, by key, so that the service worker can chain the
// frames up to the top one (lib/frames.js). Each agent also posts its parent what its panel would
// count (its own and its child frames'), so the top frame's panel counts the whole tab.
import { frameOrigins } from "../lib/frames.js";
import { frameBoundary } from "../lib/geometry.js";
import { plainRect, viewState } from "./dom.js";

// The message a child frame sends its parent so the parent can tell which <iframe> it is.
const FRAME_HELLO = "anti-aging-frame-hello";
// The message a child frame sends its parent with its panel's counts, whenever they change.
const FRAME_COUNTS = "anti-aging-frame-counts";

export class FrameLinks {
  /** onChildCounts(counts): a child frame reported new counts (see childCounts). */
  constructor(doc, { onChildCounts = () => {} } = {}) {
    this.doc = doc;
    this.win = doc.defaultView;
    this.key = `f${Math.random().toString(36).slice(2)}`;
    this.childFrames = new Map(); // key a child frame sent -> its <iframe>
    this.countsByFrame = new Map(); // <iframe> -> the counts its document last reported
    this.onMessage = (event) => {
      const type = event.data?.type;
      if (type !== FRAME_HELLO && type !== FRAME_COUNTS) return;
      const frame = [...this.doc.querySelectorAll("iframe, frame")].find((el) => el.contentWindow === event.source);
      if (!frame) return;
      if (type === FRAME_HELLO && typeof event.data.key === "string") this.childFrames.set(event.data.key, frame);
      if (type === FRAME_COUNTS) {
        this.countsByFrame.set(frame, event.data.counts);
        onChildCounts(event.data.counts);
      }
    };
    this.win.addEventListener("message", this.onMessage);
  }

  /** Tell the parent frame which <iframe> this document is in; returns the key it will know us by. */
  helloToParent() {
    if (this.win.parent !== this.win) this.win.parent.postMessage({ type: FRAME_HELLO, key: this.key }, "*");
    return this.key;
  }

  /** Tell the parent frame what this frame's panel counts (its own and its child frames'). */
  reportCounts(counts) {
    if (this.win.parent !== this.win) this.win.parent.postMessage({ type: FRAME_COUNTS, counts }, "*");
  }

  /** The counts the child frames still in this document last reported (lib/frames.js countsWithFrames checks them). */
  childCounts() {
    return [...this.countsByFrame].filter(([frame]) => frame.isConnected).map(([, counts]) => counts);
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
