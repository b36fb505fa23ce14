"""The extension speaks the browser's language: Debian's Chromium started in each locale of
extension/_locales (`--lang`, plus LANGUAGE, which Chromium on Linux reads too) shows the popup, the
options page and the extension's name in that locale's words.

No sharpening server runs: the popup's server line must then be the localized "not running"
message, which also checks that messages made in the service worker arrive translated.
Chromium picks a UI language only when its translation is installed (Debian's chromium-l10n);
without it a locale is skipped, as the browser would silently fall back to English.
"""
import json
import os
import re
import shutil
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "extension"
LOCALES = sorted(path.name for path in (EXTENSION / "_locales").iterdir())
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_LOCALES = Path("/usr/lib/chromium/locales")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]


def messages(locale):
    return json.loads((EXTENSION / "_locales" / locale / "messages.json").read_text())


def plain(locale, key):
    """A message without placeholders, as the browser shows it."""
    entry = messages(locale)[key]
    assert "placeholders" not in entry, key
    return entry["message"]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """The extension as shipped (no test permissions: nothing here captures a page)."""
    target = tmp_path_factory.mktemp("build") / "extension"
    shutil.copytree(EXTENSION, target)
    return target


@pytest.mark.parametrize("locale", LOCALES)
def test_the_popup_and_options_speak_the_browsers_language(playwright, build, tmp_path, locale):
    from playwright.sync_api import expect

    tag = locale.replace("_", "-")  # Chromium's name for zh_CN is zh-CN
    if not (CHROMIUM_LOCALES / f"{tag}.pak").exists() and locale != "en":
        pytest.skip(f"Chromium has no {tag} translation installed (Debian package chromium-l10n)")
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True, locale=tag,
        env={**os.environ, "LANGUAGE": tag.replace("-", "_"), "LANG": f"{tag.replace('-', '_')}.UTF-8"},
        args=["--headless=new", f"--disable-extensions-except={build}", f"--load-extension={build}", "--no-sandbox",
              f"--lang={tag}", "--disable-background-networking", "--disable-component-update", "--no-first-run"])
    try:
        worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker", timeout=20_000)
        assert worker.evaluate("chrome.i18n.getUILanguage()").replace("_", "-").lower().startswith(tag.split("-")[0].lower())
        worker.evaluate("(url) => chrome.storage.sync.set({ serverUrl: url })", f"http://127.0.0.1:{closed_port()}")
        assert worker.evaluate("chrome.management.getSelf().then((self) => self.name)") == plain(locale, "extension_name")
        origin = worker.url.split("/service-worker.js")[0]

        popup = context.new_page()
        popup.goto(f"{origin}/popup/popup.html")
        expect(popup.locator("html")).to_have_attribute("lang", plain(locale, "language_tag"))
        expect(popup.locator("#sharpen-all")).to_have_text(plain(locale, "popup_sharpen_all"))
        expect(popup.locator("#show-page-text")).to_have_text(plain(locale, "menu_show_page_text"))
        expect(popup.locator("#show-page-text")).to_have_attribute("title", plain(locale, "popup_show_page_text_tip"))
        expect(popup.locator("#region-sigma")).to_have_attribute("placeholder", plain(locale, "popup_region_sigma_auto"))
        expect(popup.locator("#options")).to_have_text(plain(locale, "popup_options"))
        # The server line comes from the service worker: "not running", in this language, with the commands.
        expect(popup.locator("#server")).to_have_attribute("data-state", "down")
        server = popup.locator("#server").text_content()
        assert "make run" in server and "python -m server serve" in server
        before_url = re.split(r"\$URL\$", messages(locale)["error_server_not_running"]["message"])[0]
        assert server.startswith(before_url), (server, before_url)
        # Every shortcut is listed under its localized description.
        shortcuts = popup.locator("#shortcuts li").all_text_contents()
        assert any(plain(locale, "command_sharpen_all") in line for line in shortcuts), shortcuts

        options = context.new_page()
        options.goto(f"{origin}/options/options.html")
        expect(options.locator("h1")).to_have_text(plain(locale, "options_title"))
        expect(options.locator("button[type=submit]")).to_have_text(plain(locale, "options_save"))
        expect(options.locator(".hint code").first).to_have_text("make run")
        if locale == "ko":
            assert re.search(r"[\uac00-\ud7a3]", popup.locator("body").inner_text())
            expect(popup.locator("#sharpen-all")).to_have_text("이 페이지의 흐린 글자 모두 선명하게")
    finally:
        context.close()
