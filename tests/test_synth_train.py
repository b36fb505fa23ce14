"""Synthetic data determinism and the trainer's two-step smoke run."""
import numpy as np
import pytest
import torch

from models import build_model, load_checkpoint, read_checkpoint
from models.training import train as train_module
from models.data.synth import SynthConfig, make_batch, make_sample

SMALL = SynthConfig(patch=32, max_sigma=4.0)


def test_samples_are_deterministic_per_seed_and_index():
    a = make_sample(7, 3, SMALL)
    b = make_sample(7, 3, SMALL)
    c = make_sample(7, 4, SMALL)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2:] == b[2:]
    assert not np.array_equal(a[1], c[1])


def test_batch_shapes_ranges_and_sigma_bounds():
    blurred, sharp, sigma = make_batch(0, 0, 6, SMALL)
    assert blurred.shape == sharp.shape == (6, 3, 32, 32)
    assert blurred.dtype == torch.float32 and 0 <= blurred.min() and blurred.max() <= 1
    assert ((sigma >= 0) & (sigma <= SMALL.max_sigma)).all()


def test_unblurred_samples_are_identical_to_their_target():
    config = SynthConfig(patch=32, p_sharp=1.0, p_jpeg=0.0, p_rescale=0.0)
    blurred, sharp, sigma = make_batch(1, 0, 3, config)
    assert (sigma == 0).all()
    assert torch.equal(blurred, sharp)


def test_blurred_samples_lose_detail():
    config = SynthConfig(patch=48, p_sharp=0.0, p_jpeg=0.0, p_rescale=0.0, p_box3=0.0)
    blurred, sharp, sigma = make_batch(2, 0, 4, config)
    def detail(x):
        return (x[..., 1:, :] - x[..., :-1, :]).abs().mean().item()
    assert detail(blurred) < detail(sharp)


def test_lr_schedule_warms_up_then_decays_to_min():
    config = train_module.TrainConfig(steps=100, warmup=10, lr=1e-3, min_lr=1e-5)
    lrs = [train_module.lr_at(s, config) for s in range(100)]
    assert lrs[0] < lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert train_module.lr_at(100, config) == pytest.approx(1e-5)


