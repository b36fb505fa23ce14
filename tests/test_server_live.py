"""A real waitress server on a free loopback port, spoken to over HTTP."""
import base64
import http.client
import io
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from PIL import Image

from server import create_app
from server.live import LiveServer
from server_support import assert_reading, png_bytes, png_with_header, random_image, text_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def live(engine, read_service):
    app = create_app({"ENGINE": engine, "READER": read_service, "MAX_CONTENT_LENGTH": 2**20})
    with LiveServer(app) as server:
        yield server


def healthy(live):
    response = requests.get(live.url + "/healthz", timeout=10)
    return response.status_code == 200 and response.json()["status"] == "ok"


def test_every_endpoint_over_http(live):
    assert healthy(live)
    assert requests.get(live.url + "/v1/models", timeout=10).json()["default"] == "nafunet"
    page = requests.get(live.url + "/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]

    image = random_image(45, 27, "RGBA")
    data = png_bytes(image)
    multipart = requests.post(live.url + "/v1/sharpen", files={"image": ("a.png", data, "image/png")},
                              data={"sigma": "2"}, timeout=30)
    raw = requests.post(live.url + "/v1/sharpen?sigma=2", data=data, headers={"Content-Type": "image/png"},
                        timeout=30)
    for response in (multipart, raw):
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
        result = Image.open(io.BytesIO(response.content))
        assert result.size == (45, 27)
        assert np.array_equal(np.asarray(result)[:, :, 3], np.asarray(image)[:, :, 3])
    assert multipart.content == raw.content

    encoded = base64.b64encode(data).decode()
    single = requests.post(live.url + "/v1/sharpen", json={"image": encoded, "sigma": 2}, timeout=30).json()
    assert (single["width"], single["height"]) == (45, 27)
    batch = requests.post(live.url + "/v1/sharpen/batch",
                          json={"images": [{"image": encoded, "sigma": 2}, {"image": encoded}]}, timeout=30).json()
    assert len(batch["results"]) == 2 and batch["results"][0]["image"] == single["image"]


def test_read_over_http_in_every_form(live):
    data = png_bytes(text_image("Hello world"))
    multipart = requests.post(live.url + "/v1/read", files={"image": ("a.png", data, "image/png")},
                              data={"sigma": "2"}, timeout=30)
    raw = requests.post(live.url + "/v1/read?sigma=2", data=data, headers={"Content-Type": "image/png"}, timeout=30)
    encoded = base64.b64encode(data).decode()
    as_json = requests.post(live.url + "/v1/read", json={"image": encoded, "sigma": 2}, timeout=30)
    batch = requests.post(live.url + "/v1/read/batch", json={"images": [{"image": encoded, "sigma": 2}]}, timeout=30)
    for response in (multipart, raw, as_json):
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
        assert assert_reading(response.json())["lines"] == multipart.json()["lines"]
    assert batch.json()["results"][0]["lines"] == multipart.json()["lines"]
    assert requests.get(live.url + "/healthz", timeout=10).json()["reader"] is True


def test_reads_and_sharpens_from_concurrent_clients_all_succeed(live):
    data = png_bytes(text_image("Hello world"))

    def post(route):
        response = requests.post(live.url + route + "?sigma=1.5", data=data, headers={"Content-Type": "image/png"},
                                 timeout=60)
        return route, response.status_code, response.headers["Content-Type"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, ["/v1/read", "/v1/sharpen"] * 6))
    assert results == [("/v1/read", 200, "application/json"), ("/v1/sharpen", 200, "image/png")] * 6


@pytest.mark.parametrize("route", ["/v1/sharpen", "/v1/read"])
@pytest.mark.parametrize("body, content_type, status", [
    (b"not an image", "image/png", 400),
    (None, "image/png", 400),  # truncated PNG, filled in below
    (png_with_header(100000, 100000), "image/png", 413),
    (b"\0" * (2**20 + 1), "image/png", 413),  # over MAX_CONTENT_LENGTH
    (b"hello", "text/plain", 415),
])
def test_bad_requests_over_http_leave_the_server_healthy(live, body, content_type, status, route):
    if body is None:
        valid = png_bytes(random_image(64, 64))
        body = valid[: len(valid) // 3]
    response = requests.post(live.url + route, data=body, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == status
    assert response.json()["error"]["message"]
    assert healthy(live)


def raw_request(live, headers):
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    connection.putrequest("GET", "/healthz", skip_host=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    status = connection.getresponse().status
    connection.close()
    return status


def test_host_and_origin_checks_over_http(live):
    assert raw_request(live, {"Host": f"127.0.0.1:{live.port}"}) == 200
    assert raw_request(live, {"Host": f"localhost:{live.port}"}) == 200
    assert raw_request(live, {"Host": f"localhost.evil.com:{live.port}"}) == 403
    assert raw_request(live, {"Host": "attacker.example"}) == 403
    assert raw_request(live, {}) == 403  # no Host header at all
    own = f"http://127.0.0.1:{live.port}"
    assert raw_request(live, {"Host": f"127.0.0.1:{live.port}", "Origin": own}) == 200
    assert raw_request(live, {"Host": f"127.0.0.1:{live.port}", "Origin": "http://example.com"}) == 403
    assert raw_request(live, {"Host": f"127.0.0.1:{live.port}", "Origin": "chrome-extension://abc"}) == 200


def test_concurrent_clients_all_succeed(live):
    sizes = [(40, 20), (64, 64), (100, 30), (40, 20)] * 4

    def post(size):
        data = png_bytes(random_image(*size, seed=size[0]))
        response = requests.post(live.url + "/v1/sharpen?sigma=1.5", data=data,
                                 headers={"Content-Type": "image/png"}, timeout=60)
        return response.status_code, Image.open(io.BytesIO(response.content)).size

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, sizes))
    assert results == [(200, size) for size in sizes]


def raw_exchange(live, head, body_chunks):
    """Send a request head and body pieces over a plain socket, then read the whole answer."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused the body and closed; its answer is already on the way
        answer = b""
        while data := sock.recv(65536):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), headers.decode().lower(), body


@pytest.mark.parametrize("form", ["content-length", "chunked", "multipart"])
def test_oversized_bodies_get_the_json_413_however_they_arrive(live, form):
    limit = live.app.config["MAX_CONTENT_LENGTH"]
    claimed = 300 * 2**20
    prefix = f"POST /v1/sharpen HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n"
    if form == "chunked":
        head = prefix + "Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
        piece = b"\0" * 2**16
        chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (2 * limit // len(piece))
    else:
        kind = "multipart/form-data; boundary=x" if form == "multipart" else "image/png"
        head = prefix + f"Content-Type: {kind}\r\nContent-Length: {claimed}\r\n\r\n"
        chunks = [b"\0" * 2**16] * 16  # the first MiB of the claimed 300; the rest never needs sending
    status, headers, body = raw_exchange(live, head, chunks)
    assert status == 413 and "content-type: application/json" in headers
    error = json.loads(body)["error"]
    assert error["code"] == "body_too_large"
    assert f"{limit:,} bytes" in error["message"]
    if form != "chunked":
        assert f"{claimed:,} bytes" in error["message"]
    assert healthy(live)


def test_malformed_http_gets_a_json_error(live):
    status, headers, body = raw_exchange(live, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", [])
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_request"
    assert healthy(live)
