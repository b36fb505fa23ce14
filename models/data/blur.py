"""The two blurs Chromium applies for CSS ``filter: blur(r)``, on sRGB-encoded values.

sigma is in image (device) pixels: r CSS px x devicePixelRatio.
- ``gaussian_blur``: the GPU raster path, a true separable Gaussian.
- ``box3_blur``: the software raster path, three successive box blurs whose width is
  d = floor(1.88 * sigma + 0.5) (the SVG filter-effects approximation); d <= 1 means no blur,
  so sigma below about 0.8 leaves the pixels untouched.
Both take float tensors (N, C, H, W) and pad by reflection (replicate where the image is too small).
"""
import math

import torch
import torch.nn.functional as F

BLUR_KINDS = ("gaussian", "box3")


def _pad(x, left, right, top, bottom):
    h, w = x.shape[-2:]
    mode = "reflect" if max(left, right) < w and max(top, bottom) < h else "replicate"
    return F.pad(x, (left, right, top, bottom), mode=mode)


def _conv_separable(x, kernel, left, right):
    """Convolve rows then columns with a 1-D kernel whose support is [-left, +right] around each pixel."""
    c = x.shape[1]
    k = kernel.to(x.dtype).to(x.device)
    kh = k.view(1, 1, 1, -1).expand(c, 1, 1, -1)
    kv = k.view(1, 1, -1, 1).expand(c, 1, -1, 1)
    x = F.conv2d(_pad(x, left, right, 0, 0), kh, groups=c)
    return F.conv2d(_pad(x, 0, 0, left, right), kv, groups=c)


def gaussian_kernel1d(sigma, radius=None):
    radius = max(1, math.ceil(3 * sigma)) if radius is None else radius
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).float(), radius


def gaussian_blur(x, sigma):
    if sigma <= 0:
        return x
    kernel, radius = gaussian_kernel1d(sigma)
    return _conv_separable(x, kernel, radius, radius)


def box_width(sigma):
    return int(math.floor(sigma * 3 * math.sqrt(2 * math.pi) / 4 + 0.5))


