"""Every registered model honours the contract: any size, blind and non-blind, rebuilt from its checkpoint alone."""
import copy

import pytest
import torch

from models import (
    REGISTRY,
    CheckpointError,
    build_model,
    load_checkpoint,
    load_grown,
    read_checkpoint,
    save_checkpoint,
)
from models.nets.nafunet import LayerNorm2d, NAFBlock

# Narrow versions of each model keep the suite fast; the contract does not depend on width.
SMALL = {
    "nafunet": {"width": 8},
    "attention_r2unet": {"base": 4},
    "robust_unet": {"base": 4},
}
ZERO_INIT_HEAD = ("attention_r2unet", "robust_unet")


def test_every_registered_model_has_a_small_config():
    assert set(SMALL) == set(REGISTRY)


def scrambled(name, seed=0, **overrides):
    """A small model in eval mode, every weight and norm statistic nudged off its init (zero-initialised
    heads, gates and modulations included), so it is no longer the identity but stays well-conditioned."""
    torch.manual_seed(seed)
    model = build_model(name, **{**SMALL[name], **overrides})
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(torch.randn_like(tensor) * 0.05)
    return model.eval()


@pytest.mark.parametrize("name", list(REGISTRY))
@pytest.mark.parametrize("shape", [(37, 53), (1, 1), (2, 300), (16, 16)])
def test_any_size_gives_the_same_shape_and_finite_values(name, shape):
    model = scrambled(name)
    x = torch.rand(2, 3, *shape)
    with torch.no_grad():
        blind = model(x)
        known = model(x, torch.tensor([2.0, 0.5]))
    for y in (blind, known):
        assert y.shape == x.shape
        assert torch.isfinite(y).all()
    assert not torch.allclose(blind, x, atol=1e-3)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_sigma_changes_the_output_and_negative_means_blind(name):
    model = scrambled(name)
    x = torch.rand(1, 3, 24, 40)
    with torch.no_grad():
        blind = model(x)
        assert torch.equal(model(x, torch.tensor([-1.0])), blind)
        assert not torch.allclose(model(x, torch.tensor([3.0])), blind, atol=1e-4)
        assert not torch.allclose(model(x, torch.tensor([3.0])), model(x, torch.tensor([0.5])), atol=1e-4)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_batch_items_are_independent(name):
    model = scrambled(name)
    x = torch.rand(2, 3, 21, 34)
    sigma = torch.tensor([2.0, -1.0])
    with torch.no_grad():
        together = model(x, sigma)
        apart = torch.cat([model(x[i : i + 1], sigma[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(together, apart, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_channels_last_input_gives_the_same_output(name):
    model = scrambled(name)
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        reference = model(x, torch.tensor([1.5]))
        fast = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last), torch.tensor([1.5]))
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)


def test_layernorm2d_fused_channels_last_path_is_the_channel_formula():
    torch.manual_seed(0)
    norm = LayerNorm2d(6)
    with torch.no_grad():
        norm.weight.add_(torch.randn(6))
        norm.bias.add_(torch.randn(6))
    x = (torch.randn(2, 6, 9, 7) * 3 + 1).requires_grad_()
    mean = x.mean(1, keepdim=True)
    var = (x - mean).pow(2).mean(1, keepdim=True)
    reference = (x - mean) / torch.sqrt(var + norm.eps) * norm.weight[:, None, None] + norm.bias[:, None, None]
    fast_input = x.detach().to(memory_format=torch.channels_last).requires_grad_()
    fast = norm(fast_input)
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(norm(x), reference, rtol=0, atol=0)  # NCHW input: the formula itself
    grad = torch.randn_like(reference)
    reference.backward(grad)
    fast.backward(grad)
    torch.testing.assert_close(fast_input.grad, x.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_size_multiple_is_enough_for_the_net(name):
    """Inputs that are odd multiples of size_multiple are not padded, so a too-small multiple breaks the U-Net."""
    model = scrambled(name)
    m = model.size_multiple
    assert isinstance(m, int) and m >= 1
    with torch.no_grad():
        assert model(torch.rand(1, 3, m, 3 * m)).shape == (1, 3, m, 3 * m)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_training_step_reaches_every_parameter(name):
    model = scrambled(name).train()
    x = torch.rand(2, 3, 32, 32)
    loss = (model(x, torch.tensor([1.0, -1.0])) - x).abs().mean()
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", ZERO_INIT_HEAD)
def test_untrained_seed_models_are_the_identity(name):
    torch.manual_seed(0)
    model = build_model(name, **SMALL[name]).eval()
    x = torch.rand(2, 3, 19, 27)
    with torch.no_grad():
        assert torch.equal(model(x), x)
        assert torch.equal(model(x, torch.tensor([2.0, -1.0])), x)


def test_nafblock_is_the_identity_at_init():
    """beta and gamma start at zero, so each block passes its input through unchanged."""
    torch.manual_seed(0)
    block = NAFBlock(8, cond_dim=4)
    x = torch.randn(2, 8, 9, 11)
    assert torch.equal(block(x, torch.randn(2, 4)), x)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_checkpoint_rebuilds_the_model_from_its_config_alone(tmp_path, name):
    model = scrambled(name, seed=1)
    path = tmp_path / f"{name}.pt"
    save_checkpoint(path, model, step=7, extra={"note": "tiny"})
    loaded = load_checkpoint(path)
    assert type(loaded) is type(model)
    assert loaded.config == model.config
    assert not loaded.training
    x = torch.rand(1, 3, 23, 41)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
        assert torch.equal(loaded(x, torch.tensor([2.5])), model(x, torch.tensor([2.5])))
    payload = read_checkpoint(path)
    assert payload["step"] == 7 and payload["extra"] == {"note": "tiny"}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_fp16_checkpoint_equals_the_model_with_fp16_rounded_weights(tmp_path, name):
    model = scrambled(name, seed=2)
    path = tmp_path / f"{name}-half.pt"
    save_checkpoint(path, model, half=True)
    stored = read_checkpoint(path)["model"]
    assert all(v.dtype == torch.float16 for v in stored.values() if v.is_floating_point())

    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for tensor in rounded.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    loaded = load_checkpoint(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = torch.rand(1, 3, 30, 30)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, torch.tensor([1.0])), rounded(x, torch.tensor([1.0])))
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0.05)


def test_checkpoint_of_a_default_sized_model_round_trips(tmp_path):
    model = build_model("nafunet")
    save_checkpoint(tmp_path / "default.pt", model, half=True)
    assert load_checkpoint(tmp_path / "default.pt").config == model.config


def test_build_model_applies_overrides():
    model = build_model("robust_unet", base=4, res_blocks=[1, 1], sigma_input=False)
    assert model.config.base == 4
    assert model.config.res_blocks == (1, 1)  # lists become tuples so configs compare and serialise alike
    assert model.config.name == "robust_unet"
    assert build_model("attention_r2unet", base=4, depth=2).size_multiple == 2 * 2**2
    assert build_model("nafunet", width=8).config.width == 8


@pytest.mark.parametrize("name", ZERO_INIT_HEAD)
def test_seed_models_also_run_at_full_resolution(name):
    model = scrambled(name, unshuffle=1)
    assert model.size_multiple == 8
    with torch.no_grad():
        y = model(torch.rand(1, 3, 37, 53), torch.tensor([1.0]))
    assert y.shape == (1, 3, 37, 53) and torch.isfinite(y).all()


def test_models_without_sigma_input_ignore_sigma():
    model = scrambled("attention_r2unet", sigma_input=False)
    x = torch.rand(1, 3, 20, 20)
    with torch.no_grad():
        assert torch.equal(model(x, torch.tensor([3.0])), model(x))


def test_build_model_rejects_unknown_names_and_fields():
    with pytest.raises(TypeError, match="widht"):
        build_model("nafunet", widht=8)
    with pytest.raises(KeyError, match="unet9000"):
        build_model("unet9000")


def test_missing_checkpoint_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")


def test_garbage_checkpoint_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(b"this is not a torch file\x00\xff" * 10)
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(path)


def test_foreign_torch_file_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="not an anti-aging checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "field, value, message",
    [("name", "unet9000", "unet9000"), ("base", 8, "size mismatch"), ("colour", "red", "colour")],
)
def test_config_that_does_not_fit_the_weights_is_a_checkpoint_error(tmp_path, field, value, message):
    path = tmp_path / "edited.pt"
    save_checkpoint(path, build_model("robust_unet", base=4))
    payload = torch.load(path, weights_only=True)
    payload["config"][field] = value
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_feature_wiener_branch_is_a_working_part_of_the_net():
    model = scrambled("nafunet", feature_wiener=4)
    x = torch.rand(2, 3, 24, 40)
    out = model(x, torch.tensor([2.0, -1.0]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    out.mean().backward()
    assert model.feature_wiener.log_balance.grad.abs().sum() > 0
    assert model.feature_wiener.extract[0].weight.grad.abs().sum() > 0


def test_data_consistency_step_is_a_working_part_of_the_net():
    model = scrambled("nafunet", data_consistency=True, data_consistency_mu=0.1)
    plain = build_model("nafunet", **SMALL["nafunet"])
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("log_mu")})
    x = torch.rand(2, 3, 24, 40)
    out = model(x, torch.tensor([2.0, -1.0]))
    assert out.shape == x.shape and torch.isfinite(out).all()
    with torch.no_grad():
        before = plain(x, torch.tensor([2.0, -1.0]))
    assert torch.allclose(out[1], before[1]) and not torch.allclose(out[0], before[0], atol=1e-3)
    out[0].mean().backward()
    assert model.log_mu.bias.grad.abs().sum() > 0


