// The user's language: every string the extension shows comes from _locales/<locale>/messages.json
// through chrome.i18n.getMessage. Messages are looked up when they are shown, never at import, so
// the pure modules run under node --test with a stand-in chrome.i18n (tests/extension/chrome-i18n.mjs).

// A private-use character brackets each child element's slot in a message; no translation contains it.
const SLOT_OPEN = "\uE000";
const SLOT_CLOSE = "\uE001";
const SLOT_PATTERN = new RegExp(`${SLOT_OPEN}(\\d)${SLOT_CLOSE}`);

// The attributes a page may fill from messages: data-i18n-title="key" sets title, and so on.
export const LOCALIZED_ATTRIBUTES = ["title", "placeholder", "aria-label"];

/** The message `key` in the user's language, with its placeholders filled (numbers are fine). */
export function message(key, ...substitutions) {
  return globalThis.chrome.i18n.getMessage(key, substitutions.map(String));
}

/**
 * The message for `count` things, count being $1: `<key>_one` when it is 1, `<key>_other` otherwise.
 * chrome.i18n has no plural rules; English needs two forms and Korean, Japanese and Chinese one, so
 * every locale has both keys (the same text twice where the language does not inflect).
 */
export function countMessage(key, count, ...substitutions) {
  return message(`${key}_${count === 1 ? "one" : "other"}`, count, ...substitutions);
}

/** Parts already in words, as one list in the user's language ("a / b" in Korean, "a; b" in English). */
export function listOf(parts) {
  return parts.join(message("list_separator"));
}

/**
 * A message whose placeholders $1, $2… stand for an element's child elements (a link, a <code>),
 * split around them: text pieces and the children's indexes, in the translation's order.
 */
export function messageParts(getMessage, key, slotCount) {
  const slots = Array.from({ length: slotCount }, (_, i) => `${SLOT_OPEN}${i}${SLOT_CLOSE}`);
  const pieces = getMessage(key, slots).split(SLOT_PATTERN);
  // split() with a capture group alternates text and captured slot numbers.
  return pieces.map((piece, i) => (i % 2 ? Number(piece) : piece)).filter((piece) => piece !== "");
}

/** Replace an element's content with a message whose $1, $2… are `slots`, elements (its own children by default). */
export function fillWithMessage(element, getMessage, key, slots = [...element.children]) {
  const parts = messageParts(getMessage, key, slots.length);
  element.replaceChildren(...parts.map((part) => (typeof part === "number" ? slots[part] : part)));
}

/**
 * Fill a page from its data-i18n attributes: data-i18n="key" replaces the element's text (its
 * child elements stay, placed where the message's placeholders say), data-i18n-title="key" and
 * the like set that attribute, and <html lang> becomes the messages' language.
 */
export function localizePage(document, getMessage) {
  document.documentElement.lang = getMessage("language_tag");
  for (const element of document.querySelectorAll("[data-i18n]")) fillWithMessage(element, getMessage, element.getAttribute("data-i18n"));
  for (const attribute of LOCALIZED_ATTRIBUTES) {
    for (const element of document.querySelectorAll(`[data-i18n-${attribute}]`)) {
      element.setAttribute(attribute, getMessage(element.getAttribute(`data-i18n-${attribute}`)));
    }
  }
}
