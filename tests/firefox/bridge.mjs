// Drives Debian's firefox-esr for tests/test_extension_firefox.py over WebDriver BiDi with
// puppeteer-core, which downloads no browser. One JSON command per stdin line, one JSON answer
// per stdout line; the first line out says the browser is ready.
//
// WebDriver BiDi may not navigate to moz-extension:// pages, so the test build's background opens
// test/harness.html in a window of its own; "ext" commands run there, where chrome.* and the
// background page (runtime.getBackgroundPage) are reachable.
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

const config = JSON.parse(process.argv[2]);
const HARNESS_WAIT_MS = 20_000;

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: config.firefox,
  headless: true,
  defaultViewport: null, // the window's own size: captureVisibleTab captures the real window, not an emulated viewport
  args: [`--width=${config.width}`, `--height=${config.height}`],
  extraPrefsFirefox: {
    // A fixed moz-extension:// host, so that the tests know the extension's origin.
    "extensions.webextensions.uuids": JSON.stringify({ [config.id]: config.uuid }),
    "layout.css.devPixelsPerPx": String(config.dpr),
  },
});

async function harness() {
  const deadline = Date.now() + HARNESS_WAIT_MS;
  while (Date.now() < deadline) {
    for (const candidate of await browser.pages()) {
      const url = await candidate.evaluate(() => location.href).catch(() => "");
      if (url.endsWith("/test/harness.html")) return candidate;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the test build's harness page did not open");
}

const page = (await browser.pages())[0];
await browser.installExtension(config.extension);
const ext = await harness();

const call = (target, { fn, arg }) => target.evaluate(`(${fn})(${JSON.stringify(arg ?? null)})`);
const ops = {
  goto: async ({ url }) => {
    await page.goto(url, { waitUntil: "load" });
    return page.evaluate("document.fonts.ready.then(() => true)");
  },
  page: (command) => call(page, command),
  ext: (command) => call(ext, command),
  waitFor: ({ fn, arg, timeout = 10_000 }) => page.waitForFunction(`(${fn})(${JSON.stringify(arg ?? null)})`, { timeout }).then(() => true),
  mouse: async ({ action, x, y, steps = 1 }) => {
    if (action === "move") await page.mouse.move(x, y, { steps });
    else if (action === "down") await page.mouse.down();
    else await page.mouse.up();
    return true;
  },
  key: ({ key }) => page.keyboard.press(key).then(() => true),
  screenshot: () => page.screenshot({ encoding: "base64" }),
  version: () => browser.version(),
};

const write = (answer) => process.stdout.write(`${JSON.stringify(answer)}\n`);
write({ ready: true });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  if (command.op === "close") break;
  try {
    write({ ok: true, value: (await ops[command.op](command)) ?? null });
  } catch (error) {
    write({ ok: false, error: String(error?.stack ?? error) });
  }
}
await browser.close();
