"""Fixtures the extension's browser tests share (Chromium and Firefox), a plugin that tests/conftest.py loads.

Each is module-scoped, so every module that asks gets its own servers, build and pages, as when each
module imported them. The helpers they are made of are in extension_support, read_page and document_page."""
import json
import os
import shutil
import threading
import zipfile
from functools import partial
from http.server import ThreadingHTTPServer

import pytest
from PIL import Image

from document_page import DelayedFileHandler, document_pages, stub_handler, write_site
from extension_support import (EXTENSION, FIXTURES, OTHER_ORIGIN_PORT, SHIPPED_CHECKPOINT, TCMALLOC, QuietFileHandler, load_pack,
                               free_port, photo_like, serve_files, serve_real, serve_stub, text_card)
from read_page import PAGE, REGION_PAGE, KnownTextReader, StubReadHandler, card, save_x_reader, thumbnail


# ----- Chromium -----

@pytest.fixture(scope="module")
def playwright():
    """One Playwright for the module: its sync API runs one instance at a time."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def test_build(tmp_path_factory):
    """A copy of extension/ whose manifest adds <all_urls> (why: the docstring of tests/test_extension_e2e.py)."""
    build = tmp_path_factory.mktemp("build") / "extension"
    shutil.copytree(EXTENSION, build)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["host_permissions"].append("<all_urls>")
    (build / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return build


# ----- the blurred page and the sharpening server -----

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The fixture page and its pictures, served on loopback; yields the page's URL."""
    root = tmp_path_factory.mktemp("site")
    for page in FIXTURES.glob("*.html"):
        shutil.copy(page, root / page.name)
    (root / "plain.html").write_text("<!doctype html><title>plain</title><p id='plain'>Nothing on this page is blurred.</p>")
    text_card("pictures of words, blurred", blur=2.5).save(root / "blurred-text.png")
    text_card("pictures of words, sharp").save(root / "sharp-text.png")
    # Sharp pixels shown three times their size by CSS: soft on screen. (Four times: the blind model
    # made Tesseract read it worse, CER 0.19 -> 0.67; see docs/extension.md, known limits.)
    text_card("small words scaled up").resize((140, 20), Image.LANCZOS).save(root / "small-text.png")
    photo_like().save(root / "photo.png")
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietFileHandler, directory=str(root))) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    # The second server is another origin: the cross-origin frame of round2.html comes from it.
    OTHER_ORIGIN_PORT["port"] = servers[1].server_port
    yield f"http://127.0.0.1:{servers[0].server_port}/blurred.html"
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="module")
def sharpen_server(tmp_path_factory):
    """The real server (`python -m server serve`) on a free loopback port."""
    checkpoint = SHIPPED_CHECKPOINT
    if not checkpoint.is_file():
        import torch

        from models import build_model, save_checkpoint
        torch.manual_seed(0)
        model = build_model("nafunet", width=8)
        with torch.no_grad():  # visibly not the identity, so overlays cannot pass for the originals
            for parameter in model.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.05)
        checkpoint = tmp_path_factory.mktemp("checkpoint") / "tiny.pt"
        save_checkpoint(checkpoint, model)
    env = dict(os.environ)
    if TCMALLOC.exists():  # as `make run` does: a faster allocator for CPU inference
        env["LD_PRELOAD"] = str(TCMALLOC)
    yield from serve_real(["--checkpoint", str(checkpoint)], tmp_path_factory.mktemp("server") / "server.log", env)


# ----- the read page, its server with the "x" reader, and the stub -----

@pytest.fixture(scope="module")
def read_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("read-site")
    (root / "read.html").write_text(PAGE)
    (root / "region.html").write_text(REGION_PAGE)
    card().save(root / "card.png")
    thumbnail().save(root / "thumb.png")
    yield from serve_files(root, "read.html")


@pytest.fixture(scope="module")
def read_server(tmp_path_factory):
    """The real server (`python -m server serve --reader`) with a tiny sharpening model and the "x" reader."""
    import torch

    from models import build_model, save_checkpoint
    folder = tmp_path_factory.mktemp("read-server")
    torch.manual_seed(0)
    save_checkpoint(folder / "tiny.pt", build_model("nafunet", width=8))
    save_x_reader(folder / "reader.pt")
    yield from serve_real(["--checkpoint", str(folder / "tiny.pt"), "--reader", str(folder / "reader.pt"),
                           "--torch-threads", "1"], folder / "server.log")


@pytest.fixture(scope="module")
def stub_server():
    yield from serve_stub(StubReadHandler)


@pytest.fixture(scope="module")
def known_text_server(engine):
    """The server's app in this process, its reader a KnownTextReader (tests set its texts): the
    real line finder and the real per-line colours and sizes, with words that are right. Yields
    (URL, reader)."""
    from werkzeug.serving import make_server

    from server import create_app
    from server.reading import ReadService

    reader = KnownTextReader([])
    service = ReadService(reader=reader)
    port = free_port()
    server = make_server("127.0.0.1", port, create_app({"ENGINE": engine, "PORT": port, "READER": service}), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}", reader
    server.shutdown()
    service.close()


# ----- the test document: its pages, its site, its recognising stub -----

@pytest.fixture(scope="module")
def document_pages_drawn():
    return document_pages()


@pytest.fixture(scope="module")
def document_site(tmp_path_factory, document_pages_drawn):
    root = tmp_path_factory.mktemp("document-site")
    write_site(root, document_pages_drawn)
    yield from serve_files(root, "document.html", DelayedFileHandler)


@pytest.fixture(scope="module")
def document_stub(document_pages_drawn):
    """stub(delay_s) -> (server URL, the page numbers it was sent, the sizes of the crops): one stub per delay."""
    started = {}

    def get(delay_s=0.0):
        if delay_s not in started:
            log, sizes = [], []
            server = serve_stub(stub_handler(document_pages_drawn, log, delay_s, sizes))
            started[delay_s] = (next(server), log, sizes, server)
        url, log, sizes, _ = started[delay_s]
        log.clear()
        sizes.clear()
        return url, log, sizes

    yield get
    for *_, server in started.values():
        next(server, None)


# ----- Firefox -----

@pytest.fixture(scope="module")
def firefox_build(tmp_path_factory):
    """The Firefox package as `make extension` builds it, unpacked, plus <all_urls>, clipboardRead and the harness."""
    pack = load_pack()
    package = pack.build_firefox(tmp_path_factory.mktemp("package"))
    build = tmp_path_factory.mktemp("firefox") / "extension"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(build)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["host_permissions"].append("<all_urls>")
    # The harness reads what Copy text put on the clipboard (without it Firefox asks the user to paste).
    manifest["permissions"].append("clipboardRead")
    manifest["background"]["scripts"].append("test/open-harness.js")
    (build / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (build / "test").mkdir()
    (build / "test" / "harness.html").write_text("<!doctype html><title>harness</title>")
    (build / "test" / "open-harness.js").write_text(
        'chrome.windows.create({ url: chrome.runtime.getURL("test/harness.html"), focused: false });\n')
    return build