def test_sigma_dropout_marks_a_seeded_share_unknown():
    sigma = torch.full((1000,), 2.0)
    dropped = train_module.drop_sigma(sigma, 0.3, torch.Generator().manual_seed(0))
    again = train_module.drop_sigma(sigma, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(dropped, again)
    share = (dropped < 0).float().mean().item()
    assert 0.25 < share < 0.35 and set(dropped.unique().tolist()) == {-1.0, 2.0}


def test_two_step_training_run_writes_resumable_checkpoints(tmp_path):
    args = ["--steps", "2", "--batch-size", "2", "--patch", "32", "--val-samples", "4", "--log-every", "1",
            "--ckpt-every", "1", "--warmup", "1", "--workers", "0", "--out", str(tmp_path),
            "--model-overrides", '{"width": 8}']
    train_module.main(args)
    last = read_checkpoint(tmp_path / "last.pt")
    assert last["step"] == 2 and "optimizer" in last and last["config"]["width"] == 8
    exported = load_checkpoint(tmp_path / "nafunet.pt")
    out = exported(torch.rand(1, 3, 20, 20), torch.tensor([1.5]))
    assert out.shape == (1, 3, 20, 20) and torch.isfinite(out).all()

    train_module.main(args[:1] + ["3"] + args[2:] + ["--resume", str(tmp_path / "last.pt")])
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 3
    resumed = load_checkpoint(tmp_path / "nafunet.pt")
    assert all(torch.isfinite(p).all() for p in resumed.parameters())


def test_resume_rebuilds_the_checkpoints_own_model(tmp_path):
    common = ["--batch-size", "1", "--patch", "32", "--val-samples", "2", "--warmup", "1", "--workers", "0",
              "--out", str(tmp_path)]
    train_module.main(["--model", "robust_unet", "--model-overrides", '{"base": 4}', "--steps", "1"] + common)
    model = train_module.main(["--steps", "2", "--resume", str(tmp_path / "last.pt")] + common)
    assert model.config.name == "robust_unet" and model.config.base == 4
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 2


def test_bf16_training_steps_learn_and_export_an_fp32_loadable_model(tmp_path):
    args = ["--steps", "2", "--batch-size", "2", "--patch", "32", "--val-samples", "2", "--warmup", "1",
            "--workers", "0", "--out", str(tmp_path), "--precision", "bf16", "--model-overrides", '{"width": 8}']
    trained = train_module.main(args)
    torch.manual_seed(0)  # the trainer's own seed: fresh holds the weights training started from
    fresh = build_model("nafunet", width=8)
    assert any(not torch.equal(a, b) for a, b in zip(trained.state_dict().values(), fresh.state_dict().values()))
    assert read_checkpoint(tmp_path / "last.pt")["extra"]["train"]["precision"] == "bf16"
    exported = load_checkpoint(tmp_path / "nafunet.pt")
    out = exported(torch.rand(1, 3, 37, 53), torch.tensor([1.5]))
    assert out.shape == (1, 3, 37, 53) and torch.isfinite(out).all()


def test_warm_start_takes_weights_and_architecture_but_starts_a_new_schedule(tmp_path):
    common = ["--batch-size", "1", "--patch", "32", "--val-samples", "2", "--warmup", "1", "--workers", "0"]
    train_module.main(["--model-overrides", '{"width": 8}', "--steps", "3", "--out", str(tmp_path / "a")] + common)
    source = load_checkpoint(tmp_path / "a" / "nafunet.pt")
    warm = train_module.main(["--steps", "1", "--lr", "0", "--min-lr", "0", "--init-from",
                              str(tmp_path / "a" / "nafunet.pt"), "--out", str(tmp_path / "b")] + common)
    assert warm.config.name == "nafunet" and warm.config.width == 8
    # lr 0: one step changes nothing, so the weights are exactly the source's (fp16-exported) ones
    assert all(torch.equal(a, b) for a, b in zip(warm.state_dict().values(), source.state_dict().values()))
    last = read_checkpoint(tmp_path / "b" / "last.pt")
    assert last["step"] == 1 and last["optimizer"]["state"][0]["step"].item() == 1
    with pytest.raises(SystemExit, match="pick one"):
        train_module.main(["--resume", str(tmp_path / "b" / "last.pt"), "--init-from",
                           str(tmp_path / "a" / "nafunet.pt"), "--out", str(tmp_path / "c")] + common)


def test_hard_sigma_share_moves_samples_into_the_two_to_max_range():
    hard = SynthConfig(patch=32, max_sigma=4.0, p_sharp=0.0, p_hard=1.0)
    sigmas = [make_sample(5, i, hard)[2] for i in range(12)]
    assert all(2.0 <= s <= 4.0 for s in sigmas)
    plain = [make_sample(5, i, SMALL)[2] for i in range(12)]
    assert plain == [make_sample(5, i, SynthConfig(patch=32, max_sigma=4.0, p_hard=0.0))[2] for i in range(12)]


def test_document_previews_are_downscaled_blurred_jpegs_of_their_target():
    doc = SynthConfig(patch=48, p_document=1.0)
    for i in range(4):
        blurred, sharp, sigma, kind = make_sample(9, i, doc)
        assert kind == "document" and 0.5 <= sigma <= 5.0
        assert blurred.shape == sharp.shape == (48, 48, 3)
        assert np.abs(np.diff(blurred.astype(float), axis=1)).mean() < np.abs(np.diff(sharp.astype(float), axis=1)).mean()


def test_readability_loss_run_logs_its_ctc_term_and_records_the_weight(tmp_path, capsys):
    from models.reading.recognizer import build_recognizer
    from models import save_checkpoint

    recognizer = tmp_path / "recognizer.pt"
    save_checkpoint(recognizer, build_recognizer(channels=(8, 8, 8, 8), hidden=8), half=True)
    common = ["--steps", "2", "--batch-size", "1", "--patch", "32", "--val-samples", "2", "--warmup", "1",
              "--workers", "0", "--log-every", "1", "--model-overrides", '{"width": 8}']
    plain = train_module.main(common + ["--out", str(tmp_path / "plain")])
    capsys.readouterr()
    readable = train_module.main(common + ["--out", str(tmp_path / "ocr"), "--ocr-weight", "0.5", "--ocr-lines", "2",
                                           "--recognizer", str(recognizer)])
    assert "ctc" in capsys.readouterr().out
    train = read_checkpoint(tmp_path / "ocr" / "last.pt")["extra"]["train"]
    assert train["ocr_weight"] == 0.5 and train["recognizer"] == str(recognizer)
    assert read_checkpoint(tmp_path / "plain" / "last.pt")["extra"]["train"]["ocr_weight"] == 0.0
    # same seed, same patches: only the readability term can make the weights differ
    assert any(not torch.equal(a, b) for a, b in zip(plain.state_dict().values(), readable.state_dict().values()))
    assert all(torch.isfinite(p).all() for p in readable.parameters())


def test_text_lines_for_the_readability_loss_are_seeded_by_step():
    a = train_module.text_lines(3, 7, 2, 0.5)
    b = train_module.text_lines(3, 7, 2, 0.5)
    c = train_module.text_lines(3, 8, 2, 0.5)
    assert [(x[1], x[2], x[3]) for x in a] == [(x[1], x[2], x[3]) for x in b]
    assert all(torch.equal(x[0], y[0]) for x, y in zip(a, b))
    assert [x[3] for x in a] != [x[3] for x in c]
    model = build_model("nafunet", width=8)
    restored = train_module.restore_lines(model, a, torch.device("cpu"), torch.contiguous_format)
    for crop, (_, _, (top, bottom, left, right), _) in zip(restored, a):
        assert crop.shape == (3, bottom - top, right - left)


def test_warm_start_can_grow_the_saved_architecture(tmp_path, capsys):
    common = ["--batch-size", "1", "--patch", "32", "--val-samples", "2", "--warmup", "1", "--workers", "0"]
    train_module.main(["--model-overrides", '{"width": 8}', "--steps", "2", "--out", str(tmp_path / "a")] + common)
    grown = train_module.main(["--steps", "2", "--init-from", str(tmp_path / "a" / "nafunet.pt"),
                               "--model-overrides", '{"feature_wiener": 2, "wiener_balances": [0.01, 0.001, 0.0001]}',
                               "--out", str(tmp_path / "b")] + common)
    assert grown.config.width == 8 and grown.config.feature_wiener == 2
    assert "1 tensors widened ['intro.weight']" in capsys.readouterr().out
    reloaded = load_checkpoint(tmp_path / "b" / "nafunet.pt")
    assert reloaded.config.wiener_balances == (1e-2, 1e-3, 1e-4) and reloaded.feature_wiener is not None


def test_fresh_parameters_of_a_grown_warm_start_learn_at_their_own_rate_and_keep_it_on_resume(tmp_path):
    common = ["--batch-size", "1", "--patch", "32", "--val-samples", "2", "--warmup", "1", "--workers", "0"]
    train_module.main(["--model-overrides", '{"width": 8}', "--steps", "2", "--out", str(tmp_path / "a")] + common)
    grow = ["--init-from", str(tmp_path / "a" / "nafunet.pt"), "--model-overrides", '{"data_consistency": true}']
    train_module.main(["--steps", "2", "--fresh-lr-scale", "50", "--out", str(tmp_path / "b")] + grow + common)
    last = read_checkpoint(tmp_path / "b" / "last.pt")
    assert sorted(last["extra"]["fresh"]) == ["log_mu.bias", "log_mu.weight"]
    groups = last["optimizer"]["param_groups"]
    assert [g["lr_scale"] for g in groups] == [1.0, 50.0] and groups[1]["lr"] == pytest.approx(50 * groups[0]["lr"])
    assert len(groups[1]["params"]) == 2
    resumed = train_module.main(["--resume", str(tmp_path / "b" / "last.pt"), "--steps", "3",
                                 "--out", str(tmp_path / "b")] + common)
    groups = read_checkpoint(tmp_path / "b" / "last.pt")["optimizer"]["param_groups"]
    assert [g["lr_scale"] for g in groups] == [1.0, 50.0] and resumed.config.data_consistency
    plain = train_module.main(["--steps", "1", "--out", str(tmp_path / "c")] + grow + common)
    assert len(read_checkpoint(tmp_path / "c" / "last.pt")["optimizer"]["param_groups"]) == 1


def test_wide_cjk_pools_hold_each_standards_common_characters():
    from models.data.synth import wide_cjk_pools
    pools = wide_cjk_pools()
    assert {lang: len(pool) for lang, pool in pools.items()} == {"ko": 2350, "zh": 3755, "ja": 2965 + 170}
    assert {"한", "글"} <= set(pools["ko"]) and {"的", "会", "员"} <= set(pools["zh"])
    assert {"漢", "字", "あ", "ア", "ー"} <= set(pools["ja"])
    assert all(len(set(pool)) == len(pool) for pool in pools.values())


def test_wide_cjk_share_draws_glyphs_beyond_the_word_pools_and_leaves_the_default_stream_alone():
    from models.data.synth import CHINESE, KOREAN, random_text, render_sharp, wide_cjk_pools
    rng = np.random.default_rng(0)
    zh = "".join(random_text(rng, "zh", wide=True)[0] for _ in range(20))
    ko = "".join(random_text(rng, "ko", wide=True)[0] for _ in range(20)).replace(" ", "")
    assert set(zh) <= set(wide_cjk_pools()["zh"]) and len(set(zh) - set(CHINESE)) > 50
    assert set(ko) <= set(wide_cjk_pools()["ko"]) and len(set(ko) - set("".join(KOREAN))) > 20
    metas = [render_sharp(np.random.default_rng((3, i)), 64, p_wide_cjk=1.0)[1] for i in range(24)]
    assert all(meta["wide_cjk"] == (meta["lang"] != "latin") for meta in metas)
    assert any(meta["wide_cjk"] for meta in metas)
    default = [make_sample(5, i, SMALL) for i in range(6)]
    off = [make_sample(5, i, SynthConfig(patch=32, max_sigma=4.0, p_wide_cjk=0.0)) for i in range(6)]
    assert all(np.array_equal(a[0], b[0]) and a[2] == b[2] for a, b in zip(default, off))
