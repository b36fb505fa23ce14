"""The two Chromium blur kernels against their definitions, computed independently with numpy.

gaussian: a sampled Gaussian truncated at radius ceil(3 sigma), normalised, applied separably.
box3 (SVG filter effects, feGaussianBlur): d = floor(sigma * 3 * sqrt(2 pi) / 4 + 0.5);
odd d: three boxes of width d centred on the pixel; even d: a box of width d centred on the
boundary with the left neighbour, one centred on the boundary with the right neighbour, then
one of width d + 1 centred on the pixel; d <= 1: no blur.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.data.blur import (
    BLUR_KINDS,
    box3_blur,
    box_width,
    chromium_blur,
    data_consistency,
    fft_length,
    gaussian_blur,
    wiener_deconvolve,
    wiener_deconvolve_many,
)

SIZE = 48  # impulse images: the centre is farther from every border than any kernel here reaches
CENTRE = SIZE // 2


def impulse(size=SIZE, row=CENTRE, col=CENTRE):
    x = torch.zeros(1, 1, size, size, dtype=torch.float64)
    x[0, 0, row, col] = 1.0
    return x


def sampled_gaussian(sigma):
    radius = max(1, math.ceil(3 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def place_centred(kernel2d, size=SIZE):
    out = np.zeros((size, size))
    r = kernel2d.shape[0] // 2
    out[CENTRE - r : CENTRE + r + 1, CENTRE - r : CENTRE + r + 1] = kernel2d
    return out


def box_pass(a, left, right, axis):
    """Mean over the window [i - left, i + right] along axis (np.roll wraps, harmless away from borders)."""
    return sum(np.roll(a, -k, axis=axis) for k in range(-left, right + 1)) / (left + right + 1)


def svg_box3(a, sigma):
    d = math.floor(sigma * 3 * math.sqrt(2 * math.pi) / 4 + 0.5)
    if d <= 1:
        return a
    if d % 2:
        windows = [(d // 2, d // 2)] * 3
    else:
        half = d // 2
        windows = [(half, half - 1), (half - 1, half), (half, half)]
    for left, right in windows:
        a = box_pass(box_pass(a, left, right, axis=1), left, right, axis=0)
    return a


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3, 4.0, 6.5])
def test_gaussian_impulse_response_is_the_normalised_sampled_gaussian(sigma):
    g = sampled_gaussian(sigma)
    expected = place_centred(np.outer(g, g))
    got = gaussian_blur(impulse().float(), sigma)[0, 0].double().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-7)


@pytest.mark.parametrize(
    "sigma, width",
    [(0.79, 1), (0.8, 2), (1.0, 2), (1.5, 3), (2.0, 4), (2.5, 5), (3.0, 6), (4.0, 8), (5.0, 9)],
)
def test_box_width_follows_the_svg_formula(sigma, width):
    assert box_width(sigma) == width


@pytest.mark.parametrize("sigma", [0.8, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0])
def test_box3_impulse_response_is_three_svg_boxes(sigma):
    expected = svg_box3(impulse()[0, 0].numpy(), sigma)
    got = box3_blur(impulse().float(), sigma)[0, 0].double().numpy()
    assert not np.allclose(got, impulse()[0, 0].numpy())
    np.testing.assert_allclose(got, expected, atol=1e-7)


def test_even_box_passes_are_shifted_in_opposite_directions():
    """Two even boxes shifted the same way would move an impulse's centre of mass; the SVG pair does not."""
    got = box3_blur(impulse(), 2.0)[0, 0]
    idx = torch.arange(SIZE, dtype=torch.float64)
    assert float((got.sum(0) * idx).sum()) == pytest.approx(CENTRE, abs=1e-4)
    assert float((got.sum(1) * idx).sum()) == pytest.approx(CENTRE, abs=1e-4)


@pytest.mark.parametrize("kind", BLUR_KINDS)
@pytest.mark.parametrize("sigma", [0.0, 0.3, 0.79])
def test_small_sigma_is_identity_where_the_kernel_is(kind, sigma):
    x = torch.rand(2, 3, 17, 23)
    y = chromium_blur(x, sigma, kind)
    if kind == "gaussian" and sigma > 0:
        assert not torch.equal(y, x)  # a true Gaussian blurs at any positive sigma
    else:
        assert torch.equal(y, x)


