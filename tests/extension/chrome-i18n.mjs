// A stand-in for chrome.i18n under node --test, answering from the extension's own _locales the
// way Chrome and Firefox do, so the modules' messages are tested in every locale.
import { readdirSync, readFileSync } from "node:fs";

export const LOCALES_DIR = new URL("../../extension/_locales/", import.meta.url);
export const LOCALES = readdirSync(LOCALES_DIR).sort();

export function readMessages(locale) {
  return JSON.parse(readFileSync(new URL(`${locale}/messages.json`, LOCALES_DIR), "utf8"));
}

/**
 * chrome.i18n.getMessage over one locale: $name$ becomes its placeholder's content (names are
 * case-insensitive), then $1…$9 the substitutions and $$ a dollar sign; an unknown key gives "".
 */
export function getMessageFrom(messages) {
  return (key, substitutions = []) => {
    const entry = messages[key];
    if (!entry) return "";
    const values = [].concat(substitutions);
    const placeholders = Object.fromEntries(Object.entries(entry.placeholders ?? {}).map(([name, value]) => [name.toLowerCase(), value.content]));
    return entry.message
      .replace(/\$([a-z0-9_@]+)\$/gi, (whole, name) => placeholders[name.toLowerCase()] ?? whole)
      .replace(/\$(\$|[1-9])/g, (_, what) => (what === "$" ? "$" : String(values[Number(what) - 1] ?? "")));
  };
}

/** Answer chrome.i18n from `locale`'s messages; returns its getMessage. */
export function useLocale(locale) {
  const getMessage = getMessageFrom(readMessages(locale));
  globalThis.chrome = { ...globalThis.chrome, i18n: { getMessage, getUILanguage: () => locale } };
  return getMessage;
}
