"""POST /v1/read and /v1/read/batch through Flask's test client, with a tiny untrained reader: the
JSON contract, the verdict on an unreadable thumbnail, bad input, limits, security, the reader's
own queue and the server without a reader checkpoint."""
import base64
import io
import shutil
import threading

import numpy as np
import pytest
from PIL import Image

from read_page import save_x_reader
from server.reading import ReadService, reader_pixels
from server_support import (assert_error, assert_healthy, assert_reading, bad_inputs, make_app, png_bytes, png_with_header, random_image,
                            text_image)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def client(engine, read_service):
    return make_app(engine, READER=read_service).test_client()


@pytest.fixture(scope="module")
def x_read_service(tmp_path_factory):
    """A reader sure of every line it is handed ("x"): the untrained reader's lines are junk, never answered."""
    service = ReadService(save_x_reader(tmp_path_factory.mktemp("x") / "x_reader.pt"))
    yield service
    service.close()


def post_read(client, data, sigma=None, form="multipart", path="/v1/read"):
    if form == "multipart":
        fields = {"image": (io.BytesIO(data), "in.png"), **({} if sigma is None else {"sigma": sigma})}
        return client.post(path, data=fields, content_type="multipart/form-data")
    if form == "raw":
        return client.post(path, data=data, content_type="image/png",
                           query_string={} if sigma is None else {"sigma": sigma})
    return client.post(path, json={"image": base64.b64encode(data).decode(), "sigma": sigma})


# --- the answer ------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["multipart", "raw", "json"])
def test_read_answers_lines_with_boxes_confidences_and_a_verdict(engine, x_read_service, form):
    client = make_app(engine, READER=x_read_service).test_client()
    data = png_bytes(text_image("Hello world"))
    response = post_read(client, data, sigma="1.5" if form != "json" else 1.5, form=form)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = assert_reading(response.get_json())
    assert body["lines"], "the line finder sees the rendered line"
    x, y, w, h = body["lines"][0]["box"]
    assert 0 <= x and x + w <= 400 and 0 <= y and y + h <= 120
    assert (body["width"], body["height"], body["sigma"]) == (400, 120, 1.5)
    assert body["elapsed_ms"] >= 0


def test_every_form_reads_the_same(client):
    data = png_bytes(text_image("Hello world"))
    multipart, raw, json_form = (post_read(client, data, "2", form).get_json() for form in ("multipart", "raw", "json"))
    assert multipart == {**raw, "elapsed_ms": multipart["elapsed_ms"]}
    assert json_form["lines"] == multipart["lines"] and json_form["sigma"] == 2.0


def test_the_reader_gets_the_pixels_and_sigma_of_each_form(engine):
    recording = GatedReader(open_gate=True)
    service = ReadService(reader=recording)
    client = make_app(engine, READER=service).test_client()
    image = random_image(21, 13)
    for form, sigma, expected in (("multipart", "3", 3.0), ("raw", "0.5", 0.5), ("json", None, None),
                                  ("multipart", "blind", None)):
        assert post_read(client, png_bytes(image), sigma, form).status_code == 200
        pixels, told = recording.calls[-1]
        assert np.array_equal(pixels, np.asarray(image)) and told == expected
    service.close()


def test_a_thumbnail_whose_line_is_a_few_pixels_tall_is_unreadable(engine, x_read_service):
    from models.reading.line_finder import find_lines
    from models.reading.pipeline import MIN_LINE_PX

    # The "x" reader reads every line it is handed, sure: only the size rule can leave the thumbnail unread.
    client = make_app(engine, READER=x_read_service).test_client()
    thumbnail = text_image("Invoice 42", size=(240, 72), font_px=40).resize((32, 10), Image.LANCZOS)
    found = find_lines(np.asarray(thumbnail))
    assert found and all(box.h < MIN_LINE_PX for box in found)  # text is there, too small to read
    for sigma in (None, "1"):
        body = assert_reading(post_read(client, png_bytes(thumbnail), sigma).get_json())
        assert body["verdict"] == "unreadable"
        assert body["lines"] == [] and body["text"] == ""  # nothing invented
    readable = assert_reading(post_read(client, png_bytes(text_image("Invoice 42"))).get_json())
    assert readable["verdict"] == "readable" and set(readable["text"]) == {"x"}  # the same words, large enough