@pytest.mark.parametrize("kind", BLUR_KINDS)
@pytest.mark.parametrize("sigma", [1.0, 2.5, 4.0])
def test_mass_is_preserved(kind, sigma):
    x = torch.zeros(1, 3, SIZE, SIZE, dtype=torch.float64)
    x[:, :, 18:30, 16:32] = torch.rand(1, 3, 12, 16, dtype=torch.float64)
    y = chromium_blur(x, sigma, kind)
    torch.testing.assert_close(y.sum(dim=(2, 3)), x.sum(dim=(2, 3)), rtol=1e-6, atol=0)


@pytest.mark.parametrize("kind", BLUR_KINDS)
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (5, 40), (37, 53)])
def test_flat_images_stay_flat_at_every_size(kind, shape):
    """The kernels are normalised and the padding (reflect, or replicate on tiny images) adds no edge."""
    x = torch.full((1, 3, *shape), 0.25)
    y = chromium_blur(x, 4.0, kind)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x)


@pytest.mark.parametrize("kind", BLUR_KINDS)
def test_channels_and_samples_blur_independently(kind):
    x = torch.zeros(2, 3, SIZE, SIZE)
    x[1, 2, CENTRE, CENTRE] = 1.0
    y = chromium_blur(x, 2.0, kind)
    assert torch.count_nonzero(y[0]) == 0 and torch.count_nonzero(y[1, :2]) == 0
    torch.testing.assert_close(y[1, 2], chromium_blur(impulse().float(), 2.0, kind)[0, 0])


def test_chromium_blur_dispatches_by_kind():
    x = torch.rand(1, 3, 20, 20)
    assert torch.equal(chromium_blur(x, 2.0, "gaussian"), gaussian_blur(x, 2.0))
    assert torch.equal(chromium_blur(x, 2.0, "box3"), box3_blur(x, 2.0))


def test_chromium_blur_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown blur kind"):
        chromium_blur(torch.rand(1, 3, 8, 8), 2.0, "motion")


def test_wiener_with_zero_sigma_is_identity():
    x = torch.rand(2, 3, 9, 14)
    assert torch.equal(wiener_deconvolve(x, torch.zeros(2), 1e-2), x)
    mixed = wiener_deconvolve(x, torch.tensor([0.0, 2.0]), 1e-2)
    assert torch.allclose(mixed[0], x[0], atol=1e-6) and not torch.allclose(mixed[1], x[1], atol=1e-3)


def test_wiener_undoes_most_of_a_gaussian_blur():
    torch.manual_seed(0)
    sharp = gaussian_blur(torch.rand(1, 3, 48, 48), 0.7)  # band-limited, as anti-aliased text is
    blurred = gaussian_blur(sharp, 1.5)
    restored = wiener_deconvolve(blurred, torch.tensor([1.5]), 1e-3)
    err_blurred = (blurred - sharp)[..., 8:-8, 8:-8].abs().mean()
    err_restored = (restored - sharp)[..., 8:-8, 8:-8].abs().mean()
    assert err_restored < 0.7 * err_blurred


def test_wiener_keeps_flat_images_flat_and_sizes_any():
    for h, w in [(1, 1), (2, 3), (17, 5)]:
        flat = torch.full((1, 3, h, w), 0.4)
        out = wiener_deconvolve(flat, torch.tensor([3.0]), 1e-2)
        assert out.shape == flat.shape and torch.allclose(out, flat, atol=1e-5)


def test_wiener_result_of_a_sample_does_not_depend_on_its_batch():
    x = torch.rand(3, 3, 20, 24)
    together = wiener_deconvolve(x, torch.tensor([1.0, 4.0, 1.0]), 1e-2)
    alone = wiener_deconvolve(x[:1], torch.tensor([1.0]), 1e-2)
    assert torch.allclose(together[0], alone[0], atol=1e-6)
    assert torch.allclose(together[1], wiener_deconvolve(x[1:2], torch.tensor([4.0]), 1e-2)[0], atol=1e-6)
    assert not torch.allclose(together[0], together[2])


def test_wiener_balance_per_channel_matches_each_channel_alone_and_has_a_gradient():
    x = torch.rand(2, 3, 16, 20)
    balance = torch.tensor([1e-2, 1e-3, 1e-4], requires_grad=True)
    out = wiener_deconvolve(x, torch.tensor([2.0, 1.0]), balance)
    for channel, value in enumerate([1e-2, 1e-3, 1e-4]):
        alone = wiener_deconvolve(x[:, channel:channel + 1], torch.tensor([2.0, 1.0]), value)
        assert torch.allclose(out[:, channel:channel + 1], alone, atol=1e-5)
    out.square().sum().backward()
    assert balance.grad is not None and (balance.grad != 0).all()


