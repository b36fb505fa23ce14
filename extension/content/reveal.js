// "Show the page's own text": the blur comes off live text in place, with inline !important
// styles (so the layout does not move); the styles they replaced are kept to be put back.
import { revealStyles } from "../lib/filters.js";
import { parentOf } from "./dom.js";

export class Reveal {
  constructor(win, targets) {
    this.win = win;
    this.targets = targets;
    this.revealed = new Map(); // id -> {element, saved: [{element, property, value, priority}]}
  }

  get size() {
    return this.revealed.size;
  }

  /** [{id, element}] of the targets showing (or, with the originals shown, chosen to show) their own text. */
  shown() {
    return [...this.revealed].map(([id, { element }]) => ({ id, element }));
  }

  /** Whether the target's blur is off right now. */
  isApplied(id) {
    return Boolean(this.revealed.get(id)?.saved.length);
  }

  /** Take the blur off a target's live text; false when it has none (or has left the page). */
  apply(id) {
    const element = this.targets.element(id);
    const found = this.targets.info(id);
    if (!element?.isConnected || !found?.ownText) return false;
    // Blurs on ancestors blur this text too; text-shadow and color are inherited from the trick's root.
    const chain = [];
    for (let node = element; node && node.nodeType === Node.ELEMENT_NODE; node = parentOf(node)) chain.push(node);
    const computed = chain.map((node) => {
      const style = this.win.getComputedStyle(node);
      return { filter: style.filter, backdropFilter: style.backdropFilter };
    });
    const saved = revealStyles(computed, found).map(({ depth, property, value }) => {
      const node = chain[depth];
      const before = { element: node, property, value: node.style.getPropertyValue(property), priority: node.style.getPropertyPriority(property) };
      node.style.setProperty(property, value, "important");
      return before;
    });
    this.revealed.set(id, { element, saved });
    return true;
  }

  /** Put the target's blur back, keeping it listed (the toggle may take it off again). */
  undo(id) {
    const entry = this.revealed.get(id);
    if (!entry) return;
    for (const { element, property, value, priority } of [...entry.saved].reverse()) {
      if (value) element.style.setProperty(property, value, priority);
      else element.style.removeProperty(property);
    }
    entry.saved = [];
  }

  /** Put the blur back and forget the target: it is sharpened by the model instead. */
  drop(id) {
    this.undo(id);
    this.revealed.delete(id);
  }

  /** The toggle: the blurs back on (the originals), or off again. */
  showOriginals(showOriginals) {
    for (const id of this.revealed.keys()) {
      if (showOriginals) this.undo(id);
      else if (!this.isApplied(id)) this.apply(id);
    }
  }

  clear() {
    for (const id of this.revealed.keys()) this.undo(id);
    this.revealed.clear();
  }
}
