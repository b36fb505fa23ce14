"""The HTTP API through Flask's test client: every endpoint, every bad-input class, the safety checks."""
import base64
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from models import build_model, save_checkpoint
from server import create_app
from server.engine import Engine
from server_support import (PORT, GatedModel, LoopbackClient, assert_error, assert_healthy, bad_inputs, encoded, make_app, png_bytes,
                            png_with_header, random_image)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def client(engine):
    return make_app(engine).test_client()


def decode_response_png(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "image/png"
    return Image.open(io.BytesIO(response.data))


def post_multipart(client, data, sigma=None, filename="in.png", **fields):
    form = {"image": (io.BytesIO(data), filename), **fields}
    if sigma is not None:
        form["sigma"] = sigma
    return client.post("/v1/sharpen", data=form, content_type="multipart/form-data")


# --- endpoints -------------------------------------------------------------------------------

def test_healthz_reports_model_device_version(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["model"] == "nafunet"
    assert body["device"] in ("cpu", "cuda")
    assert body["version"]


def test_models_lists_registry_and_loaded_checkpoint(client, engine):
    body = client.get("/v1/models").get_json()
    names = [m["name"] for m in body["models"]]
    assert "nafunet" in names and body["default"] == "nafunet"
    loaded = [m for m in body["models"] if m["loaded"]]
    assert len(loaded) == 1 and loaded[0]["checkpoint"] == engine.checkpoint


@pytest.mark.parametrize("size", [(37, 23), (1, 1), (300, 7)])
def test_multipart_returns_png_of_input_size(client, size):
    image = random_image(*size)
    result = decode_response_png(post_multipart(client, png_bytes(image), sigma="1.5"))
    assert result.size == size and result.mode == "RGB"


def test_multipart_is_deterministic_and_blind_without_sigma(client):
    data = png_bytes(random_image(40, 30))
    blind = np.asarray(decode_response_png(post_multipart(client, data)))
    known = np.asarray(decode_response_png(post_multipart(client, data, sigma="3")))
    again = np.asarray(decode_response_png(post_multipart(client, data, sigma="3")))
    assert np.array_equal(known, again)
    assert blind.shape == known.shape


def test_raw_body_with_query_sigma(client):
    image = random_image(64, 48)
    response = client.post("/v1/sharpen?sigma=2", data=png_bytes(image), content_type="image/png")
    assert decode_response_png(response).size == (64, 48)
    assert float(response.headers["X-Elapsed-Ms"]) >= 0


def test_rgba_alpha_is_returned_unchanged(client):
    image = random_image(50, 20, "RGBA", seed=3)
    result = decode_response_png(post_multipart(client, png_bytes(image), sigma="2"))
    assert result.mode == "RGBA"
    assert np.array_equal(np.asarray(result)[:, :, 3], np.asarray(image)[:, :, 3])


def test_json_form_with_data_url_and_plain_base64(client):
    data = png_bytes(random_image(33, 17))
    for image_field in ("data:image/png;base64," + base64.b64encode(data).decode(), base64.b64encode(data).decode()):
        body = client.post("/v1/sharpen", json={"image": image_field, "sigma": 2.0}).get_json()
        assert (body["width"], body["height"], body["sigma"]) == (33, 17, 2.0)
        assert body["elapsed_ms"] >= 0
        assert body["image"].startswith("data:image/png;base64,")
        decoded = Image.open(io.BytesIO(base64.b64decode(body["image"].split(",", 1)[1])))
        assert decoded.size == (33, 17)


def test_json_form_without_sigma_is_blind(client):
    data = base64.b64encode(png_bytes(random_image(20, 20))).decode()
    assert client.post("/v1/sharpen", json={"image": data}).get_json()["sigma"] is None
    assert client.post("/v1/sharpen", json={"image": data, "sigma": None}).get_json()["sigma"] is None


def test_batch_keeps_order_sizes_and_sigmas(client):
    sizes, sigmas = [(40, 10), (16, 16), (5, 70)], [1.0, None, 4.5]
    images = [{"image": base64.b64encode(png_bytes(random_image(w, h, seed=i))).decode(), "sigma": s}
              for i, ((w, h), s) in enumerate(zip(sizes, sigmas))]
    body = client.post("/v1/sharpen/batch", json={"images": images}).get_json()
    assert [(r["width"], r["height"]) for r in body["results"]] == sizes
    assert [r["sigma"] for r in body["results"]] == sigmas


def test_batch_result_matches_single_request(client):
    data = base64.b64encode(png_bytes(random_image(30, 30, seed=9))).decode()
    single = client.post("/v1/sharpen", json={"image": data, "sigma": 2}).get_json()["image"]
    batch = client.post("/v1/sharpen/batch", json={"images": [{"image": data, "sigma": 2}]}).get_json()
    assert batch["results"][0]["image"] == single


@pytest.mark.parametrize("payload, fragment", [
    ({"images": []}, "non-empty"),
    ({"images": "x"}, "non-empty"),
    ({}, "non-empty"),
    ({"images": [{"image": "@@@"}]}, "images[0]"),
    ({"images": [{"image": base64.b64encode(b"x" * 10).decode(), "sigma": 1}, 5]}, "images[1]"),
    ({"images": [{"image": "aGVsbG8=", "sigma": -1}]}, "images[0]"),
])
def test_batch_bad_input_names_the_entry(client, payload, fragment):
    body = assert_error(client.post("/v1/sharpen/batch", json=payload), 400)
    assert fragment in body["error"]["message"]
    assert_healthy(client)


def test_batch_over_image_limit(engine):
    client = make_app(engine, MAX_BATCH_IMAGES=2).test_client()
    data = base64.b64encode(png_bytes(random_image(4, 4))).decode()
    assert_error(client.post("/v1/sharpen/batch", json={"images": [{"image": data}] * 3}), 400)


def test_batch_pixels_share_one_budget(engine):
    client = make_app(engine, MAX_IMAGE_PIXELS=1000).test_client()
    data = base64.b64encode(png_bytes(random_image(20, 30))).decode()  # 600 pixels each
    assert client.post("/v1/sharpen/batch", json={"images": [{"image": data}]}).status_code == 200
    body = assert_error(client.post("/v1/sharpen/batch", json={"images": [{"image": data}] * 2}), 413)
    assert "images[1]" in body["error"]["message"]


def test_demo_page_is_served_with_a_strict_policy(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert b'id="file-input"' in response.data
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    for asset in ("/static/demo.js", "/static/demo.css"):
        assert client.get(asset).status_code == 200


def test_unknown_model_and_route(client):
    data = png_bytes(random_image(8, 8))
    assert_error(post_multipart(client, data, model="robust_unet"), 400, "unknown_model")
    assert post_multipart(client, data, model="nafunet").status_code == 200
    assert_error(client.get("/nope"), 404)
    assert_error(client.get("/v1/sharpen"), 405)


# --- bad input: each answered with its 4xx, and the server keeps answering -------------------

@pytest.mark.parametrize("label, data, status, code", bad_inputs(), ids=[b[0] for b in bad_inputs()])
def test_bad_image_bytes_in_every_form(client, label, data, status, code):
    assert_error(post_multipart(client, data), status, code)
    assert_error(client.post("/v1/sharpen", data=data, content_type="image/png"), status, code)
    assert_error(client.post("/v1/sharpen", json={"image": base64.b64encode(data).decode()}), status, code)
    assert_healthy(client)


@pytest.mark.parametrize("make_image, expect_alpha", [
    (lambda: png_bytes(Image.fromarray(np.arange(40 * 30, dtype=np.uint16).reshape(30, 40) * 50)), False),
    (lambda: encoded(Image.new("CMYK", (40, 30), (10, 200, 30, 5)), "JPEG"), False),
    (lambda: png_bytes(random_image(40, 30).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)), False),
    (lambda: png_bytes(random_image(40, 30, "RGBA")), True),
    (lambda: png_bytes(random_image(40, 30, "LA")), True),
    (lambda: png_bytes(random_image(40, 30, "L")), False),
    (lambda: png_bytes(Image.new("1", (40, 30), 1)), False),
    (lambda: encoded(random_image(40, 30), "JPEG"), False),
    (lambda: encoded(random_image(40, 30), "WEBP"), False),
    (lambda: encoded(random_image(40, 30), "BMP"), False),
], ids=["16-bit PNG", "CMYK JPEG", "palette PNG", "RGBA PNG", "LA PNG", "gray PNG", "1-bit PNG", "JPEG", "WebP",
        "BMP"])
def test_every_supported_mode_comes_back_at_its_size(client, make_image, expect_alpha):
    result = decode_response_png(post_multipart(client, make_image(), sigma="1"))
    assert result.size == (40, 30)
    assert result.mode == ("RGBA" if expect_alpha else "RGB")
    assert_healthy(client)


def test_sixteen_bit_png_is_scaled_not_clipped(client, engine):
    gray = np.full((20, 20), 32768, dtype=np.uint16)  # mid-gray in 16 bits
    from server.imaging import decode_image

    rgb, alpha = decode_image(png_bytes(Image.fromarray(gray)))
    assert alpha is None and np.allclose(rgb, 32768 / 65535)


@pytest.mark.parametrize("height, width", [(1, 1), (7, 3), (300, 257)])
@pytest.mark.parametrize("with_alpha", [False, True])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_encoded_png_decodes_to_the_rounded_pixels_in_any_band_split(monkeypatch, height, width, with_alpha, workers):
    from server import imaging

    monkeypatch.setattr(imaging, "PNG_BAND_BYTES", 1)  # as many bands as workers, even for tiny images
    rng = np.random.default_rng(height * width)
    rgb = rng.uniform(-0.2, 1.2, (height, width, 3)).astype(np.float32)
    rgb[0, 0] = [0.5 / 255, 1.5 / 255 - 1e-6, 254.5 / 255]  # rounding boundaries
    alpha = rng.integers(0, 256, (height, width), dtype=np.uint8) if with_alpha else None
    image = Image.open(io.BytesIO(imaging.encode_png(rgb, alpha, workers=workers)))
    image.load()  # Pillow checks every chunk's CRC
    expected = (np.clip(rgb * 255 + 0.5, 0, 255)).astype(np.uint8)
    if with_alpha:
        expected = np.concatenate([expected, alpha[:, :, None]], axis=2)
    assert image.mode == ("RGBA" if with_alpha else "RGB")
    assert np.array_equal(np.asarray(image), expected)


def test_png_bands_cover_the_rows_and_stay_large_enough():
    from server.imaging import png_bands

    assert png_bands(1024, 3073, 2, 2**18) == [(0, 512), (512, 1024)]
    assert png_bands(40, 3073, 2, 2**18) == [(0, 40)]  # 120 KB: one band, no thread
    assert png_bands(5, 10, 8, 1) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    for height, row, workers in [(1, 4, 4), (1000, 7, 3), (999, 3001, 4)]:
        bands = png_bands(height, row, workers, 1000)
        assert bands[0][0] == 0 and bands[-1][1] == height and len(bands) <= workers
        assert all(stop == start for (_, stop), (start, _) in zip(bands, bands[1:]))
        assert len(bands) == 1 or all((stop - start) * row >= 1000 for start, stop in bands)


def test_palette_with_transparency_keeps_its_alpha(client):
    image = Image.new("P", (30, 20), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (10, 0, 30, 20))
    data = png_bytes(image, transparency=0)
    result = decode_response_png(post_multipart(client, data))
    alpha = np.asarray(result)[:, :, 3]
    assert (alpha[:, :10] == 0).all() and (alpha[:, 10:] == 255).all()


def test_animated_gif_uses_first_frame(client):
    frames = [Image.new("RGB", (24, 18), color) for color in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = decode_response_png(post_multipart(client, out.getvalue(), filename="anim.gif"))
    assert result.size == (24, 18)
    red, _, blue = np.asarray(result, dtype=float).reshape(-1, 3).mean(0)
    assert red > blue  # the first (red) frame, not the second (blue) one


@pytest.mark.parametrize("sigma", ["-1", "NaN", "nan", "abc", "inf"])
def test_bad_sigma_in_form_query_and_json(client, sigma):
    data = png_bytes(random_image(16, 16))
    assert_error(post_multipart(client, data, sigma=sigma), 400, "bad_sigma")
    assert_error(client.post(f"/v1/sharpen?sigma={sigma}", data=data, content_type="image/png"), 400, "bad_sigma")
    json_sigma = float(sigma) if sigma not in ("abc",) else sigma
    body = json.dumps({"image": base64.b64encode(data).decode(), "sigma": json_sigma})
    assert_error(client.post("/v1/sharpen", data=body, content_type="application/json"), 400, "bad_sigma")
    assert_healthy(client)


@pytest.mark.parametrize("sigma", ["32.01", "50", "1e9"])
def test_sigma_beyond_the_supported_maximum_is_422_with_the_maximum(client, sigma):
    data = png_bytes(random_image(16, 16))
    for response in (post_multipart(client, data, sigma=sigma),
                     client.post(f"/v1/sharpen?sigma={sigma}", data=data, content_type="image/png"),
                     client.post("/v1/sharpen", json={"image": base64.b64encode(data).decode(), "sigma": float(sigma)})):
        body = assert_error(response, 422, "sigma_out_of_range")
        assert body["error"]["max_sigma"] == 32.0 and "32" in body["error"]["message"]
    assert_healthy(client)


def test_sigma_beyond_the_trained_range_is_restored_in_scale_space(client):
    image = random_image(64, 40)
    for sigma in ("8", "8.5", "20", "32"):
        assert decode_response_png(post_multipart(client, png_bytes(image), sigma=sigma)).size == (64, 40)


def test_models_report_their_sigma_range(client):
    for entry in client.get("/v1/models").get_json()["models"]:
        if entry["checkpoint"]:
            assert entry["sigma"] == {"trained_max": 8.0, "max": 32.0}


def test_boolean_and_list_sigma_rejected(client):
    data = base64.b64encode(png_bytes(random_image(8, 8))).decode()
    for sigma in (True, [1], {"a": 1}):
        assert_error(client.post("/v1/sharpen", json={"image": data, "sigma": sigma}), 400, "bad_sigma")


def test_oversized_body_is_413(engine):
    client = make_app(engine, MAX_CONTENT_LENGTH=20_000).test_client()
    big = png_bytes(random_image(200, 200))  # random pixels barely compress: ~120 kB
    assert len(big) > 20_000
    assert_error(post_multipart(client, big), 413, "body_too_large")
    body = assert_error(client.post("/v1/sharpen", data=big, content_type="image/png"), 413, "body_too_large")
    assert f"{len(big):,} bytes" in body["error"]["message"] and "20,000 bytes" in body["error"]["message"]
    assert_healthy(client)


def test_pixel_limit_is_413_before_decoding(engine):
    client = make_app(engine, MAX_IMAGE_PIXELS=10_000).test_client()
    assert_error(post_multipart(client, png_bytes(random_image(101, 100))), 413, "image_too_large")
    assert post_multipart(client, png_bytes(random_image(100, 100))).status_code == 200
    assert_healthy(client)


def test_pixel_limit_message_names_the_dimensions(client):
    body = assert_error(post_multipart(client, png_with_header(8000, 8000)), 413, "image_too_large")
    assert "8000x8000 = 64,000,000 pixels" in body["error"]["message"]
    assert "16,777,216" in body["error"]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "image/svg+xml", "image/tiff",
                                          "application/x-www-form-urlencoded"])
def test_unsupported_content_types_are_415(client, content_type):
    data = png_bytes(random_image(8, 8))
    assert_error(client.post("/v1/sharpen", data=data, content_type=content_type), 415, "unsupported_media_type")
    assert_healthy(client)


def test_json_errors(client):
    assert_error(client.post("/v1/sharpen", data="{not json", content_type="application/json"), 400)
    assert_error(client.post("/v1/sharpen", json=[1, 2]), 400)
    assert_error(client.post("/v1/sharpen", json={"sigma": 1}), 400, "bad_image")
    assert_error(client.post("/v1/sharpen", json={"image": "data:image/png,abc"}), 400, "bad_image")
    assert_error(client.post("/v1/sharpen", json={"image": "data:text/html;base64,PGI+"}), 415)
    assert_error(client.post("/v1/sharpen/batch", data="x", content_type="text/plain"), 415)
    assert_error(client.post("/v1/sharpen", data={"other": "x"}, content_type="multipart/form-data"), 400)
    assert_healthy(client)


# --- busy engine: bounded queue and time limit -------------------------------------------------

def test_full_queue_is_503_with_retry_after():
    engine = Engine(GatedModel(), name="nafunet", queue_size=0)
    try:
        client = make_app(engine).test_client()
        response = post_multipart(client, png_bytes(random_image(8, 8)))
        assert_error(response, 503, "queue_full")
        assert int(response.headers["Retry-After"]) >= 1
        assert_healthy(client)
    finally:
        engine.close()


def test_request_time_limit_is_503_and_frees_the_slot():
    model = GatedModel()
    engine = Engine(model, name="nafunet", queue_size=4)
    try:
        client = make_app(engine, REQUEST_TIMEOUT=0.2).test_client()
        response = post_multipart(client, png_bytes(random_image(8, 8)))
        assert_error(response, 503, "timeout")
        assert "Retry-After" in response.headers
        assert engine.queued_jobs == 0
        model.gate.set()
        assert post_multipart(client, png_bytes(random_image(8, 8))).status_code == 200
    finally:
        model.gate.set()
        engine.close()


# --- host, origin, token ------------------------------------------------------------------------

@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"[::1]:{PORT}", f"LOCALHOST:{PORT}"])
def test_loopback_hosts_with_port_are_allowed(client, host):
    assert client.get("/healthz", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", f"localhost.evil.com:{PORT}", f"evil.com:{PORT}",
                                  f"127.0.0.1:{PORT + 1}", f"127.0.0.1:{PORT}.evil.com", f"x127.0.0.1:{PORT}", ""])
