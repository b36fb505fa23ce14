// The user's language: every locale has every message, with the same placeholders; every key the
// extension asks for exists; and no UI text bypasses the messages.
//
// "Bypasses" is checked by two rules, on the extension's own pages and scripts (the worker's, the
// pages' and the page agent's in content/, which runs in the isolated world where chrome.i18n is):
// - the popup's and options' HTML holds no words: every text node with a letter is either empty
//   markup around data-i18n elements or inside <code>/<kbd> (commands and keys are not language);
//   title, alt and aria-label come from data-i18n-*, and a placeholder may only be an example input
//   (a URL or a host: it has a dot, a colon or a slash).
// - the scripts hold no prose: a string or template literal with two words of letters in a row is
//   UI text, unless it is a diagnostic for developers (new SyntaxError/TypeError/RangeError); and
//   the sinks that put text in front of the user (textContent/title/placeholder assignments,
//   title:, showMessage, notify, setTitle, append, new …Error) never take a literal with a letter.
// Literals are found by a small tokenizer (strings, templates with nested ${}, regular
// expressions, comments), not by grepping lines, so URLs in strings and quotes in regexes do not fool it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { LOCALES, getMessageFrom, readMessages, useLocale } from "./chrome-i18n.mjs";
import { LOCALIZED_ATTRIBUTES, countMessage, fillWithMessage, localizePage, message, messageParts } from "../../extension/lib/i18n.js";

const EXTENSION = new URL("../../extension/", import.meta.url);
const read = (path) => readFileSync(new URL(path, EXTENSION), "utf8");
const manifest = JSON.parse(read("manifest.json"));
const PAGES = ["popup/popup.html", "options/options.html", "document/document.html"];
const scriptsIn = (folder) => readdirSync(new URL(`${folder}/`, EXTENSION)).filter((name) => name.endsWith(".js")).map((name) => `${folder}/${name}`);
const SCRIPTS = ["service-worker.js", "popup/popup.js", "options/options.js", ...scriptsIn("document"), ...scriptsIn("lib"), ...scriptsIn("content")];
const KEY = /^[a-z][a-z0-9_]*$/;
const LETTER = /\p{L}/u;
const PROSE = /\p{L}{2,}[\s\u00a0]+\p{L}{2,}/u;
// Shell commands the messages quote: the same in every language.
const NOT_LANGUAGE = new Set(["make run", "python -m server serve"]);
const messagesOf = Object.fromEntries(LOCALES.map((locale) => [locale, readMessages(locale)]));
const english = messagesOf[manifest.default_locale];

// ----- a small JavaScript tokenizer: enough to tell strings, templates and regexes from code -----

const REGEX_AFTER = new Set(["(", ",", "=", ":", "[", "!", "&", "|", "?", "{", "}", ";", "+", "-", "*", "%", "<", ">", "~", "^", "return", "typeof", "case", "of", "in", "=>"]);

/** [{type: "string" | "template" | "regex" | "word" | "punct", text, line}] */
function tokenize(source) {
  const tokens = [];
  let i = 0;
  let line = 1;
  const push = (type, text) => tokens.push({ type, text, line });
  const previous = () => tokens[tokens.length - 1];
  while (i < source.length) {
    const c = source[i];
    if (c === "\n") line += 1;
    if (/\s/.test(c)) { i += 1; continue; }
    if (source.startsWith("//", i)) { i = source.indexOf("\n", i); if (i < 0) break; continue; }
    if (source.startsWith("/*", i)) {
      const end = source.indexOf("*/", i + 2);
      line += (source.slice(i, end).match(/\n/g) ?? []).length;
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      push("string", JSON.parse(c === '"' ? source.slice(i, j + 1) : `"${source.slice(i + 1, j).replace(/\\'/g, "'").replace(/"/g, '\\"')}"`));
      i = j + 1;
      continue;
    }
    if (c === "`") {
      const { end, parts } = readTemplate(source, i);
      // The template first, then the code inside its ${}: what precedes the template stays next to it.
      push("template", parts.text.join("\u0000"));
      for (const expression of parts.expressions) tokens.push(...tokenize(expression).map((token) => ({ ...token, line: token.line + line - 1 })));
      line += (source.slice(i, end).match(/\n/g) ?? []).length;
      i = end;
      continue;
    }
    if (c === "/" && (!previous() || REGEX_AFTER.has(previous().text))) {
      let j = i + 1;
      let inClass = false;
      while (inClass || source[j] !== "/") {
        if (source[j] === "\\") j += 1;
        else if (source[j] === "[") inClass = true;
        else if (source[j] === "]") inClass = false;
        j += 1;
      }
      j += 1;
      while (/[a-z]/.test(source[j])) j += 1;
      push("regex", source.slice(i, j));
      i = j;
      continue;
    }
    const word = /^[\w$]+/.exec(source.slice(i, i + 64));
    if (word) { push("word", word[0]); i += word[0].length; continue; }
    const arrow = source.startsWith("=>", i) ? "=>" : c;
    push("punct", arrow);
    i += arrow.length;
  }
  return tokens;
}

