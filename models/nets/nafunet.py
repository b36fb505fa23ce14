"""NAF-style U-Net for text deblurring, sized for CPU inference.

Blocks first, network last. The net works at half resolution after a lossless
pixel-unshuffle (4x fewer pixels for every conv), and is conditioned on the
blur sigma through per-block feature modulation; sigma < 0 means "unknown"
(blind mode), which training teaches through sigma dropout.

When sigma is known the net also sees Wiener deconvolutions of its input (a
classical estimate that already undoes much of a Gaussian blur) and predicts a
correction to the first of them, so it learns to remove ringing and restore
what Wiener cannot rather than to invert the blur from scratch. With sigma
unknown those channels are the input itself.

With ``feature_wiener`` > 0 the deconvolution also runs on learned features (as in DWDN): a few
full-resolution feature maps, each Wiener-deconvolved with its own learned balance, join the
first stage through a zero-initialised projection, so a warm start keeps the net's function.

With ``data_consistency`` the net's estimate goes through one data step of half-quadratic
splitting (as in USRNet's unrolled iterations): the image nearest the estimate whose blur
matches the input, weighted by a learned, sigma-dependent mu that starts large (mostly the
estimate), so a crisp letter the blur does not explain is pulled back towards the evidence
(EXPERIMENTS.md #14b: trained, it acts at mild blur only).
"""
import math

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from models.data.blur import data_consistency, wiener_deconvolve, wiener_deconvolve_many
from models.nets.common import pad_to_multiple, sigma_features, sigma_vector