def box3_blur(x, sigma):
    d = box_width(sigma)
    if d <= 1:
        return x
    if d % 2:
        passes = [(d, d // 2, d // 2)] * 3
    else:  # even width: two boxes shifted half a pixel either way, then one of width d + 1 centred
        passes = [(d, d // 2, d // 2 - 1), (d, d // 2 - 1, d // 2), (d + 1, d // 2, d // 2)]
    for width, left, right in passes:
        x = _conv_separable(x, torch.full((width,), 1.0 / width), left, right)
    return x


def chromium_blur(x, sigma, kind="gaussian"):
    if kind == "gaussian":
        return gaussian_blur(x, sigma)
    if kind == "box3":
        return box3_blur(x, sigma)
    raise ValueError(f"unknown blur kind {kind!r}; expected one of {BLUR_KINDS}")


def wiener_deconvolve(x, sigma, balance):
    """Wiener deconvolution of a Gaussian blur, per sample: (N, C, H, W), sigma (N,) in pixels.

    ``balance`` is a number, or a (C,) tensor giving each channel its own (and a gradient: the
    feature-space Wiener of NAFUNet learns them).
    The filter H (1 + b) / (H^2 + b) is scaled to pass flat regions unchanged, so sigma <= 0
    returns the input itself. Each image is reflect-padded by 3 of its own sigma first, so the
    FFT's wrap-around does not ring at the borders, and a sample's result never depends on the
    other samples of its batch. Computed in float32 whatever the autocast.
    """
    return wiener_deconvolve_many(x, sigma, [balance])[0]


def wiener_deconvolve_many(x, sigma, balances):
    """[wiener_deconvolve(x, sigma, b) for b in balances], with one forward FFT per sigma for all of them."""
    sigma = torch.as_tensor(sigma, dtype=torch.float32).reshape(-1).clamp(min=0)
    sigma = sigma.expand(x.shape[0]) if sigma.numel() == 1 else sigma
    outs = [x] * len(balances)
    for value, index in _sigma_groups(sigma, lambda value: value != 0):
        if index is None:
            outs = _wiener_one_sigma(x, value, balances)
            continue
        index = index.to(x.device)
        restored = _wiener_one_sigma(x.index_select(0, index), value, balances)
        outs = [out.index_copy(0, index, part) for out, part in zip(outs, restored)]
    return outs


def _sigma_groups(sigma, wanted):
    """(value, index) for each distinct value of the (N,) ``sigma`` that ``wanted`` accepts: the
    samples' indices, or None when the whole batch shares it (no gather, no scatter needed)."""
    for value in sorted(set(sigma.tolist())):
        if wanted(value):
            same = sigma == value
            yield value, None if same.all() else same.nonzero().flatten()


def data_consistency(estimate, observed, sigma, mu):
    """The data step of half-quadratic splitting: per sample, the image x closest to ``estimate``
    whose Gaussian blur matches ``observed``, argmin |k * x - observed|^2 + mu |x - estimate|^2,
    solved exactly in the Fourier domain. A large ``mu`` keeps the estimate, a small one trusts
    the observation (and amplifies its noise). Samples with sigma < 0 (unknown) keep the estimate;
    sigma == 0 averages the two. (N, C, H, W) images, sigma and mu (N,); padding as in
    ``wiener_deconvolve``, float32 whatever the autocast."""
    sigma = torch.as_tensor(sigma, dtype=torch.float32, device=estimate.device).reshape(-1).expand(estimate.shape[0])
    mu = mu.float().reshape(-1, 1, 1, 1).expand(estimate.shape[0], 1, 1, 1)
    out = estimate
    for value, index in _sigma_groups(sigma, lambda value: value >= 0):
        if index is None:
            return _consistent_one_sigma(estimate, observed, value, mu).to(out.dtype)
        part = _consistent_one_sigma(estimate.index_select(0, index), observed.index_select(0, index), value,
                                     mu.index_select(0, index))
        out = out.index_copy(0, index, part.to(out.dtype))
    return out


def _consistent_one_sigma(estimate, observed, sigma, mu):
    with torch.autocast(estimate.device.type, enabled=False):
        estimate, observed = estimate.float(), observed.float()
        if sigma == 0:
            return (observed + mu * estimate) / (1 + mu)
        h, w = estimate.shape[-2:]
        pad, right, bottom = _fft_padding(h, w, sigma)
        both = _pad(torch.cat([estimate, observed]), pad, right, pad, bottom)
        otf = _gaussian_otf(both.shape[-2:], sigma, both.device)
        spectra = torch.fft.rfft2(both)
        z, y = spectra[:len(estimate)], spectra[len(estimate):]
        x = torch.fft.irfft2((otf * y + mu * z) / (otf * otf + mu), s=both.shape[-2:])
        return x[..., pad:pad + h, pad:pad + w]


def fft_length(n):
    """The smallest length >= n with no prime factor above 7. FFTs of such lengths are fast; one with
    a large prime factor is not: rfft2 + irfft2 of 3 x 1068 x 1068 (1068 = 4 x 3 x 89) took 81 ms of
    CPU here, of 3 x 1080 x 1080 28 ms."""
    while True:
        rest = n
        for prime in (2, 3, 5, 7):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return n
        n += 1


def _fft_padding(h, w, sigma):
    """(pad, right, bottom): reflect padding of 3 sigma on every side, and a few more reflected rows
    and columns at the bottom and right that bring the FFT to a fast length, where the reflection
    stays valid (tiny images keep their padding, and the replicate mode)."""
    pad = max(4, math.ceil(3 * sigma))
    bottom = right = pad
    if pad < h and pad < w:
        bottom = min(fft_length(h + 2 * pad) - h - pad, h - 1)
        right = min(fft_length(w + 2 * pad) - w - pad, w - 1)
    return pad, right, bottom


def _gaussian_otf(shape, sigma, device):
    """The Gaussian's transfer function on an rfft2 grid of ``shape``."""
    fy = torch.fft.fftfreq(shape[0], device=device)
    fx = torch.fft.rfftfreq(shape[1], device=device)
    return torch.exp(-2 * math.pi ** 2 * sigma ** 2 * (fy[:, None] ** 2 + fx[None, :] ** 2))


def _wiener_one_sigma(x, sigma, balances):
    h, w = x.shape[-2:]
    pad, right, bottom = _fft_padding(h, w, sigma)
    outs = []
    with torch.autocast(x.device.type, enabled=False):
        padded = _pad(x.float(), pad, right, pad, bottom)
        otf = _gaussian_otf(padded.shape[-2:], sigma, x.device)
        spectrum = torch.fft.rfft2(padded)
        for balance in balances:
            if torch.is_tensor(balance):
                balance = balance.float().reshape(-1, 1, 1)
            gain = otf * (1 + balance) / (otf * otf + balance)
            out = torch.fft.irfft2(spectrum * gain, s=padded.shape[-2:])
            outs.append(out[..., pad:pad + h, pad:pad + w].to(x.dtype))
    return outs
