"""Image metrics on tensors, shared by the trainers' validation and the benchmarks."""
import torch
import torch.nn.functional as F


def psnr(a, b):
    """Per-image PSNR in dB of (N, C, H, W) ``a`` (clamped to [0, 1]) against ``b``."""
    mse = F.mse_loss(a.clamp(0, 1), b, reduction="none").flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp(min=1e-10))
