"""The pixels-only dev set: its committed manifest matches its files, and the builder renders real samples."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.data.chromium_devset import CHROMIUM, read_manifest
from models.data.pixset import (KINDS, LANGS, RATIO_BUCKETS, SAMPLE_KEYS, build_pixset, make_specs, read_pixset,
                                sample_html, summary)

PIXSET = Path(__file__).resolve().parents[1] / "models" / "pixset"


@pytest.fixture(scope="module")
def manifest():
    return read_pixset(PIXSET)


def check_sample(folder, sample):
    """One sample's files, sizes, σ fields and line labels agree with each other."""
    sharp = Image.open(folder / sample["sharp"])
    blurred = Image.open(folder / sample["blurred"])
    assert sharp.format == "PNG"
    assert sharp.size == blurred.size == (sample["width"], sample["height"])
    if sample["jpeg_quality"] is None:
        assert blurred.format == "PNG" and sample["blurred"].endswith(".png")
    else:
        assert blurred.format == "JPEG" and 50 <= sample["jpeg_quality"] <= 95
    assert 0.04 - 1e-3 <= sample["sigma_over_font"] <= 0.4 + 1e-3
    assert sample["sigma_px"] == pytest.approx(sample["sigma_over_font"] * sample["font_px"], rel=2e-3, abs=2e-3)
    assert sample["font_px"] >= 7.9
    assert sample["downscaled"] == (sample["scale"] < 1)
    assert sample["blur_kind"] in ("gaussian", "box3") and (sample["blur_kind"] == "gaussian" or sample["sigma_px"] >= 1)
    assert sample["text"] == "\n".join(line["text"] for line in sample["lines"])
    assert sample["font_px"] == pytest.approx(min(line["font_px"] for line in sample["lines"]), abs=0.01)
    for line in sample["lines"]:
        assert line["text"].strip() == line["text"] and line["text"]
        x, y, w, h = line["box"]
        assert x >= 0 and y >= 0 and w > 0 and h > 0
        assert x + w <= sample["width"] and y + h <= sample["height"]
        assert line["sigma_over_font"] <= sample["sigma_over_font"] + 1e-3
        assert h >= 0.8 * line["font_px"]  # a line box holds its font's height
    # the picture is blurred: the blurred copy differs from the sharp one
    assert not np.array_equal(np.asarray(sharp.convert("RGB")), np.asarray(blurred.convert("RGB")))


def test_committed_manifest_matches_its_files(manifest):
    samples = manifest["samples"]
    assert len({s["id"] for s in samples}) == len(samples)
    named = {s[key] for s in samples for key in ("sharp", "blurred")} | {"manifest.json"}
    assert {p.name for p in PIXSET.iterdir()} == named  # no stray or missing files
    for sample in samples:
        check_sample(PIXSET, sample)
    read_manifest(PIXSET)  # evaluate.py's reader accepts it too
    assert sum(p.stat().st_size for p in PIXSET.iterdir()) <= 15 * 1000 * 1000


def test_committed_set_spans_languages_kinds_and_blurs(manifest):
    samples = manifest["samples"]
    assert 100 <= len(samples) <= 150
    counts = summary(samples)
    assert set(counts["lang"]) == set(LANGS) and counts["lang"]["en"] >= len(samples) // 3
    assert all(counts["lang"][lang] >= 15 for lang in ("ko", "ja", "zh"))
    assert set(counts["kind"]) == set(KINDS)
    assert len(counts["sigma_over_font"]) == len(RATIO_BUCKETS) and min(counts["sigma_over_font"].values()) >= 20
    assert set(counts["theme"]) == {"light", "dark"} and set(counts["blur_kind"]) == {"gaussian", "box3"}
    assert counts["downscaled"][True] >= 20 and counts["jpeg"][True] >= 20
    assert sum(len(s["lines"]) > 1 for s in samples) >= 30 and sum(len(s["lines"]) == 1 for s in samples) >= 10
    sizes = [s["font_px"] for s in samples]
    assert min(sizes) < 12 and max(sizes) > 30


def test_specs_are_deterministic_and_balanced():
    assert make_specs(24, seed=1) == make_specs(24, seed=1)
    assert make_specs(24, seed=1) != make_specs(24, seed=2)
    specs = make_specs(120, seed=0)
    assert Counter(s["lang"] for s in specs) == {"en": 60, "ko": 20, "ja": 20, "zh": 20}
    buckets = Counter(next(i for i, (_, high) in enumerate(RATIO_BUCKETS) if s["ratio"] <= high) for s in specs)
    assert set(buckets.values()) == {30}


def test_sample_html_escapes_text():
    spec = make_specs(6, seed=0)[0]
    spec["blocks"][0] = dict(spec["blocks"][0], text="<b>&</b>", left="<i>", right="&lt;")
    page = sample_html(spec)
    assert "<b>" not in page and "<i>" not in page


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium")
def test_builder_renders_two_samples(tmp_path):
    specs = make_specs(120, seed=0)
    # a multi-line CJK receipt and an English document fragment
    picks = [next(s["index"] for s in specs if s["lang"] != "en" and s["kind"] == "receipt"),
             next(s["index"] for s in specs if s["lang"] == "en" and s["kind"] == "document")]
    built = build_pixset(tmp_path, count=120, seed=0, only=picks, log=lambda message: None)
    assert [s["id"] for s in built["samples"]] == [specs[i]["id"] for i in picks]
    manifest = read_pixset(tmp_path)
    assert manifest == json.loads(json.dumps(built))
    for sample, index in zip(manifest["samples"], picks):
        assert all(key in sample for key in SAMPLE_KEYS)
        check_sample(tmp_path, sample)
        assert len(sample["lines"]) >= 2
        spec = specs[index]
        assert sample["sigma_over_font"] == pytest.approx(spec["ratio"], abs=2e-3)
        written = "".join(b["text"] if b["text"] is not None else b["left"] + b["right"] for b in spec["blocks"])
        assert "".join(sample["text"].split()) == "".join(written.split())  # every character, in order
        # lines run top to bottom, and the sharp picture has ink inside each line box
        sharp = np.asarray(Image.open(tmp_path / sample["sharp"]).convert("L")).astype(int)
        tops = [line["box"][1] for line in sample["lines"]]
        assert tops == sorted(tops)
        for line in sample["lines"]:
            x, y, w, h = line["box"]
            assert np.ptp(sharp[y:y + h, x:x + w]) > 60
