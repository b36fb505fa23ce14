// The elements (and picked regions) the service worker works on, by id, with what detection saw
// of each. Pure: no DOM, tested with node --test.

const NO_SPREAD = Object.freeze({ left: 0, right: 0, top: 0, bottom: 0 });

export class Targets {
  /** frameKey: this frame's key (frames.js), so that ids are unique across the tab's frames. */
  constructor(frameKey) {
    this.frameKey = frameKey;
    this.ids = new WeakMap();
    this.subjects = new Map(); // id -> element or region anchor
    this.found = new Map(); // id -> {kind, ownText, shadowColor}
    this.nextId = 1;
  }

  /** Register an element (the same one keeps its id) or region with what was found; returns its id. */
  add(subject, found) {
    let id = this.ids.get(subject);
    if (!id) {
      id = `${this.frameKey}-${this.nextId++}`;
      this.ids.set(subject, id);
    }
    this.subjects.set(id, subject);
    this.found.set(id, found);
    return id;
  }

  element(id) {
    return this.subjects.get(id);
  }

  info(id) {
    return this.found.get(id);
  }

  clear() {
    this.subjects.clear();
    this.found.clear();
  }
}

/**
 * A target as the service worker takes it: its blur (sigma in CSS px, null = unknown), where it is
 * (viewport CSS px) and its extent in the page (top, bottom: document CSS px).
 */
export function targetDescriptor({ id, kind, tag, label, rect, scrollY, sigmaCss = null, reachSigmaCss = null, spread = NO_SPREAD, ownText = false, ...more }) {
  return { id, kind, tag, label, sigmaCss, reachSigmaCss, spread, ownText, rect, top: rect.y + scrollY, bottom: rect.y + rect.height + scrollY, ...more };
}
