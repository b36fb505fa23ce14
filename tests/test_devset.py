"""The committed Chromium dev set: well-formed, aligned, and blurred the way models/data/blur.py says."""
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from models.data.blur import box3_blur, gaussian_blur
from models.data.chromium_devset import (BLUR_RADII, CHROMIUM, RADIUS_GROUPS, KernelMatch, launch, load_pair,
                                    make_elements, page_html, read_manifest, render_captures, stored_radii,
                                    to_tensor, to_uint8)
from models.evaluation.evaluate import sigma_bucket

DEVSET = Path(__file__).resolve().parents[1] / "models" / "devset"


@pytest.fixture(scope="module")
def manifest():
    return read_manifest(DEVSET)


def test_manifest_samples_are_consistent(manifest):
    ids = [s["id"] for s in manifest["samples"]]
    assert len(ids) == len(set(ids))
    for sample in manifest["samples"]:
        assert sample["raster"] in ("software", "gpu")
        assert sample["dpr"] in (1, 2)
        assert sample["blur_css"] in BLUR_RADII
        assert sample["sigma_px"] == pytest.approx(sample["blur_css"] * sample["dpr"])
        assert sample["lang"] in ("en", "ko", "zh", "ja")
        assert sample["text"].strip()
        assert 9 <= sample["size_css"] <= 40


def test_pairs_are_aligned_and_sized_as_recorded(manifest):
    for sample in manifest["samples"]:
        sharp, blurred = load_pair(DEVSET, sample)
        assert sharp.shape == blurred.shape == (sample["height"], sample["width"], 3)


def test_every_bucket_path_and_language_is_covered(manifest):
    samples = manifest["samples"]
    buckets = Counter((s["raster"], sigma_bucket(s["sigma_px"])) for s in samples)
    for raster in ("software", "gpu"):
        for bucket in ("<=1", "1-2", "2-4", ">4"):
            assert buckets[(raster, bucket)] >= 40, (raster, bucket, buckets)
    assert {s["lang"] for s in samples} == {"en", "ko", "zh", "ja"}
    assert {s["dpr"] for s in samples} == {1, 2}
    assert any(s["sigma_px"] == 0 for s in samples)


def test_devset_is_large_enough_to_judge_and_small_enough_to_commit(manifest):
    assert len(manifest["elements"]) >= 54
    assert sum(s["kind"] == "paragraph" for s in manifest["samples"]) >= len(manifest["samples"]) // 6
    assert sum(s["sigma_px"] >= 2 for s in manifest["samples"]) >= len(manifest["samples"]) // 2
    assert sum(p.stat().st_size for p in DEVSET.iterdir()) <= 10 * 1000 * 1000


@pytest.fixture
def one_torch_thread():
    """Small convolutions run fastest on one thread, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_software_raster_is_box3_and_gpu_raster_is_gaussian(manifest, one_torch_thread):
    """The check that ties models/data/blur.py to the browser: each kernel reproduces its own path."""
    match = KernelMatch()
    for sample in manifest["samples"]:
        if sample["sigma_px"] >= 1 and sample["dpr"] == 1:  # DPR 1 crops are small: this stays quick
            sharp, blurred = load_pair(DEVSET, sample)
            match.add(sample["raster"], sample["sigma_px"], sharp, blurred)
    rows = match.rows()
    assert {row["raster"] for row in rows} == {"software", "gpu"}
    for row in rows:
        right, wrong = ("box3", "gaussian") if row["raster"] == "software" else ("gaussian", "box3")
        assert row[f"{right}_psnr"] > 50, row
        assert row[f"{right}_psnr"] > row[f"{wrong}_psnr"] + 3, row
        assert row[f"{right}_psnr"] > row["identity_psnr"] + 20, row


def test_software_raster_skips_sigma_below_0_8(manifest):
    small = [s for s in manifest["samples"] if s["raster"] == "software" and 0 < s["sigma_px"] < 0.8]
    assert small
    for sample in small:
        sharp, blurred = load_pair(DEVSET, sample)
        assert np.abs(sharp.astype(int) - blurred.astype(int)).mean() < 0.01


def test_elements_are_deterministic_and_varied():
    assert make_elements(18, seed=3) == make_elements(18, seed=3)
    assert make_elements(18, seed=3) != make_elements(18, seed=4)
    elements = make_elements(18, seed=0)
    assert {e["lang"] for e in elements} == {"en", "ko", "zh", "ja"}
    assert len({e["scheme"] for e in elements}) >= 4
    assert stored_radii(5, 2, seed=0) == stored_radii(5, 2, seed=0)
    for dpr, groups in RADIUS_GROUPS.items():
        radii = stored_radii(7, dpr, seed=1)
        assert all(r in group for r, group in zip(radii, groups))


def test_page_html_escapes_text():
    element = dict(make_elements(1)[0], text="<b>&amp;</b>")
    html = page_html([element])
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in html and "<b>" not in html


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium")
def test_browser_capture_is_aligned_and_box3_blurred():
    from playwright.sync_api import sync_playwright

    element = make_elements(2, seed=0)[1]  # a sentence
    with sync_playwright() as playwright:
        browser = launch(playwright, "software")
        try:
            (_, sharp, blurred), = render_captures(browser, [element], dpr=1, radii=(0, 2))
        finally:
            browser.close()
    assert sharp.shape == blurred[2].shape == blurred[0].shape
    assert np.array_equal(sharp, blurred[0])
    expected = to_uint8(box3_blur(to_tensor(sharp), 2.0))
    error = np.abs(expected.astype(int) - blurred[2].astype(int))
    assert error.max() <= 3
    assert not np.array_equal(sharp, blurred[2])
    # the margin holds the blur spread: the crop border is untouched background
    assert np.array_equal(blurred[2][0], sharp[0]) and np.array_equal(blurred[2][:, -1], sharp[:, -1])
    assert not np.array_equal(to_uint8(gaussian_blur(to_tensor(sharp), 2.0)), blurred[2])