@pytest.mark.parametrize("growth", [{"feature_wiener": 4}, {"wiener_balances": (1e-2, 1e-3, 1e-4)},
                                    {"feature_wiener": 4, "wiener_balances": (1e-2, 1e-3, 1e-4)}])
def test_a_grown_net_starts_with_exactly_the_function_it_grew_from(growth):
    source = scrambled("nafunet")
    grown = build_model("nafunet", **{**SMALL["nafunet"], **growth}).eval()
    widened, new = load_grown(grown, source.state_dict())
    assert widened == (["intro.weight"] if "wiener_balances" in growth else [])
    assert bool(new) == ("feature_wiener" in growth)
    x = torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        for sigma in (torch.tensor([2.0, 3.5]), None):
            assert torch.allclose(grown(x, sigma), source(x, sigma), atol=1e-5)


def test_growing_refuses_weights_that_shrink_or_are_unknown():
    wide = scrambled("nafunet", wiener_balances=(1e-2, 1e-3, 1e-4))
    with pytest.raises(CheckpointError, match="cannot grow"):
        load_grown(build_model("nafunet", **SMALL["nafunet"]), wide.state_dict())
    with pytest.raises(CheckpointError, match="lacks"):
        load_grown(build_model("nafunet", **SMALL["nafunet"]), scrambled("nafunet", feature_wiener=2).state_dict())
