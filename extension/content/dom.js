// Small DOM helpers shared by the page agent's modules. They keep no state.

// Chrome pauses animation frames in frames scrolled out of view: never wait for one longer than this.
const FRAME_WAIT_MS = 100;

export function nextFrame(win) {
  return new Promise((resolve) => {
    win.requestAnimationFrame(() => resolve());
    win.setTimeout(resolve, FRAME_WAIT_MS);
  });
}

export function plainRect(rect) {
  return { x: rect.left, y: rect.top, width: rect.width, height: rect.height };
}

/** Every element under root, including those inside open shadow roots (web components). */
export function* allElements(root) {
  for (const element of root.querySelectorAll("*")) {
    yield element;
    if (element.shadowRoot) yield* allElements(element.shadowRoot);
  }
}

/** The innermost hovered element, looking into open shadow roots, which :hover does not cross. */
export function innermostHovered(root, skip) {
  const hovered = [...root.querySelectorAll(":hover")].filter((el) => !skip(el));
  const last = hovered.at(-1) ?? null;
  return last?.shadowRoot ? innermostHovered(last.shadowRoot, skip) ?? last : last;
}

/** An element's parent, stepping out of a shadow root to its host. */
export function parentOf(element) {
  return element.parentElement ?? (element.parentNode instanceof ShadowRoot ? element.parentNode.host : null);
}

/** What the popup lists an element as: its text, else its alt text, shortened. */
export function labelOf(element) {
  return (element.innerText ?? element.getAttribute?.("alt") ?? "").trim().slice(0, 40);
}

export function isTopFrame(win) {
  return win === win.top;
}

/** The viewport and scroll position the service worker plans captures with (CSS px). */
export function viewState(win) {
  const doc = win.document;
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

/** An element with these attributes and children (strings become text), built without parsing HTML. */
export function build(doc, tag, attributes = {}, ...children) {
  const element = doc.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

/** A <style> element for a shadow root. */
export function styleSheet(doc, css) {
  return build(doc, "style", {}, css);
}