/** A template literal from its opening backtick: its static texts, its ${} expressions, and where it ends. */
function readTemplate(source, start) {
  const text = [];
  const expressions = [];
  let current = "";
  let i = start + 1;
  while (source[i] !== "`") {
    if (source[i] === "\\") { current += source.slice(i, i + 2); i += 2; continue; }
    if (source.startsWith("${", i)) {
      text.push(current);
      current = "";
      let depth = 1;
      let j = i + 2;
      while (depth) {
        if (source[j] === "`") { j = readTemplate(source, j).end; continue; }
        if (source[j] === '"' || source[j] === "'") { const quote = source[j]; j += 1; while (source[j] !== quote) j += source[j] === "\\" ? 2 : 1; }
        else if (source[j] === "{") depth += 1;
        else if (source[j] === "}") depth -= 1;
        j += 1;
      }
      expressions.push(source.slice(i + 2, j - 1));
      i = j;
      continue;
    }
    current += source[i];
    i += 1;
  }
  text.push(current);
  return { end: i + 1, parts: { text, expressions } };
}

const isLiteral = (token) => token && (token.type === "string" || token.type === "template");

// ----- a small HTML reader: elements, attributes and text nodes of the extension's own pages -----

const VOID = new Set(["meta", "link", "input", "br", "img", "hr"]);

