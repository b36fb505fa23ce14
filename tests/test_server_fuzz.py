"""Fuzzed input: mutated PNG/JPEG/GIF/WebP/BMP bytes and random sigma strings against the app's
/v1/sharpen and /v1/read (with a tiny untrained reader).

Thousands of requests through the Flask test client on the tiny model must give no response of
500 or more, keep the app answering, and keep memory bounded. Bounded for CI: FUZZ_EXAMPLES
(default 2000) examples; the figures are printed (pytest -s shows them).
"""
import base64
import collections
import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from server_support import make_app

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp", "BMP": "image/bmp"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def seed_images():
    """Small valid files of every format and several modes: what the mutations start from."""
    rng = np.random.default_rng(0)
    seeds = []
    for fmt in FORMATS:
        for mode, size in (("RGB", (13, 9)), ("L", (7, 16)), ("RGBA", (10, 10)), ("P", (12, 5))):
            if fmt == "JPEG" and mode in ("RGBA", "P"):
                continue
            pixels = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
            image = Image.fromarray(pixels, "RGBA").convert(mode)
            out = io.BytesIO()
            image.save(out, fmt)
            seeds.append((fmt, out.getvalue()))
    return seeds


SEEDS = seed_images()


@st.composite
def mutated_images(draw):
    fmt, data = draw(st.sampled_from(SEEDS))
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "size"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        elif kind == "size" and len(data) > 24:  # width/height fields sit in the first bytes of every format
            field = draw(st.integers(0, min(24, len(data) - 4)))
            data[field:field + 4] = draw(st.binary(min_size=4, max_size=4))
    return fmt, bytes(data)


sigmas = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "0", "-0", "1e309", "-1", "nan", "inf", "blind", "null", "2,5", "0x10", "32", "32.0001",
                     "1_0", "\x00", "８"]),
)


def rss_mib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.slow
@pytest.mark.parametrize("route", ["/v1/sharpen", "/v1/read"])
def test_fuzzed_images_and_sigmas_never_get_a_5xx(engine, read_service, route):
    # A small pixel limit keeps each example fast; the parsers see everything the mutations make.
    client = make_app(engine, READER=read_service, MAX_IMAGE_PIXELS=128 * 128).test_client()
    statuses = collections.Counter()
    failures = []
    for fmt, data in SEEDS:  # warm up every path before memory is read
        client.post(route, data=data, content_type=FORMATS[fmt])
    rss_start = rss_mib()
    started = time.perf_counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(image=mutated_images(), sigma=sigmas, form=st.sampled_from(["multipart", "raw", "json"]))
    def one_request(image, sigma, form):
        fmt, data = image
        if form == "multipart":
            fields = {"image": (io.BytesIO(data), f"x.{fmt.lower()}")}
            if sigma is not None:
                fields["sigma"] = sigma
            response = client.post(route, data=fields, content_type="multipart/form-data")
        elif form == "raw":
            response = client.post(route, data=data, content_type=FORMATS[fmt],
                                   query_string={} if sigma is None else {"sigma": sigma})
        else:
            response = client.post(route, json={"image": base64.b64encode(data).decode(), "sigma": sigma})
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append((fmt, form, sigma, response.get_data(as_text=True)[:200]))
        elif response.status_code != 200:
            assert response.get_json()["error"]["message"]

    one_request()
    elapsed = time.perf_counter() - started
    rss_end = rss_mib()
    print(f"\nfuzz {route}: {sum(statuses.values())} requests in {elapsed:.0f} s; statuses "
          f"{dict(sorted(statuses.items()))}; responses >= 500: {len(failures)}; "
          f"RSS {rss_start:.0f} -> {rss_end:.0f} MiB")
    assert failures == []
    assert statuses[200] > 0 and len(statuses) > 2  # the mutations reach both the decoder and the model
    assert client.get("/healthz").status_code == 200
    assert rss_end - rss_start < 200, "memory grew under fuzzing"
