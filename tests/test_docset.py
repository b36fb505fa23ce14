"""The committed document-preview set: our own pages, degraded as document sites serve them."""
from pathlib import Path

import numpy as np
import pytest

from models.data.chromium_devset import load_pair, read_manifest
from models.data.docset import degrade, make_pages, page_html

DOCSET = Path(__file__).resolve().parents[1] / "models" / "docset"


def test_pages_are_deterministic_and_degradations_in_range():
    assert make_pages(12, seed=1) == make_pages(12, seed=1)
    assert make_pages(12, seed=1) != make_pages(12, seed=2)
    pages = make_pages(24)
    assert {p["lang"] for p in pages} == {"en", "ko"}
    for page in pages:
        assert 0.35 <= page["scale"] <= 1.0 and 1.0 <= page["sigma"] <= 5.0 and 70 <= page["quality"] <= 90


def test_page_html_escapes_text():
    page = dict(make_pages(1)[0], body="<script>x</script>")
    assert "<script>" not in page_html(page) and "&lt;script&gt;" in page_html(page)


def test_degrade_downscales_blurs_and_compresses():
    rng = np.random.default_rng(0)
    original = np.full((200, 300, 3), 255, np.uint8)
    original[60:140:4, 20:280] = rng.integers(0, 60, size=(20, 260, 3))
    sharp, blurred, jpeg = degrade(original, scale=0.5, sigma=2.0, quality=80)
    assert sharp.shape == blurred.shape == (100, 150, 3)
    assert jpeg[:2] == b"\xff\xd8"
    assert np.abs(np.diff(blurred.astype(float), axis=0)).mean() < np.abs(np.diff(sharp.astype(float), axis=0)).mean() / 2


def test_committed_docset_is_well_formed():
    manifest = read_manifest(DOCSET)
    samples = manifest["samples"]
    assert len(samples) >= 20 and {s["raster"] for s in samples} == {"document"}
    for sample in samples:
        sharp, blurred = load_pair(DOCSET, sample)
        assert sharp.shape == blurred.shape == (sample["height"], sample["width"], 3)
        assert sample["text"].strip() and sample["kind"] == "paragraph"
    assert sum(p.stat().st_size for p in DOCSET.iterdir()) <= 2 * 1000 * 1000