def test_a_blank_image_reads_as_no_text(client):
    body = assert_reading(post_read(client, png_bytes(Image.new("RGB", (64, 32), "white"))).get_json())
    assert (body["text"], body["lines"], body["verdict"]) == ("", [], "unreadable")


def test_batch_keeps_order_and_matches_single_reads(client):
    images = [text_image("Hello world"), text_image("Hi", size=(120, 60)), Image.new("RGB", (30, 30), "white")]
    sigmas = [2.0, None, 0.5]
    payload = {"images": [{"image": base64.b64encode(png_bytes(image)).decode(), "sigma": sigma}
                          for image, sigma in zip(images, sigmas)]}
    results = client.post("/v1/read/batch", json=payload).get_json()["results"]
    assert [(r["width"], r["height"], r["sigma"]) for r in results] == [(400, 120, 2.0), (120, 60, None), (30, 30, 0.5)]
    for result, image, sigma in zip(results, images, sigmas):
        single = post_read(client, png_bytes(image), None if sigma is None else str(sigma)).get_json()
        assert assert_reading(result)["lines"] == single["lines"] and result["verdict"] == single["verdict"]


def test_transparent_text_is_read_on_a_background_that_shows_it():
    dark_ink = np.zeros((10, 20, 3), np.float32)  # black everywhere, text only in the alpha
    alpha = np.zeros((10, 20), np.uint8)
    alpha[3:7, 2:18] = 255
    flat = reader_pixels(dark_ink.copy(), alpha)
    assert (flat[alpha == 0] == 255).all() and (flat[alpha == 255] == 0).all()
    light_ink = np.ones((10, 20, 3), np.float32)
    flat = reader_pixels(light_ink, alpha)
    assert (flat[alpha == 0] == 0).all() and (flat[alpha == 255] == 255).all()
    opaque = random_image(7, 5)
    pixels = np.asarray(opaque)
    assert np.array_equal(reader_pixels(pixels.astype(np.float32) / 255, np.full((5, 7), 255, np.uint8)), pixels)
    assert np.array_equal(reader_pixels(pixels.astype(np.float32) / 255), pixels)


# --- bad input: the same JSON errors as /v1/sharpen ------------------------------------------

@pytest.mark.parametrize("label, data, status, code", bad_inputs(), ids=[b[0] for b in bad_inputs()])
def test_bad_image_bytes_in_every_form(client, label, data, status, code):
    for form in ("multipart", "raw", "json"):
        assert_error(post_read(client, data, form=form), status, code)
    assert_healthy(client)


@pytest.mark.parametrize("sigma, status, code", [("-1", 400, "bad_sigma"), ("nan", 400, "bad_sigma"),
                                                 ("abc", 400, "bad_sigma"), ("50", 422, "sigma_out_of_range")])
def test_bad_sigma_in_form_and_query(client, sigma, status, code):
    data = png_bytes(random_image(16, 16))
    for form in ("multipart", "raw"):
        assert_error(post_read(client, data, sigma, form), status, code)
    assert_error(client.post("/v1/read", json={"image": base64.b64encode(data).decode(), "sigma": True}), 400,
                 "bad_sigma")


@pytest.mark.parametrize("payload, status, fragment", [
    ({"images": []}, 400, "non-empty"),
    ({"images": [{"image": "@@@"}]}, 400, "images[0]"),
    ({"images": [{"image": base64.b64encode(b"x" * 10).decode()}, 5]}, 400, "images[1]"),
    ({"images": [{"image": "aGVsbG8=", "sigma": -1}]}, 400, "images[0]"),
    ({"images": [{"image": base64.b64encode(png_with_header(9000, 9000)).decode()}]}, 413, "9000x9000"),
])
def test_batch_bad_input_names_the_entry(client, payload, status, fragment):
    body = assert_error(client.post("/v1/read/batch", json=payload), status)
    assert fragment in body["error"]["message"]


