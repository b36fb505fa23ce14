"""Classical deblurring baselines from scikit-image, given the exact Gaussian sigma.

All take and return float HxWx3 arrays in [0, 1]. The image is edge-padded before deconvolution
(Wiener works in the Fourier domain and would wrap around; Richardson-Lucy convolves with zero
padding and would darken the borders) and cropped back afterwards.
"""
import math

import numpy as np
from skimage.filters import gaussian
from skimage.restoration import richardson_lucy as _skimage_richardson_lucy
from skimage.restoration import wiener as _skimage_wiener

MIN_SIGMA = 0.3  # below this a Gaussian is a delta on the pixel grid: nothing to undo
WIENER_BALANCE = 0.005
RL_ITERATIONS = 20


def gaussian_psf(sigma):
    radius = max(1, math.ceil(3 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    psf = np.outer(k, k)
    return psf / psf.sum()


def _per_channel(image, sigma, deconvolve):
    image = np.asarray(image, dtype=np.float64)
    if sigma is None or sigma < MIN_SIGMA:
        return image.copy()
    psf = gaussian_psf(sigma)
    pad = psf.shape[0] // 2 + 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.stack([deconvolve(padded[..., c], psf) for c in range(image.shape[2])], axis=-1)
    return np.clip(out[pad:pad + image.shape[0], pad:pad + image.shape[1]], 0.0, 1.0)


def unsharp_mask(image, sigma=None, amount=1.0):
    """Classic sharpening x + amount * (x - blur(x)), blur radius = sigma when known, else 1 px.

    Written out because skimage 0.26's ``unsharp_mask`` returns garbage for colour images
    (``channel_axis=-1``)."""
    image = np.asarray(image, dtype=np.float64)
    if sigma is not None and sigma < MIN_SIGMA:
        return image.copy()
    radius = 1.0 if sigma is None else sigma
    blurred = gaussian(image, sigma=radius, mode="nearest", channel_axis=-1, preserve_range=True)
    return np.clip(image + amount * (image - blurred), 0.0, 1.0)


def richardson_lucy(image, sigma, num_iter=RL_ITERATIONS):
    return _per_channel(image, sigma, lambda channel, psf: _skimage_richardson_lucy(channel, psf, num_iter=num_iter))


def wiener(image, sigma, balance=WIENER_BALANCE):
    return _per_channel(image, sigma, lambda channel, psf: _skimage_wiener(channel, psf, balance))


BASELINES = {"unsharp_mask": unsharp_mask, "richardson_lucy": richardson_lucy, "wiener": wiener}