/** The page as a tree of {tag, attributes, children} and {text}; comments dropped. */
function parseHtml(source) {
  const root = { tag: "#root", attributes: {}, children: [] };
  const stack = [root];
  const pattern = /<!--[\s\S]*?-->|<!doctype[^>]*>|<\/([a-z0-9]+)\s*>|<([a-z0-9]+)((?:\s+[a-z0-9-]+(?:="[^"]*")?)*)\s*\/?>|[^<]+/gi;
  for (const [whole, closing, opening, attributeText] of source.matchAll(pattern)) {
    const parent = stack[stack.length - 1];
    if (whole.startsWith("<!")) continue;
    if (closing) {
      assert.equal(parent.tag, closing.toLowerCase(), `</${closing}> closes <${parent.tag}>`);
      stack.pop();
    } else if (opening) {
      const attributes = Object.fromEntries([...attributeText.matchAll(/([a-z0-9-]+)(?:="([^"]*)")?/gi)].map(([, name, value]) => [name.toLowerCase(), value ?? ""]));
      const element = { tag: opening.toLowerCase(), attributes, children: [] };
      parent.children.push(element);
      if (!VOID.has(element.tag)) stack.push(element);
    } else {
      parent.children.push({ text: whole });
    }
  }
  assert.equal(stack.length, 1, "every element is closed");
  return root;
}

function* walk(node, ancestors = []) {
  yield { node, ancestors };
  for (const child of node.children ?? []) yield* walk(child, [...ancestors, node]);
}

// ----- the keys the extension asks for -----

/** The arguments of the call whose "(" is at tokens[open], each a list of tokens. */
function callArguments(tokens, open) {
  const args = [[]];
  let depth = 0;
  for (let i = open + 1; i < tokens.length; i += 1) {
    const text = tokens[i].type === "punct" ? tokens[i].text : null;
    if (text === ")" && depth === 0) break;
    if ("([{".includes(text)) depth += 1;
    if (")]}".includes(text)) depth -= 1;
    if (text === "," && depth === 0) args.push([]);
    else args[args.length - 1].push(tokens[i]);
  }
  return args;
}

// Which argument of each message-taking function is the key.
const KEY_ARGUMENT = { message: 0, countMessage: 0, getMessage: 0, fillWithMessage: 2 };

function keysUsedInScripts() {
  const used = new Map(); // key -> where
  const dynamic = [];
  for (const path of SCRIPTS) {
    const tokens = tokenize(read(path));
    tokens.forEach((token, i) => {
      const isCall = token.type === "word" && Object.hasOwn(KEY_ARGUMENT, token.text) && tokens[i + 1]?.text === "(" && tokens[i - 1]?.text !== "function";
      // error.message is a property; chrome.i18n.getMessage( is the browser's own call.
      if (!isCall || (tokens[i - 1]?.text === "." && token.text !== "getMessage")) return;
      const argument = callArguments(tokens, i + 1)[KEY_ARGUMENT[token.text]] ?? [];
      const where = `${path}:${token.line}`;
      if (argument.length === 1 && argument[0].type === "string") {
        const key = argument[0].text;
        for (const usedKey of token.text === "countMessage" ? [`${key}_one`, `${key}_other`] : [key]) used.set(usedKey, where);
      } else if (path !== "lib/i18n.js" && token.text !== "getMessage") {
        // lib/i18n.js passes on keys from data-i18n (checked from the pages) and builds count keys;
        // getMessage with a variable key is a wrapper such as popup.js's.
        dynamic.push(where);
      }
    });
  }
  return { used, dynamic };
}

function keysUsedInPages() {
  const used = new Map();
  for (const path of PAGES) {
    for (const { node } of walk(parseHtml(read(path)))) {
      for (const [name, value] of Object.entries(node.attributes ?? {})) {
        if (name === "data-i18n" || name.startsWith("data-i18n-")) used.set(value, path);
      }
    }
  }
  return used;
}

function keysUsedInManifest() {
  return new Map([...JSON.stringify(manifest).matchAll(/__MSG_([A-Za-z0-9_@]+)__/g)].map(([, key]) => [key, "manifest.json"]));
}

const allUsedKeys = () => new Map([...keysUsedInScripts().used, ...keysUsedInPages(), ...keysUsedInManifest()]);

const placeholderNames = (entry) => Object.keys(entry.placeholders ?? {}).map((name) => name.toLowerCase()).sort();
const placeholdersInText = (entry) => [...new Set([...entry.message.matchAll(/\$([a-z0-9_@]+)\$/gi)].map(([, name]) => name.toLowerCase()))].sort();

// ----- the locales -----

test("the default locale is English, and Korean is there", () => {
  assert.equal(manifest.default_locale, "en");
  assert.ok(LOCALES.includes("en") && LOCALES.includes("ko"), LOCALES.join(", "));
});

test("every locale has exactly the default locale's keys, snake_case, each a non-empty message", () => {
  const expected = Object.keys(english).sort();
  for (const key of expected) assert.match(key, KEY);
  for (const locale of LOCALES) {
    const keys = Object.keys(messagesOf[locale]).sort();
    assert.deepEqual(keys.filter((key) => !expected.includes(key)), [], `${locale} has keys English lacks`);
    assert.deepEqual(expected.filter((key) => !keys.includes(key)), [], `${locale} lacks keys`);
    for (const [key, entry] of Object.entries(messagesOf[locale])) {
      assert.equal(typeof entry.message, "string", `${locale} ${key}`);
      assert.ok(entry.message.trim().length > 0, `${locale} ${key} is empty`);
    }
  }
});

test("placeholders are the same in every locale, each one used, none undefined", () => {
  for (const locale of LOCALES) {
    for (const [key, entry] of Object.entries(messagesOf[locale])) {
      const where = `${locale} ${key}`;
      assert.deepEqual(placeholderNames(entry), placeholderNames(english[key]), `${where}: placeholder names differ from English`);
      assert.deepEqual(placeholdersInText(entry), placeholderNames(entry), `${where}: a placeholder is unused or undefined`);
      for (const [name, { content }] of Object.entries(entry.placeholders ?? {})) {
        assert.equal(content, english[key].placeholders[name].content, `${where}: $${name}$ takes another substitution than in English`);
      }
      // A lone $ that is neither $name$ nor $$ is swallowed by the browser.
      assert.doesNotMatch(entry.message.replace(/\$([a-z0-9_@]+)\$|\$\$/gi, ""), /\$/, `${where}: a stray $`);
    }
  }
});

test("count messages come in _one/_other pairs", () => {
  for (const key of Object.keys(english)) {
    if (key.endsWith("_one")) assert.ok(`${key.slice(0, -4)}_other` in english, key);
    if (key.endsWith("_other")) assert.ok(`${key.slice(0, -6)}_one` in english, key);
  }
});

test("each locale's manifest strings fit the stores' limits", () => {
  for (const locale of LOCALES) {
    const getMessage = getMessageFrom(messagesOf[locale]);
    assert.ok(getMessage("extension_name").length <= 75, `${locale} name`);
    assert.ok(getMessage("extension_short_name").length <= 12, `${locale} short_name`);
    assert.ok(getMessage("extension_description").length <= 132, `${locale} description`);
  }
});

test("Korean is written in Korean", () => {
  const korean = messagesOf.ko;
  const hangul = /\p{Script=Hangul}/u;
  // Brand names, symbols and templates of other messages are the same in every language.
  const universal = new Set(["extension_short_name", "action_title", "language_tag", "list_separator", "action_title_error",
    "popup_region_sigma", "popup_element_method", "popup_shortcut", "panel_summary", "read_summary"]);
  for (const [key, entry] of Object.entries(korean)) {
    if (!universal.has(key)) assert.match(entry.message, hangul, `ko ${key}: ${entry.message}`);
  }
  assert.equal(korean.language_tag.message, "ko");
});

// ----- the extension's use of them -----

test("every key the extension asks for exists, and every key is asked for", () => {
  const used = allUsedKeys();
  for (const [key, where] of used) assert.ok(key in english, `${where} asks for "${key}", which _locales/en lacks`);
  const unused = Object.keys(english).filter((key) => !used.has(key));
  assert.deepEqual(unused, [], "keys no code, page or manifest uses");
});

test("message keys in scripts are literals, so the check above sees them all", () => {
  assert.deepEqual(keysUsedInScripts().dynamic, []);
});

test("the manifest's user-visible strings are messages", () => {
  const visible = [manifest.name, manifest.short_name, manifest.description, manifest.action.default_title,
    ...Object.values(manifest.commands).map((command) => command.description)];
  for (const value of visible) assert.match(value, /^__MSG_[a-z0-9_]+__$/, value);
});

test("the pages' HTML holds no words: text comes from data-i18n", () => {
  const problems = [];
  for (const path of PAGES) {
    for (const { node, ancestors } of walk(parseHtml(read(path)))) {
      if ("text" in node) {
        const literal = ancestors.some((ancestor) => ancestor.tag === "code" || ancestor.tag === "kbd");
        if (LETTER.test(node.text) && !literal) problems.push(`${path}: text "${node.text.trim()}"`);
        continue;
      }
      for (const [name, value] of Object.entries(node.attributes)) {
        if (["title", "alt", "aria-label"].includes(name)) problems.push(`${path}: <${node.tag} ${name}="${value}">: use data-i18n-${name}`);
        if (name === "placeholder" && LETTER.test(value) && !/[.:/]/.test(value)) problems.push(`${path}: <${node.tag} placeholder="${value}">: use data-i18n-placeholder`);
        if (name.startsWith("data-i18n-")) assert.ok(LOCALIZED_ATTRIBUTES.includes(name.slice("data-i18n-".length)), `${path}: ${name} is filled by nobody`);
      }
      if (node.attributes["data-i18n"]) {
        const key = node.attributes["data-i18n"];
        const slots = node.children.filter((child) => child.tag).length;
        assert.equal(placeholderNames(english[key] ?? {}).length, slots, `${path}: <${node.tag} data-i18n="${key}"> has ${slots} child elements for its message's placeholders`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

const SINK_CALLS = new Set(["showMessage", "setTitle", "append", "prepend", "replaceChildren", "createTextNode", "alert", "confirm", "notify",
  "Error", "ServerError", "PageError"]);
const SINK_PROPERTIES = new Set(["textContent", "innerText", "title", "placeholder", "alt"]);
const DIAGNOSTICS = new Set(["SyntaxError", "TypeError", "RangeError"]);
// The page agent's style sheets (rules in braces) and class lists (class: "panel hidden") are not language.
const STYLE_SHEET = /[^{}]+\{[^{}]*:[^{}]*;?[^{}]*\}/;
const isClassList = (tokens, i) => tokens[i - 1]?.text === ":" && tokens[i - 2]?.text === "class";

/** Where one script's source shows UI text of its own: ["path:line: what"]. */
function uiTextProblems(path, source) {
  const problems = [];
  const tokens = tokenize(source);
  const withLetters = (candidate) => isLiteral(candidate) && LETTER.test(candidate.text.replace(/\u0000/g, ""));
  tokens.forEach((token, i) => {
    const where = `${path}:${token.line}`;
    if (isLiteral(token) && PROSE.test(token.text) && !NOT_LANGUAGE.has(token.text) && !STYLE_SHEET.test(token.text) && !isClassList(tokens, i)) {
      const diagnostic = tokens[i - 1]?.text === "(" && DIAGNOSTICS.has(tokens[i - 2]?.text) && tokens[i - 3]?.text === "new";
      if (!diagnostic) problems.push(`${where}: prose ${JSON.stringify(token.text)}`);
    }
    const next = tokens[i + 1];
    const after = tokens[i + 2];
    if (token.type === "word" && SINK_CALLS.has(token.text) && next?.text === "(" && withLetters(after)) problems.push(`${where}: ${token.text}(${JSON.stringify(after.text)})`);
    if (token.type === "word" && SINK_PROPERTIES.has(token.text) && (next?.text === "=" || next?.text === ":") && withLetters(after)) {
      problems.push(`${where}: ${token.text} ${next.text} ${JSON.stringify(after.text)}`);
    }
    if (token.type === "string" && token.text === "notify" && next?.text === "," && withLetters(after)) problems.push(`${where}: notify ${JSON.stringify(after.text)}`);
    // content/dom.js build(doc, tag, attributes, ...children): a child is text the page shows.
    if (token.type === "word" && token.text === "build" && next?.text === "(" && tokens[i - 1]?.text !== "function") {
      for (const child of callArguments(tokens, i + 1).slice(3)) {
        if (child.length === 1 && withLetters(child[0])) problems.push(`${where}: build(…, ${JSON.stringify(child[0].text)})`);
      }
    }
  });
  return problems;
}

test("the scripts hold no UI text of their own", () => {
  assert.ok(SCRIPTS.includes("content/panel.js") && SCRIPTS.includes("content/text-overlay.js"), "the page agent's scripts are checked");
  assert.deepEqual(SCRIPTS.flatMap((path) => uiTextProblems(path, read(path))), []);
});

test("the UI-text check sees what it should, and only that", () => {
  const kinds = (source) => tokenize(source).map((token) => `${token.type}:${token.text}`);
  assert.deepEqual(kinds('a = "http://x" // no "comment"'), ["word:a", "punct:=", "string:http://x"]);
  assert.deepEqual(kinds("if (/'a' or 'b'/.test(m)) f('it\\'s')"), ["word:if", "punct:(", "regex:/'a' or 'b'/", "punct:.", "word:test", "punct:(",
    "word:m", "punct:)", "punct:)", "word:f", "punct:(", "string:it's", "punct:)"]);
  assert.deepEqual(kinds("x = `a ${b ? `c d` : \"e f\"} g`"), ["word:x", "punct:=", "template:a \u0000 g", "word:b", "punct:?", "template:c d", "punct::", "string:e f"]);
  assert.deepEqual(kinds("n = a / b / c"), ["word:n", "punct:=", "word:a", "punct:/", "word:b", "punct:/", "word:c"]);
  const problems = (source) => uiTextProblems("x.js", source).map((problem) => problem.replace(/^x\.js:\d+: /, ""));
  assert.deepEqual(problems('const CSS = `.panel { font: 13px system-ui, sans-serif; text-decoration: underline dotted; }`;'), []);
  assert.deepEqual(problems('build(doc, "div", { class: "panel hidden", title: message("k") }, message("k"), "\\n")'), []);
  assert.deepEqual(problems('build(doc, "span", { class: "verdict" }, "Cannot")'), ['build(…, "Cannot")']);
  assert.deepEqual(problems('build(doc, "button", { title: "Copy" }, label)'), ['title : "Copy"']);
  assert.deepEqual(problems('this.panel.notify("Copied"); x = "class hidden"'), ['notify("Copied")', 'prose "class hidden"']);
  const page = parseHtml('<p data-i18n="k"><code>make run</code></p><!-- a "comment" --><input placeholder="auto">');
  assert.deepEqual([...walk(page)].filter(({ node }) => "text" in node).map(({ node }) => node.text), ["make run"]);
});

// ----- the helpers the pages use -----

/** A stand-in for the few DOM methods lib/i18n.js uses. */
function fakeElement(tag, attributes = {}, children = []) {
  const element = {
    tag, attributes, childNodes: children,
    get children() { return this.childNodes.filter((child) => typeof child === "object"); },
    getAttribute: (name) => attributes[name] ?? null,
    setAttribute: (name, value) => { attributes[name] = value; },
    replaceChildren(...nodes) { this.childNodes = nodes; },
    get text() { return this.childNodes.map((child) => (typeof child === "string" ? child : child.text)).join(""); },
  };
  return element;
}

function fakeDocument(elements) {
  const matches = (element, selector) => element.getAttribute(/^\[(.+)\]$/.exec(selector)[1]) !== null;
  return { documentElement: { lang: "" }, querySelectorAll: (selector) => elements.filter((element) => matches(element, selector)) };
}

test("messageParts splits a translation around its element slots, in the translation's order", () => {
  const getMessage = getMessageFrom({ both: { message: "$B$ then $A$.", placeholders: { a: { content: "$1" }, b: { content: "$2" } } },
    plain: { message: "No slots" } });
  assert.deepEqual(messageParts(getMessage, "both", 2), [1, " then ", 0, "."]);
  assert.deepEqual(messageParts(getMessage, "plain", 0), ["No slots"]);
});

test("localizePage fills text, keeps child elements where the message puts them, sets attributes and lang", () => {
  const getMessage = useLocale("ko");
  const link = fakeElement("a", { "data-i18n": "popup_change_shortcuts" }, [""]);
  const keyboard = fakeElement("span", { "data-i18n": "popup_keyboard" }, [link]);
  const input = fakeElement("input", { "data-i18n-placeholder": "popup_region_sigma_auto" });
  const document = fakeDocument([keyboard, link, input]);
  localizePage(document, getMessage);
  assert.equal(document.documentElement.lang, "ko");
  assert.equal(keyboard.text, "단축키(변경):");
  assert.equal(keyboard.children[0], link, "the link is the same element, moved into the message");
  assert.equal(input.attributes.placeholder, "자동");
  const item = fakeElement("li");
  fillWithMessage(item, getMessage, "popup_shortcut", [fakeElement("span", {}, ["A"]), fakeElement("kbd", {}, ["Alt+Shift+S"])]);
  assert.equal(item.text, "A: Alt+Shift+S");
});

test("countMessage picks the form for the count; messages fill their placeholders in every locale", () => {
  for (const locale of LOCALES) {
    useLocale(locale);
    for (const count of [0, 1, 2]) assert.match(countMessage("popup_found", count), new RegExp(`\\b${count}\\b|${count}`), `${locale} ${count}`);
    assert.ok(message("error_server_not_running", "http://127.0.0.1:8765", "make run", "python -m server serve").includes("python -m server serve"), locale);
  }
  useLocale("en");
  assert.equal(countMessage("popup_found", 1), "1 blurred element found on this page.");
  assert.equal(countMessage("popup_found", 2), "2 blurred elements found on this page.");
});
