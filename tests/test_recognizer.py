"""The text recogniser: charset, synthetic lines, checkpoints, training, and the readability loss."""
import numpy as np
import pytest
import torch

from models import CheckpointError, build_model, read_checkpoint, save_checkpoint
from models.data import lines as line_data
from models.evaluation import recognizer_report
from models.reading import recognizer as rec
from models.training import readability as readability_loss, train_recognizer
from models.data.synth import CHINESE, JAPANESE, KOREAN, SynthConfig

HARD_BLUR = line_data.LineConfig(synth=SynthConfig(p_sharp=0.0, p_hard=1.0, max_sigma=4.0, p_box3=0.0))


def test_charset_holds_ascii_and_every_character_of_synths_cjk_pools_once():
    assert len(set(rec.CHARSET)) == len(rec.CHARSET)
    assert all(chr(c) in rec.CHARSET for c in range(32, 127))
    assert set("".join(KOREAN).replace(" ", "")) | set(CHINESE) | set(JAPANESE) <= set(rec.CHARSET)


def test_encode_decode_round_trip_and_greedy_ctc_collapse():
    text = "Sign in 가격 会员 ログイン $4.20".replace("グ", "ク")
    indices = rec.encode(text)
    assert 0 not in indices and rec.decode(indices) == text  # no doubled letters: CTC would merge them
    a, b = rec.encode("ab")
    assert rec.decode([0, a, a, 0, a, b, b, 0]) == "aab"
    with pytest.raises(ValueError, match="outside"):
        rec.encode("naïve €")


def test_lines_are_pure_functions_of_seed_and_index_and_the_blurred_box_holds_the_sharp_line():
    a, b, c = line_data.make_line(3, 5), line_data.make_line(3, 5), line_data.make_line(3, 6)
    assert np.array_equal(a.sharp, b.sharp) and a.text == b.text and a.sigma == b.sigma
    assert not (np.array_equal(a.sharp[:8, :8], c.sharp[:8, :8]) and a.text == c.text)
    for index in range(6):
        sharp = line_data.make_line(1, index)
        blurred = line_data.make_line(1, index, blurred=True, config=HARD_BLUR)
        top, bottom, left, right = blurred.box
        assert blurred.text == sharp.text and 11 <= sharp.px <= 32 and 2.0 <= blurred.sigma <= 4.0
        assert sharp.box == (0, sharp.sharp.shape[0], 0, sharp.sharp.shape[1])
        assert np.array_equal(blurred.sharp[top:bottom, left:right], sharp.sharp)
        assert blurred.blurred.shape == blurred.sharp.shape and top >= 6 and left >= 6
        detail = [np.abs(np.diff(x.astype(float), axis=1)).mean() for x in (blurred.blurred, blurred.sharp)]
        assert detail[0] < detail[1]
        rec.encode(sharp.text)  # every label is in the charset


