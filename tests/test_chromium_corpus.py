"""The Chromium-rendered training corpus: its elements, the builder on two elements, and the batch mixer."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from models import read_checkpoint
from models.data import chromium_devset, synth
from models.training import train as train_module
from models.data.blur import box3_blur, gaussian_blur
from models.data.chromium_corpus import (CorpusPairs, build_corpus, corpus_count, corpus_sample, element_sigmas,
                                    make_element, mixed_batch, patch_of, shard_indexes, write_shard)
from models.data.chromium_devset import CHROMIUM, psnr_uint8, to_tensor, to_uint8
from models.data.synth import SynthConfig, make_batch


def test_elements_are_deterministic_and_spread_over_the_hard_styles():
    assert make_element(0, 5) == make_element(0, 5)
    assert make_element(0, 5) != make_element(1, 5)
    elements = [make_element(0, i) for i in range(400)]
    assert [e["id"] for e in elements] == list(range(400))
    langs = Counter(e["lang"] for e in elements)
    assert set(langs) == {"en", "ko", "zh", "ja"} and all(langs[k] >= 30 for k in ("ko", "zh", "ja"))
    assert set(Counter(e["scheme"] for e in elements)) >= {"light_on_dark", "low_contrast", "button", "link"}
    assert {e["font_class"] for e in elements} == {"sans", "serif", "mono"}
    assert any(e["bold"] for e in elements) and any(e["kind"] == "paragraph" for e in elements)
    sizes = np.array([e["size_css"] for e in elements])
    assert sizes.min() >= 9 and sizes.max() <= 40
    assert np.mean((sizes >= 11) & (sizes <= 16)) > 0.5
    for element in elements:
        assert element["text"].strip()
        assert chromium_devset.element_css(element)  # the dev set's renderer takes the corpus's elements


def test_texts_come_from_the_training_pools_not_the_dev_sets():
    pool_chars = set("".join(synth.CHINESE) + "".join(synth.JAPANESE) + "".join(synth.KOREAN) + " ")
    pool_words = {w.lower() for w in synth.WORDS}
    prose = 0
    for element in (make_element(3, i) for i in range(200)):
        assert not any(sentence in element["text"] for sentence in chromium_devset.SENTENCES)
        if element["lang"] != "en":
            assert set(element["text"]) <= pool_chars, element["text"]
        else:
            words = [w.strip(".,:?!").lower() for w in element["text"].split()]
            prose += sum(w in pool_words for w in words) > len(words) / 2
    assert prose > 30


def test_sigmas_put_most_mass_at_two_to_eight_device_px_with_some_identity_pairs():
    sigmas = np.array([element_sigmas(0, i, raster, dpr) for i in range(300) for raster in ("software", "gpu")
                       for dpr in (1, 2)])
    first, rest = sigmas[:, 0], sigmas[:, 1:]
    assert 0.1 < np.mean(first == 0) < 0.3
    assert ((first == 0) | ((first >= 0.5 - 1e-9) & (first <= 2.0 + 1e-9))).all()
    assert ((rest >= 2.0 - 0.02) & (rest <= 8.0 + 0.02)).all()
    assert (rest[:, 0] <= 4.02).all() and ((rest[:, 1] >= 3.98) & (rest[:, 1] <= 6.02)).all() and (rest[:, 2] >= 5.98).all()
    assert np.mean(sigmas >= 2) > 0.7
    assert element_sigmas(0, 7, "gpu", 2) == element_sigmas(0, 7, "gpu", 2) != element_sigmas(0, 7, "software", 2)
    # a CSS radius of two decimals at either DPR
    for dpr in (1, 2):
        radii = np.array([element_sigmas(1, i, "gpu", dpr) for i in range(50)]) / dpr
        assert np.allclose(radii, np.round(radii, 2))


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium")
def test_builder_on_two_elements_renders_aligned_pairs_and_reruns_idempotently(tmp_path):
    out = tmp_path / "corpus"
    first = build_corpus(out, 1, seed=0, p_identity=1.0, log=lambda *_: None)
    assert first["elements_rendered"] == 1 and first["pairs_written"] == 2 * 2 * 4
    (one,) = shard_indexes(out)
    one_bytes = one.read_bytes()
    second = build_corpus(out, 2, seed=0, p_identity=1.0, log=lambda *_: None)
    assert second["elements_rendered"] == 1 and second["shards"] == 2  # only element 1 was rendered
    assert one.read_bytes() == one_bytes
    again = build_corpus(out, 2, seed=0, p_identity=1.0, log=lambda *_: None)
    assert again["elements_rendered"] == 0 and again["pairs_written"] == 0 and again["pairs_total"] == 32
    with pytest.raises(SystemExit, match="other settings"):
        build_corpus(out, 2, seed=1, log=lambda *_: None)

    corpus = CorpusPairs(out)
    assert len(corpus) == 32
    assert Counter((p["element"], p["raster"], p["dpr"]) for p in corpus.pairs) == {
        (e, r, d): 4 for e in (0, 1) for r in ("software", "gpu") for d in (1, 2)}
    for number, meta in enumerate(corpus.pairs):
        sharp, blurred, _ = corpus.pair(number)
        assert sharp.shape == blurred.shape and sharp.dtype == np.uint8 and sharp.ndim == 3
        margin = 3 * 8 + 8
        assert sharp.shape[0] > 2 * margin and sharp.shape[1] > 2 * margin
        assert meta["sigma"] == pytest.approx(meta["blur_css"] * meta["dpr"])
        assert meta["sigma"] == pytest.approx(element_sigmas(0, meta["element"], meta["raster"], meta["dpr"],
                                                             p_identity=1.0)[number % 4])
        if meta["sigma"] == 0:  # the browser's blur(0px): near-identical (GPU raster moves a few pixels a level)
            assert psnr_uint8(sharp, blurred) > 50
            if meta["raster"] == "software":  # a pixel may move one level, as in the dev set
                assert np.abs(sharp.astype(int) - blurred.astype(int)).max() <= 1
            continue
        # the recorded sigma is the one Chromium blurred with: each path's kernel reproduces it
        kernel = box3_blur if meta["raster"] == "software" else gaussian_blur
        expected = to_uint8(kernel(to_tensor(sharp), meta["sigma"]))
        assert psnr_uint8(expected, blurred) > 45, meta
        assert psnr_uint8(sharp, blurred) < 35, meta
        # the margin holds the blur spread: the crop's border is the element's background
        assert np.abs(blurred[0].astype(int) - sharp[0].astype(int)).max() <= 2


def _tiny_corpus(folder):
    """Two fake elements (no browser): a 60x90 crop with a blurred twin, and a 10x12 one whose
    border is a colour the rest of the batch never has."""
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, size=(60, 90, 3), dtype=np.uint8)
    small = np.empty((10, 12, 3), np.uint8)
    small[:] = (201, 103, 57)
    small[3:7, 4:8] = 20
    crops = [big, big // 2, small, small]
    pairs = [{"element": 0, "raster": "gpu", "dpr": 1, "sigma": 3.0, "blur_css": 3.0, "lang": "en", "kind": "line",
              "sharp": 0, "blurred": 1},
             {"element": 1, "raster": "software", "dpr": 2, "sigma": 0.0, "blur_css": 0.0, "lang": "ko",
              "kind": "line", "sharp": 2, "blurred": 3}]
    folder.mkdir()
    write_shard(folder, [{"id": 0}, {"id": 1}], crops, pairs, seed=0)
    return CorpusPairs(folder)


CONFIG = SynthConfig(patch=32, max_sigma=4.0)


def test_mixed_batches_honour_the_share_and_keep_the_pillow_samples(tmp_path):
    corpus = _tiny_corpus(tmp_path / "c")
    blurred, sharp, sigma = mixed_batch(4, 3, 8, CONFIG, corpus, 0.25)
    assert corpus_count(8, 0.25) == 2 and corpus_count(8, 0.0) == 0 and corpus_count(6, 0.5) == 3
    plain = make_batch(4, 3, 8, CONFIG)
    assert torch.equal(blurred[:6], plain[0][:6]) and torch.equal(sharp[:6], plain[1][:6])
    assert torch.equal(sigma[:6], plain[2][:6])
    for i in (6, 7):
        b, s, sg, kind = corpus_sample(corpus, 4, 3 * 8 + i, 32)
        assert torch.equal(blurred[i], torch.from_numpy(b).permute(2, 0, 1).float() / 255)
        assert torch.equal(sharp[i], torch.from_numpy(s).permute(2, 0, 1).float() / 255)
        assert sigma[i].item() == sg and sg in (0.0, 3.0) and kind == ("gaussian" if sg else "box3")
    for got, want in zip(mixed_batch(4, 3, 8, CONFIG, corpus, 0.25), (blurred, sharp, sigma)):
        assert torch.equal(got, want)  # deterministic
    assert not torch.equal(mixed_batch(4, 4, 8, CONFIG, corpus, 0.25)[1][6:], sharp[6:])
    # corpus off, or a share of nothing: exactly the Pillow stream
    for got, want in zip(mixed_batch(4, 3, 8, CONFIG, corpus, 0.0), plain):
        assert torch.equal(got, want)


def test_corpus_patches_are_aligned_crops_and_small_ones_padded_with_their_own_edge(tmp_path):
    corpus = _tiny_corpus(tmp_path / "c")
    big_sharp, big_blurred, _ = corpus.pair(0)
    seen = set()
    for index in range(40):
        blurred, sharp, sigma, _ = corpus_sample(corpus, 0, index, 32)
        assert blurred.shape == sharp.shape == (32, 32, 3)
        if sigma == 3.0:  # inside the 60x90 pair: the same window of both
            rows = [r for r in range(60 - 31) for c in range(90 - 31)
                    if np.array_equal(big_sharp[r:r + 32, c:c + 32], sharp)]
            assert len(rows) == 1
            top = rows[0]
            left = next(c for c in range(90 - 31) if np.array_equal(big_sharp[top:top + 32, c:c + 32], sharp))
            assert np.array_equal(big_blurred[top:top + 32, left:left + 32], blurred)
            seen.add("big")
        else:  # 10x12 padded to 32x32 with its border colour, never black, the dark square kept
            assert np.array_equal(blurred, sharp)
            border = np.all(sharp == (201, 103, 57), axis=2)
            assert border.sum() == 32 * 32 - 16 and np.sum(np.all(sharp == 20, axis=2)) == 16
            assert not np.any(np.all(sharp == 0, axis=2))
            seen.add(tuple(np.argwhere(~border)[0]))
    assert "big" in seen and len(seen) > 3  # the small crop lands at different places in the patch
    a = patch_of(np.random.default_rng(1), (big_sharp, big_blurred), 32)
    b = patch_of(np.random.default_rng(1), (big_sharp, big_blurred), 32)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_loader_worker_gives_the_same_mixed_batches_as_the_main_process(tmp_path):
    corpus = _tiny_corpus(tmp_path / "c")
    config = train_module.TrainConfig(steps=3, batch_size=4, patch=32, corpus=str(tmp_path / "c"), corpus_share=0.5)
    dataset = train_module.SyntheticBatches(config, 0, 0, SynthConfig(patch=32), corpus)
    corpus.pair(0)  # a map opened here must not travel to the worker
    inline = [dataset[i] for i in range(3)]
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=1)
    for (b, s, sg, _), (b2, s2, sg2, _) in zip(inline, loader):
        assert torch.equal(b, b2) and torch.equal(s, s2) and torch.equal(sg, sg2)
    off = train_module.SyntheticBatches(train_module.TrainConfig(steps=3, batch_size=4, patch=32), 0, 0,
                                        SynthConfig(patch=32))
    b, s, sg, _ = off[1]
    plain = make_batch(0, 1, 4, SynthConfig(patch=32))
    assert torch.equal(b, plain[0]) and torch.equal(s, plain[1])


def test_blind_dropout_applies_to_corpus_samples_as_to_pillow_ones(tmp_path):
    corpus = _tiny_corpus(tmp_path / "c")
    config = train_module.TrainConfig(steps=200, batch_size=4, patch=32, corpus_share=0.5, blind_fraction=0.3)
    dataset = train_module.SyntheticBatches(config, 0, 0, SynthConfig(patch=32), corpus)
    sigmas = torch.stack([dataset[i][2] for i in range(40)])
    dropped = (sigmas[:, 2:] == -1).float().mean().item()
    assert 0.15 < dropped < 0.45
    assert set(sigmas[:, 2:].unique().tolist()) <= {-1.0, 0.0, 3.0}


def test_two_training_steps_with_a_corpus_in_a_loader_worker(tmp_path, capsys):
    _tiny_corpus(tmp_path / "c")
    args = ["--steps", "2", "--batch-size", "4", "--patch", "32", "--val-samples", "2", "--warmup", "1",
            "--workers", "1", "--out", str(tmp_path / "run"), "--model-overrides", '{"width": 8}',
            "--corpus", str(tmp_path / "c"), "--corpus-share", "0.5"]
    model = train_module.main(args)
    assert "corpus " + str(tmp_path / "c") + ": 2 pairs, 2 of every 4 samples" in capsys.readouterr().out
    last = read_checkpoint(tmp_path / "run" / "last.pt")
    assert last["step"] == 2 and last["extra"]["train"]["corpus"] == str(tmp_path / "c")
    assert last["extra"]["train"]["corpus_share"] == 0.5
    assert all(torch.isfinite(p).all() for p in model.parameters())
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no shards"):
        train_module.main(args[:-4] + ["--corpus", str(tmp_path / "empty")])


def test_a_shard_without_its_index_is_not_part_of_the_corpus(tmp_path):
    corpus = _tiny_corpus(tmp_path / "c")
    (index,) = shard_indexes(tmp_path / "c")
    data = json.loads(index.read_text())
    assert len(data["pairs"]) == len(corpus) == 2
    index.unlink()  # as if the builder died before writing it: the elements get rendered again
    assert len(CorpusPairs(tmp_path / "c")) == 0
