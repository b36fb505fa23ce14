"""OCR scoring, the classical baselines, and the evaluator end to end on a tiny dev set."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from models import build_model, save_checkpoint
from models.evaluation.baselines import BASELINES, gaussian_psf, richardson_lucy, unsharp_mask, wiener
from models.data.blur import gaussian_blur
from models.data.splits import split_of
from models.evaluation.evaluate import main as evaluate_main
from models.evaluation.evaluate import OcrCache, by_css_blur, parse_checkpoints, sigma_bucket
from models.evaluation.ocr import cer, edit_distance, normalize_text, ocr_scale, prepare, read_text

DEVSET = Path(__file__).resolve().parents[1] / "models" / "devset"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def test_edit_distance_known_values():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance("same", "same") == 0


def test_cer_known_strings():
    assert cer("abc", "abc") == 0
    assert cer("abd", "abc") == pytest.approx(1 / 3)
    assert cer("ab", "abcd") == pytest.approx(0.5)
    assert cer("", "abc") == 1.0
    assert cer("", "") == 0.0 and cer("x", "") == 1.0
    assert cer("completely different and much longer", "abc") == 1.0  # capped
    assert cer("Hello   world\n", " Hello world") == 0
    assert cer("“quoted” — ok", '"quoted" - ok') == 0


def test_cer_ignores_spaces_only_for_cjk():
    assert cer("欢迎 光临", "欢迎光临", lang="zh") == 0
    assert cer("안녕 하세요", "안녕하세요", lang="ko") == 0
    assert cer("helloworld", "hello world", lang="en") == pytest.approx(1 / 11)
    assert normalize_text("ＡＢＣ１", "en") == "ABC1"  # NFKC folds full-width forms


def test_ocr_scale_and_polarity():
    assert ocr_scale(10) == 4.0 and ocr_scale(80) == 1.0 and ocr_scale(20) == pytest.approx(2.0)
    dark = np.zeros((10, 20, 3), np.uint8)
    dark[4:6, 5:15] = 230
    grey = np.asarray(prepare(dark, scale=2.0))
    assert grey.shape == (20, 40)
    assert np.median(grey) > 200 and grey.min() < 60  # inverted to dark text on a light page


def _text_image(text, size=40, fg=(20, 20, 20), bg=(255, 255, 255)):
    font = ImageFont.truetype(FONT, size)
    image = Image.new("RGB", (size * len(text), size * 2), bg)
    ImageDraw.Draw(image).text((size // 2, size // 3), text, font=font, fill=fg)
    return np.asarray(image)


def test_tesseract_reads_clean_text_in_both_polarities():
    assert cer(read_text(_text_image("Quartz 42"), "en"), "Quartz 42") == 0
    light_on_dark = _text_image("Quartz 42", fg=(240, 240, 240), bg=(20, 30, 40))
    assert cer(read_text(light_on_dark, "en"), "Quartz 42") == 0
    with pytest.raises(ValueError):
        read_text(_text_image("x"), "fr")


def test_a_tesseract_crash_reads_as_nothing(monkeypatch):
    import pytesseract

    def crash(*args, **kwargs):
        raise pytesseract.TesseractError(-8, "")  # what Tesseract 5.3's SIGFPE on noise looks like

    monkeypatch.setattr(pytesseract, "image_to_string", crash)
    assert read_text(_text_image("Quartz"), "en") == ""


def _bars(h=40, w=56):
    image = np.full((h, w, 3), 0.9)
    image[8:32, 10:14] = 0.1
    image[8:32, 22:24] = 0.1
    image[18:21, 30:48] = 0.2
    return image


def test_baselines_keep_shape_range_and_identity_at_sigma_zero():
    image = _bars()
    for name, baseline in BASELINES.items():
        out = baseline(image, 1.5)
        assert out.shape == image.shape and out.dtype == np.float64, name
        assert 0.0 <= out.min() and out.max() <= 1.0, name
        assert np.array_equal(baseline(image, 0.0), image), name
    assert not np.array_equal(unsharp_mask(image, None), image)  # unknown sigma: sharpen at radius 1
    assert gaussian_psf(2.0).sum() == pytest.approx(1.0) and gaussian_psf(2.0).shape == (13, 13)


@pytest.mark.parametrize("deblur, gain", [(wiener, 0.5), (richardson_lucy, 0.8)])  # RL converges slowly
def test_deconvolution_undoes_a_known_gaussian(deblur, gain):
    sharp = _bars()
    x = torch.from_numpy(sharp).permute(2, 0, 1)[None]
    blurred = gaussian_blur(x, 1.5)[0].permute(1, 2, 0).numpy()
    before = np.mean((blurred - sharp) ** 2)
    after = np.mean((deblur(blurred, 1.5) - sharp) ** 2)
    assert after < gain * before


def test_sigma_buckets_and_checkpoint_option():
    assert [sigma_bucket(s) for s in (0, 0.5, 1, 1.5, 2, 3, 4, 6)] == ["<=1"] * 3 + ["1-2"] * 2 + ["2-4"] * 2 + [">4"]
    assert parse_checkpoints(["tiny=/tmp/a.pt"]) == {"tiny": Path("/tmp/a.pt")}
    for bad in (["tiny"], ["=x.pt"], ["tiny="]):
        with pytest.raises(ValueError):
            parse_checkpoints(bad)


@pytest.fixture
def tiny_devset(tmp_path):
    """Three short Latin samples of the committed dev set: unblurred, sigma 1-2, and sigma > 4."""
    manifest = json.loads((DEVSET / "manifest.json").read_text(encoding="utf-8"))
    latin = [s for s in manifest["samples"] if s["lang"] == "en" and s["kind"] in ("word", "price", "ui")]
    picked = [next(s for s in latin if test(s["sigma_px"]))
              for test in (lambda v: v == 0, lambda v: 1 < v <= 2, lambda v: v > 4)]
    folder = tmp_path / "devset"
    folder.mkdir()
    for sample in picked:
        for key in ("sharp", "blurred"):
            shutil.copy(DEVSET / sample[key], folder / sample[key])
    (folder / "manifest.json").write_text(json.dumps(dict(manifest, samples=picked), ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_evaluator_end_to_end_with_a_tiny_checkpoint(tiny_devset, tmp_path, capsys):
    torch.manual_seed(0)
    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(checkpoint, build_model("nafunet", width=8))
    out = tmp_path / "eval"
    evaluate_main(["--devset", str(tiny_devset), "--models", "", "--checkpoint", f"tiny={checkpoint}",
                   "--out", str(out), "--limit", "3", "--ocr-cache", str(tmp_path / "ocr.json")])

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["samples"] == 3
    assert results["methods"] == ["input", "unsharp_mask", "richardson_lucy", "wiener", "tiny/blind", "tiny/sigma", "sharp"]
    for method in results["methods"]:
        cells = results["summary"][method]
        assert set(cells) == {"<=1", "1-2", ">4", "all"}
        for cell in cells.values():
            assert 0 <= cell["cer"] <= 1 and 0 < cell["psnr"] <= 60 and -1 <= cell["ssim"] <= 1
    assert results["summary"]["sharp"]["all"]["psnr"] == 60 and results["summary"]["sharp"]["all"]["ssim"] == 1
    assert results["summary"]["input"]["<=1"]["psnr"] == 60  # the unblurred sample is its own sharp capture
    assert results["summary"]["input"][">4"]["psnr"] < 30
    assert results["identity"]["input"] == {"n": 1, "mean_psnr": 60, "min_psnr": 60}
    assert {"tiny/blind", "tiny/sigma"} <= set(results["identity"])
    for record in results["per_sample"]:
        assert set(record["methods"]) == set(results["methods"])
        assert record["methods"]["sharp"]["cer"] == pytest.approx(cer(record["methods"]["sharp"]["ocr"], record["text"]))

    table = (out / "results.md").read_text(encoding="utf-8")
    assert "| method | <=1 (n=1) | 1-2 (n=1) | 2-4 | >4 (n=1) | all (n=3) |" in table
    sides = {split: [r for r in results["per_sample"] if r["split"] == split] for split in ("tune", "test")}
    assert all(r["split"] == split_of(r) for r in results["per_sample"])
    for split, records in sides.items():  # each half summarised on its own records only
        if records:
            assert results["splits"][split]["sharp"]["all"]["n"] == len(records)
            assert f"### The {split} split ({len(records)} samples)" in table
        else:
            assert split not in results["splits"]
    headings = [line for line in table.splitlines() if line.startswith("### The ") or line.startswith("### All")]
    assert headings[-1] == "### All 3 samples" and (not sides["test"] or headings[0].startswith("### The test"))
    radii = sorted({r["blur_css"] for r in results["per_sample"]})
    assert list(results["by_css_blur"]["input"]) == [f"{r:g}" for r in radii]
    assert "### Tesseract CER by CSS blur radius" in table
    for method in results["methods"]:
        assert f"| {method} |" in table
    assert table.strip() in capsys.readouterr().out.strip()
    with Image.open(out / "examples.png") as picture:
        assert picture.width > 100 and picture.height > 50

    # A second run reads every Tesseract result from the cache.
    evaluate_main(["--devset", str(tiny_devset), "--models", "", "--checkpoint", f"tiny={checkpoint}",
                   "--out", str(out), "--ocr-cache", str(tmp_path / "ocr.json")])
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["timing"]["ocr_calls"] == 0


def test_cer_by_css_blur_radius_splits_by_pixel_density():
    rows = [(0.0, 1.0, 0.0), (2.0, 1.0, 0.4), (2.0, 1.0, 0.2), (2.0, 2.0, 0.5), (4.0, 2.0, 0.9)]
    records = [{"blur_css": r, "dpr": d, "methods": {"m": {"cer": c}}} for r, d, c in rows]
    cells = by_css_blur(records, ["m"])["m"]
    assert cells == {"0": {"1": {"n": 1, "cer": 0.0}}, "2": {"1": {"n": 2, "cer": 0.3}, "2": {"n": 1, "cer": 0.5}},
                     "4": {"2": {"n": 1, "cer": 0.9}}}


def test_evaluator_rejects_bad_arguments(tiny_devset, tmp_path):
    with pytest.raises(SystemExit, match="unknown model"):
        evaluate_main(["--devset", str(tiny_devset), "--models", "nope", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="checkpoint not found"):
        evaluate_main(["--devset", str(tiny_devset), "--models", "", "--checkpoint", f"x={tmp_path / 'none.pt'}",
                       "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="no dev set"):
        evaluate_main(["--devset", str(tmp_path / "missing"), "--models", "", "--out", str(tmp_path / "o")])


def test_ocr_cache_save_keeps_what_another_evaluation_saved_meanwhile(tmp_path):
    path = tmp_path / "ocr.json"
    first, second = OcrCache(path), OcrCache(path)  # two runs started on the same (empty) file
    first.entries["a"] = "alpha"
    first.save()
    second.entries["b"] = "beta"
    second.save()
    assert OcrCache(path).entries == {"a": "alpha", "b": "beta"}
    assert not list(tmp_path.glob("*.tmp"))


def test_baselines_option_scores_only_the_classical_methods_asked_for(tiny_devset, tmp_path):
    checkpoint = tmp_path / "tiny.pt"
    save_checkpoint(checkpoint, build_model("nafunet", width=8))
    out = tmp_path / "eval"
    evaluate_main(["--devset", str(tiny_devset), "--models", "", "--checkpoint", f"tiny={checkpoint}",
                   "--out", str(out), "--limit", "2", "--baselines", "wiener", "--ocr-cache", ""])
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["methods"] == ["input", "wiener", "tiny/blind", "tiny/sigma", "sharp"]
    assert results["timing"]["ocr_calls"] <= 2 * 5
    with pytest.raises(SystemExit):
        evaluate_main(["--devset", str(tiny_devset), "--models", "", "--out", str(out), "--baselines", "sharpen"])