def test_recognizer_shapes_and_fp16_checkpoint_round_trip(tmp_path):
    model = rec.build_recognizer(channels=(8, 8, 8, 8), hidden=8).eval()
    assert sum(p.numel() for p in rec.build_recognizer().parameters()) < 1_000_000
    lines = [line_data.to_tensor(line_data.make_line(0, i).sharp) for i in range(3)]
    batch, lengths = rec.collate_lines([rec.normalize_line(line) for line in lines])
    assert batch.shape[:3] == (3, 1, rec.HEIGHT)
    logits = model(batch)
    assert logits.shape == (3, batch.shape[-1] // rec.STRIDE, len(rec.CHARSET) + 1)
    assert lengths.max() == logits.shape[1]
    save_checkpoint(tmp_path / "r.pt", model, half=True)
    loaded = rec.load_recognizer(tmp_path / "r.pt")
    assert loaded.config == model.config and not loaded.training
    assert torch.allclose(loaded(batch), model(batch), atol=5e-2)
    assert rec.read_lines(loaded, lines) == rec.read_lines(model, lines)
    save_checkpoint(tmp_path / "naf.pt", build_model("nafunet", width=8))
    with pytest.raises(CheckpointError, match="not a text recogniser"):
        rec.load_recognizer(tmp_path / "naf.pt")


def test_a_widened_reader_computes_what_the_narrow_one_did_and_its_new_units_learn():
    torch.manual_seed(0)
    narrow = rec.build_recognizer(channels=(4, 6, 6, 8), hidden=5, sigma_input=True)
    with torch.no_grad():  # trained-looking batch-norm statistics, so that copying them matters
        for module in narrow.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    narrow.eval()
    wide = rec.build_recognizer(channels=(6, 8, 10, 12), hidden=9, sigma_input=True)
    grown = rec.load_widened(wide, narrow.state_dict())
    assert "sequence.weight_hh_l0" in grown and "classifier.weight" in grown
    lines = torch.randn(2, 1, rec.HEIGHT, 40)
    sigmas = torch.tensor([1.5, -1.0])
    assert torch.allclose(wide.eval()(lines, sigmas), narrow(lines, sigmas), atol=1e-5)
    wide.train()
    wide(lines, sigmas).logsumexp(-1).sum().backward()
    new_channels = wide.features[0].weight.grad[4:]
    assert new_channels.abs().sum() == 0  # into the classifier only through zero weights: their turn comes next
    assert wide.features[4].weight.grad[:, 4:].abs().sum() > 0  # the old units' new inputs learn at once
    assert wide.sequence.weight_hh_l0.grad[:, 5:].abs().sum() > 0
    with pytest.raises(CheckpointError, match="cannot widen"):
        rec.load_widened(narrow, wide.state_dict())


def test_normalized_lines_do_not_depend_on_text_polarity():
    line = line_data.to_tensor(line_data.make_line(2, 0).sharp)
    assert torch.allclose(rec.normalize_line(line), rec.normalize_line(1 - line), atol=1e-4)


def test_two_step_recognizer_training_exports_a_loadable_checkpoint(tmp_path, capsys):
    train_recognizer.main(["--steps", "2", "--batch-size", "3", "--val-lines", "4", "--log-every", "1", "--warmup", "1",
              "--out", str(tmp_path), "--model-overrides", '{"channels": [8, 8, 8, 8], "hidden": 8}'])
    assert "val cer" in capsys.readouterr().out
    payload = read_checkpoint(tmp_path / "recognizer.pt")
    assert payload["step"] == 2 and set(payload["extra"]["val_cer"]) >= {"all"}
    assert payload["extra"]["train"]["batch_size"] == 3
    assert all(v.dtype == torch.float16 for v in payload["model"].values() if v.is_floating_point())
    assert rec.load_recognizer(tmp_path / "recognizer.pt").config.hidden == 8


@pytest.fixture(scope="module")
def readability():
    return readability_loss.ReadabilityLoss.from_checkpoint()


def test_readability_loss_on_a_tiny_batch(readability):
    lines = [line_data.make_line(11, i, blurred=True, config=HARD_BLUR) for i in range(3)]
    labels = [line.text for line in lines]

    def crops(images):
        out = []
        for image, line in zip(images, lines):
            top, bottom, left, right = line.box
            out.append(line_data.to_tensor(image[top:bottom, left:right]).requires_grad_(True))
        return out

    sharp = crops([line.sharp for line in lines])
    loss = readability(sharp, labels)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(c.grad is not None and torch.isfinite(c.grad).all() and c.grad.abs().sum() > 0 for c in sharp)
    assert all(p.grad is None and not p.requires_grad for p in readability.recognizer.parameters())

    with torch.no_grad():
        blurred = readability(crops([line.blurred for line in lines]), labels)
        wrong = readability(sharp, [text[::-1] if len(set(text)) > 1 else text + "x" for text in labels])
    assert loss < blurred and loss < wrong

    single = torch.stack([sharp[0].detach()] * 2)  # the (N, 3, H, W) form
    assert torch.isfinite(readability(single, [labels[0]] * 2))
    with pytest.raises(ValueError, match="labels"):
        readability(single, labels)


def test_readability_loss_keeps_the_recogniser_frozen_in_eval_mode(readability):
    readability.train()
    assert not readability.recognizer.training
    before = {k: v.clone() for k, v in readability.recognizer.state_dict().items()}
    line = line_data.to_tensor(line_data.make_line(4, 0).sharp)[None].requires_grad_(True)
    readability(line, [line_data.make_line(4, 0).text]).backward()
    assert all(torch.equal(before[k], v) for k, v in readability.recognizer.state_dict().items())


@pytest.mark.parametrize("pill", [False, True])
def test_ink_crop_finds_a_line_inside_page_margins_and_inside_a_button(pill):
    line = line_data.make_line(5, 2)
    page = np.array([30, 200, 90], np.uint8) if pill else line.sharp[0, 0]
    element = np.broadcast_to(page, (line.sharp.shape[0] + 60, line.sharp.shape[1] + 80, 3)).copy()
    element[30:30 + line.sharp.shape[0], 40:40 + line.sharp.shape[1]] = line.sharp
    crop = recognizer_report.ink_crop(element)
    assert 0.5 * line.px <= crop.shape[0] <= 1.6 * line.sharp.shape[0]
    assert crop.shape[1] <= line.sharp.shape[1] + 2
    if pill:  # the label inside the button, not the button on the page
        assert (np.abs(crop.astype(int) - page).sum(-1) < 20).mean() < 0.3