def test_other_hosts_are_refused(client, host):
    assert_error(client.get("/healthz", headers={"Host": host}), 403, "forbidden")
    assert_error(client.get("/", headers={"Host": host}), 403)


def test_bound_address_is_allowed_when_not_loopback(engine):
    client = make_app(engine, HOST="192.168.1.7").test_client()
    assert client.get("/healthz", headers={"Host": f"192.168.1.7:{PORT}"}).status_code == 200
    assert client.get("/healthz", headers={"Host": f"192.168.1.8:{PORT}"}).status_code == 403


@pytest.mark.parametrize("origin", ["http://example.com", "https://example.com", "null", f"http://evil.com:{PORT}",
                                    f"https://127.0.0.1:{PORT}", "http://localhost", "file://"])
def test_web_page_origins_are_refused(client, origin):
    data = png_bytes(random_image(8, 8))
    assert_error(client.post("/v1/sharpen", data=data, content_type="image/png", headers={"Origin": origin}), 403)
    assert_error(client.get("/healthz", headers={"Origin": origin}), 403)


@pytest.mark.parametrize("origin", ["chrome-extension://abcdefghijklmnopabcdefghijklmnop",
                                    "moz-extension://0b8e5c36-1c2a-4c57-9a5e-6a7f3f1e2d10"])