def test_request_form_errors(client):
    assert_error(client.post("/v1/read", data=b"x", content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(client.post("/v1/read", data=png_bytes(random_image(8, 8)), content_type="image/tiff"), 415)
    assert_error(client.post("/v1/read", data="{not json", content_type="application/json"), 400)
    assert_error(client.post("/v1/read", json={"sigma": 1}), 400, "bad_image")
    assert_error(client.post("/v1/read", data={"other": "x"}, content_type="multipart/form-data"), 400)
    assert_error(client.post("/v1/read/batch", data="x", content_type="text/plain"), 415)
    assert_error(client.get("/v1/read"), 405)


def test_size_limits_apply(engine, read_service):
    client = make_app(engine, READER=read_service, MAX_IMAGE_PIXELS=10_000, MAX_BATCH_IMAGES=2).test_client()
    assert_error(post_read(client, png_bytes(random_image(101, 100))), 413, "image_too_large")
    assert post_read(client, png_bytes(random_image(100, 100))).status_code == 200
    small_body = make_app(engine, READER=read_service, MAX_CONTENT_LENGTH=20_000).test_client()
    assert_error(post_read(small_body, png_bytes(random_image(200, 200)), form="raw"), 413, "body_too_large")
    small = {"image": base64.b64encode(png_bytes(random_image(4, 4))).decode()}
    assert_error(client.post("/v1/read/batch", json={"images": [small] * 3}), 400)
    half = {"image": base64.b64encode(png_bytes(random_image(100, 60))).decode()}  # 6000 pixels: two exceed 10 000
    body = assert_error(client.post("/v1/read/batch", json={"images": [half, half]}), 413, "image_too_large")
    assert "images[1]" in body["error"]["message"]


# --- security: the same checks as every /v1 route --------------------------------------------

def test_web_pages_are_refused_and_extensions_get_cors(client):
    data = png_bytes(text_image("Hi", size=(80, 40)))
    for origin in ("http://example.com", "null"):
        assert_error(client.post("/v1/read", data=data, content_type="image/png", headers={"Origin": origin}), 403)
    assert_error(client.post("/v1/read", data=data, content_type="image/png", headers={"Host": "evil.com:8765"}), 403)
    extension = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
    response = client.post("/v1/read", data=data, content_type="image/png", headers={"Origin": extension})
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == extension
    preflight = client.options("/v1/read", headers={"Origin": extension, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200


def test_bearer_token(engine, read_service):
    client = make_app(engine, READER=read_service, TOKEN="s3cret").test_client()
    data = png_bytes(random_image(8, 8))
    assert_error(client.post("/v1/read", data=data, content_type="image/png"), 403, "forbidden")
    assert_error(client.post("/v1/read", data=data, content_type="image/png",
                             headers={"Authorization": "Bearer wrong"}), 403)
    assert client.post("/v1/read", data=data, content_type="image/png",
                       headers={"Authorization": "Bearer s3cret"}).status_code == 200


# --- without a reader checkpoint ---------------------------------------------------------------

def test_without_a_reader_checkpoint_sharpening_works_and_read_says_how_to_get_one(engine, reader_checkpoint, tmp_path):
    missing = tmp_path / "reader.pt"
    client = make_app(engine, READER_CHECKPOINT=str(missing), DETECTOR_CHECKPOINT="none").test_client()
    assert client.post("/v1/sharpen", data=png_bytes(random_image(16, 16)), content_type="image/png").status_code == 200
    assert client.get("/healthz").get_json()["reader"] is False
    assert client.get("/v1/models").get_json()["reader"] == {"checkpoint": str(missing), "svtr": None,
                                                           "korean_svtr": None, "detector": None,
                                                           "loaded": False, "available": False}
    data = png_bytes(text_image("Hi", size=(80, 40)))
    response = post_read(client, data)
    body = assert_error(response, 503, "reader_unavailable")
    assert str(missing) in body["error"]["message"] and "--reader" in body["error"]["message"]
    assert "Retry-After" not in response.headers  # not a passing state: retrying will not help
    assert_error(post_read(client, b"not an image"), 503, "reader_unavailable")  # nothing else matters first
    assert_error(client.post("/v1/read/batch", json={"images": []}), 503, "reader_unavailable")

    shutil.copy(reader_checkpoint, missing)  # a checkpoint put in place later is picked up without a restart
    assert client.get("/healthz").get_json()["reader"] is True
    assert_reading(post_read(client, data).get_json())
    assert client.get("/v1/models").get_json()["reader"]["loaded"] is True
    client.application.extensions["reader"].close()


def test_an_unusable_reader_checkpoint_is_a_503_naming_the_problem(engine, tmp_path):
    broken = tmp_path / "reader.pt"
    broken.write_bytes(b"not a checkpoint")
    client = make_app(engine, READER_CHECKPOINT=str(broken)).test_client()
    body = assert_error(post_read(client, png_bytes(random_image(8, 8))), 503, "reader_unavailable")
    assert "cannot be used" in body["error"]["message"] and str(broken) in body["error"]["message"]


def test_reader_checkpoint_comes_from_the_environment_when_not_configured(engine, tmp_path, monkeypatch):
    from models.reading.recognizer import DEFAULT_READER
    from server.reading import DEFAULT_READER as SERVER_DEFAULT_READER, READER_ENV

    assert SERVER_DEFAULT_READER == DEFAULT_READER
    monkeypatch.setenv(READER_ENV, str(tmp_path / "env.pt"))
    assert make_app(engine).extensions["reader"].checkpoint == str(tmp_path / "env.pt")
    monkeypatch.delenv(READER_ENV)
    assert make_app(engine).extensions["reader"].checkpoint == str(DEFAULT_READER)


# --- the reader's own worker: loaded once, bounded, timed, beside sharpening -------------------

class GatedReader:
    """Stands in for a Reader: each read waits for ``gate``, records what it was given, reads nothing."""

    def __init__(self, open_gate=False):
        self.gate = threading.Event()
        if open_gate:
            self.gate.set()
        self.entered = threading.Event()
        self.calls = []

    def read(self, image, sigma=None):
        from models.reading.pipeline import Reading

        self.calls.append((image, sigma))
        self.entered.set()
        self.gate.wait(10)
        return Reading([], "unreadable")


def test_the_reader_is_loaded_once_and_shared(reader_checkpoint):
    service = ReadService(reader_checkpoint)
    loaded = []
    threads = [threading.Thread(target=lambda: loaded.append(service.load())) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loaded) == 6 and all(reader is loaded[0] for reader in loaded)
    service.close()


def test_a_read_in_progress_does_not_hold_up_sharpening(engine):
    gated = GatedReader()
    service = ReadService(reader=gated)
    app = make_app(engine, READER=service)
    client = app.test_client()
    reading = threading.Thread(target=post_read, args=(app.test_client(), png_bytes(random_image(8, 8))))
    reading.start()
    try:
        assert gated.entered.wait(10)
        response = client.post("/v1/sharpen", data=png_bytes(random_image(32, 32)), content_type="image/png")
        assert response.status_code == 200 and not gated.gate.is_set()
    finally:
        gated.gate.set()
        reading.join(10)
        service.close()


def test_full_reader_queue_is_503_with_retry_after(engine):
    service = ReadService(reader=GatedReader(), queue_size=0)
    client = make_app(engine, READER=service).test_client()
    response = post_read(client, png_bytes(random_image(8, 8)))
    assert_error(response, 503, "queue_full")
    assert int(response.headers["Retry-After"]) >= 1
    service.close()


def test_read_time_limit_is_503_and_frees_the_slot(engine):
    gated = GatedReader()
    service = ReadService(reader=gated, queue_size=2)
    client = make_app(engine, READER=service, REQUEST_TIMEOUT=0.2).test_client()
    try:
        assert_error(post_read(client, png_bytes(random_image(8, 8))), 503, "timeout")
        # A read that timed out while waiting frees its slot at once; the one still running keeps its
        # slot until it ends, since it still holds the reader's worker.
        assert_error(post_read(client, png_bytes(random_image(8, 8))), 503, "timeout")
        assert service.queued_images == 1 and len(gated.calls) == 1
        gated.gate.set()
        while service.queued_images:
            threading.Event().wait(0.01)
        assert post_read(client, png_bytes(random_image(8, 8))).status_code == 200
        assert service.queued_images == 0
    finally:
        gated.gate.set()
        service.close()


def test_reads_waiting_when_the_server_stops_answer_shutting_down(engine):
    gated = GatedReader()
    service = ReadService(reader=gated)
    answers = []

    def read():
        answers.append(post_read(make_app(engine, READER=service).test_client(), png_bytes(random_image(8, 8))))

    first = threading.Thread(target=read)
    first.start()
    assert gated.entered.wait(10)
    waiting = threading.Thread(target=read)
    waiting.start()
    while service.queued_images < 2:
        threading.Event().wait(0.01)
    service.close()
    waiting.join(10)
    assert_error(answers[0], 503, "shutting_down")
    gated.gate.set()
    first.join(10)
    assert answers[1].status_code == 200  # the read in flight finishes
    assert_error(post_read(make_app(engine, READER=service).test_client(), png_bytes(random_image(8, 8))), 503,
                 "shutting_down")
