"""Helpers the server's tests share: the app behind Flask's test client, images and PNGs made to
order, the checks of an error and of a reading, a network that waits at a gate, and a runner that
records the commands the CLI would run."""
import io
import struct
import subprocess
import threading
import zlib

import numpy as np
from flask.testing import FlaskClient
from PIL import Image, ImageDraw, ImageFont

from server import create_app

PORT = 8765
BASE_URL = f"http://127.0.0.1:{PORT}"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
VERDICTS = {"readable", "partly", "unreadable"}


class LoopbackClient(FlaskClient):
    """Test client whose requests carry Host: 127.0.0.1:8765 unless a test sets another."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", BASE_URL)
        return super().open(*args, **kwargs)


def make_app(engine, **config):
    app = create_app({"ENGINE": engine, "PORT": PORT, **config})
    app.test_client_class = LoopbackClient
    return app


def png_bytes(image, **save_options):
    out = io.BytesIO()
    image.save(out, "PNG", **save_options)
    return out.getvalue()


def encoded(image, fmt, **save_options):
    out = io.BytesIO()
    image.save(out, fmt, **save_options)
    return out.getvalue()


def random_image(width, height, mode="RGB", seed=0):
    shape = (height, width) if len(mode) == 1 else (height, width, len(mode))
    image = Image.fromarray(np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))
    assert image.mode == mode
    return image


def png_with_header(width, height, idat=b""):
    """A PNG whose IHDR claims width x height, with valid CRCs and the given (possibly empty) data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(idat)) + chunk(b"IEND", b"")


def text_image(text, size=(400, 120), font_px=28, ink="black", paper="white"):
    image = Image.new("RGB", size, paper)
    ImageDraw.Draw(image).text((10, (size[1] - font_px) // 2), text, fill=ink, font=ImageFont.truetype(FONT, font_px))
    return image


def assert_error(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body


def assert_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["status"] == "ok"


def assert_reading(body):
    """The contract of a 200 from /v1/read, whatever the reader read."""
    assert body["verdict"] in VERDICTS
    # a tab between the cells of one row (a receipt's item and price), a newline between rows
    joined = "".join(("\t" if line.get("row") is not None and line.get("row") == previous.get("row") else "\n") + line["text"]
                     for previous, line in zip([{}] + body["lines"], body["lines"]))
    assert body["text"] == joined[1:]
    for line in body["lines"]:
        assert len(line["box"]) == 4 and all(isinstance(v, int) for v in line["box"])
        assert line["box"][2] > 0 and line["box"][3] > 0
        assert len(line["confidence"]) == len(line["text"])
        assert all(0.0 <= c <= 1.0 for c in line["confidence"])
    assert 0.0 <= body["confident_share"] <= 1.0
    return body


def bad_inputs():
    valid = png_bytes(random_image(64, 64))
    return [
        ("non-image bytes", b"this is not an image at all", 400, "bad_image"),
        ("empty body", b"", 400, "bad_image"),
        ("truncated PNG", valid[: len(valid) // 2], 400, "bad_image"),
        ("0x0 PNG", png_with_header(0, 0), 400, "bad_image"),
        ("PNG claiming 100000x100000", png_with_header(100000, 100000), 413, "image_too_large"),
        ("PNG header with missing pixels", png_with_header(64, 64, b"\x00" * 10), 400, "bad_image"),
        ("TIFF bytes", encoded(random_image(8, 8), "TIFF"), 400, "bad_image"),
    ]


class GatedModel:
    """Stands in for a network: identity, but each forward waits for ``gate``; records batch sizes and sigmas."""

    size_multiple = 16

    def __init__(self, open_gate=False):
        self.gate = threading.Event()
        if open_gate:
            self.gate.set()
        self.entered = threading.Event()
        self.batch_sizes = []
        self.sigmas = []
        self.shapes = []

    def to(self, *args, **kwargs):
        return self

    def eval(self):
        return self

    def __call__(self, x, sigma=None):
        self.batch_sizes.append(x.shape[0])
        self.sigmas.append(sigma.tolist())
        self.shapes.append(tuple(x.shape[-2:]))
        self.entered.set()
        self.gate.wait(10)
        return x


class RecordingRunner:
    """Stands in for subprocess.run: records each command, runs none, and says each succeeded."""

    def __init__(self):
        self.calls = []

    def __call__(self, argv, check=False):
        self.calls.append(argv)
        return subprocess.CompletedProcess(argv, 0)
