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
# Tuned for the lowest Tesseract CER on 24 blurred dev-set crops (sigma 1.5-6), giving the baselines
# their best shot: Wiener balance 1e-4 -> CER 0.24 (1e-3: 0.32, 5e-3: 0.36); Richardson-Lucy
# 20 iterations -> 0.39 (10: 0.51, 50: 0.45, where noise takes over).
WIENER_BALANCE = 1e-4
RL_ITERATIONS = 20


def gaussian_psf(sigma):
    radius = max(1, math.ceil(3 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    psf = np.outer(k, k)
    return psf / psf.sum()


def _deconvolve(image, sigma, deconvolve):
    """Edge-pad, run ``deconvolve(padded HxWx3, 2-D psf)``, crop back and clip; identity for sigma < MIN_SIGMA."""
    image = np.asarray(image, dtype=np.float64)
    if sigma is None or sigma < MIN_SIGMA:
        return image.copy()
    psf = gaussian_psf(sigma)
    pad = psf.shape[0] // 2 + 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    return np.clip(deconvolve(padded, psf)[pad:-pad, pad:-pad], 0.0, 1.0)


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
    # A (k, k, 1) PSF deconvolves the three channels independently in one call.
    return _deconvolve(image, sigma, lambda x, psf: _skimage_richardson_lucy(x, psf[..., None], num_iter=num_iter))


def wiener(image, sigma, balance=WIENER_BALANCE):
    return _deconvolve(image, sigma, lambda x, psf: np.stack(
        [_skimage_wiener(x[..., c], psf, balance) for c in range(x.shape[2])], axis=-1))


BASELINES = {"unsharp_mask": unsharp_mask, "richardson_lucy": richardson_lucy, "wiener": wiener}