def test_extension_origin_is_allowed_with_cors_headers(client, origin):
    response = client.post("/v1/sharpen", data=png_bytes(random_image(8, 8)), content_type="image/png",
                           headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    preflight = client.options("/v1/sharpen", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200 and "Authorization" in preflight.headers["Access-Control-Allow-Headers"]


def test_pinned_extension_refuses_other_extensions(engine):
    pinned = "chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    client = make_app(engine, ALLOWED_ORIGINS=[pinned]).test_client()
    assert client.get("/healthz", headers={"Origin": pinned}).status_code == 200
    assert_error(client.get("/healthz", headers={"Origin": "chrome-extension://bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}), 403)
    # a pin holds for every browser: a Firefox extension is refused as well
    assert_error(client.get("/healthz", headers={"Origin": "moz-extension://0b8e5c36-1c2a-4c57-9a5e-6a7f3f1e2d10"}), 403)


def test_demo_page_own_origin_is_allowed(client):
    for host in (f"127.0.0.1:{PORT}", f"localhost:{PORT}"):
        response = client.post("/v1/sharpen", data=png_bytes(random_image(8, 8)), content_type="image/png",
                               headers={"Host": host, "Origin": f"http://{host}"})
        assert response.status_code == 200
        assert "Access-Control-Allow-Origin" not in response.headers  # same origin needs no CORS


def test_bearer_token(engine):
    client = make_app(engine, TOKEN="s3cret").test_client()
    data = png_bytes(random_image(8, 8))
    assert_error(client.post("/v1/sharpen", data=data, content_type="image/png"), 403)
    for header in ("Bearer wrong", "Basic s3cret", "s3cret", "Bearer s3cret2"):
        assert_error(client.post("/v1/sharpen", data=data, content_type="image/png",
                                 headers={"Authorization": header}), 403)
    assert client.post("/v1/sharpen", data=data, content_type="image/png",
                       headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert_error(client.get("/v1/models"), 403)
    assert client.get("/healthz").status_code == 200  # liveness and the demo page need no token
    assert client.get("/").status_code == 200


def test_access_log_line_per_request(client, caplog):
    with caplog.at_level("INFO", logger="server.access"):
        client.get("/healthz")
        client.get("/healthz", headers={"Origin": "http://example.com"})
    lines = [r.getMessage() for r in caplog.records if r.name == "server.access"]
    assert len(lines) == 2
    assert "GET /healthz 200" in lines[0] and lines[0].endswith("B") and "ms" in lines[0]
    assert "GET /healthz 403" in lines[1]


def test_nan_sigma_never_reaches_engine(engine):
    from server.engine import validate_sigma

    for value in (math.nan, -0.5, math.inf):
        with pytest.raises(Exception):
            validate_sigma(value)
    assert validate_sigma(0) == 0.0 and validate_sigma("2.5") == 2.5 and validate_sigma(None) is None


def test_app_loads_its_own_engine_from_a_checkpoint(tmp_path):
    path = tmp_path / "tiny.pt"
    save_checkpoint(path, build_model("nafunet", width=8))
    app = create_app({"CHECKPOINT": str(path), "DEVICE": "cpu", "PORT": PORT})
    app.test_client_class = LoopbackClient
    try:
        assert app.test_client().get("/v1/models").get_json()["models"][0]["checkpoint"] == str(path)
    finally:
        app.extensions["engine"].close()