@dataclass
class NAFUNetConfig:
    name: str = "nafunet"
    width: int = 32
    enc_blocks: tuple = (1, 1, 2)
    middle_blocks: int = 2
    dec_blocks: tuple = (1, 1, 1)
    unshuffle: int = 2
    cond_dim: int = 32
    wiener_balances: tuple = (1e-2, 1e-3)
    feature_wiener: int = 0             # full-resolution feature maps deconvolved in the net; 0: none
    feature_wiener_balance: float = 1e-3  # their balances' starting value (each is learned)
    data_consistency: bool = False      # end with a half-quadratic-splitting data step (sigma known)
    data_consistency_mu: float = 10.0   # its weight on the net's estimate at the start (learned, per sigma)


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of an NCHW tensor."""

    def __init__(self, channels, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x):
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            # Channels are the innermost dimension: one fused layer_norm instead of nine passes
            # (the same arithmetic; 15 % of a CPU forward pass measured on 560 px windows).
            return F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias,
                                self.eps).permute(0, 3, 1, 2)
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class SimpleGate(nn.Module):
    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        return a * b


class NAFBlock(nn.Module):
    """NAFNet block with an added sigma modulation (scale and shift after the first norm)."""

    def __init__(self, channels, cond_dim):
        super().__init__()
        c2 = channels * 2
        self.norm1 = LayerNorm2d(channels)
        self.modulation = nn.Linear(cond_dim, 2 * channels)
        self.conv1 = nn.Conv2d(channels, c2, 1)
        self.dwconv = nn.Conv2d(c2, c2, 3, padding=1, groups=c2)
        self.gate = SimpleGate()
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, channels, 1))
        self.conv3 = nn.Conv2d(channels, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.conv4 = nn.Conv2d(channels, c2, 1)
        self.conv5 = nn.Conv2d(channels, channels, 1)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))
        nn.init.zeros_(self.modulation.weight)
        nn.init.zeros_(self.modulation.bias)

    def forward(self, x, cond):
        scale, shift = self.modulation(cond)[:, :, None, None].chunk(2, dim=1)
        y = torch.addcmul(shift, self.norm1(x), 1 + scale)  # = norm1(x) * (1 + scale) + shift, one pass
        y = self.gate(self.dwconv(self.conv1(y)))
        y = self.conv3(y * self.sca(y))
        x = torch.addcmul(x, y, self.beta)
        y = self.conv5(self.gate(self.conv4(self.norm2(x))))
        return torch.addcmul(x, y, self.gamma)


class FeatureWiener(nn.Module):
    """Wiener deconvolution on learned features: extract at full resolution, deconvolve each map
    with its own learned balance, hand the result to the first stage at its resolution."""

    def __init__(self, channels, out_channels, unshuffle, balance):
        super().__init__()
        self.unshuffle = unshuffle
        self.extract = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.GELU(),
                                     nn.Conv2d(channels, channels, 3, padding=1))
        self.log_balance = nn.Parameter(torch.full((channels,), math.log(balance)))
        self.project = nn.Conv2d(channels * unshuffle * unshuffle, out_channels, 1)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, x, sigma):
        features = wiener_deconvolve(self.extract(x), sigma, self.log_balance.exp())
        return self.project(F.pixel_unshuffle(features, self.unshuffle))


class NAFUNet(nn.Module):
    def __init__(self, config: NAFUNetConfig):
        super().__init__()
        self.config = config
        c = config.width
        r = config.unshuffle
        self.cond = nn.Sequential(nn.Linear(2, config.cond_dim), nn.GELU(), nn.Linear(config.cond_dim, config.cond_dim))
        self.intro = nn.Conv2d(3 * (1 + len(config.wiener_balances)) * r * r, c, 3, padding=1)
        self.feature_wiener = (FeatureWiener(config.feature_wiener, c, r, config.feature_wiener_balance)
                               if config.feature_wiener else None)
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        for n_blocks in config.enc_blocks:
            self.encoders.append(nn.ModuleList(NAFBlock(c, config.cond_dim) for _ in range(n_blocks)))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, stride=2))
            c *= 2
        self.middle = nn.ModuleList(NAFBlock(c, config.cond_dim) for _ in range(config.middle_blocks))
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for n_blocks in config.dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.ModuleList(NAFBlock(c, config.cond_dim) for _ in range(n_blocks)))
        self.ending = nn.Conv2d(c, 3 * r * r, 3, padding=1)
        nn.init.zeros_(self.ending.weight)  # starts as the identity on its base estimate
        nn.init.zeros_(self.ending.bias)
        self.log_mu = None
        if config.data_consistency:
            self.log_mu = nn.Linear(config.cond_dim, 1)  # log mu from the sigma embedding, constant at the start
            nn.init.zeros_(self.log_mu.weight)
            nn.init.constant_(self.log_mu.bias, math.log(config.data_consistency_mu))

    @property
    def size_multiple(self):
        return self.config.unshuffle * 2 ** len(self.config.enc_blocks)

    def forward(self, x, sigma=None):
        n, _, h, w = x.shape
        inp = pad_to_multiple(x, self.size_multiple)
        sigma = sigma_vector(sigma, n, x.device)
        cond = self.cond(sigma_features(sigma).to(x.dtype))
        priors = wiener_deconvolve_many(inp, sigma.clamp(min=0), self.config.wiener_balances)
        base = priors[0] if priors else inp

        y = self.intro(F.pixel_unshuffle(torch.cat([inp, *priors], dim=1), self.config.unshuffle))
        if self.feature_wiener is not None:
            y = y + self.feature_wiener(inp, sigma.clamp(min=0))
        skips = []
        for blocks, down in zip(self.encoders, self.downs):
            for block in blocks:
                y = block(y, cond)
            skips.append(y)
            y = down(y)
        for block in self.middle:
            y = block(y, cond)
        for up, blocks, skip in zip(self.ups, self.decoders, reversed(skips)):
            y = up(y) + skip
            for block in blocks:
                y = block(y, cond)
        y = F.pixel_shuffle(self.ending(y), self.config.unshuffle) + base
        if self.log_mu is not None:
            y = data_consistency(y, inp, sigma, self.log_mu(cond).float().exp())
        return y[:, :, :h, :w]