@pytest.mark.parametrize("sigma", [[2.0, 2.0, 2.0], [0.0, 3.0, 1.5], [0.0, 0.0, 0.0]])
def test_wiener_of_several_balances_equals_each_balance_alone(sigma):
    x = torch.rand(3, 3, 18, 22)
    balances = (1e-2, 1e-3, torch.tensor([1e-2, 1e-3, 1e-4]))
    together = wiener_deconvolve_many(x, torch.tensor(sigma), balances)
    assert len(together) == len(balances)
    for out, balance in zip(together, balances):
        torch.testing.assert_close(out, wiener_deconvolve(x, torch.tensor(sigma), balance), rtol=0, atol=1e-6)
    if any(sigma):
        assert not torch.allclose(together[0], together[1], atol=1e-4)


def test_fft_length_is_the_next_length_without_a_prime_factor_above_7():
    def smooth(n):
        for prime in (2, 3, 5, 7):
            while n % prime == 0:
                n //= prime
        return n == 1

    for n in [1, 2, 11, 97, 572, 1068, 1086, 4099]:
        length = fft_length(n)
        assert length >= n and smooth(length) and not any(smooth(m) for m in range(n, length))
    assert fft_length(1068) == 1080 and fft_length(1024) == 1024


def test_wiener_padded_to_a_fast_length_matches_symmetric_padding_away_from_the_border(monkeypatch):
    """1056 + 2 x 6 = 1068 = 4 x 3 x 89 is a slow FFT length; the filter pads the bottom and right to
    1080 instead. Only the wrap-around at the border changes."""
    torch.manual_seed(0)
    x = gaussian_blur(torch.rand(1, 3, 1056, 200), 2.0)
    pad = 6
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    fy, fx = torch.fft.fftfreq(padded.shape[-2]), torch.fft.rfftfreq(padded.shape[-1])
    otf = torch.exp(-2 * math.pi ** 2 * 4.0 * (fy[:, None] ** 2 + fx[None, :] ** 2))
    gain = otf * (1 + 1e-2) / (otf * otf + 1e-2)
    symmetric = torch.fft.irfft2(torch.fft.rfft2(padded) * gain, s=padded.shape[-2:])[..., pad:-pad, pad:-pad]
    lengths = []
    rfft2 = torch.fft.rfft2
    monkeypatch.setattr(torch.fft, "rfft2", lambda signal, *a, **k: lengths.append(signal.shape[-2:]) or rfft2(signal, *a, **k))
    fast = wiener_deconvolve(x, torch.tensor([2.0]), 1e-2)
    monkeypatch.undo()
    assert fast.shape == x.shape
    assert [tuple(length) for length in lengths] == [(fft_length(1068), fft_length(212))] == [(1080, 216)]
    torch.testing.assert_close(fast[..., 32:-32, 32:-32], symmetric[..., 32:-32, 32:-32], rtol=0, atol=1e-4)


def test_data_step_keeps_the_estimate_for_a_large_mu_or_an_unknown_sigma():
    estimate, observed = torch.rand(3, 3, 20, 26), torch.rand(3, 3, 20, 26)
    out = data_consistency(estimate, observed, torch.tensor([2.0, -1.0, 0.0]), torch.full((3,), 1e6))
    assert torch.allclose(out, estimate, atol=1e-4)
    out = data_consistency(estimate, observed, torch.tensor([2.0, -1.0, 0.0]), torch.full((3,), 1.0))
    assert torch.equal(out[1], estimate[1])
    assert torch.allclose(out[2], (observed[2] + estimate[2]) / 2, atol=1e-6)
    assert not torch.allclose(out[0], estimate[0], atol=1e-3)


def test_data_step_pulls_a_wrong_estimate_towards_what_the_blur_explains():
    torch.manual_seed(0)
    sharp = gaussian_blur(torch.rand(1, 3, 48, 48), 0.7)
    observed = gaussian_blur(sharp, 1.5)
    wrong = sharp.clone()
    wrong[..., 20:28, 20:28] += 0.5  # an invented mark the blur does not explain
    mu = torch.tensor([0.05], requires_grad=True)
    out = data_consistency(wrong, observed, torch.tensor([1.5]), mu)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    assert (out - sharp)[inner].abs().mean() < 0.7 * (wrong - sharp)[inner].abs().mean()
    # the estimate that already explains the observation stays (nearly) where it is
    kept = data_consistency(sharp, observed, torch.tensor([1.5]), torch.tensor([0.05]))
    assert (kept - sharp)[inner].abs().mean() < 0.01
    out.square().sum().backward()
    assert mu.grad is not None and mu.grad.abs().item() > 0
